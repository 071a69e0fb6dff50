// The engine (trainer/engine.h): one training step over the model's device.
#include "trainer/engine.h"

#include <cmath>
#include <stdexcept>

#include "layers/ops.h"
#include "trainer/collectives.h"

namespace rnnlab::trainer {

Engine::Engine(const Config& config, const data::TaskInfo& info, const Objective& objective,
               bool device_collectives)
    : objective_(objective), device_collectives_(device_collectives) {
  model_ = std::make_unique<Model>(model_spec(config, info), config.train.seed);
  optimizer_ = make_optimizer(optimizer_options(config.train), model_->parameter_count(), device());
  for (const auto& segment : model_->segments()) {
    if (groups_.empty() || groups_.back().name != segment.group) groups_.push_back({segment.group, {}});
    // Consecutive segments are adjacent in the flat buffer: a group is usually ONE range,
    // so its squared norm is one op per step (same sum, in the same order, as per segment).
    auto& ranges = groups_.back().ranges;
    if (!ranges.empty() && ranges.back().first + ranges.back().second == segment.offset)
      ranges.back().second += segment.size();
    else
      ranges.push_back({segment.offset, segment.size()});
  }
  scalars_ = layers::Buffer<double>(device(), total_slot() + 1);
  host_scalars_.assign(scalars_.size(), 0.0);
  diff_output_ = layers::Buffer<float>(device());
  if (device() != layers::Device::cpu && !device_collectives_) host_grads_.resize(size_t(model_->parameter_count()));
}

float* Engine::collective_gradients() {
  return host_grads_.empty() ? model_->grad_buffer().data() : host_grads_.data();
}

void Engine::broadcast_parameters(Collectives& collectives) {
  if (host_grads_.empty()) {  // the communicator reads the parameters where they are
    collectives.broadcast(model_->param_buffer().data(), model_->parameter_count());
    return;
  }
  if (collectives.size() == 1) return;
  sync_to_host();
  collectives.broadcast(model_->params(), model_->parameter_count());
  sync_from_host();
}

MetricSums Engine::forward_backward(const data::Batch& batch, uint64_t dropout_seed, CarriedState* carried,
                                    Collectives& collectives) {
  // 1. Forward and loss; the gradient of the global mean loss.
  const bool has_data = batch.batch_size > 0;
  model_->zero_grads();
  scalars_.zero();
  if (has_data) objective_.accumulate(batch, model_->forward(batch, true, dropout_seed, carried), scalars_.data(),
                                      &diff_output_);
  // 2. Backward; on the cpu, gradient ranges go to the all-reduce as soon as they are final.
  collectives.begin_gradients();
  if (has_data) {
    if (overlap_possible())
      model_->backward(diff_output_, [&](int64_t begin, int64_t end) { collectives.ready(begin, end); });
    else
      model_->backward(diff_output_);
  }
  layers::Buffer<float>& grads = model_->grad_buffer();
  const bool staged = !host_grads_.empty() && collectives.size() > 1;
  if (staged) grads.download(host_grads_.data());
  if (collectives_on_device() && collectives.size() > 1) layers::synchronize(device());
  collectives.end_gradients();
  if (staged) grads.upload(host_grads_);
  // 3. Squared norms per group and over the whole buffer, then the one read-back.
  for (size_t g = 0; g < groups_.size(); ++g)
    for (auto [offset, size] : groups_[g].ranges)
      layers::ops::sum_of_squares(device(), grads.data() + offset, size, scalars_.data() + group_slot(g));
  layers::ops::sum_of_squares(device(), grads.data(), int64_t(grads.size()), scalars_.data() + total_slot());
  scalars_.download(host_scalars_.data());
  return metric_sums();
}

MetricSums Engine::metric_sums() const {
  return MetricSums::from_vector(std::vector<double>(host_scalars_.begin(), host_scalars_.begin() + kMetricSlots));
}

std::vector<double> Engine::gradient_group_square_sums() const {
  return std::vector<double>(host_scalars_.begin() + kMetricSlots, host_scalars_.begin() + long(total_slot()));
}

double Engine::clip_and_step(double max_norm, double lr) {
  const double norm = std::sqrt(host_scalars_[total_slot()]);
  optimizer_->step(model_->param_buffer().data(), model_->grad_buffer().data(), model_->parameter_count(), lr,
                   clip_scale(norm, max_norm));
  return norm;
}

MetricSums Engine::evaluate(const std::vector<data::Batch>& batches) {
  scalars_.zero();
  CarriedState state;
  for (const auto& batch : batches) {
    if (batch.batch_size == 0) continue;  // this rank's slice of an uneven last batch
    objective_.accumulate(batch, model_->forward(batch, false, 0, &state), scalars_.data(), nullptr);
  }
  scalars_.download(host_scalars_.data(), kMetricSlots);
  return metric_sums();
}

void Engine::sync_to_host() {
  model_->sync_to_host();
  optimizer_->download_state();
}

void Engine::sync_from_host() {
  model_->sync_from_host();
  optimizer_->upload_state();
}

bool is_gpu_backend(const std::string& backend) { return layers::backend_device(backend) == layers::Device::cuda; }

void require_engine_available(const Config& config) {
  if (!is_gpu_backend(config.model.backend)) return;
  const std::string where = (config.source.empty() ? std::string("config") : config.source) +
                            ": model.backend: " + config.model.backend;
#ifndef RNNLAB_WITH_CUDA
  throw std::invalid_argument(where + " needs a build with the GPU path (RNNLAB_WITH_CUDA); this one has none. "
                              "Use model.backend: onednn to train on the CPU");
#else
  if (!layers::device_available(layers::Device::cuda))
    throw std::invalid_argument(where + " needs a CUDA device, and there is none (" +
                                layers::device_unavailable_reason(layers::Device::cuda) +
                                "). Use model.backend: onednn to train on the CPU");
#endif
}

std::unique_ptr<Engine> make_engine(const Config& config, const data::TaskInfo& info, const Objective& objective,
                                    bool device_collectives) {
  require_engine_available(config);
  return std::make_unique<Engine>(config, info, objective, device_collectives);
}

}  // namespace rnnlab::trainer
