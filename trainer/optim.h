// Optimizers, gradient clipping and norms on the model's ONE flat parameter buffer.
//
// Every parameter of a model lives in one contiguous float buffer and every gradient in a
// second one with the same offsets (see docs/architecture.md), so an optimizer step is one loop over
// `count` floats. The update rules are PyTorch 1.13's (torch.optim.SGD, Adam, AdamW with
// their default flags: no dampening, no amsgrad, no maximize), checked against numbers
// taken from PyTorch in tests/trainer/optim_test.cc.
//
// State (momentum buffer, Adam moments) is kept as plain float vectors plus a step counter,
// so a checkpoint saves it and a data-parallel run broadcasts it as ordinary buffers:
// `state()` names every vector; overwrite their contents (same size) and `set_step_count`
// to restore.
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
  // params -= update(grads), in place, with learning rate `lr` for this step.
  // `grads` is read only; `params` and `grads` may not overlap.
  virtual void step(float* params, const float* grads, int64_t count, double lr) = 0;
  // Named state vectors, each `parameter_count()` floats: "momentum_buffer" (sgd with
  // momentum), "exp_avg" and "exp_avg_sq" (adam, adamw); PyTorch's state names.
  virtual std::vector<NamedState> state() = 0;

  int64_t parameter_count() const { return parameter_count_; }
  // Steps taken so far (PyTorch's state["step"]); the first step() sees 0 and leaves 1.
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t steps);  // throws std::invalid_argument when negative

 protected:
  explicit Optimizer(int64_t parameter_count);
  void check_count(int64_t count) const;

  int64_t parameter_count_ = 0;
  int64_t step_count_ = 0;
};

// Creates the optimizer named `options.name` for a buffer of `parameter_count` floats.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options,
                                          int64_t parameter_count);
// The registered names, sorted: what `train.optimizer` accepts.
std::vector<std::string> optimizer_names();

// L2 norm of `count` floats, accumulated in double in index order (deterministic).
double l2_norm(const float* values, int64_t count);

// Like torch.nn.utils.clip_grad_norm_: returns the global L2 norm before clipping and, when
// max_norm > 0 and the norm exceeds it, scales grads by max_norm / (norm + 1e-6).
// A non-finite norm leaves grads untouched and is returned as is, so the caller can skip
// the step or stop (PyTorch would multiply every gradient by NaN or 0).
double clip_grad_norm(float* grads, int64_t count, double max_norm);

}  // namespace rnnlab::trainer
