// The optimizers of trainer/optim.h on device buffers (internal to the GPU engine).
//
// A GpuOptimizer pairs a HOST Optimizer (made by make_optimizer: it validates the options,
// names the state vectors, counts steps, and holds the state for checkpoints) with device
// copies of that state. step() computes the per-step scalars exactly as optim.cc does (same
// double -> float roundings, same bias corrections) and runs layers/cuda's sgd_step /
// adam_step, whose float arithmetic is optim.cc's element by element, so a step on the GPU
// equals a step on the CPU bit for bit for the same inputs.
//
// The host state is only current after download_state(); after changing it (resume), call
// upload_state(). Errors: as make_optimizer; CUDA failures throw std::runtime_error.
// Not thread safe.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "layers/cuda/device.h"
#include "trainer/optim.h"

namespace rnnlab::trainer::gpu {

class GpuOptimizer {
 public:
  GpuOptimizer(const OptimizerOptions& options, int64_t parameter_count);

  Optimizer& host() { return *host_; }
  std::unique_ptr<Optimizer> release_host();  // hands the host optimizer to the engine

  // params -= update(grads * grad_scale) on the device; grad_scale is the clipping factor
  // (1 = none), applied like clip_grad_norm's in-place scaling would be.
  void step(float* params, const float* grads, double lr, float grad_scale);

  void download_state();  // device state -> host optimizer's state vectors
  void upload_state();    // host optimizer's state vectors -> device

 private:
  OptimizerOptions options_;
  int64_t count_;
  std::unique_ptr<Optimizer> owned_;
  Optimizer* host_;
  std::vector<layers::cuda::DeviceBuffer<float>> state_;  // in host_->state() order
};

}  // namespace rnnlab::trainer::gpu
