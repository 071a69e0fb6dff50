// Internal to tracking: the statements that write runs and metrics. The Tracker uses them
// one run at a time; the benchmark uses them to fill a large database in one transaction.
// Callers own the transaction (detail::Transaction) around write_points/insert_run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tracking/detail/sqlite_db.h"
#include "tracking/tracker.h"

namespace rnnlab::tracking::detail {

// One flattened config entry: "model.cell" -> "lstm".
struct FlatParam {
  std::string key;
  std::string value_text;  // strings as they are, everything else as JSON text
  SqlValue value_num;      // numbers (and strings that are a whole number), else NULL
  std::string kind;        // number, string, bool, null, json (arrays)
};

// Nested objects become dotted keys; arrays are kept whole as JSON text under their key.
std::vector<FlatParam> flatten_config(const nlohmann::json& config);

int64_t find_or_create_experiment(Database& db, const std::string& name);

// Inserts the run (status running), its flattened params and its tags. Returns its id.
int64_t insert_run(Database& db, int64_t experiment_id, const RunInfo& info,
                   double heartbeat_timeout_s);

// Recomputes the run's metric_summary rows (all, or only `key`'s) from its metrics (after
// points were deleted or replaced). Call inside a transaction.
void rebuild_summary(Database& db, int64_t run_id, const std::string* key = nullptr);

// Prepared statements for the metric path, reused across batches.
class MetricWriter {
 public:
  explicit MetricWriter(Database& db);
  // Inserts the points (a step logged again replaces the earlier value and still counts
  // once) and folds them into metric_summary. Call inside a transaction.
  void write(int64_t run_id, const std::vector<MetricPoint>& points);

 private:
  Database& db_;
  Statement insert_;
  Statement replace_;
  Statement summary_;
};

}  // namespace rnnlab::tracking::detail
