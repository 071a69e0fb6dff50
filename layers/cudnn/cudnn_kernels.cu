// Kernels of layers/cudnn/cudnn_kernels.h. Simple grid-stride loops: they move a few
// [T, N, C] tensors per step, next to cuDNN's GEMMs they are noise.
#include "layers/cudnn/cudnn_kernels.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "layers/cuda/device.h"
#include "layers/random.h"  // constexpr: callable on the device with --expt-relaxed-constexpr

namespace rnnlab::layers::cudnn_detail {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t count) {
  return int(std::min<int64_t>((count + kThreads - 1) / kThreads, 65535 * 8));
}

cudaStream_t as_stream(CUstream_st* stream) { return stream; }

void check_launch() { RNNLAB_CUDA_CHECK(cudaGetLastError()); }

__device__ inline int length_of(const int* lengths, int n, int seq_len) {
  return lengths != nullptr ? lengths[n] : seq_len;
}

__global__ void reverse_time_kernel(const float* src, float* dst, int seq_len, int batch, int channels,
                                    const int* lengths) {
  const int64_t total = int64_t(seq_len) * batch * channels;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % channels;
    const int64_t n = (i / channels) % batch;
    const int64_t t = i / (int64_t(channels) * batch);
    const int length = length_of(lengths, int(n), seq_len);
    dst[i] = t < length ? src[((length - 1 - t) * batch + n) * channels + c] : 0.0f;
  }
}

__global__ void sum_halves_kernel(const float* src, float* dst, int64_t rows, int state) {
  const int64_t total = rows * state;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / state, c = i % state;
    dst[i] = src[r * 2 * state + c] + src[r * 2 * state + state + c];
  }
}

__global__ void duplicate_halves_kernel(const float* src, float* dst, int64_t rows, int state) {
  const int64_t total = rows * state;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / state, c = i % state;
    dst[r * 2 * state + c] = src[i];
    dst[r * 2 * state + state + c] = src[i];
  }
}

__global__ void dropout_kernel(const float* src, float* dst, int seq_len, int batch, int channels, float p,
                               uint64_t seed, uint64_t stream_id, const int* lengths, bool reversed) {
  const int64_t total = int64_t(seq_len) * batch * channels;
  const float keep_scale = 1.0f / (1.0f - p);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t index = i;
    if (reversed) {
      const int64_t c = i % channels;
      const int64_t n = (i / channels) % batch;
      const int64_t t = i / (int64_t(channels) * batch);
      const int length = length_of(lengths, int(n), seq_len);
      const int64_t t_caller = t < length ? length - 1 - t : t;
      index = (t_caller * batch + n) * channels + c;
    }
    // Same expression as dropout_scale() in layers/dropout.h.
    const float scale = random_uniform(seed, stream_id, uint64_t(index)) < p ? 0.0f : keep_scale;
    dst[i] = src[i] * scale;
  }
}

__global__ void zero_padding_kernel(float* data, int seq_len, int batch, int channels, const int* lengths) {
  const int64_t total = int64_t(seq_len) * batch * channels;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = (i / channels) % batch;
    const int64_t t = i / (int64_t(channels) * batch);
    if (t >= lengths[n]) data[i] = 0.0f;
  }
}

// blockIdx.y: the segment; x: a grid-stride loop inside it.
__global__ void copy_segments_kernel(const WeightSegment* segments, const float* canonical, float* weight_space) {
  const WeightSegment s = segments[blockIdx.y];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < s.count; i += int64_t(gridDim.x) * blockDim.x)
    weight_space[s.cudnn_offset + i] = canonical[s.canonical_offset + i];
}

__global__ void add_segments_kernel(const WeightSegment* segments, const float* diff_weight_space,
                                    float* diff_canonical) {
  const WeightSegment s = segments[blockIdx.y];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < s.count; i += int64_t(gridDim.x) * blockDim.x)
    diff_canonical[s.canonical_offset + i] += diff_weight_space[s.cudnn_offset + i];
}

dim3 segment_grid(int segment_count, int64_t max_count) {
  return dim3(unsigned(std::min<int64_t>((max_count + kThreads - 1) / kThreads, 1024)), unsigned(segment_count));
}

}  // namespace

void reverse_time(const float* src, float* dst, int seq_len, int batch, int channels, const int* lengths,
                  CUstream_st* stream) {
  const int64_t total = int64_t(seq_len) * batch * channels;
  if (total == 0) return;
  reverse_time_kernel<<<blocks_for(total), kThreads, 0, as_stream(stream)>>>(src, dst, seq_len, batch, channels,
                                                                              lengths);
  check_launch();
}

void sum_halves(const float* src, float* dst, int64_t rows, int state, CUstream_st* stream) {
  if (rows * state == 0) return;
  sum_halves_kernel<<<blocks_for(rows * state), kThreads, 0, as_stream(stream)>>>(src, dst, rows, state);
  check_launch();
}

void duplicate_halves(const float* src, float* dst, int64_t rows, int state, CUstream_st* stream) {
  if (rows * state == 0) return;
  duplicate_halves_kernel<<<blocks_for(rows * state), kThreads, 0, as_stream(stream)>>>(src, dst, rows, state);
  check_launch();
}

void apply_dropout(const float* src, float* dst, int seq_len, int batch, int channels, float p, uint64_t seed,
                   uint64_t stream_id, const int* lengths, bool reversed, CUstream_st* stream) {
  const int64_t total = int64_t(seq_len) * batch * channels;
  if (total == 0) return;
  dropout_kernel<<<blocks_for(total), kThreads, 0, as_stream(stream)>>>(src, dst, seq_len, batch, channels, p, seed,
                                                                         stream_id, lengths, reversed);
  check_launch();
}

void zero_padding(float* data, int seq_len, int batch, int channels, const int* lengths, CUstream_st* stream) {
  const int64_t total = int64_t(seq_len) * batch * channels;
  if (total == 0 || lengths == nullptr) return;
  zero_padding_kernel<<<blocks_for(total), kThreads, 0, as_stream(stream)>>>(data, seq_len, batch, channels, lengths);
  check_launch();
}

void copy_to_weight_space(const WeightSegment* segments, int segment_count, int64_t max_count,
                          const float* canonical, float* weight_space, CUstream_st* stream) {
  if (segment_count == 0 || max_count == 0) return;
  copy_segments_kernel<<<segment_grid(segment_count, max_count), kThreads, 0, as_stream(stream)>>>(
      segments, canonical, weight_space);
  check_launch();
}

void add_from_weight_space(const WeightSegment* segments, int segment_count, int64_t max_count,
                           const float* diff_weight_space, float* diff_canonical, CUstream_st* stream) {
  if (segment_count == 0 || max_count == 0) return;
  add_segments_kernel<<<segment_grid(segment_count, max_count), kThreads, 0, as_stream(stream)>>>(
      segments, diff_weight_space, diff_canonical);
  check_launch();
}

}  // namespace rnnlab::layers::cudnn_detail
