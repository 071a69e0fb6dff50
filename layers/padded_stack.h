// Exact padded batches (RecurrentForwardArgs::lengths) on backends whose primitives have no
// per-sequence lengths (the reference loops, oneDNN 2.6): ONE mechanism for both.
//
// A batch without lengths runs on the backend's own stack exactly as before. A batch with
// lengths runs every (layer, direction) as its own one-layer forward stack of the same
// backend (its parameters are a contiguous slice of the canonical buffer):
//   forward direction   over the layer input as it is: a valid step never depends on a
//                       later (padded) one;
//   reverse direction   over the layer input reversed within each sequence's length
//                       (t -> len-1-t), its output reversed back, so it starts at the
//                       sequence's own last step and padding never enters a valid step;
//   every layer         gets the previous layer's merged output (zero at padded steps,
//                       then the inter-layer dropout every backend draws, dropout.h), so a
//                       bidirectional stack's reverse input is that output reversed within
//                       length, like PyTorch's packed sequences;
//   final states        hT of each (layer, direction) is that stack's output at its step
//                       len-1 (gather_last_steps): dst_iter of a primitive run over padding
//                       would be the state after the padded steps;
//   backward            diff_dst is zeroed at padded steps, diff_hT is added at step len-1
//                       of each (layer, direction), the gradients flow back through the
//                       same reversals; padded steps start with zero gradient, so they add
//                       exactly nothing to any parameter gradient.
// cT / diff_cT need the cell state at step len-1, which no primitive returns: requesting them
// with lengths throws std::invalid_argument (classification heads read hT only).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "layers/recurrent.h"

namespace rnnlab::layers {

using StackFactory = std::function<std::unique_ptr<RecurrentStack>(const RecurrentOptions&)>;

// The stack `make(options)` for batches without lengths, the mechanism above (stacks made by
// `make` for one layer and one direction) for batches with lengths.
std::unique_ptr<RecurrentStack> make_padded_stack(const RecurrentOptions& options, StackFactory make);

// The valid steps of a padded, time-major batch.
struct StepLengths {
  int seq_len = 0;                  // T
  int batch = 0;                    // N
  const int32_t* lengths = nullptr;  // [N], each in [1, T]
};

// Throws std::invalid_argument naming the sequence unless every length is in [1, T].
void check_lengths(const StepLengths& steps);

// For each sequence n and valid step t: to[t, n, to_offset + c] = (or +=, with accumulate)
// from[t', n, from_offset + c] for c < channels, t' = len-1-t with reverse, else t.
// Padded steps of `to` are left as they are. `from` and `to` hold [T, N, *_channels].
struct StepSlice {
  int channels = 0;  // row width of the tensor
  int offset = 0;    // first channel moved
};
void move_steps(const StepLengths& steps, const float* from, StepSlice from_slice, float* to, StepSlice to_slice,
                int channels, bool reverse, bool accumulate);

// Sets the padded steps (t >= len) of a [T, N, channels] tensor to 0.
void zero_padded_steps(const StepLengths& steps, float* data, int channels);

// state[n, :] = data[len-1, n, :]: each sequence's last valid step of a [T, N, channels]
// tensor into [N, channels].
void gather_last_steps(const StepLengths& steps, const float* data, int channels, float* state);
// data[len-1, n, :] += state[n, :]: the inverse (backward) of gather_last_steps.
void scatter_add_last_steps(const StepLengths& steps, const float* state, int channels, float* data);

}  // namespace rnnlab::layers
