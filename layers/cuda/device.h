// The CUDA device layer every GPU module builds on: is there a device, error checking for
// each vendor library, an owning device buffer and the per-thread context (stream, cuDNN
// and cuBLAS handles).
//
// Vendor headers stay out of this header: the handle types are the vendors' own opaque
// structs forward-declared below (cudaStream_t is `CUstream_st*`, cudnnHandle_t is
// `cudnnContext*`, cublasHandle_t is `cublasContext*`), so a .cu/.cc file that includes
// cuda_runtime.h / cudnn.h / cublas_v2.h uses them directly, and code that does not (the
// trainer, tests) still compiles. Every function here exists in every build: built without
// CUDA (RNNLAB_WITH_CUDA undefined), cuda_device_count() is 0 and the rest throw.
//
// Errors: the RNNLAB_CUDA_CHECK / RNNLAB_CUBLAS_CHECK / RNNLAB_CUDNN_CHECK macros turn a
// failed vendor call into std::runtime_error "<vendor call> failed: <vendor message> (file:line)".
// cuda_device_available() never throws and never crashes without a GPU or driver.
//
// Streams: all work of one host thread on one device goes to that thread's context
// stream (device_context().stream()). It is a blocking stream: work queued on the legacy
// default stream (plain cudaMemcpy, kernel<<<g, b>>>) still orders with it. Thread safety:
// contexts are thread_local; a DeviceBuffer is as thread safe as the memory it owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

struct CUstream_st;    // cudaStream_t
struct cudnnContext;   // cudnnHandle_t
struct cublasContext;  // cublasHandle_t

namespace rnnlab::layers::cuda {

// Number of CUDA devices; 0 without a GPU, a driver, or a CUDA build. Never throws.
int cuda_device_count();
// cuda_device_count() > 0.
bool cuda_device_available();
// Why there is no device ("built without CUDA", "cudaGetDeviceCount: no CUDA-capable
// device is detected", ...); empty when a device is available.
std::string cuda_unavailable_reason();
// Throws std::runtime_error "<who>: no CUDA device (<reason>)" when there is none.
void require_cuda_device(const std::string& who);

// Selects the device of the calling thread (cudaSetDevice), e.g. by MPI local rank.
void set_device(int device);
int current_device();

// Error checks behind the macros; `status` is the vendor's enum value. Throw on failure.
void check_cuda(int status, const char* call, const char* file, int line);
void check_cublas(int status, const char* call, const char* file, int line);
void check_cudnn(int status, const char* call, const char* file, int line);

#define RNNLAB_CUDA_CHECK(call) ::rnnlab::layers::cuda::check_cuda(static_cast<int>(call), #call, __FILE__, __LINE__)
#define RNNLAB_CUBLAS_CHECK(call) \
  ::rnnlab::layers::cuda::check_cublas(static_cast<int>(call), #call, __FILE__, __LINE__)
#define RNNLAB_CUDNN_CHECK(call) \
  ::rnnlab::layers::cuda::check_cudnn(static_cast<int>(call), #call, __FILE__, __LINE__)

// The calling thread's context on its current device, created on first use (stream,
// cuDNN handle bound to the stream, cuBLAS handle bound to the stream). Lives until the
// thread exits. Throws std::runtime_error without a device.
class DeviceContext {
 public:
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;
  ~DeviceContext();

  int device() const { return device_; }
  CUstream_st* stream() const { return stream_; }
  cudnnContext* cudnn() const { return cudnn_; }
  cublasContext* cublas() const { return cublas_; }
  // Blocks until everything queued on stream() has run; throws on an asynchronous error.
  void synchronize() const;

 private:
  friend DeviceContext& device_context();
  explicit DeviceContext(int device);
  int device_ = 0;
  CUstream_st* stream_ = nullptr;
  cudnnContext* cudnn_ = nullptr;
  cublasContext* cublas_ = nullptr;
};
DeviceContext& device_context();

// Raw memory helpers (bytes), all on device_context().stream(). The host copies return
// when the copy is done (the host buffer may be reused at once).
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
