// What each task optimises and reports, given the model's output for a batch.
//
//   language_model, tag, copy: softmax cross-entropy per step (ignore index skips targets)
//   classify:                  softmax cross-entropy per sequence
//   forecast, adding:          mean squared error on the (normalised) targets
//
// Losses are SUMS over this rank's targets; the gradient is divided by the batch's
// global target count, so that summing gradients over data-parallel ranks gives exactly
// the gradient of the global mean (and a rank with an empty batch contributes zero).
// Metrics accumulate sums and counts over batches and ranks, and are divided at the end.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trainer/data/batch.h"
#include "trainer/data/task_data.h"

namespace rnnlab::trainer {

// Sums over batches (and ranks: add the vectors element-wise, see to_vector/from_vector).
struct MetricSums {
  double loss_sum = 0;        // nats (classification) or squared normalised error
  double count = 0;           // targets
  double correct = 0;         // classification tasks
  double abs_error_sum = 0;   // regression, normalised units
  std::vector<double> to_vector() const { return {loss_sum, count, correct, abs_error_sum}; }
  static MetricSums from_vector(const std::vector<double>& v) { return {v[0], v[1], v[2], v[3]}; }
  void add(const MetricSums& other);
};

class Objective {
 public:
  explicit Objective(const data::TaskInfo& info, bool char_level = false);

  // Loss of `output` on `batch` (sum over this rank's targets), accumulated into `sums`;
  // with `diff_output`, also writes d(loss_sum / batch.global_targets)/d(output).
  double evaluate(const data::Batch& batch, const std::vector<float>& output, MetricSums& sums,
                  std::vector<float>* diff_output) const;

  // The task's metrics from accumulated sums, e.g. {"loss", "perplexity", "bpc"},
  // {"loss", "accuracy"}, {"loss", "rmse", "mae"} (original units), {"mse"}.
  std::map<std::string, double> metrics(const MetricSums& sums) const;

 private:
  data::TaskInfo info_;
  bool char_level_;
};

}  // namespace rnnlab::trainer
