// Training progress for people: on a terminal, one live line rewritten in place (epoch,
// step, loss, tokens/s, ETA); in a log file or pipe, one plain line every few seconds, so
// logs stay readable. Epoch summaries always get their own line. Writes to stderr.
// Not thread safe: one reporter per training loop (rank 0 only in data-parallel runs).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rnnlab::trainer {

class ProgressReporter {
 public:
  // total_steps: for the ETA (0 = unknown); log_every_seconds: plain-line cadence;
  // unit: what step() counts, per second ("tok/s"; "seq/s" for numeric tasks).
  ProgressReporter(int64_t total_steps, double log_every_seconds, bool enabled = true, std::string unit = "tok/s");

  // Called after every optimizer step; cheap when nothing is printed. tokens_in_step: the
  // items the unit counts.
  void step(int epoch, int64_t step, double loss, int64_t tokens_in_step);
  // Prints a full line (ends the live line first), e.g. an epoch summary.
  void line(const std::string& text);
  // Ends the live line, if any.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_steps_;
  double log_every_seconds_;
  bool enabled_;
  bool terminal_;
  std::string unit_;
  bool live_line_open_ = false;
  Clock::time_point start_;
  Clock::time_point last_print_;
  Clock::time_point window_start_;
  int64_t window_tokens_ = 0;
  int64_t first_step_ = -1;
  double tokens_per_second_ = 0.0;
};

// "1h02m", "3m20s", "45s".
std::string format_duration(double seconds);
// "12.3k", "1.25M".
std::string format_count(double value);

}  // namespace rnnlab::trainer
