// The GPU engine (trainer/engine.h): the whole training step on one CUDA device.
//
// Buffers: the parameters and the gradients are ONE device buffer each, with the offsets of
// the host Model's flat buffers (segments()), so the all-reduce, the norms, the optimizer
// and the checkpoints each see one buffer, as on the CPU. The host Model (built on the
// "reference" backend: it is only a container for checkpoints, the summary and generation)
// holds the device parameters as of the last sync_to_host().
//
// One step queues everything on the thread's stream (layers/cuda/device.h) and reads back
// once: the metric sums and the per-group squared gradient norms (a few doubles). Other
// host traffic per step: the batch's inputs and targets going up. The carried state of a
// truncated-BPTT task stays on the device: the step's final state buffers are swapped into
// carried_h_/carried_c_ (no copy), the next step starts from them, and the host
// CarriedState sees them only through sync_carried_to_host() (checkpoint save) or after the
// loop replaced them (restore: uploaded once; cleared: zeros); engine.h has the rules.
// Evaluation carries its state the same way, in h0_/c0_. With several ranks: the nccl
// communicator all-reduces the device gradients in place after the stream is synchronised; any other
// communicator gets them through a host copy (correct, slower).
//
// Numerics: the same kernels' contracts as the CPU (layers/cuda/kernels.h); the recurrent
// stack is cuDNN in FP32 (no TF32), so a GPU run follows the CPU run's loss curve within
// float tolerance (tests/trainer/gpu_train_test.cc), not bit for bit.
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "layers/cuda/device.h"
#include "layers/cuda/kernels.h"
#include "layers/cudnn/cudnn_stack.h"
#include "layers/dropout.h"
#include "trainer/collectives.h"
#include "trainer/data/task_data.h"
#include "trainer/engine.h"
#include "trainer/gpu/gpu_optimizer.h"

namespace rnnlab::trainer {
namespace {

namespace cuda = layers::cuda;
using cuda::DeviceBuffer;

// model.cc's stream of the dropout mask in front of the head.
constexpr uint64_t kHeadDropoutStream = 0x2000;

template <typename T>
void upload(DeviceBuffer<T>& buffer, const std::vector<T>& host) {
  buffer.upload(host.data(), host.size());
}

class GpuEngine final : public Engine {
 public:
  GpuEngine(const Config& config, const data::TaskInfo& info) : info_(info) {
    ModelSpec spec = model_spec(config, info);
    backend_ = spec.backend;
    spec.backend = "reference";  // the host copy never runs a step
    model_ = std::make_unique<Model>(spec, config.train.seed);
    spec_ = model_->spec();
    gpu_optimizer_ = std::make_unique<gpu::GpuOptimizer>(optimizer_options(config.train), model_->parameter_count());
    optimizer_ = gpu_optimizer_->release_host();
    stack_ = std::make_unique<layers::CudnnStack>(spec_.recurrent);

    for (const auto& segment : model_->segments()) {
      if (segment.name == "embedding.weight") embedding_offset_ = segment.offset;
      if (segment.name == "head.weight") head_weight_offset_ = segment.offset;
      if (segment.name == "head.bias") head_bias_offset_ = segment.offset;
      if (rnn_offset_ < 0 && segment.name.rfind("rnn.", 0) == 0) rnn_offset_ = segment.offset;
      if (groups_.empty() || groups_.back().name != segment.group) groups_.push_back({segment.group, {}});
      // Consecutive segments are adjacent in the flat buffer: a group is usually ONE range,
      // so its squared norm costs one reduction per step.
      auto& ranges = groups_.back().ranges;
      if (!ranges.empty() && ranges.back().first + ranges.back().second == segment.offset)
        ranges.back().second += segment.size();
      else
        ranges.push_back({segment.offset, segment.size()});
    }
    const size_t count = size_t(model_->parameter_count());
    params_.resize(count);
    grads_.resize(count);
    grads_.zero();
    metrics_.resize(size_t(cuda::kMetricSlots) + groups_.size());
    host_metrics_.resize(metrics_.size());
    sync_from_host();
  }

  std::string_view backend() const override { return backend_; }

  float* collective_gradients() override { return device_collectives_ ? grads_.data() : host_grads(); }
  bool overlap_possible() const override { return false; }  // one all-reduce after backward
  bool collectives_on_device() const override { return device_collectives_; }
  // The loop tells the engine which kind of communicator it has before building Collectives.
  void use_device_collectives(bool device) { device_collectives_ = device; }

