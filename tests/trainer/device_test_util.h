// Tests that run one body per device (layers::Device): the parameter values, their names,
// and the loud skip of the cuda instance where this process has no CUDA device (or the
// build has no GPU path), so a CPU-only machine reports the cuda tests as SKIPPED with
// the reason instead of passing them silently.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "layers/device.h"

namespace rnnlab::layers {
// gtest prints a Device parameter as "cpu" / "cuda".
inline void PrintTo(Device device, std::ostream* os) { *os << to_string(device); }
}  // namespace rnnlab::layers

namespace rnnlab::trainer::testing_util {

inline ::testing::internal::ParamGenerator<layers::Device> all_devices() {
  return ::testing::Values(layers::Device::cpu, layers::Device::cuda);
}

inline std::string device_name(const ::testing::TestParamInfo<layers::Device>& info) {
  return std::string(layers::to_string(info.param));
}

// The recurrent backend a model on `device` runs in these tests.
inline std::string backend_for(layers::Device device, const std::string& cpu_backend = "reference") {
  return device == layers::Device::cuda ? "cudnn" : cpu_backend;
}

}  // namespace rnnlab::trainer::testing_util

// In a test body or SetUp(): skips (saying why) when `device` cannot run here.
#ifdef RNNLAB_WITH_CUDA
#define RNNLAB_SKIP_WITHOUT(device)                                                                 \
  if (::rnnlab::layers::device_available(device)) {                                               \
  } else                                                                                           \
    GTEST_SKIP() << "SKIPPED on " << ::rnnlab::layers::to_string(device) << ": no CUDA device ("     \
               << ::rnnlab::layers::device_unavailable_reason(device) << ")"
#else
#define RNNLAB_SKIP_WITHOUT(device)                   \
  if ((device) == ::rnnlab::layers::Device::cpu) {   \
  } else                                             \
    GTEST_SKIP() << "SKIPPED on cuda: this build has no GPU path (RNNLAB_WITH_CUDA)"
#endif
