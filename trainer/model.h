// The model every task trains: [Embedding] -> recurrent stack -> [dropout] -> Linear head.
//
//   token input  (vocab_size > 0):  ids [T, N] -> Embedding -> [T, N, E]
//   numeric input (vocab_size == 0): values [T, N, F] go straight in
//   recurrent stack (any backend)  -> dst [T, N, O], final states [L*D, N, S]
//   head on every step (language model, tagging, copy):   dst [T*N, O]   -> [T*N, out]
//   head on the final states (classify, forecast, adding): the last layer's final state of
//     each direction, concatenated (or summed with merge=sum) -> [N, D*S] -> [N, out]
//   padded batches (Batch::lengths): the stack runs every sequence over its own length
//     (RecurrentForwardArgs::lengths), so each one's final state is its own last step's
//
// Every parameter lives in ONE flat buffer and every gradient in a second one with the
// same offsets (`segments()` names them), so the optimizer, gradient clipping, the
// all-reduce and checkpoints are each one loop over one buffer. Order: embedding, recurrent
// stack (canonical PyTorch layout), head; backward produces gradients in reverse order.
//
// Not thread safe: a Model owns the activations of its last training forward.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/init.h"
#include "layers/recurrent.h"
#include "layers/summary.h"
#include "trainer/config.h"
#include "trainer/data/batch.h"
#include "trainer/data/task_data.h"

namespace rnnlab::trainer {

struct Checkpoint;

struct ModelSpec {
  int vocab_size = 0;      // > 0: token input through an Embedding
  int input_features = 0;  // numeric input when vocab_size == 0
  int embedding_size = 0;
  layers::RecurrentOptions recurrent;  // input_size = embedding_size or input_features
  std::string backend = "onednn";
  bool per_step_output = false;  // head on every step, else on the final states
  int output_size = 0;
  float head_dropout = 0.0f;
  layers::InitScheme init = layers::InitScheme::keras;
  layers::InitScheme embedding_init = layers::InitScheme::keras;  // the embedding table's own scheme

  int head_input_size() const;
};

// The spec a config asks for on a task's data; throws std::invalid_argument for a bad mix.
ModelSpec model_spec(const Config& config, const data::TaskInfo& info);

// A named slice of the flat buffers. `group` gathers the slices of one layer for per-layer
// gradient norms: "embedding", "rnn.l0", "rnn.l1", ..., "head".
struct ParamSegment {
  std::string name;  // "embedding.weight", "rnn.weight_ih_l0", "head.bias"
  std::vector<int64_t> shape;
  int64_t offset = 0;
  std::string group;
  int64_t size() const;
};

// The recurrent state carried between consecutive batches (truncated BPTT).
// on_device: set by the GPU engine (trainer/engine.h) when its device buffers hold the
// state and h/c are empty or a copy made by Engine::sync_carried_to_host; never set on the CPU.
struct CarriedState {
  int batch = 0;
  std::vector<float> h, c;  // [L*D, N, S], [L*D, N, H]; empty = zeros
  bool on_device = false;
  void clear() { batch = 0, h.clear(), c.clear(), on_device = false; }
};

class Model {
 public:
  Model(const ModelSpec& spec, uint64_t seed);

  const ModelSpec& spec() const { return spec_; }
  int64_t parameter_count() const { return int64_t(params_.size()); }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  const float* grads() const { return grads_.data(); }
  void zero_grads();
  const std::vector<ParamSegment>& segments() const { return segments_; }

  // Runs the batch; returns the head's output ([T*N, out] or [N, out]). With `state`,
  // starts from its final states unless the batch resets state, and stores the new ones
  // (detached: no gradient flows into the previous batch). training=true keeps what
  // backward() needs and applies dropout drawn from `dropout_seed`.
  const std::vector<float>& forward(const data::Batch& batch, bool training, uint64_t dropout_seed,
                                    CarriedState* state = nullptr);
  // Gradient of the loss w.r.t. forward()'s output in; adds into grads(). `on_ready`
  // (optional) is called with each [begin, end) range of grads() as soon as it is final
  // (head, then recurrent stack, then embedding), so a data-parallel all-reduce of those
  // ranges can overlap the rest of the backward pass.
  using ReadyCallback = std::function<void(int64_t begin, int64_t end)>;
  void backward(const std::vector<float>& diff_output, const ReadyCallback& on_ready = nullptr);

  // Keras-style summary (layer output shapes and parameter counts).
  layers::ModelSummary summary() const;

  // Tensors with PyTorch names and layouts: "embedding.weight", "rnn.weight_ih_l0" ...
  // (strip "rnn." to load into torch.nn.LSTM/GRU/RNN), "head.weight", "head.bias".
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> data;
  };
  std::vector<Tensor> export_tensors() const;
  // Inverse of export_tensors; throws std::invalid_argument for a missing or extra name
  // or a wrong shape, before changing any parameter.
  void import_tensors(const std::vector<Tensor>& tensors);

 private:
  ModelSpec spec_;
  std::unique_ptr<layers::RecurrentStack> stack_;
  std::vector<float> params_, grads_;
  std::vector<ParamSegment> segments_;
  int64_t embedding_offset_ = 0, rnn_offset_ = 0, head_weight_offset_ = 0, head_bias_offset_ = 0;

  // Activations of the last forward.
  int seq_len_ = 0, batch_ = 0;
  bool training_ = false;
  std::vector<int32_t> tokens_;
  std::vector<float> embedded_, dst_, h_final_, c_final_, head_in_, head_mask_, output_;
  std::vector<float> diff_head_in_, diff_dst_, diff_h_final_, diff_embedded_;
};

// Loads the model tensors of an rnnlab checkpoint into `model` (the training state stored
// beside them, "optimizer.*", "carried.*" and "early_stopping.*", is left to the caller).
// Throws std::invalid_argument naming the file when it is not an rnnlab checkpoint or does
// not fit the model.
void import_checkpoint(Model& model, const Checkpoint& checkpoint);

}  // namespace rnnlab::trainer
