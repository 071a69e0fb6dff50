#include "tools/cli/stop_signals.h"

#include <csignal>

namespace rnnlab::cli {
namespace {

constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void record_stop_signal(int signal_number) { g_stop_signal = signal_number; }

// The alternate stack the handlers run on (64 KiB: a signal frame with AVX-512 state is a few KiB).
alignas(64) char g_signal_stack[1 << 16];

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  stack_t stack{};
  stack.ss_sp = g_signal_stack;
  stack.ss_size = sizeof g_signal_stack;
  ::sigaltstack(&stack, &previous_stack_);
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  action.sa_flags = SA_RESTART | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &action, &previous_[i]);
}

StopSignals::~StopSignals() {
  for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &previous_[i], nullptr);
  ::sigaltstack(&previous_stack_, nullptr);
}

int StopSignals::requested() { return g_stop_signal; }

int stop_exit_code(int signal_number) { return signal_number == SIGINT ? 130 : 143; }

}  // namespace rnnlab::cli
