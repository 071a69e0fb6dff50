// Where a run's metrics go: `<output.dir>/metrics.jsonl` (one JSON object per point,
// always) and the SQLite tracker when output.tracker names a database. Only the root rank
// writes; on other ranks every call is a no-op, so the loop needs no rank checks.
//
// Failure: an unwritable output directory or database throws std::runtime_error at
// construction, before training starts. finish() never throws (it runs on error paths).
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "trainer/config.h"

namespace rnnlab::tracking {
class Tracker;
}

namespace rnnlab::trainer {

class RunLog {
 public:
  // resumed: append to metrics.jsonl instead of starting it anew.
  RunLog(const Config& config, bool is_root, int ranks, const std::string& backend, bool resumed);
  ~RunLog();

  int64_t run_id() const;  // the tracker's run id, 0 without a tracker
  void metric(const std::string& key, int64_t step, double value);
  // status: finished | failed | killed | pruned; error: the failure's message.
  void finish(const std::string& status, const std::string& error) noexcept;

 private:
  bool active_;
  bool finished_ = false;
  std::ofstream jsonl_;
  std::unique_ptr<tracking::Tracker> tracker_;
};

// "0.1.0", and the git commit the binary was built from ("unknown" outside a checkout).
const char* rnnlab_version();
const char* rnnlab_git_commit();

}  // namespace rnnlab::trainer
