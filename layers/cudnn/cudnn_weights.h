// Internal to layers/cudnn/: where each canonical (PyTorch-layout) parameter lives in a
// cuDNN RNN's weight space, as a table of contiguous copies (cudnn_kernels.h applies it:
// canonical -> weight space before forward, diff weight space -> diff canonical after
// backward). cudnn_weights.cc holds the one commented conversion; no vendor types here
// (the handles are the vendors' opaque structs, see layers/cuda/device.h).
#pragma once

#include <cstddef>
#include <vector>

#include "layers/cudnn/cudnn_kernels.h"
#include "layers/recurrent.h"

struct cudnnContext;    // cudnnHandle_t
struct cudnnRNNStruct;  // cudnnRNNDescriptor_t

namespace rnnlab::layers::cudnn_detail {

// The segments of the cuDNN RNN `rnn` that runs layers [first_layer, first_layer +
// layer_count) of `options` (bidirectional: both directions of each). `weight_space` is
// any buffer of `weight_space_bytes` (the cuDNN size) on the device: cuDNN only computes
// addresses in it. Offsets are in floats. Throws std::runtime_error when cuDNN's matrix or
// bias shape is not the one the canonical layout expects (names the parameter).
std::vector<WeightSegment> cudnn_weight_segments(cudnnContext* handle, cudnnRNNStruct* rnn,
                                                 const RecurrentOptions& options, int first_layer, int layer_count,
                                                 void* weight_space, size_t weight_space_bytes);

}  // namespace rnnlab::layers::cudnn_detail
