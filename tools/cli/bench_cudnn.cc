// `rnnlab bench --backend cudnn`: the training/inference step of tools/cli/bench.cc on the
// GPU with every buffer already on the device (CudnnStack's device-pointer API, cuBLAS for
// the MSE gradient and the SGD update), each step ended by cudaDeviceSynchronize so the
// host clock times the GPU work. Without a device the stack's constructor throws
// "cudnn: no CUDA device (...)".
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <vector>

#include "layers/cuda/device.h"
#include "layers/cudnn/cudnn_stack.h"

namespace rnnlab::cli {

std::function<void()> make_cudnn_bench_step(const layers::RecurrentOptions& options, int seq_len, int batch,
                                            const std::vector<float>& params, const std::vector<float>& src,
                                            const std::vector<float>& target, bool train, float learning_rate,
                                            bool allow_tf32, bool fuse_layers) {
  using layers::cuda::DeviceBuffer;
  struct State {
    std::unique_ptr<layers::CudnnStack> stack;
    DeviceBuffer<float> params, grads, src, dst, target, diff_dst;
    layers::RecurrentForwardArgs fwd;
    layers::RecurrentBackwardArgs bwd;
    int64_t out_count = 0;
  };
  auto state = std::make_shared<State>();
  layers::CudnnTuning tuning;
  tuning.allow_tf32 = allow_tf32;
  tuning.fuse_layers = fuse_layers;
  state->stack = std::make_unique<layers::CudnnStack>(options, tuning);  // throws without a device
  state->params.upload(params.data(), params.size());
  state->grads.resize(params.size());
  state->src.upload(src.data(), src.size());
  state->target.upload(target.data(), target.size());
  state->dst.resize(target.size());
  state->diff_dst.resize(target.size());
  state->out_count = int64_t(target.size());
  state->fwd.seq_len = seq_len;
  state->fwd.batch = batch;
  state->fwd.params = state->params.data();
  state->fwd.src = state->src.data();
  state->fwd.dst = state->dst.data();
  state->bwd.diff_dst = state->diff_dst.data();
  state->bwd.diff_params = state->grads.data();
  return [state, train, learning_rate] {
    auto& context = layers::cuda::device_context();
    cublasHandle_t cublas = context.cublas();
    if (!train) {
      state->stack->forward(state->fwd, false);
    } else {
      state->grads.zero();
      state->stack->forward(state->fwd, true);
      // MSE (mean) gradient: diff = 2 / count * (dst - target).
      const int count = int(state->out_count);
      const float minus_one = -1.0f, scale = 2.0f / float(count), step = -learning_rate;
      layers::cuda::copy_device_to_device(state->diff_dst.data(), state->dst.data(), state->dst.bytes());
      RNNLAB_CUBLAS_CHECK(cublasSaxpy(cublas, count, &minus_one, state->target.data(), 1, state->diff_dst.data(), 1));
      RNNLAB_CUBLAS_CHECK(cublasSscal(cublas, count, &scale, state->diff_dst.data(), 1));
      state->stack->backward(state->bwd);
      // SGD on the flat parameter buffer.
      RNNLAB_CUBLAS_CHECK(cublasSaxpy(cublas, int(state->params.size()), &step, state->grads.data(), 1,
                                      state->params.data(), 1));
    }
    RNNLAB_CUDA_CHECK(cudaDeviceSynchronize());
  };
}

}  // namespace rnnlab::cli
