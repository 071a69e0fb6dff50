#include "trainer/optim.h"

#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>

#include "layers/ops.h"
#include "trainer/config.h"

namespace rnnlab::trainer {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("optimizer: " + message);
}

// Hyper-parameters are doubles (as in PyTorch's param_groups) but the arithmetic is float,
// element by element, as PyTorch does on CPU float tensors; the scalars are rounded to
// float once, where PyTorch rounds them when it dispatches the kernel.

// torch.optim.SGD (1.13, foreach=False, dampening=0):
//   d = g + wd * p;  buf = d (first step) or momentum * buf + d;
//   d = nesterov ? d + momentum * buf : buf;  p -= lr * d.
class Sgd final : public Optimizer {
 public:
  Sgd(const OptimizerOptions& options, int64_t count, layers::Device device)
      : Optimizer(count, device), options_(options) {
    require(options.momentum >= 0, "momentum must be >= 0");
    require(options.weight_decay >= 0, "weight_decay must be >= 0");
    require(!options.nesterov || options.momentum > 0, "nesterov needs momentum > 0");
    if (options.momentum != 0) add_state("momentum_buffer");
  }
  std::string_view name() const override { return "sgd"; }

  void step(float* params, const float* grads, int64_t count, double lr, float grad_scale) override {
    check_count(count);
    layers::ops::SgdScalars s;
    s.neg_lr = float(-lr);
    s.weight_decay = float(options_.weight_decay);
    s.momentum = float(options_.momentum);
    s.nesterov = options_.nesterov;
    s.first_step = step_count_ == 0;
    s.grad_scale = grad_scale;
    layers::ops::sgd_step(device_, params, grads, options_.momentum != 0 ? state_data(0) : nullptr, count, s);
    ++step_count_;
  }

 private:
  OptimizerOptions options_;
};

// torch.optim.Adam / AdamW (1.13, single-tensor path, amsgrad=False):
//   t += 1;  (adam) g += wd * p  |  (adamw) p *= 1 - lr * wd
//   m = b1 * m + (1 - b1) g;  v = b2 * v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class Adam final : public Optimizer {
 public:
  Adam(const OptimizerOptions& options, int64_t count, layers::Device device, bool decoupled)
      : Optimizer(count, device), options_(options), decoupled_(decoupled) {
    require(options.beta1 >= 0 && options.beta1 < 1, "beta1 must be in [0, 1)");
    require(options.beta2 >= 0 && options.beta2 < 1, "beta2 must be in [0, 1)");
    require(options.eps > 0, "eps must be > 0");
    require(options.weight_decay >= 0, "weight_decay must be >= 0");
    add_state("exp_avg");
    add_state("exp_avg_sq");
  }
  std::string_view name() const override { return decoupled_ ? "adamw" : "adam"; }

  void step(float* params, const float* grads, int64_t count, double lr, float grad_scale) override {
    check_count(count);
    const int64_t t = ++step_count_;
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, double(t));
    const double bias_correction2 = 1.0 - std::pow(options_.beta2, double(t));
    layers::ops::AdamScalars s;
    s.step_size = float(lr / bias_correction1);
    s.bias_correction2_sqrt = float(std::sqrt(bias_correction2));
    s.beta1 = float(options_.beta1);
    s.beta2 = float(options_.beta2);
    s.one_minus_beta1 = float(1.0 - options_.beta1);
    s.one_minus_beta2 = float(1.0 - options_.beta2);
    s.eps = float(options_.eps);
    s.l2 = decoupled_ ? 0.0f : float(options_.weight_decay);
    s.decay = decoupled_ ? float(1.0 - lr * options_.weight_decay) : 1.0f;
    s.grad_scale = grad_scale;
    layers::ops::adam_step(device_, params, grads, state_data(0), state_data(1), count, s);
  }

 private:
  OptimizerOptions options_;
  bool decoupled_;
};

using layers::Device;
using Factory = std::function<std::unique_ptr<Optimizer>(const OptimizerOptions&, int64_t, Device)>;

