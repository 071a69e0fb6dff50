#include "tracking/tracker.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "tracking/detail/run_rows.h"
#include "tracking/detail/schema.h"
#include "tracking/detail/sqlite_db.h"
#include "tracking/detail/writer.h"

namespace rnnlab::tracking {

Tracker::Tracker(const std::string& db_path, TrackerOptions options)
    : path_(db_path), options_(options) {
  if (options_.flush_every_points < 1) {
    throw std::invalid_argument("tracker: flush_every_points must be >= 1");
  }
  if (!(options_.heartbeat_seconds > 0) || !(options_.flush_every_seconds > 0)) {
    throw std::invalid_argument("tracker: heartbeat_seconds and flush_every_seconds must be > 0");
  }
  if (!(options_.stale_after_seconds > options_.heartbeat_seconds)) {
    throw std::invalid_argument("tracker: stale_after_seconds must exceed heartbeat_seconds");
  }
  db_ = std::make_unique<detail::Database>(db_path, /*create=*/true, options_.busy_timeout_ms);
  detail::prepare_database(*db_);
  detail::mark_stale_runs(*db_);
  writer_ = std::make_unique<detail::MetricWriter>(*db_);
  background_ = std::thread([this] { background_loop(); });
}

void RunSink::close(std::mutex& mutex, bool& stopping, std::condition_variable& wake, std::thread& background,
                    bool active) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  background.join();
  try {
    if (active) finish(RunStatus::failed, "tracker closed while the run was still running");
  } catch (...) {
    // A destructor must not throw.
  }
}

Tracker::~Tracker() { close(mutex_, stopping_, wake_, background_, active_); }

int64_t Tracker::experiment_id(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  detail::Transaction transaction(*db_);
  int64_t id = detail::find_or_create_experiment(*db_, name);
  transaction.commit();
  return id;
}

int64_t Tracker::start_run(const RunInfo& info) {
  if (info.experiment.empty()) throw std::invalid_argument("run: experiment name is empty");
  std::lock_guard<std::mutex> lock(mutex_);
  if (active_) throw std::logic_error("tracker: start_run while run " + std::to_string(run_id_) +
                                      " is still active (finish it first)");
  detail::mark_stale_runs(*db_);
  detail::Transaction transaction(*db_);
  int64_t experiment = detail::find_or_create_experiment(*db_, info.experiment);
  run_id_ = detail::insert_run(*db_, experiment, info, options_.stale_after_seconds);
  transaction.commit();
  active_ = true;
  last_heartbeat_ = detail::now_seconds();
  return run_id_;
}

void Tracker::resume_run(int64_t run_id, int64_t after_step) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (active_) throw std::logic_error("tracker: resume_run while run " + std::to_string(run_id_) +
                                      " is still active (finish it first)");
  detail::Transaction transaction(*db_);
  detail::resume_run_rows(*db_, run_id, after_step, options_.stale_after_seconds);
  transaction.commit();
  run_id_ = run_id;
  active_ = true;
  last_heartbeat_ = detail::now_seconds();
}

void Tracker::require_run_locked(const char* what) const {
  if (!active_) throw std::logic_error(std::string("tracker: ") + what + " without an active run");
}

void Tracker::check_run_exists_locked() {
  detail::Statement find = db_->prepare("SELECT count(*) FROM runs WHERE id = ?");
  find.bind(1, run_id_);
  find.step();
  if (find.column_int(0) > 0) return;
  active_ = false;
  buffer_.clear();
  throw RunDeleted("tracker: run " + std::to_string(run_id_) + " is no longer in " + path_ +
                   " (deleted while it was running, e.g. by rnnlab runs delete --force); nothing more "
                   "can be recorded for it");
}

void Tracker::check_background_error_locked() {
  if (background_error_) std::rethrow_exception(std::exchange(background_error_, nullptr));
}

void Tracker::log_metric(std::string_view key, int64_t step, double value) {
  log_metric(key, step, value, detail::now_seconds());
}

void Tracker::log_metric(std::string_view key, int64_t step, double value, double wall_time) {
  if (key.empty()) throw std::invalid_argument("metric: key is empty");
  std::unique_lock<std::mutex> lock(mutex_);
  check_background_error_locked();
  require_run_locked("log_metric");
  if (buffer_.empty()) oldest_buffered_ = wall_time;
  buffer_.push_back({std::string(key), step, value, wall_time});
  if (buffer_.size() >= static_cast<size_t>(options_.flush_every_points)) flush_locked();
}

void Tracker::set_tag(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_background_error_locked();
  require_run_locked("set_tag");
  detail::write_tag(*db_, run_id_, key, value);
}

void Tracker::log_artifact(const std::string& path, const std::string& kind, int64_t step) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_background_error_locked();
  require_run_locked("log_artifact");
  detail::write_artifact(*db_, run_id_, path, kind, step);
}

size_t Tracker::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  check_background_error_locked();
  return flush_locked();
}

// Writes the buffer and the heartbeat in one transaction: a batch costs one commit.
size_t Tracker::flush_locked() {
  if (!active_) return 0;
  const double now = detail::now_seconds();
  detail::Transaction transaction(*db_);
  try {
    if (!buffer_.empty()) writer_->write(run_id_, buffer_);
  } catch (const std::runtime_error&) {
    check_run_exists_locked();  // a deleted run fails on its foreign key: say so instead
    throw;
  }
  detail::write_heartbeat(*db_, run_id_, now);
  if (db_->changes() == 0) check_run_exists_locked();
  transaction.commit();
  last_heartbeat_ = now;
  size_t written = buffer_.size();
  buffer_.clear();
  return written;
}

void Tracker::finish(RunStatus status, std::string_view error) {
  if (status == RunStatus::running) {
    throw std::invalid_argument("finish: status must be finished, failed, killed or pruned");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  check_background_error_locked();
  require_run_locked("finish");
  flush_locked();
  detail::write_final_status(*db_, run_id_, status, error);
  if (db_->changes() == 0) check_run_exists_locked();
  active_ = false;
}

int64_t Tracker::run_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return run_id_;
}

// Heartbeat and time-based flush. Runs until the destructor; waits on the condition
// variable so shutdown is immediate.
void Tracker::background_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  const double tick = std::min(options_.heartbeat_seconds, options_.flush_every_seconds) / 2;
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::duration<double>(tick));
    if (stopping_ || !active_) continue;
    const double now = detail::now_seconds();
    const bool flush_due = !buffer_.empty() && now - oldest_buffered_ >= options_.flush_every_seconds;
    const bool heartbeat_due = now - last_heartbeat_ >= options_.heartbeat_seconds;
    if (!flush_due && !heartbeat_due) continue;
    try {
      flush_locked();
    } catch (...) {
      background_error_ = std::current_exception();
    }
  }
}

}  // namespace rnnlab::tracking
