// The training step's kernels on the GPU: embedding, linear (cuBLAS), losses with their
// metric counts, dropout, gradient norms and the optimizers. Each one is the device twin of
// a CPU function and follows its contract exactly, so a GPU run follows the CPU's curve:
//
//   embedding_* ........ layers/dense.h      (scatter-add made deterministic by a plan)
//   linear_* ........... layers/dense.h      (row-major [rows, features], PyTorch weights)
//   softmax_cross_entropy, mean_squared_error, sigmoid_binary_cross_entropy
//                        layers/losses.h with Reduction::sum, then the gradient scaled by
//                        `gradient_scale` the way trainer/objective.cc does (1/global targets)
//   dropout_forward .... layers/dropout.h    (same counter-based masks for the same seed)
//   sgd_step, adam_step  trainer/optim.cc    (same float arithmetic, element by element)
//   sum_of_squares, scale  the pieces of trainer/optim.h's l2_norm / clip_grad_norm
//
// Conventions: every pointer is a DEVICE pointer (float32 / int32 / double, dense, row-major);
// every function only queues work on the calling thread's stream
// (layers/cuda/device.h: device_context().stream()) and returns before it has run, so a
// caller reads results with a copy on that stream. Parameter gradients are ADDED to, data
// gradients are OVERWRITTEN, as on the CPU. Metric results are added to a device array of
// `kMetricSlots` doubles laid out like trainer::MetricSums: [loss_sum, count, correct,
// abs_error_sum], so a whole epoch's metrics can stay on the device until they are read.
//
// Determinism: no atomics on floats anywhere. Reductions use a fixed two-pass tree and the
// embedding gradient sums each row's contributions in position order (like the CPU loop),
// so two runs on the same device give identical bits.
//
// Failure: bad sizes (negative counts, null pointers where required) throw
// std::invalid_argument before anything is queued; a CUDA or cuBLAS failure throws
// std::runtime_error (device.h's macros). Kernels never read out of bounds: an id or label
// outside its range is skipped (embedding rows become 0, loss rows count as ignored); callers
// that need an error for it check on the host before uploading (the CPU functions do).
// Thread safety: like the CPU functions, with the thread's own stream; scratch memory is
// per thread.
#pragma once

#include <cstdint>
#include <vector>

#include "layers/dense.h"

namespace rnnlab::layers::cuda {

// ---- Embedding ------------------------------------------------------------------------

// dst[i, :] = table[ids[i], :]; rows of ids outside [0, vocab_size) become 0.
void embedding_forward(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids, int64_t count,
                       float* dst);

// The order in which embedding_backward visits the rows: built on the host from the ids
// (the trainer has them there anyway), uploaded in one copy. Packed int32 layout:
//   [unique_count | unique ids (U) | starts (U + 1) | positions (count)]
// positions are grouped by id and increasing within an id, so each table row sums its
// contributions in the same order as the CPU loop. Ids equal to padding_id (>= 0) or outside
// [0, vocab_size) are left out.
std::vector<int32_t> plan_embedding_backward(const int32_t* host_ids, int64_t count, int64_t vocab_size,
                                             int32_t padding_id = -1);

// diff_table[id, :] += sum of diff_dst[p, :] over the plan's positions p of that id.
// `device_plan` is plan_embedding_backward()'s vector copied to the device; `unique_count`
// is its first element (known on the host).
void embedding_backward(const float* diff_dst, int64_t dim, const int32_t* device_plan, int64_t unique_count,
                        int64_t count, float* diff_table);

// ---- Linear (cuBLAS SGEMM, FP32 math: no TF32) -----------------------------------------

// dst [rows, out] = src [rows, in] * weight^T + bias (bias may be nullptr).
void linear_forward(const LinearShape& shape, const float* src, const float* weight, const float* bias, float* dst);

// diff_src [rows, in] = diff_dst * weight (overwritten; nullptr skips it)
// diff_weight [out, in] += diff_dst^T * src; diff_bias [out] += column sums of diff_dst
// (nullptr when there is no bias).
void linear_backward(const LinearShape& shape, const float* src, const float* weight, const float* diff_dst,
                     float* diff_src, float* diff_weight, float* diff_bias);

// ---- Losses and metrics -----------------------------------------------------------------

constexpr int kMetricSlots = 4;  // loss_sum, count, correct, abs_error_sum (trainer::MetricSums)

// Softmax cross-entropy over rows of logits [rows, classes] with int32 labels [rows].
// metrics[0] += sum of row losses, metrics[1] += counted rows, metrics[2] += rows whose
// argmax (first on ties) is the label. diff_logits (optional) = float(float(softmax -
// onehot) * gradient_scale), 0 on ignored rows: objective.cc's sum-reduction gradient
// scaled by 1/global_targets. Math in double, like the CPU.
void softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                           int32_t ignore_index, double gradient_scale, float* diff_logits, double* metrics);

