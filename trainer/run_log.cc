#include "trainer/run_log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tracking/remote.h"
#include "tracking/tracker.h"
#include "trainer/checkpoint.h"

#ifndef RNNLAB_VERSION
#define RNNLAB_VERSION "unknown"
#endif
#ifndef RNNLAB_GIT_COMMIT
#define RNNLAB_GIT_COMMIT "unknown"
#endif

namespace rnnlab::trainer {
namespace {

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// {"model.cell": "lstm"} -> {"model": {"cell": "lstm"}}: the tracker stores the config whole
// and flattens it into params itself.
nlohmann::json nested_config(const Config& config) {
  nlohmann::json root = nlohmann::json::object();
  for (const auto& [key, value] : flatten_config(config)) {
    nlohmann::json* node = &root;
    size_t start = 0;
    for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1)
      node = &(*node)[key.substr(start, dot - start)];
    std::visit([&](const auto& v) { (*node)[key.substr(start)] = v; }, value);
  }
  return root;
}

// What a resume from the checkpoint of `step` logs again must not appear twice: keep the
// points up to that step, less the test results (a resume ends with the test evaluation
// again), as the tracker does (Tracker::resume_run); a line cut short by a crash or a full
// disk goes too. Rewritten atomically like the checkpoint. Only a regular file is read.
void trim_metrics_file(const std::filesystem::path& path, int64_t step) {
  if (!std::filesystem::is_regular_file(path)) return;
  std::ifstream in(path, std::ios::binary);
  std::string kept, line;
  while (std::getline(in, line)) {
    const nlohmann::json point = nlohmann::json::parse(line, nullptr, false);
    if (!point.is_object() || !point.contains("step") || !point["step"].is_number_integer()) continue;
    const std::string key = point.value("key", "");
    if (point["step"].get<int64_t>() > step || key.rfind("test_", 0) == 0 || key.rfind("baseline_test_", 0) == 0)
      continue;
    kept += line;
    kept += '\n';
  }
  if (in.bad()) throw std::runtime_error("reading '" + path.string() + "' failed: " + std::strerror(errno));
  in.close();
  write_file_atomically(path.string(), kept);
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

const char* rnnlab_version() { return RNNLAB_VERSION; }
const char* rnnlab_git_commit() { return RNNLAB_GIT_COMMIT; }

RunLog::RunLog(const Config& config, bool is_root, int ranks, const std::string& backend,
               const ResumePoint* resume)
    : active_(is_root) {
  if (!active_) return;
  const bool resumed = resume != nullptr;
  std::filesystem::create_directories(config.output.dir);
  const auto path = std::filesystem::path(config.output.dir) / "metrics.jsonl";
  jsonl_path_ = path.string();
  if (resumed) trim_metrics_file(path, resume->step);
  jsonl_.open(path, resumed ? std::ios::app : std::ios::trunc);
  if (!jsonl_) throw std::runtime_error("cannot write " + path.string());
  if (config.output.tracker.empty()) return;
  const bool remote = tracking::is_remote_target(config.output.tracker);
  auto canonical = [remote](const std::string& target) {
    return remote ? target : std::filesystem::weakly_canonical(target).string();
  };
  tracker_ = tracking::open_run_sink(config.output.tracker);
  tracker_path_ = canonical(config.output.tracker);
  if (resumed && resume->run_id > 0 && !resume->tracker.empty() &&
      canonical(resume->tracker) == tracker_path_) {
    try {
      tracker_->resume_run(resume->run_id, resume->step);
      return;
    } catch (const std::invalid_argument&) {
      // The run was deleted from the database since: record the rest as a new run.
    }
  }
  tracking::RunInfo info;
  info.experiment = config.output.experiment;
  info.name = config.output.run_name;
  info.config = nested_config(config);
  info.host = host_name();
  info.ranks = ranks;
  info.backend = backend;
  info.rnnlab_version = rnnlab_version();
  info.git_commit = rnnlab_git_commit();
  if (resumed) info.tags["resumed"] = "true";
  if (!config.source.empty()) info.tags["config_file"] = config.source;
  tracker_->start_run(info);
}

RunLog::~RunLog() { finish(tracking::RunStatus::failed, "training ended without a status"); }

int64_t RunLog::run_id() const { return tracker_ && !tracker_lost_ ? tracker_->run_id() : 0; }

const std::string& RunLog::tracker_path() const { return tracker_path_; }

void RunLog::check_jsonl() {
  // As the checkpoint writer: a write that failed (a full disk) ends the training.
  if (!jsonl_) throw std::runtime_error("writing '" + jsonl_path_ + "' failed: " + std::strerror(errno));
}

void RunLog::flush() {
  if (!active_) return;
  jsonl_.flush();
  check_jsonl();
  if (tracker_ && !tracker_lost_) {
    try {
      tracker_->flush();
    } catch (const tracking::RunDeleted& deleted) {
      lose_tracker(deleted);
    }
  }
}

// Deleted runs are not worth a lost training: warn once, train on, and keep writing
// metrics.jsonl and the checkpoints (which then name no run, so a resume starts a new one).
void RunLog::lose_tracker(const std::exception& why) {
  tracker_lost_ = true;
  std::fprintf(stderr, "rnnlab: warning: %s; training goes on, its metrics only in %s\n", why.what(),
               jsonl_path_.c_str());
}

void RunLog::metric(const std::string& key, int64_t step, double value) {
  if (!active_) return;
  const double now = unix_seconds();
  nlohmann::json line = {{"key", key}, {"step", step}, {"time", now}};
  line["value"] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  jsonl_ << line.dump() << '\n';
  check_jsonl();
  if (!tracker_ || tracker_lost_) return;
  try {
    tracker_->log_metric(key, step, value, now);
  } catch (const tracking::RunDeleted& deleted) {
    lose_tracker(deleted);
  }
}

void RunLog::finish(tracking::RunStatus status, const std::string& error) noexcept {
  if (!active_ || finished_.exchange(true)) return;
  jsonl_.flush();
  if (!jsonl_) std::fprintf(stderr, "rnnlab: warning: writing '%s' failed: %s\n", jsonl_path_.c_str(), std::strerror(errno));
  if (!tracker_ || tracker_lost_) return;
  try {
    tracker_->finish(status, error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rnnlab: warning: could not record run status '%s': %s\n",
                 std::string(tracking::to_string(status)).c_str(), e.what());
  }
}

}  // namespace rnnlab::trainer
