// The state of a training between two steps, beyond the model's parameters and the
// optimizer's tensors, and its round trip through a checkpoint: the one place that knows
// what a checkpoint holds and under which names.
//
// A checkpoint (trainer/checkpoint.h) is the model's tensors (PyTorch names), then
// "optimizer.<state>" per optimizer state vector, "carried.h" / "carried.c" (the final
// recurrent states of a batch in the middle of an epoch, for a language model that carries
// state across batches), "early_stopping.best_params" (restore_best), in that order; and
// the trainer's document: format, version, config (YAML text), task_data, step, epoch,
// batch_in_epoch, carried_batch, optimizer {name, step_count}, early_stopping {best,
// since_best, stopped}, gradient_norms, tracker {path, run_id} (with a tracker only). The
// layout is version 1, unchanged since checkpoints were introduced: old files load, and a
// loaded file saved again is the same bytes (tests/trainer/training_state_test.cc).
//
// Failure: load() of a checkpoint that is not rnnlab's, of another model (tensor shapes),
// of another optimizer, or without the best parameters that restore_best needs throws
// std::invalid_argument / std::runtime_error naming the file and the key or tensor.
// save() throws std::runtime_error on I/O failure (the old file stays). Not thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/checkpoint.h"
#include "trainer/model.h"
#include "trainer/optim.h"

namespace rnnlab::trainer {

// train.early_stopping: Keras' EarlyStopping state.
struct EarlyStoppingState {
  double best = 0;       // the best value so far; +-inf (saved as null) before any
  int since_best = 0;    // evaluations without improvement (Keras' wait)
  bool stopped = false;  // early stopping ended the training: a resume trains no further
  std::vector<float> best_params;  // restore_best: the parameters at `best`; else empty
};

// What the checkpoint stores besides the state: the run's config and data description.
struct CheckpointContext {
  std::string config_yaml;  // config_to_yaml(config)
  nlohmann::json task_data;  // TaskData::metadata()
};

struct TrainingState {
  // Where the loop is: `step` optimizer steps done; training epoch `epoch` (0-based) at
  // batch `batch_in_epoch`.
  int64_t step = 0;
  int epoch = 0;
  int64_t batch_in_epoch = 0;
  CarriedState carried;  // language models: the recurrent state carried to the next batch
  EarlyStoppingState early_stopping;
  nlohmann::json gradient_norms;  // GradientNorms::state() (null: empty sums)
  std::string tracker_path;       // the tracker run this training logs to (run_id 0: none)
  int64_t run_id = 0;

  // Writes `path` after the step that trained batch `batch_in_epoch`: `epoch_done` says it
  // was its epoch's last, so that a resume starts the next epoch (with no carried state).
  // `model` and `optimizer` must be synced to the host (Engine::sync_to_host), and
  // `carried` too when !epoch_done (Engine::sync_carried_to_host).
  void save(const std::string& path, const CheckpointContext& context, const Model& model, Optimizer& optimizer,
            bool epoch_done) const;

  // Restores the state, `model`'s parameters and `optimizer`'s state from `checkpoint`.
  // early_stopping.best keeps its initial value when the file has none; best_params are
  // read only with `restore_best`. Call Engine::sync_from_host afterwards.
  void load(const Checkpoint& checkpoint, Model& model, Optimizer& optimizer, bool restore_best);
};

}  // namespace rnnlab::trainer
