// The per-device ops of layers/ops.h: ONE set of test bodies, instantiated on every Device.
// Each op runs on the device of its Buffers and must equal the reference computed on the
// host by dense.h / losses.h / dropout.h (or, for the optimizers, the cpu op, which IS the
// trainer's arithmetic, plus the textbook formula to float tolerance): bit for bit where
// ops.h promises it (gathers, scatters, embedding sums, bias sums, masks, products, the
// MSE gradient, optimizer steps), to tolerance where a reduction's order may differ
// (GEMMs, loss sums, norms). The cuda instance skips, saying why, without a device.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "layers/dense.h"
#include "layers/device.h"
#include "layers/dropout.h"
#include "layers/losses.h"
#include "layers/ops.h"
#include "layers/ops/embedding_plan.h"
#include "layers/random.h"

namespace rnnlab::layers {

// gtest prints a Device parameter by name ("cpu", "cuda").
void PrintTo(Device device, std::ostream* out) { *out << to_string(device); }

namespace {

std::vector<float> random_values(int64_t count, uint64_t stream, float scale = 1.0f) {
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[size_t(i)] = float(random_normal(11, stream, uint64_t(i))) * scale;
  return values;
}

std::vector<int32_t> random_ids(int64_t count, int64_t vocab, uint64_t stream) {
  std::vector<int32_t> ids(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) ids[size_t(i)] = int32_t(random_bits(3, stream, uint64_t(i)) % uint64_t(vocab));
  return ids;
}

void expect_near_all(const std::vector<float>& expected, const std::vector<float>& actual, float tolerance,
                     const char* what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(expected[i], actual[i], tolerance * (1.0f + std::fabs(expected[i]))) << what << " at " << i;
}

// The four sums of a loss, on the device under test, starting from non-zero values (the
// ops ADD into them).
constexpr double kStart[4] = {0.5, 2.0, 3.0, 0.25};

class Ops : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    if (!device_available(device()))
      GTEST_SKIP() << "no CUDA device, the cuda instance of every op test is skipped: "
                   << device_unavailable_reason(GetParam());
  }
  Device device() const { return GetParam(); }
  template <typename T>
  Buffer<T> put(const std::vector<T>& host) const {
    Buffer<T> buffer(device());
    buffer.upload(host);
    return buffer;
  }
  Buffer<float> zeros(size_t count) const {
    Buffer<float> buffer(device(), count);
    buffer.zero();
    return buffer;
  }
  Buffer<double> loss_sums() const { return put(std::vector<double>(std::begin(kStart), std::end(kStart))); }
  static ops::LossSums sums_of(Buffer<double>& sums) {
    double* s = sums.data();
    return ops::LossSums{s, s + 1, s + 2, s + 3};
  }
};

TEST_P(Ops, EmbeddingForwardIsAGatherAndBackwardSumsEachRowInPositionOrder) {
  const int64_t vocab = 37, dim = 19, count = 300;
  const std::vector<float> table = random_values(vocab * dim, 1);
  const std::vector<int32_t> ids = random_ids(count, vocab, 2);
  std::vector<float> expected(size_t(count * dim));
  embedding_forward(table.data(), vocab, dim, ids.data(), count, expected.data());
  auto d_table = put(table);
  auto d_ids = put(ids);
  auto d_dst = zeros(expected.size());
  ops::embedding_forward(device(), d_table.data(), vocab, dim, d_ids.data(), count, d_dst.data());
  EXPECT_EQ(expected, d_dst.to_host()) << "a gather is exact";

  // Repeated ids accumulate in position order on every device: the sums are bit-identical.
  const std::vector<float> diff = random_values(count * dim, 4);
  auto d_diff = put(diff);
  for (int32_t padding_id : {-1, ids[0]}) {
    SCOPED_TRACE("padding_id " + std::to_string(padding_id));
    std::vector<float> grad = random_values(vocab * dim, 5);  // gradients are ADDED to
    auto d_grad = put(grad);
    embedding_backward(diff.data(), ids.data(), count, vocab, dim, grad.data(), padding_id);
    ops::embedding_backward(device(), d_diff.data(), ids.data(), count, vocab, dim, d_grad.data(), padding_id);
    EXPECT_EQ(grad, d_grad.to_host());
  }
}

