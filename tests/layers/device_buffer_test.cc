// layers::Buffer (layers/device.h) on every Device: the same test bodies for cpu and cuda
// (upload/download round trips, resize, zero, moves, the size check of download), plus
// what only one device does: host() on the cpu, host() refusing a cuda buffer, and a cuda
// buffer without a device throwing. The cuda instance skips, saying why, without a device.
#include <gtest/gtest.h>

#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "layers/device.h"

namespace rnnlab::layers {

// gtest prints a Device parameter by name ("cpu", "cuda").
void PrintTo(Device device, std::ostream* out) { *out << to_string(device); }

namespace {

class DeviceBuffer : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    if (!device_available(GetParam()))
      GTEST_SKIP() << "no CUDA device, the cuda instance of the Buffer tests is skipped: "
                   << device_unavailable_reason(GetParam());
  }
};

TEST_P(DeviceBuffer, UploadDownloadRoundTripsAndKnowsItsDevice) {
  const std::vector<float> values{1.5f, -2.0f, 3.25f, 0.0f, 7.0f};
  Buffer<float> buffer(GetParam());
  EXPECT_EQ(buffer.device(), GetParam());
  EXPECT_EQ(buffer.on_cpu(), GetParam() == Device::cpu);
  EXPECT_TRUE(buffer.empty());
  buffer.upload(values);
  EXPECT_EQ(buffer.size(), values.size());
  EXPECT_NE(buffer.data(), nullptr);
  EXPECT_EQ(buffer.to_host(), values);
  std::vector<float> first(2);
  buffer.download(first.data(), 2);
  EXPECT_EQ(first, (std::vector<float>{1.5f, -2.0f}));
  std::vector<float> too_many(6);
  EXPECT_THROW(buffer.download(too_many.data(), 6), std::invalid_argument);

  Buffer<int32_t> ids(GetParam());
  ids.upload(std::vector<int32_t>{4, -1, 2});
  EXPECT_EQ(ids.to_host(), (std::vector<int32_t>{4, -1, 2}));
  Buffer<double> sums(GetParam(), 3);
  sums.zero();
  EXPECT_EQ(sums.to_host(), (std::vector<double>(3, 0.0)));
}

TEST_P(DeviceBuffer, ResizeZeroAndMoveKeepTheDevice) {
  Buffer<float> buffer(GetParam(), 4);
  EXPECT_EQ(buffer.size(), 4u);
  buffer.upload(std::vector<float>(4, 9.0f));
  buffer.zero();
  EXPECT_EQ(buffer.to_host(), std::vector<float>(4, 0.0f));
  buffer.resize(10);
  buffer.zero();
  EXPECT_EQ(buffer.to_host(), std::vector<float>(10, 0.0f));

  buffer.upload(std::vector<float>{1, 2, 3});
  Buffer<float> moved(std::move(buffer));
  EXPECT_EQ(moved.device(), GetParam());
  EXPECT_EQ(moved.to_host(), (std::vector<float>{1, 2, 3}));
  Buffer<float> assigned(GetParam());
  assigned = std::move(moved);
  EXPECT_EQ(assigned.to_host(), (std::vector<float>{1, 2, 3}));
  assigned.resize(0);
  EXPECT_TRUE(assigned.empty());
  EXPECT_TRUE(assigned.to_host().empty());
}

TEST_P(DeviceBuffer, HostAccessIsForCpuBuffersOnly) {
  Buffer<float> buffer(GetParam());
  buffer.upload(std::vector<float>{5, 6});
  if (GetParam() == Device::cpu) {
    buffer.host()[1] = 8.0f;  // host() is the storage itself, no copy
    EXPECT_EQ(buffer.to_host(), (std::vector<float>{5, 8}));
    EXPECT_EQ(buffer.data(), buffer.host().data());
    buffer.resize(3);  // the cpu keeps old contents, as std::vector::resize
    EXPECT_EQ(buffer.to_host(), (std::vector<float>{5, 8, 0}));
  } else {
    EXPECT_THROW(buffer.host(), std::logic_error);
  }
  synchronize(GetParam());  // nothing left queued on either device
}

INSTANTIATE_TEST_SUITE_P(EveryDevice, DeviceBuffer, ::testing::Values(Device::cpu, Device::cuda),
                         [](const ::testing::TestParamInfo<Device>& device_info) {
                           return std::string(to_string(device_info.param));
                         });

// Runs where there is no device (this machine, CI): a cuda buffer of non-zero size throws,
// an empty one is fine (nothing to allocate).
TEST(DeviceBufferWithoutDevice, ANonEmptyCudaBufferThrowsRuntimeError) {
  EXPECT_TRUE(device_available(Device::cpu));
  EXPECT_EQ(device_unavailable_reason(Device::cpu), "");
  if (device_available(Device::cuda)) GTEST_SKIP() << "a CUDA device is present: nothing to refuse";
  EXPECT_FALSE(device_unavailable_reason(Device::cuda).empty());
  EXPECT_NO_THROW({ Buffer<float> empty(Device::cuda); });
  try {
    Buffer<float> buffer(Device::cuda, 16);
    FAIL() << "a cuda Buffer of 16 floats without a device did not throw";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("no CUDA device"), std::string::npos) << error.what();
  }
  EXPECT_THROW(synchronize(Device::cuda), std::runtime_error);
  EXPECT_NO_THROW(synchronize(Device::cpu));
}

}  // namespace
}  // namespace rnnlab::layers