const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> factories = {
      {"sgd", [](const OptimizerOptions& o, int64_t n, Device d) { return std::make_unique<Sgd>(o, n, d); }},
      {"adam", [](const OptimizerOptions& o, int64_t n, Device d) { return std::make_unique<Adam>(o, n, d, false); }},
      {"adamw", [](const OptimizerOptions& o, int64_t n, Device d) { return std::make_unique<Adam>(o, n, d, true); }},
  };
  return factories;
}

}  // namespace

Optimizer::Optimizer(int64_t parameter_count, layers::Device device)
    : parameter_count_(parameter_count), device_(device) {
  require(parameter_count >= 0, "parameter count must be >= 0");
}

void Optimizer::add_state(std::string name) {
  state_.push_back({std::move(name), layers::Buffer<float>(device_, size_t(parameter_count_)), {}});
  State& state = state_.back();
  state.buffer.zero();
  if (!state.buffer.on_cpu()) state.mirror.assign(size_t(parameter_count_), 0.0f);
}

float* Optimizer::state_data(size_t index) {
  layers::Buffer<float>& buffer = state_.at(index).buffer;
  // state() hands out the cpu buffer's vector: a restore may have replaced its contents.
  if (buffer.on_cpu() && buffer.host().size() != size_t(parameter_count_))
    throw std::invalid_argument("optimizer " + std::string(name()) + ": state '" + state_[index].name + "' has " +
                                std::to_string(buffer.host().size()) + " values, expected " +
                                std::to_string(parameter_count_));
  return buffer.data();
}

std::vector<NamedState> Optimizer::state() {
  std::vector<NamedState> named;
  for (State& s : state_) named.emplace_back(s.name, s.buffer.on_cpu() ? &s.buffer.host() : &s.mirror);
  return named;
}

void Optimizer::download_state() {
  for (State& s : state_)
    if (!s.buffer.on_cpu()) s.buffer.download(s.mirror.data());
}

void Optimizer::upload_state() {
  for (State& s : state_)
    if (!s.buffer.on_cpu()) s.buffer.upload(s.mirror);
}

void Optimizer::set_step_count(int64_t steps) {
  require(steps >= 0, "step count must be >= 0, got " + std::to_string(steps));
  step_count_ = steps;
}

void Optimizer::check_count(int64_t count) const {
  if (count != parameter_count_)
    throw std::invalid_argument("optimizer " + std::string(name()) + ": step over " +
                                std::to_string(count) + " parameters, created for " +
                                std::to_string(parameter_count_));
}

OptimizerOptions optimizer_options(const TrainConfig& train) {
  OptimizerOptions options;
  options.name = train.optimizer;
  options.momentum = train.momentum;
  options.nesterov = train.nesterov;
  options.beta1 = train.beta1;
  options.beta2 = train.beta2;
  options.eps = train.eps;
  options.weight_decay = train.weight_decay;
  return options;
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, int64_t parameter_count,
                                          layers::Device device) {
  auto it = registry().find(options.name);
  if (it == registry().end()) {
    std::string choices;
    for (const auto& name : optimizer_names()) choices += (choices.empty() ? "" : ", ") + name;
    throw std::invalid_argument("unknown optimizer '" + options.name + "' (choices: " + choices + ")");
  }
  return it->second(options, parameter_count, device);
}

std::vector<std::string> optimizer_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

double l2_norm(const float* values, int64_t count) {
  double sum = 0;
  layers::ops::sum_of_squares(layers::Device::cpu, values, count, &sum);
  return std::sqrt(sum);
}

float clip_scale(double norm, double max_norm) {
  return max_norm > 0 && std::isfinite(norm) && norm > max_norm ? float(max_norm / (norm + 1e-6)) : 1.0f;
}

double clip_grad_norm(float* grads, int64_t count, double max_norm) {
  const double norm = l2_norm(grads, count);
  const float scale = clip_scale(norm, max_norm);
  if (scale != 1.0f)
    for (int64_t i = 0; i < count; ++i) grads[i] *= scale;
  return norm;
}

}  // namespace rnnlab::trainer
