#include "trainer/objective.h"

#include <cmath>
#include <stdexcept>

#include "layers/ops.h"

namespace rnnlab::trainer {

void MetricSums::add(const MetricSums& other) {
  loss_sum += other.loss_sum;
  count += other.count;
  correct += other.correct;
  abs_error_sum += other.abs_error_sum;
}

Objective::Objective(const data::TaskInfo& info, bool char_level) : info_(info), char_level_(char_level) {}

// `sums`: where the loss ops add, on output's device.
void Objective::run_loss(const data::Batch& batch, const layers::Buffer<float>& output,
                         const layers::ops::LossSums& sums, layers::Buffer<float>* diff_output) const {
  const layers::Device device = output.device();
  const double scale = batch.global_targets > 0 ? 1.0 / double(batch.global_targets) : 0.0;
  float* diff = nullptr;
  if (diff_output) {
    if (diff_output->device() != device) *diff_output = layers::Buffer<float>(device);
    diff_output->resize(output.size());
    diff = diff_output->data();
  }
  if (labels_.device() != device) labels_ = layers::Buffer<int32_t>(device), values_ = layers::Buffer<float>(device);
  if (info_.regression) {
    const int64_t count = int64_t(batch.value_targets.size());
    if (int64_t(output.size()) != count) throw std::logic_error("objective: output and targets differ in size");
    layers::ops::mean_squared_error(device, output.data(), layers::on_device(batch.value_targets, values_), count,
                                    scale, diff, {sums.loss, sums.count, nullptr, sums.abs_error});
  } else {
    const std::vector<int32_t>& labels = info_.per_step_output ? batch.token_targets : batch.labels;
    const int64_t rows = int64_t(labels.size());
    if (int64_t(output.size()) != rows * info_.output_size)
      throw std::logic_error("objective: output and labels differ in size");
    if (device != layers::Device::cpu)
      layers::ops::check_labels("softmax_cross_entropy", labels.data(), rows, info_.output_size, data::kIgnoreIndex);
    layers::ops::softmax_cross_entropy(device, output.data(), layers::on_device(labels, labels_), rows,
                                       info_.output_size, data::kIgnoreIndex, scale, diff,
                                       {sums.loss, sums.count, sums.correct, nullptr});
  }
}

void Objective::accumulate(const data::Batch& batch, const layers::Buffer<float>& output, double* device_sums,
                           layers::Buffer<float>* diff_output) const {
  run_loss(batch, output, {device_sums, device_sums + 1, device_sums + 2, device_sums + 3}, diff_output);
}

void Objective::evaluate(const data::Batch& batch, const layers::Buffer<float>& output, MetricSums& sums,
                         layers::Buffer<float>* diff_output) const {
  if (output.on_cpu())
    return run_loss(batch, output, {&sums.loss_sum, &sums.count, &sums.correct, &sums.abs_error_sum}, diff_output);
  sums_ = layers::Buffer<double>(output.device(), kMetricSlots);
  sums_.zero();
  accumulate(batch, output, sums_.data(), diff_output);
  sums.add(MetricSums::from_vector(sums_.to_host()));
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
