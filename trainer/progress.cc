#include "trainer/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <utility>

namespace rnnlab::trainer {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long total = std::lround(seconds);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%ldh%02ldm", total / 3600, (total % 3600) / 60);
  else if (total >= 60)
    std::snprintf(text, sizeof text, "%ldm%02lds", total / 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%lds", total);
  return text;
}

std::string format_count(double value) {
  char text[32];
  if (value >= 1e6)
    std::snprintf(text, sizeof text, "%.2fM", value / 1e6);
  else if (value >= 1e3)
    std::snprintf(text, sizeof text, "%.1fk", value / 1e3);
  else
    std::snprintf(text, sizeof text, "%.0f", value);
  return text;
}

ProgressReporter::ProgressReporter(int64_t total_steps, double log_every_seconds, bool enabled, std::string unit)
    : total_steps_(total_steps),
      log_every_seconds_(log_every_seconds),
      enabled_(enabled),
      terminal_(isatty(STDERR_FILENO) == 1),
      unit_(std::move(unit)),
      start_(Clock::now()),
      last_print_(start_),
      window_start_(start_) {}

void ProgressReporter::step(int epoch, int64_t step, double loss, int64_t tokens_in_step) {
  const auto now = Clock::now();
  if (first_step_ < 0) first_step_ = step - 1;
  window_tokens_ += tokens_in_step;
  const double window_seconds = std::chrono::duration<double>(now - window_start_).count();
  if (window_seconds >= 1.0) {  // tokens/s over the last second or so: steady, yet current
    tokens_per_second_ = double(window_tokens_) / window_seconds;
    window_tokens_ = 0;
    window_start_ = now;
  }
  if (!enabled_) return;
  const double since_print = std::chrono::duration<double>(now - last_print_).count();
  if (since_print < (terminal_ ? 0.2 : log_every_seconds_)) return;
  last_print_ = now;

  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t done = step - first_step_;
  std::string eta = "?";
  if (total_steps_ > 0 && done > 0) eta = format_duration(elapsed / double(done) * double(total_steps_ - step));
  char text[256];
  std::snprintf(text, sizeof text, "epoch %d  step %lld%s  loss %.4f  %s %s  elapsed %s  eta %s", epoch,
                static_cast<long long>(step),
                total_steps_ > 0 ? ("/" + std::to_string(total_steps_)).c_str() : "", loss,
                format_count(tokens_per_second_).c_str(), unit_.c_str(), format_duration(elapsed).c_str(), eta.c_str());
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K%s", text);
    live_line_open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", text);
  }
  std::fflush(stderr);
}

void ProgressReporter::line(const std::string& text) {
  if (!enabled_) return;
  finish();
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

void ProgressReporter::finish() {
  if (live_line_open_) std::fprintf(stderr, "\n");
  live_line_open_ = false;
}

}  // namespace rnnlab::trainer