  void broadcast_parameters(Collectives& collectives) override {
    if (collectives.size() == 1) return;
    if (device_collectives_) {
      collectives.broadcast(params_.data(), model_->parameter_count());
    } else {
      sync_to_host();
      collectives.broadcast(model_->params(), model_->parameter_count());
      sync_from_host();
    }
  }

  MetricSums forward_backward(const data::Batch& batch, uint64_t dropout_seed, CarriedState* carried,
                              Collectives& collectives) override {
    // Host -> device copies synchronise the stream, so every input goes up before the
    // first kernel of the step: the step then runs without a host wait until its read-back.
    const bool has_data = batch.batch_size > 0;
    if (has_data) {
      upload_inputs(batch, true);
      prepare_carried(batch, carried);
    }
    grads_.zero();
    metrics_.zero();
    if (has_data) {
      forward(true, dropout_seed, carry_ ? carried_h_.data() : nullptr, carry_c_ ? carried_c_.data() : nullptr);
      loss(batch, true);
      backward();
    }
    // All-reduce of the gradients: NCCL on the device buffer once the stream has finished
    // writing it; otherwise through the host.
    collectives.begin_gradients();
    if (collectives.size() > 1) {
      if (device_collectives_) {
        cuda::device_context().synchronize();
        collectives.end_gradients();
      } else {
        grads_.download(host_grads());
        collectives.end_gradients();
        grads_.upload(host_grads(), grads_.size());
      }
    } else {
      collectives.end_gradients();
    }
    // Per-group squared norms, then the one read-back of the step.
    for (size_t g = 0; g < groups_.size(); ++g)
      for (auto [offset, size] : groups_[g].ranges)
        cuda::sum_of_squares(grads_.data() + offset, size, metrics_.data() + cuda::kMetricSlots + g);
    metrics_.download(host_metrics_.data());
    if (has_data) keep_carried(carried);
    return MetricSums{host_metrics_[0], host_metrics_[1], host_metrics_[2], host_metrics_[3]};
  }

  std::vector<double> gradient_group_square_sums() override {
    return std::vector<double>(host_metrics_.begin() + cuda::kMetricSlots, host_metrics_.end());
  }

  double clip_and_step(double max_norm, double lr) override {
    double sum = 0;
    for (size_t g = 0; g < groups_.size(); ++g) sum += host_metrics_[size_t(cuda::kMetricSlots) + g];
    const double norm = std::sqrt(sum);
    // clip_grad_norm's rule; the factor is applied inside the optimizer kernel.
    const float grad_scale =
        max_norm > 0 && std::isfinite(norm) && norm > max_norm ? float(max_norm / (norm + 1e-6)) : 1.0f;
    gpu_optimizer_->step(params_.data(), grads_.data(), lr, grad_scale);
    return norm;
  }

  MetricSums evaluate(const std::vector<data::Batch>& batches) override {
    // The state carried through `batches` stays on the device: the final state of a batch
    // is swapped into h0_/c0_ for the next (model.cc's rule: same batch size, no reset).
    metrics_.zero();
    const bool lstm = spec_.recurrent.cell == layers::Cell::lstm;
    int state_batch = 0;  // batch size of the state in h0_/c0_; 0 = none yet
    for (const auto& batch : batches) {
      if (batch.batch_size == 0) continue;
      upload_inputs(batch, false);
      const bool carry = !batch.resets_state && state_batch == batch_;
      forward(false, 0, carry ? h0_.data() : nullptr, carry && lstm ? c0_.data() : nullptr);
      loss(batch, false);
      std::swap(h_final_, h0_);
      std::swap(c_final_, c0_);
      state_batch = batch_;
    }
    metrics_.download(host_metrics_.data());
    return MetricSums{host_metrics_[0], host_metrics_[1], host_metrics_[2], host_metrics_[3]};
  }

  void sync_to_host() override {
    params_.download(model_->params());
    gpu_optimizer_->download_state();
  }
  void sync_from_host() override {
    params_.upload(model_->params(), size_t(model_->parameter_count()));
    gpu_optimizer_->upload_state();
  }
  void sync_carried_to_host(CarriedState& carried) override {
    if (!carried.on_device || !carried.h.empty()) return;  // the host copy is already the state
    // Synchronous downloads on the engine's stream: after every queued step has written them.
    carried.h.resize(carried_h_.size());
    carried_h_.download(carried.h.data());
    carried.c.resize(carried_c_.size());
    if (!carried_c_.empty()) carried_c_.download(carried.c.data());
  }

