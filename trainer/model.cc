#include "trainer/model.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "layers/pytorch_format.h"
#include "trainer/checkpoint.h"

namespace rnnlab::trainer {
namespace {

// Dropout stream of the mask in front of the head (the stack's own masks use
// kRecurrentDropoutStream + layer).
constexpr uint64_t kHeadDropoutStream = 0x2000;

}  // namespace

int ModelSpec::head_input_size() const {
  if (per_step_output) return recurrent.output_size();
  const int directions = layers::direction_count(recurrent.direction);
  return recurrent.direction == layers::Direction::bidirectional_sum ? recurrent.state_size()
                                                                      : directions * recurrent.state_size();
}

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

void CarriedState::sync_to_host() {
  if (!on_device || !h.empty()) return;  // the host copy is already the state
  h = device_h.to_host();
  c = device_c.to_host();
}

Model::Model(const ModelSpec& spec, uint64_t seed)
    : spec_(spec),
      parameters_(layers::backend_device(spec.backend)),
      final_states_(parameters_.device(), spec.recurrent),
      head_dropout_(parameters_.device(), spec.head_dropout, kHeadDropoutStream),
      values_(parameters_.device()) {
  // Segments in model order: embedding, recurrent stack, head.
  if (spec.vocab_size > 0)
    embedding_ = std::make_unique<layers::Embedding>(parameters_, "embedding", spec.vocab_size, spec.embedding_size);
  rnn_ = std::make_unique<layers::Recurrent>(
      parameters_, "rnn", layers::make_recurrent_stack(spec.backend, spec.recurrent, parameters_.device()));
  head_ = std::make_unique<layers::Linear>(parameters_, "head", spec.head_input_size(), spec.output_size);
  parameters_.allocate();

  // Each layer draws from its own seed so that adding a layer never reshuffles the others.
  if (embedding_) embedding_->initialize(spec.embedding_init, layers::init_seed(seed, 0));
  rnn_->initialize(spec.init, layers::init_seed(seed, 1));
  head_->initialize(spec.init, layers::init_seed(seed, 2));
  parameters_.from_host();
}

// The initial state of the stack for this batch (engine.h's rules, CarriedState): h0 as the
// result, c0 through `c0`; nullptr = zeros.
const float* Model::start_state(const data::Batch& batch, CarriedState* state, const float** c0) {
  *c0 = nullptr;
  if (!state || batch.resets_state || state->batch != batch_) return nullptr;
  if (state->device_h.device() != device()) state->device_h = layers::Buffer<float>(device());
  if (state->device_c.device() != device()) state->device_c = layers::Buffer<float>(device());
  if (state->h.empty()) {
    if (!state->on_device) return nullptr;
    if (!state->device_c.empty()) *c0 = state->device_c.data();
    return state->device_h.data();
  }
  const layers::RecurrentOptions& rnn = spec_.recurrent;
  const size_t states = size_t(rnn.num_layers) * size_t(layers::direction_count(rnn.direction)) * size_t(batch_);
  if (state->h.size() != states * size_t(rnn.state_size()) ||
      (!state->c.empty() && state->c.size() != states * size_t(rnn.hidden_size)))
    throw std::invalid_argument("carried state has " + std::to_string(state->h.size()) + " h and " +
                                std::to_string(state->c.size()) + " c values, the model needs " +
                                std::to_string(states * size_t(rnn.state_size())) + " h values for batch " +
                                std::to_string(batch_));
  if (!state->c.empty()) *c0 = layers::on_device(state->c, state->device_c);
  return layers::on_device(state->h, state->device_h);
}

// The final states become the carried ones: the stack's buffers are swapped in (no copy).
void Model::keep_state(CarriedState* state, bool padded) {
  if (!state) return;
  std::swap(rnn_->final_h(), state->device_h);
  // A padded batch's sequences are whole: no cell state to carry (and the CPU stacks have
  // none per sequence, layers/padded_stack.h).
  if (padded)
    state->device_c.resize(0);
  else
    std::swap(rnn_->final_c(), state->device_c);
  state->batch = batch_;
  state->h.clear();
  state->c.clear();
  state->on_device = true;
}

const layers::Buffer<float>& Model::forward(const data::Batch& batch, bool training, uint64_t dropout_seed,
                                            CarriedState* state) {
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
  layers::Recurrent::Input input;
  if (embedding_) {
    input.src = embedding_->forward(batch.tokens).data();
  } else {
    if (batch.features != spec_.input_features)
      throw std::invalid_argument("batch has " + std::to_string(batch.features) + " features, model expects " +
                                  std::to_string(spec_.input_features));
    values_.upload(batch.values);  // kept: the stack reads it again in backward
    input.src = values_.data();
  }

  // 2. Recurrent stack, starting from the carried state when the batch continues it.
  input.seq_len = seq_len_;
  input.batch = batch_;
  input.h0 = start_state(batch, state, &input.c0);
  input.lengths = padded ? batch.lengths.data() : nullptr;
  input.want_final_c = !padded;
  rnn_->forward(input, training, dropout_seed);

  // 3. Head input: every step's output, or the last layer's final state per direction,
  // through the dropout.
  const float* head_src = nullptr;
  const int64_t rows = spec_.per_step_output ? steps : batch_;
  if (spec_.per_step_output)
    head_src = rnn_->dst().data();
  else
    head_src = final_states_.forward(rnn_->final_h().data(), batch_).data();
  head_input_ = head_dropout_.forward(head_src, rows * spec_.head_input_size(), training, dropout_seed);
  keep_state(state, padded);

  // 4. Linear head.
  return head_->forward(head_input_, rows);
}

void Model::backward(const layers::Buffer<float>& diff_output, const ReadyCallback& on_ready) {
  if (!training_) throw std::logic_error("Model::backward without a training forward");
  const int64_t steps = int64_t(seq_len_) * batch_;
  const int64_t rows = spec_.per_step_output ? steps : batch_;
  if (int64_t(diff_output.size()) != rows * spec_.output_size)
    throw std::invalid_argument("Model::backward: gradient size does not match the last forward");

  // 1. Head: weight and bias gradients, and the gradient of its input (through the mask).
  // The buffer is the head's own: the mask multiplies it in place.
  layers::Buffer<float>& diff_head_in = head_->backward(diff_output.data());
  if (on_ready) on_ready(head_->begin(), head_->end());
  head_dropout_.backward(diff_head_in.data(), int64_t(diff_head_in.size()));

  // 2. Through the stack (the carried initial state is detached: no diff_h0), from every
  // step's dst or from the last layer's final states.
  const bool per_step = spec_.per_step_output;
  const float* diff_h_final = per_step ? nullptr : final_states_.backward(diff_head_in.data()).data();
  const auto& diff_src = rnn_->backward(per_step ? diff_head_in.data() : nullptr, diff_h_final, embedding_ != nullptr);
  if (on_ready) on_ready(rnn_->begin(), rnn_->end());

  // 3. Embedding rows.
  if (embedding_) {
    embedding_->backward(diff_src.data());
    if (on_ready) on_ready(embedding_->begin(), embedding_->end());
  }
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
  const float* params = parameters_.host_params();
  std::vector<Tensor> tensors;
  for (const ParamSegment& segment : segments()) {
    if (segment.name.rfind("rnn.", 0) == 0) continue;
    tensors.push_back({segment.name, segment.shape,
                       std::vector<float>(params + segment.offset, params + segment.offset + segment.size())});
  }
  // The recurrent tensors in PyTorch's layout (bias_hh added), after the embedding.
  auto at = tensors.begin() + (embedding_ ? 1 : 0);
  for (auto& t : layers::to_pytorch_state(spec_.recurrent, params + rnn_->begin()))
    at = tensors.insert(at, {"rnn." + t.name, t.shape, std::move(t.data)}) + 1;
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
  // Check everything before changing anything.
  float* params = parameters_.host_params();
  std::vector<float> staged(params, params + parameter_count());
  size_t known = 0;
  for (const ParamSegment& segment : segments()) {
    if (segment.name.rfind("rnn.", 0) == 0) continue;
    auto it = by_name.find(segment.name);
    if (it == by_name.end()) throw std::invalid_argument("checkpoint has no tensor '" + segment.name + "'");
    const Tensor& t = *it->second;
    if (t.shape != segment.shape || int64_t(t.data.size()) != segment.size())
      throw std::invalid_argument("checkpoint tensor '" + segment.name + "' has the wrong shape for this model");
    std::copy(t.data.begin(), t.data.end(), staged.begin() + segment.offset);
    ++known;
  }
  if (by_name.size() != known) throw std::invalid_argument("checkpoint has tensors this model does not know");
  layers::from_pytorch_state(spec_.recurrent, recurrent, staged.data() + rnn_->begin());
  std::copy(staged.begin(), staged.end(), params);
  parameters_.from_host();
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
