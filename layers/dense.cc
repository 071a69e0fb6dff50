#include "layers/dense.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "layers/gemm.h"
#include "layers/ops.h"

namespace rnnlab::layers {
namespace {

void require(bool ok, const char* function, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string(function) + ": " + message);
}

void check_embedding(const char* function, int64_t vocab_size, int64_t dim, const int32_t* ids, int64_t count) {
  require(vocab_size > 0, function, "vocab_size must be > 0, got " + std::to_string(vocab_size));
  require(dim > 0, function, "dim must be > 0, got " + std::to_string(dim));
  require(count >= 0, function, "count must be >= 0, got " + std::to_string(count));
  // Validate every id before touching the output, so a bad batch leaves no half-written
  // rows (or half-added gradients) behind.
  ops::check_ids(function, ids, count, vocab_size);
}

void check_linear(const char* function, const LinearShape& shape) {
  require(shape.rows >= 0, function, "rows must be >= 0, got " + std::to_string(shape.rows));
  require(shape.in_features > 0, function, "in_features must be > 0, got " + std::to_string(shape.in_features));
  require(shape.out_features > 0, function, "out_features must be > 0, got " + std::to_string(shape.out_features));
}

}  // namespace

void embedding_forward(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids, int64_t count,
                       float* dst) {
  check_embedding("embedding_forward", vocab_size, dim, ids, count);
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(dst + i * dim, table + int64_t(ids[i]) * dim, size_t(dim) * sizeof(float));
}

void embedding_backward(const float* diff_dst, const int32_t* ids, int64_t count, int64_t vocab_size, int64_t dim,
                        float* diff_table, int32_t padding_id) {
  check_embedding("embedding_backward", vocab_size, dim, ids, count);
  // Sequential on purpose: repeated ids would race under threads, and a fixed summation
  // order keeps gradients bit-reproducible.
  for (int64_t i = 0; i < count; ++i) {
    if (ids[i] == padding_id) continue;
    float* row = diff_table + int64_t(ids[i]) * dim;
    const float* src_row = diff_dst + i * dim;
    for (int64_t j = 0; j < dim; ++j) row[j] += src_row[j];
  }
}

int64_t linear_parameter_count(int64_t in_features, int64_t out_features, bool bias) {
  return out_features * in_features + (bias ? out_features : 0);
}

void linear_forward(const LinearShape& shape, const float* src, const float* weight, const float* bias, float* dst) {
  check_linear("linear_forward", shape);
  const int64_t rows = shape.rows, in = shape.in_features, out = shape.out_features;
  if (rows == 0) return;
  // 1. Start from the bias (or zeros) so the GEMM can accumulate with beta = 1.
  for (int64_t r = 0; r < rows; ++r) {
    float* dst_row = dst + r * out;
    if (bias)
      std::memcpy(dst_row, bias, size_t(out) * sizeof(float));
    else
      std::memset(dst_row, 0, size_t(out) * sizeof(float));
  }
  // 2. dst += src [rows, in] * weight^T [in, out].
  sgemm(false, true, rows, out, in, 1.0f, src, in, weight, in, 1.0f, dst, out);
}

void linear_backward(const LinearShape& shape, const float* src, const float* weight, const float* diff_dst,
                     float* diff_src, float* diff_weight, float* diff_bias) {
  check_linear("linear_backward", shape);
  require(diff_weight != nullptr, "linear_backward", "diff_weight is required");
  const int64_t rows = shape.rows, in = shape.in_features, out = shape.out_features;
  if (rows == 0) return;
  // 1. diff_src [rows, in] = diff_dst [rows, out] * weight [out, in] (overwrite: beta 0).
  if (diff_src) sgemm(false, false, rows, in, out, 1.0f, diff_dst, out, weight, in, 0.0f, diff_src, in);
  // 2. diff_weight [out, in] += diff_dst^T [out, rows] * src [rows, in] (accumulate: beta 1).
  sgemm(true, false, out, in, rows, 1.0f, diff_dst, out, src, in, 1.0f, diff_weight, in);
  // 3. diff_bias += column sums of diff_dst, summed in float in row order (deterministic).
  if (diff_bias)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) diff_bias[o] += diff_dst[r * out + o];
}

}  // namespace rnnlab::layers
