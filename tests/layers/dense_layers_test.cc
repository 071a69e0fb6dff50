// Embedding and Linear: values, accumulation semantics, errors, and gradients against
// central finite differences of L = sum(dst * R) accumulated in double.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "layers/dense.h"
#include "layers/random.h"

namespace rnnlab::layers {
namespace {

std::vector<float> random_vector(int64_t count, uint64_t stream, float scale = 1.0f) {
  std::vector<float> v(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) v[size_t(i)] = scale * (2.0f * random_uniform(11, stream, uint64_t(i)) - 1.0f);
  return v;
}

double weighted_sum(const std::vector<float>& dst, const std::vector<float>& weights) {
  double sum = 0.0;
  for (size_t i = 0; i < dst.size(); ++i) sum += double(dst[i]) * double(weights[i]);
  return sum;
}

TEST(Embedding, ForwardGathersRows) {
  const int64_t vocab = 5, dim = 3;
  const auto table = random_vector(vocab * dim, 1);
  const std::vector<int32_t> ids{4, 0, 4, 2};
  std::vector<float> dst(ids.size() * dim);
  embedding_forward(table.data(), vocab, dim, ids.data(), int64_t(ids.size()), dst.data());
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t j = 0; j < dim; ++j) EXPECT_EQ(dst[i * dim + size_t(j)], table[size_t(ids[i] * dim + j)]);
}

TEST(Embedding, OutOfRangeIdThrowsNamingIt) {
  const std::vector<float> table(10, 1.0f);
  std::vector<float> dst(8, -1.0f);
  for (int32_t bad : {5, -1}) {
    const std::vector<int32_t> ids{1, 2, bad, 0};
    try {
      embedding_forward(table.data(), 5, 2, ids.data(), 4, dst.data());
      FAIL() << "id " << bad << " accepted";
    } catch (const std::invalid_argument& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("id " + std::to_string(bad)), std::string::npos) << message;
      EXPECT_NE(message.find("position 2"), std::string::npos) << message;
    }
    EXPECT_EQ(dst, std::vector<float>(8, -1.0f)) << "nothing written before the check";
  }
  std::vector<float> diff_table(10, 0.0f);
  const std::vector<int32_t> ids{7};
  EXPECT_THROW(embedding_backward(dst.data(), ids.data(), 1, 5, 2, diff_table.data()), std::invalid_argument);
}

TEST(Embedding, BackwardScatterAddsAndSkipsPadding) {
  const int64_t vocab = 4, dim = 2;
  const std::vector<int32_t> ids{1, 3, 1, 0, 0};
  const auto diff_dst = random_vector(int64_t(ids.size()) * dim, 2);
  std::vector<float> diff_table(size_t(vocab * dim), 0.5f);  // existing gradient: added to
  embedding_backward(diff_dst.data(), ids.data(), int64_t(ids.size()), vocab, dim, diff_table.data(),
                     /*padding_id=*/0);
  for (int64_t j = 0; j < dim; ++j) {
    EXPECT_FLOAT_EQ(diff_table[size_t(0 * dim + j)], 0.5f) << "padding row gets nothing";
    EXPECT_FLOAT_EQ(diff_table[size_t(1 * dim + j)], 0.5f + diff_dst[size_t(0 * dim + j)] + diff_dst[size_t(2 * dim + j)]);
    EXPECT_FLOAT_EQ(diff_table[size_t(2 * dim + j)], 0.5f);
    EXPECT_FLOAT_EQ(diff_table[size_t(3 * dim + j)], 0.5f + diff_dst[size_t(1 * dim + j)]);
  }
}

TEST(Embedding, GradientMatchesFiniteDifferences) {
  const int64_t vocab = 6, dim = 3;
  auto table = random_vector(vocab * dim, 3);
  const std::vector<int32_t> ids{2, 5, 2, 1};
  const auto weights = random_vector(int64_t(ids.size()) * dim, 4);
  std::vector<float> dst(weights.size()), diff_table(table.size(), 0.0f);
  embedding_backward(weights.data(), ids.data(), int64_t(ids.size()), vocab, dim, diff_table.data());
  const float eps = 1e-2f;
  for (size_t p = 0; p < table.size(); ++p) {
    const float saved = table[p];
    table[p] = saved + eps;
    const double step = double(table[p]);
    embedding_forward(table.data(), vocab, dim, ids.data(), int64_t(ids.size()), dst.data());
    const double plus = weighted_sum(dst, weights);
    table[p] = saved - eps;
    const double actual_step = step - double(table[p]);  // the float step actually taken
    embedding_forward(table.data(), vocab, dim, ids.data(), int64_t(ids.size()), dst.data());
    const double minus = weighted_sum(dst, weights);
    table[p] = saved;
    EXPECT_NEAR(diff_table[p], (plus - minus) / actual_step, 1e-4) << "table[" << p << "]";
  }
}

