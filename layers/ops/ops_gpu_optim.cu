// The CUDA optimizer updates of layers/ops.h: torch.optim.SGD and Adam/AdamW, element by
// element in the cpu's float arithmetic (every operation an __f*_rn intrinsic, never
// contracted into an FMA), so both devices take bit-identical steps from the same state.
// The clipping factor (grad_scale) is applied on the fly, as the cpu applies it.
#include <cuda_runtime.h>

#include "layers/ops/ops_gpu.h"
#include "layers/ops/ops_gpu_launch.cuh"

namespace rnnlab::layers::ops::gpu {
namespace {

using namespace detail;

__global__ void sgd_kernel(float* params, const float* grads, float* buf, int64_t count, SgdScalars s) {
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    float d = __fmul_rn(grads[i], s.grad_scale);
    if (s.weight_decay != 0.0f) d = __fadd_rn(d, __fmul_rn(s.weight_decay, params[i]));
    if (s.momentum != 0.0f) {
      buf[i] = s.first_step ? d : __fadd_rn(__fmul_rn(s.momentum, buf[i]), d);
      d = s.nesterov ? __fadd_rn(d, __fmul_rn(s.momentum, buf[i])) : buf[i];
    }
    params[i] = __fadd_rn(params[i], __fmul_rn(s.neg_lr, d));
  }
}

__global__ void adam_kernel(float* params, const float* grads, float* m, float* v, int64_t count, AdamScalars s) {
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    // 1. Decoupled weight decay (AdamW) before anything reads the parameter.
    float p = params[i];
    if (s.decay != 1.0f) p = __fmul_rn(p, s.decay);
    // 2. The (clipped) gradient, plus the L2 term of plain Adam.
    float g = __fmul_rn(grads[i], s.grad_scale);
    if (s.l2 != 0.0f) g = __fadd_rn(g, __fmul_rn(s.l2, p));
    // 3. Moments.
    const float m_i = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(g, s.one_minus_beta1));
    const float v_i = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
    m[i] = m_i;
    v[i] = v_i;
    // 4. Bias-corrected step.
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v_i), s.bias_correction2_sqrt), s.eps);
    params[i] = __fadd_rn(p, __fmul_rn(-s.step_size, __fdiv_rn(m_i, denom)));
  }
}

}  // namespace

void sgd_step(float* params, const float* grads, float* momentum_buffer, int64_t count, const SgdScalars& s) {
  require(count >= 0, "sgd_step", named("count", count) + " is negative");
  require(s.momentum == 0.0f || momentum_buffer != nullptr, "sgd_step", "momentum needs a momentum buffer");
  if (count == 0) return;
  launch(count, sgd_kernel, params, grads, momentum_buffer, count, s);
}

void adam_step(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, int64_t count,
               const AdamScalars& s) {
  require(count >= 0 && exp_avg && exp_avg_sq, "adam_step",
          named("count", count) + ": need count >= 0 and both moment buffers");
  if (count == 0) return;
  launch(count, adam_kernel, params, grads, exp_avg, exp_avg_sq, count, s);
}

}  // namespace rnnlab::layers::ops::gpu
