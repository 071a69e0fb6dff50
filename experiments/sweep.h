// A sweep: a base training config, the parameters to vary (by dotted config key, in the
// shape W&B sweep users know), how to launch each trial, how to prune, where to record.
// docs/sweeps.md documents the file format.
//
//   SweepSpec spec = load_sweep("examples/sweep_cells.yaml");  // validates everything
//   std::vector<Trial> trials = expand_trials(spec);             // deterministic
//
// Validation happens before anything runs: unknown keys, parameters the base config does
// not have, values the config schema rejects (each value is applied to the base config
// through trainer::parse_config), empty value lists and bad distributions all throw
// std::invalid_argument, every problem on its own line as `file:line: key 'a.b': what`.
// Thread safety: the functions are pure (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnlab::experiments {

// One swept key: either a list of values (YAML scalars, kept as written) or a distribution.
struct Parameter {
  std::string key;                  // dotted config key, e.g. "model.cell"
  std::vector<std::string> values;  // non-empty unless distribution is set
  std::string distribution;         // "" | uniform | log_uniform | int_uniform
  double min = 0, max = 0;
  int line = 0;                     // where it was declared (for messages)
};

// launch.mode slurm: every trial is its own batch job (docs/distributed.md, "Slurm").
struct SlurmSpec {
  int nodes = 1;                  // sbatch --nodes
  int cpus_per_rank = 0;          // --cpus-per-task (0: Slurm's default); also train.threads
  int gpus_per_rank = 0;          // --gpus-per-task (0: none)
  std::string time;               // --time (minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]); "" = the partition's
  std::string partition, account, qos;  // --partition, --account, --qos ("" = the defaults)
  std::vector<std::string> sbatch_args;  // more sbatch options, as written
  int signal_seconds = 120;       // --signal=B:USR1@N: checkpoint and requeue N s before --time (0: off)
  bool requeue = true;            // --requeue: preempted / warned jobs go back to the queue
  std::string ranks_via = "srun"; // srun (srun --mpi=pmix) | mpirun (Open MPI inside the allocation)
  std::vector<std::string> srun_args = {"--mpi=pmix"};
  double poll_seconds = 5;        // how often squeue is asked about the sweep's jobs
};

struct LaunchSpec {
  std::string mode = "in_process";  // in_process | process | mpirun | slurm
  int ranks = 1;                    // mpirun -np; slurm: ranks (tasks) per trial
  std::string hostfile;             // mpirun --hostfile (resolved against the sweep file)
  std::vector<std::string> mpirun_args = {"--oversubscribe"};
  int parallel = 1;                 // trials at once (process/mpirun; slurm: queued + running)
  std::string rnnlab;               // the rnnlab binary for subprocess modes; "" = this one
  SlurmSpec slurm;
};

struct PruningSpec {
  std::string method = "none";  // none | median | asha
  // median (Optuna's MedianPruner): no pruning before a trial's warmup_evaluations-th
  // evaluation, nor while fewer than min_trials trials of the sweep have finished.
  int warmup_evaluations = 1;
  int min_trials = 1;
  // asha (Optuna's SuccessiveHalvingPruner): rungs at steps min_step * eta^(s + k).
  int64_t min_step = 1;
  int reduction_factor = 3;
  int min_early_stopping_rate = 0;
};

struct SweepSpec {
  std::string path;        // the sweep file ("" when parsed from text without one)
  std::string name;        // [A-Za-z0-9_.-]+; tags every run of the sweep
  std::string base_yaml;   // the base training config as YAML (line numbers kept)
  std::string base_source; // file the base config came from (for messages)
  std::vector<Parameter> parameters;  // in file order
  std::string method = "grid";        // grid | random
  int max_trials = 0;                 // random: how many draws
  uint64_t seed = 0;                  // random: the draw's seed
  int repeats = 1;                    // per trial, with train.seed = base seed + repeat
  std::string metric = "val_loss";    // a tracked metric key
  // minimize | maximize; not given: the metric's direction (tracking::metric_goal:
  // val_accuracy maximize, val_loss minimize, ...).
  std::string goal = "minimize";
  LaunchSpec launch;
  PruningSpec pruning;
  std::string tracker;     // SQLite database (resolved against the working directory)
  std::string experiment;  // default: the sweep's name
  std::string output_dir;  // default: sweeps/<name>; each trial gets <output_dir>/trials/<id>
  std::vector<std::string> table_rows, table_cols;  // the final pivot table's keys
};

// Reads and validates a sweep file. Relative paths in it (base, hostfile) are relative to
// the file's folder; tracker and output_dir to the working directory.
SweepSpec load_sweep(const std::string& path);
// Same from text; `source_name` is used in messages and as the base for relative paths.
SweepSpec parse_sweep(const std::string& yaml_text, const std::string& source_name);

// One trial: a point of the search space and a repeat (seed).
struct Trial {
  int index = 0;   // position in the expansion (0-based)
  int point = 0;   // which point of the search space (trials of one point differ in repeat)
  int repeat = 0;
  std::vector<std::string> overrides;  // "model.cell=gru", ..., then "train.seed=N"
  std::string id;  // 12 hex digits: hash of the sorted parameter overrides and the repeat
};

// Grid: the cartesian product of the value lists (first parameter varies slowest), each
// point repeated `repeats` times. Random: max_trials points drawn with `seed` (values
// uniformly; uniform/log_uniform/int_uniform within [min, max]), each repeated. The same
// spec gives the same trials, in the same order, with the same ids.
std::vector<Trial> expand_trials(const SweepSpec& spec);

// The id of a trial: stable under reordering of keys and of the file around them.
std::string trial_id(const std::vector<std::string>& parameter_overrides, int repeat);

}  // namespace rnnlab::experiments
