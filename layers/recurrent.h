// The recurrent stack: options, parameter layout and the backend interface.
//
// A recurrent stack is `num_layers` layers of one cell type, each run in one or two
// directions over a time-major sequence. Every backend (reference loops, oneDNN, cuDNN)
// implements the same `RecurrentStack` interface and reads/writes parameters in ONE
// canonical flat layout (PyTorch's, see `recurrent_parameters`), so that a model, its
// optimizer and its checkpoints never depend on the backend that runs it.
//
// Tensor conventions (all float32, dense, row-major, time-major like PyTorch's default):
//   src        [T, N, input_size]
//   dst        [T, N, output_size()]            (directions concatenated or summed)
//   h0 / hT    [num_layers * D, N, state_size()] (D = direction_count(); layer-major,
//                                                  forward direction before reverse)
//   c0 / cT    [num_layers * D, N, hidden_size]  (LSTM only)
//
// Devices (layers/device.h): a stack computes on one device, device(); the pointers in its
// args are of that device (host pointers for cpu, DEVICE pointers for cuda), except
// `lengths`, which is always a HOST array. The backend decides the device: "cudnn" made for
// Device::cuda is the device-pointer face a model on the GPU runs; every other stack,
// including the host-pointer face of "cudnn" (tests), is Device::cpu.
//
// Errors: invalid options or shapes throw std::invalid_argument with a message that names
// the offending field; vendor failures throw std::runtime_error naming the vendor call.
// Thread safety: a RecurrentStack instance is not thread safe (it owns the workspace of
// its last training forward); distinct instances may be used from distinct threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "layers/device.h"

namespace rnnlab::layers {

enum class Cell { rnn_tanh, rnn_relu, lstm, gru };

// forward: left to right; reverse: right to left (outputs stay in time order);
// bidirectional_concat: [fwd, rev] along channels; bidirectional_sum: fwd + rev.
enum class Direction { forward, reverse, bidirectional_concat, bidirectional_sum };

// Name <-> enum. Parsing an unknown name throws std::invalid_argument listing the choices.
Cell parse_cell(std::string_view name);
Direction parse_direction(std::string_view name);
std::string_view to_string(Cell cell);
std::string_view to_string(Direction direction);

int gate_count(Cell cell);                // 1 (rnn), 4 (lstm), 3 (gru)
int direction_count(Direction direction);  // 1 or 2

struct RecurrentOptions {
  Cell cell = Cell::lstm;
  int input_size = 0;
  int hidden_size = 0;
  int num_layers = 1;
  Direction direction = Direction::forward;
  // Dropout on the output of every layer but the last, in training forward passes only.
  float dropout = 0.0f;
  // LSTM only: peephole connections (gates i, f see c_{t-1}, gate o sees c_t).
  bool peephole = false;
  // LSTM only: h_t = W_hr (o_t * tanh(c_t)) with W_hr [projection_size, hidden_size];
  // 0 means no projection.
  int projection_size = 0;

