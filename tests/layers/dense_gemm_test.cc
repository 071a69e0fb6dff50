// sgemm (oneDNN when built with it) against the plain loops and a double-precision
// reference, for every transpose combination, padded leading dimensions and beta.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "layers/gemm.h"
#include "layers/random.h"

namespace rnnlab::layers {
namespace {

std::vector<float> random_matrix(int64_t count, uint64_t stream) {
  std::vector<float> m(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) m[size_t(i)] = 2.0f * random_uniform(7, stream, uint64_t(i)) - 1.0f;
  return m;
}

struct GemmCase {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
};

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmTest, MatchesDoubleReference) {
  const GemmCase g = GetParam();
  const int64_t pad = 3;  // leading dimensions larger than the rows they hold
  const int64_t a_rows = g.ta ? g.k : g.m, a_cols = g.ta ? g.m : g.k;
  const int64_t b_rows = g.tb ? g.n : g.k, b_cols = g.tb ? g.k : g.n;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = g.n + pad;
  const auto a = random_matrix(a_rows * lda, 1);
  const auto b = random_matrix(b_rows * ldb, 2);
  const auto c0 = random_matrix(g.m * ldc, 3);
  auto at = [&](int64_t i, int64_t p) { return double(g.ta ? a[size_t(p * lda + i)] : a[size_t(i * lda + p)]); };
  auto bt = [&](int64_t p, int64_t j) { return double(g.tb ? b[size_t(j * ldb + p)] : b[size_t(p * ldb + j)]); };
  auto c_fast = c0, c_loops = c0;
  sgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.data(), lda, b.data(), ldb, g.beta, c_fast.data(), ldc);
  sgemm_loops(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.data(), lda, b.data(), ldb, g.beta, c_loops.data(), ldc);
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t idx = size_t(i * ldc + j);
      if (j >= g.n) {  // padding columns are never written
        EXPECT_EQ(c_fast[idx], c0[idx]);
        EXPECT_EQ(c_loops[idx], c0[idx]);
        continue;
      }
      double expect = double(g.beta) * c0[idx];
      for (int64_t p = 0; p < g.k; ++p) expect += double(g.alpha) * at(i, p) * bt(p, j);
      const double tol = 1e-5 * double(g.k + 1);
      ASSERT_NEAR(c_fast[idx], expect, tol) << sgemm_backend() << " at " << i << "," << j;
      ASSERT_NEAR(c_loops[idx], expect, tol) << "loops at " << i << "," << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTransposes, GemmTest,
                         ::testing::Values(GemmCase{false, false, 17, 13, 29, 1.0f, 0.0f},
                                           GemmCase{false, true, 17, 13, 29, 1.0f, 1.0f},
                                           GemmCase{true, false, 17, 13, 29, 0.5f, 1.0f},
                                           GemmCase{true, true, 17, 13, 29, -2.0f, 0.25f},
                                           GemmCase{false, true, 64, 65, 256, 1.0f, 0.0f},
                                           GemmCase{true, false, 65, 256, 64, 1.0f, 1.0f},
                                           GemmCase{false, false, 1, 1, 1, 1.0f, 0.0f}));

TEST(Gemm, BetaZeroOverwritesNaN) {
  const std::vector<float> a{1, 2, 3, 4}, b{1, 0, 0, 1};
  for (bool loops : {false, true}) {
    std::vector<float> c(4, std::numeric_limits<float>::quiet_NaN());
    if (loops)
      sgemm_loops(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
    else
      sgemm(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
    EXPECT_EQ(c, a) << (loops ? "loops" : sgemm_backend());
  }
}

TEST(Gemm, BadArgumentsThrow) {
  std::vector<float> x(16);
  EXPECT_THROW(sgemm(false, false, -1, 2, 2, 1.0f, x.data(), 2, x.data(), 2, 0.0f, x.data(), 2),
               std::invalid_argument);
  try {
    sgemm(false, false, 2, 4, 3, 1.0f, x.data(), 2, x.data(), 4, 0.0f, x.data(), 4);
    FAIL() << "lda too small accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("lda"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace rnnlab::layers
