// Internal to the reference backend: one direction of one layer, run over the whole
// sequence forward (keeping activations) and backward (BPTT). reference_rnn.cc stacks
// these into layers and directions. Not a public header of rnnlab_layers.
#pragma once

#include <cstdint>
#include <vector>

#include "layers/recurrent.h"

namespace rnnlab::layers::reference {

// Sizes of one direction of one layer.
struct CellShape {
  Cell cell = Cell::lstm;
  int seq_len = 0;      // T
  int batch = 0;        // N
  int input_size = 0;   // I (of this layer)
  int hidden_size = 0;  // H
  int state_size = 0;   // S (= H, or projection size)
  int gates = 0;        // G
  bool peephole = false;
  bool projection = false;
  bool reverse = false;  // processes t = T-1 .. 0
};

// Pointers to one direction's tensors inside a canonical buffer (parameters or their
// gradients); the ones a cell does not have are null.
template <typename P>
struct CellTensors {
  P* weight_ih = nullptr;        // [G*H, I]
  P* weight_hh = nullptr;        // [G*H, S]
  P* bias_ih = nullptr;          // [G*H] (the combined bias for RNN/LSTM)
  P* bias_hh = nullptr;          // [G*H] GRU only
  P* weight_hr = nullptr;        // [S, H] LSTM projection only
  P* weight_peephole = nullptr;  // [3, H] LSTM peephole only, rows i, f, o
};

// What the forward pass of one direction keeps for its backward pass. Every per-step
// buffer is indexed by the real time t (not by processing order).
template <typename T>
struct CellActivations {
  std::vector<T> state;    // [T, N, S] h_t, i.e. this direction's output
  std::vector<T> cell;     // [T, N, H] c_t (LSTM)
  std::vector<T> gates;    // [T, N, G*H] gate values after their nonlinearity
  std::vector<T> unprojected;  // [T, N, H] o * tanh(c_t) (LSTM with projection)
  std::vector<T> hidden_n;     // [T, N, H] W_hn h_{t-1} + b_hn (GRU)
  std::vector<T> state_init;   // [N, S] h before the first processed step
  std::vector<T> cell_init;    // [N, H] c before the first processed step (LSTM)
};

// Runs the direction over src [T, N, I]. h_init/c_init may be null (zeros). Fills `out`.
template <typename T>
void cell_forward(const CellShape& shape, const CellTensors<const T>& params, const T* src, const T* h_init,
                  const T* c_init, CellActivations<T>& out);

// BPTT through the direction. diff_state: [T, N, S] gradient of the loss w.r.t. this
// direction's outputs; diff_h_last/diff_c_last: gradient w.r.t. the final state (may be
// null). ADDS into grads and into diff_src [T, N, I]; writes diff_h_init [N, S] and
// diff_c_init [N, H] when not null.
template <typename T>
void cell_backward(const CellShape& shape, const CellTensors<const T>& params, const T* src,
                   const CellActivations<T>& acts, const T* diff_state, const T* diff_h_last, const T* diff_c_last,
                   const CellTensors<T>& grads, T* diff_src, T* diff_h_init, T* diff_c_init);

}  // namespace rnnlab::layers::reference
