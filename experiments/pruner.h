// Early termination of sweep trials from their intermediate metric values, as they are
// recorded in the tracker: median pruning (like Optuna's MedianPruner) and asynchronous
// successive halving, ASHA (like Optuna's SuccessiveHalvingPruner).
//
// The pruner is a pure function of histories: the trial's own evaluations so far and the
// other runs of the sweep with their status, so that a resumed sweep, a process-launched
// trial and an in-process trial are judged by the same rule from the same data.
// Thread safety: const methods only; share freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/sweep.h"
#include "tracking/vocabulary.h"

namespace rnnlab::experiments {

struct StepPoint {
  int64_t step = 0;
  double value = 0;  // NaN allowed (a diverged evaluation)
};

struct PeerHistory {
  int64_t run_id = 0;
  tracking::RunStatus status = tracking::RunStatus::running;  // as the store records it
  std::vector<StepPoint> points;  // ascending steps
};

class Pruner {
 public:
  Pruner(PruningSpec spec, bool minimize);

  // Whether the trial whose evaluations are `own` (ascending steps; the last one is the
  // evaluation just made) should stop now. `peers`: the sweep's other runs.
  // median: after warmup_evaluations evaluations, once min_trials peers have finished,
  //   prune when the trial's best value so far is worse than the median of the finished
  //   peers' best values up to the same step.
  // asha: at each rung step min_step * eta^(s+k) that this evaluation reached first, the
  //   trial's value there must be in the top 1/eta of the values every peer (finished,
  //   pruned, failed or still running) had at that rung; else it is pruned. With fewer
  //   than eta values at a rung only the best one goes on (Optuna's rule).
  // A NaN value is always pruned (never better than anything).
  bool should_prune(const std::vector<StepPoint>& own, const std::vector<PeerHistory>& peers) const;

  bool enabled() const { return spec_.method != "none"; }
  // Human-readable reason of the last decision to prune (for the run's error text).
  std::string describe(const std::vector<StepPoint>& own, const std::vector<PeerHistory>& peers) const;

 private:
  bool better(double a, double b) const { return minimize_ ? a < b : a > b; }
  // Best value among the points with step <= limit; NaN when none.
  double best_up_to(const std::vector<StepPoint>& points, int64_t limit) const;
  bool median_prunes(const std::vector<StepPoint>& own, const std::vector<PeerHistory>& peers, double* median) const;
  bool asha_prunes(const std::vector<StepPoint>& own, const std::vector<PeerHistory>& peers, int64_t* rung) const;

  PruningSpec spec_;
  bool minimize_;
};

}  // namespace rnnlab::experiments
