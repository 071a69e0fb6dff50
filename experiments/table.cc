// The names and queries a sweep's runs are found by (runner.h).
#include <string>
#include <vector>

#include "experiments/runner.h"

namespace rnnlab::experiments {

std::string trial_run_name(const SweepSpec& spec, const Trial& trial) { return spec.name + "/" + trial.id; }

std::string finished_runs_filter(const SweepSpec& spec) {
  // The name is restricted to [A-Za-z0-9_.-] when the sweep file is read: safe to quote.
  return "tags.sweep = '" + spec.name + "' and run.status = 'finished'";
}

tracking::PivotQuery table_query(const SweepSpec& spec) {
  tracking::PivotQuery query;
  query.rows = spec.table_rows;
  query.cols = spec.table_cols;
  if (query.rows.empty()) {
    std::vector<std::string> keys;
    for (const Parameter& parameter : spec.parameters)
      if (parameter.key != "train.seed") keys.push_back(parameter.key);
    if (keys.empty()) keys.push_back("model.cell");
    query.rows = {keys.front()};
    if (query.cols.empty()) query.cols.assign(keys.begin() + 1, keys.end());
  }
  query.metric = spec.metric;
  query.goal = spec.goal == "minimize" ? tracking::Goal::minimize : tracking::Goal::maximize;
  query.value = tracking::MetricValue::best;
  query.experiment = spec.experiment;
  query.where = finished_runs_filter(spec);
  return query;
}

}  // namespace rnnlab::experiments