 private:
  float* host_grads() {
    host_grads_.resize(size_t(model_->parameter_count()));
    return host_grads_.data();
  }

  int64_t head_rows() const {
    return spec_.per_step_output ? int64_t(seq_len_) * batch_ : int64_t(batch_);
  }

  // Everything a batch needs from the host, checked as the CPU functions check it (ids and
  // labels in range) and copied up: inputs, targets, the embedding-gradient plan. Also sets
  // the shapes of the step.
  void upload_inputs(const data::Batch& batch, bool training) {
    seq_len_ = batch.seq_len;
    batch_ = batch.batch_size;
    const int64_t steps = int64_t(seq_len_) * batch_;
    if (!batch.lengths.empty() && int64_t(batch.lengths.size()) != batch_)
      throw std::invalid_argument("GPU engine: batch has " + std::to_string(batch.lengths.size()) +
                                  " lengths for " + std::to_string(batch_) + " sequences");
    // 1. Inputs: token ids (and, for training, the order of the embedding gradient), or values.
    if (spec_.vocab_size > 0) {
      if (int64_t(batch.tokens.size()) != steps) throw std::invalid_argument("GPU engine: token count != T * N");
      for (size_t i = 0; i < batch.tokens.size(); ++i)
        if (batch.tokens[i] < 0 || batch.tokens[i] >= spec_.vocab_size)
          throw std::invalid_argument("embedding: id " + std::to_string(batch.tokens[i]) + " at position " +
                                      std::to_string(i) + " is outside [0, " + std::to_string(spec_.vocab_size) + ")");
      upload(tokens_, batch.tokens);
      if (training) {
        const std::vector<int32_t> plan = cuda::plan_embedding_backward(batch.tokens.data(), steps, spec_.vocab_size);
        upload(embedding_plan_, plan);
        embedding_unique_ids_ = plan[0];
      }
    } else {
      if (batch.features != spec_.input_features)
        throw std::invalid_argument("batch has " + std::to_string(batch.features) + " features, model expects " +
                                    std::to_string(spec_.input_features));
      upload(embedded_, batch.values);
    }
    // 2. Targets.
    const int64_t rows = head_rows();
    if (info_.regression) {
      if (int64_t(batch.value_targets.size()) != rows * spec_.output_size)
        throw std::logic_error("objective: output and targets differ in size");
      upload(value_targets_, batch.value_targets);
    } else {
      const std::vector<int32_t>& labels = info_.per_step_output ? batch.token_targets : batch.labels;
      if (int64_t(labels.size()) != rows) throw std::logic_error("objective: output and labels differ in size");
      for (size_t r = 0; r < labels.size(); ++r)
        if (labels[r] != data::kIgnoreIndex && (labels[r] < 0 || labels[r] >= spec_.output_size))
          throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[r]) + " at row " +
                                      std::to_string(r) + " is out of range [0, " +
                                      std::to_string(spec_.output_size) + ") and is not ignore_index");
      upload(labels_, labels);
    }
    lengths_ = batch.lengths;
  }

  // Where the training step starts from (engine.h's rules): sets carry_/carry_c_, and uploads
  // the host copy into carried_h_/carried_c_ when the loop replaced it. After upload_inputs.
  void prepare_carried(const data::Batch& batch, const CarriedState* state) {
    const layers::RecurrentOptions& rnn = spec_.recurrent;
    const bool lstm = rnn.cell == layers::Cell::lstm;
    carry_ = carry_c_ = false;
    if (!state || batch.resets_state || state->batch != batch_) return;
    if (!state->h.empty()) {  // restored, or the copy of the last sync: it is the state
      const size_t states = size_t(rnn.num_layers) * size_t(layers::direction_count(rnn.direction)) * size_t(batch_);
      if (state->h.size() != states * size_t(rnn.state_size()) ||
          (lstm && !state->c.empty() && state->c.size() != states * size_t(rnn.hidden_size)))
        throw std::invalid_argument("GPU engine: carried state has " + std::to_string(state->h.size()) + " h and " +
                                    std::to_string(state->c.size()) + " c values, the model needs " +
                                    std::to_string(states * size_t(rnn.state_size())) + " h values for batch " +
                                    std::to_string(batch_));
      upload(carried_h_, state->h);
      carry_ = true;
      carry_c_ = lstm && !state->c.empty();
      if (carry_c_) upload(carried_c_, state->c);
    } else if (state->on_device) {  // the final state of this engine's previous step
      carry_ = !carried_h_.empty();
      carry_c_ = carry_ && lstm && !carried_c_.empty();
    }
  }

