// The GPU optimizers (trainer/gpu/gpu_optimizer.h over layers/cuda's sgd_step/adam_step)
// against trainer/optim.cc over several steps, with and without clipping: the kernels use
// optim.cc's float arithmetic, so parameters and state must be EQUAL, not merely close.
// Skips, saying why, without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "layers/cuda/device.h"
#include "layers/random.h"
#include "trainer/gpu/gpu_optimizer.h"
#include "trainer/optim.h"

namespace rnnlab::trainer {
namespace {

namespace cuda = layers::cuda;

struct Case {
  std::string name;
  OptimizerOptions options;
  double clip_norm;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  OptimizerOptions sgd;
  sgd.name = "sgd";
  out.push_back({"sgd_plain", sgd, 0});
  sgd.momentum = 0.9;
  sgd.weight_decay = 0.01;
  out.push_back({"sgd_momentum_wd", sgd, 0});
  sgd.nesterov = true;
  out.push_back({"sgd_nesterov_clipped", sgd, 0.5});
  OptimizerOptions adam;
  adam.name = "adam";
  out.push_back({"adam", adam, 0});
  adam.weight_decay = 0.05;
  out.push_back({"adam_l2_clipped", adam, 0.5});
  adam.name = "adamw";
  adam.beta1 = 0.8;
  adam.beta2 = 0.99;
  adam.eps = 1e-6;
  out.push_back({"adamw", adam, 0});
  out.push_back({"adamw_clipped", adam, 0.5});
  return out;
}

TEST(GpuOptimizer, EveryOptimizerEqualsTheCpuOverSeveralSteps) {
  if (!cuda::cuda_device_available()) GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason();
  const int64_t count = 10007;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    std::vector<float> params(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) params[size_t(i)] = float(layers::random_normal(1, 1, uint64_t(i)));
    auto cpu = make_optimizer(c.options, count);
    gpu::GpuOptimizer device(c.options, count);
    cuda::DeviceBuffer<float> d_params, d_grads;
    d_params.upload(params.data(), params.size());
    for (int step = 0; step < 6; ++step) {
      std::vector<float> grads(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i)
        grads[size_t(i)] = float(layers::random_normal(2, uint64_t(step), uint64_t(i))) * 0.1f;
      d_grads.upload(grads.data(), grads.size());
      const double lr = 0.01 * (step + 1);
      // The GPU engine's clipping: the norm on the host, the factor inside the kernel.
      const double norm = l2_norm(grads.data(), count);
      const float scale = c.clip_norm > 0 && norm > c.clip_norm ? float(c.clip_norm / (norm + 1e-6)) : 1.0f;
      if (c.clip_norm > 0) clip_grad_norm(grads.data(), count, c.clip_norm);
      cpu->step(params.data(), grads.data(), count, lr);
      device.step(d_params.data(), d_grads.data(), lr, scale);
    }
    std::vector<float> gpu_params(params.size());
    d_params.download(gpu_params.data());
    EXPECT_EQ(params, gpu_params);
    EXPECT_EQ(cpu->step_count(), device.host().step_count());
    device.download_state();
    const auto expected_state = cpu->state();
    const auto actual_state = device.host().state();
    ASSERT_EQ(expected_state.size(), actual_state.size());
    for (size_t s = 0; s < expected_state.size(); ++s) {
      EXPECT_EQ(expected_state[s].first, actual_state[s].first);
      EXPECT_EQ(*expected_state[s].second, *actual_state[s].second) << expected_state[s].first;
    }
  }
}

TEST(GpuOptimizer, InvalidOptionsFailLikeTheCpuOptimizer) {
  if (!cuda::cuda_device_available()) GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason();
  OptimizerOptions options;
  options.name = "adam";
  options.beta1 = 1.5;
  EXPECT_THROW(gpu::GpuOptimizer(options, 10), std::invalid_argument);
  options.name = "lamb";
  EXPECT_THROW(gpu::GpuOptimizer(options, 10), std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::trainer
