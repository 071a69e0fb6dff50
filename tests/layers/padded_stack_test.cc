// Per-sequence lengths (RecurrentForwardArgs::lengths) on every built backend: a padded
// batch gives every sequence exactly what it gets alone (outputs at valid steps, final
// states, input and state gradients; parameter gradients = the sum over sequences), for
// every cell, depth and direction; zero output and zero input gradient at padded steps;
// and the helpers and refusals of layers/padded_stack.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "layers/cuda/device.h"
#include "layers/padded_stack.h"
#include "layers/recurrent.h"
#include "tests/layers/reference_test_util.h"

namespace rnnlab::layers {
namespace {

using testing::CellVariant;
using testing::random_tensor;

struct Result {
  std::vector<float> dst, hT, diff_src, diff_h0, diff_c0, diff_params;
};

// One training forward and backward; loss gradients diff_dst and diff_hT come in.
Result run(RecurrentStack& stack, int seq_len, int batch, const std::vector<float>& params,
           const std::vector<float>& src, const std::vector<float>& h0, const std::vector<float>& c0,
           const std::vector<float>& diff_dst, const std::vector<float>& diff_hT, const int32_t* lengths) {
  const RecurrentOptions& o = stack.options();
  const bool lstm = o.cell == Cell::lstm;
  Result r;
  r.dst.assign(size_t(seq_len) * size_t(batch) * size_t(o.output_size()), -1.0f);
  r.hT.assign(h0.size(), 0.0f);
  RecurrentForwardArgs fwd;
  fwd.seq_len = seq_len;
  fwd.batch = batch;
  fwd.params = params.data();
  fwd.src = src.data();
  fwd.h0 = h0.data();
  fwd.c0 = lstm ? c0.data() : nullptr;
  fwd.dst = r.dst.data();
  fwd.hT = r.hT.data();
  fwd.lengths = lengths;
  stack.forward(fwd, true);
  r.diff_src.assign(src.size(), -1.0f);
  r.diff_h0.assign(h0.size(), 0.0f);
  r.diff_c0.assign(lstm ? c0.size() : 0, 0.0f);
  r.diff_params.assign(params.size(), 0.0f);
  RecurrentBackwardArgs bwd;
  bwd.diff_dst = diff_dst.data();
  bwd.diff_hT = diff_hT.data();
  bwd.diff_src = r.diff_src.data();
  bwd.diff_h0 = r.diff_h0.data();
  bwd.diff_c0 = lstm ? r.diff_c0.data() : nullptr;
  bwd.diff_params = r.diff_params.data();
  stack.backward(bwd);
  return r;
}

// Rows [k, n, :] of a [K, N, C] tensor for one n, k < count: a sequence's first `count`
// steps of a time-major tensor, or its states of a slot-major [slots, N, C] one.
std::vector<float> column(const std::vector<float>& data, int batch, int channels, int n, int count) {
  std::vector<float> out;
  for (int k = 0; k < count; ++k)
    out.insert(out.end(), data.begin() + (int64_t(k) * batch + n) * channels,
               data.begin() + (int64_t(k) * batch + n + 1) * channels);
  return out;
}

// Rounding-level agreement: max |got - want| <= 1e-5 * max |want| (floor 1e-3).
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1e-3, diff = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  EXPECT_LE(diff / scale, 1e-5) << what << ": max difference " << diff << " at scale " << scale;
}

class PaddedBatch : public ::testing::TestWithParam<std::tuple<std::string, CellVariant>> {};

TEST_P(PaddedBatch, EqualsEachSequenceAlone) {
  const auto& [backend, variant] = GetParam();
  if (backend == "cudnn" && !cuda::cuda_device_available())
    GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason();
  if (backend == "cudnn" && variant.peephole) GTEST_SKIP() << "cuDNN has no peephole LSTM";
  const int seq_len = 7, batch = 4;
  const std::vector<int32_t> lengths = {7, 2, 5, 1};
  for (Direction direction :
       {Direction::forward, Direction::reverse, Direction::bidirectional_concat, Direction::bidirectional_sum})
    for (int layers : {1, 2}) {
      RecurrentOptions options;
      options.cell = variant.cell;
      options.peephole = variant.peephole;
      options.projection_size = variant.projection_size;
      options.input_size = 3;
      options.hidden_size = 5;
      options.num_layers = layers;
      options.direction = direction;
      SCOPED_TRACE(backend + " " + variant.name + " " + std::string(to_string(direction)) + " layers " +
                   std::to_string(layers));
      const int S = options.state_size(), H = options.hidden_size, O = options.output_size(), I = options.input_size;
      const int slots = layers * direction_count(direction);
      const auto params = random_tensor<float>(recurrent_parameter_count(options), 1, 0.5);
      const auto src = random_tensor<float>(seq_len * batch * I, 2, 1.0);
      const auto h0 = random_tensor<float>(slots * batch * S, 3, 0.5);
      const auto c0 = random_tensor<float>(slots * batch * H, 4, 0.5);
      const auto diff_dst = random_tensor<float>(seq_len * batch * O, 5, 1.0);
      const auto diff_hT = random_tensor<float>(slots * batch * S, 6, 1.0);
      auto stack = make_recurrent_stack(backend, options);
      const Result padded = run(*stack, seq_len, batch, params, src, h0, c0, diff_dst, diff_hT, lengths.data());

      std::vector<float> summed(params.size(), 0.0f);
      for (int n = 0; n < batch; ++n) {
        const int steps = lengths[size_t(n)];
        const std::string who = "sequence " + std::to_string(n) + " (" + std::to_string(steps) + " steps)";
        auto alone_stack = make_recurrent_stack(backend, options);
        const Result alone = run(*alone_stack, steps, 1, params, column(src, batch, I, n, steps),
                                 column(h0, batch, S, n, slots), column(c0, batch, H, n, slots),
                                 column(diff_dst, batch, O, n, steps), column(diff_hT, batch, S, n, slots), nullptr);
        expect_close(column(padded.dst, batch, O, n, steps), alone.dst, who + " dst");
        expect_close(column(padded.hT, batch, S, n, slots), alone.hT, who + " hT");
        expect_close(column(padded.diff_src, batch, I, n, steps), alone.diff_src, who + " diff_src");
        expect_close(column(padded.diff_h0, batch, S, n, slots), alone.diff_h0, who + " diff_h0");
        if (options.cell == Cell::lstm)
          expect_close(column(padded.diff_c0, batch, H, n, slots), alone.diff_c0, who + " diff_c0");
        for (size_t i = 0; i < summed.size(); ++i) summed[i] += alone.diff_params[i];
        for (int t = steps; t < seq_len; ++t) {
          for (int c = 0; c < O; ++c) ASSERT_EQ(padded.dst[(size_t(t) * batch + n) * O + c], 0.0f) << who << " t " << t;
          for (int c = 0; c < I; ++c)
            ASSERT_EQ(padded.diff_src[(size_t(t) * batch + n) * I + c], 0.0f) << who << " t " << t;
        }
      }
      expect_close(padded.diff_params, summed, "diff_params = sum over the sequences alone");
    }
}

std::vector<std::tuple<std::string, CellVariant>> cases() {
  std::vector<std::tuple<std::string, CellVariant>> out;
  for (const std::string& backend : recurrent_backends())
    for (const CellVariant& variant : testing::all_cell_variants()) out.emplace_back(backend, variant);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, PaddedBatch, ::testing::ValuesIn(cases()), [](const auto& test) {
  return std::get<0>(test.param) + "_" + std::get<1>(test.param).name;
});

TEST(PaddedStack, RefusesBadLengthsAndCellStates) {
  RecurrentOptions options;
  options.cell = Cell::lstm;
  options.input_size = 2;
  options.hidden_size = 3;
  for (const std::string backend : {"reference", "onednn"}) {
    const auto built = recurrent_backends();
    if (std::find(built.begin(), built.end(), backend) == built.end()) continue;
    auto stack = make_recurrent_stack(backend, options);
    std::vector<float> params(size_t(recurrent_parameter_count(options)), 0.1f), src(3 * 2 * 2, 1.0f), dst(3 * 2 * 3);
    std::vector<float> cT(2 * 3);
    RecurrentForwardArgs args;
    args.seq_len = 3;
    args.batch = 2;
    args.params = params.data();
    args.src = src.data();
    args.dst = dst.data();
    for (const std::vector<int32_t>& bad : {std::vector<int32_t>{3, 0}, std::vector<int32_t>{4, 1}}) {
      args.lengths = bad.data();
      try {
        stack->forward(args, false);
        ADD_FAILURE() << backend << ": lengths {" << bad[0] << ", " << bad[1] << "} were accepted";
      } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("outside [1, seq_len = 3]"), std::string::npos) << error.what();
      }
    }
    const std::vector<int32_t> good = {3, 1};
    args.lengths = good.data();
    args.cT = cT.data();
    EXPECT_THROW(stack->forward(args, false), std::invalid_argument) << backend << ": cT with lengths";
  }
}

TEST(PaddedStack, MovesReversesAndGathersWithinLengths) {
  // [T=3, N=2, C=1]: column 0 has 3 steps, column 1 has 2.
  const std::vector<int32_t> lengths = {3, 2};
  const StepLengths steps{3, 2, lengths.data()};
  const std::vector<float> data = {1, 10, 2, 20, 3, 30};
  std::vector<float> reversed(6, -1.0f);
  move_steps(steps, data.data(), {1, 0}, reversed.data(), {1, 0}, 1, true, false);
  EXPECT_EQ(reversed, (std::vector<float>{3, 20, 2, 10, 1, -1})) << "padded step left as it was";
  zero_padded_steps(steps, reversed.data(), 1);
  EXPECT_EQ(reversed[5], 0.0f);
  std::vector<float> last(2);
  gather_last_steps(steps, data.data(), 1, last.data());
  EXPECT_EQ(last, (std::vector<float>{3, 20}));
  std::vector<float> grad(6, 0.0f);
  scatter_add_last_steps(steps, last.data(), 1, grad.data());
  EXPECT_EQ(grad, (std::vector<float>{0, 0, 0, 20, 3, 0}));
}

}  // namespace
}  // namespace rnnlab::layers
