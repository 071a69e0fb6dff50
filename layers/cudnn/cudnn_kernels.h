// Internal to layers/cudnn/: the small CUDA kernels around cuDNN's RNN calls (time
// reversal, summing and duplicating direction halves, dropout with rnnlab's counter-based
// masks, zeroing padded steps) and the weight-space segment copies of cudnn_weights.h.
// All are asynchronous on `stream`; `lengths` is a DEVICE array of `batch` sequence
// lengths or nullptr (every sequence has seq_len steps). Tensors are [T, N, C] time-major.
// Launch failures throw std::runtime_error (RNNLAB_CUDA_CHECK on cudaGetLastError).
#pragma once

#include <cstdint>

struct CUstream_st;

namespace rnnlab::layers::cudnn_detail {

// One contiguous run of floats copied between the canonical buffer and cuDNN's weight space.
struct WeightSegment {
  int64_t cudnn_offset = 0;      // floats from the start of the weight space
  int64_t canonical_offset = 0;  // floats from the start of the canonical buffer
  int64_t count = 0;
};

// dst[t, n] = src[len_n - 1 - t, n] for t < len_n, 0 after (its own inverse on t < len_n).
void reverse_time(const float* src, float* dst, int seq_len, int batch, int channels, const int* lengths,
                  CUstream_st* stream);
// dst[r, c] = src[r, c] + src[r, S + c] for the rows r of [rows, 2S].
void sum_halves(const float* src, float* dst, int64_t rows, int state, CUstream_st* stream);
// dst[r] = [src[r], src[r]]: the gradient of sum_halves.
void duplicate_halves(const float* src, float* dst, int64_t rows, int state, CUstream_st* stream);
// dst[t, n, c] = src[t, n, c] * dropout_scale(seed, stream_id, index, p) with index the
// element's position in the time order of the caller (reversed: t maps back to
// len_n - 1 - t), so the mask is the one the CPU backends draw (layers/dropout.h).
// Forward and backward are the same multiplication. src and dst may alias.
void apply_dropout(const float* src, float* dst, int seq_len, int batch, int channels, float p, uint64_t seed,
                   uint64_t stream_id, const int* lengths, bool reversed, CUstream_st* stream);
// data[t, n, :] = 0 for t >= len_n.
void zero_padding(float* data, int seq_len, int batch, int channels, const int* lengths, CUstream_st* stream);
// weight_space[s.cudnn_offset + i] = canonical[s.canonical_offset + i] for each segment.
void copy_to_weight_space(const WeightSegment* segments, int segment_count, int64_t max_count,
                          const float* canonical, float* weight_space, CUstream_st* stream);
// diff_canonical[s.canonical_offset + i] += diff_weight_space[s.cudnn_offset + i].
void add_from_weight_space(const WeightSegment* segments, int segment_count, int64_t max_count,
                           const float* diff_weight_space, float* diff_canonical, CUstream_st* stream);

}  // namespace rnnlab::layers::cudnn_detail
