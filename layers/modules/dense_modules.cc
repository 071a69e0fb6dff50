#include "layers/modules/dense_modules.h"

#include <stdexcept>
#include <utility>

#include "layers/ops.h"

namespace rnnlab::layers {

Embedding::Embedding(ParameterSet& parameters, std::string name, int64_t vocab_size, int64_t dim)
    : Module(parameters, std::move(name)), vocab_size_(vocab_size), dim_(dim), device_ids_(device()), dst_(device()) {
  offset_ = add("weight", {vocab_size, dim});
}

void Embedding::initialize(InitScheme scheme, uint64_t seed) {
  init_embedding(vocab_size_, dim_, scheme, seed, parameters_.host_params() + offset_);
}

const Buffer<float>& Embedding::forward(const std::vector<int32_t>& ids) {
  const int64_t count = int64_t(ids.size());
  if (device() != Device::cpu) ops::check_ids("embedding_forward", ids.data(), count, vocab_size_);
  ids_ = ids;
  dst_.resize(size_t(count * dim_));
  ops::embedding_forward(device(), parameters_.param(offset_), vocab_size_, dim_, on_device(ids_, device_ids_), count,
                         dst_.data());
  return dst_;
}

void Embedding::backward(const float* diff_dst) {
  ops::embedding_backward(device(), diff_dst, ids_.data(), int64_t(ids_.size()), vocab_size_, dim_,
                          parameters_.grad(offset_));
}

Linear::Linear(ParameterSet& parameters, std::string name, int64_t in_features, int64_t out_features)
    : Module(parameters, std::move(name)), in_(in_features), out_(out_features), dst_(device()), diff_src_(device()) {
  weight_offset_ = add("weight", {out_features, in_features});
  bias_offset_ = add("bias", {out_features});
}

void Linear::initialize(InitScheme scheme, uint64_t seed) {
  float* host = parameters_.host_params();
  init_linear(in_, out_, scheme, seed, host + weight_offset_, host + bias_offset_);
}

const Buffer<float>& Linear::forward(const float* src, int64_t rows) {
  src_ = src;
  rows_ = rows;
  dst_.resize(size_t(rows * out_));
  ops::linear_forward(device(), {rows, in_, out_}, src, parameters_.param(weight_offset_),
                      parameters_.param(bias_offset_), dst_.data());
  return dst_;
}

Buffer<float>& Linear::backward(const float* diff_dst, bool diff_src) {
  if (!src_) throw std::logic_error(name() + ": backward without a forward");
  diff_src_.resize(diff_src ? size_t(rows_ * in_) : 0);
  ops::linear_backward(device(), {rows_, in_, out_}, src_, parameters_.param(weight_offset_), diff_dst,
                       diff_src ? diff_src_.data() : nullptr, parameters_.grad(weight_offset_),
                       parameters_.grad(bias_offset_));
  return diff_src_;
}

const float* Dropout::forward(const float* src, int64_t count, bool training, uint64_t seed) {
  applied_ = training && p_ > 0.0f;
  if (!applied_) return src;
  dst_.resize(size_t(count));
  mask_.resize(size_t(count));
  ops::dropout_forward(dst_.device(), src, dst_.data(), mask_.data(), count, p_, seed, stream_);
  return dst_.data();
}

void Dropout::backward(float* values, int64_t count) const {
  if (applied_) ops::multiply(mask_.device(), values, mask_.data(), count);
}

FinalStates::FinalStates(Device device, const RecurrentOptions& options)
    : options_(options), dst_(device), diff_h_(device) {}

int FinalStates::width() const {
  const int s = options_.state_size();
  return options_.direction == Direction::bidirectional_sum ? s : direction_count(options_.direction) * s;
}

const Buffer<float>& FinalStates::forward(const float* h, int batch) {
  batch_ = batch;
  dst_.resize(size_t(batch) * size_t(width()));
  ops::gather_final_states(dst_.device(), h, options_.num_layers, direction_count(options_.direction), batch,
                           options_.state_size(), options_.direction == Direction::bidirectional_sum, dst_.data());
  return dst_;
}

const Buffer<float>& FinalStates::backward(const float* diff_dst) {
  const int directions = direction_count(options_.direction);
  diff_h_.resize(size_t(options_.num_layers) * size_t(directions) * size_t(batch_) * size_t(options_.state_size()));
  ops::scatter_final_states(diff_h_.device(), diff_dst, options_.num_layers, directions, batch_,
                            options_.state_size(), options_.direction == Direction::bidirectional_sum,
                            diff_h_.data());
  return diff_h_;
}

}  // namespace rnnlab::layers
