// Optimizers, gradient clipping and norms on the model's ONE flat parameter buffer.
//
// Every parameter of a model lives in one contiguous float buffer and every gradient in a
// second one with the same offsets (layers/modules/module.h, docs/architecture.md), so an
// optimizer step is one op over `count` floats: the optimizer computes the step's scalars
// on the host (bias corrections, roundings to float) and runs layers/ops.h's sgd_step /
// adam_step on the device its buffers live on (the optimizer's device, given at creation). The update rules
// are PyTorch 1.13's (torch.optim.SGD, Adam, AdamW with their default flags: no dampening,
// no amsgrad, no maximize), checked against numbers taken from PyTorch in
// tests/trainer/optim_test.cc. This registry (make_optimizer) is the only place that maps
// a name to an update, for every device.
//
// State (momentum buffer, Adam moments) is kept as layers::Buffers on the optimizer's
// device plus a step counter. `state()` names a HOST vector per buffer (the buffer itself
// on the cpu; on cuda a mirror, current after download_state()), so a checkpoint saves it
// and a data-parallel run broadcasts it as ordinary buffers: overwrite their contents (same
// size), upload_state() (no-op on the cpu), and `set_step_count` to restore.
//
// Failure: unknown names and invalid hyper-parameters throw std::invalid_argument naming
// the field; calling `step` with a `count` other than the one given at creation throws
// std::invalid_argument. Thread safety: an Optimizer is not thread safe; distinct
// instances are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "layers/device.h"

namespace rnnlab::trainer {

struct TrainConfig;

struct OptimizerOptions {
  std::string name = "adam";  // sgd | adam | adamw
  double momentum = 0.0;      // sgd
  bool nesterov = false;      // sgd; needs momentum > 0 (as in PyTorch)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
  // sgd, adam: L2 penalty added to the gradient (grad += wd * param).
  // adamw: decoupled decay (param *= 1 - lr * wd) before the Adam update.
  double weight_decay = 0.0;
};

OptimizerOptions optimizer_options(const TrainConfig& train);

// One named state buffer of an optimizer; the pointer stays valid for the optimizer's life.
using NamedState = std::pair<std::string, std::vector<float>*>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  virtual std::string_view name() const = 0;
  // params -= update(grads * grad_scale), in place, with learning rate `lr` for this step;
  // pointers of the optimizer's device. `grads` is read only; `params` and `grads` may not
  // overlap. grad_scale is the clipping factor (clip_scale; 1 = none), applied as
  // clip_grad_norm's in-place scaling would be.
  virtual void step(float* params, const float* grads, int64_t count, double lr, float grad_scale = 1.0f) = 0;
  // Named HOST state vectors, each `parameter_count()` floats: "momentum_buffer" (sgd with
  // momentum), "exp_avg" and "exp_avg_sq" (adam, adamw); PyTorch's state names.
  std::vector<NamedState> state();
  void download_state();  // device state -> state() vectors (no-op on the cpu)
  void upload_state();    // state() vectors -> device state (no-op on the cpu)

  layers::Device device() const { return device_; }
  int64_t parameter_count() const { return parameter_count_; }
  // Steps taken so far (PyTorch's state["step"]); the first step() sees 0 and leaves 1.
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t steps);  // throws std::invalid_argument when negative

 protected:
  Optimizer(int64_t parameter_count, layers::Device device);
  void check_count(int64_t count) const;
  // Adds a named state buffer of parameter_count() zeros (state() order).
  void add_state(std::string name);
  // The device pointer of state buffer `index`, checked (a restored cpu vector must keep
  // its size: std::invalid_argument naming the state otherwise).
  float* state_data(size_t index);

  int64_t parameter_count_ = 0;
  int64_t step_count_ = 0;
  layers::Device device_;

 private:
  struct State {
    std::string name;
    layers::Buffer<float> buffer;
    std::vector<float> mirror;  // cuda only
  };
  std::vector<State> state_;
};

// Creates the optimizer named `options.name` for a buffer of `parameter_count` floats on
// `device`.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, int64_t parameter_count,
                                          layers::Device device = layers::Device::cpu);
// The registered names, sorted: what `train.optimizer` accepts.
std::vector<std::string> optimizer_names();

// L2 norm of `count` HOST floats, accumulated in double in index order (deterministic).
double l2_norm(const float* values, int64_t count);

// The clipping rule of torch.nn.utils.clip_grad_norm_, once for every device: the factor
// float(max_norm / (norm + 1e-6)) when max_norm > 0 and the norm exceeds it, else 1. A
// non-finite norm gives 1 (gradients untouched, returned as is, so the caller can skip the
// step or stop; PyTorch would multiply every gradient by NaN or 0).
float clip_scale(double norm, double max_norm);

// Like torch.nn.utils.clip_grad_norm_ on HOST gradients: returns the global L2 norm before
// clipping and multiplies grads by clip_scale(norm, max_norm) when that is not 1.
double clip_grad_norm(float* grads, int64_t count, double max_norm);

}  // namespace rnnlab::trainer
