#include "trainer/model.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/pytorch_format.h"
#include "trainer/checkpoint.h"

namespace rnnlab::trainer {
namespace {

// Dropout stream of the mask in front of the head (the stack's own masks use
// kRecurrentDropoutStream + layer).
constexpr uint64_t kHeadDropoutStream = 0x2000;

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// "weight_ih_l1_reverse" -> "rnn.l1"
std::string recurrent_group(const std::string& name) {
  const auto at = name.find("_l");
  size_t end = at + 2;
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  return "rnn.l" + name.substr(at + 2, end - at - 2);
}

}  // namespace

int ModelSpec::head_input_size() const {
  if (per_step_output) return recurrent.output_size();
  const int directions = layers::direction_count(recurrent.direction);
  return recurrent.direction == layers::Direction::bidirectional_sum ? recurrent.state_size()
                                                                      : directions * recurrent.state_size();
}

int64_t ParamSegment::size() const { return product(shape); }

ModelSpec model_spec(const Config& config, const data::TaskInfo& info) {
  const ModelConfig& m = config.model;
  ModelSpec spec;
  spec.vocab_size = info.vocab_size;
  spec.input_features = info.input_features;
  if (info.vocab_size > 0 && m.embedding_size <= 0)
    throw std::invalid_argument("model.embedding_size must be > 0 for task '" + info.task + "' (token input)");
  spec.embedding_size = info.vocab_size > 0 ? m.embedding_size : 0;
  spec.recurrent.cell = layers::parse_cell(m.cell);
  spec.recurrent.input_size = info.vocab_size > 0 ? m.embedding_size : info.input_features;
  spec.recurrent.hidden_size = m.hidden_size;
  spec.recurrent.num_layers = m.layers;
  spec.recurrent.direction = !m.bidirectional ? layers::Direction::forward
                             : m.merge == "sum" ? layers::Direction::bidirectional_sum
                                                : layers::Direction::bidirectional_concat;
  spec.recurrent.dropout = float(m.dropout);
  spec.recurrent.peephole = m.peephole;
  spec.recurrent.projection_size = m.projection_size;
  layers::validate(spec.recurrent);
  spec.backend = m.backend;
  spec.per_step_output = info.per_step_output;
  spec.output_size = info.output_size;
  spec.head_dropout = float(m.dropout);
  spec.init = layers::parse_init_scheme(m.init);
  spec.embedding_init = m.embedding_init == "auto" ? spec.init : layers::parse_init_scheme(m.embedding_init);
  return spec;
}

Model::Model(const ModelSpec& spec, uint64_t seed) : spec_(spec) {
  stack_ = layers::make_recurrent_stack(spec.backend, spec.recurrent);
  int64_t offset = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape, std::string group) {
    segments_.push_back({std::move(name), std::move(shape), offset, std::move(group)});
    offset += segments_.back().size();
    return segments_.back().offset;
  };
  if (spec.vocab_size > 0) embedding_offset_ = add("embedding.weight", {spec.vocab_size, spec.embedding_size}, "embedding");
  rnn_offset_ = offset;
  for (const auto& info : layers::recurrent_parameters(spec.recurrent))
    segments_.push_back({"rnn." + info.name, info.shape, rnn_offset_ + info.offset, recurrent_group(info.name)});
  offset = rnn_offset_ + layers::recurrent_parameter_count(spec.recurrent);
  head_weight_offset_ = add("head.weight", {spec.output_size, spec.head_input_size()}, "head");
  head_bias_offset_ = add("head.bias", {spec.output_size}, "head");
  params_.assign(size_t(offset), 0.0f);
  grads_.assign(size_t(offset), 0.0f);

  // Each layer draws from its own seed so that adding a layer never reshuffles the others.
  if (spec.vocab_size > 0)
    layers::init_embedding(spec.vocab_size, spec.embedding_size, spec.embedding_init, layers::init_seed(seed, 0),
                           params_.data() + embedding_offset_);
  layers::init_recurrent(spec.recurrent, spec.init, layers::init_seed(seed, 1), params_.data() + rnn_offset_);
  layers::init_linear(spec.head_input_size(), spec.output_size, spec.init, layers::init_seed(seed, 2),
                      params_.data() + head_weight_offset_, params_.data() + head_bias_offset_);
}