TEST_P(Ops, LinearForwardAndBackwardEqualDenseH) {
  const LinearShape shape{23, 17, 11};
  const auto src = random_values(shape.rows * shape.in_features, 1);
  const auto weight = random_values(shape.out_features * shape.in_features, 2, 0.3f);
  const auto bias = random_values(shape.out_features, 3);
  const auto diff_dst = random_values(shape.rows * shape.out_features, 4);
  auto d_src = put(src), d_weight = put(weight), d_bias = put(bias), d_diff_dst = put(diff_dst);
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "bias" : "no bias");
    std::vector<float> dst(size_t(shape.rows * shape.out_features)), diff_src(src.size());
    std::vector<float> diff_weight = random_values(int64_t(weight.size()), 5);
    std::vector<float> diff_bias = random_values(int64_t(bias.size()), 6);
    auto d_dst = zeros(dst.size()), d_diff_src = zeros(diff_src.size());
    auto d_diff_weight = put(diff_weight), d_diff_bias = put(diff_bias);
    linear_forward(shape, src.data(), weight.data(), with_bias ? bias.data() : nullptr, dst.data());
    linear_backward(shape, src.data(), weight.data(), diff_dst.data(), diff_src.data(), diff_weight.data(),
                    with_bias ? diff_bias.data() : nullptr);
    ops::linear_forward(device(), shape, d_src.data(), d_weight.data(), with_bias ? d_bias.data() : nullptr,
                        d_dst.data());
    ops::linear_backward(device(), shape, d_src.data(), d_weight.data(), d_diff_dst.data(), d_diff_src.data(),
                         d_diff_weight.data(), with_bias ? d_diff_bias.data() : nullptr);
    expect_near_all(dst, d_dst.to_host(), 1e-5f, "dst");
    expect_near_all(diff_src, d_diff_src.to_host(), 1e-5f, "diff_src");
    expect_near_all(diff_weight, d_diff_weight.to_host(), 1e-5f, "diff_weight");
    EXPECT_EQ(diff_bias, d_diff_bias.to_host()) << "column sums in row order, like dense.cc (untouched without bias)";
  }
  // diff_src may be skipped: the weight gradient is still added.
  std::vector<float> diff_weight(weight.size(), 0.0f);
  auto d_diff_weight = zeros(weight.size());
  linear_backward(shape, src.data(), weight.data(), diff_dst.data(), nullptr, diff_weight.data(), nullptr);
  ops::linear_backward(device(), shape, d_src.data(), d_weight.data(), d_diff_dst.data(), nullptr,
                       d_diff_weight.data(), nullptr);
  expect_near_all(diff_weight, d_diff_weight.to_host(), 1e-5f, "diff_weight without diff_src");
}

