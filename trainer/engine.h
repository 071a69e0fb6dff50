// The compute half of a training step, behind one interface, so that trainer/train.cc's loop
// (data order, collectives, schedule, evaluation, early stopping, checkpoints, logging) is
// shared by the CPU and the GPU paths:
//
//   cpu  (model.backend onednn | reference)  Model + Objective + Optimizer on host buffers,
//        exactly the calls the loop made before the engine existed (bit-identical runs).
//   cuda (model.backend cudnn, alias gpu)    the whole step on one GPU (trainer/gpu/): the
//        parameters and gradients in ONE device buffer each, with the host Model's offsets
//        (segments()); embedding -> CudnnStack -> dropout -> head -> loss -> backward ->
//        all-reduce (NCCL on device gradients; host staging over MPI otherwise; nothing on
//        one rank) -> clip -> optimizer, reading back only the step's few scalars.
//
// Every engine keeps a HOST Model and a host Optimizer for what is not per-step: summary,
// segments, checkpoints (export/import tensors, optimizer state) and generation. For the
// GPU engine they hold the device values as of the last sync_to_host(); after changing them
// (resume) call sync_from_host().
//
// The carried state of a language model (truncated BPTT) follows the same idea. The loop
// owns a host CarriedState (what checkpoints save and restore); the GPU engine keeps the
// state in device buffers between steps and leaves the host copy empty with on_device set.
// Before a step the engine reads the host copy: h non-empty -> it is the state (uploaded once:
// a restore, or the copy of the last sync); cleared (epoch start, restore without state)
// -> zeros; otherwise on_device -> the device buffers. batch.resets_state and a batch size
// other than CarriedState::batch start from zeros, as on the CPU. Call
// sync_carried_to_host() before reading h/c (checkpoint save): it copies the device state
// down on the engine's stream and waits for it. One training CarriedState per engine.
//
// Errors: make_engine throws std::invalid_argument naming the config file and key when the
// backend cannot run here (no CUDA device, not built with CUDA); otherwise as the
// underlying Model/Objective/Optimizer (and std::runtime_error for CUDA/cuDNN/NCCL).
// Not thread safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/config.h"
#include "trainer/data/batch.h"
#include "trainer/data/task_data.h"
#include "trainer/model.h"
#include "trainer/objective.h"
#include "trainer/optim.h"

namespace rnnlab::trainer {

class Collectives;

class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::string_view backend() const = 0;  // the recurrent backend, for the run log
  Model& model() { return *model_; }
  const Model& model() const { return *model_; }
  Optimizer& optimizer() { return *optimizer_; }

  // The gradient buffer the Collectives all-reduce (host or device, see collectives_on_device),
  // and whether bucketed overlap during backward is possible.
  virtual float* collective_gradients() = 0;
  virtual bool overlap_possible() const = 0;
  // True when the engine hands DEVICE pointers to the collectives (needs the nccl communicator).
  virtual bool collectives_on_device() const = 0;

  // Rank 0's parameters on every rank (collective).
  virtual void broadcast_parameters(Collectives& collectives) = 0;

  // 1-2 of a step: zero the gradients, forward, loss (gradient of the global mean, see
  // objective.h), backward; gradients summed over ranks through `collectives`
  // (begin/ready/end_gradients). A batch of size 0 contributes nothing but still joins every
  // collective. Returns this rank's metric sums of the batch.
  virtual MetricSums forward_backward(const data::Batch& batch, uint64_t dropout_seed, CarriedState* carried,
                                      Collectives& collectives) = 0;
  // Sum of squared gradients per group of consecutive segments with the same group name
  // (in segment order), for per-layer gradient norms. After forward_backward.
  virtual std::vector<double> gradient_group_square_sums() = 0;
  // 3 of a step: clip by global norm when max_norm > 0 (clip_grad_norm's rule), optimizer
  // step with learning rate lr. Returns the global gradient norm before clipping.
  virtual double clip_and_step(double max_norm, double lr) = 0;

  // Metric sums of this rank's batches (no dropout; the state carried through `batches`).
  virtual MetricSums evaluate(const std::vector<data::Batch>& batches) = 0;

  // Checkpoints: device -> host Model/Optimizer (parameters, optimizer state, step count)
  // before reading them; host -> device after changing them. No-ops on the CPU.
  virtual void sync_to_host() = 0;
  virtual void sync_from_host() = 0;
  // The carried state held on the device (carried.on_device) into carried.h/c, synchronised
  // (see above). No-op on the CPU and when the host copy is already the state.
  virtual void sync_carried_to_host(CarriedState& carried) = 0;

 protected:
  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
};

// True for the backends that run on the GPU engine ("cudnn").
bool is_gpu_backend(const std::string& backend);

// Throws std::invalid_argument "<config file>: model.backend: cudnn needs ... (<reason>)"
// when config.model.backend cannot run in this process. Cheap; call before loading data.
void require_engine_available(const Config& config);

// device_collectives: the communicator takes DEVICE pointers (backend "nccl"); the GPU engine
// then all-reduces its device gradients directly. Ignored by the CPU engine.
std::unique_ptr<Engine> make_engine(const Config& config, const data::TaskInfo& info, const Objective& objective,
                                    bool device_collectives = false);

}  // namespace rnnlab::trainer
