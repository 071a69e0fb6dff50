// The CUDA implementation of the ops of layers/ops.h (ops_gpu_*.cu), declared for the one
// dispatch (ops.cc): the same functions minus the Device parameter, in the same order (one
// list, ops_backend.inc, shared with ops_cpu.h).
// Internal to layers/: everything else calls layers/ops.h.
//
// Contracts are ops.h's: DEVICE pointers (HOST where ops.h says so: embedding_backward's
// ids), work queued on the calling thread's stream (layers/cuda/device.h), results read with
// a synchronous copy; deterministic reductions; std::invalid_argument for bad sizes before
// anything is queued, std::runtime_error for CUDA/cuBLAS failures. Defined only in builds
// with CUDA (RNNLAB_WITH_CUDA): the dispatch throws for Device::cuda without it.
// Thread safety: per-thread stream and scratch memory.
#pragma once

#include <cstdint>

#include "layers/ops.h"

namespace rnnlab::layers::ops::gpu {

#include "layers/ops/ops_backend.inc"

}  // namespace rnnlab::layers::ops::gpu