TEST_P(Ops, SoftmaxCrossEntropyAddsLossCountAndCorrectIntoTheSums) {
  const int64_t rows = 41, classes = 300;  // classes > threads per block: strided loops
  auto logits = random_values(rows * classes, 1, 3.0f);
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  const int32_t ignore = -100;
  for (int64_t r = 0; r < rows; ++r) labels[size_t(r)] = r % 5 == 0 ? ignore : int32_t((r * 37) % classes);
  logits[size_t(2 * classes + 7)] = logits[size_t(2 * classes + 9)] = 50.0f;  // a tie: the first index wins
  labels[2] = 7;
  const double scale = 1.0 / 57.0;  // the trainer's 1 / global targets
  std::vector<float> diff(logits.size());
  const LossResult loss =
      softmax_cross_entropy(logits.data(), labels.data(), rows, classes, ignore, diff.data(), Reduction::sum);
  const AccuracyCount accuracy = count_correct(logits.data(), labels.data(), rows, classes, ignore);
  for (float& g : diff) g = float(g * scale);

  auto d_logits = put(logits);
  auto d_labels = put(labels);
  auto d_diff = zeros(diff.size());
  auto d_sums = loss_sums();
  ops::softmax_cross_entropy(device(), d_logits.data(), d_labels.data(), rows, classes, ignore, scale, d_diff.data(),
                             sums_of(d_sums));
  const auto sums = d_sums.to_host();
  EXPECT_NEAR(sums[0], kStart[0] + loss.loss, 1e-9 * std::fabs(loss.loss));
  EXPECT_EQ(sums[1], kStart[1] + double(loss.count));
  EXPECT_EQ(sums[2], kStart[2] + double(accuracy.correct));
  EXPECT_EQ(sums[3], kStart[3]) << "a classification loss leaves abs_error alone";
  expect_near_all(diff, d_diff.to_host(), 1e-6f, "diff_logits");

  // Without a gradient and with only some sums: the others stay untouched.
  auto d_only = loss_sums();
  ops::softmax_cross_entropy(device(), d_logits.data(), d_labels.data(), rows, classes, ignore, scale, nullptr,
                             ops::LossSums{nullptr, d_only.data() + 1, nullptr, nullptr});
  const auto only = d_only.to_host();
  EXPECT_EQ(only, (std::vector<double>{kStart[0], kStart[1] + double(loss.count), kStart[2], kStart[3]}));
}

TEST_P(Ops, MeanSquaredErrorAddsLossCountAndAbsoluteErrorAndScalesItsGradientExactly) {
  const int64_t count = 1000;
  const auto pred = random_values(count, 1, 2.0f);
  const auto target = random_values(count, 2);
  const double scale = 1.0 / 250.0;
  std::vector<float> diff(static_cast<size_t>(count));
  const LossResult mse = mean_squared_error(pred.data(), target.data(), count, diff.data(), Reduction::sum);
  double abs_sum = 0;
  for (int64_t i = 0; i < count; ++i) abs_sum += std::fabs(pred[size_t(i)] - target[size_t(i)]);
  for (float& g : diff) g = float(g * scale);
  auto d_pred = put(pred), d_target = put(target);
  auto d_diff = zeros(diff.size());
  auto d_sums = loss_sums();
  ops::mean_squared_error(device(), d_pred.data(), d_target.data(), count, scale, d_diff.data(), sums_of(d_sums));
  const auto sums = d_sums.to_host();
  EXPECT_NEAR(sums[0], kStart[0] + mse.loss, 1e-9 * mse.loss);
  EXPECT_EQ(sums[1], kStart[1] + double(count));
  EXPECT_EQ(sums[2], kStart[2]) << "a regression loss leaves correct alone";
  EXPECT_NEAR(sums[3], kStart[3] + abs_sum, 1e-9 * abs_sum);
  EXPECT_EQ(diff, d_diff.to_host()) << "float(float(2 (pred - target)) * scale) on every device";
}

TEST_P(Ops, DropoutMasksAreTheSameForTheSameSeedAndStreamInPlaceToo) {
  const int64_t count = 100003;
  const auto src = random_values(count, 1);
  for (float p : {0.0f, 0.1f, 0.5f}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    std::vector<float> dst(src.size()), mask(src.size());
    dropout_forward(src.data(), dst.data(), mask.data(), count, p, 1234, kRecurrentDropoutStream + 1);
    auto d_src = put(src);
    auto d_dst = zeros(src.size()), d_mask = zeros(src.size());
    ops::dropout_forward(device(), d_src.data(), d_dst.data(), d_mask.data(), count, p, 1234,
                         kRecurrentDropoutStream + 1);
    EXPECT_EQ(mask, d_mask.to_host());
    EXPECT_EQ(dst, d_dst.to_host());
    ops::dropout_forward(device(), d_src.data(), d_src.data(), d_mask.data(), count, p, 1234,
                         kRecurrentDropoutStream + 1);
    EXPECT_EQ(dst, d_src.to_host()) << "src == dst";
    // The backward of the mask: the product, exact.
    std::vector<float> grad = random_values(count, 3);
    auto d_grad = put(grad);
    for (size_t i = 0; i < grad.size(); ++i) grad[i] *= mask[i];
    ops::multiply(device(), d_grad.data(), d_mask.data(), count);
    EXPECT_EQ(grad, d_grad.to_host());
  }
}

