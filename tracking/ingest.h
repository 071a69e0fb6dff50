// Ingest: the server side of remote logging. `rnnlab serve` hands it each request a
// RemoteTracker (remote.h) sent; it applies them to the database with the Tracker's own
// statements (one transaction per batch of points, WAL, busy timeout).
//
//   Ingest ingest("rnnlab.db");
//   nlohmann::json reply = ingest.apply(request_body);   // {"op": "log", "run_id": 3, ...}
//
// Requests (JSON objects, "op" names one):
//   start    {info: RunInfo as JSON, stale_after}        -> {run_id}
//   resume   {run_id, after_step, stale_after}           -> {}
//   log      {run_id, points: [[key, step, value|null, wall_time], ...], retry} -> {written}
//            also the heartbeat (points may be empty). Idempotent per (run, key, step): a
//            batch sent again replaces the same rows; retry=true (the client is not sure the
//            earlier send arrived) rebuilds the run's metric summary so counts stay exact.
//   tag      {run_id, key, value}      artifact {run_id, path, kind, step}
//   finish   {run_id, status, error}
// Failure: a malformed request or an unknown run is std::invalid_argument (the server
// answers 400/404, the client does not retry); SQLite errors are std::runtime_error
// naming the database (500: the client retries).
// Thread safety: apply() may be called from any thread (one internal mutex, one connection).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace rnnlab::tracking {

namespace detail {
class Database;
class MetricWriter;
}  // namespace detail

class Ingest {
 public:
  explicit Ingest(const std::string& db_path, int busy_timeout_ms = 60000);
  ~Ingest();
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  nlohmann::json apply(const nlohmann::json& request);

 private:
  std::mutex mutex_;
  std::unique_ptr<detail::Database> db_;
  std::unique_ptr<detail::MetricWriter> writer_;
};

}  // namespace rnnlab::tracking
