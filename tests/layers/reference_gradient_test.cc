// The reference backward pass against central finite differences in double, for every
// cell variant x direction x {1, 2} layers x {h0/c0 given, zeros}: every parameter
// gradient, diff_src, diff_h0 and diff_c0, under a loss that reads dst, hT and cT.
// Also with inter-layer dropout on (the mask is a fixed function of the seed, so the
// loss stays a smooth function of the inputs).
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "tests/layers/reference_test_util.h"

namespace rnnlab::layers {
namespace {

using testing::all_cell_variants;
using testing::CellVariant;
using testing::Problem;

constexpr double kStep = 1e-5;        // central differences: error ~ step^2 * f'''
constexpr double kRelative = 1e-6;    // tight: the analytic gradient must be exact
constexpr double kAbsolute = 1e-9;    // for gradients that are (nearly) zero

// Checks analytic against numeric gradients of problem.loss(), every entry of every input.
void check_gradients(const Problem<double>& problem) {
  const RecurrentOptions& opt = problem.options;
  const bool lstm = opt.cell == Cell::lstm;
  ReferenceRecurrent<double> rnn(opt);

  // Analytic: one training forward and backward. Outputs that are "overwritten" start
  // as junk and diff_params starts non-zero, to check overwrite vs add semantics.
  const double kPrefill = 0.25;
  problem.run(rnn, /*training=*/true);
  std::vector<double> diff_params(problem.params.size(), kPrefill);
  std::vector<double> diff_src(problem.src.size(), 123.0), diff_h0(problem.h0.size(), 123.0),
      diff_c0(problem.c0.size(), 123.0);
  ReferenceBackwardArgs<double> back;
  back.diff_dst = problem.w_dst.data();
  back.diff_hT = problem.w_hT.data();
  back.diff_cT = problem.w_cT.data();
  back.diff_src = diff_src.data();
  back.diff_h0 = diff_h0.data();
  back.diff_c0 = lstm ? diff_c0.data() : nullptr;
  back.diff_params = diff_params.data();
  rnn.backward(back);
  for (double& g : diff_params) g -= kPrefill;

  // Numeric: perturb one entry of one input at a time; nullptr h0/c0 means zeros, so
  // perturbing explicit zeros also checks that equivalence.
  std::vector<double> params = problem.params, src = problem.src;
  std::vector<double> h0 = problem.with_init ? problem.h0 : std::vector<double>(problem.h0.size(), 0.0);
  std::vector<double> c0 = problem.with_init ? problem.c0 : std::vector<double>(problem.c0.size(), 0.0);
  ReferenceRecurrent<double> probe(opt);
  auto loss = [&] {
    return problem.loss(problem.run(probe, params.data(), src.data(), h0.data(), c0.data(), /*training=*/true));
  };
  auto check = [&](std::vector<double>& input, const std::vector<double>& analytic, const std::string& what) {
    ASSERT_EQ(input.size(), analytic.size()) << what;
    int failures = 0;
    for (size_t i = 0; i < input.size() && failures < 5; ++i) {
      const double saved = input[i];
      input[i] = saved + kStep;
      const double plus = loss();
      input[i] = saved - kStep;
      const double minus = loss();
      input[i] = saved;
      const double numeric = (plus - minus) / (2 * kStep);
      const double tolerance = kAbsolute + kRelative * std::max(std::abs(numeric), std::abs(analytic[i]));
      if (std::abs(numeric - analytic[i]) > tolerance) {
        ++failures;
        ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << " numeric " << numeric;
      }
    }
  };
  for (const ParamInfo& info : recurrent_parameters(opt)) {
    // Check tensor by tensor so a failure names the parameter.
    std::vector<double> slice(params.begin() + info.offset, params.begin() + info.offset + info.size());
    std::vector<double> grad(diff_params.begin() + info.offset, diff_params.begin() + info.offset + info.size());
    std::vector<double> full = params;
    auto loss_of_slice = [&](size_t i, double delta) {
      params[info.offset + i] = full[info.offset + i] + delta;
      const double value = loss();
      params[info.offset + i] = full[info.offset + i];
      return value;
    };
    int failures = 0;
    for (size_t i = 0; i < slice.size() && failures < 5; ++i) {
      const double numeric = (loss_of_slice(i, kStep) - loss_of_slice(i, -kStep)) / (2 * kStep);
      const double tolerance = kAbsolute + kRelative * std::max(std::abs(numeric), std::abs(grad[i]));
      if (std::abs(numeric - grad[i]) > tolerance) {
        ++failures;
        ADD_FAILURE() << info.name << "[" << i << "]: analytic " << grad[i] << " numeric " << numeric;
      }
    }
  }
  check(src, diff_src, "diff_src");
  check(h0, diff_h0, "diff_h0");
  if (lstm) check(c0, diff_c0, "diff_c0");
}

using GradientCase = std::tuple<CellVariant, Direction, int /*layers*/, bool /*with_init*/>;

class ReferenceGradient : public ::testing::TestWithParam<GradientCase> {};

TEST_P(ReferenceGradient, MatchesFiniteDifferences) {
  const auto& [variant, direction, layers, with_init] = GetParam();
  RecurrentOptions opt;
  opt.cell = variant.cell;
  opt.peephole = variant.peephole;
  opt.projection_size = variant.projection_size;
  opt.input_size = 3;  // != hidden_size, and != output_size() feeding layer 1
  opt.hidden_size = 4;
  opt.num_layers = layers;
  opt.direction = direction;
  check_gradients(Problem<double>(opt, /*steps=*/4, /*n=*/2, with_init));
}

INSTANTIATE_TEST_SUITE_P(
    AllCells, ReferenceGradient,
    ::testing::Combine(::testing::ValuesIn(all_cell_variants()),
                       ::testing::Values(Direction::forward, Direction::reverse, Direction::bidirectional_concat,
                                         Direction::bidirectional_sum),
                       ::testing::Values(1, 2), ::testing::Bool()),
    [](const ::testing::TestParamInfo<GradientCase>& case_info) {
      const GradientCase& c = case_info.param;
      return std::get<0>(c).name + "_" + std::string(to_string(std::get<1>(c))) + "_L" +
             std::to_string(std::get<2>(c)) + (std::get<3>(c) ? "_init" : "_zero_init");
    });

// Dropout between layers: the mask is drawn from the seed, so with the seed fixed the loss
// is smooth and the backward pass (which multiplies by the same mask) must match.
class ReferenceDropoutGradient : public ::testing::TestWithParam<CellVariant> {};

TEST_P(ReferenceDropoutGradient, MatchesFiniteDifferencesWithFixedMask) {
  RecurrentOptions opt;
  opt.cell = GetParam().cell;
  opt.peephole = GetParam().peephole;
  opt.projection_size = GetParam().projection_size;
  opt.input_size = 3;
  opt.hidden_size = 4;
  opt.num_layers = 3;
  opt.direction = Direction::bidirectional_concat;
  opt.dropout = 0.4f;
  check_gradients(Problem<double>(opt, /*steps=*/3, /*n=*/2, /*init=*/true));
}

INSTANTIATE_TEST_SUITE_P(AllCells, ReferenceDropoutGradient, ::testing::ValuesIn(all_cell_variants()),
                         [](const ::testing::TestParamInfo<CellVariant>& case_info) { return case_info.param.name; });

}  // namespace
}  // namespace rnnlab::layers
