// The compute half of a training step, so that trainer/train.cc's loop (data order,
// collectives, schedule, evaluation, early stopping, checkpoints, logging) is written once.
// There is ONE engine; the device is a property of the model's buffers (the recurrent
// backend decides it: model.backend cudnn -> cuda, onednn | reference -> cpu):
//
//   Model (modules over layers/ops.h) + Objective (the loss ops) + Optimizer (the update
//   ops), the parameters and gradients in ONE buffer each on the model's device. A step:
//   zero the gradients, forward, loss, backward, all-reduce, then per-group and global
//   squared gradient norms; the step's scalars (metric sums, squared norms) are written to
//   one small buffer on the device and read back ONCE per step. clip_and_step computes the
//   clipping factor on the host (clip_scale: clip_grad_norm's rule) and hands it to the
//   optimizer's update op (no separate pass over the gradients).
//   All-reduce: on the cpu with bucketed overlap during backward; on cuda NCCL on the
//   device gradients (device_collectives) after the stream is synchronised, otherwise
//   through a host copy (correct, slower); nothing on one rank.
//
// CPU runs make the same floating-point operations in the same order as before the engine
// had one implementation (bit-identical curves: the trainer_golden_curves test, tests/trainer/golden/).
//
// The host side of the Model and Optimizer (params(), export/import_tensors, state())
// holds the device values as of the last sync_to_host(); after changing them (resume) call
// sync_from_host(). Both are no-ops on the cpu.
//
// The carried state of a language model (truncated BPTT): the loop owns a CarriedState
// (trainer/model.h: what checkpoints save and restore). The model keeps the state in the
// CarriedState's device buffers between steps (no copy per step) and leaves the host copy
// empty with on_device set; a host copy that is non-empty (a restore) is the state;
// cleared -> zeros. Call sync_carried_to_host() before reading h/c (checkpoint save).
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
  Engine(const Config& config, const data::TaskInfo& info, const Objective& objective, bool device_collectives);

  std::string_view backend() const { return model_->spec().backend; }  // for the run log
  layers::Device device() const { return model_->device(); }
  Model& model() { return *model_; }
  const Model& model() const { return *model_; }
  Optimizer& optimizer() { return *optimizer_; }

  // The gradient buffer the Collectives all-reduce (host or device, see
  // collectives_on_device), and whether bucketed overlap during backward is possible
  // (host gradients only).
  float* collective_gradients();
  bool overlap_possible() const { return device() == layers::Device::cpu; }
  // True when the engine hands DEVICE pointers to the collectives (needs the nccl communicator).
  bool collectives_on_device() const { return device() != layers::Device::cpu && device_collectives_; }

  // Rank 0's parameters on every rank (collective).
  void broadcast_parameters(Collectives& collectives);

  // 1-2 of a step: zero the gradients, forward, loss (gradient of the global mean, see
  // objective.h), backward; gradients summed over ranks through `collectives`
  // (begin/ready/end_gradients). A batch of size 0 contributes nothing but still joins every
  // collective. Returns this rank's metric sums of the batch.
  MetricSums forward_backward(const data::Batch& batch, uint64_t dropout_seed, CarriedState* carried,
                              Collectives& collectives);
  // Sum of squared gradients per group of consecutive segments with the same group name
  // (in segment order), for per-layer gradient norms. After forward_backward.
  std::vector<double> gradient_group_square_sums() const;
  // 3 of a step: clip by global norm when max_norm > 0 (clip_grad_norm's rule), optimizer
  // step with learning rate lr. Returns the global gradient norm before clipping.
  double clip_and_step(double max_norm, double lr);

  // Metric sums of this rank's batches (no dropout; the state carried through `batches`).
  MetricSums evaluate(const std::vector<data::Batch>& batches);

  // Checkpoints: device -> host Model/Optimizer (parameters, optimizer state) before
  // reading them; host -> device after changing them. No-ops on the cpu.
  void sync_to_host();
  void sync_from_host();
  // The carried state held on the device (carried.on_device) into carried.h/c (see above).
  void sync_carried_to_host(CarriedState& carried) { carried.sync_to_host(); }

 private:
  // Scalars of a step in one buffer: MetricSums' slots, one squared norm per group, the
  // global squared norm (summed over the whole buffer in index order, as l2_norm).
  size_t group_slot(size_t group) const { return size_t(kMetricSlots) + group; }
  size_t total_slot() const { return size_t(kMetricSlots) + groups_.size(); }
  MetricSums metric_sums() const;

  struct Group {
    std::string name;
    std::vector<std::pair<int64_t, int64_t>> ranges;  // [offset, size), adjacent ones merged
  };
  const Objective& objective_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  bool device_collectives_ = false;
  std::vector<Group> groups_;
  layers::Buffer<double> scalars_;
  std::vector<double> host_scalars_;
  layers::Buffer<float> diff_output_;
  std::vector<float> host_grads_;  // staging for host collectives of device gradients
};

// True for the backends that compute on the GPU ("cudnn", alias "gpu").
bool is_gpu_backend(const std::string& backend);

// Throws std::invalid_argument "<config file>: model.backend: cudnn needs ... (<reason>)"
// when config.model.backend cannot run in this process. Cheap; call before loading data.
void require_engine_available(const Config& config);

// device_collectives: the communicator takes DEVICE pointers (backend "nccl"); a cuda
// engine then all-reduces its device gradients directly. Ignored on the cpu.
std::unique_ptr<Engine> make_engine(const Config& config, const data::TaskInfo& info, const Objective& objective,
                                    bool device_collectives = false);

}  // namespace rnnlab::trainer
