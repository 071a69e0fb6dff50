// The ops of a training step, one entry point each, on either device.
//
// Every op takes the Device its buffers live on (layers/device.h: the device of the
// Buffers a module was given) and dispatches to a CPU implementation (ops/ops_cpu.cc: the
// loops and oneDNN GEMMs of dense.h/losses.h/dropout.h) or a CUDA one (ops/ops_gpu_*.cu:
// kernels and cuBLAS), following CTranslate2's one-compute-per-op layout. A model written
// once over these ops runs on both devices; nothing above layers/ knows a kernel.
//
// Contracts shared by every op:
//   - Pointers are of the given device (host pointers for cpu, DEVICE pointers for cuda),
//     except those documented as HOST (always host memory, e.g. ids used to plan work).
//   - Dense, row-major float32 / int32; sizes in elements. Parameter gradients are ADDED
//     to, data gradients are OVERWRITTEN (as PyTorch's .grad / autograd's outputs).
//   - cuda ops only queue work on the calling thread's stream (layers/cuda/device.h) and
//     return before it has run; read results with Buffer::download (synchronous).
//   - Numerics: the CUDA implementation follows the CPU one's arithmetic element by element
//     where that is possible (optimizers, dropout masks, scaling, gathers: bit-identical),
//     and to float tolerance where the order of a reduction differs (GEMMs, loss sums).
//     Reductions are deterministic on both devices (no float atomics).
//   - Failure: bad sizes throw std::invalid_argument naming the op and the size, before
//     anything is written or queued. Ids and labels are checked on the cpu (throwing naming
//     the position, as dense.h/losses.h); the cuda kernels skip out-of-range ids (row 0)
//     and labels (row ignored), so callers that need the error check on the host first
//     (check_ids / check_labels below). CUDA/cuBLAS failures throw std::runtime_error.
//     Calling a cuda op in a build without CUDA throws std::runtime_error.
// Thread safety: pure functions of their arguments (cuda: per-thread stream and scratch).
#pragma once

#include <cstdint>

#include "layers/dense.h"
#include "layers/device.h"

