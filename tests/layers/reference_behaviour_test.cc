// The reference backend's semantics beyond gradients: a hand-computed peephole LSTM step,
// direction conventions, dropout, float vs double, and error handling through
// make_recurrent_stack("reference", ...).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "layers/dropout.h"
#include "tests/layers/reference_test_util.h"

namespace rnnlab::layers {
namespace {

using testing::all_cell_variants;
using testing::CellVariant;
using testing::Problem;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// One step, one unit, with peephole and every input given: worked out here gate by gate
// (PyTorch has no peephole LSTM to compare with).
TEST(ReferenceHandChecked, PeepholeLstmOneStep) {
  RecurrentOptions opt;
  opt.cell = Cell::lstm;
  opt.input_size = 1;
  opt.hidden_size = 1;
  opt.peephole = true;
  ASSERT_EQ(recurrent_parameter_count(opt), 4 + 4 + 4 + 3);
  // weight_ih [i f g o], weight_hh [i f g o], bias [i f g o], peephole [i f o].
  const std::vector<double> params = {0.5, -0.3, 0.8, 0.1, 0.2, 0.4, -0.6, 0.7, 0.1, 0.2, 0.3, -0.1, 0.9, -0.5, 0.35};
  const double x = 1.5, h0 = 0.5, c0 = -0.2;

  const double i = sigmoid(0.5 * x + 0.2 * h0 + 0.1 + 0.9 * c0);
  const double f = sigmoid(-0.3 * x + 0.4 * h0 + 0.2 - 0.5 * c0);
  const double g = std::tanh(0.8 * x - 0.6 * h0 + 0.3);
  const double c1 = f * c0 + i * g;
  const double o = sigmoid(0.1 * x + 0.7 * h0 - 0.1 + 0.35 * c1);  // sees the new cell state
  const double h1 = o * std::tanh(c1);

  ReferenceRecurrent<double> rnn(opt);
  double dst = 0, hT = 0, cT = 0;
  ReferenceForwardArgs<double> args;
  args.seq_len = 1;
  args.batch = 1;
  args.params = params.data();
  args.src = &x;
  args.h0 = &h0;
  args.c0 = &c0;
  args.dst = &dst;
  args.hT = &hT;
  args.cT = &cT;
  rnn.forward(args, false);
  EXPECT_NEAR(dst, h1, 1e-15);
  EXPECT_NEAR(hT, h1, 1e-15);
  EXPECT_NEAR(cT, c1, 1e-15);
}

RecurrentOptions small_options(Cell cell, Direction direction, int layers) {
  RecurrentOptions opt;
  opt.cell = cell;
  opt.input_size = 3;
  opt.hidden_size = 4;
  opt.num_layers = layers;
  opt.direction = direction;
  return opt;
}

// Reverse keeps outputs in time order: it equals forward over the time-reversed input,
// read back reversed.
TEST(ReferenceDirections, ReverseIsForwardOnReversedTime) {
  for (Cell cell : {Cell::rnn_tanh, Cell::lstm, Cell::gru}) {
    Problem<double> rev(small_options(cell, Direction::reverse, 1), 5, 2, true);
    Problem<double> fwd(small_options(cell, Direction::forward, 1), 5, 2, true);
    const int64_t row = int64_t(rev.batch) * rev.options.input_size;
    for (int t = 0; t < rev.seq_len; ++t)
      std::copy_n(rev.src.begin() + t * row, row, fwd.src.begin() + (rev.seq_len - 1 - t) * row);
    ReferenceRecurrent<double> a(rev.options), b(fwd.options);
    const auto out_rev = rev.run(a, false);
    const auto out_fwd = fwd.run(b, false);  // same params, h0, c0 (same seed, same layout)
    const int64_t out_row = int64_t(rev.batch) * rev.options.output_size();
    for (int t = 0; t < rev.seq_len; ++t)
      for (int64_t k = 0; k < out_row; ++k)
        EXPECT_DOUBLE_EQ(out_rev.dst[t * out_row + k], out_fwd.dst[(rev.seq_len - 1 - t) * out_row + k]);
    EXPECT_EQ(out_rev.hT, out_fwd.hT);
    EXPECT_EQ(out_rev.cT, out_fwd.cT);
  }
}

// bidirectional_sum has the same parameters as bidirectional_concat (one layer) and its
// output is the sum of concat's two halves; the final states are the same.
TEST(ReferenceDirections, SumIsSumOfConcatHalves) {
  for (Cell cell : {Cell::rnn_relu, Cell::lstm, Cell::gru}) {
    Problem<double> cat(small_options(cell, Direction::bidirectional_concat, 1), 4, 2, true);
    Problem<double> sum(small_options(cell, Direction::bidirectional_sum, 1), 4, 2, true);
    ASSERT_EQ(cat.params.size(), sum.params.size());
    ReferenceRecurrent<double> a(cat.options), b(sum.options);
    const auto out_cat = cat.run(a, false);
    const auto out_sum = sum.run(b, false);
    const int S = cat.options.state_size();
    for (int64_t r = 0; r < cat.rows(); ++r)
      for (int s = 0; s < S; ++s)
        EXPECT_DOUBLE_EQ(out_sum.dst[r * S + s], out_cat.dst[r * 2 * S + s] + out_cat.dst[r * 2 * S + S + s]);
    EXPECT_EQ(out_cat.hT, out_sum.hT);
    EXPECT_EQ(out_cat.cT, out_sum.cT);
  }
}

TEST(ReferenceDropout, TrainingMasksAreSeededAndOnlyBetweenLayers) {
  RecurrentOptions opt = small_options(Cell::lstm, Direction::bidirectional_concat, 2);
  opt.dropout = 0.5f;
  Problem<double> problem(opt, 4, 2, true);
  ReferenceRecurrent<double> rnn(opt);
  const auto inference = problem.run(rnn, false);
  const auto train_a = problem.run(rnn, true);
  const auto train_b = problem.run(rnn, true);
  EXPECT_NE(train_a.dst, inference.dst);
  EXPECT_EQ(train_a.dst, train_b.dst);  // same seed: bit-identical
  EXPECT_EQ(train_a.hT, train_b.hT);
  // Layer 0's final states come before any dropout; layer 1's depend on the mask.
  const int64_t layer_slots = int64_t(2) * problem.batch * opt.state_size();
  EXPECT_TRUE(std::equal(train_a.hT.begin(), train_a.hT.begin() + layer_slots, inference.hT.begin()));
  EXPECT_FALSE(std::equal(train_a.hT.begin() + layer_slots, train_a.hT.end(), inference.hT.begin() + layer_slots));

  problem.dropout_seed += 1;
  EXPECT_NE(problem.run(rnn, true).dst, train_a.dst);

  // Without a layer to drop between, training equals inference.
  RecurrentOptions single = opt;
  single.num_layers = 1;
  Problem<double> one_layer(single, 4, 2, true);
  ReferenceRecurrent<double> rnn_single(single);
  EXPECT_EQ(one_layer.run(rnn_single, true).dst, one_layer.run(rnn_single, false).dst);
}

// The mask is exactly dropout.h's (stream kRecurrentDropoutStream + layer, flat index in
// [T, N, O]), which the oneDNN backend reproduces: rebuild a 2-layer stack from two
// 1-layer stacks and that documented mask, and expect bit-identical outputs.
TEST(ReferenceDropout, MaskIsDropoutHStreamOfLayer) {
  RecurrentOptions opt = small_options(Cell::gru, Direction::bidirectional_sum, 2);
  opt.dropout = 0.3f;
  Problem<double> problem(opt, 3, 2, true);
  ReferenceRecurrent<double> stacked(opt);
  const auto expected = problem.run(stacked, true);

  RecurrentOptions first = opt, second = opt;
  first.num_layers = second.num_layers = 1;
  second.input_size = opt.output_size();
  const int64_t first_count = recurrent_parameter_count(first);
  const int64_t slot_h = int64_t(2) * problem.batch * opt.state_size();  // two directions per layer

  Problem<double> p1(first, 3, 2, true), p2(second, 3, 2, true);
  p1.params.assign(problem.params.begin(), problem.params.begin() + first_count);
  p1.src = problem.src;
  p1.h0.assign(problem.h0.begin(), problem.h0.begin() + slot_h);
  ReferenceRecurrent<double> r1(first), r2(second);
  const auto out1 = p1.run(r1, false);

  p2.params.assign(problem.params.begin() + first_count, problem.params.end());
  p2.src = out1.dst;
  for (size_t i = 0; i < p2.src.size(); ++i)
    p2.src[i] *= double(dropout_scale(problem.dropout_seed, kRecurrentDropoutStream + 0, i, opt.dropout));
  p2.h0.assign(problem.h0.begin() + slot_h, problem.h0.end());
  const auto out2 = p2.run(r2, false);
  EXPECT_EQ(out2.dst, expected.dst);
}

// The float instantiation (what make_recurrent_stack("reference") runs) agrees with double.
class ReferenceFloatVsDouble : public ::testing::TestWithParam<CellVariant> {};

TEST_P(ReferenceFloatVsDouble, ForwardAndBackwardAgree) {
  RecurrentOptions opt = small_options(GetParam().cell, Direction::bidirectional_concat, 2);
  opt.peephole = GetParam().peephole;
  opt.projection_size = GetParam().projection_size;
  opt.dropout = 0.25f;
  Problem<double> pd(opt, 5, 3, true);
  Problem<float> pf(opt, 5, 3, true);  // same draws, rounded to float
  const bool lstm = opt.cell == Cell::lstm;

  ReferenceRecurrent<double> rd(opt);
  const auto out_d = pd.run(rd, true);
  std::vector<double> gd(pd.params.size()), gsrc_d(pd.src.size()), gh_d(pd.h0.size()), gc_d(pd.c0.size());
  rd.backward({pd.w_dst.data(), pd.w_hT.data(), pd.w_cT.data(), gsrc_d.data(), gh_d.data(), gc_d.data(), gd.data()});

  auto stack = make_recurrent_stack("reference", opt);
  EXPECT_EQ(stack->backend(), "reference");
  typename Problem<float>::Outputs out_f{std::vector<float>(out_d.dst.size()), std::vector<float>(out_d.hT.size()),
                                         std::vector<float>(out_d.cT.size())};
  stack->forward({pf.seq_len, pf.batch, pf.params.data(), pf.src.data(), pf.h0.data(), pf.c0.data(),
                  out_f.dst.data(), out_f.hT.data(), out_f.cT.data(), pf.dropout_seed},
                 true);
  std::vector<float> gf(pf.params.size()), gsrc_f(pf.src.size()), gh_f(pf.h0.size()), gc_f(pf.c0.size());
  stack->backward(
      {pf.w_dst.data(), pf.w_hT.data(), pf.w_cT.data(), gsrc_f.data(), gh_f.data(), gc_f.data(), gf.data()});

  auto expect_close = [](const std::vector<float>& f, const std::vector<double>& d, const char* what) {
    ASSERT_EQ(f.size(), d.size());
    double scale = 0;
    for (double v : d) scale = std::max(scale, std::abs(v));
    for (size_t i = 0; i < d.size(); ++i)
      EXPECT_NEAR(f[i], d[i], 1e-5 * std::max(1.0, scale)) << what << "[" << i << "]";
  };
  expect_close(out_f.dst, out_d.dst, "dst");
  expect_close(out_f.hT, out_d.hT, "hT");
  if (lstm) expect_close(out_f.cT, out_d.cT, "cT");
  expect_close(gf, gd, "diff_params");
  expect_close(gsrc_f, gsrc_d, "diff_src");
  expect_close(gh_f, gh_d, "diff_h0");
  if (lstm) expect_close(gc_f, gc_d, "diff_c0");
}

INSTANTIATE_TEST_SUITE_P(AllCells, ReferenceFloatVsDouble, ::testing::ValuesIn(all_cell_variants()),
                         [](const ::testing::TestParamInfo<CellVariant>& case_info) { return case_info.param.name; });

TEST(ReferenceErrors, InvalidOptionsThrowInvalidArgument) {
  const RecurrentOptions good = small_options(Cell::lstm, Direction::forward, 1);
  EXPECT_NO_THROW(make_recurrent_stack("reference", good));
  auto expect_invalid = [&](auto mutate, const char* what) {
    RecurrentOptions opt = good;
    mutate(opt);
    EXPECT_THROW(make_recurrent_stack("reference", opt), std::invalid_argument) << what;
    EXPECT_THROW(ReferenceRecurrent<double>{opt}, std::invalid_argument) << what;
  };
  expect_invalid([](RecurrentOptions& o) { o.input_size = 0; }, "input_size 0");
  expect_invalid([](RecurrentOptions& o) { o.hidden_size = 0; }, "hidden_size 0");
  expect_invalid([](RecurrentOptions& o) { o.num_layers = 0; }, "num_layers 0");
  expect_invalid([](RecurrentOptions& o) { o.dropout = 1.0f; }, "dropout 1");
  expect_invalid([](RecurrentOptions& o) { o.dropout = -0.1f; }, "dropout < 0");
  expect_invalid([](RecurrentOptions& o) { o.cell = Cell::gru, o.peephole = true; }, "peephole on gru");
  expect_invalid([](RecurrentOptions& o) { o.cell = Cell::rnn_tanh, o.projection_size = 2; }, "projection on rnn");
  expect_invalid([](RecurrentOptions& o) { o.projection_size = 4; }, "projection == hidden");
  expect_invalid([](RecurrentOptions& o) { o.projection_size = -1; }, "projection < 0");
}

TEST(ReferenceErrors, BackwardWithoutTrainingForwardThrowsLogicError) {
  const RecurrentOptions opt = small_options(Cell::gru, Direction::forward, 1);
  Problem<float> p(opt, 3, 2, true);
  auto stack = make_recurrent_stack("reference", opt);
  std::vector<float> grads(p.params.size()), dst(p.w_dst.size());
  const RecurrentBackwardArgs back{p.w_dst.data(), nullptr, nullptr, nullptr, nullptr, nullptr, grads.data()};
  EXPECT_THROW(stack->backward(back), std::logic_error);
  // An inference forward keeps nothing to differentiate.
  stack->forward({p.seq_len, p.batch, p.params.data(), p.src.data(), nullptr, nullptr, dst.data()}, false);
  EXPECT_THROW(stack->backward(back), std::logic_error);
  stack->forward({p.seq_len, p.batch, p.params.data(), p.src.data(), nullptr, nullptr, dst.data()}, true);
  EXPECT_NO_THROW(stack->backward(back));
}

TEST(ReferenceErrors, MissingTensorsThrowInvalidArgument) {
  const RecurrentOptions opt = small_options(Cell::rnn_tanh, Direction::forward, 1);
  Problem<float> p(opt, 3, 2, true);
  auto stack = make_recurrent_stack("reference", opt);
  std::vector<float> dst(p.w_dst.size());
  EXPECT_THROW(stack->forward({p.seq_len, p.batch, p.params.data(), nullptr, nullptr, nullptr, dst.data()}, false),
               std::invalid_argument);
  EXPECT_THROW(stack->forward({0, p.batch, p.params.data(), p.src.data(), nullptr, nullptr, dst.data()}, false),
               std::invalid_argument);
  stack->forward({p.seq_len, p.batch, p.params.data(), p.src.data(), nullptr, nullptr, dst.data()}, true);
  EXPECT_THROW(stack->backward({p.w_dst.data()}), std::invalid_argument);  // no diff_params
}

}  // namespace
}  // namespace rnnlab::layers
