// layers/device.h's questions about a device, answered by the CUDA device layer.
#include "layers/device.h"

#include "layers/cuda/device.h"

namespace rnnlab::layers {

bool device_available(Device device) { return device == Device::cpu || cuda::cuda_device_available(); }

std::string device_unavailable_reason(Device device) {
  return device == Device::cpu ? std::string() : cuda::cuda_unavailable_reason();
}

void synchronize(Device device) {
  if (device == Device::cuda) cuda::device_context().synchronize();
}

}  // namespace rnnlab::layers
