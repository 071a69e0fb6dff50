// The CPU implementation of the ops of layers/ops.h (ops_cpu.cc), declared for the one
// dispatch (ops.cc): the same functions minus the Device parameter, in the same order, as
// ops_gpu.h declares the CUDA ones. Internal to layers/: everything else calls layers/ops.h.
//
// Contracts are ops.h's, on HOST pointers. The arithmetic is that of dense.h, losses.h,
// dropout.h and the optimizer loops that trainer/optim.cc had, operation for operation,
// so CPU training curves stay bit-identical to the code before the ops existed. Ids and
// labels are checked here (std::invalid_argument naming the position) before anything is
// written. Thread safety: pure functions of their arguments.
#pragma once

#include <cstdint>

#include "layers/ops.h"

namespace rnnlab::layers::ops::cpu {

void embedding_forward(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids, int64_t count,
                       float* dst);
void embedding_backward(const float* diff_dst, const int32_t* host_ids, int64_t count, int64_t vocab_size,
                        int64_t dim, float* diff_table, int32_t padding_id);

void linear_forward(const LinearShape& shape, const float* src, const float* weight, const float* bias, float* dst);
void linear_backward(const LinearShape& shape, const float* src, const float* weight, const float* diff_dst,
                     float* diff_src, float* diff_weight, float* diff_bias);

void dropout_forward(const float* src, float* dst, float* mask, int64_t count, float p, uint64_t seed,
                     uint64_t stream);
void multiply(float* values, const float* factors, int64_t count);

void gather_final_states(const float* h, int num_layers, int directions, int batch, int state_size, bool sum,
                         float* dst);
void scatter_final_states(const float* diff_dst, int num_layers, int directions, int batch, int state_size,
                          bool sum, float* diff_h);

void softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                           int32_t ignore_index, double gradient_scale, float* diff_logits, const LossSums& sums);
void mean_squared_error(const float* pred, const float* target, int64_t count, double gradient_scale,
                        float* diff_pred, const LossSums& sums);

void sum_of_squares(const float* values, int64_t count, double* accumulator);

void sgd_step(float* params, const float* grads, float* momentum_buffer, int64_t count, const SgdScalars& s);
void adam_step(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, int64_t count,
               const AdamScalars& s);

}  // namespace rnnlab::layers::ops::cpu