TEST_P(Ops, FinalStatesGatherAndScatterFollowTheStackLayout) {
  const int layers_count = 2, batch = 5, state = 7;
  for (int directions : {1, 2}) {
    for (bool sum : {false, true}) {
      if (sum && directions == 1) continue;
      SCOPED_TRACE(std::to_string(directions) + (sum ? " directions, summed" : " directions"));
      const int head_in = sum ? state : directions * state;
      const auto h = random_values(int64_t(layers_count) * directions * batch * state, 1);
      const auto diff = random_values(int64_t(batch) * head_in, 2);
      std::vector<float> expected(size_t(batch * head_in), 0.0f), diff_h(h.size(), 0.0f);
      for (int d = 0; d < directions; ++d)
        for (int n = 0; n < batch; ++n)
          for (int k = 0; k < state; ++k) {
            const size_t in_h = size_t(((layers_count - 1) * directions + d) * batch * state + n * state + k);
            const size_t in_head = size_t(n * head_in + (sum ? 0 : d * state) + k);
            expected[in_head] += h[in_h];
            diff_h[in_h] = diff[in_head];
          }
      auto d_h = put(h), d_diff = put(diff);
      auto d_dst = put(random_values(int64_t(expected.size()), 3));  // overwritten
      auto d_diff_h = put(random_values(int64_t(h.size()), 4));      // overwritten, 0 below the last layer
      ops::gather_final_states(device(), d_h.data(), layers_count, directions, batch, state, sum, d_dst.data());
      ops::scatter_final_states(device(), d_diff.data(), layers_count, directions, batch, state, sum,
                                d_diff_h.data());
      EXPECT_EQ(expected, d_dst.to_host());
      EXPECT_EQ(diff_h, d_diff_h.to_host());
    }
  }
}

TEST_P(Ops, SumOfSquaresAccumulatesInDouble) {
  const int64_t count = (1 << 20) + 3;
  const auto values = random_values(count, 1);
  double expected = 0;
  for (float v : values) expected += double(v) * v;
  auto d_values = put(values);
  auto d_sum = put(std::vector<double>{1.5});
  ops::sum_of_squares(device(), d_values.data(), count, d_sum.data());
  ops::sum_of_squares(device(), d_values.data(), count, d_sum.data());  // accumulates
  EXPECT_NEAR(d_sum.to_host()[0], 1.5 + 2 * expected, 1e-12 * expected);
}

// ---- Optimizers: every device takes the cpu's steps bit for bit -------------------------

ops::SgdScalars sgd_scalars(bool nesterov, float grad_scale) {
  ops::SgdScalars s;
  s.neg_lr = -0.05f;
  s.weight_decay = 0.01f;
  s.momentum = 0.9f;
  s.grad_scale = grad_scale;
  s.nesterov = nesterov;
  return s;
}

ops::AdamScalars adam_scalars(bool decoupled, float grad_scale) {
  ops::AdamScalars s;
  s.step_size = 0.003f;
  s.bias_correction2_sqrt = 0.2f;
  s.beta1 = 0.8f;
  s.beta2 = 0.99f;
  s.one_minus_beta1 = 1.0f - s.beta1;
  s.one_minus_beta2 = 1.0f - s.beta2;
  s.eps = 1e-6f;
  s.l2 = decoupled ? 0.0f : 0.05f;
  s.decay = decoupled ? 0.999f : 1.0f;
  s.grad_scale = grad_scale;
  return s;
}

