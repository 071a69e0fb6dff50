#include "layers/losses.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "layers/ops.h"

namespace rnnlab::layers {
namespace {

void require(bool ok, const char* function, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string(function) + ": " + message);
}

// Validates sizes and labels; returns the number of rows that count.
int64_t check_labels(const char* function, const int32_t* labels, int64_t rows, int64_t classes,
                     int32_t ignore_index) {
  require(rows >= 0, function, "rows must be >= 0, got " + std::to_string(rows));
  require(classes > 0, function, "classes must be > 0, got " + std::to_string(classes));
  return ops::check_labels(function, labels, rows, classes, ignore_index);
}

// sum((pred - target)^2) in double, and diff = gradient_scale * (pred - target) in float.
// Eight independent partial sums: one running sum is a chain of dependent double adds
// (~1 ns an element, 10% of a small recurrent training step); these vectorise.
template <bool kDiff>
double squared_error_sum(const float* pred, const float* target, int64_t count, double gradient_scale, float* diff) {
  constexpr int kLanes = 8;
  double partial[kLanes] = {0.0};
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) {
      const double error = double(pred[i + k]) - double(target[i + k]);
      partial[k] += error * error;
      if constexpr (kDiff) diff[i + k] = float(gradient_scale * error);
    }
  }
  for (; i < count; ++i) {
    const double error = double(pred[i]) - double(target[i]);
    partial[0] += error * error;
    if constexpr (kDiff) diff[i] = float(gradient_scale * error);
  }
  double total = 0.0;
  for (double value : partial) total += value;
  return total;
}

}  // namespace

Reduction parse_reduction(std::string_view name) {
  if (name == "mean") return Reduction::mean;
  if (name == "sum") return Reduction::sum;
  throw std::invalid_argument("unknown reduction '" + std::string(name) + "' (choices: mean, sum)");
}

LossResult softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                                 int32_t ignore_index, float* diff_logits, Reduction reduction) {
  LossResult result;
  result.count = check_labels("softmax_cross_entropy", labels, rows, classes, ignore_index);
  const double scale = reduction == Reduction::mean && result.count > 0 ? 1.0 / double(result.count) : 1.0;
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * classes;
    float* diff_row = diff_logits ? diff_logits + r * classes : nullptr;
    if (labels[r] == ignore_index) {
      if (diff_row) std::fill(diff_row, diff_row + classes, 0.0f);
      continue;
    }
    // 1. Subtract the row max so exp never overflows (log-sum-exp trick).
    const float max_logit = *std::max_element(row, row + classes);
    double sum_exp = 0.0;
    for (int64_t c = 0; c < classes; ++c) sum_exp += std::exp(double(row[c]) - max_logit);
    const double log_sum_exp = std::log(sum_exp) + max_logit;
    // 2. -log softmax at the label.
    total += log_sum_exp - double(row[labels[r]]);
    // 3. d(loss)/d(logit_c) = softmax_c - [c == label], scaled for the reduction.
    if (diff_row) {
      for (int64_t c = 0; c < classes; ++c) {
        const double softmax = std::exp(double(row[c]) - log_sum_exp);
        diff_row[c] = float((softmax - (c == labels[r] ? 1.0 : 0.0)) * scale);
      }
    }
  }
  result.loss = result.count > 0 ? total * scale : 0.0;
  return result;
}

LossResult mean_squared_error(const float* pred, const float* target, int64_t count, float* diff_pred,
                              Reduction reduction) {
  require(count >= 0, "mean_squared_error", "count must be >= 0, got " + std::to_string(count));
  LossResult result;
  result.count = count;
  const double scale = reduction == Reduction::mean && count > 0 ? 1.0 / double(count) : 1.0;
  result.loss = (diff_pred ? squared_error_sum<true>(pred, target, count, 2.0 * scale, diff_pred)
                            : squared_error_sum<false>(pred, target, count, 0.0, nullptr)) *
                scale;
  return result;
}

LossResult sigmoid_binary_cross_entropy(const float* logits, const float* targets, int64_t count,
                                        float* diff_logits, Reduction reduction) {
  require(count >= 0, "sigmoid_binary_cross_entropy", "count must be >= 0, got " + std::to_string(count));
  for (int64_t i = 0; i < count; ++i)
    require(targets[i] >= 0.0f && targets[i] <= 1.0f, "sigmoid_binary_cross_entropy",
            "target " + std::to_string(targets[i]) + " at position " + std::to_string(i) + " is outside [0, 1]");
  LossResult result;
  result.count = count;
  const double scale = reduction == Reduction::mean && count > 0 ? 1.0 / double(count) : 1.0;
  double total = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double x = logits[i], t = targets[i];
    // log(1 + e^x) - x t written so that exp never sees a positive argument.
    total += std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::abs(x)));
    if (diff_logits) {
      const double sigmoid = x >= 0.0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
      diff_logits[i] = float((sigmoid - t) * scale);
    }
  }
  result.loss = total * scale;
  return result;
}

AccuracyCount count_correct_binary(const float* logits, const float* targets, int64_t count) {
  require(count >= 0, "count_correct_binary", "count must be >= 0, got " + std::to_string(count));
  AccuracyCount result;
  result.counted = count;
  for (int64_t i = 0; i < count; ++i) result.correct += (logits[i] > 0.0f) == (targets[i] >= 0.5f);
  return result;
}

void argmax_rows(const float* logits, int64_t rows, int64_t classes, int32_t* dst) {
  require(rows >= 0, "argmax_rows", "rows must be >= 0, got " + std::to_string(rows));
  require(classes > 0, "argmax_rows", "classes must be > 0, got " + std::to_string(classes));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * classes;
    dst[r] = int32_t(std::max_element(row, row + classes) - row);
  }
}

AccuracyCount count_correct(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                            int32_t ignore_index) {
  AccuracyCount result;
  result.counted = check_labels("count_correct", labels, rows, classes, ignore_index);
  for (int64_t r = 0; r < rows; ++r) {
    if (labels[r] == ignore_index) continue;
    const float* row = logits + r * classes;
    if (std::max_element(row, row + classes) - row == labels[r]) ++result.correct;
  }
  return result;
}

}  // namespace rnnlab::layers
