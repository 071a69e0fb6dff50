// `rnnlab runs export|delete|tag`.
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "tools/cli/runs.h"
#include "tracking/store.h"

namespace rnnlab::cli::runs {

using nlohmann::json;

namespace {

json number_or_null(double value) { return std::isnan(value) ? json() : json(value); }

json param_value(const tracking::ParamRecord& param) {
  if (std::holds_alternative<int64_t>(param.value_num)) return std::get<int64_t>(param.value_num);
  if (std::holds_alternative<double>(param.value_num)) return std::get<double>(param.value_num);
  return param.value_text;
}

std::vector<tracking::RunRecord> select_runs(tracking::Store& store, const Options& options) {
  tracking::RunQuery query;
  query.experiment = options.experiment;
  query.where = options.where;
  query.order_by = options.order_by.empty() ? "run.id asc" : options.order_by;
  query.context = {tracking::resolve_goal(options.goal, options.metric),
                   options.value.empty() ? tracking::MetricValue::last
                                         : tracking::parse_metric_value(options.value)};
  query.limit = options.limit;
  return store.list_runs(query);
}

}  // namespace

int export_runs(const Options& options, std::ostream& out) {
  OpenStore opened(options);
  tracking::Store& store = *opened;
  // Export defaults to CSV (the table form is for terminals, not files).
  const Format format = parse_format(options.format == "table" ? "csv" : options.format);
  std::vector<tracking::RunRecord> runs = select_runs(store, options);
  Table table;
  if (options.history) {
    // Long form: every metric point of the selected runs.
    table.columns = {"run_id", "experiment", "run", "key", "step", "value", "wall_time"};
    for (const auto& run : runs) {
      for (const auto& summary : store.run_details(run.id).metrics) {
        for (const auto& point : store.metric_history(run.id, summary.key)) {
          table.rows.push_back({run.id, run.experiment, run.name, point.key, point.step,
                                number_or_null(point.value), point.wall_time});
        }
      }
    }
  } else {
    // Wide form: one row per run, the union of params and metric summaries as columns.
    std::vector<tracking::RunDetails> details;
    std::set<std::string> param_keys, metric_keys;
    for (const auto& run : runs) {
      details.push_back(store.run_details(run.id));
      for (const auto& p : details.back().params) param_keys.insert(p.key);
      for (const auto& m : details.back().metrics) metric_keys.insert(m.key);
    }
    table.columns = {"id", "experiment", "name", "status", "error", "start_time", "end_time",
                     "host", "ranks", "backend", "rnnlab_version", "git_commit"};
    for (const auto& key : param_keys) table.columns.push_back("params." + key);
    for (const auto& key : metric_keys) {
      for (const char* suffix : {".last", ".min", ".max", ".last_step"}) {
        table.columns.push_back("metrics." + key + suffix);
      }
    }
    for (const auto& d : details) {
      const auto& r = d.run;
      std::vector<json> row = {r.id, r.experiment, r.name, r.status,
                               r.error.empty() ? json() : json(r.error), format_time(r.start_time),
                               r.end_time ? json(format_time(*r.end_time)) : json(), r.host, r.ranks,
                               r.backend, r.rnnlab_version, r.git_commit};
      std::map<std::string, json> params;
      for (const auto& p : d.params) params[p.key] = param_value(p);
      for (const auto& key : param_keys) row.push_back(params.count(key) ? params[key] : json());
      std::map<std::string, const tracking::MetricSummary*> metrics;
      for (const auto& m : d.metrics) metrics[m.key] = &m;
      for (const auto& key : metric_keys) {
        auto it = metrics.find(key);
        if (it == metrics.end()) {
          row.insert(row.end(), 4, json());
          continue;
        }
        row.insert(row.end(), {number_or_null(it->second->last_value), number_or_null(it->second->min_value),
                               number_or_null(it->second->max_value), it->second->last_step});
      }
      table.rows.push_back(std::move(row));
    }
  }
  if (options.output.empty() || options.output == "-") {
    print(table, format, out);
    return 0;
  }
  std::ofstream file(options.output);
  if (!file) throw std::invalid_argument("export: cannot write -o '" + options.output + "'");
  print(table, format, file);
  file.close();
  if (!file) throw std::runtime_error("export: writing '" + options.output + "' failed");
  out << "exported " << runs.size() << " runs to " << options.output << "\n";
  return 0;
}

int delete_runs(const Options& options, std::ostream& out) {
  OpenStore opened(options);
  tracking::Store& store = *opened;
  std::vector<int64_t> ids;
  if (!options.refs.empty()) ids = store.resolve_runs(options.refs);
  if (!options.where.empty() || !options.experiment.empty()) {
    if (!options.yes) {
      throw std::invalid_argument(
          "delete: --where/--experiment may select many runs; add --yes to delete them");
    }
    for (const auto& run : select_runs(store, options)) ids.push_back(run.id);
  }
  if (ids.empty() && options.refs.empty() && options.where.empty() && options.experiment.empty()) {
    throw std::invalid_argument("delete: give RUNs, or --where/--experiment with --yes");
  }
  int64_t deleted = store.delete_runs(ids, options.force);
  out << "deleted " << deleted << " run" << (deleted == 1 ? "" : "s") << "\n";
  return 0;
}

int tag(const Options& options, std::ostream& out) {
  OpenStore opened(options);
  tracking::Store& store = *opened;
  if (options.refs.empty()) throw std::invalid_argument("tag: give a RUN, then KEY=VALUE pairs");
  const int64_t run_id = store.resolve_runs({options.refs[0]})[0];
  if (options.refs.size() == 1 && options.remove.empty()) {
    throw std::invalid_argument("tag: give KEY=VALUE pairs or --remove KEY");
  }
  for (size_t i = 1; i < options.refs.size(); ++i) {
    const std::string& pair = options.refs[i];
    const size_t equals = pair.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw std::invalid_argument("tag: expected KEY=VALUE, got '" + pair + "'");
    }
    store.set_tag(run_id, pair.substr(0, equals), pair.substr(equals + 1));
  }
  for (const std::string& key : options.remove) {
    if (!store.remove_tag(run_id, key)) {
      throw std::invalid_argument("tag: run " + std::to_string(run_id) + " has no tag '" + key + "'");
    }
  }
  Table table{{"tag", "value"}, {}};
  for (const auto& [key, value] : store.run_details(run_id).tags) table.rows.push_back({key, value});
  print(table, parse_format(options.format), out);
  return 0;
}

}  // namespace rnnlab::cli::runs
