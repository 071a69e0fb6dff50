// BulkWriter: many runs written into one database in ONE transaction, through the Tracker's
// own statements: to generate the large databases `rnnlab runs bench` queries, or to import
// runs logged elsewhere. Much faster than a Tracker per run (no transaction per batch of
// points, no heartbeats, one set of prepared statements).
//
//   BulkWriter bulk("big.db");
//   const int64_t id = bulk.add_run(info);             // status running; params, tags
//   bulk.log(id, points);                              // as Tracker::log_metric, many at once
//   bulk.finish(id, RunStatus::finished, end_time);
//   bulk.commit();                                     // one commit; the WAL folded into the file
//
// The database is created when missing, with the Tracker's schema and connection settings.
// The write lock is held from construction to commit(): other writers wait (busy timeout),
// readers see nothing of the load before commit(). Destroying a BulkWriter that was not
// committed rolls all of it back. After commit() only destruction is allowed.
// Failure: SQLite errors are std::runtime_error naming the database; log/finish on an id
// this writer did not add, or a call after commit(), is std::logic_error.
// Thread safety: one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tracking/tracker.h"

namespace rnnlab::tracking {

namespace detail {
class Database;
class MetricWriter;
class Transaction;
}  // namespace detail

class BulkWriter {
 public:
  // cache_mib: SQLite's page cache while loading (a large load stays in memory longer).
  explicit BulkWriter(const std::string& path, int64_t cache_mib = 256, int busy_timeout_ms = 60000);
  ~BulkWriter();
  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  // Inserts the run (status running, start time now) with its flattened config and tags,
  // in info.experiment (created when new). heartbeat_timeout_s as TrackerOptions: a run left
  // running is marked killed that long after the load by the next Store that opens it.
  int64_t add_run(const RunInfo& info, double heartbeat_timeout_s = 60.0);
  // The points of one run; a step logged again replaces the earlier value (as the Tracker).
  void log(int64_t run_id, const std::vector<MetricPoint>& points);
  // Sets the final status and end time (Unix seconds; default now).
  void finish(int64_t run_id, RunStatus status, std::optional<double> end_time = std::nullopt);
  void commit();

 private:
  void require_open(int64_t run_id, const char* what) const;
  std::unique_ptr<detail::Database> db_;
  std::unique_ptr<detail::Transaction> transaction_;
  std::unique_ptr<detail::MetricWriter> writer_;
  std::map<std::string, int64_t> experiments_;  // name -> id, for this load
  int64_t first_run_ = 0, last_run_ = -1;       // the ids add_run() returned
};

}  // namespace rnnlab::tracking