// Squared error: metrics[0] += sum (pred - target)^2, metrics[1] += count,
// metrics[3] += sum |pred - target|; diff_pred (optional) = float(float(2 (pred - target)) *
// gradient_scale).
void mean_squared_error(const float* pred, const float* target, int64_t count, double gradient_scale,
                        float* diff_pred, double* metrics);

// Binary cross-entropy on logits (losses.h's stable form): metrics[0] += sum of losses,
// metrics[1] += count, metrics[2] += (logit > 0) == (target >= 0.5); diff_logits (optional)
// = float(float(sigmoid - target) * gradient_scale).
void sigmoid_binary_cross_entropy(const float* logits, const float* targets, int64_t count, double gradient_scale,
                                  float* diff_logits, double* metrics);

// ---- Dropout (layers/dropout.h: the mask of element i under (seed, stream)) -------------

// dst[i] = src[i] * mask[i], mask[i] = 0 or 1/(1-p) (all ones for p == 0). src may equal dst.
void dropout_forward(const float* src, float* dst, float* mask, int64_t count, float p, uint64_t seed,
                     uint64_t stream);

// ---- Element-wise helpers ---------------------------------------------------------------

void multiply(float* values, const float* factors, int64_t count);  // values[i] *= factors[i]
void scale(float* values, int64_t count, float factor);            // values[i] *= factor

// Head on the final states (trainer/model.cc step 3): for each direction d of the last
// layer, dst[n, column(d) + k] (+)= h[(L-1)*D + d, n, k], column(d) = sum ? 0 : d * S.
// dst [batch, head_in] is overwritten. Backward: diff_h[(L-1)*D + d, n, k] = diff_dst[n, column
// + k]; diff_h (all L*D layers) is overwritten, other layers get 0.
void gather_final_states(const float* h, int num_layers, int directions, int batch, int state_size, bool sum,
                         float* dst);
void scatter_final_states(const float* diff_dst, int num_layers, int directions, int batch, int state_size,
                          bool sum, float* diff_h);

// ---- Gradient norms ------------------------------------------------------------------------

// *accumulator += sum of values[i]^2 (in double; fixed two-pass tree, deterministic).
void sum_of_squares(const float* values, int64_t count, double* accumulator);

// ---- Optimizers (trainer/optim.cc; the scalars are computed on the host exactly as there) --

// torch.optim.SGD: g' = g * grad_scale; d = g' + wd * p; buf = first ? d : momentum * buf + d;
// d = nesterov ? d + momentum * buf : buf; p += neg_lr * d. momentum_buffer may be nullptr
// when momentum == 0. grad_scale is the clipping factor (1 = none), applied on the fly.
struct SgdScalars {
  float neg_lr = 0, weight_decay = 0, momentum = 0, grad_scale = 1;
  bool nesterov = false, first_step = false;
};
void sgd_step(float* params, const float* grads, float* momentum_buffer, int64_t count, const SgdScalars& s);

// torch.optim.Adam/AdamW: if decay != 1: p *= decay; g = grad * grad_scale (+ l2 * p);
// m = m * beta1 + g * one_minus_beta1; v = v * beta2 + one_minus_beta2 * g * g;
// p += -step_size * (m / (sqrt(v) / bias_correction2_sqrt + eps)).
struct AdamScalars {
  float step_size = 0, bias_correction2_sqrt = 1, beta1 = 0, beta2 = 0, one_minus_beta1 = 0, one_minus_beta2 = 0,
        eps = 0, l2 = 0, decay = 1, grad_scale = 1;
};
void adam_step(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, int64_t count,
               const AdamScalars& s);

}  // namespace rnnlab::layers::cuda
