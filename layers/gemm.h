// Row-major single-precision GEMM used by the dense layers (Linear, the head of every
// model): C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T, all matrices row-major
// with leading dimensions in floats (as cblas_sgemm with CblasRowMajor).
//
// `sgemm` runs oneDNN's dnnl_sgemm when the library was built with oneDNN (it uses the
// OpenMP threads of the process) and the plain loops otherwise. `sgemm_loops` is always
// the plain loops; tests compare the two and the benchmark measures them.
//
// Failure: a bad argument (negative size, leading dimension too small) throws
// std::invalid_argument naming it; a oneDNN error throws std::runtime_error.
// Thread safety: both are pure functions of their arguments; C must not alias A or B.
#pragma once

#include <cstdint>

namespace rnnlab::layers {

// m, n, k: op(A) is [m, k], op(B) is [k, n], C is [m, n]. beta == 0 ignores C's old values
// (NaNs in C do not propagate).
void sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

void sgemm_loops(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// "onednn" or "loops": what `sgemm` runs in this build.
const char* sgemm_backend();

}  // namespace rnnlab::layers