struct UpdateCase {
  const char* name;
  bool adam;
  ops::SgdScalars sgd;
  ops::AdamScalars adam_scalars;
};
const UpdateCase kUpdates[] = {
    {"sgd", false, sgd_scalars(false, 1.0f), {}},
    {"sgd nesterov clipped", false, sgd_scalars(true, 0.37f), {}},
    {"adam l2 clipped", true, {}, adam_scalars(false, 0.37f)},
    {"adamw", true, {}, adam_scalars(true, 1.0f)},
};

// The start of every run: params, grads, momentum / exp_avg, exp_avg_sq (>= 0).
std::vector<std::vector<float>> update_start(int64_t count) {
  std::vector<std::vector<float>> start;
  for (uint64_t b = 0; b < 4; ++b) start.push_back(random_values(count, 20 + b, b == 1 ? 1.0f : 0.1f));
  for (float& v : start[3]) v = std::fabs(v);
  return start;
}

// `steps` updates of case c on `device` from update_start(); params and state on the host.
std::vector<std::vector<float>> run_updates(Device device, const UpdateCase& c, int64_t count, int steps) {
  std::vector<Buffer<float>> b;
  for (const auto& host : update_start(count)) {
    b.emplace_back(device);
    b.back().upload(host);
  }
  for (int s = 0; s < steps; ++s) {
    if (c.adam)
      ops::adam_step(device, b[0].data(), b[1].data(), b[2].data(), b[3].data(), count, c.adam_scalars);
    else
      ops::sgd_step(device, b[0].data(), b[1].data(), b[2].data(), count, c.sgd);
  }
  return {b[0].to_host(), b[2].to_host(), b[3].to_host()};
}

// The textbook rule of one step (ops.h), to float tolerance: catches a wrong formula on
// the cpu, where the bit-exact comparison is with itself.
float textbook_param(const UpdateCase& c, float p, float g, float state_a, float state_b) {
  if (!c.adam) {
    const ops::SgdScalars& s = c.sgd;
    const float d = g * s.grad_scale + s.weight_decay * p, buf = s.momentum * state_a + d;
    return p + s.neg_lr * (s.nesterov ? d + s.momentum * buf : buf);
  }
  const ops::AdamScalars& s = c.adam_scalars;
  const float q = p * s.decay, grad = g * s.grad_scale + s.l2 * q;
  const float m = state_a * s.beta1 + grad * s.one_minus_beta1;
  const float v = state_b * s.beta2 + s.one_minus_beta2 * grad * grad;
  return q - s.step_size * m / (std::sqrt(v) / s.bias_correction2_sqrt + s.eps);
}

TEST_P(Ops, OptimizerStepsEqualTheCpuBitForBit) {
  const int64_t count = 10007;
  const auto start = update_start(count);
  for (const UpdateCase& c : kUpdates) {
    SCOPED_TRACE(c.name);
    const auto on_cpu = run_updates(Device::cpu, c, count, 3);
    const auto here = run_updates(device(), c, count, 3);
    EXPECT_EQ(on_cpu[0], here[0]) << "params";
    EXPECT_EQ(on_cpu[1], here[1]) << "momentum / exp_avg";
    if (c.adam) {
      EXPECT_EQ(on_cpu[2], here[2]) << "exp_avg_sq";
    }
    const auto one = run_updates(device(), c, count, 1);
    std::vector<float> expected(static_cast<size_t>(count));
    for (size_t i = 0; i < expected.size(); ++i)
      expected[i] = textbook_param(c, start[0][i], start[1][i], start[2][i], start[3][i]);
    expect_near_all(expected, one[0], 1e-5f, "params after one step, against the textbook rule");
  }
}

// ---- Errors -----------------------------------------------------------------------------

