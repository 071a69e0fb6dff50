// Memory of the calling thread's current CUDA device: raw helpers and an owning buffer.
// Public (no vendor header) because layers::Buffer (layers/device.h) keeps its cuda
// storage in a DeviceBuffer; the rest of the CUDA device layer (contexts, handles, error
// macros) is private in layers/cuda/device.h, which includes this file.
//
// Every function exists in every build (layers/cuda/device.cc): without CUDA, allocating
// or copying a non-zero number of bytes throws std::runtime_error "<function>: no CUDA
// device (...)"; zero bytes are a no-op. Copies run on the thread's stream; the host copies
// return when the copy is done (the host memory may be reused at once). Failures of the
// CUDA runtime throw std::runtime_error naming the call. Thread safety: a DeviceBuffer is
// as thread safe as the memory it owns.
#pragma once

#include <cstddef>
#include <utility>

namespace rnnlab::layers::cuda {

// Raw memory helpers (bytes), all on the thread's stream.
void* device_allocate(size_t bytes);    // nullptr for 0 bytes; throws on failure
void device_free(void* pointer) noexcept;  // ignores nullptr; reports but never throws
void copy_host_to_device(void* dst, const void* src, size_t bytes);
void copy_device_to_host(void* dst, const void* src, size_t bytes);
void copy_device_to_device(void* dst, const void* src, size_t bytes);  // asynchronous
void fill_zero(void* dst, size_t bytes);                               // asynchronous

// An owning, move-only device array of `size()` elements of trivially copyable T.
// Contents after construction or resize() are unspecified (use zero()).
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { resize(count); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      device_free(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { device_free(data_); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }
  bool empty() const { return size_ == 0; }

  // Reallocates only when the size changes; old contents are not kept.
  void resize(size_t count) {
    if (count == size_) return;
    device_free(data_);
    data_ = nullptr;
    size_ = 0;
    data_ = static_cast<T*>(device_allocate(count * sizeof(T)));
    size_ = count;
  }
  // Grows (never shrinks) to at least `count` elements.
  void reserve(size_t count) {
    if (count > size_) resize(count);
  }
  void zero() { fill_zero(data_, bytes()); }
  // Resizes to `count` and copies from the host.
  void upload(const T* host, size_t count) {
    resize(count);
    copy_host_to_device(data_, host, count * sizeof(T));
  }
  // Copies the first `count` elements (default all) to the host.
  void download(T* host, size_t count) const { copy_device_to_host(host, data_, count * sizeof(T)); }
  void download(T* host) const { download(host, size_); }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rnnlab::layers::cuda
