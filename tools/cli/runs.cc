// `rnnlab runs ...`: the command line over the run store (tracking/store.h). This file
// declares the subcommands and their options; runs_*.cc do the work.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "tools/cli/commands.h"
#include "tools/cli/runs.h"

namespace rnnlab::cli {

namespace {

struct State {
  runs::Options options;
  runs::PlotRequest plot;
  runs::BenchRequest bench;
  bool log_y = false;
  std::vector<std::string> metrics;
};

std::string default_db() {
  const char* env = std::getenv("RNNLAB_DB");
  return env && *env ? env : "rnnlab.db";
}

}  // namespace

void add_runs_command(CLI::App& app, Commands& commands) {
  auto state = std::make_shared<State>();
  runs::Options& o = state->options;
  CLI::App* runs = app.add_subcommand(
      "runs", "Query the run database: list, show, compare, best, pivot, export, delete, tag, plot");
  runs->require_subcommand(1);

  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--db", o.db, "Tracking database (default: $RNNLAB_DB, else ./rnnlab.db)");
    sub->add_option("--format,-f", o.format, "Output: table, csv or json")->capture_default_str();
  };
  auto add_scope = [&](CLI::App* sub) {
    sub->add_option("--experiment,-e", o.experiment, "Only runs of this experiment");
    sub->add_option("--where,-w", o.where,
                    "Filter, e.g. \"metrics.val_loss < 1.2 and params.model.cell = 'lstm'\"");
  };
  auto add_goal = [&](CLI::App* sub) {
    sub->add_option("--goal", o.goal,
                    "Which way is better: min or max (default: the metric's direction, max for accuracy, "
                    "f1, bleu, ..., else min)");
    sub->add_option("--value", o.value,
                    "Use each run's best or last value of a metric (metrics.K without .best/.last)");
  };

  CLI::App* list = runs->add_subcommand("list", "List runs (newest first)");
  add_common(list);
  add_scope(list);
  add_goal(list);
  list->add_option("--order-by,-o", o.order_by, "e.g. \"metrics.val_loss.best asc, params.model.layers desc\"");
  list->add_option("--columns,-c", o.columns, "Extra fields to show (comma separated)")->delimiter(',');
  list->add_option("--limit,-n", o.limit, "At most this many runs");

  CLI::App* show = runs->add_subcommand("show", "Everything about one run");
  add_common(show);
  show->add_option("run", o.refs, "Run id or name")->required();

  CLI::App* compare = runs->add_subcommand("compare", "Params that differ and metrics side by side");
  add_common(compare);
  compare->add_option("runs", o.refs, "Run ids or names")->required();
  compare->add_flag("--all", o.all, "Show params that are equal too");
  compare->add_option("--goal", o.goal,
                      "What best means: min or max (default: each metric's direction, max for accuracy, "
                      "f1, bleu, ..., else min)");

  CLI::App* best = runs->add_subcommand("best", "Runs ranked by a metric");
  add_common(best);
  add_scope(best);
  add_goal(best);
  best->add_option("--metric,-m", o.metric, "Metric key")->required();
  best->add_option("--limit,-n", o.limit, "How many (default 10)");

  CLI::App* pivot = runs->add_subcommand("pivot", "Mean and spread of a metric by params (over seeds)");
  add_common(pivot);
  add_scope(pivot);
  add_goal(pivot);
  pivot->add_option("--rows,-r", o.rows, "Param key(s) for rows, e.g. model.cell")->required()->delimiter(',');
  pivot->add_option("--cols,-c", o.cols, "Param key(s) for columns, e.g. model.layers")->delimiter(',');
  pivot->add_option("--metric,-m", o.metric, "Metric key")->required();
  pivot->add_option("--agg", o.value, "Each run's best or last value (same as --value)");

  CLI::App* exporter = runs->add_subcommand("export", "Runs with params and metric summaries, or full histories");
  add_common(exporter);
  add_scope(exporter);
  exporter->add_option("--order-by", o.order_by, "Order (default: run id)");
  exporter->add_flag("--history", o.history, "Every metric point (long form) instead of one row per run");
  exporter->add_option("--output,-o", o.output, "File to write (default: standard output)");

  CLI::App* remove = runs->add_subcommand("delete", "Delete runs and everything logged for them");
  add_common(remove);
  add_scope(remove);
  remove->add_option("runs", o.refs, "Run ids or names");
  remove->add_flag("--yes", o.yes, "Confirm deleting every run --where/--experiment selects");
  remove->add_flag("--force", o.force, "Delete runs that are still running too");

  CLI::App* tag = runs->add_subcommand("tag", "Set (KEY=VALUE) or remove (--remove KEY) tags of a run");
  add_common(tag);
  tag->add_option("run_and_tags", o.refs, "RUN KEY=VALUE...")->required();
  tag->add_option("--remove", o.remove, "Tag keys to remove");

  CLI::App* plot = runs->add_subcommand("plot", "Learning curves of runs, drawn by gnuplot");
  plot->add_option("--db", o.db, "Tracking database (default: $RNNLAB_DB, else ./rnnlab.db)");
  plot->add_option("runs", state->plot.run_refs, "Run ids or names")->required();
  plot->add_option("--metric,-m", state->plot.metrics, "Metric key (repeat for several)")->required();
  plot->add_option("--output,-o", state->plot.output, "Image to write: .png or .svg")->required();
  plot->add_option("--title", state->plot.title, "Plot title (default: the metric)");
  plot->add_flag("--logy", state->plot.log_y, "Logarithmic y axis");

  CLI::App* bench = runs->add_subcommand("bench", "Benchmark logging throughput and best/pivot query times");
  state->bench.db_path = "/tmp/rnnlab-bench.db";
  bench->add_option("--db", state->bench.db_path, "Large database to query (generated if missing)")
      ->capture_default_str();
  bench->add_option("--runs", state->bench.runs, "Runs to generate")->capture_default_str();
  bench->add_option("--steps", state->bench.steps, "Steps per run")->capture_default_str();
  bench->add_option("--repeat", state->bench.repeat, "Repetitions per query (median)")->capture_default_str();
  bench->add_flag("--regenerate", state->bench.regenerate, "Rebuild the database even if it exists");
  bench->add_flag("--queries-only", state->bench.queries_only, "Skip the logging throughput part");

  commands["runs"] = [state, runs]() -> int {
    runs::Options& options = state->options;
    if (options.db.empty()) options.db = default_db();
    for (CLI::App* sub : runs->get_subcommands()) {
      const std::string& name = sub->get_name();
      if (name == "list") return runs::list(options, std::cout);
      if (name == "show") return runs::show(options, std::cout);
      if (name == "compare") return runs::compare(options, std::cout);
      if (name == "best") return runs::best(options, std::cout);
      if (name == "pivot") return runs::pivot(options, std::cout);
      if (name == "export") return runs::export_runs(options, std::cout);
      if (name == "delete") return runs::delete_runs(options, std::cout);
      if (name == "tag") return runs::tag(options, std::cout);
      if (name == "plot") {
        runs::plot(options.db, state->plot);
        std::cout << "wrote " << state->plot.output << "\n";
        return 0;
      }
      if (name == "bench") {
        runs::bench(state->bench, std::cout);
        return 0;
      }
    }
    return 2;
  };
}

}  // namespace rnnlab::cli
