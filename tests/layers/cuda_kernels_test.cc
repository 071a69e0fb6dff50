// The training kernels of layers/cuda/kernels.h against their CPU twins (layers/dense.h,
// losses.h, dropout.h): same inputs, results equal within float tolerance, or exactly where
// the kernel promises the CPU's arithmetic (embedding scatter-add order, bias sums, dropout
// masks). Every test skips, saying why, without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "layers/cuda/device.h"
#include "layers/cuda/kernels.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/losses.h"
#include "layers/random.h"

namespace rnnlab::layers {
namespace {

using cuda::DeviceBuffer;

#define SKIP_WITHOUT_DEVICE()                                                                  \
  if (!cuda::cuda_device_available())                                                          \
  GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason()

std::vector<float> random_values(int64_t count, uint64_t stream, float scale = 1.0f) {
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[size_t(i)] = float(random_normal(11, stream, uint64_t(i))) * scale;
  return values;
}

template <typename T>
DeviceBuffer<T> to_device(const std::vector<T>& host) {
  DeviceBuffer<T> buffer;
  buffer.upload(host.data(), host.size());
  return buffer;
}

template <typename T>
std::vector<T> to_host(const DeviceBuffer<T>& buffer) {
  std::vector<T> host(buffer.size());
  buffer.download(host.data());
  return host;
}

void expect_near_all(const std::vector<float>& expected, const std::vector<float>& actual, float tolerance,
                     const char* what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(expected[i], actual[i], tolerance * (1.0f + std::fabs(expected[i]))) << what << " at " << i;
}

TEST(CudaKernels, EmbeddingForwardAndDeterministicBackwardEqualCpu) {
  SKIP_WITHOUT_DEVICE();
  const int64_t vocab = 37, dim = 19, count = 300;
  const std::vector<float> table = random_values(vocab * dim, 1);
  std::vector<int32_t> ids(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) ids[size_t(i)] = int32_t(random_bits(3, 2, uint64_t(i)) % uint64_t(vocab));
  std::vector<float> expected(size_t(count * dim));
  embedding_forward(table.data(), vocab, dim, ids.data(), count, expected.data());

  auto d_table = to_device(table);
  auto d_ids = to_device(ids);
  DeviceBuffer<float> d_dst(size_t(count * dim));
  cuda::embedding_forward(d_table.data(), vocab, dim, d_ids.data(), count, d_dst.data());
  EXPECT_EQ(expected, to_host(d_dst)) << "a gather is exact";

  // Repeated ids accumulate in position order on both: the sums are bit-identical.
  const std::vector<float> diff = random_values(count * dim, 4);
  std::vector<float> cpu_grad = random_values(vocab * dim, 5);  // gradients are ADDED to
  auto d_grad = to_device(cpu_grad);
  embedding_backward(diff.data(), ids.data(), count, vocab, dim, cpu_grad.data());
  const std::vector<int32_t> plan = cuda::plan_embedding_backward(ids.data(), count, vocab);
  auto d_plan = to_device(plan);
  auto d_diff = to_device(diff);
  cuda::embedding_backward(d_diff.data(), dim, d_plan.data(), plan[0], count, d_grad.data());
  EXPECT_EQ(cpu_grad, to_host(d_grad));
}

TEST(CudaKernels, LinearForwardBackwardEqualCpu) {
  SKIP_WITHOUT_DEVICE();
  const LinearShape shape{23, 17, 11};
  const auto src = random_values(shape.rows * shape.in_features, 1);
  const auto weight = random_values(shape.out_features * shape.in_features, 2, 0.3f);
  const auto bias = random_values(shape.out_features, 3);
  const auto diff_dst = random_values(shape.rows * shape.out_features, 4);
  std::vector<float> dst(size_t(shape.rows * shape.out_features));
  linear_forward(shape, src.data(), weight.data(), bias.data(), dst.data());
  std::vector<float> diff_src(src.size());
  std::vector<float> diff_weight = random_values(int64_t(weight.size()), 5);
  std::vector<float> diff_bias = random_values(int64_t(bias.size()), 6);
  auto d_diff_weight = to_device(diff_weight);
  auto d_diff_bias = to_device(diff_bias);
  linear_backward(shape, src.data(), weight.data(), diff_dst.data(), diff_src.data(), diff_weight.data(),
                  diff_bias.data());

  auto d_src = to_device(src), d_weight = to_device(weight), d_bias = to_device(bias), d_diff_dst = to_device(diff_dst);
  DeviceBuffer<float> d_dst(dst.size()), d_diff_src(diff_src.size());
  cuda::linear_forward(shape, d_src.data(), d_weight.data(), d_bias.data(), d_dst.data());
  cuda::linear_backward(shape, d_src.data(), d_weight.data(), d_diff_dst.data(), d_diff_src.data(),
                        d_diff_weight.data(), d_diff_bias.data());
  expect_near_all(dst, to_host(d_dst), 1e-5f, "dst");
  expect_near_all(diff_src, to_host(d_diff_src), 1e-5f, "diff_src");
  expect_near_all(diff_weight, to_host(d_diff_weight), 1e-5f, "diff_weight");
  EXPECT_EQ(diff_bias, to_host(d_diff_bias)) << "column sums in row order, like dense.cc";
}

TEST(CudaKernels, SoftmaxCrossEntropyWithIgnoreIndexEqualsCpu) {
  SKIP_WITHOUT_DEVICE();
  const int64_t rows = 41, classes = 300;  // classes > threads per block: strided loops
  auto logits = random_values(rows * classes, 1, 3.0f);
  std::vector<int32_t> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) labels[size_t(r)] = r % 5 == 0 ? kNoIgnoreIndex : int32_t((r * 37) % classes);
  logits[size_t(2 * classes + 7)] = logits[size_t(2 * classes + 9)] = 50.0f;  // a tie: first index wins
  const double scale = 1.0 / 57.0;  // objective.cc: 1 / global targets
  std::vector<float> diff(logits.size());
  const LossResult loss = softmax_cross_entropy(logits.data(), labels.data(), rows, classes, kNoIgnoreIndex,
                                                diff.data(), Reduction::sum);
  const AccuracyCount accuracy = count_correct(logits.data(), labels.data(), rows, classes, kNoIgnoreIndex);
  for (float& g : diff) g = float(g * scale);

