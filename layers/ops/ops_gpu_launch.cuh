// What every CUDA op of layers/ops.h shares (ops_gpu_*.cu only): the stream, argument
// checks, grid-stride launches. Internal to layers/ops.
//
// Launch shape: every element-wise kernel is a grid-stride loop of kThreads threads per
// block over at most 65535 blocks; launch() queues it on the calling thread's stream
// (layers/cuda/device.h) and turns a launch error into std::runtime_error.
// Floating point: results that must equal the CPU's bit for bit use the __f*_rn
// intrinsics, which nvcc never contracts into FMAs (the CPU build, -std=c++17, does not
// contract either).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "layers/cuda/device.h"

namespace rnnlab::layers::ops::gpu::detail {

constexpr int kThreads = 256;  // threads per block of every kernel of the ops

inline cudaStream_t stream() { return cuda::device_context().stream(); }

// Throws std::invalid_argument "ops::<op>: <message>" unless ok (before anything is queued).
inline void require(bool ok, const char* op, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string("ops::") + op + ": " + message);
}
// "name = value" for the messages of require().
inline std::string named(const char* name, int64_t value) { return std::string(name) + " = " + std::to_string(value); }

// Blocks for a grid-stride loop over n elements (at least 1, at most 65535).
inline unsigned blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535)));
}

// The first element of this thread and the step of a grid-stride loop.
__device__ inline int64_t first_index() { return blockIdx.x * int64_t(blockDim.x) + threadIdx.x; }
__device__ inline int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

inline void check_launch() { RNNLAB_CUDA_CHECK(cudaGetLastError()); }

// Queues kernel(args...) as a grid-stride loop over n elements.
template <typename... Params, typename... Args>
void launch(int64_t n, void (*kernel)(Params...), Args&&... args) {
  kernel<<<blocks_for(n), kThreads, 0, stream()>>>(std::forward<Args>(args)...);
  check_launch();
}

}  // namespace rnnlab::layers::ops::gpu::detail