void Model::zero_grads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

const std::vector<float>& Model::forward(const data::Batch& batch, bool training, uint64_t dropout_seed,
                                         CarriedState* state) {
  const layers::RecurrentOptions& rnn = spec_.recurrent;
  seq_len_ = batch.seq_len;
  batch_ = batch.batch_size;
  training_ = training;
  // Padded batches (data/batch.h): the stack runs each sequence over its own length.
  const bool padded = !batch.lengths.empty();
  if (padded && int64_t(batch.lengths.size()) != batch_)
    throw std::invalid_argument("batch has " + std::to_string(batch.lengths.size()) + " lengths for " +
                                std::to_string(batch_) + " sequences");
  const int64_t steps = int64_t(seq_len_) * batch_;

  // 1. Input features [T, N, I].
  const float* src = nullptr;
  if (spec_.vocab_size > 0) {
    tokens_ = batch.tokens;
    embedded_.resize(size_t(steps * spec_.embedding_size));
    layers::embedding_forward(params_.data() + embedding_offset_, spec_.vocab_size, spec_.embedding_size,
                              tokens_.data(), steps, embedded_.data());
    src = embedded_.data();
  } else {
    if (batch.features != spec_.input_features)
      throw std::invalid_argument("batch has " + std::to_string(batch.features) + " features, model expects " +
                                  std::to_string(spec_.input_features));
    embedded_ = batch.values;  // kept: the stack reads it again in backward
    src = embedded_.data();
  }

  // 2. Recurrent stack, starting from the carried state when the batch continues it.
  const int64_t states = int64_t(rnn.num_layers) * layers::direction_count(rnn.direction) * batch_;
  dst_.resize(size_t(steps * rnn.output_size()));
  h_final_.resize(size_t(states * rnn.state_size()));
  c_final_.resize(rnn.cell == layers::Cell::lstm ? size_t(states * rnn.hidden_size) : 0);
  const bool carry = state && !batch.resets_state && state->batch == batch_ && !state->h.empty();
  layers::RecurrentForwardArgs args;
  args.seq_len = seq_len_;
  args.batch = batch_;
  args.params = params_.data() + rnn_offset_;
  args.src = src;
  args.h0 = carry ? state->h.data() : nullptr;
  args.c0 = carry && !state->c.empty() ? state->c.data() : nullptr;
  args.dst = dst_.data();
  args.hT = h_final_.data();
  // A padded batch's sequences are whole (nothing to carry), and the CPU stacks have no
  // per-sequence cell state (layers/padded_stack.h): its cT is not asked for.
  args.cT = c_final_.empty() || padded ? nullptr : c_final_.data();
  args.dropout_seed = dropout_seed;
  args.lengths = padded ? batch.lengths.data() : nullptr;
  stack_->forward(args, training);
  if (state) {
    state->batch = batch_;
    state->h = h_final_;
    state->c = padded ? std::vector<float>() : c_final_;
  }

  // 3. Head input: every step's output, or the last layer's final state per direction.
  const int head_in = spec_.head_input_size();
  const int64_t rows = spec_.per_step_output ? steps : batch_;
  if (spec_.per_step_output) {
    head_in_ = dst_;
  } else {
    const int directions = layers::direction_count(rnn.direction);
    const int s = rnn.state_size();
    head_in_.assign(size_t(rows * head_in), 0.0f);
    for (int d = 0; d < directions; ++d) {
      const float* h = h_final_.data() + (int64_t(rnn.num_layers - 1) * directions + d) * batch_ * s;
      const int column = rnn.direction == layers::Direction::bidirectional_sum ? 0 : d * s;
      for (int n = 0; n < batch_; ++n)
        for (int k = 0; k < s; ++k) head_in_[size_t(n * head_in + column + k)] += h[n * s + k];
    }
  }
  head_mask_.resize(head_in_.size());
  if (training && spec_.head_dropout > 0.0f)
    layers::dropout_forward(head_in_.data(), head_in_.data(), head_mask_.data(), int64_t(head_in_.size()),
                            spec_.head_dropout, dropout_seed, kHeadDropoutStream);

  // 4. Linear head.
  output_.resize(size_t(rows * spec_.output_size));
  layers::linear_forward({rows, head_in, spec_.output_size}, head_in_.data(), params_.data() + head_weight_offset_,
                         params_.data() + head_bias_offset_, output_.data());
  return output_;
}

