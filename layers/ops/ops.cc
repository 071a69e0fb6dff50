// The one dispatch of layers/ops.h: every op runs the CPU implementation (ops_cpu.h) or the
// CUDA one (ops_gpu.h, built with RNNLAB_WITH_CUDA) on the device its caller names. Nothing
// else in rnnlab chooses between the two; a build without CUDA throws for Device::cuda.
// Also the host-side checks (check_ids, check_labels) that callers of cuda ops make first.
#include "layers/ops.h"

#include <stdexcept>
#include <string>

#include "layers/ops/ops_cpu.h"
#ifdef RNNLAB_WITH_CUDA
#include "layers/ops/ops_gpu.h"
#endif

namespace rnnlab::layers::ops {
namespace {

#ifndef RNNLAB_WITH_CUDA
[[noreturn]] void no_cuda(const char* op) {
  throw std::runtime_error(std::string("ops::") + op +
                           ": Device::cuda in a build without the GPU path (RNNLAB_WITH_CUDA)");
}
#endif

}  // namespace

// `device` picks the implementation; both take the op's arguments unchanged.
#ifdef RNNLAB_WITH_CUDA
#define RNNLAB_DISPATCH(op, ...) (device == Device::cuda ? gpu::op(__VA_ARGS__) : cpu::op(__VA_ARGS__))
#else
#define RNNLAB_DISPATCH(op, ...) (device == Device::cuda ? no_cuda(#op) : cpu::op(__VA_ARGS__))
#endif

void check_ids(const char* who, const int32_t* host_ids, int64_t count, int64_t vocab_size) {
  for (int64_t i = 0; i < count; ++i)
    if (host_ids[i] < 0 || host_ids[i] >= vocab_size)
      throw std::invalid_argument(std::string(who) + ": id " + std::to_string(host_ids[i]) + " at position " +
                                  std::to_string(i) + " is out of range [0, " + std::to_string(vocab_size) + ")");
}

int64_t check_labels(const char* who, const int32_t* host_labels, int64_t rows, int64_t classes,
                     int32_t ignore_index) {
  int64_t counted = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (host_labels[r] == ignore_index) continue;
    if (host_labels[r] < 0 || host_labels[r] >= classes)
      throw std::invalid_argument(std::string(who) + ": label " + std::to_string(host_labels[r]) + " at row " +
                                  std::to_string(r) + " is out of range [0, " + std::to_string(classes) +
                                  ") and is not ignore_index " + std::to_string(ignore_index));
    ++counted;
  }
  return counted;
}

void embedding_forward(Device device, const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids,
                       int64_t count, float* dst) {
  RNNLAB_DISPATCH(embedding_forward, table, vocab_size, dim, ids, count, dst);
}

void embedding_backward(Device device, const float* diff_dst, const int32_t* host_ids, int64_t count,
                        int64_t vocab_size, int64_t dim, float* diff_table, int32_t padding_id) {
  RNNLAB_DISPATCH(embedding_backward, diff_dst, host_ids, count, vocab_size, dim, diff_table, padding_id);
}

void linear_forward(Device device, const LinearShape& shape, const float* src, const float* weight,
                    const float* bias, float* dst) {
  RNNLAB_DISPATCH(linear_forward, shape, src, weight, bias, dst);
}

void linear_backward(Device device, const LinearShape& shape, const float* src, const float* weight,
                     const float* diff_dst, float* diff_src, float* diff_weight, float* diff_bias) {
  RNNLAB_DISPATCH(linear_backward, shape, src, weight, diff_dst, diff_src, diff_weight, diff_bias);
}

void dropout_forward(Device device, const float* src, float* dst, float* mask, int64_t count, float p,
                     uint64_t seed, uint64_t stream) {
  RNNLAB_DISPATCH(dropout_forward, src, dst, mask, count, p, seed, stream);
}

void multiply(Device device, float* values, const float* factors, int64_t count) {
  RNNLAB_DISPATCH(multiply, values, factors, count);
}

void gather_final_states(Device device, const float* h, int num_layers, int directions, int batch, int state_size,
                         bool sum, float* dst) {
  RNNLAB_DISPATCH(gather_final_states, h, num_layers, directions, batch, state_size, sum, dst);
}

void scatter_final_states(Device device, const float* diff_dst, int num_layers, int directions, int batch,
                          int state_size, bool sum, float* diff_h) {
  RNNLAB_DISPATCH(scatter_final_states, diff_dst, num_layers, directions, batch, state_size, sum, diff_h);
}

void softmax_cross_entropy(Device device, const float* logits, const int32_t* labels, int64_t rows,
                           int64_t classes, int32_t ignore_index, double gradient_scale, float* diff_logits,
                           const LossSums& sums) {
  RNNLAB_DISPATCH(softmax_cross_entropy, logits, labels, rows, classes, ignore_index, gradient_scale, diff_logits,
                  sums);
}

void mean_squared_error(Device device, const float* pred, const float* target, int64_t count,
                        double gradient_scale, float* diff_pred, const LossSums& sums) {
  RNNLAB_DISPATCH(mean_squared_error, pred, target, count, gradient_scale, diff_pred, sums);
}

void sum_of_squares(Device device, const float* values, int64_t count, double* accumulator) {
  RNNLAB_DISPATCH(sum_of_squares, values, count, accumulator);
}

void sgd_step(Device device, float* params, const float* grads, float* momentum_buffer, int64_t count,
              const SgdScalars& s) {
  RNNLAB_DISPATCH(sgd_step, params, grads, momentum_buffer, count, s);
}

void adam_step(Device device, float* params, const float* grads, float* exp_avg, float* exp_avg_sq, int64_t count,
               const AdamScalars& s) {
  RNNLAB_DISPATCH(adam_step, params, grads, exp_avg, exp_avg_sq, count, s);
}

#undef RNNLAB_DISPATCH

}  // namespace rnnlab::layers::ops
