// Initialisation schemes: bounds and statistics per tensor kind, orthogonality, the LSTM
// forget bias, seeding (same seed -> same values, different -> different), errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "layers/init.h"

namespace rnnlab::layers {
namespace {

bool starts_with(const std::string& name, const char* prefix) { return name.rfind(prefix, 0) == 0; }

// max |(W^T W - I)| for W [rows, cols] with rows >= cols (orthonormal columns), or
// max |(W W^T - I)| when rows < cols.
double orthogonality_error(const float* w, int64_t rows, int64_t cols) {
  const bool columns = rows >= cols;
  const int64_t n = columns ? cols : rows, len = columns ? rows : cols;
  auto at = [&](int64_t vec, int64_t i) { return double(columns ? w[i * cols + vec] : w[vec * cols + i]); };
  double worst = 0.0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) {
      double dot = 0.0;
      for (int64_t i = 0; i < len; ++i) dot += at(a, i) * at(b, i);
      worst = std::max(worst, std::abs(dot - (a == b ? 1.0 : 0.0)));
    }
  return worst;
}

struct Stats {
  double min = 1e30, max = -1e30, mean = 0.0, variance = 0.0;
};
Stats stats(const float* x, int64_t count) {
  Stats s;
  for (int64_t i = 0; i < count; ++i) {
    s.min = std::min(s.min, double(x[i]));
    s.max = std::max(s.max, double(x[i]));
    s.mean += x[i];
  }
  s.mean /= double(count);
  for (int64_t i = 0; i < count; ++i) s.variance += (x[i] - s.mean) * (x[i] - s.mean);
  s.variance /= double(count);
  return s;
}

std::vector<RecurrentOptions> all_stacks() {
  std::vector<RecurrentOptions> out;
  for (Cell cell : {Cell::rnn_tanh, Cell::rnn_relu, Cell::lstm, Cell::gru}) {
    RecurrentOptions o;
    o.cell = cell;
    o.input_size = 12;
    o.hidden_size = 16;
    o.num_layers = 2;
    o.direction = Direction::bidirectional_concat;
    out.push_back(o);
  }
  RecurrentOptions projected;
  projected.cell = Cell::lstm;
  projected.input_size = 10;
  projected.hidden_size = 24;
  projected.projection_size = 8;
  projected.peephole = true;
  projected.num_layers = 2;
  out.push_back(projected);
  return out;
}

TEST(InitRecurrent, KerasScheme) {
  for (const RecurrentOptions& options : all_stacks()) {
    SCOPED_TRACE(std::string(to_string(options.cell)) + " projection " + std::to_string(options.projection_size));
    std::vector<float> params(size_t(recurrent_parameter_count(options)), std::nanf(""));
    init_recurrent(options, InitScheme::keras, 42, params.data());
    const int64_t hidden = options.hidden_size;
    for (const ParamInfo& info : recurrent_parameters(options)) {
      SCOPED_TRACE(info.name);
      const float* p = params.data() + info.offset;
      const Stats s = stats(p, info.size());
      if (starts_with(info.name, "weight_ih")) {
        // Keras kernel [I, G*H]: limit sqrt(6 / (I + G*H)).
        const double limit = std::sqrt(6.0 / double(info.shape[1] + info.shape[0]));
        EXPECT_LE(s.max, limit);
        EXPECT_GE(s.min, -limit);
        EXPECT_GT(s.max, 0.8 * limit) << "uses the whole range";
        EXPECT_NEAR(s.variance, limit * limit / 3.0, 0.25 * limit * limit / 3.0);
      } else if (starts_with(info.name, "weight_hh")) {
        EXPECT_LT(orthogonality_error(p, info.shape[0], info.shape[1]), 1e-4);
      } else if (starts_with(info.name, "bias_")) {
        for (int64_t i = 0; i < info.size(); ++i) {
          const bool forget = options.cell == Cell::lstm && i >= hidden && i < 2 * hidden;
          ASSERT_EQ(p[i], forget ? 1.0f : 0.0f) << "bias element " << i;
        }
      } else if (starts_with(info.name, "weight_hr")) {
        const double limit = std::sqrt(6.0 / double(info.shape[0] + info.shape[1]));
        EXPECT_LE(s.max, limit);
        EXPECT_GE(s.min, -limit);
      } else if (starts_with(info.name, "weight_peephole")) {
        EXPECT_EQ(s.min, 0.0);
        EXPECT_EQ(s.max, 0.0);
      } else {
        ADD_FAILURE() << "unexpected tensor";
      }
    }
  }
}

TEST(InitRecurrent, PytorchScheme) {
  for (const RecurrentOptions& options : all_stacks()) {
    SCOPED_TRACE(std::string(to_string(options.cell)));
    std::vector<float> params(size_t(recurrent_parameter_count(options)), std::nanf(""));
    init_recurrent(options, InitScheme::pytorch, 42, params.data());
    const double k = 1.0 / std::sqrt(double(options.hidden_size));
    for (const ParamInfo& info : recurrent_parameters(options)) {
      SCOPED_TRACE(info.name);
      const Stats s = stats(params.data() + info.offset, info.size());
      // RNN/LSTM's single bias is b_ih + b_hh: the sum of two uniforms, within 2k.
      const bool summed_bias = starts_with(info.name, "bias_ih") && options.cell != Cell::gru;
      const double limit = summed_bias ? 2.0 * k : k;
      EXPECT_LE(s.max, limit);
      EXPECT_GE(s.min, -limit);
      if (info.size() >= 200) {
        const double expected_variance = (summed_bias ? 2.0 : 1.0) * k * k / 3.0;
        EXPECT_NEAR(s.variance, expected_variance, 0.25 * expected_variance);
      }
    }
  }
}

TEST(InitRecurrent, SeedDeterminesValues) {
  for (InitScheme scheme : {InitScheme::keras, InitScheme::pytorch}) {
    const RecurrentOptions options = all_stacks()[2];  // LSTM
    const size_t count = size_t(recurrent_parameter_count(options));
    std::vector<float> a(count), b(count), c(count);
    init_recurrent(options, scheme, 7, a.data());
    init_recurrent(options, scheme, 7, b.data());
    init_recurrent(options, scheme, 8, c.data());
    EXPECT_EQ(a, b);
    size_t differ = 0;
    for (size_t i = 0; i < count; ++i) differ += a[i] != c[i];
    // Only the constant biases may coincide.
    EXPECT_GT(differ, count * 9 / 10) << to_string(scheme);
    // Forward and reverse directions, and distinct layers, are not copies of each other.
    const auto infos = recurrent_parameters(options);
    EXPECT_NE(std::vector<float>(a.begin() + infos[0].offset, a.begin() + infos[0].offset + 16),
              std::vector<float>(a.begin() + infos[3].offset, a.begin() + infos[3].offset + 16));
  }
}

TEST(InitOrthogonal, SquareTallAndWide) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{32, 32}, {96, 32}, {8, 40}}) {
    std::vector<float> m(size_t(rows * cols));
    init_orthogonal(rows, cols, 3, 1, m.data());
    EXPECT_LT(orthogonality_error(m.data(), rows, cols), 1e-5) << rows << "x" << cols;
  }
}

