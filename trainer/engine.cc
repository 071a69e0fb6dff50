// The CPU engine (trainer/engine.h) and the engine factory. The CPU engine makes exactly
// the calls train.cc's loop made before engines existed, in the same order, so CPU runs
// stay bit-identical.
#include "trainer/engine.h"

#include <cmath>
#include <stdexcept>

#include "layers/cuda/device.h"
#include "trainer/collectives.h"

namespace rnnlab::trainer {

#ifdef RNNLAB_WITH_CUDA
// trainer/gpu/gpu_engine.cc
std::unique_ptr<Engine> make_gpu_engine(const Config& config, const data::TaskInfo& info, const Objective& objective,
                                        bool device_collectives);
#endif

namespace {

class CpuEngine final : public Engine {
 public:
  CpuEngine(const Config& config, const data::TaskInfo& info, const Objective& objective) : objective_(objective) {
    model_ = std::make_unique<Model>(model_spec(config, info), config.train.seed);
    optimizer_ = make_optimizer(optimizer_options(config.train), model_->parameter_count());
    for (const auto& segment : model_->segments()) {
      if (groups_.empty() || groups_.back().name != segment.group) groups_.push_back({segment.group, {}});
      groups_.back().ranges.push_back({segment.offset, segment.size()});
    }
  }

  std::string_view backend() const override { return model_->spec().backend; }
  float* collective_gradients() override { return model_->grads(); }
  bool overlap_possible() const override { return true; }
  bool collectives_on_device() const override { return false; }

  void broadcast_parameters(Collectives& collectives) override {
    collectives.broadcast(model_->params(), model_->parameter_count());
  }

  MetricSums forward_backward(const data::Batch& batch, uint64_t dropout_seed, CarriedState* carried,
                              Collectives& collectives) override {
    // 1. Forward and loss; the gradient of the global mean loss.
    const bool has_data = batch.batch_size > 0;
    model_->zero_grads();
    MetricSums sums;
    if (has_data) {
      const auto& output = model_->forward(batch, true, dropout_seed, carried);
      objective_.evaluate(batch, output, sums, &diff_output_);
    }
    // 2. Backward; gradient ranges go to the all-reduce as soon as they are final.
    collectives.begin_gradients();
    if (has_data)
      model_->backward(diff_output_, [&](int64_t begin, int64_t end) { collectives.ready(begin, end); });
    collectives.end_gradients();
    return sums;
  }

  std::vector<double> gradient_group_square_sums() override {
    std::vector<double> sums;
    const float* grads = model_->grads();
    for (const auto& group : groups_) {
      double sum = 0;
      for (auto [offset, size] : group.ranges)
        for (int64_t i = 0; i < size; ++i) sum += double(grads[offset + i]) * grads[offset + i];
      sums.push_back(sum);
    }
    return sums;
  }

  double clip_and_step(double max_norm, double lr) override {
    const double grad_norm = max_norm > 0 ? clip_grad_norm(model_->grads(), model_->parameter_count(), max_norm)
                                          : l2_norm(model_->grads(), model_->parameter_count());
    optimizer_->step(model_->params(), model_->grads(), model_->parameter_count(), lr);
    return grad_norm;
  }

  MetricSums evaluate(const std::vector<data::Batch>& batches) override {
    MetricSums sums;
    CarriedState state;
    for (const auto& batch : batches) {
      if (batch.batch_size == 0) continue;  // this rank's slice of an uneven last batch
      const auto& output = model_->forward(batch, false, 0, &state);
      objective_.evaluate(batch, output, sums, nullptr);
    }
    return sums;
  }

  void sync_to_host() override {}
  void sync_from_host() override {}
  void sync_carried_to_host(CarriedState&) override {}  // the host copy is the state

 private:
  struct Group {
    std::string name;
    std::vector<std::pair<int64_t, int64_t>> ranges;
  };
  const Objective& objective_;
  std::vector<Group> groups_;
  std::vector<float> diff_output_;
};

}  // namespace

bool is_gpu_backend(const std::string& backend) { return backend == "cudnn" || backend == "gpu"; }

void require_engine_available(const Config& config) {
  if (!is_gpu_backend(config.model.backend)) return;
  const std::string where = (config.source.empty() ? std::string("config") : config.source) +
                            ": model.backend: " + config.model.backend;
#ifndef RNNLAB_WITH_CUDA
  throw std::invalid_argument(where + " needs a build with the GPU path (RNNLAB_WITH_CUDA); this one has none. "
                              "Use model.backend: onednn to train on the CPU");
#else
  if (!layers::cuda::cuda_device_available())
    throw std::invalid_argument(where + " needs a CUDA device, and there is none (" +
                                layers::cuda::cuda_unavailable_reason() +
                                "). Use model.backend: onednn to train on the CPU");
#endif
}

std::unique_ptr<Engine> make_engine(const Config& config, const data::TaskInfo& info, const Objective& objective,
                                    bool device_collectives) {
  require_engine_available(config);
#ifdef RNNLAB_WITH_CUDA
  if (is_gpu_backend(config.model.backend)) return make_gpu_engine(config, info, objective, device_collectives);
#else
  (void)device_collectives;
#endif
  return std::make_unique<CpuEngine>(config, info, objective);
}

}  // namespace rnnlab::trainer
