#include "trainer/objective.h"

#include <cmath>
#include <stdexcept>

#include "layers/losses.h"

namespace rnnlab::trainer {

void MetricSums::add(const MetricSums& other) {
  loss_sum += other.loss_sum;
  count += other.count;
  correct += other.correct;
  abs_error_sum += other.abs_error_sum;
}

Objective::Objective(const data::TaskInfo& info, bool char_level) : info_(info), char_level_(char_level) {}

double Objective::evaluate(const data::Batch& batch, const std::vector<float>& output, MetricSums& sums,
                           std::vector<float>* diff_output) const {
  const double scale = batch.global_targets > 0 ? 1.0 / double(batch.global_targets) : 0.0;
  float* diff = nullptr;
  if (diff_output) {
    diff_output->resize(output.size());
    diff = diff_output->data();
  }
  double loss = 0;
  if (info_.regression) {
    const int64_t count = int64_t(batch.value_targets.size());
    if (int64_t(output.size()) != count) throw std::logic_error("objective: output and targets differ in size");
    const auto result = layers::mean_squared_error(output.data(), batch.value_targets.data(), count, diff,
                                                   layers::Reduction::sum);
    loss = result.loss;
    for (int64_t i = 0; i < count; ++i) sums.abs_error_sum += std::fabs(output[i] - batch.value_targets[i]);
    sums.count += double(count);
  } else {
    const std::vector<int32_t>& labels = info_.per_step_output ? batch.token_targets : batch.labels;
    const int64_t rows = int64_t(labels.size());
    if (int64_t(output.size()) != rows * info_.output_size)
      throw std::logic_error("objective: output and labels differ in size");
    const auto result = layers::softmax_cross_entropy(output.data(), labels.data(), rows, info_.output_size,
                                                      data::kIgnoreIndex, diff, layers::Reduction::sum);
    loss = result.loss;
    const auto accuracy = layers::count_correct(output.data(), labels.data(), rows, info_.output_size,
                                                data::kIgnoreIndex);
    sums.correct += double(accuracy.correct);
    sums.count += double(result.count);
  }
  sums.loss_sum += loss;
  if (diff)
    for (float& g : *diff_output) g = float(g * scale);
  return loss;
}

std::map<std::string, double> Objective::metrics(const MetricSums& sums) const {
  std::map<std::string, double> out;
  const double n = sums.count > 0 ? sums.count : 1.0;
  const double loss = sums.loss_sum / n;
  if (info_.task == "adding") {
    out["mse"] = loss;
    out["loss"] = loss;
  } else if (info_.regression) {  // forecast: report in original units
    out["loss"] = loss;
    out["rmse"] = std::sqrt(loss) * info_.target_std;
    out["mae"] = sums.abs_error_sum / n * info_.target_std;
  } else {
    out["loss"] = loss;
    out["accuracy"] = sums.correct / n;
    if (info_.task == "language_model") {
      out["perplexity"] = std::exp(loss);
      out[char_level_ ? "bpc" : "bits_per_token"] = loss / std::log(2.0);
    }
  }
  return out;
}

}  // namespace rnnlab::trainer
