// Internal to layers: oneDNN's dnnl_sgemm behind layers::sgemm (gemm.h), so that the oneDNN
// header stays in this backend folder. Arguments are checked by the caller (gemm.cc); a
// oneDNN failure throws std::runtime_error naming the call and its status.
// Thread safety: a pure function of its arguments (oneDNN threads through OpenMP).
#pragma once

#include <cstdint>

namespace rnnlab::layers {

void onednn_sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace rnnlab::layers
