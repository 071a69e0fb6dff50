// `rnnlab sweep SWEEP.yaml [--resume] [--dry-run]`: run a sweep (docs/sweeps.md), then print
// its pivot table and best trial from the tracker through the `rnnlab runs` queries.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "experiments/runner.h"
#include "experiments/sweep.h"
#include "tools/cli/commands.h"
#include "tools/cli/runs.h"
#include "tools/cli/stop_signals.h"

namespace rnnlab::cli {
namespace {

struct SweepArgs {
  std::string path;
  bool resume = false;
  bool dry_run = false;
  bool quiet = false;
};

void print_trials(const experiments::SweepSpec& spec) {
  const auto trials = experiments::expand_trials(spec);
  runs::Table table{{"trial", "id", "repeat", "overrides"}, {}};
  for (const auto& trial : trials) {
    std::string overrides;
    for (const auto& assignment : trial.overrides) overrides += (overrides.empty() ? "" : " ") + assignment;
    table.rows.push_back({trial.index, trial.id, trial.repeat, overrides});
  }
  std::printf("sweep %s: %zu trials (%s), launch %s, pruning %s, tracker %s\n", spec.name.c_str(), trials.size(),
              spec.method.c_str(), spec.launch.mode.c_str(), spec.pruning.method.c_str(), spec.tracker.c_str());
  runs::print(table, runs::Format::table, std::cout);
}

int run_sweep_command(const SweepArgs& args) {
  const experiments::SweepSpec spec = experiments::load_sweep(args.path);
  if (args.dry_run) {
    print_trials(spec);
    return 0;
  }
  experiments::SweepOptions options;
  options.resume = args.resume;
  options.quiet = args.quiet;
  // In process, the trials' trainings stop on this process's signals (a child `rnnlab
  // train` installs its own).
  std::optional<StopSignals> signals;
  if (spec.launch.mode == "in_process") options.stop_requested = signals.emplace().source();
  const experiments::SweepResult result = experiments::run_sweep(spec, options);

  // Trials that did not finish, with why.
  for (const auto& outcome : result.trials) {
    if (outcome.status != tracking::RunStatus::failed && outcome.status != tracking::RunStatus::pruned) continue;
    std::string error = outcome.error;
    if (const size_t newline = error.find('\n'); newline != std::string::npos) error.resize(newline);
    std::printf("%s trial %d (%s, run #%lld): %s\n", std::string(tracking::to_string(outcome.status)).c_str(), outcome.trial.index,
                outcome.trial.id.c_str(), static_cast<long long>(outcome.run_id), error.c_str());
  }
  if (result.interrupted) {
    std::printf("sweep %s interrupted; continue it with: rnnlab sweep %s --resume\n", spec.name.c_str(),
                args.path.c_str());
    return 130;
  }
  std::printf("\nsweep %s: %d finished, %d pruned, %d failed (%d from an earlier run) in %.1f s\n\n",
              spec.name.c_str(), result.finished, result.pruned, result.failed, result.reused, result.seconds);
  if (result.finished == 0) {
    std::printf("no trial finished: nothing to tabulate\n");
    return 1;
  }
  const tracking::PivotQuery query = experiments::table_query(spec);
  runs::Options table;
  table.db = spec.tracker;
  table.rows = query.rows;
  table.cols = query.cols;
  table.metric = query.metric;
  table.goal = spec.goal == "minimize" ? "min" : "max";
  table.experiment = query.experiment;
  table.where = query.where;
  runs::pivot(table, std::cout);
  std::printf("\nbest trial:\n");
  table.limit = 1;
  runs::best(table, std::cout);
  return 0;
}

}  // namespace

void add_sweep_command(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* sweep = app.add_subcommand("sweep", "Run a hyperparameter sweep (docs/sweeps.md) and print its table");
  sweep->add_option("sweep", args->path, "Sweep YAML file")->required()->check(CLI::ExistingFile);
  sweep->add_flag("--resume", args->resume, "Continue a sweep that was stopped: finished trials are kept");
  sweep->add_flag("--dry-run", args->dry_run, "Validate the file and list its trials without running them");
  sweep->add_flag("-q,--quiet", args->quiet, "No progress lines");
  commands["sweep"] = [args] { return run_sweep_command(*args); };
}

}  // namespace rnnlab::cli