TEST_P(Ops, BadSizesThrowInvalidArgumentBeforeAnythingRuns) {
  // Real memory everywhere: an op that failed to check would fail the test, not crash it.
  auto values = zeros(64);
  auto ids = put(std::vector<int32_t>(4, 0));
  float* v = values.data();
  EXPECT_THROW(ops::embedding_forward(device(), v, 0, 4, ids.data(), 1, v), std::invalid_argument) << "vocab 0";
  EXPECT_THROW(ops::dropout_forward(device(), v, v, v, 4, 1.0f, 0, 0), std::invalid_argument) << "p = 1";
  EXPECT_THROW(ops::mean_squared_error(device(), v, v, -1, 1.0, v, {}), std::invalid_argument) << "count -1";
  EXPECT_THROW(ops::gather_final_states(device(), v, 1, 3, 1, 1, false, v), std::invalid_argument) << "3 directions";
  EXPECT_THROW(ops::multiply(device(), v, v, -2), std::invalid_argument) << "count -2";
}

INSTANTIATE_TEST_SUITE_P(EveryDevice, Ops, ::testing::Values(Device::cpu, Device::cuda),
                         [](const ::testing::TestParamInfo<Device>& device_info) {
                           return std::string(to_string(device_info.param));
                         });

// The host-side plan of the cuda embedding_backward runs everywhere.
TEST(EmbeddingPlan, GroupsPositionsByIdInOrderAndLeavesOutPaddingAndOutOfRangeIds) {
  const std::vector<int32_t> ids{3, 1, 3, -1, 1, 9, 3, 0};
  // [U=3 | ids 0, 1, 3 | starts 0, 1, 3, 6 | positions 7, 1, 4, 0, 2, 6]
  EXPECT_EQ(ops::plan_embedding_backward(ids.data(), int64_t(ids.size()), 5, -1),
            (std::vector<int32_t>{3, 0, 1, 3, 0, 1, 3, 6, 7, 1, 4, 0, 2, 6}));
  EXPECT_EQ(ops::plan_embedding_backward(ids.data(), int64_t(ids.size()), 5, 3),
            (std::vector<int32_t>{2, 0, 1, 0, 1, 3, 7, 1, 4}))
      << "padding_id 3 gets no gradient";
  EXPECT_EQ(ops::plan_embedding_backward(ids.data(), 0, 5, -1), (std::vector<int32_t>{0, 0}));
  EXPECT_THROW(ops::plan_embedding_backward(ids.data(), 1, 0, -1), std::invalid_argument);
}

#ifdef RNNLAB_WITH_CUDA
// The cuda ops check their sizes on the host: the error comes before any device is needed.
TEST(CudaOps, BadSizesThrowInvalidArgumentEvenWithoutADevice) {
  EXPECT_THROW(ops::embedding_forward(Device::cuda, nullptr, 0, 4, nullptr, 1, nullptr), std::invalid_argument);
  EXPECT_THROW(ops::sgd_step(Device::cuda, nullptr, nullptr, nullptr, 4, ops::SgdScalars{0, 0, 0.9f, 1, false, false}),
               std::invalid_argument);
  EXPECT_THROW(ops::embedding_backward(Device::cuda, nullptr, nullptr, 1, 4, 0, nullptr, -1), std::invalid_argument);
  EXPECT_THROW(ops::linear_forward(Device::cuda, LinearShape{-1, 2, 3}, nullptr, nullptr, nullptr, nullptr),
               std::invalid_argument);
}
#else
TEST(CudaOps, EveryCudaOpThrowsRuntimeErrorInABuildWithoutCuda) {
  EXPECT_THROW(ops::multiply(Device::cuda, nullptr, nullptr, 0), std::runtime_error);
  EXPECT_THROW(ops::sum_of_squares(Device::cuda, nullptr, 0, nullptr), std::runtime_error);
}
#endif

}  // namespace
}  // namespace rnnlab::layers
