// `rnnlab runs list|show|compare|best|pivot`: tracking::Store answers, this file prints.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

#include "tools/cli/runs.h"
#include "tracking/store.h"

namespace rnnlab::cli::runs {

using nlohmann::json;
using tracking::SqlValue;

namespace {

json to_json(const SqlValue& value) {
  if (std::holds_alternative<int64_t>(value)) return std::get<int64_t>(value);
  if (std::holds_alternative<double>(value)) return std::get<double>(value);
  if (std::holds_alternative<std::string>(value)) return std::get<std::string>(value);
  return nullptr;
}

json number_or_null(double value) { return std::isnan(value) ? json() : json(value); }

tracking::FilterContext context_of(const Options& options, tracking::MetricValue fallback) {
  return {tracking::resolve_goal(options.goal, options.metric),
          options.value.empty() ? fallback : tracking::parse_metric_value(options.value)};
}

json duration_of(const tracking::RunRecord& run) {
  double end = run.end_time ? *run.end_time : run.heartbeat_at;
  return std::round((end - run.start_time) * 10) / 10;
}

std::string label_of(const tracking::RunRecord& run) {
  return run.name + " (#" + std::to_string(run.id) + ")";
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

// "mean ± std", or the one value of a single run: a spread of one run would be a fake 0.
std::string mean_and_spread(const tracking::PivotCell& cell, bool show_n) {
  char text[96];
  if (cell.n == 1) std::snprintf(text, sizeof text, "%.4g%s", cell.mean, show_n ? " (n=1)" : "");
  else if (show_n) std::snprintf(text, sizeof text, "%.4g ± %.2g (n=%lld)", cell.mean, cell.std, static_cast<long long>(cell.n));
  else std::snprintf(text, sizeof text, "%.4g ± %.2g", cell.mean, cell.std);
  return text;
}

}  // namespace

void require_metric(tracking::Store& store, const std::string& metric, const std::string& experiment) {
  const std::vector<std::string> keys = store.metric_keys(experiment);
  if (std::find(keys.begin(), keys.end(), metric) != keys.end()) return;
  const std::string runs = experiment.empty() ? "no run" : "no run of experiment '" + experiment + "'";
  throw std::invalid_argument("metric '" + metric + "': " + runs + " has logged it (" +
                              (keys.empty() ? std::string("no metrics logged at all") : "metrics: " + join(keys, ", ")) +
                              ")");
}

std::vector<ParamValues> differing_params(const std::vector<tracking::RunDetails>& runs, bool all) {
  std::set<std::string> keys;
  for (const auto& details : runs)
    for (const auto& p : details.params) keys.insert(p.key);
  std::vector<ParamValues> out;
  for (const std::string& key : keys) {
    ParamValues param{key, {}};
    for (const auto& details : runs) {
      auto it = std::find_if(details.params.begin(), details.params.end(), [&](auto& p) { return p.key == key; });
      param.values.push_back(it == details.params.end() ? json()
                             : to_json(it->value_num).is_null() ? json(it->value_text) : to_json(it->value_num));
    }
    const auto& v = param.values;
    if (all || std::any_of(v.begin(), v.end(), [&](const json& value) { return value != v[0]; }))
      out.push_back(std::move(param));
  }
  return out;
}

int list(const Options& options, std::ostream& out) {
  OpenStore opened(options);
  tracking::Store& store = *opened;
  tracking::RunQuery query;
  query.experiment = options.experiment;
  query.where = options.where;
  query.order_by = options.order_by;
  query.context = context_of(options, tracking::MetricValue::last);
  query.limit = options.limit;
  // Show what the user asked about: --columns, then the fields of --where and --order-by.
  query.columns = options.columns;
  auto add_fields = [&](const std::vector<tracking::FieldRef>& fields) {
    for (const auto& field : fields) {
      if (std::find(query.columns.begin(), query.columns.end(), field.text) == query.columns.end() &&
          field.kind != "attributes") {
        query.columns.push_back(field.text);
      }
    }
  };
  add_fields(tracking::compile_filter(options.where, query.context).fields);
  add_fields(tracking::compile_order_by(options.order_by, query.context).fields);
  // A metric named in --columns/--where/--order-by that no run has would give an empty
  // column or no rows at all: say so.
  for (const auto& column : query.columns) {
    const tracking::FieldRef field = tracking::parse_field(column);
    if (field.kind == "metrics") require_metric(store, field.key, options.experiment);
  }
  Table table;
  table.columns = {"id", "experiment", "name", "status", "start (UTC)", "duration_s"};
  for (const auto& column : query.columns) table.columns.push_back(column);
  for (const auto& run : store.list_runs(query)) {
    std::vector<json> row = {run.id, run.experiment, run.name, run.status,
                             format_time(run.start_time), duration_of(run)};
    for (const SqlValue& value : run.columns) row.push_back(to_json(value));
    table.rows.push_back(std::move(row));
  }
  print(table, parse_format(options.format), out);
  return 0;
}

int show(const Options& options, std::ostream& out) {
  OpenStore opened(options);
  tracking::Store& store = *opened;
  if (options.refs.size() != 1) throw std::invalid_argument("show: give exactly one RUN (id or name)");
  tracking::RunDetails details = store.run_details(store.resolve_runs(options.refs)[0]);
  const tracking::RunRecord& run = details.run;
  const Format format = parse_format(options.format);
  // In reading order (a json object would sort the keys).
  const std::vector<std::pair<std::string, json>> attribute_list = {
      {"id", run.id}, {"experiment", run.experiment}, {"name", run.name}, {"status", run.status},
      {"error", run.error.empty() ? json() : json(run.error)}, {"start", format_time(run.start_time)},
      {"end", run.end_time ? json(format_time(*run.end_time)) : json()},
      {"duration_s", duration_of(run)}, {"host", run.host}, {"ranks", run.ranks},
      {"backend", run.backend}, {"rnnlab_version", run.rnnlab_version}, {"git_commit", run.git_commit}};
  json attributes = json::object();
  for (const auto& [key, value] : attribute_list) attributes[key] = value;
  json metrics = json::array();
  for (const auto& m : details.metrics) {
    metrics.push_back({{"key", m.key}, {"last", number_or_null(m.last_value)}, {"last_step", m.last_step},
                       {"min", number_or_null(m.min_value)}, {"min_step", m.min_step < 0 ? json() : json(m.min_step)},
                       {"max", number_or_null(m.max_value)}, {"max_step", m.max_step < 0 ? json() : json(m.max_step)},
                       {"count", m.count}});
  }
  json params = json::object();
  for (const auto& p : details.params) params[p.key] = to_json(p.value_num).is_null() ? json(p.value_text) : to_json(p.value_num);
  json artifacts = json::array();
  for (const auto& a : details.artifacts) {
    artifacts.push_back({{"path", a.path}, {"kind", a.kind}, {"step", a.step ? json(*a.step) : json()},
                         {"created", format_time(a.created_at)}});
  }
  if (format == Format::json) {
    json all = {{"run", attributes}, {"config", json::parse(details.config_json)}, {"params", params},
                {"metrics", metrics}, {"tags", details.tags}, {"artifacts", artifacts}};
    out << all.dump(2) << "\n";
    return 0;
  }
  if (format == Format::csv) {
    // One long table: section, key, value.
    Table table{{"section", "key", "value"}, {}};
    for (const auto& [key, value] : attribute_list) table.rows.push_back({"run", key, value});
    for (const auto& [key, value] : params.items()) table.rows.push_back({"params", key, value});
    for (const auto& m : metrics) {
      for (const char* field : {"last", "min", "max"}) {
        table.rows.push_back({"metrics", m["key"].get<std::string>() + "." + field, m[field]});
      }
    }
    for (const auto& [key, value] : details.tags) table.rows.push_back({"tags", key, value});
    for (const auto& a : artifacts) table.rows.push_back({"artifacts", a["kind"], a["path"]});
    print(table, format, out);
    return 0;
  }
  Table run_table{{"run", "value"}, {}};
  for (const auto& [key, value] : attribute_list) {
    if (!value.is_null()) run_table.rows.push_back({key, value.is_number() ? json(cell_text(value)) : value});
  }
  print(run_table, format, out);
  if (!params.empty()) {
    Table table{{"param", "value"}, {}};
    for (const auto& [key, value] : params.items()) table.rows.push_back({key, value});
    out << "\n";
    print(table, format, out);
  }
  if (!metrics.empty()) {
    Table table{{"metric", "last", "last_step", "min", "min_step", "max", "max_step", "count"}, {}};
    for (const auto& m : metrics) {
      table.rows.push_back({m["key"], m["last"], m["last_step"], m["min"], m["min_step"], m["max"],
                            m["max_step"], m["count"]});
    }
    out << "\n";
    print(table, format, out);
  }
  if (!details.tags.empty()) {
    Table table{{"tag", "value"}, {}};
    for (const auto& [key, value] : details.tags) table.rows.push_back({key, value});
    out << "\n";
    print(table, format, out);
  }
  if (!artifacts.empty()) {
    Table table{{"artifact", "kind", "step", "created (UTC)"}, {}};
    for (const auto& a : artifacts) table.rows.push_back({a["path"], a["kind"], a["step"], a["created"]});
    out << "\n";
    print(table, format, out);
  }
  return 0;
}

int compare(const Options& options, std::ostream& out) {
  OpenStore opened(options);
  tracking::Store& store = *opened;
  if (options.refs.size() < 2) throw std::invalid_argument("compare: give two or more RUNs");
  tracking::resolve_goal(options.goal, "");  // an unknown --goal fails before any output
  std::vector<tracking::RunDetails> runs;
  for (int64_t id : store.resolve_runs(options.refs)) runs.push_back(store.run_details(id));
  Table table;
  table.columns = {"field"};
  for (const auto& details : runs) table.columns.push_back(label_of(details.run));
  auto add_row = [&](const std::string& field, const std::vector<json>& values, bool always) {
    bool differ = std::any_of(values.begin(), values.end(), [&](const json& v) { return v != values[0]; });
    if (!always && !differ) return;
    std::vector<json> row{field};
    row.insert(row.end(), values.begin(), values.end());
    table.rows.push_back(std::move(row));
  };
  add_row("run.experiment", [&] { std::vector<json> v; for (auto& d : runs) v.push_back(d.run.experiment); return v; }(), options.all);
  add_row("run.status", [&] { std::vector<json> v; for (auto& d : runs) v.push_back(d.run.status); return v; }(), true);
  // Params: those that differ (all with --all), in key order over the union of keys.
  for (const ParamValues& param : differing_params(runs, options.all)) add_row("params." + param.key, param.values, true);
  std::set<std::string> metric_keys;
  for (const auto& details : runs)
    for (const auto& m : details.metrics) metric_keys.insert(m.key);
  // Metrics side by side: last and best (by --goal, else by the metric's direction) of each.
  for (const std::string& key : metric_keys) {
    const tracking::Goal goal = tracking::resolve_goal(options.goal, key);
    std::vector<json> last, best;
    for (const auto& details : runs) {
      auto it = std::find_if(details.metrics.begin(), details.metrics.end(), [&](auto& m) { return m.key == key; });
      if (it == details.metrics.end()) {
        last.push_back(nullptr);
        best.push_back(nullptr);
        continue;
      }
      last.push_back(number_or_null(it->last_value));
      best.push_back(number_or_null(goal == tracking::Goal::minimize ? it->min_value : it->max_value));
    }
    add_row("metrics." + key + ".last", last, true);
    add_row("metrics." + key + ".best", best, true);
  }
  print(table, parse_format(options.format), out);
  return 0;
}

int best(const Options& options, std::ostream& out) {
  OpenStore opened(options);
  tracking::Store& store = *opened;
  const tracking::FilterContext context = context_of(options, tracking::MetricValue::best);
  require_metric(store, options.metric, options.experiment);
  auto best_runs = store.best_runs(options.metric, context.goal, context.metric_value, options.experiment,
                                   options.where, options.limit > 0 ? options.limit : 10);
  Table table;
  const std::string value_name = options.metric + (context.metric_value == tracking::MetricValue::best
                                                       ? (context.goal == tracking::Goal::minimize ? ".min" : ".max")
                                                       : ".last");
  table.columns = {"rank", "id", "experiment", "name", "status", value_name, "step"};
  int64_t rank = 0;
  for (const auto& entry : best_runs) {
    table.rows.push_back({++rank, entry.run.id, entry.run.experiment, entry.run.name, entry.run.status,
                          entry.value, entry.step});
  }
  print(table, parse_format(options.format), out);
  return best_runs.empty() ? 1 : 0;
}

int pivot(const Options& options, std::ostream& out) {
  OpenStore opened(options);
  tracking::Store& store = *opened;
  tracking::PivotQuery query;
  query.rows = options.rows;
  query.cols = options.cols;
  query.metric = options.metric;
  const tracking::FilterContext context = context_of(options, tracking::MetricValue::best);
  query.goal = context.goal;
  query.value = context.metric_value;
  query.experiment = options.experiment;
  query.where = options.where;
  require_metric(store, options.metric, options.experiment);
  tracking::PivotTable result = store.pivot(query);
  const Format format = parse_format(options.format);
  Table table;
  if (format != Format::table) {
    // Long form for scripts: one line per cell.
    table.columns = result.row_keys;
    table.columns.insert(table.columns.end(), result.col_keys.begin(), result.col_keys.end());
    for (const char* name : {"n", "mean", "std", "min", "max"}) table.columns.push_back(name);
    for (const auto& cell : result.cells) {
      std::vector<json> row(cell.row.begin(), cell.row.end());
      row.insert(row.end(), cell.col.begin(), cell.col.end());
      row.insert(row.end(), {cell.n, cell.mean, cell.std, cell.min, cell.max});
      table.rows.push_back(std::move(row));
    }
    print(table, format, out);
    return 0;
  }
  // Wide form for people: mean ± std (n) with the best mean marked.
  const tracking::PivotCell* best_cell = nullptr;
  for (const auto& cell : result.cells) {
    if (!best_cell || (query.goal == tracking::Goal::minimize ? cell.mean < best_cell->mean
                                                              : cell.mean > best_cell->mean)) {
      best_cell = &cell;
    }
  }
  // Several column keys make a header line per key, the key's name on the left and its
  // values above the columns (a value spans the columns it groups): the cells stay as
  // narrow as their numbers. n goes into the caption when every cell has the same.
  std::vector<std::vector<std::string>> header_rows;
  bool same_n = true;
  for (const auto& cell : result.cells) same_n &= cell.n == result.cells.front().n;
  table.columns = result.row_keys;
  if (result.col_keys.empty()) {
    table.columns.push_back(options.metric);
  } else {
    for (size_t k = 0; k < result.col_keys.size(); ++k) {
      std::vector<std::string> header(result.row_keys.size());
      header[0] = result.col_keys[k];
      for (size_t c = 0; c < result.col_labels.size(); ++c) {
        // A value spans its group: blank where it and every key above repeat the left column's.
        const auto& labels = result.col_labels[c];
        const bool repeats = k + 1 < result.col_keys.size() && c > 0 &&
                             std::equal(labels.begin(), labels.begin() + long(k) + 1, result.col_labels[c - 1].begin());
        header.push_back(repeats ? "" : labels[k]);
      }
      header_rows.push_back(std::move(header));
    }
    table.columns.resize(table.columns.size() + result.col_labels.size());
  }
  for (const auto& row_labels : result.row_labels) {
    std::vector<json> row(row_labels.begin(), row_labels.end());
    for (const auto& col_labels : result.col_labels) {
      const tracking::PivotCell* cell = result.find(row_labels, col_labels);
      row.push_back(cell ? json(mean_and_spread(*cell, !same_n) + (cell == best_cell ? " *" : "")) : json());
    }
    table.rows.push_back(std::move(row));
  }
  const int64_t n = result.cells.empty() ? 0 : result.cells.front().n;
  out << options.metric << " (" << (query.value == tracking::MetricValue::best ? "best" : "last")
      << " of each run, " << (query.goal == tracking::Goal::minimize ? "min" : "max") << " is better; "
      << (same_n && n == 1 ? std::string("one run each")
          : same_n         ? "mean ± std over " + std::to_string(n) + " runs each"
                           : std::string("mean ± std over n runs"))
      << ", * = best)\n";
  print(table, format, out, header_rows);
  return 0;
}

}  // namespace rnnlab::cli::runs