namespace rnnlab::layers::ops {

// ---- Host-side checks (the cpu ops make them themselves) ---------------------------------

// The one wording of these errors (dense.h and losses.h call them too):
// throws std::invalid_argument "<who>: id <id> at position <i> is out of range [0, vocab_size)".
void check_ids(const char* who, const int32_t* host_ids, int64_t count, int64_t vocab_size);
// Throws std::invalid_argument for a label outside [0, classes) that is not ignore_index
// ("<who>: label <l> at row <r> is out of range [0, classes) and is not ignore_index <i>");
// returns the number of rows that count (label != ignore_index).
int64_t check_labels(const char* who, const int32_t* host_labels, int64_t rows, int64_t classes,
                     int32_t ignore_index);

// ---- Embedding: table [vocab_size, dim] ------------------------------------------------

// dst[i, :] = table[ids[i], :] for i in [0, count).
void embedding_forward(Device device, const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids,
                       int64_t count, float* dst);

// diff_table[ids[i], :] += diff_dst[i, :], each row summing its contributions in position
// order (deterministic). `host_ids` are the same ids in HOST memory (the cuda op plans the
// scatter from them; the cpu op reads them directly). Ids equal to padding_id (>= 0) get no
// gradient.
void embedding_backward(Device device, const float* diff_dst, const int32_t* host_ids, int64_t count,
                        int64_t vocab_size, int64_t dim, float* diff_table, int32_t padding_id = -1);

// ---- Linear: weight [out, in], bias [out] (PyTorch layout) ---------------------------------

// dst [rows, out] = src [rows, in] * weight^T + bias (bias may be nullptr).
void linear_forward(Device device, const LinearShape& shape, const float* src, const float* weight,
                    const float* bias, float* dst);
// diff_src [rows, in] = diff_dst * weight (overwritten; nullptr skips it);
// diff_weight [out, in] += diff_dst^T * src; diff_bias [out] += column sums (nullptr: none).
void linear_backward(Device device, const LinearShape& shape, const float* src, const float* weight,
                     const float* diff_dst, float* diff_src, float* diff_weight, float* diff_bias);

// ---- Element-wise ------------------------------------------------------------------------

// Inverted dropout (dropout.h's counter-based masks: the same mask for the same (seed,
// stream) on every device): mask[i] = 0 or 1/(1-p) (all ones for p == 0), dst = src * mask.
// src may equal dst.
void dropout_forward(Device device, const float* src, float* dst, float* mask, int64_t count, float p,
                     uint64_t seed, uint64_t stream);
// values[i] *= factors[i] (the backward of a mask).
void multiply(Device device, float* values, const float* factors, int64_t count);

// ---- Final states of a recurrent stack -> a head's input ---------------------------------

// h [L*D, N, S] (recurrent.h's layout). For each direction d of the last layer:
// dst[n, column(d) + k] (+)= h[(L-1)*D + d, n, k], column(d) = sum ? 0 : d * S; dst
// [N, sum ? S : D*S] is overwritten (directions added in order 0, 1 when sum).
void gather_final_states(Device device, const float* h, int num_layers, int directions, int batch, int state_size,
                         bool sum, float* dst);
// The backward: diff_h [L*D, N, S] is overwritten; layers other than the last get 0.
void scatter_final_states(Device device, const float* diff_dst, int num_layers, int directions, int batch,
                          int state_size, bool sum, float* diff_h);

// ---- Losses ----------------------------------------------------------------------------

// Where a loss adds its sums: each a pointer to ONE double on the op's device, nullptr to
// skip it. Sums, not means: a data-parallel trainer all-reduces them, then divides.
struct LossSums {
  double* loss = nullptr;       // sum of the per-row (per-element) losses
  double* count = nullptr;      // rows (elements) counted
  double* correct = nullptr;    // classification: counted rows whose argmax is the label
  double* abs_error = nullptr;  // regression: sum of |pred - target|
};

// Softmax cross-entropy of logits [rows, classes] against labels [rows] (losses.h's
// Reduction::sum, rows with ignore_index skipped). diff_logits (optional) =
// float(float(softmax - onehot) * gradient_scale), 0 on ignored rows.
void softmax_cross_entropy(Device device, const float* logits, const int32_t* labels, int64_t rows,
                           int64_t classes, int32_t ignore_index, double gradient_scale, float* diff_logits,
                           const LossSums& sums);

// Squared error over `count` elements: loss += sum (pred - target)^2, abs_error += sum
// |pred - target|, count += count; diff_pred (optional) = float(float(2 (pred - target)) *
// gradient_scale).
void mean_squared_error(Device device, const float* pred, const float* target, int64_t count,
                        double gradient_scale, float* diff_pred, const LossSums& sums);

// ---- Norms ---------------------------------------------------------------------------

// *accumulator += sum of values[i]^2, in double. cpu: in index order, one element at a time
// into *accumulator; cuda: a fixed two-pass tree.
void sum_of_squares(Device device, const float* values, int64_t count, double* accumulator);

// ---- Optimizer updates (PyTorch 1.13's rules; the scalars computed on the host) ----------

// torch.optim.SGD: g' = g * grad_scale; d = g' + wd * p; buf = first ? d : momentum * buf + d;
// d = nesterov ? d + momentum * buf : buf; p += neg_lr * d. momentum_buffer may be nullptr
// when momentum == 0. grad_scale is the clipping factor (1 = none).
struct SgdScalars {
  float neg_lr = 0, weight_decay = 0, momentum = 0, grad_scale = 1;
  bool nesterov = false, first_step = false;
};
void sgd_step(Device device, float* params, const float* grads, float* momentum_buffer, int64_t count,
              const SgdScalars& s);

// torch.optim.Adam/AdamW: if decay != 1: p *= decay; g = grad * grad_scale (+ l2 * p);
// m = m * beta1 + g * one_minus_beta1; v = v * beta2 + one_minus_beta2 * g * g;
// p += -step_size * (m / (sqrt(v) / bias_correction2_sqrt + eps)).
struct AdamScalars {
  float step_size = 0, bias_correction2_sqrt = 1, beta1 = 0, beta2 = 0, one_minus_beta1 = 0, one_minus_beta2 = 0,
        eps = 0, l2 = 0, decay = 1, grad_scale = 1;
};
void adam_step(Device device, float* params, const float* grads, float* exp_avg, float* exp_avg_sq, int64_t count,
               const AdamScalars& s);

}  // namespace rnnlab::layers::ops
