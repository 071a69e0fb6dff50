// layers/device_stack.h in a build without CUDA: there is no device to run a stack on.
// (With CUDA, make_cudnn_device_stack is defined beside the host face in
// layers/cudnn/cudnn_host_stack.cc.)
#include "layers/device_stack.h"

#ifndef RNNLAB_WITH_CUDA
#include <stdexcept>
#include <string>

#include "layers/cuda/device.h"

namespace rnnlab::layers {

std::unique_ptr<RecurrentStack> make_cudnn_device_stack(const RecurrentOptions&, const CudnnTuning&) {
  throw std::runtime_error("cudnn: no CUDA device (" + cuda::cuda_unavailable_reason() + ")");
}

}  // namespace rnnlab::layers
#endif
