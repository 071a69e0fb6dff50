// Store::pivot: the table a sweep exists to produce. Reads each run's metric value from
// metric_summary (never the metrics table) and the labels of the row and column params,
// then groups and computes the statistics here, over at most one value per run.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "tracking/detail/sqlite_db.h"
#include "tracking/store.h"

namespace rnnlab::tracking {
namespace {

std::string strip_params_prefix(const std::string& key) {
  if (key.rfind("params.", 0) == 0) return key.substr(7);
  return key;
}

bool is_number(const std::string& text, double& value) {
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end && *end == '\0';
}

// Numbers in numeric order before text in text order, so layers 2 < 10.
bool label_less(const std::string& a, const std::string& b) {
  double x = 0, y = 0;
  bool a_number = is_number(a, x), b_number = is_number(b, y);
  if (a_number && b_number) return x < y || (x == y && a < b);
  if (a_number != b_number) return a_number;
  return a < b;
}

bool labels_less(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), label_less);
}

}  // namespace

PivotTable Store::pivot(const PivotQuery& query) {
  if (query.metric.empty()) throw std::invalid_argument("pivot: --metric is required");
  if (query.rows.empty()) throw std::invalid_argument("pivot: --rows needs at least one param");
  PivotTable table;
  for (const std::string& key : query.rows) table.row_keys.push_back(strip_params_prefix(key));
  for (const std::string& key : query.cols) table.col_keys.push_back(strip_params_prefix(key));
  std::vector<std::string> keys = table.row_keys;
  keys.insert(keys.end(), table.col_keys.begin(), table.col_keys.end());

  // A hash join in three kinds of range scans over covering indexes, rather than one
  // SQL join: per-run primary-key lookups into params cost ~4x more on 10,000 runs.
  // 1. The runs in scope, only when there is a scope (experiment or filter).
  std::unordered_set<int64_t> in_scope;
  const bool scoped = !query.experiment.empty() || !query.where.empty();
  if (scoped) {
    std::string sql = "SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE 1";
    std::vector<SqlValue> binds;
    if (!query.experiment.empty()) {
      sql += " AND e.name = ?";
      binds.push_back(query.experiment);
    }
    SqlFragment filter = compile_filter(query.where, FilterContext{query.goal, query.value});
    if (!filter.sql.empty()) {
      sql += " AND " + filter.sql;
      binds.insert(binds.end(), filter.binds.begin(), filter.binds.end());
    }
    detail::Statement runs = database().prepare(sql);
    for (size_t i = 0; i < binds.size(); ++i) runs.bind(static_cast<int>(i + 1), binds[i]);
    while (runs.step()) in_scope.insert(runs.column_int(0));
  }
  // 2. The label of each key for every run that has it (index params_by_key).
  std::vector<std::unordered_map<int64_t, std::string>> labels(keys.size());
  detail::Statement params =
      database().prepare("SELECT run_id, value_text FROM params WHERE key = ?");
  for (size_t i = 0; i < keys.size(); ++i) {
    params.bind(1, keys[i]);
    while (params.step()) labels[i].emplace(params.column_int(0), params.column_text(1));
    params.reset();
  }
  // 3. Each run's value of the metric (index metric_summary_by_min/max/last).
  const char* value_column = query.value == MetricValue::last ? "last_value"
                             : query.goal == Goal::minimize  ? "min_value"
                                                             : "max_value";
  detail::Statement values = database().prepare(
      std::string("SELECT run_id, ") + value_column + " FROM metric_summary WHERE key = ? AND " +
      value_column + " IS NOT NULL");
  values.bind(1, query.metric);

  // Welford's update: stable for values far from zero with a small spread.
  struct Accumulator {
    int64_t n = 0;
    double mean = 0, m2 = 0, min = INFINITY, max = -INFINITY;
  };
  std::map<std::pair<std::vector<std::string>, std::vector<std::string>>, Accumulator> groups;
  const size_t row_count = table.row_keys.size();
  std::vector<std::string> row, col;
  while (values.step()) {
    const int64_t run_id = values.column_int(0);
    if (scoped && !in_scope.count(run_id)) continue;
    const double value = values.column_double(1);
    row.clear();
    col.clear();
    for (size_t i = 0; i < keys.size(); ++i) {
      auto it = labels[i].find(run_id);
      (i < row_count ? row : col).push_back(it == labels[i].end() ? "(none)" : it->second);
    }
    Accumulator& group = groups[{row, col}];
    ++group.n;
    const double delta = value - group.mean;
    group.mean += delta / static_cast<double>(group.n);
    group.m2 += delta * (value - group.mean);
    group.min = std::min(group.min, value);
    group.max = std::max(group.max, value);
  }

  for (const auto& [group_labels, group] : groups) {
    PivotCell cell;
    cell.row = group_labels.first;
    cell.col = group_labels.second;
    cell.n = group.n;
    cell.mean = group.mean;
    cell.std = group.n > 1 ? std::sqrt(group.m2 / static_cast<double>(group.n - 1)) : 0.0;
    cell.min = group.min;
    cell.max = group.max;
    if (std::find(table.row_labels.begin(), table.row_labels.end(), cell.row) == table.row_labels.end())
      table.row_labels.push_back(cell.row);
    if (std::find(table.col_labels.begin(), table.col_labels.end(), cell.col) == table.col_labels.end())
      table.col_labels.push_back(cell.col);
    table.cells.push_back(std::move(cell));
  }
  std::sort(table.row_labels.begin(), table.row_labels.end(), labels_less);
  std::sort(table.col_labels.begin(), table.col_labels.end(), labels_less);
  return table;
}

}  // namespace rnnlab::tracking
