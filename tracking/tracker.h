// Tracker: how a training process (the trainer's rank 0) records a run in the SQLite run
// store. One Tracker holds one connection and at most one active run at a time.
//
//   Tracker tracker("rnnlab.db");
//   RunInfo info;  // experiment, name, config (JSON), host, ranks, backend, version, commit
//   info.experiment = "lm"; info.name = "lstm-2x256"; info.config = config_json; ...
//   tracker.start_run(info);
//   tracker.log_metric("train_loss", step, loss);      // buffered, written in batches
//   tracker.log_artifact("ckpt/step-1000.bin", "checkpoint", 1000);
//   tracker.finish(RunStatus::finished);                // or failed + error text
//
// Writes: metric points are buffered and written in one transaction per batch: when
// flush_every_points are buffered, when the oldest buffered point is flush_every_seconds
// old (checked by a background thread, so a slow epoch still gets its points written),
// on flush() and on finish(). The same thread refreshes the run's heartbeat every
// heartbeat_seconds; any process that opens the database later marks a run whose heartbeat
// is older than stale_after_seconds as killed (the writer died: SIGKILL, OOM, lost node).
// A point is durable once the flush that wrote it returned.
//
// Failure: SQLite errors throw std::runtime_error (naming the call and SQLite's message);
// misuse (log without a run, bad options) throws std::invalid_argument / std::logic_error.
// An error in the background thread is rethrown by the next call that writes. A run whose
// row was deleted while it was active (`rnnlab runs delete --force`) makes the write that
// finds it gone throw RunDeleted; the tracker then has no active run.
// Thread safety: all methods may be called from any thread (one internal mutex).
// Several processes may write to one database at once (WAL mode, a busy timeout, every
// write transaction BEGIN IMMEDIATE).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracking/vocabulary.h"  // RunStatus

namespace rnnlab::tracking {

namespace detail {
class Database;
class MetricWriter;
}  // namespace detail

// The active run's row is no longer in the database: deleted while it was running.
class RunDeleted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TrackerOptions {
  int flush_every_points = 1000;
  double flush_every_seconds = 5.0;
  double heartbeat_seconds = 10.0;
  // Stored with the run: readers mark it killed when its heartbeat is older than this.
  // Must exceed heartbeat_seconds (and a flush); 6x is a safe margin.
  double stale_after_seconds = 60.0;
  int busy_timeout_ms = 60000;
};

struct RunInfo {
  std::string experiment = "default";  // created on first use
  std::string name;                    // empty: "run-<id>"
  // The whole config, stored as JSON and flattened into params with dotted keys
  // (model.cell, model.layers). Numbers stay numbers; arrays are stored as JSON text.
  nlohmann::json config = nlohmann::json::object();
  std::map<std::string, std::string> tags;
  std::string host;
  int ranks = 1;
  std::string backend;
  std::string rnnlab_version;
  std::string git_commit;
};

struct MetricPoint {
  std::string key;
  int64_t step = 0;
  double value = 0;      // NaN is stored as NULL and never counts as best
  double wall_time = 0;  // Unix seconds
};

// What a training process writes about its run, whichever way it travels: Tracker (a
// local SQLite file) or RemoteTracker (HTTP to `rnnlab serve`, tracking/remote.h, which
// also has open_run_sink choosing one by the target's form). Semantics as Tracker's below.
class RunSink {
 public:
  virtual ~RunSink() = default;
  virtual int64_t start_run(const RunInfo& info) = 0;
  virtual void resume_run(int64_t run_id, int64_t after_step) = 0;
  virtual void log_metric(std::string_view key, int64_t step, double value, double wall_time) = 0;
  virtual void set_tag(const std::string& key, const std::string& value) = 0;
  virtual void log_artifact(const std::string& path, const std::string& kind, int64_t step) = 0;
  virtual size_t flush() = 0;
  virtual void finish(RunStatus status, std::string_view error) = 0;
  virtual int64_t run_id() const = 0;

 protected:
  // For the destructors: sets `stopping` under `mutex`, wakes and joins the background
  // thread, then finishes a run still active as failed; never throws (a run left behind is
  // marked killed by its stale heartbeat).
  void close(std::mutex& mutex, bool& stopping, std::condition_variable& wake, std::thread& background,
             bool active);
};

class Tracker : public RunSink {
 public:
  // Opens (creating and migrating if needed) the database at db_path and marks stale runs
  // of dead writers as killed.
  explicit Tracker(const std::string& db_path, TrackerOptions options = {});
  // Flushes; a run still active is finished as failed ("tracker closed while running").
  ~Tracker() override;
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  int64_t experiment_id(const std::string& name);  // finds or creates
  int64_t start_run(const RunInfo& info) override;  // logic_error if a run is active
  // Continues an earlier run, as a resumed training does (like W&B's resume="must"): the
  // run becomes active and 'running' again (end time and error cleared, heartbeat and pid
  // refreshed, tag resumed=<count>), its metric points after `after_step` are deleted (the
  // resumed training logs those steps again, so the curve reads as one uninterrupted run)
  // and its metric summary is rebuilt from what remains. invalid_argument if no run has
  // that id; logic_error if a run is active.
  void resume_run(int64_t run_id, int64_t after_step) override;
  void log_metric(std::string_view key, int64_t step, double value);
  void log_metric(std::string_view key, int64_t step, double value, double wall_time) override;
  void set_tag(const std::string& key, const std::string& value) override;
  void log_artifact(const std::string& path, const std::string& kind, int64_t step = -1) override;
  // Writes every buffered point in one transaction; returns how many it wrote.
  size_t flush() override;
  // Flushes, then records the final status (not running; recorded(status) in the
  // database: early_stopped as finished) and, for failed, the error.
  void finish(RunStatus status, std::string_view error = {}) override;

  int64_t run_id() const override;  // the active (or last) run, 0 before the first
  const std::string& path() const { return path_; }

 private:
  void background_loop();
  size_t flush_locked();
  void check_background_error_locked();
  void require_run_locked(const char* what) const;
  // Throws RunDeleted (and ends the active run) when the run's row is gone.
  void check_run_exists_locked();

  std::string path_;
  TrackerOptions options_;
  std::unique_ptr<detail::Database> db_;
  std::unique_ptr<detail::MetricWriter> writer_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<MetricPoint> buffer_;
  double oldest_buffered_ = 0;
  double last_heartbeat_ = 0;
  int64_t run_id_ = 0;
  bool active_ = false;
  bool stopping_ = false;
  std::exception_ptr background_error_;
  std::thread background_;
};

}  // namespace rnnlab::tracking
