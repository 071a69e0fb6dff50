#include "tools/cli/stop_signals.h"

#include <csignal>

namespace rnnlab::cli {
namespace {

constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void record_stop_signal(int signal_number) { g_stop_signal = signal_number; }

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  for (size_t i = 0; i < kSignals.size(); ++i) previous_[i] = std::signal(kSignals[i], record_stop_signal);
}

StopSignals::~StopSignals() {
  for (size_t i = 0; i < kSignals.size(); ++i) std::signal(kSignals[i], previous_[i]);
}

int StopSignals::requested() { return g_stop_signal; }

int stop_exit_code(int signal_number) { return signal_number == SIGINT ? 130 : 143; }

}  // namespace rnnlab::cli
