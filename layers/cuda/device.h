// The CUDA device layer every GPU module builds on: is there a device, error checking for
// each vendor library, the per-thread context (stream, cuDNN and cuBLAS handles) and, from
// layers/device_memory.h (public, included here), the raw memory helpers and the owning
// DeviceBuffer. Private to layers/: callers outside use layers/device.h.
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

#include "layers/device_memory.h"

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

}  // namespace rnnlab::layers::cuda
