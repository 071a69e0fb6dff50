#include "tracking/store.h"

#include <cmath>
#include <stdexcept>

#include "tracking/detail/run_select.h"
#include "tracking/detail/schema.h"
#include "tracking/detail/sqlite_db.h"

namespace rnnlab::tracking {
namespace {

using detail::Statement;

double nan_if_null(const Statement& s, int column) {
  return s.is_null(column) ? std::nan("") : s.column_double(column);
}

// Appends " AND e.name = ?" and " AND (<filter>)" with their binds.
void add_scope(std::string& sql, std::vector<SqlValue>& binds, const std::string& experiment,
               const std::string& where, const FilterContext& context) {
  if (!experiment.empty()) {
    sql += " AND e.name = ?";
    binds.push_back(experiment);
  }
  SqlFragment filter = compile_filter(where, context);
  if (!filter.sql.empty()) {
    sql += " AND " + filter.sql;
    binds.insert(binds.end(), filter.binds.begin(), filter.binds.end());
  }
}

void bind_all(Statement& statement, const std::vector<SqlValue>& binds) {
  for (size_t i = 0; i < binds.size(); ++i) statement.bind(static_cast<int>(i + 1), binds[i]);
}

}  // namespace

const PivotCell* PivotTable::find(const std::vector<std::string>& row,
                                  const std::vector<std::string>& col) const {
  for (const PivotCell& cell : cells) {
    if (cell.row == row && cell.col == col) return &cell;
  }
  return nullptr;
}

Store::Store(const std::string& path, bool create, int busy_timeout_ms, bool read_only)
    : db_(std::make_unique<detail::Database>(path, create, busy_timeout_ms, read_only)) {
  detail::prepare_database(*db_);
  // Queries read many small rows scattered over runs/params/summaries: map the file
  // (no read() per page) and give the page cache room for those tables (64 MiB).
  db_->exec("PRAGMA mmap_size = 1073741824");
  db_->exec("PRAGMA cache_size = -65536");
  detail::mark_stale_runs(*db_);
}

Store::~Store() = default;

std::vector<RunRecord> Store::list_runs(const RunQuery& query) {
  std::string sql = std::string("SELECT ") + detail::kRunColumns;
  std::vector<SqlValue> binds;
  for (const std::string& column : query.columns) {
    SqlFragment field = field_expression(parse_field(column), query.context);
    sql += ", " + field.sql;
    binds.insert(binds.end(), field.binds.begin(), field.binds.end());
  }
  sql += std::string(detail::kRunFrom) + " WHERE 1";
  add_scope(sql, binds, query.experiment, query.where, query.context);
  SqlFragment order = compile_order_by(query.order_by, query.context);
  sql += " ORDER BY " + (order.sql.empty() ? std::string() : order.sql + ", ") + "r.id DESC";
  binds.insert(binds.end(), order.binds.begin(), order.binds.end());
  if (query.limit > 0) {
    sql += " LIMIT ?";
    binds.push_back(query.limit);
  }
  Statement statement = db_->prepare(sql);
  bind_all(statement, binds);
  std::vector<RunRecord> runs;
  while (statement.step()) {
    RunRecord run = detail::read_run(statement);
    for (size_t i = 0; i < query.columns.size(); ++i) {
      run.columns.push_back(statement.column_value(detail::kRunColumnCount + static_cast<int>(i)));
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<int64_t> Store::resolve_runs(const std::vector<std::string>& refs) {
  std::vector<int64_t> ids;
  Statement by_id = db_->prepare("SELECT id FROM runs WHERE id = ?");
  Statement by_name = db_->prepare("SELECT id FROM runs WHERE name = ? ORDER BY id");
  for (const std::string& ref : refs) {
    bool numeric = !ref.empty() && ref.find_first_not_of("0123456789") == std::string::npos;
    if (numeric && ref.size() < 19) {
      by_id.bind(1, static_cast<int64_t>(std::stoll(ref)));
      bool found = by_id.step();
      by_id.reset();
      if (found) {
        ids.push_back(std::stoll(ref));
        continue;
      }
    }
    by_name.bind(1, ref);
    std::vector<int64_t> matches;
    while (by_name.step()) matches.push_back(by_name.column_int(0));
    by_name.reset();
    if (matches.empty()) throw std::invalid_argument("run: no run with id or name '" + ref + "'");
    if (matches.size() > 1) {
      std::string list;
      for (int64_t id : matches) list += (list.empty() ? "" : ", ") + std::to_string(id);
      throw std::invalid_argument("run: the name '" + ref + "' is used by runs " + list +
                                  ": give an id");
    }
    ids.push_back(matches[0]);
  }
  return ids;
}

RunDetails Store::run_details(int64_t run_id) {
  RunDetails details;
  Statement run = db_->prepare(std::string("SELECT ") + detail::kRunColumns + ", r.config" +
                               detail::kRunFrom + " WHERE r.id = ?");
  run.bind(1, run_id);
  if (!run.step()) throw std::invalid_argument("run: no run with id " + std::to_string(run_id));
  details.run = detail::read_run(run);
  details.config_json = run.column_text(detail::kRunColumnCount);

  Statement params = db_->prepare(
      "SELECT key, value_text, kind, value_num FROM params WHERE run_id = ? ORDER BY key");
  params.bind(1, run_id);
  while (params.step()) {
    details.params.push_back({params.column_text(0), params.column_text(1), params.column_text(2),
                              params.column_value(3)});
  }
  Statement metrics = db_->prepare(
      "SELECT key, count, last_step, last_value, min_value, min_step, max_value, max_step "
      "FROM metric_summary WHERE run_id = ? ORDER BY key");
  metrics.bind(1, run_id);
  while (metrics.step()) {
    MetricSummary summary;
    summary.key = metrics.column_text(0);
    summary.count = metrics.column_int(1);
    summary.last_step = metrics.column_int(2);
    summary.last_value = nan_if_null(metrics, 3);
    summary.min_value = nan_if_null(metrics, 4);
    summary.min_step = metrics.is_null(5) ? -1 : metrics.column_int(5);
    summary.max_value = nan_if_null(metrics, 6);
    summary.max_step = metrics.is_null(7) ? -1 : metrics.column_int(7);
    details.metrics.push_back(summary);
  }
  Statement tags = db_->prepare("SELECT key, value FROM tags WHERE run_id = ? ORDER BY key");
  tags.bind(1, run_id);
  while (tags.step()) details.tags[tags.column_text(0)] = tags.column_text(1);
  Statement artifacts = db_->prepare(
      "SELECT path, kind, step, created_at FROM artifacts WHERE run_id = ? ORDER BY id");
  artifacts.bind(1, run_id);
  while (artifacts.step()) {
    ArtifactRecord artifact{artifacts.column_text(0), artifacts.column_text(1), std::nullopt,
                            artifacts.column_double(3)};
    if (!artifacts.is_null(2)) artifact.step = artifacts.column_int(2);
    details.artifacts.push_back(artifact);
  }
  return details;
}

std::vector<MetricPoint> Store::metric_history(int64_t run_id, const std::string& key) {
  Statement history = db_->prepare(
      "SELECT step, value, wall_time FROM metrics WHERE run_id = ? AND key = ? ORDER BY step");
  history.bind(1, run_id).bind(2, key);
  std::vector<MetricPoint> points;
  while (history.step()) {
    points.push_back({key, history.column_int(0), nan_if_null(history, 1), history.column_double(2)});
  }
  return points;
}

std::vector<BestRun> Store::best_runs(const std::string& metric, Goal goal, MetricValue value,
                                      const std::string& experiment, const std::string& where,
                                      int64_t limit) {
  if (metric.empty()) throw std::invalid_argument("best: --metric is required");
  // The summary row holds each run's min, max and last: one index range scan over
  // (key, value) instead of a pass over the metrics table.
  const char* value_column = value == MetricValue::last ? "s.last_value"
                             : goal == Goal::minimize  ? "s.min_value"
                                                       : "s.max_value";
  const char* step_column = value == MetricValue::last ? "s.last_step"
                            : goal == Goal::minimize  ? "s.min_step"
                                                      : "s.max_step";
  std::string sql = std::string("SELECT ") + detail::kRunColumns + ", " + value_column + ", " +
                    step_column + " FROM metric_summary s JOIN runs r ON r.id = s.run_id " +
                    "JOIN experiments e ON e.id = r.experiment_id WHERE s.key = ? AND " +
                    value_column + " IS NOT NULL";
  std::vector<SqlValue> binds{metric};
  FilterContext context{goal, value};
  add_scope(sql, binds, experiment, where, context);
  sql += std::string(" ORDER BY ") + value_column + (goal == Goal::minimize ? " ASC" : " DESC") +
         ", r.id";
  if (limit > 0) {
    sql += " LIMIT ?";
    binds.push_back(limit);
  }
  Statement statement = db_->prepare(sql);
  bind_all(statement, binds);
  std::vector<BestRun> best;
  while (statement.step()) {
    best.push_back({detail::read_run(statement), statement.column_double(detail::kRunColumnCount),
                    statement.column_int(detail::kRunColumnCount + 1)});
  }
  return best;
}

std::vector<StepValue> Store::metric_at_step(const std::string& experiment, const std::string& key,
                                             int64_t step, bool best_up_to_step, Goal goal) {
  std::string sql;
  if (best_up_to_step) {
    sql = std::string("SELECT r.id, r.status, ") + (goal == Goal::minimize ? "min" : "max") +
          "(m.value) FROM runs r JOIN experiments e ON e.id = r.experiment_id "
          "JOIN metrics m ON m.run_id = r.id AND m.key = ? AND m.step <= ? "
          "WHERE e.name = ? AND m.value IS NOT NULL GROUP BY r.id ORDER BY r.id";
  } else {
    sql = "SELECT r.id, r.status, m.value FROM runs r JOIN experiments e ON e.id = r.experiment_id "
          "JOIN metrics m ON m.run_id = r.id AND m.key = ? AND m.step = ? "
          "WHERE e.name = ? AND m.value IS NOT NULL ORDER BY r.id";
  }
  Statement statement = db_->prepare(sql);
  statement.bind(1, key).bind(2, step).bind(3, experiment);
  std::vector<StepValue> values;
  while (statement.step()) {
    values.push_back({statement.column_int(0), statement.column_text(1), statement.column_double(2)});
  }
  return values;
}

std::vector<std::string> Store::experiments() {
  Statement statement = db_->prepare("SELECT name FROM experiments ORDER BY name");
  std::vector<std::string> names;
  while (statement.step()) names.push_back(statement.column_text(0));
  return names;
}

std::string Store::metric_version(int64_t run_id, const std::string& key) {
  Statement summary =
      db_->prepare("SELECT count, last_step, wall_time FROM metric_summary WHERE run_id = ? AND key = ?");
  summary.bind(1, run_id).bind(2, key);
  if (!summary.step()) return "none";
  return summary.column_text(0) + "/" + summary.column_text(1) + "/" + summary.column_text(2);
}

int64_t Store::run_count() {
  Statement count = db_->prepare("SELECT count(*) FROM runs");
  count.step();
  return count.column_int(0);
}

std::vector<std::string> Store::metric_keys(const std::string& experiment) {
  Statement statement = db_->prepare(
      "SELECT DISTINCT s.key FROM metric_summary s JOIN runs r ON r.id = s.run_id "
      "JOIN experiments e ON e.id = r.experiment_id WHERE ? = '' OR e.name = ? ORDER BY s.key");
  statement.bind(1, experiment).bind(2, experiment);
  std::vector<std::string> keys;
  while (statement.step()) keys.push_back(statement.column_text(0));
  return keys;
}

int64_t Store::delete_runs(const std::vector<int64_t>& run_ids, bool force) {
  detail::Transaction transaction(*db_);
  if (!force) {
    // Opening the store marked runs with a stale heartbeat killed: 'running' is alive.
    Statement running = db_->prepare("SELECT name, host, pid FROM runs WHERE id = ? AND status = 'running'");
    for (int64_t id : run_ids) {
      running.bind(1, id);
      if (running.step()) {
        throw std::invalid_argument("delete: run " + std::to_string(id) + " '" + running.column_text(0) +
                                    "' is still running (pid " + running.column_text(2) + " on " +
                                    running.column_text(1) + "); stop its training first, or add --force "
                                    "to delete it anyway (its trainer then records nothing more)");
      }
      running.reset();
    }
  }
  // Foreign keys cascade to params, metrics, summaries, tags and artifacts.
  Statement remove = db_->prepare("DELETE FROM runs WHERE id = ?");
  int64_t deleted = 0;
  for (int64_t id : run_ids) {
    remove.bind(1, id).run();
    deleted += db_->changes();
    remove.reset();
  }
  transaction.commit();
  return deleted;
}

void Store::set_tag(int64_t run_id, const std::string& key, const std::string& value) {
  if (key.empty()) throw std::invalid_argument("tag: key is empty");
  Statement tag = db_->prepare("INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)");
  tag.bind(1, run_id).bind(2, key).bind(3, value).run();
}

bool Store::remove_tag(int64_t run_id, const std::string& key) {
  Statement tag = db_->prepare("DELETE FROM tags WHERE run_id = ? AND key = ?");
  tag.bind(1, run_id).bind(2, key).run();
  return db_->changes() > 0;
}

void Store::set_status(int64_t run_id, RunStatus status, const std::string& error) {
  Statement update = db_->prepare(
      "UPDATE runs SET status = ?, end_time = CASE WHEN ? = 'running' THEN NULL ELSE "
      "COALESCE(end_time, ?) END, error = ? WHERE id = ?");
  update.bind(1, to_string(status)).bind(2, to_string(status)).bind(3, detail::now_seconds());
  if (error.empty()) update.bind_null(4); else update.bind(4, error);
  update.bind(5, run_id).run();
  if (db_->changes() == 0) throw std::invalid_argument("run: no run with id " + std::to_string(run_id));
}

}  // namespace rnnlab::tracking