  auto d_logits = to_device(logits);
  auto d_labels = to_device(labels);
  DeviceBuffer<float> d_diff(diff.size());
  DeviceBuffer<double> d_metrics(cuda::kMetricSlots);
  d_metrics.zero();
  cuda::softmax_cross_entropy(d_logits.data(), d_labels.data(), rows, classes, kNoIgnoreIndex, scale, d_diff.data(),
                              d_metrics.data());
  const auto metrics = to_host(d_metrics);
  EXPECT_NEAR(metrics[0], loss.loss, 1e-9 * std::fabs(loss.loss));
  EXPECT_EQ(metrics[1], double(loss.count));
  EXPECT_EQ(metrics[2], double(accuracy.correct));
  EXPECT_EQ(metrics[3], 0.0);
  expect_near_all(diff, to_host(d_diff), 1e-6f, "diff_logits");
}

TEST(CudaKernels, MeanSquaredErrorAndBinaryCrossEntropyEqualCpu) {
  SKIP_WITHOUT_DEVICE();
  const int64_t count = 1000;
  const auto pred = random_values(count, 1, 2.0f);
  auto target = random_values(count, 2);
  const double scale = 1.0 / 250.0;
  std::vector<float> diff(static_cast<size_t>(count));
  const LossResult mse = mean_squared_error(pred.data(), target.data(), count, diff.data(), Reduction::sum);
  double abs_sum = 0;
  for (int64_t i = 0; i < count; ++i) abs_sum += std::fabs(pred[size_t(i)] - target[size_t(i)]);
  for (float& g : diff) g = float(g * scale);
  auto d_pred = to_device(pred), d_target = to_device(target);
  DeviceBuffer<float> d_diff(diff.size());
  DeviceBuffer<double> d_metrics(cuda::kMetricSlots);
  d_metrics.zero();
  cuda::mean_squared_error(d_pred.data(), d_target.data(), count, scale, d_diff.data(), d_metrics.data());
  auto metrics = to_host(d_metrics);
  EXPECT_NEAR(metrics[0], mse.loss, 1e-9 * mse.loss);
  EXPECT_EQ(metrics[1], double(count));
  EXPECT_NEAR(metrics[3], abs_sum, 1e-9 * abs_sum);
  EXPECT_EQ(diff, to_host(d_diff)) << "2 (pred - target) in double, rounded twice, as on the CPU";

  for (float& t : target) t = t > 0 ? 1.0f : 0.0f;
  const LossResult bce = sigmoid_binary_cross_entropy(pred.data(), target.data(), count, diff.data(), Reduction::sum);
  const AccuracyCount correct = count_correct_binary(pred.data(), target.data(), count);
  for (float& g : diff) g = float(g * scale);
  d_target = to_device(target);
  d_metrics.zero();
  cuda::sigmoid_binary_cross_entropy(d_pred.data(), d_target.data(), count, scale, d_diff.data(), d_metrics.data());
  metrics = to_host(d_metrics);
  EXPECT_NEAR(metrics[0], bce.loss, 1e-9 * bce.loss);
  EXPECT_EQ(metrics[1], double(count));
  EXPECT_EQ(metrics[2], double(correct.correct));
  expect_near_all(diff, to_host(d_diff), 1e-6f, "bce diff");
}

TEST(CudaKernels, DropoutMasksEqualCpuForTheSameSeed) {
  SKIP_WITHOUT_DEVICE();
  const int64_t count = 100003;
  const auto src = random_values(count, 1);
  for (float p : {0.0f, 0.1f, 0.5f}) {
    std::vector<float> dst(src.size()), mask(src.size());
    dropout_forward(src.data(), dst.data(), mask.data(), count, p, 1234, kRecurrentDropoutStream + 1);
    auto d_src = to_device(src);
    DeviceBuffer<float> d_dst(src.size()), d_mask(src.size());
    cuda::dropout_forward(d_src.data(), d_dst.data(), d_mask.data(), count, p, 1234, kRecurrentDropoutStream + 1);
    EXPECT_EQ(mask, to_host(d_mask)) << "p = " << p;
    EXPECT_EQ(dst, to_host(d_dst)) << "p = " << p;
  }
}

TEST(CudaKernels, FinalStatesGatherAndScatterFollowModelLayout) {
  SKIP_WITHOUT_DEVICE();
  const int layers_count = 2, batch = 5, state = 7;
  for (int directions : {1, 2}) {
    for (bool sum : {false, true}) {
      if (sum && directions == 1) continue;
      const int head_in = sum ? state : directions * state;
      const auto h = random_values(int64_t(layers_count) * directions * batch * state, 1);
      std::vector<float> expected(size_t(batch * head_in), 0.0f);
      for (int d = 0; d < directions; ++d)
        for (int n = 0; n < batch; ++n)
          for (int k = 0; k < state; ++k)
            expected[size_t(n * head_in + (sum ? 0 : d * state) + k)] +=
                h[size_t(((layers_count - 1) * directions + d) * batch * state + n * state + k)];
      auto d_h = to_device(h);
      DeviceBuffer<float> d_dst(expected.size());
      cuda::gather_final_states(d_h.data(), layers_count, directions, batch, state, sum, d_dst.data());
      EXPECT_EQ(expected, to_host(d_dst));

      const auto diff = random_values(int64_t(batch) * head_in, 2);
      std::vector<float> diff_h(h.size(), 0.0f);
      for (int d = 0; d < directions; ++d)
        for (int n = 0; n < batch; ++n)
          for (int k = 0; k < state; ++k)
            diff_h[size_t(((layers_count - 1) * directions + d) * batch * state + n * state + k)] =
                diff[size_t(n * head_in + (sum ? 0 : d * state) + k)];
      auto d_diff = to_device(diff);
      DeviceBuffer<float> d_diff_h(h.size());
      cuda::scatter_final_states(d_diff.data(), layers_count, directions, batch, state, sum, d_diff_h.data());
      EXPECT_EQ(diff_h, to_host(d_diff_h));
    }
  }
}

TEST(CudaKernels, SumOfSquaresAccumulatesInDouble) {
  SKIP_WITHOUT_DEVICE();
  const int64_t count = 1 << 20;
  const auto values = random_values(count, 1);
  double expected = 0;
  for (float v : values) expected += double(v) * v;
  auto d_values = to_device(values);
  DeviceBuffer<double> d_sum(1);
  d_sum.zero();
  cuda::sum_of_squares(d_values.data(), count, d_sum.data());
  cuda::sum_of_squares(d_values.data(), count, d_sum.data());  // accumulates
  EXPECT_NEAR(to_host(d_sum)[0], 2 * expected, 1e-12 * expected);
}

TEST(CudaKernels, BadSizesThrowBeforeAnythingRuns) {
  // Checked on the host: runs with or without a device.
  EXPECT_THROW(cuda::embedding_forward(nullptr, 0, 4, nullptr, 1, nullptr), std::invalid_argument);
  EXPECT_THROW(cuda::dropout_forward(nullptr, nullptr, nullptr, 4, 1.0f, 0, 0), std::invalid_argument);
  EXPECT_THROW(cuda::sgd_step(nullptr, nullptr, nullptr, 4, cuda::SgdScalars{0, 0, 0.9f, 1, false, false}),
               std::invalid_argument);
  const std::vector<int32_t> ids{3, 1, 3, -1, 1, 9, 3};
  const auto plan = cuda::plan_embedding_backward(ids.data(), int64_t(ids.size()), 5);
  // [U=2 | ids 1, 3 | starts 0, 2, 5 | positions 1, 4, 0, 2, 6]: out-of-range ids are left out.
  EXPECT_EQ(plan, (std::vector<int32_t>{2, 1, 3, 0, 2, 5, 1, 4, 0, 2, 6}));
}

}  // namespace
}  // namespace rnnlab::layers
