#include "trainer/run_log.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tracking/remote.h"

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

RunLog::~RunLog() { finish("failed", "training ended without a status"); }

int64_t RunLog::run_id() const { return tracker_ ? tracker_->run_id() : 0; }

const std::string& RunLog::tracker_path() const { return tracker_path_; }

void RunLog::flush() {
  if (!active_) return;
  jsonl_.flush();
  if (tracker_) tracker_->flush();
}

void RunLog::metric(const std::string& key, int64_t step, double value) {
  if (!active_) return;
  const double now = unix_seconds();
  nlohmann::json line = {{"key", key}, {"step", step}, {"time", now}};
  line["value"] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  jsonl_ << line.dump() << '\n';
  if (tracker_) tracker_->log_metric(key, step, value, now);
}

void RunLog::finish(const std::string& status, const std::string& error) noexcept {
  if (!active_ || finished_.exchange(true)) return;
  jsonl_.flush();
  if (!tracker_) return;
  try {
    tracker_->finish(tracking::parse_run_status(status), error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rnnlab: warning: could not record run status '%s': %s\n", status.c_str(), e.what());
  }
}

}  // namespace rnnlab::trainer
