// RemoteTracker: a RunSink that logs through `rnnlab serve` over HTTP instead of writing a
// local SQLite file, so rank 0 of a multi-host job need not see the database
// (output.tracker: http://HOST:PORT). The server applies each request with Ingest
// (ingest.h), whose reference lists the requests.
//
// Token: $RNNLAB_TRACKER_TOKEN, else the first line of the file $RNNLAB_TRACKER_TOKEN_FILE,
// else none (a server on a non-loopback address refuses writes without it). Never the config.
// Buffering and retries: points are buffered as by the Tracker (TrackerOptions) and sent in
// batches. A batch that fails (server down or restarting, 5xx) stays buffered and is sent
// again by the background thread, which also sends a heartbeat every heartbeat_seconds;
// training is not held up. Writes are idempotent per (run, key, step), so a batch that did
// arrive but whose answer was lost is sent again without duplicating a point. flush() and
// finish() wait for the server (retrying) up to retry_seconds, then throw runtime_error.
// A 4xx answer (bad token, unknown run, bad request) is not retried: it is rethrown as
// std::runtime_error with the server's message.
// Thread safety: all methods may be called from any thread (one internal mutex).
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tracking/tracker.h"

namespace rnnlab::tracking {

// True for "http://..." targets (RemoteTracker); anything else is a database path.
bool is_remote_target(const std::string& target);
// A RemoteTracker for http:// targets, else a Tracker on the database file.
std::unique_ptr<RunSink> open_run_sink(const std::string& target, TrackerOptions options = {});
// The token a RemoteTracker sends (see above); empty when none is set.
std::string tracker_token_from_environment();

struct RemoteOptions {
  TrackerOptions tracker;
  double retry_seconds = 300;    // how long flush/finish/start wait for the server
  double request_timeout = 10;   // connect, read and write timeout of one request
  std::string token = tracker_token_from_environment();
};

class RemoteTracker : public RunSink {
 public:
  // url: http://HOST:PORT (a path after it is ignored). Contacts nobody until start_run.
  explicit RemoteTracker(const std::string& url, RemoteOptions options = {});
  ~RemoteTracker() override;  // flushes; an active run is finished as failed
  RemoteTracker(const RemoteTracker&) = delete;
  RemoteTracker& operator=(const RemoteTracker&) = delete;

  int64_t start_run(const RunInfo& info) override;
  void resume_run(int64_t run_id, int64_t after_step) override;
  void log_metric(std::string_view key, int64_t step, double value, double wall_time) override;
  void set_tag(const std::string& key, const std::string& value) override;
  void log_artifact(const std::string& path, const std::string& kind, int64_t step = -1) override;
  size_t flush() override;
  void finish(RunStatus status, std::string_view error = {}) override;
  int64_t run_id() const override;

  const std::string& url() const { return url_; }
  size_t buffered() const;  // points not yet acknowledged by the server

 private:
  struct Connection;
  nlohmann::json send_locked(const nlohmann::json& request, bool wait);
  bool try_send_points_locked(bool wait);
  void background_loop();
  void require_run_locked(const char* what) const;

  std::string url_;
  RemoteOptions options_;
  std::unique_ptr<Connection> connection_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<MetricPoint> buffer_;
  double oldest_buffered_ = 0, last_heartbeat_ = 0, next_attempt_ = 0;
  bool retry_ = false;  // a batch failed since the last success: the server may hold part of it
  int64_t run_id_ = 0;
  bool active_ = false, stopping_ = false;
  bool sending_ = false;  // a batch is in flight (its sender may sleep between retries)
  std::exception_ptr background_error_;
  std::thread background_;
};

}  // namespace rnnlab::tracking
