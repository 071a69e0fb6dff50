#include "tracking/remote.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tracking/detail/sqlite_db.h"
#include "tracking/detail/wire.h"

namespace rnnlab::tracking {

using nlohmann::json;

bool is_remote_target(const std::string& target) { return target.rfind("http://", 0) == 0; }

std::unique_ptr<RunSink> open_run_sink(const std::string& target, TrackerOptions options) {
  if (is_remote_target(target)) {
    RemoteOptions remote;
    remote.tracker = options;
    return std::make_unique<RemoteTracker>(target, remote);
  }
  return std::make_unique<Tracker>(target, options);
}

std::string tracker_token_from_environment() {
  if (const char* token = std::getenv("RNNLAB_TRACKER_TOKEN"); token && *token) return token;
  const char* file = std::getenv("RNNLAB_TRACKER_TOKEN_FILE");
  if (!file || !*file) return {};
  std::ifstream in(file);
  std::string token;
  if (!in || !std::getline(in, token) || token.empty()) {
    throw std::runtime_error(std::string("RNNLAB_TRACKER_TOKEN_FILE: cannot read a token from '") +
                             file + "'");
  }
  return token;
}

namespace {
// The server refused the request (4xx): sending it again cannot help.
struct Rejected : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace

struct RemoteTracker::Connection {
  httplib::Client client;
  httplib::Headers headers;
  Connection(const std::string& host, int port) : client(host, port) {}
};

RemoteTracker::RemoteTracker(const std::string& url, RemoteOptions options)
    : url_(url), options_(std::move(options)) {
  if (!is_remote_target(url)) {
    throw std::invalid_argument("tracker: '" + url + "' is not an http://HOST:PORT address");
  }
  std::string rest = url.substr(7);
  rest = rest.substr(0, rest.find('/'));
  const size_t colon = rest.rfind(':');
  int port = 80;
  std::string host = rest;
  if (colon != std::string::npos) {
    host = rest.substr(0, colon);
    const std::string digits = rest.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(digits) > 65535) {
      throw std::invalid_argument("tracker: bad port in '" + url + "'");
    }
    port = std::stoi(digits);
  }
  if (host.empty()) throw std::invalid_argument("tracker: no host in '" + url + "'");
  if (!(options_.retry_seconds >= 0) || !(options_.request_timeout > 0)) {
    throw std::invalid_argument("tracker: retry_seconds must be >= 0 and request_timeout > 0");
  }
  connection_ = std::make_unique<Connection>(host, port);
  auto timeout = std::chrono::duration<double>(options_.request_timeout);
  connection_->client.set_connection_timeout(timeout);
  connection_->client.set_read_timeout(timeout);
  connection_->client.set_write_timeout(timeout);
  if (!options_.token.empty()) {
    connection_->headers.emplace("Authorization", "Bearer " + options_.token);
  }
  background_ = std::thread([this] { background_loop(); });
}

RemoteTracker::~RemoteTracker() { close(mutex_, stopping_, wake_, background_, active_); }

// One request. wait: retry failures that may pass (no answer, 5xx) until retry_seconds.
json RemoteTracker::send_locked(const json& request, bool wait) {
  const double deadline = detail::now_seconds() + options_.retry_seconds;
  double pause = 0.05;
  const std::string body = request.dump();
  for (;;) {
    httplib::Result result =
        connection_->client.Post("/api/v1/ingest", connection_->headers, body, "application/json");
    std::string problem;
    if (!result) {
      problem = "no answer (" + httplib::to_string(result.error()) + ")";
    } else if (result->status == 200) {
      return json::parse(result->body);
    } else {
      std::string message = result->body;
      try {
        message = json::parse(result->body).value("error", result->body);
      } catch (const json::exception&) {
      }
      problem = "HTTP " + std::to_string(result->status) + ": " + message;
      if (result->status < 500) throw Rejected("tracker " + url_ + ": " + problem);
    }
    if (!wait || detail::now_seconds() + pause > deadline) {
      throw std::runtime_error("tracker " + url_ + ": " + problem +
                               (wait ? " (gave up after " + std::to_string(options_.retry_seconds) + " s)" : ""));
    }
    // Sleep without the lock so that log_metric keeps buffering meanwhile.
    mutex_.unlock();
    std::this_thread::sleep_for(std::chrono::duration<double>(pause));
    mutex_.lock();
    pause = std::min(pause * 2, 1.0);
  }
}

// Sends the buffer (and so the heartbeat). Points logged while the request is in flight
// stay buffered for the next batch. Returns false when it failed and !wait.
bool RemoteTracker::try_send_points_locked(bool wait) {
  // Another thread's send sleeps between retries without the lock: one batch at a time,
  // or both would send (and then drop) the same points.
  if (!active_ || sending_) return !sending_;
  sending_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{sending_};
  const size_t count = buffer_.size();
  json points = json::array();
  for (size_t i = 0; i < count; ++i) {
    const MetricPoint& p = buffer_[i];
    points.push_back({p.key, p.step, std::isnan(p.value) ? json() : json(p.value), p.wall_time});
  }
  const json request = {{"op", "log"}, {"run_id", run_id_}, {"points", points}, {"retry", retry_}};
  try {
    send_locked(request, wait);
  } catch (const Rejected&) {
    throw;
  } catch (const std::runtime_error&) {
    retry_ = true;
    next_attempt_ = detail::now_seconds() + 0.5;
    if (wait) throw;
    return false;
  }
  retry_ = false;
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(count));
  oldest_buffered_ = buffer_.empty() ? 0 : buffer_.front().wall_time;
  last_heartbeat_ = detail::now_seconds();
  return true;
}

