#include "experiments/progress.h"

#include <unistd.h>

#include <cmath>
#include <string>

#include "experiments/runner.h"

namespace rnnlab::experiments {
namespace {

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long total = long(seconds + 0.5);
  char text[32];
  if (total >= 3600) std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  return text;
}

}  // namespace

SweepProgress::SweepProgress(std::string sweep, int total, std::FILE* out)
    : sweep_(std::move(sweep)), total_(total), out_(out), tty_(out && ::isatty(::fileno(out))),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

std::string SweepProgress::line() const {
  const int done = finished_ + pruned_ + failed_;
  const int done_here = done - reused_;
  const int pending = total_ - done - running_;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // Trials still to go at the pace of this session's completed ones.
  const double eta = done_here > 0 ? elapsed / done_here * (total_ - done) : NAN;
  char text[256];
  std::snprintf(text, sizeof text,
                "sweep %s: %d/%d done (%d finished, %d pruned, %d failed%s), %d running, %d pending | elapsed %s, ETA %s",
                sweep_.c_str(), done, total_, finished_, pruned_, failed_,
                reused_ ? (", " + std::to_string(reused_) + " from before").c_str() : "", running_, pending,
                clock_text(elapsed).c_str(), done == total_ ? "0:00" : clock_text(eta).c_str());
  return text;
}

void SweepProgress::draw(bool force) {
  if (!out_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (!force && since < (tty_ ? 0.5 : 60.0)) return;
  last_draw_ = now;
  drawn_ = true;
  if (tty_) std::fprintf(out_, "\r\033[K%s", line().c_str());
  else std::fprintf(out_, "%s\n", line().c_str());
  std::fflush(out_);
}

void SweepProgress::started() {
  ++running_;
  draw(tty_);
}

void SweepProgress::done(tracking::RunStatus status, bool reused) {
  if (!reused) --running_;
  else ++reused_;
  if (status == tracking::RunStatus::finished) ++finished_;
  else if (status == tracking::RunStatus::pruned) ++pruned_;
  else ++failed_;
  if (!reused) draw(true);
}

void SweepProgress::stopped() {
  --running_;
  draw(true);
}

void SweepProgress::trial_line(const TrialOutcome& outcome) {
  if (!out_) return;
  std::string overrides;
  for (const std::string& assignment : outcome.trial.overrides) overrides += " " + assignment;
  char value[48] = "";
  if (std::isfinite(outcome.best)) std::snprintf(value, sizeof value, " best %.4g", outcome.best);
  std::string error = outcome.error;
  if (const size_t newline = error.find('\n'); newline != std::string::npos) error = error.substr(0, newline) + " ...";
  if (tty_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "trial %d %s%s: %s%s (%.1f s)%s%s\n", outcome.trial.index, outcome.trial.id.c_str(),
               overrides.c_str(), std::string(to_string(outcome.status)).c_str(), value, outcome.seconds, error.empty() ? "" : ": ",
               error.c_str());
  if (tty_) draw(true);
  std::fflush(out_);
}

void SweepProgress::tick() { draw(false); }

void SweepProgress::finish() {
  if (!out_) return;
  // A log already has the last event's line; a terminal needs its line ended.
  if (tty_) std::fprintf(out_, "\r\033[K%s\n", line().c_str());
  else if (!drawn_) std::fprintf(out_, "%s\n", line().c_str());
  std::fflush(out_);
}

}  // namespace rnnlab::experiments
