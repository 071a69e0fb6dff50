// Softmax cross-entropy, binary cross-entropy on logits, MSE and accuracy: values against direct formulas, gradients
// against central finite differences, ignore_index semantics, stability and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "layers/losses.h"
#include "layers/random.h"

namespace rnnlab::layers {
namespace {

std::vector<float> random_vector(int64_t count, uint64_t stream, float scale = 1.0f) {
  std::vector<float> v(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) v[size_t(i)] = scale * (2.0f * random_uniform(13, stream, uint64_t(i)) - 1.0f);
  return v;
}

double naive_cross_entropy(const float* row, int64_t classes, int32_t label) {
  double sum = 0.0;
  for (int64_t c = 0; c < classes; ++c) sum += std::exp(double(row[c]));
  return std::log(sum) - double(row[label]);
}

TEST(SoftmaxCrossEntropy, MeanOverCountedRowsWithIgnoreIndex) {
  const int64_t rows = 5, classes = 4;
  const auto logits = random_vector(rows * classes, 1, 3.0f);
  const std::vector<int32_t> labels{2, -100, 0, 3, -100};
  std::vector<float> diff(size_t(rows * classes), 7.0f);
  const LossResult result = softmax_cross_entropy(logits.data(), labels.data(), rows, classes, -100, diff.data());
  EXPECT_EQ(result.count, 3);
  double expect = 0.0;
  for (int64_t r : {0, 2, 3}) expect += naive_cross_entropy(&logits[size_t(r * classes)], classes, labels[size_t(r)]);
  EXPECT_NEAR(result.loss, expect / 3.0, 1e-6);
  for (int64_t r : {1, 4})
    for (int64_t c = 0; c < classes; ++c) EXPECT_EQ(diff[size_t(r * classes + c)], 0.0f) << "ignored row " << r;
  // Each counted row's gradient sums to 0 (softmax sums to 1).
  for (int64_t r : {0, 2, 3}) {
    double sum = 0.0;
    for (int64_t c = 0; c < classes; ++c) sum += diff[size_t(r * classes + c)];
    EXPECT_NEAR(sum, 0.0, 1e-7);
  }

  // Sum reduction = count * mean, gradient scaled the same way.
  std::vector<float> diff_sum(diff.size());
  const LossResult summed =
      softmax_cross_entropy(logits.data(), labels.data(), rows, classes, -100, diff_sum.data(), Reduction::sum);
  EXPECT_NEAR(summed.loss, expect, 1e-6);
  for (size_t i = 0; i < diff.size(); ++i) EXPECT_NEAR(diff_sum[i], 3.0f * diff[i], 1e-6);
}

TEST(SoftmaxCrossEntropy, GradientMatchesFiniteDifferences) {
  const int64_t rows = 4, classes = 5;
  auto logits = random_vector(rows * classes, 2, 2.0f);
  const std::vector<int32_t> labels{4, 0, 1, 0};
  const int32_t ignore = 1;  // an ignore index inside the class range still skips rows
  std::vector<float> diff(logits.size());
  const LossResult result = softmax_cross_entropy(logits.data(), labels.data(), rows, classes, ignore, diff.data());
  EXPECT_EQ(result.count, 3);
  const float eps = 1e-3f;
  for (size_t p = 0; p < logits.size(); ++p) {
    const float saved = logits[p];
    logits[p] = saved + eps;
    const double step = double(logits[p]);
    const double plus = softmax_cross_entropy(logits.data(), labels.data(), rows, classes, ignore).loss;
    logits[p] = saved - eps;
    const double actual_step = step - double(logits[p]);  // the float step actually taken
    const double minus = softmax_cross_entropy(logits.data(), labels.data(), rows, classes, ignore).loss;
    logits[p] = saved;
    EXPECT_NEAR(diff[p], (plus - minus) / actual_step, 1e-5) << "logit " << p;
  }
}

TEST(SoftmaxCrossEntropy, StableForHugeLogits) {
  const std::vector<float> logits{1e4f, 0.0f, -1e4f, 1e4f - 1.0f};
  const std::vector<int32_t> labels{1};
  std::vector<float> diff(4);
  const LossResult result = softmax_cross_entropy(logits.data(), labels.data(), 1, 4, -100, diff.data());
  // log(e^0 + e^-1) + 1e4 - 0 with both big logits relative to the max.
  EXPECT_NEAR(result.loss, 1e4 + std::log(1.0 + std::exp(-1.0)), 1e-3);
  for (float d : diff) EXPECT_TRUE(std::isfinite(d));
  EXPECT_NEAR(diff[1], -1.0f, 1e-6);
}

TEST(SoftmaxCrossEntropy, AllIgnoredGivesZero) {
  const std::vector<float> logits{1, 2, 3, 4};
  const std::vector<int32_t> labels{-100, -100};
  std::vector<float> diff(4, 9.0f);
  const LossResult result = softmax_cross_entropy(logits.data(), labels.data(), 2, 2, -100, diff.data());
  EXPECT_EQ(result.count, 0);
  EXPECT_EQ(result.loss, 0.0);
  EXPECT_EQ(diff, std::vector<float>(4, 0.0f));
}

TEST(SoftmaxCrossEntropy, LabelOutOfRangeThrowsNamingIt) {
  const std::vector<float> logits(6, 0.0f);
  std::vector<float> diff(6, 5.0f);
  for (int32_t bad : {3, -1}) {
    const std::vector<int32_t> labels{0, bad};
    try {
      softmax_cross_entropy(logits.data(), labels.data(), 2, 3, -100, diff.data());
      FAIL() << "label " << bad << " accepted";
    } catch (const std::invalid_argument& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("label " + std::to_string(bad)), std::string::npos) << message;
      EXPECT_NE(message.find("row 1"), std::string::npos) << message;
    }
    EXPECT_EQ(diff, std::vector<float>(6, 5.0f)) << "nothing written before the check";
    EXPECT_THROW(count_correct(logits.data(), labels.data(), 2, 3), std::invalid_argument);
  }
  EXPECT_THROW(parse_reduction("avg"), std::invalid_argument);
  EXPECT_EQ(parse_reduction("sum"), Reduction::sum);
}

TEST(MeanSquaredError, ValueAndGradient) {
  const int64_t count = 7;
  auto pred = random_vector(count, 3);
  const auto target = random_vector(count, 4);
  std::vector<float> diff(static_cast<size_t>(count));
  const LossResult result = mean_squared_error(pred.data(), target.data(), count, diff.data());
  double expect = 0.0;
  for (int64_t i = 0; i < count; ++i) expect += std::pow(double(pred[size_t(i)]) - target[size_t(i)], 2);
  EXPECT_NEAR(result.loss, expect / count, 1e-7);
  EXPECT_EQ(result.count, count);
  const float eps = 1e-3f;
  for (size_t p = 0; p < pred.size(); ++p) {
    const float saved = pred[p];
    pred[p] = saved + eps;
    const double step = double(pred[p]);
    const double plus = mean_squared_error(pred.data(), target.data(), count).loss;
    pred[p] = saved - eps;
    const double actual_step = step - double(pred[p]);  // the float step actually taken
    const double minus = mean_squared_error(pred.data(), target.data(), count).loss;
    pred[p] = saved;
    EXPECT_NEAR(diff[p], (plus - minus) / actual_step, 1e-5) << "pred " << p;
  }
  std::vector<float> diff_sum(static_cast<size_t>(count));
  EXPECT_NEAR(mean_squared_error(pred.data(), target.data(), count, diff_sum.data(), Reduction::sum).loss, expect,
              1e-6);
  for (size_t i = 0; i < diff.size(); ++i) EXPECT_NEAR(diff_sum[i], float(count) * diff[i], 1e-5);
}

TEST(SigmoidBinaryCrossEntropy, ValueGradientAndStability) {
  auto logits = random_vector(6, 5, 4.0f);
  const std::vector<float> targets{0.0f, 1.0f, 1.0f, 0.0f, 0.5f, 1.0f};
  std::vector<float> diff(6);
  const LossResult result = sigmoid_binary_cross_entropy(logits.data(), targets.data(), 6, diff.data());
  double expect = 0.0;
  for (size_t i = 0; i < 6; ++i) {
    const double p = 1.0 / (1.0 + std::exp(-double(logits[i])));
    expect -= targets[i] * std::log(p) + (1.0 - targets[i]) * std::log(1.0 - p);
  }
  EXPECT_NEAR(result.loss, expect / 6.0, 1e-6);
  const float eps = 1e-3f;
  for (size_t p = 0; p < logits.size(); ++p) {
    const float saved = logits[p];
    logits[p] = saved + eps;
    const double step = double(logits[p]);
    const double plus = sigmoid_binary_cross_entropy(logits.data(), targets.data(), 6).loss;
    logits[p] = saved - eps;
    const double actual_step = step - double(logits[p]);  // the float step actually taken
    const double minus = sigmoid_binary_cross_entropy(logits.data(), targets.data(), 6).loss;
    logits[p] = saved;
    EXPECT_NEAR(diff[p], (plus - minus) / actual_step, 1e-5) << "logit " << p;
  }
  // Huge logits: finite loss, and the confident wrong answer costs |x|.
  const std::vector<float> huge{1e4f, -1e4f};
  const std::vector<float> wrong{0.0f, 1.0f};
  std::vector<float> huge_diff(2);
  const LossResult big = sigmoid_binary_cross_entropy(huge.data(), wrong.data(), 2, huge_diff.data(), Reduction::sum);
  EXPECT_NEAR(big.loss, 2e4, 1e-6);
  EXPECT_EQ(huge_diff, (std::vector<float>{1.0f, -1.0f}));

  const std::vector<float> bad{0.0f, 1.5f};
  try {
    sigmoid_binary_cross_entropy(huge.data(), bad.data(), 2);
    FAIL() << "target 1.5 accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("position 1"), std::string::npos) << error.what();
  }
  const AccuracyCount binary = count_correct_binary(huge.data(), wrong.data(), 2);
  EXPECT_EQ(binary.correct, 0);
  EXPECT_EQ(binary.counted, 2);
  EXPECT_EQ(count_correct_binary(huge.data(), std::vector<float>{1.0f, 0.0f}.data(), 2).correct, 2);
}

TEST(Accuracy, CountsArgmaxMatchesOverNonIgnoredRows) {
  // Row argmaxes: 2, 0 (tie -> first), 1, 3.
  const std::vector<float> logits{0, 1, 5, 2, 3, 1, 3, 0, 0, 9, 1, 1, 0, 0, 0, 4};
  std::vector<int32_t> argmax(4);
  argmax_rows(logits.data(), 4, 4, argmax.data());
  EXPECT_EQ(argmax, (std::vector<int32_t>{2, 0, 1, 3}));
  const std::vector<int32_t> labels{2, 0, -100, 1};
  const AccuracyCount count = count_correct(logits.data(), labels.data(), 4, 4);
  EXPECT_EQ(count.correct, 2);
  EXPECT_EQ(count.counted, 3);
  EXPECT_DOUBLE_EQ(count.accuracy(), 2.0 / 3.0);
  EXPECT_EQ(AccuracyCount{}.accuracy(), 0.0);
}

}  // namespace
}  // namespace rnnlab::layers