void Model::backward(const std::vector<float>& diff_output, const ReadyCallback& on_ready) {
  if (!training_) throw std::logic_error("Model::backward without a training forward");
  const layers::RecurrentOptions& rnn = spec_.recurrent;
  const int64_t steps = int64_t(seq_len_) * batch_;
  const int head_in = spec_.head_input_size();
  const int64_t rows = spec_.per_step_output ? steps : batch_;
  if (int64_t(diff_output.size()) != rows * spec_.output_size)
    throw std::invalid_argument("Model::backward: gradient size does not match the last forward");

  // 1. Head: weight and bias gradients, and the gradient of its input.
  diff_head_in_.resize(size_t(rows * head_in));
  layers::linear_backward({rows, head_in, spec_.output_size}, head_in_.data(), params_.data() + head_weight_offset_,
                          diff_output.data(), diff_head_in_.data(), grads_.data() + head_weight_offset_,
                          grads_.data() + head_bias_offset_);
  if (on_ready) on_ready(head_weight_offset_, parameter_count());
  if (spec_.head_dropout > 0.0f)
    for (size_t i = 0; i < diff_head_in_.size(); ++i) diff_head_in_[i] *= head_mask_[i];

  // 2. Into the stack's outputs: every step's dst, or the last layer's final states.
  layers::RecurrentBackwardArgs args;
  const int directions = layers::direction_count(rnn.direction);
  if (spec_.per_step_output) {
    args.diff_dst = diff_head_in_.data();
  } else {
    const int s = rnn.state_size();
    diff_dst_.assign(size_t(steps * rnn.output_size()), 0.0f);
    diff_h_final_.assign(h_final_.size(), 0.0f);
    for (int d = 0; d < directions; ++d) {
      float* dh = diff_h_final_.data() + (int64_t(rnn.num_layers - 1) * directions + d) * batch_ * s;
      const int column = rnn.direction == layers::Direction::bidirectional_sum ? 0 : d * s;
      for (int n = 0; n < batch_; ++n)
        for (int k = 0; k < s; ++k) dh[n * s + k] = diff_head_in_[size_t(n * head_in + column + k)];
    }
    args.diff_dst = diff_dst_.data();
    args.diff_hT = diff_h_final_.data();
  }

  // 3. Through the stack (the carried initial state is detached: no diff_h0).
  const bool needs_diff_src = spec_.vocab_size > 0;
  diff_embedded_.resize(needs_diff_src ? size_t(steps * rnn.input_size) : 0);
  args.diff_src = needs_diff_src ? diff_embedded_.data() : nullptr;
  args.diff_params = grads_.data() + rnn_offset_;
  stack_->backward(args);
  if (on_ready) on_ready(rnn_offset_, head_weight_offset_);

  // 4. Embedding rows.
  if (needs_diff_src)
    layers::embedding_backward(diff_embedded_.data(), tokens_.data(), steps, spec_.vocab_size, spec_.embedding_size,
                               grads_.data() + embedding_offset_);
  if (on_ready && rnn_offset_ > 0) on_ready(0, rnn_offset_);
}