TEST(InitLinearEmbedding, Schemes) {
  const int64_t in = 256, out = 65;
  std::vector<float> weight(size_t(in * out)), bias(size_t(out), 5.0f);
  init_linear(in, out, InitScheme::keras, 1, weight.data(), bias.data());
  Stats s = stats(weight.data(), in * out);
  const double glorot = std::sqrt(6.0 / double(in + out));
  EXPECT_LE(s.max, glorot);
  EXPECT_GE(s.min, -glorot);
  EXPECT_NEAR(s.variance, glorot * glorot / 3.0, 0.1 * glorot * glorot / 3.0);
  EXPECT_EQ(bias, std::vector<float>(size_t(out), 0.0f));

  init_linear(in, out, InitScheme::pytorch, 1, weight.data(), bias.data());
  const double k = 1.0 / std::sqrt(double(in));
  s = stats(weight.data(), in * out);
  EXPECT_LE(s.max, k);
  EXPECT_GE(s.min, -k);
  s = stats(bias.data(), out);
  EXPECT_LE(s.max, k);
  EXPECT_GE(s.min, -k);
  EXPECT_GT(s.max - s.min, k) << "bias drawn, not constant";

  const int64_t vocab = 1000, dim = 32;
  std::vector<float> table(size_t(vocab * dim));
  init_embedding(vocab, dim, InitScheme::keras, 2, table.data());
  s = stats(table.data(), vocab * dim);
  EXPECT_LE(s.max, 0.05);
  EXPECT_GE(s.min, -0.05);
  EXPECT_GT(s.max, 0.049);
  init_embedding(vocab, dim, InitScheme::pytorch, 2, table.data(), /*padding_id=*/3);
  s = stats(table.data() + 4 * dim, (vocab - 4) * dim);
  EXPECT_NEAR(s.mean, 0.0, 0.02);
  EXPECT_NEAR(s.variance, 1.0, 0.03);
  for (int64_t j = 0; j < dim; ++j) EXPECT_EQ(table[size_t(3 * dim + j)], 0.0f) << "padding row";

  // Distinct per-layer seeds give distinct tables.
  std::vector<float> other(table.size());
  init_embedding(vocab, dim, InitScheme::pytorch, init_seed(2, 1), other.data());
  EXPECT_NE(other, table);
  EXPECT_NE(init_seed(2, 0), init_seed(2, 1));
}

TEST(Init, Errors) {
  try {
    parse_init_scheme("xavier");
    FAIL() << "unknown scheme accepted";
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("xavier"), std::string::npos) << message;
    EXPECT_NE(message.find("keras, pytorch"), std::string::npos) << message;
  }
  EXPECT_EQ(parse_init_scheme("pytorch"), InitScheme::pytorch);
  EXPECT_EQ(to_string(InitScheme::keras), "keras");
  std::vector<float> x(4);
  EXPECT_THROW(init_linear(0, 2, InitScheme::keras, 1, x.data(), nullptr), std::invalid_argument);
  EXPECT_THROW(init_embedding(2, 2, InitScheme::keras, 1, x.data(), 2), std::invalid_argument);
  RecurrentOptions bad;
  bad.hidden_size = 0;
  bad.input_size = 3;
  EXPECT_THROW(init_recurrent(bad, InitScheme::keras, 1, x.data()), std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::layers
