// The canonical (PyTorch) <-> oneDNN weight conversion of the oneDNN backend: exact round
// trips, the gate and bias facts it encodes, and gradient mapping.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "layers/onednn/weights.h"
#include "layers/random.h"

namespace rnnlab::layers::onednn {
namespace {

struct Config {
  Cell cell;
  bool peephole;
  int projection;
};

RecurrentOptions make_options(const Config& config, Direction direction, int layers, int input_size) {
  RecurrentOptions options;
  options.cell = config.cell;
  options.peephole = config.peephole;
  options.projection_size = config.projection;
  options.hidden_size = 6;
  options.input_size = input_size;
  options.num_layers = layers;
  options.direction = direction;
  return options;
}

std::vector<float> random_vector(int64_t count, uint64_t stream) {
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[size_t(i)] = float(random_normal(42, stream, uint64_t(i)));
  return values;
}

// Plain tensors of one group, in one buffer.
struct Plain {
  std::vector<float> data;
  PlainWeights ptrs;
  explicit Plain(const WeightMap& map) {
    const int64_t sizes[] = {map.weights_layer_size(), map.weights_iter_size(), map.bias_size(), map.peephole_size(),
                             map.projection_size()};
    int64_t total = 0;
    for (int64_t s : sizes) total += s;
    data.assign(size_t(total), std::numeric_limits<float>::quiet_NaN());
    float* at = data.data();
    float** slots[] = {&ptrs.weights_layer, &ptrs.weights_iter, &ptrs.bias, &ptrs.peephole, &ptrs.projection};
    for (int i = 0; i < 5; ++i) {
      *slots[i] = sizes[i] ? at : nullptr;
      at += sizes[i];
    }
  }
};

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Groups a backend may build: every layer alone, and the whole stack when layer inputs agree.
std::vector<std::pair<int, int>> groups_of(const RecurrentOptions& options) {
  std::vector<std::pair<int, int>> groups;
  for (int layer = 0; layer < options.num_layers; ++layer) groups.push_back({layer, 1});
  if (options.num_layers > 1 && options.input_size == options.output_size()) groups.push_back({0, options.num_layers});
  return groups;
}

class WeightRoundTrip : public ::testing::TestWithParam<std::tuple<int, Direction, int, bool>> {};

const Config kConfigs[] = {{Cell::rnn_tanh, false, 0}, {Cell::rnn_relu, false, 0}, {Cell::lstm, false, 0},
                           {Cell::gru, false, 0},      {Cell::lstm, true, 0},       {Cell::lstm, false, 4},
                           {Cell::lstm, true, 4}};

TEST_P(WeightRoundTrip, ExactBothWays) {
  const auto [config_index, direction, layers, same_input] = GetParam();
  const Config config = kConfigs[config_index];
  RecurrentOptions options = make_options(config, direction, layers, 5);
  if (same_input) options.input_size = options.output_size();
  const int64_t count = recurrent_parameter_count(options);
  const std::vector<float> canonical = random_vector(count, 1);

  // canonical -> oneDNN -> canonical, over a per-layer split: every element comes back.
  std::vector<float> back(size_t(count), std::numeric_limits<float>::quiet_NaN());
  for (int layer = 0; layer < layers; ++layer) {
    WeightMap map(options, layer, 1);
    Plain plain(map);
    map.to_onednn(canonical.data(), plain.ptrs);
    for (float value : plain.data) ASSERT_FALSE(std::isnan(value)) << "plain tensor element left unwritten";
    map.to_canonical(plain.ptrs, back.data());
  }
  for (float value : back) ASSERT_FALSE(std::isnan(value)) << "canonical element left unwritten";
  if (config.cell != Cell::gru) {
    EXPECT_TRUE(bit_equal(back, canonical));
  } else {
    // A fused z/r bias cannot be split back: b_i* keeps the sum, b_h* becomes 0, and the
    // computed function (the sums, b_in and b_hn) is unchanged bit for bit.
    for (const ParamInfo& info : recurrent_parameters(options)) {
      const float* a = canonical.data() + info.offset;
      const float* b = back.data() + info.offset;
      const int64_t h = options.hidden_size;
      if (info.name.rfind("bias_ih", 0) == 0) {
        const float* a_hh = a + info.size();  // bias_hh follows bias_ih
        for (int64_t i = 0; i < 2 * h; ++i) EXPECT_EQ(b[i], a[i] + a_hh[i]) << info.name << " " << i;
        for (int64_t i = 2 * h; i < 3 * h; ++i) EXPECT_EQ(b[i], a[i]) << info.name << " " << i;
      } else if (info.name.rfind("bias_hh", 0) == 0) {
        for (int64_t i = 0; i < 2 * h; ++i) EXPECT_EQ(b[i], 0.0f) << info.name << " " << i;
        for (int64_t i = 2 * h; i < 3 * h; ++i) EXPECT_EQ(b[i], a[i]) << info.name << " " << i;
      } else {
        EXPECT_EQ(std::memcmp(a, b, size_t(info.size()) * sizeof(float)), 0) << info.name;
      }
    }
  }

  // oneDNN -> canonical (PyTorch layout) -> oneDNN is exact for every cell and grouping.
  for (const auto& [first, group_layers] : groups_of(options)) {
    WeightMap map(options, first, group_layers);
    Plain plain(map), again(map);
    const std::vector<float> values = random_vector(int64_t(plain.data.size()), 2);
    std::copy(values.begin(), values.end(), plain.data.begin());  // keeps plain.ptrs valid
    std::vector<float> through(size_t(count), 0.0f);
    map.to_canonical(plain.ptrs, through.data());
    map.to_onednn(through.data(), again.ptrs);
    EXPECT_TRUE(bit_equal(plain.data, again.data)) << "group from layer " << first << " x" << group_layers;
  }
}

INSTANTIATE_TEST_SUITE_P(AllCells, WeightRoundTrip,
                         ::testing::Combine(::testing::Range(0, int(std::size(kConfigs))),
                                            ::testing::Values(Direction::forward, Direction::reverse,
                                                              Direction::bidirectional_concat,
                                                              Direction::bidirectional_sum),
                                            ::testing::Values(1, 3), ::testing::Bool()));

// The gate facts, checked on single elements so a wrong permutation cannot cancel out.
TEST(WeightMapFacts, GruSwapsResetAndUpdateAndFusesBiases) {
  RecurrentOptions options = make_options({Cell::gru, false, 0}, Direction::forward, 1, 2);
  const int64_t h = options.hidden_size;
  WeightMap map(options, 0, 1);
  Plain plain(map);
  std::vector<float> canonical(size_t(recurrent_parameter_count(options)));
  for (size_t i = 0; i < canonical.size(); ++i) canonical[i] = float(i);
  map.to_onednn(canonical.data(), plain.ptrs);
  const auto params = recurrent_parameters(options);  // weight_ih, weight_hh, bias_ih, bias_hh
  // oneDNN gate 0 (u) row 0 == PyTorch z row 0 == weight_ih row h.
  EXPECT_EQ(plain.ptrs.weights_layer[0], canonical[size_t(params[0].offset + h * options.input_size)]);
  // oneDNN gate 1 (r) == PyTorch gate 0.
  EXPECT_EQ(plain.ptrs.weights_layer[h * options.input_size], canonical[size_t(params[0].offset)]);
  const float* b_ih = canonical.data() + params[2].offset;
  const float* b_hh = canonical.data() + params[3].offset;
  EXPECT_EQ(plain.ptrs.bias[0], b_ih[h] + b_hh[h]);
  EXPECT_EQ(plain.ptrs.bias[h], b_ih[0] + b_hh[0]);
  EXPECT_EQ(plain.ptrs.bias[2 * h], b_ih[2 * h]);
  EXPECT_EQ(plain.ptrs.bias[3 * h], b_hh[2 * h]);
}

TEST(WeightMapFacts, LstmKeepsGateOrder) {
  RecurrentOptions options = make_options({Cell::lstm, false, 0}, Direction::forward, 1, 3);
  WeightMap map(options, 0, 1);
  Plain plain(map);
  std::vector<float> canonical(size_t(recurrent_parameter_count(options)));
  for (size_t i = 0; i < canonical.size(); ++i) canonical[i] = float(i);
  map.to_onednn(canonical.data(), plain.ptrs);
  for (int64_t i = 0; i < map.weights_layer_size(); ++i) ASSERT_EQ(plain.ptrs.weights_layer[i], canonical[size_t(i)]);
}

TEST(WeightMapFacts, GradientsAreAddedAndFusedBiasFeedsBoth) {
  RecurrentOptions options = make_options({Cell::gru, false, 0}, Direction::bidirectional_concat, 2, 3);
  const int64_t h = options.hidden_size;
  const auto params = recurrent_parameters(options);
  std::vector<float> diff(size_t(recurrent_parameter_count(options)), 1.0f);  // pre-existing gradient
  for (int layer = 0; layer < 2; ++layer) {
    WeightMap map(options, layer, 1);
    Plain plain(map);
    for (size_t i = 0; i < plain.data.size(); ++i) plain.data[i] = 0.5f;
    for (int d = 0; d < 2; ++d)
      for (int block = 0; block < 4; ++block) plain.ptrs.bias[(d * 4 + block) * h] = float(10 + block);
    map.add_gradients(plain.ptrs, diff.data());
  }
  for (const ParamInfo& info : params) {
    const float* g = diff.data() + info.offset;
    if (info.name.rfind("weight", 0) == 0) {
      for (int64_t i = 0; i < info.size(); ++i) ASSERT_EQ(g[i], 1.5f) << info.name;
    } else if (info.name.rfind("bias_ih", 0) == 0) {
      EXPECT_EQ(g[0], 1.0f + 11.0f) << info.name;  // r <- dB1
      EXPECT_EQ(g[h], 1.0f + 10.0f) << info.name;  // z <- dB0
      EXPECT_EQ(g[2 * h], 1.0f + 12.0f) << info.name;  // n <- dB2
    } else {
      EXPECT_EQ(g[0], 1.0f + 11.0f) << info.name;
      EXPECT_EQ(g[h], 1.0f + 10.0f) << info.name;
      EXPECT_EQ(g[2 * h], 1.0f + 13.0f) << info.name;  // b_hn <- dB3
    }
  }
}

TEST(WeightMapFacts, RejectsGroupsOnePrimitiveCannotRun) {
  RecurrentOptions options = make_options({Cell::lstm, false, 0}, Direction::forward, 3, 5);
  EXPECT_THROW(WeightMap(options, 0, 3), std::invalid_argument);  // layer 0 has 5 inputs, others 6
  EXPECT_THROW(WeightMap(options, 2, 2), std::invalid_argument);
  EXPECT_NO_THROW(WeightMap(options, 1, 2));
}

}  // namespace
}  // namespace rnnlab::layers::onednn
