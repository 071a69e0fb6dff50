#include "trainer/gpu/gpu_optimizer.h"

#include <cmath>
#include <stdexcept>

#include "layers/cuda/kernels.h"

namespace rnnlab::trainer::gpu {

namespace cuda = layers::cuda;

GpuOptimizer::GpuOptimizer(const OptimizerOptions& options, int64_t parameter_count)
    : options_(options), count_(parameter_count) {
  owned_ = make_optimizer(options, parameter_count);  // validates, names the state
  host_ = owned_.get();
  const size_t buffers = host_->state().size();  // momentum_buffer, or exp_avg and exp_avg_sq
  for (size_t i = 0; i < buffers; ++i) {
    state_.emplace_back(size_t(parameter_count));
    state_.back().zero();
  }
}

std::unique_ptr<Optimizer> GpuOptimizer::release_host() { return std::move(owned_); }

void GpuOptimizer::step(float* params, const float* grads, double lr, float grad_scale) {
  const std::string_view name = host_->name();
  if (name == "sgd") {
    // optim.cc's Sgd::step scalars.
    cuda::SgdScalars s;
    s.neg_lr = float(-lr);
    s.weight_decay = float(options_.weight_decay);
    s.momentum = float(options_.momentum);
    s.nesterov = options_.nesterov;
    s.first_step = host_->step_count() == 0;
    s.grad_scale = grad_scale;
    cuda::sgd_step(params, grads, state_.empty() ? nullptr : state_[0].data(), count_, s);
    host_->set_step_count(host_->step_count() + 1);
    return;
  }
  if (name == "adam" || name == "adamw") {
    // optim.cc's Adam::step scalars, in the same order of roundings.
    const bool decoupled = name == "adamw";
    const int64_t t = host_->step_count() + 1;
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, double(t));
    const double bias_correction2 = 1.0 - std::pow(options_.beta2, double(t));
    cuda::AdamScalars s;
    s.step_size = float(lr / bias_correction1);
    s.bias_correction2_sqrt = float(std::sqrt(bias_correction2));
    s.beta1 = float(options_.beta1);
    s.beta2 = float(options_.beta2);
    s.one_minus_beta1 = float(1.0 - options_.beta1);
    s.one_minus_beta2 = float(1.0 - options_.beta2);
    s.eps = float(options_.eps);
    s.l2 = decoupled ? 0.0f : float(options_.weight_decay);
    s.decay = decoupled ? float(1.0 - lr * options_.weight_decay) : 1.0f;
    s.grad_scale = grad_scale;
    // state(): exp_avg, exp_avg_sq
    cuda::adam_step(params, grads, state_.at(0).data(), state_.at(1).data(), count_, s);
    host_->set_step_count(t);
    return;
  }
  throw std::invalid_argument("GPU optimizer: no device step for optimizer '" + std::string(name) + "'");
}

void GpuOptimizer::download_state() {
  const auto named = host_->state();
  for (size_t i = 0; i < named.size(); ++i) state_[i].download(named[i].second->data());
}

void GpuOptimizer::upload_state() {
  const auto named = host_->state();
  for (size_t i = 0; i < named.size(); ++i) state_[i].upload(named[i].second->data(), named[i].second->size());
}

}  // namespace rnnlab::trainer::gpu
