// Store::pivot: the table a sweep exists to produce. One query reads, per run, the labels
// of the row and column params and the run's metric value (from metric_summary, never the
// metrics table); the grouping and the statistics are done here, over at most one row per
// run.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <stdexcept>

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

  const char* value_column = query.value == MetricValue::last ? "s.last_value"
                             : query.goal == Goal::minimize  ? "s.min_value"
                                                             : "s.max_value";
  std::string select = std::string("SELECT ") + value_column;
  std::string joins;
  std::vector<SqlValue> binds;
  std::vector<std::string> keys = table.row_keys;
  keys.insert(keys.end(), table.col_keys.begin(), table.col_keys.end());
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string alias = "p" + std::to_string(i);
    select += ", " + alias + ".value_text";
    joins += " LEFT JOIN params " + alias + " ON " + alias + ".run_id = r.id AND " + alias +
             ".key = ?";
    binds.push_back(keys[i]);
  }
  std::string sql = select + " FROM metric_summary s JOIN runs r ON r.id = s.run_id " +
                    "JOIN experiments e ON e.id = r.experiment_id" + joins +
                    " WHERE s.key = ? AND " + value_column + " IS NOT NULL";
  binds.push_back(query.metric);
  if (!query.experiment.empty()) {
    sql += " AND e.name = ?";
    binds.push_back(query.experiment);
  }
  SqlFragment filter = compile_filter(query.where, FilterContext{query.goal, query.value});
  if (!filter.sql.empty()) {
    sql += " AND " + filter.sql;
    binds.insert(binds.end(), filter.binds.begin(), filter.binds.end());
  }

  struct Accumulator {
    int64_t n = 0;
    double sum = 0, sum_squares = 0, min = INFINITY, max = -INFINITY;
  };
  std::map<std::pair<std::vector<std::string>, std::vector<std::string>>, Accumulator> groups;
  detail::Statement statement = database().prepare(sql);
  for (size_t i = 0; i < binds.size(); ++i) statement.bind(static_cast<int>(i + 1), binds[i]);
  const size_t row_count = table.row_keys.size();
  while (statement.step()) {
    const double value = statement.column_double(0);
    std::vector<std::string> row, col;
    for (size_t i = 0; i < keys.size(); ++i) {
      const int column = static_cast<int>(i + 1);
      std::string label = statement.is_null(column) ? "(none)" : statement.column_text(column);
      (i < row_count ? row : col).push_back(std::move(label));
    }
    Accumulator& group = groups[{row, col}];
    ++group.n;
    group.sum += value;
    group.sum_squares += value * value;
    group.min = std::min(group.min, value);
    group.max = std::max(group.max, value);
  }

  for (const auto& [labels, group] : groups) {
    PivotCell cell;
    cell.row = labels.first;
    cell.col = labels.second;
    cell.n = group.n;
    cell.mean = group.sum / static_cast<double>(group.n);
    if (group.n > 1) {
      double variance = (group.sum_squares - group.sum * cell.mean) / static_cast<double>(group.n - 1);
      cell.std = std::sqrt(std::max(variance, 0.0));
    }
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