  // Size of h (the state carried over time): projection_size if set, else hidden_size.
  int state_size() const;
  // Channels of dst: state_size() * 2 for bidirectional_concat, else state_size().
  int output_size() const;
  // Channels fed into `layer` (0-based): input_size for layer 0, output_size() after.
  int layer_input_size(int layer) const;
};

// Throws std::invalid_argument naming the field for: sizes <= 0, dropout outside [0, 1),
// peephole or projection on a non-LSTM cell, projection_size >= hidden_size.
void validate(const RecurrentOptions& options);

// One named tensor of the canonical flat parameter buffer.
struct ParamInfo {
  std::string name;            // PyTorch name, e.g. "weight_ih_l0_reverse"
  std::vector<int64_t> shape;  // PyTorch shape, e.g. {4 * hidden, input}
  int64_t offset = 0;          // in floats, from the start of the stack's buffer
  int64_t size() const;        // product of shape
};

// The canonical layout, in order: for each layer k, for each direction (forward, then
// "_reverse"):
//   weight_ih_l{k}        [G*H, I_k]     gates in PyTorch order (LSTM i,f,g,o; GRU r,z,n)
//   weight_hh_l{k}        [G*H, S]       S = state_size()
//   bias_ih_l{k}          [G*H]          RNN/LSTM: the ONE combined bias b_ih + b_hh
//   bias_hh_l{k}          [G*H]          GRU only (its n-gate needs b_hn apart)
//   weight_hr_l{k}        [S, H]         LSTM with projection only (PyTorch's name)
//   weight_peephole_l{k}  [3, H]         LSTM with peephole only; rows i, f, o (rnnlab's
//                                        name: PyTorch has no peephole LSTM)
// Storing a single bias for RNN/LSTM makes the trainable parameter count equal Keras's
// (LSTM(32) on 32 inputs = 8,320) and is exactly what oneDNN computes with; the PyTorch
// export writes bias_ih = B and bias_hh = 0 (see pytorch_format.h).
std::vector<ParamInfo> recurrent_parameters(const RecurrentOptions& options);
int64_t recurrent_parameter_count(const RecurrentOptions& options);

struct RecurrentForwardArgs {
  int seq_len = 0;  // T
  int batch = 0;    // N
  const float* params = nullptr;  // canonical layout, recurrent_parameter_count() floats
  const float* src = nullptr;     // [T, N, input_size]
  const float* h0 = nullptr;      // optional; nullptr means zeros
  const float* c0 = nullptr;      // optional, LSTM only; nullptr means zeros
  float* dst = nullptr;           // [T, N, output_size()]
  float* hT = nullptr;            // optional
  float* cT = nullptr;            // optional, LSTM only
  // Seed of the inter-layer dropout masks (see dropout.h); every backend draws the same
  // masks from the same seed, so backends agree even with dropout on.
  uint64_t dropout_seed = 0;
  // Optional HOST array of `batch` valid steps per sequence, each in [1, seq_len]; nullptr
  // means every sequence has seq_len steps. With lengths a padded batch is exact, like
  // PyTorch's packed sequences: every sequence gets what it would get alone (reverse
  // directions run over it reversed within its own length), dst is 0 at t >= length, hT is
  // each sequence's state at its own last step, padded steps get no gradient and diff_src
  // is 0 there; backward uses the lengths of the last training forward. On the CPU
  // backends (padded_stack.h) cT and diff_cT are not available with lengths
  // (std::invalid_argument); cuDNN has them.
  const int32_t* lengths = nullptr;
};

struct RecurrentBackwardArgs {
  const float* diff_dst = nullptr;  // [T, N, output_size()]
  const float* diff_hT = nullptr;   // optional; nullptr means zeros
  const float* diff_cT = nullptr;   // optional, LSTM only
  float* diff_src = nullptr;        // optional [T, N, input_size], overwritten
  float* diff_h0 = nullptr;         // optional, overwritten
  float* diff_c0 = nullptr;         // optional, overwritten
  // Canonical layout; gradients are ADDED here (like PyTorch's .grad), so the caller
  // zeroes the model's gradient buffer once per step. Required.
  float* diff_params = nullptr;
};

class RecurrentStack {
 public:
  virtual ~RecurrentStack() = default;

  virtual const RecurrentOptions& options() const = 0;
  virtual std::string_view backend() const = 0;  // "reference", "onednn", "cudnn"
  // Where the pointers of forward()/backward()'s args live (see the top of this file).
  virtual Device device() const { return Device::cpu; }

  // training=false: inference (no dropout; what an earlier training forward kept stays
  // valid). training=true: keeps what backward() needs (activations, workspace) until the
  // next training forward.
  virtual void forward(const RecurrentForwardArgs& args, bool training) = 0;

  // Backward of the last forward(training=true), with that call's params and shapes
  // (throws std::logic_error if there was none). `args` pointers may not alias.
  virtual void backward(const RecurrentBackwardArgs& args) = 0;
};

// Creates a stack on a named backend ("reference", "onednn", ...) whose args live on
// `device` (the stack's device()). Validates the options. Throws std::invalid_argument for
// an unknown or unavailable backend, listing those built, and for a backend that cannot
// compute on `device` (the CPU backends on cuda; "cudnn" on cuda without a CUDA build).
std::unique_ptr<RecurrentStack> make_recurrent_stack(std::string_view backend, const RecurrentOptions& options,
                                                     Device device = Device::cpu);
// The device a backend computes on when a model runs it: cuda for "cudnn" (alias "gpu"),
// cpu for every other name (unknown names fail later, in make_recurrent_stack).
Device backend_device(std::string_view backend);
std::vector<std::string> recurrent_backends();  // the backends built into this binary

}  // namespace rnnlab::layers