  // After a training step: its final state becomes the carried one (a swap of device
  // buffers, no copy; the step's kernels are queued before any later write to either), and
  // the host copy is marked as living on the device.
  void keep_carried(CarriedState* state) {
    if (!state) return;
    std::swap(h_final_, carried_h_);
    std::swap(c_final_, carried_c_);
    state->batch = batch_;
    state->h.clear();
    state->c.clear();
    state->on_device = true;
  }

  // model.cc's forward, on the device (inputs from upload_inputs).
  // h0/c0: the initial state on the device, or nullptr for zeros.
  void forward(bool training, uint64_t dropout_seed, const float* h0, const float* c0) {
    const layers::RecurrentOptions& rnn = spec_.recurrent;
    const int64_t steps = int64_t(seq_len_) * batch_;

    // 1. Input features [T, N, I]: embedding rows, or the values as they are.
    if (spec_.vocab_size > 0) {
      embedded_.resize(size_t(steps * spec_.embedding_size));
      cuda::embedding_forward(params_.data() + embedding_offset_, spec_.vocab_size, spec_.embedding_size,
                              tokens_.data(), steps, embedded_.data());
    }

    // 2. Recurrent stack, from the carried state when the batch continues it.
    const int directions = layers::direction_count(rnn.direction);
    const int64_t states = int64_t(rnn.num_layers) * directions * batch_;
    const bool lstm = rnn.cell == layers::Cell::lstm;
    dst_.resize(size_t(steps * rnn.output_size()));
    h_final_.resize(size_t(states * rnn.state_size()));
    c_final_.resize(lstm ? size_t(states * rnn.hidden_size) : 0);
    layers::RecurrentForwardArgs args;
    args.seq_len = seq_len_;
    args.batch = batch_;
    args.params = params_.data() + rnn_offset_;
    args.src = embedded_.data();
    args.h0 = h0;
    args.c0 = lstm ? c0 : nullptr;
    args.dst = dst_.data();
    args.hT = h_final_.data();
    args.cT = lstm ? c_final_.data() : nullptr;
    args.dropout_seed = dropout_seed;
    stack_->forward(args, training, lengths_.empty() ? nullptr : lengths_.data());

    // 3. Head input: every step's output, or the last layer's final state per direction.
    const int head_in = spec_.head_input_size();
    const int64_t rows = head_rows();
    const bool dropout = training && spec_.head_dropout > 0.0f;
    const float* head_src = dst_.data();
    if (!spec_.per_step_output) {
      head_in_.resize(size_t(rows * head_in));
      cuda::gather_final_states(h_final_.data(), rnn.num_layers, directions, batch_, rnn.state_size(),
                                rnn.direction == layers::Direction::bidirectional_sum, head_in_.data());
      head_src = head_in_.data();
    }
    if (dropout) {
      head_in_.resize(size_t(rows * head_in));
      head_mask_.resize(size_t(rows * head_in));
      cuda::dropout_forward(head_src, head_in_.data(), head_mask_.data(), rows * head_in, spec_.head_dropout,
                            dropout_seed, kHeadDropoutStream);
      head_src = head_in_.data();
    }
    head_input_ = head_src;

    // 4. Linear head.
    output_.resize(size_t(rows * spec_.output_size));
    cuda::linear_forward({rows, head_in, spec_.output_size}, head_input_, params_.data() + head_weight_offset_,
                         params_.data() + head_bias_offset_, output_.data());
  }

  // objective.cc's evaluate: sums into metrics_; with training, the gradient of
  // loss_sum / global_targets into diff_output_.
  void loss(const data::Batch& batch, bool training) {
    const double scale = batch.global_targets > 0 ? 1.0 / double(batch.global_targets) : 0.0;
    const int64_t rows = head_rows();
    float* diff = nullptr;
    if (training) {
      diff_output_.resize(size_t(rows * spec_.output_size));
      diff = diff_output_.data();
    }
    if (info_.regression) {
      cuda::mean_squared_error(output_.data(), value_targets_.data(), rows * spec_.output_size, scale, diff,
                               metrics_.data());
    } else {
      cuda::softmax_cross_entropy(output_.data(), labels_.data(), rows, spec_.output_size, data::kIgnoreIndex,
                                  scale, diff, metrics_.data());
    }
  }

