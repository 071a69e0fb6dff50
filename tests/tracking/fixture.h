// Shared by the tracking tests: temporary databases and a small sweep-like fixture.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>

#include "tracking/tracker.h"

namespace rnnlab::tracking::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "rnnlab-track-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The value the fixture logs; the tests recompute it to know the right answer.
inline double fixture_loss(int cell, int layers, int seed, int step) {
  return 2.0 / (1.0 + step) + 0.1 * cell + 0.01 * layers + 0.001 * seed;
}

// cells {lstm, gru, rnn_tanh} x layers {1, 2, 10} x seeds {0, 1}: 18 finished runs in
// experiment "sweep" with val_loss/train_loss at steps 0..9, plus one failed run in
// experiment "other". Run ids are 1..19 in that order.
inline void write_fixture(const std::string& path) {
  const char* cells[] = {"lstm", "gru", "rnn_tanh"};
  const int layer_counts[] = {1, 2, 10};
  TrackerOptions options;
  options.flush_every_points = 7;  // several batches per run
  Tracker tracker(path, options);
  for (int cell = 0; cell < 3; ++cell) {
    for (int layers : layer_counts) {
      for (int seed = 0; seed < 2; ++seed) {
        RunInfo info;
        info.experiment = "sweep";
        info.name = std::string(cells[cell]) + "-" + std::to_string(layers) + "-s" + std::to_string(seed);
        info.config = {{"model", {{"cell", cells[cell]}, {"layers", layers}, {"hidden", 64}}},
                       {"train", {{"lr", 0.001 * (cell + 1)}, {"seed", seed}}}};
        info.host = "hostA";
        info.backend = "onednn";
        info.rnnlab_version = "0.1.0";
        info.git_commit = "abc123";
        tracker.start_run(info);
        for (int step = 0; step < 10; ++step) {
          tracker.log_metric("val_loss", step, fixture_loss(cell, layers, seed, step), 1000.0 + step);
          tracker.log_metric("train_loss", step, fixture_loss(cell, layers, seed, step) - 0.05,
                             1000.0 + step);
        }
        tracker.finish(RunStatus::finished);
      }
    }
  }
  RunInfo failed;
  failed.experiment = "other";
  failed.name = "broken";
  failed.config = {{"model", {{"cell", "lstm"}, {"layers", 3}}}};
  tracker.start_run(failed);
  tracker.log_metric("val_loss", 0, 9.5, 1000.0);
  tracker.set_tag("note", "diverged");
  tracker.log_artifact("ckpt/broken-0.bin", "checkpoint", 0);
  tracker.finish(RunStatus::failed, "loss is NaN at step 1");
}

// The message of what `action` throws; "" when it throws nothing.
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

}  // namespace rnnlab::tracking::testing