void RemoteTracker::require_run_locked(const char* what) const {
  if (!active_) throw std::logic_error(std::string("tracker: ") + what + " without an active run");
}

int64_t RemoteTracker::start_run(const RunInfo& info) {
  if (info.experiment.empty()) throw std::invalid_argument("run: experiment name is empty");
  std::lock_guard<std::mutex> lock(mutex_);
  if (active_) throw std::logic_error("tracker: start_run while a run is still active");
  json reply = send_locked({{"op", "start"}, {"info", detail::run_info_to_wire(info)},
                            {"stale_after", options_.tracker.stale_after_seconds}}, true);
  run_id_ = reply.at("run_id").get<int64_t>();
  active_ = true;
  last_heartbeat_ = detail::now_seconds();
  return run_id_;
}

void RemoteTracker::resume_run(int64_t run_id, int64_t after_step) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (active_) throw std::logic_error("tracker: resume_run while a run is still active");
  try {
    send_locked({{"op", "resume"}, {"run_id", run_id}, {"after_step", after_step},
                 {"stale_after", options_.tracker.stale_after_seconds}}, true);
  } catch (const std::runtime_error& error) {
    // The server answers 404 for a run it does not have: the caller starts a new one.
    if (std::string(error.what()).find("HTTP 404") != std::string::npos) {
      throw std::invalid_argument(error.what());
    }
    throw;
  }
  run_id_ = run_id;
  active_ = true;
  last_heartbeat_ = detail::now_seconds();
}

void RemoteTracker::log_metric(std::string_view key, int64_t step, double value, double wall_time) {
  if (key.empty()) throw std::invalid_argument("metric: key is empty");
  std::lock_guard<std::mutex> lock(mutex_);
  if (background_error_) std::rethrow_exception(std::exchange(background_error_, nullptr));
  require_run_locked("log_metric");
  if (buffer_.empty()) oldest_buffered_ = wall_time;
  buffer_.push_back({std::string(key), step, value, wall_time});
  if (buffer_.size() >= static_cast<size_t>(options_.tracker.flush_every_points) &&
      detail::now_seconds() >= next_attempt_) {
    try_send_points_locked(false);  // on failure the background thread retries
  }
}

void RemoteTracker::set_tag(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  require_run_locked("set_tag");
  send_locked({{"op", "tag"}, {"run_id", run_id_}, {"key", key}, {"value", value}}, true);
}

void RemoteTracker::log_artifact(const std::string& path, const std::string& kind, int64_t step) {
  std::lock_guard<std::mutex> lock(mutex_);
  require_run_locked("log_artifact");
  send_locked({{"op", "artifact"}, {"run_id", run_id_}, {"path", path}, {"kind", kind}, {"step", step}},
              true);
}

size_t RemoteTracker::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t count = buffer_.size();
  try_send_points_locked(true);
  return count;
}

void RemoteTracker::finish(RunStatus status, std::string_view error) {
  if (status == RunStatus::running) {
    throw std::invalid_argument("finish: status must be finished, failed, killed or pruned");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  require_run_locked("finish");
  try_send_points_locked(true);
  send_locked({{"op", "finish"}, {"run_id", run_id_}, {"status", to_string(recorded(status))},
               {"error", std::string(error)}}, true);
  active_ = false;
}

int64_t RemoteTracker::run_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return run_id_;
}

size_t RemoteTracker::buffered() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return buffer_.size();
}

// Time-based flush, heartbeat and the retry of failed batches.
void RemoteTracker::background_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  const TrackerOptions& o = options_.tracker;
  const double tick = std::min({o.heartbeat_seconds, o.flush_every_seconds, 0.5}) / 2;
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::duration<double>(tick));
    if (stopping_ || !active_) continue;
    const double now = detail::now_seconds();
    if (now < next_attempt_) continue;
    const bool due = retry_ || (!buffer_.empty() && now - oldest_buffered_ >= o.flush_every_seconds) ||
                     buffer_.size() >= static_cast<size_t>(o.flush_every_points) ||
                     now - last_heartbeat_ >= o.heartbeat_seconds;
    if (!due) continue;
    try {
      try_send_points_locked(false);
    } catch (const std::exception&) {
      background_error_ = std::current_exception();  // a 4xx: the next call reports it
    }
  }
}

}  // namespace rnnlab::tracking