  // model.cc's backward, on the device; gradients are added to grads_ (zeroed per step).
  void backward() {
    const layers::RecurrentOptions& rnn = spec_.recurrent;
    const int64_t steps = int64_t(seq_len_) * batch_;
    const int head_in = spec_.head_input_size();
    const int64_t rows = head_rows();
    const int directions = layers::direction_count(rnn.direction);

    // 1. Head: weight and bias gradients, and the gradient of its input (through the mask).
    diff_head_in_.resize(size_t(rows * head_in));
    cuda::linear_backward({rows, head_in, spec_.output_size}, head_input_, params_.data() + head_weight_offset_,
                          diff_output_.data(), diff_head_in_.data(), grads_.data() + head_weight_offset_,
                          grads_.data() + head_bias_offset_);
    if (spec_.head_dropout > 0.0f) cuda::multiply(diff_head_in_.data(), head_mask_.data(), rows * head_in);

    // 2. Into the stack's outputs: every step's dst, or the last layer's final states.
    layers::RecurrentBackwardArgs args;
    if (spec_.per_step_output) {
      args.diff_dst = diff_head_in_.data();
    } else {
      diff_dst_.resize(size_t(steps * rnn.output_size()));
      diff_dst_.zero();
      diff_h_final_.resize(h_final_.size());
      cuda::scatter_final_states(diff_head_in_.data(), rnn.num_layers, directions, batch_, rnn.state_size(),
                                 rnn.direction == layers::Direction::bidirectional_sum, diff_h_final_.data());
      args.diff_dst = diff_dst_.data();
      args.diff_hT = diff_h_final_.data();
    }

    // 3. Through the stack (the carried initial state is detached: no diff_h0).
    const bool needs_diff_src = spec_.vocab_size > 0;
    if (needs_diff_src) diff_embedded_.resize(size_t(steps * rnn.input_size));
    args.diff_src = needs_diff_src ? diff_embedded_.data() : nullptr;
    args.diff_params = grads_.data() + rnn_offset_;
    stack_->backward(args);

    // 4. Embedding rows, summed per id in position order (deterministic).
    if (needs_diff_src)
      cuda::embedding_backward(diff_embedded_.data(), spec_.embedding_size, embedding_plan_.data(),
                               embedding_unique_ids_, steps, grads_.data() + embedding_offset_);
  }

  struct Group {
    std::string name;
    std::vector<std::pair<int64_t, int64_t>> ranges;
  };

  data::TaskInfo info_;
  std::string backend_;
  ModelSpec spec_;
  std::unique_ptr<gpu::GpuOptimizer> gpu_optimizer_;
  std::unique_ptr<layers::CudnnStack> stack_;
  std::vector<Group> groups_;
  int64_t embedding_offset_ = 0, rnn_offset_ = -1, head_weight_offset_ = 0, head_bias_offset_ = 0;
  bool device_collectives_ = false;

  DeviceBuffer<float> params_, grads_;
  DeviceBuffer<double> metrics_;  // MetricSums slots, then one squared norm per group
  std::vector<double> host_metrics_;
  std::vector<float> host_grads_;

  // Activations of the last forward.
  int seq_len_ = 0, batch_ = 0;
  bool carry_ = false, carry_c_ = false;
  int64_t embedding_unique_ids_ = 0;
  std::vector<int32_t> lengths_;
  DeviceBuffer<int32_t> tokens_, labels_, embedding_plan_;
  DeviceBuffer<float> carried_h_, carried_c_;  // the training state carried to the next step
  DeviceBuffer<float> embedded_, dst_, h0_, c0_, h_final_, c_final_, head_in_, head_mask_, output_, value_targets_;
  DeviceBuffer<float> diff_output_, diff_head_in_, diff_dst_, diff_h_final_, diff_embedded_;
  const float* head_input_ = nullptr;
};

}  // namespace

// Declared in trainer/engine.cc. The objective's rules are the loss kernels' (no host
// Objective is needed per step); the parameter keeps the factory's shape.
std::unique_ptr<Engine> make_gpu_engine(const Config& config, const data::TaskInfo& info, const Objective&,
                                        bool device_collectives) {
  auto engine = std::make_unique<GpuEngine>(config, info);
  engine->use_device_collectives(device_collectives);
  return engine;
}

}  // namespace rnnlab::trainer
