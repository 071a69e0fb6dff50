// oneDNN (CPU) recurrent backend: the stack on oneDNN 2.6 RNN primitives.
//
// Primitives, their memories and buffers are built on the first call for a given
// (seq_len, batch, training) and cached on the instance, so a training loop with a fixed
// shape pays the primitive creation once. Weights are converted from the canonical buffer
// on every forward (they change every step). Failures: std::invalid_argument for options
// or shapes oneDNN cannot run (the message names the combination), std::runtime_error for
// other oneDNN errors. Not thread safe (see RecurrentStack); oneDNN threads through OpenMP.
#pragma once

#include <memory>

#include "layers/recurrent.h"

namespace rnnlab::layers {

std::unique_ptr<RecurrentStack> make_onednn_stack(const RecurrentOptions& options);

// Choices the benchmark measures (docs/performance.md); the defaults are the best measured.
struct OnednnTuning {
  // Let the primitives pick the weight format (format_tag::any) instead of plain ldigo.
  bool weights_any = true;
  // Run all layers in one primitive where oneDNN allows it (one direction, input size ==
  // state size, no dropout); false runs one primitive per layer always.
  bool fuse_layers = true;
};

std::unique_ptr<RecurrentStack> make_onednn_stack(const RecurrentOptions& options, const OnednnTuning& tuning);

}  // namespace rnnlab::layers
