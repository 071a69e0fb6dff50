// Every built backend against the reference backend: one test body, parameterised over
// backend x cell variant x direction x layers x input size x initial states (like
// CTranslate2's tests/ops_test.cc). Checks forward (inference and training), backward
// (diff_src, diff_h0, diff_c0) and every parameter gradient, plus dropout masks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "layers/cuda/device.h"
#include "layers/random.h"
#include "layers/recurrent.h"

namespace rnnlab::layers {
namespace {

struct Variant {
  const char* name;
  Cell cell;
  bool peephole;
  int projection_size;
};
const Variant kVariants[] = {{"rnn_tanh", Cell::rnn_tanh, false, 0}, {"rnn_relu", Cell::rnn_relu, false, 0},
                             {"lstm", Cell::lstm, false, 0},         {"gru", Cell::gru, false, 0},
                             {"lstm_peephole", Cell::lstm, true, 0}, {"lstm_projection", Cell::lstm, false, 3},
                             {"lstm_peephole_projection", Cell::lstm, true, 3}};
const Direction kDirections[] = {Direction::forward, Direction::reverse, Direction::bidirectional_concat,
                                 Direction::bidirectional_sum};

constexpr double kTolerance = 1e-4;

// max|a - b| / max(max|b|, floor): relative to the tensor's scale, so tiny entries of a
// large tensor do not blow up, with a floor so an all-but-zero tensor compares absolutely.
double relative_error(const std::vector<float>& a, const std::vector<float>& b, int64_t begin = 0,
                      int64_t count = -1) {
  if (count < 0) count = int64_t(b.size());
  double diff = 0.0, scale = 1e-3;
  for (int64_t i = begin; i < begin + count; ++i) {
    diff = std::max(diff, std::fabs(double(a[size_t(i)]) - double(b[size_t(i)])));
    scale = std::max(scale, std::fabs(double(b[size_t(i)])));
  }
  return diff / scale;
}

std::vector<float> random_vector(int64_t count, uint64_t stream, float scale) {
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[size_t(i)] = scale * float(random_normal(99, stream, uint64_t(i)));
  return values;
}

// Inputs of one comparison and everything both backends produce from them.
struct Outputs {
  std::vector<float> dst, hT, cT, dst_infer, diff_src, diff_h0, diff_c0, diff_params;
};

struct Problem {
  RecurrentOptions options;
  int seq_len = 5, batch = 3;
  bool with_states = true;
  uint64_t dropout_seed = 5;
  std::vector<float> params, src, h0, c0, diff_dst, diff_hT, diff_cT, diff_params0;

  Problem(const RecurrentOptions& opt, bool states) : options(opt), with_states(states) {
    const int64_t slots = int64_t(options.num_layers) * direction_count(options.direction) * batch;
    params = random_vector(recurrent_parameter_count(options), 1, 0.4f);
    src = random_vector(int64_t(seq_len) * batch * options.input_size, 2, 1.0f);
    h0 = random_vector(slots * options.state_size(), 3, 0.5f);
    c0 = random_vector(slots * options.hidden_size, 4, 0.5f);
    diff_dst = random_vector(int64_t(seq_len) * batch * options.output_size(), 5, 1.0f);
    diff_hT = random_vector(int64_t(h0.size()), 6, 1.0f);
    diff_cT = random_vector(int64_t(c0.size()), 7, 1.0f);
    diff_params0 = random_vector(int64_t(params.size()), 8, 1.0f);  // gradients must be ADDED to this
  }

