// Where a run's metrics go: `<output.dir>/metrics.jsonl` (one JSON object per point,
// always) and the tracker when output.tracker names a database, or an `rnnlab serve` as
// http://HOST:PORT (tracking/remote.h: buffered and retried). Only the root rank
// writes; on other ranks every call is a no-op, so the loop needs no rank checks.
//
// Failure: an unwritable output directory or database throws std::runtime_error at
// construction, before training starts; a failed write to metrics.jsonl (a full disk)
// throws std::runtime_error naming the file from metric()/flush(). A tracker run deleted
// while it trains (`rnnlab runs delete --force`) is warned about once on stderr; the
// training goes on with metrics.jsonl only. finish() never throws (it runs on error paths).
//
// Resume: metrics.jsonl keeps the points up to the checkpoint's step (rewritten
// atomically), so the points the resumed training logs again appear once.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <fstream>
#include <memory>
#include <string>

#include "tracking/vocabulary.h"
#include "trainer/config.h"

namespace rnnlab::tracking {
class RunSink;
}

namespace rnnlab::trainer {

// Where a resumed training picks up its tracker run (read from the checkpoint).
struct ResumePoint {
  std::string tracker;  // the database the run lives in (as the checkpoint recorded it)
  int64_t run_id = 0;   // 0: the checkpoint names no run
  int64_t step = 0;     // the checkpoint's step: later points are logged again
};

class RunLog {
 public:
  // resume: null for a new run. Otherwise metrics.jsonl is appended to, and when the
  // checkpoint's run is in this config's tracker that run continues (Tracker::resume_run);
  // else a new run starts, tagged resumed.
  RunLog(const Config& config, bool is_root, int ranks, const std::string& backend, const ResumePoint* resume);
  ~RunLog();

  int64_t run_id() const;  // the tracker's run id, 0 without a tracker
  const std::string& tracker_path() const;  // absolute (or the http:// URL); empty without one
  void metric(const std::string& key, int64_t step, double value);
  // Makes every point logged so far durable (called before a checkpoint is written, so a
  // checkpoint's step never runs ahead of the tracker's curve).
  void flush();
  // status: how the training ended (recorded as tracking::recorded(status)); error: the
  // failure's message. The first call wins; it may come from another thread (the
  // communicator's failure hook, while the training thread waits in a collective).
  void finish(tracking::RunStatus status, const std::string& error) noexcept;

 private:
  void check_jsonl();
  void lose_tracker(const std::exception& why);

  bool active_;
  std::atomic<bool> finished_{false};  // finish() may come from the watchdog's thread
  std::atomic<bool> tracker_lost_{false};  // its run was deleted: log to metrics.jsonl only
  std::string jsonl_path_;
  std::ofstream jsonl_;
  std::unique_ptr<tracking::RunSink> tracker_;  // a local Tracker or a RemoteTracker
  std::string tracker_path_;
};

// "0.1.0", and the git commit the binary was built from ("unknown" outside a checkout).
const char* rnnlab_version();
const char* rnnlab_git_commit();

}  // namespace rnnlab::trainer
