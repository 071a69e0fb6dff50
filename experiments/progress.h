// The sweep's progress line (internal to experiments/): trials done / running / pruned /
// failed, elapsed time and the estimated time left. On a terminal one line redrawn in
// place; in a log a line per event (and at most one a minute otherwise).
// Not thread safe: the sweep loop owns it.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "tracking/vocabulary.h"

namespace rnnlab::experiments {

struct TrialOutcome;

class SweepProgress {
 public:
  // out: nullptr = silent.
  SweepProgress(std::string sweep, int total, std::FILE* out);
  void started();                                  // a trial began
  void done(tracking::RunStatus status, bool reused);  // finished | pruned | failed
  void stopped();                                  // a running trial was interrupted
  void trial_line(const TrialOutcome& outcome);    // one line about a trial that ended
  void tick();                                     // redraw if due
  void finish();
  std::string line() const;                        // the current progress text

 private:
  void draw(bool force);

  std::string sweep_;
  int total_;
  std::FILE* out_;
  bool tty_;
  bool drawn_ = false;  // a log got at least one line
  int running_ = 0, finished_ = 0, pruned_ = 0, failed_ = 0, reused_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace rnnlab::experiments
