// The training loop: config -> data -> model -> steps -> evaluations -> checkpoints.
//
// One call trains one run to the end (epochs, max_steps or early stopping), evaluating on
// the validation split every epoch (or every train.eval_every steps) and on the test split
// at the end. Metrics go to `<output.dir>/metrics.jsonl` and, when output.tracker names a
// database, to the tracker. Checkpoints (`<output.dir>/checkpoint.safetensors`, written
// atomically) hold everything a resume needs, so that a resumed run continues with exactly
// the loss curve the uninterrupted run would have had.
//
// Data-parallel: every rank calls train() with the same config and its communicator;
// gradients are summed over ranks in buckets (see dist/), metrics are reduced, and only
// rank 0 prints, writes checkpoints and talks to the tracker.
//
// Failure: a bad config or data file throws std::invalid_argument before any step runs; a
// NaN/Inf loss, an I/O or vendor failure throws std::runtime_error after marking the
// tracked run failed; the last checkpoint written stays valid. A stop request
// (TrainOptions::stop_requested: `rnnlab train` turns SIGINT, SIGTERM, SIGHUP and SIGUSR1,
// a batch scheduler's time-limit warning, into one) ends the run after the current step,
// with a checkpoint, marked killed (TrainResult::status, the signal in
// TrainResult::stop_signal); `rnnlab train --resume` continues it. train() installs no
// signal handler and reads no environment variable: the caller decides both.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tracking/vocabulary.h"
#include "trainer/config.h"

namespace rnnlab::dist {
class Communicator;
}

namespace rnnlab::trainer {

struct TrainOptions {
  bool resume = false;         // continue from <output.dir>/checkpoint.safetensors
  bool quiet = false;          // no progress output (tests, sweeps running in process)
  dist::Communicator* communicator = nullptr;  // nullptr: one process
  // Called after every validation with (step, metrics); returning false stops the run as
  // "pruned" (the sweep engine's hook for median pruning / ASHA).
  std::function<bool(int64_t, const std::map<std::string, double>&)> on_validation;
  // Polled after every step on every rank: nonzero (the number of the signal that asked
  // for it) stops the run after that step as killed, with a checkpoint. The ranks agree on
  // the step (a signal may reach them in different steps). Empty: never.
  std::function<int()> stop_requested;
  // For tests: stop (as if killed) after this many optimizer steps in this call; 0 = never.
  int64_t stop_after_steps = 0;
  // Test hooks of tests/dist/train_* (`rnnlab train` sets them from RNNLAB_TEST_INJECT_NAN_RANK,
  // RNNLAB_TEST_INJECT_NAN_STEP and RNNLAB_TEST_DUMP_PARAMS).
  struct TestHooks {
    int nan_rank = -1;      // this rank's training loss of step nan_step becomes NaN
    int64_t nan_step = 3;
    std::string dump_params;  // when train() ends normally, each rank writes its parameters
                              // as raw float32 to <dump_params>.rank<R>
  } test_hooks;
};

struct TrainResult {
  tracking::RunStatus status = tracking::RunStatus::finished;  // finished | killed | pruned | early_stopped
  int stop_signal = 0;  // killed: stop_requested's value (0: another rank's request, or stop_after_steps)
  int64_t steps = 0;
  int epochs = 0;
  int64_t run_id = 0;  // tracker run id, 0 without a tracker
  std::map<std::string, double> validation;  // last validation metrics
  std::map<std::string, double> test;        // test metrics (when finished)
  std::map<std::string, double> baseline;    // the trivial predictor on the test split
  std::vector<double> train_losses;          // every step's training loss (global mean) in this call
  double seconds = 0;
};

TrainResult train(const Config& config, const TrainOptions& options = {});

// Path of the run's checkpoint.
std::string checkpoint_path(const Config& config);

}  // namespace rnnlab::trainer
