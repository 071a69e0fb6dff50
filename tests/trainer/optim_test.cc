// Optimizers against PyTorch 1.13's torch.optim (numbers printed by
// tests/trainer/torch_optim_reference.py with /usr/bin/python3), clipping against
// torch.nn.utils.clip_grad_norm_, and the learning-rate schedules. The optimizer tests run
// the same body on every device (the update ops of layers/ops.h on cpu and cuda buffers;
// the cuda instance is skipped, saying so, without a GPU): the cuda updates must equal the
// cpu ones bit for bit (the same float arithmetic), clipping through grad_scale included.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "layers/random.h"
#include "tests/trainer/device_test_util.h"
#include "trainer/config.h"
#include "trainer/optim.h"
#include "trainer/schedule.h"

namespace rnnlab::trainer {
namespace {

using Rows = std::vector<std::vector<float>>;

// Same inputs as torch_optim_reference.py: 5 parameters, 4 steps, lr changed every step.
const std::vector<float> kStart = {0.5f, -1.25f, 2.0f, 0.0f, 3.0f};
const Rows kGrads = {{0.1f, -0.2f, 0.3f, 0.05f, -1.5f},
                     {0.4f, 0.1f, -0.3f, -0.25f, 0.5f},
                     {-0.2f, 0.3f, 0.0f, 0.125f, 2.0f},
                     {0.05f, -0.6f, 0.2f, 0.0f, -0.75f}};
const std::vector<double> kLrs = {0.1, 0.05, 0.02, 0.01};

using layers::Buffer;
using layers::Device;

// Host values as a buffer on `device`.
template <typename T>
Buffer<T> buffer_of(const std::vector<T>& host, Device device) {
  Buffer<T> buffer(device);
  buffer.upload(host);
  return buffer;
}

// The optimizer tests, one body per device.
class OptimizerOnDevice : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override { RNNLAB_SKIP_WITHOUT(GetParam()); }
  void expect_matches_torch(const OptimizerOptions& options, const Rows& expected) const;
};

void OptimizerOnDevice::expect_matches_torch(const OptimizerOptions& options, const Rows& expected) const {
  auto optimizer = make_optimizer(options, 5, GetParam());
  Buffer<float> device_params = buffer_of(kStart, GetParam());
  for (size_t step = 0; step < kGrads.size(); ++step) {
    optimizer->step(device_params.data(), buffer_of(kGrads[step], GetParam()).data(), 5, kLrs[step]);
    const std::vector<float> params = device_params.to_host();
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_NEAR(params[i], expected[step][i], 2e-6 * (1 + std::fabs(expected[step][i])))
          << options.name << " step " << step + 1 << " param " << i;
  }
  EXPECT_EQ(optimizer->step_count(), 4);
}

TEST_P(OptimizerOnDevice, SgdMatchesTorch) {
  OptimizerOptions options;
  options.name = "sgd";
  expect_matches_torch(options, {{4.900000095e-01f, -1.230000019e+00f, 1.970000029e+00f, -5.000000354e-03f, 3.150000095e+00f},
                                 {4.699999988e-01f, -1.235000014e+00f, 1.985000014e+00f, 7.499999832e-03f, 3.125000000e+00f},
                                 {4.740000069e-01f, -1.241000056e+00f, 1.985000014e+00f, 4.999999888e-03f, 3.085000038e+00f},
                                 {4.735000134e-01f, -1.235000014e+00f, 1.983000040e+00f, 4.999999888e-03f, 3.092499971e+00f}});
}

TEST_P(OptimizerOnDevice, SgdMomentumMatchesTorch) {
  OptimizerOptions options;
  options.name = "sgd";
  options.momentum = 0.9;
  expect_matches_torch(options, {{4.900000095e-01f, -1.230000019e+00f, 1.970000029e+00f, -5.000000354e-03f, 3.150000095e+00f},
                                 {4.654999971e-01f, -1.226000071e+00f, 1.971500039e+00f, 5.249999929e-03f, 3.192500114e+00f},
                                 {4.606800079e-01f, -1.230560064e+00f, 1.972040057e+00f, 6.439999677e-03f, 3.167800188e+00f},
                                 {4.580110013e-01f, -1.226612091e+00f, 1.970283031e+00f, 6.975499447e-03f, 3.164185286e+00f}});
}

TEST_P(OptimizerOnDevice, SgdNesterovWithWeightDecayMatchesTorch) {
  OptimizerOptions options;
  options.name = "sgd";
  options.momentum = 0.9;
  options.nesterov = true;
  options.weight_decay = 0.01;
  expect_matches_torch(options, {{4.800499976e-01f, -1.209625006e+00f, 1.939200044e+00f, -9.499999695e-03f, 3.279299974e+00f},
                                 {4.373414516e-01f, -1.209369659e+00f, 1.952897787e+00f, 1.223402657e-02f, 3.288219690e+00f},
                                 {4.366866052e-01f, -1.218635917e+00f, 1.952035904e+00f, 1.080191694e-02f, 3.223771572e+00f},
                                 {4.335983098e-01f, -1.208582997e+00f, 1.947652936e+00f, 1.128151640e-02f, 3.226703405e+00f}});
}

TEST_P(OptimizerOnDevice, AdamMatchesTorch) {
  OptimizerOptions options;
  options.name = "adam";
  expect_matches_torch(options, {{4.000000060e-01f, -1.149999976e+00f, 1.899999976e+00f, -9.999997914e-02f, 3.099999905e+00f},
                                 {3.557811677e-01f, -1.136683106e+00f, 1.902631521e+00f, -7.008226961e-02f, 3.120010853e+00f},
                                 {3.490591943e-01f, -1.144470930e+00f, 1.903445244e+00f, -6.740391254e-02f, 3.113819599e+00f},
                                 {3.456914425e-01f, -1.141225576e+00f, 1.901266098e+00f, -6.630694121e-02f, 3.113028526e+00f}});
}

TEST_P(OptimizerOnDevice, AdamL2WeightDecayMatchesTorch) {
  OptimizerOptions options;
  options.name = "adam";
  options.weight_decay = 0.1;
  expect_matches_torch(options, {{4.000000358e-01f, -1.149999976e+00f, 1.899999976e+00f, -9.999997914e-02f, 3.099999905e+00f},
                                 {3.539758623e-01f, -1.114816427e+00f, 1.875278473e+00f, -6.978586316e-02f, 3.106940985e+00f},
                                 {3.448286355e-01f, -1.111816287e+00f, 1.863703609e+00f, -6.645773351e-02f, 3.097250700e+00f},
                                 {3.401539028e-01f, -1.106103659e+00f, 1.856474280e+00f, -6.496167183e-02f, 3.094259501e+00f}});
}

TEST_P(OptimizerOnDevice, AdamWDecoupledWeightDecayMatchesTorch) {
  OptimizerOptions options;
  options.name = "adamw";
  options.weight_decay = 0.1;
  options.beta1 = 0.8;
  options.beta2 = 0.99;
  options.eps = 1e-6;
  expect_matches_torch(options, {{3.950009942e-01f, -1.137500405e+00f, 1.880000353e+00f, -9.999801964e-02f, 3.069999933e+00f},
                                 {3.473942578e-01f, -1.121256113e+00f, 1.876155853e+00f, -6.721548736e-02f, 3.072076559e+00f},
                                 {3.410030901e-01f, -1.128558159e+00f, 1.874013901e+00f, -6.493282318e-02f, 3.057924747e+00f},
                                 {3.377588689e-01f, -1.123632193e+00f, 1.869799256e+00f, -6.404568255e-02f, 3.053841352e+00f}});
}

// Restoring the named state and the step counter into a fresh optimizer continues exactly
// as the original would have: what a checkpoint resume relies on.
TEST_P(OptimizerOnDevice, StateRestoreContinuesBitIdentically) {
  for (const std::string name : {"sgd", "adam", "adamw"}) {
    OptimizerOptions options;
    options.name = name;
    options.momentum = 0.9;
    auto original = make_optimizer(options, 5, GetParam());
    Buffer<float> params = buffer_of(kStart, GetParam());
    for (int step = 0; step < 2; ++step)
      original->step(params.data(), buffer_of(kGrads[step], GetParam()).data(), 5, kLrs[step]);

    auto restored = make_optimizer(options, 5, GetParam());
    original->download_state();
    auto from = original->state();
    auto to = restored->state();
    ASSERT_EQ(from.size(), to.size()) << name;
    for (size_t i = 0; i < from.size(); ++i) {
      EXPECT_EQ(from[i].first, to[i].first);
      ASSERT_EQ(from[i].second->size(), 5u);
      *to[i].second = *from[i].second;
    }
    restored->upload_state();
    restored->set_step_count(original->step_count());
    Buffer<float> params_copy = buffer_of(params.to_host(), GetParam());
    for (int step = 2; step < 4; ++step) {
      const Buffer<float> grads = buffer_of(kGrads[step], GetParam());
      original->step(params.data(), grads.data(), 5, kLrs[step]);
      restored->step(params_copy.data(), grads.data(), 5, kLrs[step]);
    }
    EXPECT_EQ(params.to_host(), params_copy.to_host()) << name;
  }
}

// Clipping as the engine does it (the factor of clip_scale handed to the update as
// grad_scale) equals clip_grad_norm's in-place scaling followed by a cpu step, bit for
// bit, on every device and optimizer, over several steps; so does the optimizer state.
TEST_P(OptimizerOnDevice, FusedClippingEqualsClipGradNormThenStep) {
  const int64_t count = 10007;
  const std::vector<std::pair<std::string, double>> cases = {{"sgd", 0}, {"sgd", 0.9}, {"adam", 0}, {"adamw", 0}};
  for (const auto& [name, momentum] : cases) {
    SCOPED_TRACE(name);
    OptimizerOptions options;
    options.name = name;
    options.momentum = momentum;
    options.nesterov = momentum > 0;
    options.weight_decay = 0.01;
    std::vector<float> params(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) params[size_t(i)] = float(layers::random_normal(1, 1, uint64_t(i)));
    auto cpu = make_optimizer(options, count);
    auto device = make_optimizer(options, count, GetParam());
    Buffer<float> device_params = buffer_of(params, GetParam());
    int clipped = 0;
    for (int step = 0; step < 6; ++step) {
      std::vector<float> grads(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i)
        grads[size_t(i)] = float(layers::random_normal(2, uint64_t(step), uint64_t(i))) * 0.1f;
      const double max_norm = step % 2 == 0 ? 5.0 : 0.0;  // the norm is about 10: clipped on even steps
      const float scale = clip_scale(l2_norm(grads.data(), count), max_norm);
      clipped += scale != 1.0f;
      const Buffer<float> device_grads = buffer_of(grads, GetParam());
      if (max_norm > 0) clip_grad_norm(grads.data(), count, max_norm);
      cpu->step(params.data(), grads.data(), count, 0.01 * (step + 1));
      device->step(device_params.data(), device_grads.data(), count, 0.01 * (step + 1), scale);
    }
    EXPECT_EQ(clipped, 3);
    EXPECT_EQ(params, device_params.to_host());
    EXPECT_EQ(cpu->step_count(), device->step_count());
    device->download_state();
    const auto expected_state = cpu->state();
    const auto actual_state = device->state();
    ASSERT_EQ(expected_state.size(), actual_state.size());
    for (size_t s = 0; s < expected_state.size(); ++s) {
      EXPECT_EQ(expected_state[s].first, actual_state[s].first);
      EXPECT_EQ(*expected_state[s].second, *actual_state[s].second) << expected_state[s].first;
    }
  }
}

TEST_P(OptimizerOnDevice, InvalidOptionsFailOnEveryDevice) {
  OptimizerOptions options;
  options.name = "adam";
  options.beta1 = 1.5;
  EXPECT_THROW(make_optimizer(options, 10, GetParam()), std::invalid_argument);
  options.name = "lamb";
  EXPECT_THROW(make_optimizer(options, 10, GetParam()), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Devices, OptimizerOnDevice, testing_util::all_devices(), testing_util::device_name);

TEST(Optimizer, StateNames) {
  OptimizerOptions options;
  options.name = "sgd";
  EXPECT_TRUE(make_optimizer(options, 3)->state().empty());  // no momentum, no state
  options.momentum = 0.5;
  auto sgd_state = make_optimizer(options, 3)->state();
  ASSERT_EQ(sgd_state.size(), 1u);
  EXPECT_EQ(sgd_state[0].first, "momentum_buffer");
  options.name = "adam";
  auto adam_state = make_optimizer(options, 3)->state();
  ASSERT_EQ(adam_state.size(), 2u);
  EXPECT_EQ(adam_state[0].first, "exp_avg");
  EXPECT_EQ(adam_state[1].first, "exp_avg_sq");
}

TEST(Optimizer, RegistryAndErrors) {
  EXPECT_EQ(optimizer_names(), (std::vector<std::string>{"adam", "adamw", "sgd"}));
  OptimizerOptions options;
  options.name = "adagrad";
  try {
    make_optimizer(options, 3);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("unknown optimizer 'adagrad' (choices: adam, adamw, sgd)"),
              std::string::npos);
  }
  options.name = "sgd";
  options.nesterov = true;  // without momentum, as PyTorch refuses
  EXPECT_THROW(make_optimizer(options, 3), std::invalid_argument);
  options.nesterov = false;
  auto optimizer = make_optimizer(options, 3);
  std::vector<float> buffer(4, 0.0f);
  EXPECT_THROW(optimizer->step(buffer.data(), buffer.data() + 0, 4, 0.1), std::invalid_argument);
  EXPECT_THROW(optimizer->set_step_count(-1), std::invalid_argument);
}

TEST(Optimizer, OptionsFromTrainConfig) {
  TrainConfig train;
  train.optimizer = "adamw";
  train.beta2 = 0.98;
  train.weight_decay = 0.05;
  const OptimizerOptions options = optimizer_options(train);
  EXPECT_EQ(options.name, "adamw");
  EXPECT_EQ(options.beta2, 0.98);
  EXPECT_EQ(options.weight_decay, 0.05);
}

TEST(Clipping, MatchesTorchClipGradNorm) {
  // torch.nn.utils.clip_grad_norm_ on [3, -4, 12] with max_norm 6.5 returns 13 and leaves
  // [1.499999881, -1.999999881, 5.999999523] (the 1e-6 in its denominator shows).
  std::vector<float> grads = {3.0f, -4.0f, 12.0f};
  EXPECT_DOUBLE_EQ(clip_grad_norm(grads.data(), 3, 6.5), 13.0);
  EXPECT_FLOAT_EQ(grads[0], 1.499999881f);
  EXPECT_FLOAT_EQ(grads[1], -1.999999881f);
  EXPECT_FLOAT_EQ(grads[2], 5.999999523f);
}

TEST(Clipping, BelowTheLimitOrOffLeavesGradientsAlone) {
  std::vector<float> grads = {3.0f, -4.0f};
  EXPECT_DOUBLE_EQ(clip_grad_norm(grads.data(), 2, 5.0), 5.0);  // norm == max: untouched
  EXPECT_EQ(grads, (std::vector<float>{3.0f, -4.0f}));
  EXPECT_DOUBLE_EQ(clip_grad_norm(grads.data(), 2, 0.0), 5.0);  // 0 = off
  EXPECT_EQ(grads, (std::vector<float>{3.0f, -4.0f}));
}

TEST(Clipping, NonFiniteNormIsReportedNotSpread) {
  std::vector<float> grads = {1.0f, NAN, 2.0f};
  EXPECT_TRUE(std::isnan(clip_grad_norm(grads.data(), 3, 1.0)));
  EXPECT_EQ(grads[0], 1.0f);
  EXPECT_EQ(grads[2], 2.0f);
  std::vector<float> huge = {3e38f, 3e38f};  // squares overflow float but not double
  EXPECT_NEAR(l2_norm(huge.data(), 2), 3e38 * std::sqrt(2.0), 1e31);
}

ScheduleOptions schedule(const std::string& kind) {
  ScheduleOptions options;
  options.kind = kind;
  options.lr = 0.1;
  options.warmup_steps = 4;
  options.step_size = 10;
  options.gamma = 0.5;
  options.min_lr = 0.01;
  options.total_steps = 104;
  return options;
}

TEST(Schedule, LinearWarmupThenConstant) {
  const ScheduleOptions options = schedule("constant");
  EXPECT_DOUBLE_EQ(learning_rate(options, 0), 0.025);
  EXPECT_DOUBLE_EQ(learning_rate(options, 1), 0.05);
  EXPECT_DOUBLE_EQ(learning_rate(options, 3), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(options, 4), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(options, 100000), 0.1);
}

TEST(Schedule, StepDecayCountsFromTheEndOfWarmup) {
  const ScheduleOptions options = schedule("step");
  EXPECT_DOUBLE_EQ(learning_rate(options, 4), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(options, 13), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(options, 14), 0.05);
  EXPECT_DOUBLE_EQ(learning_rate(options, 24), 0.025);
}

TEST(Schedule, CosineReachesMinLrAtTheEnd) {
  const ScheduleOptions options = schedule("cosine");
  EXPECT_DOUBLE_EQ(learning_rate(options, 4), 0.1);  // decay starts after warm-up
  EXPECT_NEAR(learning_rate(options, 54), 0.055, 1e-15);  // halfway: (lr + min_lr) / 2
  // One step before the end: min_lr + (lr - min_lr) * (1 + cos(pi * 99 / 100)) / 2.
  EXPECT_NEAR(learning_rate(options, 103), 0.01 + 0.09 * 0.5 * (1 + std::cos(M_PI * 0.99)), 1e-15);
  EXPECT_DOUBLE_EQ(learning_rate(options, 104), 0.01);
  EXPECT_DOUBLE_EQ(learning_rate(options, 500), 0.01);
  for (int64_t step = 5; step < 104; ++step)
    EXPECT_LT(learning_rate(options, step), learning_rate(options, step - 1)) << step;
}

TEST(Schedule, InvalidOptionsAreErrors) {
  ScheduleOptions options = schedule("linear");
  EXPECT_THROW(learning_rate(options, 0), std::invalid_argument);
  options = schedule("cosine");
  options.total_steps = 4;  // nothing left after warm-up
  EXPECT_THROW(learning_rate(options, 0), std::invalid_argument);
  options = schedule("constant");
  EXPECT_THROW(learning_rate(options, -1), std::invalid_argument);
  options.lr = 0;
  EXPECT_THROW(validate(options), std::invalid_argument);
}

TEST(Schedule, OptionsFromTrainConfig) {
  TrainConfig train;
  train.schedule = "cosine";
  train.lr = 0.2;
  train.warmup_steps = 10;
  const ScheduleOptions options = schedule_options(train, 1000);
  EXPECT_EQ(options.kind, "cosine");
  EXPECT_EQ(options.total_steps, 1000);
  EXPECT_DOUBLE_EQ(learning_rate(options, 9), 0.2);
}

}  // namespace
}  // namespace rnnlab::trainer