  Outputs run(const std::string& backend) const {
    const bool lstm = options.cell == Cell::lstm;
    auto stack = make_recurrent_stack(backend, options);
    Outputs out;
    out.dst.resize(diff_dst.size());
    out.dst_infer.resize(diff_dst.size());
    out.hT.resize(h0.size());
    out.cT.resize(lstm ? c0.size() : 0);
    RecurrentForwardArgs fwd;
    fwd.seq_len = seq_len;
    fwd.batch = batch;
    fwd.params = params.data();
    fwd.src = src.data();
    fwd.h0 = with_states ? h0.data() : nullptr;
    fwd.c0 = with_states && lstm ? c0.data() : nullptr;
    fwd.dst = out.dst_infer.data();
    fwd.dropout_seed = dropout_seed;
    stack->forward(fwd, false);
    fwd.dst = out.dst.data();
    fwd.hT = out.hT.data();
    fwd.cT = lstm ? out.cT.data() : nullptr;
    stack->forward(fwd, true);
    out.diff_src.resize(src.size());
    out.diff_h0.resize(h0.size());
    out.diff_c0.resize(lstm ? c0.size() : 0);
    out.diff_params = diff_params0;
    RecurrentBackwardArgs bwd;
    bwd.diff_dst = diff_dst.data();
    bwd.diff_hT = with_states ? diff_hT.data() : nullptr;
    bwd.diff_cT = with_states && lstm ? diff_cT.data() : nullptr;
    bwd.diff_src = out.diff_src.data();
    bwd.diff_h0 = out.diff_h0.data();
    bwd.diff_c0 = lstm ? out.diff_c0.data() : nullptr;
    bwd.diff_params = out.diff_params.data();
    stack->backward(bwd);
    return out;
  }
};

void expect_equivalent(const Problem& problem, const Outputs& got, const Outputs& want) {
  EXPECT_LE(relative_error(got.dst_infer, want.dst_infer), kTolerance) << "dst (inference)";
  EXPECT_LE(relative_error(got.dst, want.dst), kTolerance) << "dst (training)";
  EXPECT_LE(relative_error(got.hT, want.hT), kTolerance) << "hT";
  EXPECT_LE(relative_error(got.cT, want.cT), kTolerance) << "cT";
  EXPECT_LE(relative_error(got.diff_src, want.diff_src), kTolerance) << "diff_src";
  EXPECT_LE(relative_error(got.diff_h0, want.diff_h0), kTolerance) << "diff_h0";
  EXPECT_LE(relative_error(got.diff_c0, want.diff_c0), kTolerance) << "diff_c0";
  // Each parameter tensor on its own scale (a bias gradient is not drowned by a weight's).
  for (const ParamInfo& info : recurrent_parameters(problem.options)) {
    std::vector<float> got_grad(got.diff_params.begin() + info.offset,
                                got.diff_params.begin() + info.offset + info.size());
    std::vector<float> want_grad(want.diff_params.begin() + info.offset,
                                 want.diff_params.begin() + info.offset + info.size());
    for (int64_t i = 0; i < info.size(); ++i) {  // compare the added gradient, not the preset
      got_grad[size_t(i)] -= problem.diff_params0[size_t(info.offset + i)];
      want_grad[size_t(i)] -= problem.diff_params0[size_t(info.offset + i)];
    }
    EXPECT_LE(relative_error(got_grad, want_grad), kTolerance) << info.name;
  }
}

// CPU backends get one test per case; cuDNN gets the same cases looped inside a few tests
// (below), so a machine without a GPU skips 3 tests, not hundreds.
std::vector<std::string> compared_backends() {
  std::vector<std::string> names;
  for (const std::string& name : recurrent_backends())
    if (name != "reference" && name != "cudnn") names.push_back(name);
  return names;
}

RecurrentOptions make_options(int variant, Direction direction, int layers, bool input_equals_output) {
  RecurrentOptions options;
  options.cell = kVariants[variant].cell;
  options.peephole = kVariants[variant].peephole;
  options.projection_size = kVariants[variant].projection_size;
  options.hidden_size = 6;
  options.num_layers = layers;
  options.direction = direction;
  // Equal input and output sizes let a backend run the stack as one primitive.
  options.input_size = input_equals_output ? options.output_size() : 5;
  if (!input_equals_output && options.input_size == options.output_size()) options.input_size = 7;
  return options;
}

using Params = std::tuple<std::string, int, Direction, int, bool, bool>;

class BackendEquivalence : public ::testing::TestWithParam<Params> {};
// A build with the reference backend alone has nothing to compare.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendEquivalence);

TEST_P(BackendEquivalence, MatchesReference) {
  const auto& [backend, variant, direction, layers, input_equals_output, with_states] = GetParam();
  const Problem problem(make_options(variant, direction, layers, input_equals_output), with_states);
  expect_equivalent(problem, problem.run(backend), problem.run("reference"));
}

std::string case_name(const ::testing::TestParamInfo<Params>& info) {
  const auto& [backend, variant, direction, layers, input_equals_output, with_states] = info.param;
  return backend + "_" + kVariants[variant].name + "_" + std::string(to_string(direction)) + "_L" +
         std::to_string(layers) + (input_equals_output ? "_same_input" : "_other_input") +
         (with_states ? "_states" : "_zero_states");
}

INSTANTIATE_TEST_SUITE_P(All, BackendEquivalence,
                         ::testing::Combine(::testing::ValuesIn(compared_backends()),
                                            ::testing::Range(0, int(std::size(kVariants))),
                                            ::testing::ValuesIn(kDirections), ::testing::Values(1, 2, 3),
                                            ::testing::Bool(), ::testing::Bool()),
                         case_name);

// Dropout between layers: every backend draws the same masks from the same seed.
using DropoutParams = std::tuple<std::string, int, Direction>;
class BackendDropout : public ::testing::TestWithParam<DropoutParams> {};
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendDropout);

TEST_P(BackendDropout, SameSeedSameMasksAsReference) {
  const auto& [backend, variant, direction] = GetParam();
  RecurrentOptions options = make_options(variant, direction, 3, false);
  options.dropout = 0.4f;
  Problem problem(options, true);
  const Outputs got = problem.run(backend);
  expect_equivalent(problem, got, problem.run("reference"));
  // Same seed: bit-identical rerun; another seed: other masks, so another training output.
  const Outputs again = problem.run(backend);
  EXPECT_EQ(got.dst, again.dst);
  EXPECT_EQ(got.diff_params, again.diff_params);
  problem.dropout_seed += 1;
  EXPECT_NE(problem.run(backend).dst, got.dst);
}

std::string dropout_case_name(const ::testing::TestParamInfo<DropoutParams>& info) {
  const auto& [backend, variant, direction] = info.param;
  return backend + "_" + kVariants[variant].name + "_" + std::string(to_string(direction));
}

INSTANTIATE_TEST_SUITE_P(All, BackendDropout,
                         ::testing::Combine(::testing::ValuesIn(compared_backends()),
                                            ::testing::Range(0, int(std::size(kVariants))),
                                            ::testing::ValuesIn(kDirections)),
                         dropout_case_name);

// cuDNN: the same problems as BackendEquivalence/BackendDropout, every case in a loop.
class CudnnEquivalence : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto built = recurrent_backends();
    if (std::find(built.begin(), built.end(), "cudnn") == built.end())
      GTEST_SKIP() << "no CUDA device: cudnn backend not built (RNNLAB_WITH_CUDA off or CUDA not found)";
    if (!cuda::cuda_device_available())
      GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason();
  }
};

