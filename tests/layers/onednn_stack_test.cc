// Behaviour specific to the oneDNN backend: its build choices (weight formats, one
// primitive per stack or per layer) compute the same thing, cached per-shape plans stay
// correct across shape changes, gradients accumulate, and misuse fails cleanly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "layers/onednn/onednn_stack.h"
#include "layers/random.h"

namespace rnnlab::layers {
namespace {

std::vector<float> random_vector(int64_t count, uint64_t stream) {
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[size_t(i)] = 0.5f * float(random_normal(3, stream, uint64_t(i)));
  return values;
}

double max_relative(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, scale = 1e-3;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return diff / scale;
}

struct Result {
  std::vector<float> dst, hT, diff_src, diff_params;
};

Result train_step(RecurrentStack& stack, int seq_len, int batch, int repeats_backward = 1) {
  const RecurrentOptions& o = stack.options();
  const std::vector<float> params = random_vector(recurrent_parameter_count(o), 1);
  const std::vector<float> src = random_vector(int64_t(seq_len) * batch * o.input_size, 2);
  const std::vector<float> diff_dst = random_vector(int64_t(seq_len) * batch * o.output_size(), 3);
  Result r;
  r.dst.resize(diff_dst.size());
  r.hT.resize(size_t(o.num_layers) * direction_count(o.direction) * batch * o.state_size());
  r.diff_src.resize(src.size());
  r.diff_params.assign(params.size(), 0.0f);
  RecurrentForwardArgs fwd;
  fwd.seq_len = seq_len;
  fwd.batch = batch;
  fwd.params = params.data();
  fwd.src = src.data();
  fwd.dst = r.dst.data();
  fwd.hT = r.hT.data();
  stack.forward(fwd, true);
  RecurrentBackwardArgs bwd;
  bwd.diff_dst = diff_dst.data();
  bwd.diff_src = r.diff_src.data();
  bwd.diff_params = r.diff_params.data();
  for (int i = 0; i < repeats_backward; ++i) stack.backward(bwd);
  return r;
}

RecurrentOptions options_for(Cell cell, int layers, Direction direction = Direction::forward) {
  RecurrentOptions o;
  o.cell = cell;
  o.hidden_size = 8;
  o.input_size = 8;
  o.num_layers = layers;
  o.direction = direction;
  return o;
}

TEST(OnednnStack, BuildChoicesComputeTheSame) {
  for (Cell cell : {Cell::rnn_tanh, Cell::lstm, Cell::gru}) {
    for (int input_size : {8, 5}) {
      RecurrentOptions o = options_for(cell, 3);
      o.input_size = input_size;
      auto base = make_onednn_stack(o, OnednnTuning{});
      const Result want = train_step(*base, 6, 4);
      for (bool any : {true, false}) {
        for (bool fuse : {true, false}) {
          auto stack = make_onednn_stack(o, OnednnTuning{any, fuse});
          const Result got = train_step(*stack, 6, 4);
          SCOPED_TRACE(std::string(to_string(cell)) + " input " + std::to_string(input_size) + " any " +
                       std::to_string(any) + " fuse " + std::to_string(fuse));
          EXPECT_LE(max_relative(got.dst, want.dst), 1e-5);
          EXPECT_LE(max_relative(got.hT, want.hT), 1e-5);
          EXPECT_LE(max_relative(got.diff_src, want.diff_src), 1e-5);
          EXPECT_LE(max_relative(got.diff_params, want.diff_params), 1e-5);
        }
      }
    }
  }
}

TEST(OnednnStack, CachedPlansSurviveShapeChanges) {
  auto stack = make_onednn_stack(options_for(Cell::lstm, 2, Direction::bidirectional_concat));
  const Result first = train_step(*stack, 5, 3);
  train_step(*stack, 7, 2);
  train_step(*stack, 5, 1);
  const Result again = train_step(*stack, 5, 3);
  EXPECT_EQ(first.dst, again.dst);
  EXPECT_EQ(first.diff_src, again.diff_src);
  EXPECT_EQ(first.diff_params, again.diff_params);
}

TEST(OnednnStack, BackwardAddsIntoParameterGradients) {
  auto stack = make_onednn_stack(options_for(Cell::gru, 2, Direction::bidirectional_sum));
  const Result once = train_step(*stack, 4, 2, 1);
  const Result twice = train_step(*stack, 4, 2, 2);
  std::vector<float> doubled(once.diff_params);
  for (float& v : doubled) v *= 2.0f;
  EXPECT_LE(max_relative(twice.diff_params, doubled), 1e-6);
}

TEST(OnednnStack, MisuseFailsCleanly) {
  auto stack = make_onednn_stack(options_for(Cell::gru, 1));
  std::vector<float> diff(100), grads(recurrent_parameter_count(stack->options()));
  RecurrentBackwardArgs bwd;
  bwd.diff_dst = diff.data();
  bwd.diff_params = grads.data();
  EXPECT_THROW(stack->backward(bwd), std::logic_error);  // no training forward yet

  const std::vector<float> params(grads.size()), src(8 * 2 * 3);
  std::vector<float> dst(8 * 2 * 3), c0(16);
  RecurrentForwardArgs fwd;
  fwd.seq_len = 2;
  fwd.batch = 3;
  fwd.params = params.data();
  fwd.src = src.data();
  fwd.dst = dst.data();
  stack->forward(fwd, false);
  EXPECT_THROW(stack->backward(bwd), std::logic_error);  // an inference forward keeps nothing
  fwd.c0 = c0.data();
  EXPECT_THROW(stack->forward(fwd, true), std::invalid_argument);  // c0 is for LSTM only
  fwd.c0 = nullptr;
  fwd.batch = 0;
  EXPECT_THROW(stack->forward(fwd, true), std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::layers
