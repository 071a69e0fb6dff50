#include "trainer/optim.h"

#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>

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
  Sgd(const OptimizerOptions& options, int64_t count) : Optimizer(count), options_(options) {
    require(options.momentum >= 0, "momentum must be >= 0");
    require(options.weight_decay >= 0, "weight_decay must be >= 0");
    require(!options.nesterov || options.momentum > 0, "nesterov needs momentum > 0");
    if (options.momentum != 0) momentum_buffer_.assign(size_t(count), 0.0f);
  }
  std::string_view name() const override { return "sgd"; }

  void step(float* params, const float* grads, int64_t count, double lr) override {
    check_count(count);
    const float wd = float(options_.weight_decay), momentum = float(options_.momentum);
    const float neg_lr = float(-lr);
    const bool first = step_count_ == 0;
    float* buf = momentum_buffer_.data();
    for (int64_t i = 0; i < count; ++i) {
      float d = grads[i];
      if (wd != 0) d += wd * params[i];
      if (momentum != 0) {
        buf[i] = first ? d : momentum * buf[i] + d;
        d = options_.nesterov ? d + momentum * buf[i] : buf[i];
      }
      params[i] += neg_lr * d;
    }
    ++step_count_;
  }

  std::vector<NamedState> state() override {
    if (momentum_buffer_.empty()) return {};
    return {{"momentum_buffer", &momentum_buffer_}};
  }

 private:
  OptimizerOptions options_;
  std::vector<float> momentum_buffer_;
};

// torch.optim.Adam / AdamW (1.13, single-tensor path, amsgrad=False):
//   t += 1;  (adam) g += wd * p  |  (adamw) p *= 1 - lr * wd
//   m = b1 * m + (1 - b1) g;  v = b2 * v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class Adam final : public Optimizer {
 public:
  Adam(const OptimizerOptions& options, int64_t count, bool decoupled)
      : Optimizer(count), options_(options), decoupled_(decoupled) {
    require(options.beta1 >= 0 && options.beta1 < 1, "beta1 must be in [0, 1)");
    require(options.beta2 >= 0 && options.beta2 < 1, "beta2 must be in [0, 1)");
    require(options.eps > 0, "eps must be > 0");
    require(options.weight_decay >= 0, "weight_decay must be >= 0");
    exp_avg_.assign(size_t(count), 0.0f);
    exp_avg_sq_.assign(size_t(count), 0.0f);
  }
  std::string_view name() const override { return decoupled_ ? "adamw" : "adam"; }

  void step(float* params, const float* grads, int64_t count, double lr) override {
    check_count(count);
    const int64_t t = ++step_count_;
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, double(t));
    const double bias_correction2 = 1.0 - std::pow(options_.beta2, double(t));
    const float step_size = float(lr / bias_correction1);
    const float bias_correction2_sqrt = float(std::sqrt(bias_correction2));
    const float beta1 = float(options_.beta1), beta2 = float(options_.beta2);
    const float one_minus_beta1 = float(1.0 - options_.beta1);
    const float one_minus_beta2 = float(1.0 - options_.beta2);
    const float eps = float(options_.eps);
    const float l2 = decoupled_ ? 0.0f : float(options_.weight_decay);
    const float decay = decoupled_ ? float(1.0 - lr * options_.weight_decay) : 1.0f;
    float* m = exp_avg_.data();
    float* v = exp_avg_sq_.data();
    for (int64_t i = 0; i < count; ++i) {
      if (decay != 1.0f) params[i] *= decay;
      float g = grads[i];
      if (l2 != 0) g += l2 * params[i];
      m[i] = m[i] * beta1 + g * one_minus_beta1;
      v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
      const float denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;
      params[i] += -step_size * (m[i] / denom);
    }
  }

  std::vector<NamedState> state() override {
    return {{"exp_avg", &exp_avg_}, {"exp_avg_sq", &exp_avg_sq_}};
  }

 private:
  OptimizerOptions options_;
  bool decoupled_;
  std::vector<float> exp_avg_, exp_avg_sq_;
};

using Factory = std::function<std::unique_ptr<Optimizer>(const OptimizerOptions&, int64_t)>;

const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> factories = {
      {"sgd", [](const OptimizerOptions& o, int64_t n) { return std::make_unique<Sgd>(o, n); }},
      {"adam", [](const OptimizerOptions& o, int64_t n) { return std::make_unique<Adam>(o, n, false); }},
      {"adamw", [](const OptimizerOptions& o, int64_t n) { return std::make_unique<Adam>(o, n, true); }},
  };
  return factories;
}

}  // namespace

Optimizer::Optimizer(int64_t parameter_count) : parameter_count_(parameter_count) {
  require(parameter_count >= 0, "parameter count must be >= 0");
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

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, int64_t parameter_count) {
  auto it = registry().find(options.name);
  if (it == registry().end()) {
    std::string choices;
    for (const auto& name : optimizer_names()) choices += (choices.empty() ? "" : ", ") + name;
    throw std::invalid_argument("unknown optimizer '" + options.name + "' (choices: " + choices + ")");
  }
  return it->second(options, parameter_count);
}

std::vector<std::string> optimizer_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

double l2_norm(const float* values, int64_t count) {
  double sum = 0;
  for (int64_t i = 0; i < count; ++i) sum += double(values[i]) * double(values[i]);
  return std::sqrt(sum);
}

double clip_grad_norm(float* grads, int64_t count, double max_norm) {
  const double norm = l2_norm(grads, count);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) {
    const float scale = float(max_norm / (norm + 1e-6));
    for (int64_t i = 0; i < count; ++i) grads[i] *= scale;
  }
  return norm;
}

}  // namespace rnnlab::trainer
