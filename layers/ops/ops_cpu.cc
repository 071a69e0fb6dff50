// The CPU ops (ops_cpu.h): thin wrappers over dense.h, losses.h and dropout.h, plus the
// loops that trainer/model.cc, trainer/objective.cc and trainer/optim.cc ran before the ops
// existed, with the same operations in the same order (bit-identical training curves).
#include "layers/ops/ops_cpu.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "layers/dropout.h"
#include "layers/losses.h"

namespace rnnlab::layers::ops::cpu {
namespace {

// Throws std::invalid_argument "ops::<op>: <message>" unless ok (dense.h and losses.h check
// the ops they run themselves).
void require(bool ok, const char* op, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string("ops::") + op + ": " + message);
}

void require_count(const char* op, int64_t count) {
  require(count >= 0, op, "count must be >= 0, got " + std::to_string(count));
}

void check_final_states(const char* op, int num_layers, int directions, int batch, int state_size) {
  require(num_layers > 0 && batch >= 0 && state_size > 0, op,
          "needs num_layers > 0, batch >= 0, state_size > 0, got " + std::to_string(num_layers) + ", " +
              std::to_string(batch) + ", " + std::to_string(state_size));
  require(directions == 1 || directions == 2, op, "directions must be 1 or 2, got " + std::to_string(directions));
}

// Calls f(index in h [L*D, N, S], index in the head input [N, width]) for every element of
// the last layer's final states, direction by direction (0 then 1: the order the sums of
// bidirectional_sum add in), as trainer/model.cc's loops did.
template <typename F>
void for_each_final_state(int num_layers, int directions, int batch, int state_size, bool sum, F f) {
  const int width = sum ? state_size : directions * state_size;
  for (int d = 0; d < directions; ++d) {
    const int64_t last = (int64_t(num_layers - 1) * directions + d) * batch * state_size;
    const int column = sum ? 0 : d * state_size;
    for (int n = 0; n < batch; ++n)
      for (int k = 0; k < state_size; ++k) f(last + int64_t(n) * state_size + k, int64_t(n) * width + column + k);
  }
}

// values[i] = float(values[i] * scale): the objective's scaling of a sum-reduced gradient.
void scale_in_double(float* values, int64_t count, double scale) {
  for (int64_t i = 0; i < count; ++i) values[i] = float(values[i] * scale);
}

// The gradients an optimizer update reads: `grads` as they are, or grads * grad_scale
// rounded to float FIRST, into scratch memory, exactly as clip_grad_norm's in-place scaling
// did. (Multiplying inside the update loop would let the compiler contract the product
// with the update's own arithmetic into an FMA, which rounds differently.)
const float* scaled_gradients(const float* grads, int64_t count, float grad_scale) {
  if (grad_scale == 1.0f) return grads;
  thread_local std::vector<float> scaled;
  scaled.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) scaled[size_t(i)] = grads[i] * grad_scale;
  return scaled.data();
}

}  // namespace

void embedding_forward(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids, int64_t count,
                       float* dst) {
  layers::embedding_forward(table, vocab_size, dim, ids, count, dst);
}

void embedding_backward(const float* diff_dst, const int32_t* host_ids, int64_t count, int64_t vocab_size,
                        int64_t dim, float* diff_table, int32_t padding_id) {
  layers::embedding_backward(diff_dst, host_ids, count, vocab_size, dim, diff_table, padding_id);
}

void linear_forward(const LinearShape& shape, const float* src, const float* weight, const float* bias, float* dst) {
  layers::linear_forward(shape, src, weight, bias, dst);
}

void linear_backward(const LinearShape& shape, const float* src, const float* weight, const float* diff_dst,
                     float* diff_src, float* diff_weight, float* diff_bias) {
  layers::linear_backward(shape, src, weight, diff_dst, diff_src, diff_weight, diff_bias);
}

void dropout_forward(const float* src, float* dst, float* mask, int64_t count, float p, uint64_t seed,
                     uint64_t stream) {
  require_count("dropout_forward", count);
  require(p >= 0.0f && p < 1.0f, "dropout_forward", "p must be in [0, 1), got " + std::to_string(p));
  layers::dropout_forward(src, dst, mask, count, p, seed, stream);
}

void multiply(float* values, const float* factors, int64_t count) {
  require_count("multiply", count);
  for (int64_t i = 0; i < count; ++i) values[i] *= factors[i];
}

