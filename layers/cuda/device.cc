// layers/cuda/device.h: device query, vendor error checks, context and memory helpers.
// Compiled in every build; without RNNLAB_WITH_CUDA there is no device and the rest throws.
#include "layers/cuda/device.h"

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef RNNLAB_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#endif

namespace rnnlab::layers::cuda {
namespace {

[[noreturn]] void fail(const std::string& what, const char* call, const char* file, int line) {
  throw std::runtime_error(std::string(call) + " failed: " + what + " (" + file + ":" + std::to_string(line) + ")");
}

#ifdef RNNLAB_WITH_CUDA
struct DeviceQuery {
  int count = 0;
  std::string reason;
};
// Asked once per process: cudaGetDeviceCount initialises the runtime, and its answer does
// not change while the process runs.
const DeviceQuery& device_query() {
  static const DeviceQuery query = [] {
    DeviceQuery result;
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      result.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
      cudaGetLastError();  // clear the (non-sticky) error so later calls start clean
    } else if (count == 0) {
      result.reason = "cudaGetDeviceCount: 0 devices";
    } else {
      result.count = count;
    }
    return result;
  }();
  return query;
}

const char* cublas_status_name(int status) {
  switch (static_cast<cublasStatus_t>(status)) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}
#endif

}  // namespace

#ifdef RNNLAB_WITH_CUDA

int cuda_device_count() { return device_query().count; }
std::string cuda_unavailable_reason() { return device_query().reason; }

void set_device(int device) { RNNLAB_CUDA_CHECK(cudaSetDevice(device)); }
int current_device() {
  int device = 0;
  RNNLAB_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

void check_cuda(int status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  fail(std::string(cudaGetErrorName(static_cast<cudaError_t>(status))) + ": " +
           cudaGetErrorString(static_cast<cudaError_t>(status)),
       call, file, line);
}
void check_cublas(int status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail(cublas_status_name(status), call, file, line);
}
void check_cudnn(int status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  std::string message = cudnnGetErrorString(static_cast<cudnnStatus_t>(status));
  // cuDNN 9 keeps a more precise reason for the last failure of this thread.
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0] != '\0') message += std::string(" (") + detail + ")";
  fail(message, call, file, line);
}

DeviceContext::DeviceContext(int device) : device_(device) {
  RNNLAB_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t stream = nullptr;
  RNNLAB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamDefault));
  stream_ = stream;
  cudnnHandle_t cudnn = nullptr;
  RNNLAB_CUDNN_CHECK(cudnnCreate(&cudnn));
  cudnn_ = cudnn;
  RNNLAB_CUDNN_CHECK(cudnnSetStream(cudnn, stream));
  cublasHandle_t cublas = nullptr;
  RNNLAB_CUBLAS_CHECK(cublasCreate(&cublas));
  cublas_ = cublas;
  RNNLAB_CUBLAS_CHECK(cublasSetStream(cublas, stream));
}

DeviceContext::~DeviceContext() {
  // Destructors run at thread exit; failures there can only be reported.
  if (cublas_ != nullptr) cublasDestroy(cublas_);
  if (cudnn_ != nullptr) cudnnDestroy(cudnn_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void DeviceContext::synchronize() const { RNNLAB_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

DeviceContext& device_context() {
  thread_local std::vector<std::unique_ptr<DeviceContext>> contexts;  // one per device
  require_cuda_device("device_context");
  const int device = current_device();
  if (size_t(device) >= contexts.size()) contexts.resize(size_t(device) + 1);
  if (!contexts[size_t(device)]) contexts[size_t(device)].reset(new DeviceContext(device));
  return *contexts[size_t(device)];
}

void* device_allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  require_cuda_device("device_allocate");
  void* pointer = nullptr;
  RNNLAB_CUDA_CHECK(cudaMalloc(&pointer, bytes));
  return pointer;
}

void device_free(void* pointer) noexcept {
  if (pointer == nullptr) return;
  const cudaError_t status = cudaFree(pointer);
  if (status != cudaSuccess && status != cudaErrorCudartUnloading)
    std::fprintf(stderr, "rnnlab: cudaFree failed: %s\n", cudaGetErrorString(status));
}

void copy_host_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  const auto& context = device_context();
  RNNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, context.stream()));
  context.synchronize();
}
void copy_device_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  const auto& context = device_context();
  RNNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, context.stream()));
  context.synchronize();
}
void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  RNNLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, device_context().stream()));
}
void fill_zero(void* dst, size_t bytes) {
  if (bytes == 0) return;
  RNNLAB_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, device_context().stream()));
}

#else  // built without CUDA: no device; everything that needs one throws.

int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "built without CUDA (RNNLAB_WITH_CUDA=OFF or not found)"; }

namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": no CUDA device (" + cuda_unavailable_reason() + ")");
}
}  // namespace

void set_device(int) { no_cuda("set_device"); }
int current_device() { no_cuda("current_device"); }
void check_cuda(int status, const char* call, const char* file, int line) {
  if (status != 0) fail("CUDA error " + std::to_string(status), call, file, line);
}
void check_cublas(int status, const char* call, const char* file, int line) {
  if (status != 0) fail("cuBLAS status " + std::to_string(status), call, file, line);
}
void check_cudnn(int status, const char* call, const char* file, int line) {
  if (status != 0) fail("cuDNN status " + std::to_string(status), call, file, line);
}
DeviceContext::DeviceContext(int device) : device_(device) { no_cuda("DeviceContext"); }
DeviceContext::~DeviceContext() = default;
void DeviceContext::synchronize() const { no_cuda("DeviceContext::synchronize"); }
DeviceContext& device_context() { no_cuda("device_context"); }
void* device_allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  no_cuda("device_allocate");
}
void device_free(void*) noexcept {}
void copy_host_to_device(void*, const void*, size_t bytes) {
  if (bytes != 0) no_cuda("copy_host_to_device");
}
void copy_device_to_host(void*, const void*, size_t bytes) {
  if (bytes != 0) no_cuda("copy_device_to_host");
}
void copy_device_to_device(void*, const void*, size_t bytes) {
  if (bytes != 0) no_cuda("copy_device_to_device");
}
void fill_zero(void*, size_t bytes) {
  if (bytes != 0) no_cuda("fill_zero");
}

#endif

bool cuda_device_available() { return cuda_device_count() > 0; }

void require_cuda_device(const std::string& who) {
  if (!cuda_device_available()) throw std::runtime_error(who + ": no CUDA device (" + cuda_unavailable_reason() + ")");
}

}  // namespace rnnlab::layers::cuda
