// Store: the questions asked of the run store, for the `rnnlab runs` command line and the
// sweep engine (pruning reads intermediate values of an experiment's runs with
// metric_at_step). The schema is documented in docs/tracking.md for users' own SQL.
//
// Opening: the database must exist unless `create` is set (a missing file is
// std::invalid_argument naming the path). Opening migrates an older schema and marks runs
// whose writer stopped sending heartbeats as killed; a read-only database (mode 0444, a
// read-only folder, or read_only set) is queried as it is, without either.
// Failure: filters and names that are wrong throw std::invalid_argument (filters with a
// caret under the bad token, see filter.h); SQLite errors throw std::runtime_error.
// Thread safety: one Store per thread; any number of Stores and Trackers, in any number of
// processes, may use one database at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tracking/filter.h"
#include "tracking/tracker.h"

namespace rnnlab::tracking {

namespace detail {
class Database;
class StoreAccess;  // detail/store_access.h: the connection, for tracking's own code and tests
}  // namespace detail

struct RunRecord {
  int64_t id = 0;
  std::string experiment, name, status, error, host, backend, rnnlab_version, git_commit;
  int64_t ranks = 0;
  double start_time = 0;
  std::optional<double> end_time;
  double heartbeat_at = 0;
  std::vector<SqlValue> columns;  // the values of RunQuery::columns, in that order
};

struct RunQuery {
  std::string experiment;            // empty: every experiment
  std::string where;                 // filter.h; empty: every run
  std::string order_by;              // filter.h order list; empty: newest first
  FilterContext context;             // goal and default value for metrics.K
  int64_t limit = 0;                 // 0: no limit
  std::vector<std::string> columns;  // fields to read per run: "metrics.val_loss.best", ...
};

struct ParamRecord {
  std::string key, value_text, kind;
  SqlValue value_num;  // NULL when not numeric
};

struct MetricSummary {
  std::string key;
  int64_t count = 0, last_step = 0;
  // NaN where SQLite has NULL (a NaN metric, or no finite value yet).
  double last_value = 0, min_value = 0, max_value = 0;
  int64_t min_step = -1, max_step = -1;
};

struct ArtifactRecord {
  std::string path, kind;
  std::optional<int64_t> step;
  double created_at = 0;
};

struct RunDetails {
  RunRecord run;
  std::string config_json;
  std::vector<ParamRecord> params;  // sorted by key
  std::vector<MetricSummary> metrics;  // sorted by key
  std::map<std::string, std::string> tags;
  std::vector<ArtifactRecord> artifacts;
};

struct BestRun {
  RunRecord run;
  double value = 0;
  int64_t step = 0;  // step of that value
};

struct PivotQuery {
  std::vector<std::string> rows;  // param keys ("model.cell"; "params." prefix optional)
  std::vector<std::string> cols;  // may be empty
  std::string metric;
  Goal goal = Goal::minimize;
  MetricValue value = MetricValue::best;  // each run's best or last value
  std::string experiment;
  std::string where;
};

struct PivotCell {
  std::vector<std::string> row, col;  // labels, one per key ("(none)" when a run lacks it)
  int64_t n = 0;
  double mean = 0, std = 0, min = 0, max = 0;  // std: sample standard deviation, 0 for n = 1
};

struct PivotTable {
  std::vector<std::string> row_keys, col_keys;
  std::vector<std::vector<std::string>> row_labels, col_labels;  // sorted, numbers numerically
  std::vector<PivotCell> cells;  // only the non-empty ones
  const PivotCell* find(const std::vector<std::string>& row,
                        const std::vector<std::string>& col) const;
};

struct StepValue {
  int64_t run_id = 0;
  std::string status;
  double value = 0;
};

class Store {
 public:
  // read_only: a connection that never writes (no migration, no killed-run marking; writes
  // fail naming the file). A file this process cannot write is opened so in any case.
  explicit Store(const std::string& path, bool create = false, int busy_timeout_ms = 60000,
                 bool read_only = false);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::vector<RunRecord> list_runs(const RunQuery& query);

  // Each ref is a run id or a run name; a name used by several runs is an error listing
  // their ids; an unknown one is an error naming it.
  std::vector<int64_t> resolve_runs(const std::vector<std::string>& refs);

  RunDetails run_details(int64_t run_id);
  std::vector<MetricPoint> metric_history(int64_t run_id, const std::string& key);

  // Runs ordered by their best (or last) value of `metric`; runs without it are left out.
  std::vector<BestRun> best_runs(const std::string& metric, Goal goal, MetricValue value,
                                 const std::string& experiment, const std::string& where,
                                 int64_t limit);

  // Mean and spread of each run's metric value over the runs (seeds) in each cell.
  PivotTable pivot(const PivotQuery& query);

  // For pruning: each run of `experiment` that logged `key` at `step`, with that value, or
  // with its best value up to and including `step` when best_up_to_step is set.
  std::vector<StepValue> metric_at_step(const std::string& experiment, const std::string& key,
                                        int64_t step, bool best_up_to_step = false,
                                        Goal goal = Goal::minimize);

  std::vector<std::string> experiments();
  // Every metric key some run (of `experiment`; empty: of any) has logged, sorted.
  std::vector<std::string> metric_keys(const std::string& experiment = {});

  // Deletes the runs and everything logged for them; returns how many were deleted. A run
  // still running (its heartbeat fresh) is refused with std::invalid_argument naming it,
  // and nothing is deleted, unless `force`: its trainer then finds the run gone at its next
  // write (tracker.h, RunDeleted) and records nothing more.
  int64_t delete_runs(const std::vector<int64_t>& run_ids, bool force = false);
  void set_tag(int64_t run_id, const std::string& key, const std::string& value);
  bool remove_tag(int64_t run_id, const std::string& key);
  // For a sweep engine that stops someone else's run (pruned) or repairs a status.
  void set_status(int64_t run_id, RunStatus status, const std::string& error = {});

  // A token that changes whenever a point of (run, key) is written ("count/last step/wall
  // time" of its summary); "none" while it has none. For caches of a history (`rnnlab serve`).
  std::string metric_version(int64_t run_id, const std::string& key);
  int64_t run_count();  // every run in the database, of every experiment

 private:
  friend class detail::StoreAccess;
  detail::Database& database() { return *db_; }
  std::unique_ptr<detail::Database> db_;
};

}  // namespace rnnlab::tracking
