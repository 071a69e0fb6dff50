// The model every task trains: [Embedding] -> recurrent stack -> [dropout] -> Linear head,
// ONE composition of the modules of layers/modules/ (module.h explains what a module is).
//
//   token input  (vocab_size > 0):  ids [T, N] -> Embedding "embedding" -> [T, N, E]
//   numeric input (vocab_size == 0): values [T, N, F] go straight in
//   Recurrent "rnn" (any backend)   -> dst [T, N, O], final states [L*D, N, S]
//   head on every step (language model, tagging, copy):   dst [T*N, O]   -> [T*N, out]
//   head on the final states (classify, forecast, adding): FinalStates -> [N, D*S] (or
//     [N, S] with merge=sum) -> [N, out]
//   Dropout (stream 0x2000) in front of the Linear "head" while training
//   padded batches (Batch::lengths): the stack runs every sequence over its own length
//     (RecurrentForwardArgs::lengths), so each one's final state is its own last step's
//
// Device: the recurrent backend decides it (layers::backend_device: cudnn -> cuda, the
// others -> cpu); the flat buffers, every activation and the carried state live there.
// Every parameter lives in ONE flat buffer and every gradient in a second one with the
// same offsets (`segments()` names them, the modules registered them), so the optimizer,
// gradient clipping, the all-reduce and checkpoints are each one loop over one buffer.
// Order: embedding, recurrent stack (canonical PyTorch layout), head; backward produces
// gradients in reverse order. The host side (params(), export/import_tensors, summary) is
// the flat buffer itself on the cpu; on cuda it is a host mirror, current after
// sync_to_host() (import_tensors and sync_from_host() upload it).
//
// Not thread safe: a Model owns the activations of its last training forward.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/device.h"
#include "layers/init.h"
#include "layers/modules/dense_modules.h"
#include "layers/modules/module.h"
#include "layers/modules/recurrent_module.h"
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

// A named slice of the flat buffers (layers/modules/module.h): the parameter registry.
using ParamSegment = layers::ParamSegment;

// The recurrent state carried between consecutive batches (truncated BPTT); the model's
// forward starts from it and leaves the new one in it (detached: no gradient flows into
// the previous batch). Where the state is:
//   h non-empty        h/c (HOST) are the state: a restore from a checkpoint, or the copy
//                      sync_to_host() made; the next forward reads (cuda: uploads) them.
//   on_device, h empty device_h/device_c (on the model's device, whichever it is) hold the
//                      state the last forward left; no copy is made per step (the model
//                      swaps its final-state buffers in).
//   neither (cleared)  zeros.
// Call sync_to_host() before reading h/c (checkpoint save). A batch with resets_state or
// another batch size than `batch` starts from zeros.
struct CarriedState {
  int batch = 0;
  std::vector<float> h, c;  // [L*D, N, S], [L*D, N, H]; empty = see above
  bool on_device = false;
  layers::Buffer<float> device_h, device_c;
  void clear() { batch = 0, h.clear(), c.clear(), on_device = false; }
  // Copies device_h/device_c into h/c when the state is on the device and h is empty
  // (synchronous); a no-op otherwise.
  void sync_to_host();
};

class Model {
 public:
  Model(const ModelSpec& spec, uint64_t seed);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelSpec& spec() const { return spec_; }
  layers::Device device() const { return parameters_.device(); }
  int64_t parameter_count() const { return parameters_.count(); }
  // HOST parameters (see the top of this file: on cuda, as of the last sync).
  float* params() { return parameters_.host_params(); }
  const float* params() const { return parameters_.host_params(); }
  // HOST gradients: cpu models only (std::logic_error on cuda: use grad_buffer()).
  float* grads() { return parameters_.grads().host().data(); }
  const float* grads() const { return parameters_.grads().host().data(); }
  // The flat buffers on the model's device.
  layers::Buffer<float>& param_buffer() { return parameters_.params(); }
  layers::Buffer<float>& grad_buffer() { return parameters_.grads(); }
  void zero_grads() { parameters_.grads().zero(); }
  const std::vector<ParamSegment>& segments() const { return parameters_.segments(); }
  void sync_to_host() { parameters_.to_host(); }      // device -> params() (cuda)
  void sync_from_host() { parameters_.from_host(); }  // params() -> device (cuda)

  // Runs the batch; returns the head's output ([T*N, out] or [N, out]) on the model's
  // device. With `state`, starts from it unless the batch resets state, and stores the new
  // one (see CarriedState). training=true keeps what backward() needs and applies dropout
  // drawn from `dropout_seed`.
  const layers::Buffer<float>& forward(const data::Batch& batch, bool training, uint64_t dropout_seed,
                                       CarriedState* state = nullptr);
  // Gradient of the loss w.r.t. forward()'s output in (on the model's device); adds into
  // the gradients. `on_ready` (optional) is called with each [begin, end) range of the
  // gradients as soon as it is final (head, then recurrent stack, then embedding), so a
  // data-parallel all-reduce of those ranges can overlap the rest of the backward pass.
  using ReadyCallback = std::function<void(int64_t begin, int64_t end)>;
  void backward(const layers::Buffer<float>& diff_output, const ReadyCallback& on_ready = nullptr);

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
  const float* start_state(const data::Batch& batch, CarriedState* state, const float** c0);
  void keep_state(CarriedState* state, bool padded);

  ModelSpec spec_;
  layers::ParameterSet parameters_;
  std::unique_ptr<layers::Embedding> embedding_;  // token input only
  std::unique_ptr<layers::Recurrent> rnn_;
  layers::FinalStates final_states_;  // head on the final states only
  layers::Dropout head_dropout_;
  std::unique_ptr<layers::Linear> head_;

  // The last forward.
  int seq_len_ = 0, batch_ = 0;
  bool training_ = false;
  const float* head_input_ = nullptr;
  layers::Buffer<float> values_;  // numeric input (the stack reads it again in backward)
};

// Loads the model tensors of an rnnlab checkpoint into `model` (the training state stored
// beside them, "optimizer.*", "carried.*" and "early_stopping.*", is left to the caller).
// Throws std::invalid_argument naming the file when it is not an rnnlab checkpoint or does
// not fit the model.
void import_checkpoint(Model& model, const Checkpoint& checkpoint);

}  // namespace rnnlab::trainer
