// Losses and metrics on flat float buffers: softmax cross-entropy (classification, language
// modelling, tagging), mean squared error (forecasting), and accuracy counts.
//
// Conventions: logits [rows, classes] row-major float32; labels int32, one per row. Rows
// whose label equals `ignore_index` (padding, unlabelled tokens) are skipped by the loss,
// its gradient and the accuracy counts, like PyTorch's CrossEntropyLoss(ignore_index=...).
// Gradients of the data (diff_logits, diff_pred) are OVERWRITTEN (all rows, ignored rows
// get 0). Losses are accumulated in double.
//
// Failure: a label outside [0, classes) that is not ignore_index, or a bad size, throws
// std::invalid_argument naming the row and label, before anything is written.
// Thread safety: pure functions; outputs may not alias inputs.
#pragma once

#include <cstdint>
#include <string_view>

namespace rnnlab::layers {

// PyTorch's default ignore index.
constexpr int32_t kNoIgnoreIndex = -100;

// mean: loss and gradient of the mean over the counted rows (PyTorch's default).
// sum: of the sum (a data-parallel trainer can all-reduce sums and counts, then divide).
enum class Reduction { mean, sum };
Reduction parse_reduction(std::string_view name);  // "mean" | "sum"; unknown throws

struct LossResult {
  double loss = 0.0;   // mean (or sum) over counted rows; 0 when count == 0
  int64_t count = 0;   // rows with label != ignore_index
};

// loss_r = logsumexp(logits_r) - logits_r[label_r], computed stably (max subtracted).
// diff_logits (optional) = (softmax(logits_r) - onehot(label_r)) / count for mean, without
// the division for sum; 0 on ignored rows and everywhere when count == 0.
LossResult softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                                 int32_t ignore_index = kNoIgnoreIndex, float* diff_logits = nullptr,
                                 Reduction reduction = Reduction::mean);

// loss = (1/count) * sum (pred - target)^2 over `count` elements (sum without 1/count);
// diff_pred (optional) = 2 (pred - target) / count (sum: 2 (pred - target)).
LossResult mean_squared_error(const float* pred, const float* target, int64_t count, float* diff_pred = nullptr,
                              Reduction reduction = Reduction::mean);

// Binary cross-entropy on logits (Keras Dense(1, 'sigmoid') + binary_crossentropy, PyTorch
// BCEWithLogitsLoss), for one-output classifiers such as sentiment: targets in [0, 1] (one
// per logit; outside throws naming the position). loss_i = max(x,0) - x t + log(1 + e^-|x|)
// (stable for any x); diff_logits (optional) = (sigmoid(x) - t) / count (sum: no division).
LossResult sigmoid_binary_cross_entropy(const float* logits, const float* targets, int64_t count,
                                        float* diff_logits = nullptr, Reduction reduction = Reduction::mean);

// Index of the largest logit of each row (the first one on ties) -> dst [rows].
void argmax_rows(const float* logits, int64_t rows, int64_t classes, int32_t* dst);

struct AccuracyCount {
  int64_t correct = 0;  // counted rows whose argmax equals the label
  int64_t counted = 0;  // rows with label != ignore_index
  double accuracy() const { return counted > 0 ? double(correct) / double(counted) : 0.0; }
};

// Labels are checked like softmax_cross_entropy's. Counts add up over batches: sum
// `correct` and `counted` separately, then divide.
AccuracyCount count_correct(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                            int32_t ignore_index = kNoIgnoreIndex);

// One-logit classifiers: correct when (logit > 0) == (target >= 0.5); counts every element.
AccuracyCount count_correct_binary(const float* logits, const float* targets, int64_t count);

}  // namespace rnnlab::layers