void gather_final_states(const float* h, int num_layers, int directions, int batch, int state_size, bool sum,
                         float* dst) {
  check_final_states("gather_final_states", num_layers, directions, batch, state_size);
  std::memset(dst, 0, size_t(batch) * size_t(sum ? state_size : directions * state_size) * sizeof(float));
  for_each_final_state(num_layers, directions, batch, state_size, sum,
                       [&](int64_t state, int64_t column) { dst[column] += h[state]; });
}

void scatter_final_states(const float* diff_dst, int num_layers, int directions, int batch, int state_size,
                          bool sum, float* diff_h) {
  check_final_states("scatter_final_states", num_layers, directions, batch, state_size);
  std::memset(diff_h, 0, size_t(num_layers) * size_t(directions) * size_t(batch) * size_t(state_size) * sizeof(float));
  for_each_final_state(num_layers, directions, batch, state_size, sum,
                       [&](int64_t state, int64_t column) { diff_h[state] = diff_dst[column]; });
}

void softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                           int32_t ignore_index, double gradient_scale, float* diff_logits, const LossSums& sums) {
  const LossResult result =
      layers::softmax_cross_entropy(logits, labels, rows, classes, ignore_index, diff_logits, Reduction::sum);
  if (sums.correct) *sums.correct += double(count_correct(logits, labels, rows, classes, ignore_index).correct);
  if (sums.count) *sums.count += double(result.count);
  if (sums.loss) *sums.loss += result.loss;
  if (diff_logits) scale_in_double(diff_logits, rows * classes, gradient_scale);
}

void mean_squared_error(const float* pred, const float* target, int64_t count, double gradient_scale,
                        float* diff_pred, const LossSums& sums) {
  const LossResult result = layers::mean_squared_error(pred, target, count, diff_pred, Reduction::sum);
  if (sums.abs_error)
    for (int64_t i = 0; i < count; ++i) *sums.abs_error += std::fabs(pred[i] - target[i]);
  if (sums.count) *sums.count += double(count);
  if (sums.loss) *sums.loss += result.loss;
  if (diff_pred) scale_in_double(diff_pred, count, gradient_scale);
}

void sum_of_squares(const float* values, int64_t count, double* accumulator) {
  require_count("sum_of_squares", count);
  double sum = *accumulator;
  for (int64_t i = 0; i < count; ++i) sum += double(values[i]) * double(values[i]);
  *accumulator = sum;
}

void sgd_step(float* params, const float* grads, float* momentum_buffer, int64_t count, const SgdScalars& s) {
  // Scalars in locals: `params` could alias `s` as far as the compiler knows.
  const float wd = s.weight_decay, momentum = s.momentum, neg_lr = s.neg_lr;
  const bool nesterov = s.nesterov, first = s.first_step;
  require_count("sgd_step", count);
  require(momentum == 0 || momentum_buffer, "sgd_step", "momentum needs a momentum buffer");
  grads = scaled_gradients(grads, count, s.grad_scale);
  float* buf = momentum_buffer;
  for (int64_t i = 0; i < count; ++i) {
    float d = grads[i];
    if (wd != 0) d += wd * params[i];
    if (momentum != 0) {
      buf[i] = first ? d : momentum * buf[i] + d;
      d = nesterov ? d + momentum * buf[i] : buf[i];
    }
    params[i] += neg_lr * d;
  }
}

void adam_step(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, int64_t count,
               const AdamScalars& s) {
  const float step_size = s.step_size, bias_correction2_sqrt = s.bias_correction2_sqrt, beta1 = s.beta1,
              beta2 = s.beta2, one_minus_beta1 = s.one_minus_beta1, one_minus_beta2 = s.one_minus_beta2, eps = s.eps,
              l2 = s.l2, decay = s.decay;
  require_count("adam_step", count);
  grads = scaled_gradients(grads, count, s.grad_scale);
  float* m = exp_avg;
  float* v = exp_avg_sq;
  for (int64_t i = 0; i < count; ++i) {
    if (decay != 1.0f) params[i] *= decay;
    float g = grads[i];
    if (l2 != 0) g += l2 * params[i];
    m[i] = m[i] * beta1 + g * one_minus_beta1;
    v[i] = v[i] * beta2 + one_minus_beta2 * g * g;
    const float denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;
    params[i] += -step_size * (m[i] / denom);
  }
}

}  // namespace rnnlab::layers::ops::cpu