TEST(Linear, ForwardMatchesLoops) {
  const LinearShape shape{7, 5, 3};
  const auto src = random_vector(shape.rows * shape.in_features, 5);
  const auto weight = random_vector(shape.out_features * shape.in_features, 6);
  const auto bias = random_vector(shape.out_features, 7);
  std::vector<float> dst(size_t(shape.rows * shape.out_features)), dst_no_bias(dst.size());
  linear_forward(shape, src.data(), weight.data(), bias.data(), dst.data());
  linear_forward(shape, src.data(), weight.data(), nullptr, dst_no_bias.data());
  for (int64_t r = 0; r < shape.rows; ++r) {
    for (int64_t o = 0; o < shape.out_features; ++o) {
      double expect = 0.0;
      for (int64_t i = 0; i < shape.in_features; ++i)
        expect += double(src[size_t(r * shape.in_features + i)]) * weight[size_t(o * shape.in_features + i)];
      EXPECT_NEAR(dst_no_bias[size_t(r * shape.out_features + o)], expect, 1e-5);
      EXPECT_NEAR(dst[size_t(r * shape.out_features + o)], expect + bias[size_t(o)], 1e-5);
    }
  }
  EXPECT_EQ(linear_parameter_count(256, 65), 256 * 65 + 65);
  EXPECT_EQ(linear_parameter_count(256, 65, false), 256 * 65);
}

TEST(Linear, GradientsMatchFiniteDifferencesAndAccumulate) {
  const LinearShape shape{6, 4, 3};
  auto src = random_vector(shape.rows * shape.in_features, 8);
  auto weight = random_vector(shape.out_features * shape.in_features, 9);
  auto bias = random_vector(shape.out_features, 10);
  const auto weights = random_vector(shape.rows * shape.out_features, 11);  // R in L = sum(dst * R)
  std::vector<float> diff_src(src.size(), 123.0f);  // overwritten
  std::vector<float> diff_weight(weight.size(), 0.25f), diff_bias(bias.size(), -0.5f);  // added to
  linear_backward(shape, src.data(), weight.data(), weights.data(), diff_src.data(), diff_weight.data(),
                  diff_bias.data());
  std::vector<float> dst(weights.size());
  auto loss = [&] {
    linear_forward(shape, src.data(), weight.data(), bias.data(), dst.data());
    return weighted_sum(dst, weights);
  };
  const float eps = 1e-2f;
  auto check = [&](std::vector<float>& x, const std::vector<float>& analytic, double offset, const char* what) {
    for (size_t p = 0; p < x.size(); ++p) {
      const float saved = x[p];
      x[p] = saved + eps;
    const double step = double(x[p]);
      const double plus = loss();
      x[p] = saved - eps;
    const double actual_step = step - double(x[p]);  // the float step actually taken
      const double minus = loss();
      x[p] = saved;
      EXPECT_NEAR(analytic[p] - offset, (plus - minus) / actual_step, 2e-4) << what << "[" << p << "]";
    }
  };
  check(src, diff_src, 0.0, "diff_src");
  check(weight, diff_weight, 0.25, "diff_weight");
  check(bias, diff_bias, -0.5, "diff_bias");

  // diff_src is optional; the weight gradients are the same without it.
  std::vector<float> diff_weight2(weight.size(), 0.25f), diff_bias2(bias.size(), -0.5f);
  linear_backward(shape, src.data(), weight.data(), weights.data(), nullptr, diff_weight2.data(), diff_bias2.data());
  EXPECT_EQ(diff_weight2, diff_weight);
  EXPECT_EQ(diff_bias2, diff_bias);
}

TEST(Linear, BadShapesThrow) {
  std::vector<float> x(8);
  EXPECT_THROW(linear_forward(LinearShape{1, 0, 2}, x.data(), x.data(), nullptr, x.data()), std::invalid_argument);
  EXPECT_THROW(linear_forward(LinearShape{-1, 2, 2}, x.data(), x.data(), nullptr, x.data()), std::invalid_argument);
  EXPECT_THROW(linear_backward(LinearShape{1, 2, 2}, x.data(), x.data(), x.data(), nullptr, nullptr, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::layers
