// A recurrent stack on DEVICE buffers: the public way for code outside layers/ (the
// trainer's model, `rnnlab bench`) to run cuDNN's stack on memory of the calling thread's
// CUDA device, without including the backend (layers/cudnn is private to layers/).
//
// make_cudnn_device_stack returns a RecurrentStack (backend() == "cudnn") whose
// RecurrentForwardArgs / RecurrentBackwardArgs pointers are DEVICE pointers (params in the
// canonical layout of recurrent.h, e.g. a segment of a Device::cuda layers::Buffer);
// `lengths` stays a HOST array, as everywhere. Work is queued on the thread's stream
// (layers/cuda/device.h) and forward/backward return before it has run: read results with
// Buffer::download. device() says Device::cuda. make_recurrent_stack("cudnn", options,
// Device::cuda) returns this face (what a model on the GPU runs); make_recurrent_stack(
// "cudnn", options) is the HOST-pointer face of the same backend (device() == Device::cpu:
// copies in and out; what the backend-equivalence tests use). Use this function directly
// only for CudnnTuning (the benchmark).
//
// Errors: std::invalid_argument for options cuDNN cannot run (peephole) or bad shapes;
// std::runtime_error "cudnn: no CUDA device (...)" without a device, and in a build
// without CUDA. Thread safety: like every RecurrentStack (one thread at a time).
#pragma once

#include <memory>

#include "layers/recurrent.h"

namespace rnnlab::layers {

// cuDNN's choices that change speed (and, for TF32, rounding), not the model.
struct CudnnTuning {
  // Allow TF32 tensor-core math (CUDNN_DEFAULT_MATH; PyTorch's default
  // torch.backends.cudnn.allow_tf32 = True). Off: CUDNN_FMA_MATH, exact FP32.
  bool allow_tf32 = false;
  // Run all layers in one cuDNN RNN where nothing runs between them; false runs one per
  // layer always (the benchmark measures both).
  bool fuse_layers = true;
};

std::unique_ptr<RecurrentStack> make_cudnn_device_stack(const RecurrentOptions& options,
                                                        const CudnnTuning& tuning = {});

}  // namespace rnnlab::layers
