// Running a sweep: every trial trained (in this process through trainer::train, as its
// own `rnnlab train` / `mpirun -np K rnnlab train` process, or as a Slurm batch job:
// experiments/slurm.h), recorded in the tracker, pruned by the sweep's pruner, resumable
// after the sweep process dies (Slurm jobs go on without it and are followed again).
//
// Bookkeeping lives in the tracker: trial T of sweep S is the run named "S/<T.id>" in the
// sweep's experiment, tagged sweep=S, trial=<index>, trial_id=<id>, repeat=<r>, and
// writes to <output_dir>/trials/<id>/. A trial is done when such a run is finished,
// pruned or failed; a run left running or killed by a dead sweep is an interrupted trial,
// restarted (from its checkpoint when it has one) by run_sweep with resume set.
// <output_dir>/sweep.lock (flock, inherited by trial processes) keeps two sweep processes
// off one sweep: a resume waits until the previous sweep's trial processes have exited.
//
// Failure: a trial that throws, produces NaN, crashes or exits non-zero is recorded failed
// with its error and the sweep goes on. Setting up (an existing sweep without resume, an
// unwritable folder, a missing rnnlab binary) throws before any trial starts. A trial
// stopped by SIGINT/SIGTERM ends the sweep (status "interrupted"). Mode slurm: sbatch
// refusing a job (an unknown partition, account, qos) throws std::runtime_error with its
// message; jobs submitted before go on, and a resumed sweep follows them.
// Thread safety: one run_sweep per sweep at a time (the lock enforces it across processes).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "experiments/sweep.h"
#include "tracking/store.h"

namespace rnnlab::experiments {

struct SweepOptions {
  bool resume = false;
  bool quiet = false;          // no progress lines, trials train quietly anyway
  std::FILE* progress = stderr;
  std::string rnnlab_binary;   // for process/mpirun; overrides launch.rnnlab; "" = this program
  double poll_seconds = 0.5;   // process modes: how often exits and metrics are checked
  // launch.mode in_process: each trial's trainer::TrainOptions::stop_requested (`rnnlab
  // sweep` passes its stop signals); a trial stopped so is interrupted and the sweep ends.
  std::function<int()> stop_requested;
};

struct TrialOutcome {
  Trial trial;
  tracking::RunStatus status = tracking::RunStatus::finished;  // finished | pruned | failed | interrupted
  std::string error;
  int64_t run_id = 0;
  bool reused = false;  // done by an earlier (resumed) sweep, not rerun
  bool resumed_from_checkpoint = false;
  double seconds = 0;
  double best = 0;  // the run's best value of the sweep metric; NaN when it has none
};

struct SweepResult {
  std::vector<TrialOutcome> trials;  // in expansion order
  int finished = 0, pruned = 0, failed = 0, reused = 0;
  bool interrupted = false;
  double seconds = 0;

  void count(tracking::RunStatus status) {  // a trial that ended so (reused or run)
    if (status == tracking::RunStatus::finished) ++finished;
    else if (status == tracking::RunStatus::pruned) ++pruned;
    else if (status == tracking::RunStatus::failed) ++failed;
  }
};

SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& options = {});

// The run name of a trial ("<sweep>/<id>").
std::string trial_run_name(const SweepSpec& spec, const Trial& trial);
// The final table: the pivot of the sweep's finished runs (rows/cols from table:, or the
// first parameter by the others), best value of the metric, mean and spread over repeats.
tracking::PivotQuery table_query(const SweepSpec& spec);
// The filter that selects the sweep's finished runs (for pivot and best).
std::string finished_runs_filter(const SweepSpec& spec);

}  // namespace rnnlab::experiments
