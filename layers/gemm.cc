#include "layers/gemm.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef RNNLAB_HAVE_ONEDNN
#include "layers/onednn/sgemm.h"
#endif

namespace rnnlab::layers {
namespace {

void check_args(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb,
                int64_t ldc) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("sgemm: " + what); };
  if (m < 0 || n < 0 || k < 0)
    fail("sizes must be >= 0, got m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  // Row-major: the leading dimension is the length of a stored row.
  const int64_t a_cols = transpose_a ? m : k;
  const int64_t b_cols = transpose_b ? k : n;
  if (lda < std::max<int64_t>(1, a_cols)) fail("lda " + std::to_string(lda) + " < " + std::to_string(a_cols));
  if (ldb < std::max<int64_t>(1, b_cols)) fail("ldb " + std::to_string(ldb) + " < " + std::to_string(b_cols));
  if (ldc < std::max<int64_t>(1, n)) fail("ldc " + std::to_string(ldc) + " < " + std::to_string(n));
}

}  // namespace

void sgemm_loops(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  check_args(transpose_a, transpose_b, m, n, k, lda, ldb, ldc);
  // 1. Scale C by beta (beta == 0 overwrites, as BLAS does).
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
  // 2. Accumulate A*B one row of C at a time. When B is not transposed the inner loop
  //    walks a row of B and a row of C (contiguous, vectorisable); when B is transposed we
  //    copy op(B) once into a row-major [k, n] scratch so the same inner loop applies.
  std::vector<float> b_copy;
  const float* b_rows = b;
  int64_t b_ld = ldb;
  if (transpose_b) {
    b_copy.resize(size_t(k * n));
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j) b_copy[size_t(p * n + j)] = b[j * ldb + p];
    b_rows = b_copy.data();
    b_ld = n;
  }
  for (int64_t i = 0; i < m; ++i) {
    float* c_row = c + i * ldc;
    for (int64_t p = 0; p < k; ++p) {
      const float a_ip = alpha * (transpose_a ? a[p * lda + i] : a[i * lda + p]);
      const float* b_row = b_rows + p * b_ld;
      // C may not alias B (contract), which GCC cannot prove: say so, or it stays scalar.
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) c_row[j] += a_ip * b_row[j];
    }
  }
}

void sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#ifdef RNNLAB_HAVE_ONEDNN
  check_args(transpose_a, transpose_b, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  onednn_sgemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  sgemm_loops(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

const char* sgemm_backend() {
#ifdef RNNLAB_HAVE_ONEDNN
  return "onednn";
#else
  return "loops";
#endif
}

}  // namespace rnnlab::layers
