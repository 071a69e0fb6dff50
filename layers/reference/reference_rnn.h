// Reference recurrent stack in any floating-point type: plain loops written from the cell
// equations, forward and backward (full BPTT). It is the yardstick the oneDNN and cuDNN
// backends are checked against, and it is itself checked against finite differences in
// double, so clarity and exactness come before speed (cost is O(T * N * parameters)).
//
// Semantics are those of RecurrentOptions / RecurrentStack in layers/recurrent.h, on the
// canonical parameter layout of recurrent_parameters():
//   rnn_tanh/rnn_relu  h_t = act(W_ih x_t + W_hh h_{t-1} + b)
//   lstm   gates [i, f, g, o] (PyTorch order), one combined bias b:
//          i = σ(W_ii x + W_hi h + b_i [+ p_i * c_{t-1}])
//          f = σ(W_if x + W_hf h + b_f [+ p_f * c_{t-1}])
//          g = tanh(W_ig x + W_hg h + b_g)
//          c_t = f * c_{t-1} + i * g
//          o = σ(W_io x + W_ho h + b_o [+ p_o * c_t])      (peephole as in oneDNN)
//          h_t = o * tanh(c_t), or W_hr (o * tanh(c_t)) with a projection (PyTorch)
//   gru    PyTorch's (= cuDNN's = oneDNN lbr_gru), gates [r, z, n] (W_h* here are row
//          blocks of weight_hh, PyTorch's notation; nothing to do with weight_hr):
//          r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz)
//          n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_t = (1 - z) * n + z * h_{t-1}
// Inter-layer dropout (training only) multiplies layer k's output (k < L-1) by the mask of
// dropout.h with stream kRecurrentDropoutStream + k and the flat index in [T, N, O].
//
// Errors: the constructor validates the options (std::invalid_argument); forward()
// rejects missing required pointers or non-positive sizes (std::invalid_argument);
// backward() without a preceding training forward throws std::logic_error.
// Thread safety: an instance keeps the activations of its last training forward, so it is
// not thread safe; distinct instances are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "layers/recurrent.h"

namespace rnnlab::layers {

// RecurrentForwardArgs in scalar type T. Pointers are borrowed for the call only.
template <typename T>
struct ReferenceForwardArgs {
  int seq_len = 0;          // T
  int batch = 0;            // N
  const T* params = nullptr;  // canonical layout, required
  const T* src = nullptr;     // [T, N, input_size], required
  const T* h0 = nullptr;      // optional [L*D, N, state_size()]; nullptr means zeros
  const T* c0 = nullptr;      // optional [L*D, N, hidden_size], LSTM only (ignored otherwise)
  T* dst = nullptr;           // [T, N, output_size()], required
  T* hT = nullptr;            // optional
  T* cT = nullptr;            // optional, LSTM only (ignored otherwise)
  uint64_t dropout_seed = 0;
};

// RecurrentBackwardArgs in scalar type T.
template <typename T>
struct ReferenceBackwardArgs {
  const T* diff_dst = nullptr;  // [T, N, output_size()], required
  const T* diff_hT = nullptr;   // optional; nullptr means zeros
  const T* diff_cT = nullptr;   // optional, LSTM only
  T* diff_src = nullptr;        // optional, overwritten
  T* diff_h0 = nullptr;         // optional, overwritten
  T* diff_c0 = nullptr;         // optional, overwritten (LSTM only)
  T* diff_params = nullptr;     // required; gradients are ADDED (canonical layout)
};

// Explicitly instantiated for float and double.
template <typename T>
class ReferenceRecurrent {
 public:
  explicit ReferenceRecurrent(const RecurrentOptions& options);  // validates
  ~ReferenceRecurrent();
  ReferenceRecurrent(ReferenceRecurrent&&) noexcept;
  ReferenceRecurrent& operator=(ReferenceRecurrent&&) noexcept;

  const RecurrentOptions& options() const { return options_; }
  int64_t parameter_count() const { return parameter_count_; }

  // training=true copies the parameters and keeps every activation and dropout mask for
  // backward(); training=false applies no dropout and leaves any kept state untouched.
  void forward(const ReferenceForwardArgs<T>& args, bool training);

  // Backward of the last training forward (its parameters, shapes and masks).
  void backward(const ReferenceBackwardArgs<T>& args);

 private:
  struct State;
  RecurrentOptions options_;
  int64_t parameter_count_ = 0;
  std::vector<ParamInfo> params_info_;
  std::unique_ptr<State> state_;  // null until a training forward
};

extern template class ReferenceRecurrent<float>;
extern template class ReferenceRecurrent<double>;

}  // namespace rnnlab::layers