layers::ModelSummary Model::summary() const {
  std::vector<layers::LayerSpec> specs;
  if (spec_.vocab_size > 0) specs.push_back(layers::EmbeddingSpec{spec_.vocab_size, spec_.embedding_size});
  const layers::RecurrentOptions& rnn = spec_.recurrent;
  for (int layer = 0; layer < rnn.num_layers; ++layer) {
    layers::RecurrentSpec r;
    r.cell = rnn.cell;
    r.units = rnn.hidden_size;
    r.return_sequences = spec_.per_step_output || layer + 1 < rnn.num_layers;
    r.bidirectional = layers::direction_count(rnn.direction) == 2;
    r.merge_sum = rnn.direction == layers::Direction::bidirectional_sum;
    r.projection_size = rnn.projection_size;
    r.peephole = rnn.peephole;
    specs.push_back(r);
  }
  specs.push_back(layers::DenseSpec{spec_.output_size});
  return layers::summarize(specs, spec_.vocab_size > 0 ? 0 : spec_.input_features);
}

std::vector<Model::Tensor> Model::export_tensors() const {
  std::vector<Tensor> tensors;
  auto copy = [&](const std::string& name, const std::vector<int64_t>& shape, int64_t offset) {
    tensors.push_back({name, shape, std::vector<float>(params_.begin() + offset, params_.begin() + offset + product(shape))});
  };
  if (spec_.vocab_size > 0) copy("embedding.weight", {spec_.vocab_size, spec_.embedding_size}, embedding_offset_);
  for (auto& t : layers::to_pytorch_state(spec_.recurrent, params_.data() + rnn_offset_))
    tensors.push_back({"rnn." + t.name, t.shape, std::move(t.data)});
  copy("head.weight", {spec_.output_size, spec_.head_input_size()}, head_weight_offset_);
  copy("head.bias", {spec_.output_size}, head_bias_offset_);
  return tensors;
}

void Model::import_tensors(const std::vector<Tensor>& tensors) {
  std::map<std::string, const Tensor*> by_name;
  std::vector<layers::NamedTensor> recurrent;
  for (const Tensor& t : tensors) {
    if (t.name.rfind("rnn.", 0) == 0)
      recurrent.push_back({t.name.substr(4), t.shape, t.data});
    else
      by_name[t.name] = &t;
  }
  auto expect = [&](const std::string& name, const std::vector<int64_t>& shape) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw std::invalid_argument("checkpoint has no tensor '" + name + "'");
    if (it->second->shape != shape || int64_t(it->second->data.size()) != product(shape))
      throw std::invalid_argument("checkpoint tensor '" + name + "' has the wrong shape for this model");
    return it->second;
  };
  // Check everything before changing anything.
  std::vector<float> staged = params_;
  if (spec_.vocab_size > 0) {
    const Tensor* t = expect("embedding.weight", {spec_.vocab_size, spec_.embedding_size});
    std::copy(t->data.begin(), t->data.end(), staged.begin() + embedding_offset_);
  }
  const Tensor* weight = expect("head.weight", {spec_.output_size, spec_.head_input_size()});
  const Tensor* bias = expect("head.bias", {spec_.output_size});
  std::copy(weight->data.begin(), weight->data.end(), staged.begin() + head_weight_offset_);
  std::copy(bias->data.begin(), bias->data.end(), staged.begin() + head_bias_offset_);
  const size_t known = spec_.vocab_size > 0 ? 3 : 2;
  if (by_name.size() != known) throw std::invalid_argument("checkpoint has tensors this model does not know");
  layers::from_pytorch_state(spec_.recurrent, recurrent, staged.data() + rnn_offset_);
  params_ = std::move(staged);
}

void import_checkpoint(Model& model, const Checkpoint& checkpoint) {
  require_rnnlab_checkpoint(checkpoint);
  std::vector<Model::Tensor> tensors;
  for (const auto& t : checkpoint.tensors)
    if (t.name.rfind("optimizer.", 0) != 0 && t.name.rfind("carried.", 0) != 0 &&
        t.name.rfind("early_stopping.", 0) != 0)
      tensors.push_back({t.name, t.shape, t.data});
  model.import_tensors(tensors);
}

}  // namespace rnnlab::trainer
