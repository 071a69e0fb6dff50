// `rnnlab bench --backend cudnn`: the training/inference step of tools/cli/bench.cc on the
// GPU with every buffer already on the device: cuDNN's stack on device buffers
// (layers/device_stack.h), the MSE gradient and the SGD update as the ops of layers/ops.h,
// each step ended by layers::synchronize so the host clock times the GPU work. Without a
// device the stack's factory throws "cudnn: no CUDA device (...)".
#include <functional>
#include <memory>
#include <vector>

#include "layers/device.h"
#include "layers/device_stack.h"
#include "layers/ops.h"

namespace rnnlab::cli {

std::function<void()> make_cudnn_bench_step(const layers::RecurrentOptions& options, int seq_len, int batch,
                                            const std::vector<float>& params, const std::vector<float>& src,
                                            const std::vector<float>& target, bool train, float learning_rate,
                                            bool allow_tf32, bool fuse_layers) {
  using layers::Buffer;
  using layers::Device;
  struct State {
    std::unique_ptr<layers::RecurrentStack> stack;
    Buffer<float> params{Device::cuda}, grads{Device::cuda}, src{Device::cuda}, dst{Device::cuda},
        target{Device::cuda}, diff_dst{Device::cuda};
    layers::RecurrentForwardArgs fwd;
    layers::RecurrentBackwardArgs bwd;
  };
  auto state = std::make_shared<State>();
  layers::CudnnTuning tuning;
  tuning.allow_tf32 = allow_tf32;
  tuning.fuse_layers = fuse_layers;
  state->stack = layers::make_cudnn_device_stack(options, tuning);  // throws without a device
  state->params.upload(params);
  state->grads.resize(params.size());
  state->src.upload(src);
  state->target.upload(target);
  state->dst.resize(target.size());
  state->diff_dst.resize(target.size());
  state->fwd.seq_len = seq_len;
  state->fwd.batch = batch;
  state->fwd.params = state->params.data();
  state->fwd.src = state->src.data();
  state->fwd.dst = state->dst.data();
  state->bwd.diff_dst = state->diff_dst.data();
  state->bwd.diff_params = state->grads.data();
  return [state, train, learning_rate] {
    if (!train) {
      state->stack->forward(state->fwd, false);
    } else {
      state->grads.zero();
      state->stack->forward(state->fwd, true);
      // The mean squared error's (mean) gradient: 2 (dst - target) / count.
      const int64_t count = int64_t(state->dst.size());
      layers::ops::mean_squared_error(Device::cuda, state->dst.data(), state->target.data(), count,
                                      1.0 / double(count), state->diff_dst.data(), {});
      state->stack->backward(state->bwd);
      // SGD on the flat parameter buffer.
      layers::ops::SgdScalars sgd;
      sgd.neg_lr = -learning_rate;
      layers::ops::sgd_step(Device::cuda, state->params.data(), state->grads.data(), nullptr,
                            int64_t(state->params.size()), sgd);
    }
    layers::synchronize(Device::cuda);
  };
}

}  // namespace rnnlab::cli
