// Where a buffer lives, and an owning buffer that knows it: the one notion of "device" in
// rnnlab. A model's flat parameter buffer, its activations, its optimizer state and a batch
// uploaded for a step are all Buffers on the model's device; every op (layers/ops.h) runs on
// the device of the buffers it is given. There is no second class hierarchy per device.
//
//   Device::cpu   host memory (a std::vector); data() is a host pointer.
//   Device::cuda  memory of the calling thread's current CUDA device (layers/device_memory.h);
//                 data() is a DEVICE pointer. Exists in every build: without CUDA, making
//                 a cuda Buffer of non-zero size throws std::runtime_error (no device).
//
// Copies: upload()/download() move data between host memory and the buffer, whichever
// device it is on (on the cpu they are plain copies); on cuda they are synchronous on the
// thread's stream (the host memory may be reused at once). Contents after construction or
// resize() are zeros on the cpu and unspecified on cuda (call zero()).
// Thread safety: as the memory it owns; not shared between threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "layers/device_memory.h"

namespace rnnlab::layers {

enum class Device { cpu, cuda };

inline std::string_view to_string(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

template <typename T>
class Buffer {
 public:
  explicit Buffer(Device device = Device::cpu, size_t count = 0) : device_(device) { resize(count); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;

  Device device() const { return device_; }
  bool on_cpu() const { return device_ == Device::cpu; }
  T* data() { return on_cpu() ? host_.data() : device_buffer_.data(); }
  const T* data() const { return on_cpu() ? host_.data() : device_buffer_.data(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Reallocates only when the size changes; old contents are not kept on cuda (on the cpu
  // they are, as std::vector::resize keeps them).
  void resize(size_t count) {
    if (on_cpu())
      host_.resize(count);
    else
      device_buffer_.resize(count);
    size_ = count;
  }
  void zero() {
    if (on_cpu())
      std::fill(host_.begin(), host_.end(), T{});
    else
      device_buffer_.zero();
  }
  // Resizes to `count` and copies `count` elements from host memory.
  void upload(const T* host, size_t count) {
    resize(count);
    if (on_cpu())
      std::copy(host, host + count, host_.begin());
    else
      device_buffer_.upload(host, count);
  }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  // Copies the first `count` elements (default: all) into host memory.
  void download(T* host, size_t count) const {
    if (count > size_) throw std::invalid_argument("Buffer::download: more elements than the buffer holds");
    if (on_cpu())
      std::copy(host_.begin(), host_.begin() + std::ptrdiff_t(count), host);
    else
      device_buffer_.download(host, count);
  }
  void download(T* host) const { download(host, size_); }
  std::vector<T> to_host() const {
    std::vector<T> host(size_);
    download(host.data());
    return host;
  }

  // Host-side access, cpu buffers only (std::logic_error on cuda): for code that inspects
  // values on the host (tests, generation) without a copy.
  std::vector<T>& host() {
    require_cpu();
    return host_;
  }
  const std::vector<T>& host() const {
    require_cpu();
    return host_;
  }

 private:
  void require_cpu() const {
    if (!on_cpu()) throw std::logic_error("Buffer::host() on a cuda buffer: download() it");
  }
  Device device_ = Device::cpu;
  size_t size_ = 0;
  std::vector<T> host_;
  cuda::DeviceBuffer<T> device_buffer_;
};

// `host` as a pointer on `staging`'s device: the host data itself on the cpu (no copy),
// else uploaded into `staging` (which then holds it).
template <typename T>
const T* on_device(const std::vector<T>& host, Buffer<T>& staging) {
  if (staging.on_cpu()) return host.data();
  staging.upload(host);
  return staging.data();
}

// Whether `device` can be used in this process (cpu: always), and why not. Never throw.
// (layers/device.cc, over the private layers/cuda/device.h.)
bool device_available(Device device);
std::string device_unavailable_reason(Device device);
// Waits until the work queued on `device` by this thread has run (cuda: its stream; cpu:
// nothing to wait for), e.g. before a communicator reads device memory.
void synchronize(Device device);

}  // namespace rnnlab::layers