TEST_F(CudnnEquivalence, MatchesReferenceEveryCase) {
  int compared = 0;
  for (int variant = 0; variant < int(std::size(kVariants)); ++variant)
    for (Direction direction : kDirections)
      for (int layers : {1, 2, 3})
        for (bool input_equals_output : {false, true})
          for (bool with_states : {false, true}) {
            const Problem problem(make_options(variant, direction, layers, input_equals_output), with_states);
            SCOPED_TRACE(std::string("cudnn_") + kVariants[variant].name + "_" + std::string(to_string(direction)) +
                         "_L" + std::to_string(layers) + (input_equals_output ? "_same_input" : "_other_input") +
                         (with_states ? "_states" : "_zero_states"));
            if (kVariants[variant].peephole) {  // cuDNN has no peephole LSTM: a clear refusal
              EXPECT_THROW(problem.run("cudnn"), std::invalid_argument);
              continue;
            }
            expect_equivalent(problem, problem.run("cudnn"), problem.run("reference"));
            ++compared;
          }
  EXPECT_EQ(compared, 5 * 4 * 3 * 2 * 2);
}

TEST_F(CudnnEquivalence, DropoutSameMasksAsReference) {
  for (int variant = 0; variant < int(std::size(kVariants)); ++variant) {
    if (kVariants[variant].peephole) continue;
    for (Direction direction : kDirections) {
      SCOPED_TRACE(std::string("cudnn_") + kVariants[variant].name + "_" + std::string(to_string(direction)));
      RecurrentOptions options = make_options(variant, direction, 3, false);
      options.dropout = 0.4f;
      Problem problem(options, true);
      const Outputs got = problem.run("cudnn");
      expect_equivalent(problem, got, problem.run("reference"));
      const Outputs again = problem.run("cudnn");
      EXPECT_EQ(got.dst, again.dst);
      problem.dropout_seed += 1;
      EXPECT_NE(problem.run("cudnn").dst, got.dst);
    }
  }
}

}  // namespace
}  // namespace rnnlab::layers
