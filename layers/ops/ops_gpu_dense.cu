// The CUDA ops of layers/ops.h around the recurrent stack: embedding (a deterministic
// scatter plan for its backward), linear (cuBLAS SGEMM, FP32), dropout masks, the
// element-wise product and the final-state gather/scatter.
//
// Bit-exact with the cpu (ops.h): gathers, the embedding gradient (each row summed in
// position order), bias column sums (row order), dropout masks (layers/random.h itself, a
// constexpr function device code calls as it is: --expt-relaxed-constexpr) and products.
// GEMMs are cuBLAS's order: float tolerance.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstring>
#include <vector>

#include "layers/ops/embedding_plan.h"
#include "layers/ops/ops_gpu.h"
#include "layers/ops/ops_gpu_launch.cuh"
#include "layers/random.h"

namespace rnnlab::layers::ops::gpu {
namespace {

using namespace detail;

__global__ void embedding_forward_kernel(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids,
                                         int64_t count, float* dst) {
  for (int64_t e = first_index(); e < count * dim; e += grid_stride()) {
    const int64_t i = e / dim, j = e % dim;
    const int32_t id = ids[i];
    dst[e] = id >= 0 && id < vocab_size ? table[int64_t(id) * dim + j] : 0.0f;
  }
}

// One block per distinct id; each thread owns columns j and adds the rows of that id in
// position order, so the sum has the CPU loop's order (and needs no atomics).
__global__ void embedding_backward_kernel(const float* diff_dst, int64_t dim, const int32_t* unique_ids,
                                          const int32_t* starts, const int32_t* positions, float* diff_table) {
  const int64_t u = blockIdx.x;
  const int64_t row = int64_t(unique_ids[u]) * dim;
  for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
    float sum = diff_table[row + j];
    for (int32_t k = starts[u]; k < starts[u + 1]; ++k) sum = __fadd_rn(sum, diff_dst[int64_t(positions[k]) * dim + j]);
    diff_table[row + j] = sum;
  }
}

__global__ void broadcast_rows_kernel(const float* bias, int64_t rows, int64_t out, float* dst) {
  for (int64_t e = first_index(); e < rows * out; e += grid_stride()) dst[e] = bias ? bias[e % out] : 0.0f;
}

// diff_bias[o] += column o of diff_dst, summed in float in row order (dense.cc's order).
__global__ void column_sums_kernel(const float* diff_dst, int64_t rows, int64_t out, float* diff_bias) {
  for (int64_t o = first_index(); o < out; o += grid_stride()) {
    float sum = diff_bias[o];
    for (int64_t r = 0; r < rows; ++r) sum = __fadd_rn(sum, diff_dst[r * out + o]);
    diff_bias[o] = sum;
  }
}

__global__ void dropout_kernel(const float* src, float* dst, float* mask, int64_t count, float p, uint64_t seed,
                               uint64_t stream_id) {
  const float keep_scale = __fdiv_rn(1.0f, __fsub_rn(1.0f, p));
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    const float m = p > 0.0f ? (layers::random_uniform(seed, stream_id, uint64_t(i)) < p ? 0.0f : keep_scale) : 1.0f;
    mask[i] = m;
    dst[i] = __fmul_rn(src[i], m);
  }
}

__global__ void multiply_kernel(float* values, const float* factors, int64_t count) {
  for (int64_t i = first_index(); i < count; i += grid_stride()) values[i] = __fmul_rn(values[i], factors[i]);
}

// Where a recurrent stack's final states meet a head (ops.h): the head has
// head_in = sum ? S : D * S columns; direction d of the last layer fills columns
// [first(d), first(d) + S).
struct FinalStates {
  int num_layers, directions, batch, state_size;
  bool sum;
  __host__ __device__ int head_in() const { return sum ? state_size : directions * state_size; }
  __device__ int first(int d) const { return sum ? 0 : d * state_size; }
  __device__ int64_t last_layer(int d) const { return int64_t(num_layers - 1) * directions + d; }
};

__global__ void gather_final_states_kernel(const float* h, FinalStates f, float* dst) {
  const int head_in = f.head_in();
  for (int64_t e = first_index(); e < int64_t(f.batch) * head_in; e += grid_stride()) {
    const int64_t n = e / head_in;
    const int column = int(e % head_in);
    float value = 0.0f;  // the cpu starts from zeros and adds direction 0, then 1
    for (int d = 0; d < f.directions; ++d) {
      if (column < f.first(d) || column >= f.first(d) + f.state_size) continue;
      const float* layer = h + f.last_layer(d) * f.batch * f.state_size;
      value = __fadd_rn(value, layer[n * f.state_size + (column - f.first(d))]);
    }
    dst[e] = value;
  }
}

__global__ void scatter_final_states_kernel(const float* diff_dst, FinalStates f, float* diff_h) {
  const int64_t per_layer = int64_t(f.batch) * f.state_size;
  for (int64_t e = first_index(); e < int64_t(f.num_layers) * f.directions * per_layer; e += grid_stride()) {
    const int d = int(e / per_layer - f.last_layer(0));
    if (d < 0) {
      diff_h[e] = 0.0f;
      continue;
    }
    const int64_t n = (e % per_layer) / f.state_size, k = e % f.state_size;
    diff_h[e] = diff_dst[n * f.head_in() + f.first(d) + k];
  }
}

FinalStates final_states(const char* op, int num_layers, int directions, int batch, int state_size, bool sum) {
  require(num_layers > 0 && (directions == 1 || directions == 2) && batch >= 0 && state_size > 0, op,
          named("num_layers", num_layers) + ", " + named("directions", directions) + ", " + named("batch", batch) +
              ", " + named("state_size", state_size) +
              ": need num_layers > 0, directions 1 or 2, batch >= 0, state_size > 0");
  return FinalStates{num_layers, directions, batch, state_size, sum};
}

// The shape of a Linear as cuBLAS's ints; throws naming the op for sizes outside them.
struct GemmSizes {
  int rows, in, out;
};
GemmSizes gemm_sizes(const char* op, const LinearShape& shape) {
  for (auto [name, value] : {std::pair<const char*, int64_t>{"rows", shape.rows},
                             {"in_features", shape.in_features},
                             {"out_features", shape.out_features}})
    require(value >= 0 && value <= INT_MAX, op, named(name, value) + " is outside [0, 2^31 - 1] (cuBLAS's int)");
  return GemmSizes{int(shape.rows), int(shape.in_features), int(shape.out_features)};
}

void require_count(const char* op, int64_t count) { require(count >= 0, op, named("count", count) + " is negative"); }

// Uploads an embedding plan without waiting for the stream: through pinned host memory,
// written only once the copy of the previous plan out of it has finished (an event). One
// per thread, like the stream.
class PlanUpload {
 public:
  PlanUpload() = default;
  PlanUpload(const PlanUpload&) = delete;
  PlanUpload& operator=(const PlanUpload&) = delete;
  ~PlanUpload() {
    if (copied_ != nullptr) cudaEventDestroy(copied_);
    if (pinned_ != nullptr) cudaFreeHost(pinned_);
  }
  const int32_t* upload(const std::vector<int32_t>& plan) {
    if (copied_ == nullptr) RNNLAB_CUDA_CHECK(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming));
    RNNLAB_CUDA_CHECK(cudaEventSynchronize(copied_));  // the previous copy has left pinned_
    if (plan.size() > capacity_) {
      if (pinned_ != nullptr) RNNLAB_CUDA_CHECK(cudaFreeHost(pinned_));
      pinned_ = nullptr;
      capacity_ = 0;
      RNNLAB_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&pinned_), plan.size() * sizeof(int32_t)));
      capacity_ = plan.size();
    }
    std::memcpy(pinned_, plan.data(), plan.size() * sizeof(int32_t));
    device_.reserve(plan.size());  // growing frees with cudaFree, which waits for queued work
    RNNLAB_CUDA_CHECK(
        cudaMemcpyAsync(device_.data(), pinned_, plan.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream()));
    RNNLAB_CUDA_CHECK(cudaEventRecord(copied_, stream()));
    return device_.data();
  }

 private:
  int32_t* pinned_ = nullptr;
  size_t capacity_ = 0;
  cudaEvent_t copied_ = nullptr;
  cuda::DeviceBuffer<int32_t> device_;
};

}  // namespace

void embedding_forward(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids, int64_t count,
                       float* dst) {
  require(vocab_size > 0 && dim > 0 && count >= 0, "embedding_forward",
          named("vocab_size", vocab_size) + ", " + named("dim", dim) + ", " + named("count", count) +
              ": need vocab_size > 0, dim > 0, count >= 0");
  if (count == 0) return;
  launch(count * dim, embedding_forward_kernel, table, vocab_size, dim, ids, count, dst);
}

void embedding_backward(const float* diff_dst, const int32_t* host_ids, int64_t count, int64_t vocab_size,
                        int64_t dim, float* diff_table, int32_t padding_id) {
  require(dim > 0, "embedding_backward", named("dim", dim) + " must be > 0");
  const std::vector<int32_t> plan = plan_embedding_backward(host_ids, count, vocab_size, padding_id);
  const int64_t unique_count = plan[0];
  if (unique_count == 0) return;
  thread_local PlanUpload uploads;
  const int32_t* unique_ids = uploads.upload(plan) + 1;
  const int32_t* starts = unique_ids + unique_count;
  const int32_t* positions = starts + unique_count + 1;
  embedding_backward_kernel<<<unsigned(unique_count), unsigned(std::min<int64_t>(dim, kThreads)), 0, stream()>>>(
      diff_dst, dim, unique_ids, starts, positions, diff_table);
  check_launch();
}

void linear_forward(const LinearShape& shape, const float* src, const float* weight, const float* bias, float* dst) {
  const GemmSizes g = gemm_sizes("linear_forward", shape);
  if (g.rows == 0 || g.out == 0) return;
  // 1. Start from the bias (or zeros) so the GEMM accumulates with beta = 1, as on the CPU.
  launch(shape.rows * g.out, broadcast_rows_kernel, bias, shape.rows, shape.out_features, dst);
  if (g.in == 0) return;
  // 2. Row-major dst [rows, out] is column-major D [out, rows]; D = W (col-major [in, out])^T
  //    times src (col-major [in, rows]).
  const float one = 1.0f;
  RNNLAB_CUBLAS_CHECK(cublasSgemm(cuda::device_context().cublas(), CUBLAS_OP_T, CUBLAS_OP_N, g.out, g.rows, g.in,
                                  &one, weight, g.in, src, g.in, &one, dst, g.out));
}

void linear_backward(const LinearShape& shape, const float* src, const float* weight, const float* diff_dst,
                     float* diff_src, float* diff_weight, float* diff_bias) {
  const GemmSizes g = gemm_sizes("linear_backward", shape);
  require(diff_weight != nullptr, "linear_backward", "diff_weight is required");
  cublasHandle_t handle = cuda::device_context().cublas();
  const float zero = 0.0f, one = 1.0f;
  // 1. diff_src [rows, in] = diff_dst [rows, out] * W [out, in]; column-major
  //    DS [in, rows] = W (col-major [in, out]) * DD (col-major [out, rows]).
  if (diff_src && g.rows > 0 && g.in > 0) {
    if (g.out == 0) {
      RNNLAB_CUDA_CHECK(cudaMemsetAsync(diff_src, 0, sizeof(float) * size_t(g.rows) * size_t(g.in), stream()));
    } else {
      RNNLAB_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, g.in, g.rows, g.out, &one, weight, g.in,
                                      diff_dst, g.out, &zero, diff_src, g.in));
    }
  }
  // 2. diff_weight [out, in] += diff_dst^T * src; column-major DW [in, out] += S [in, rows] * DD^T.
  if (g.rows > 0 && g.in > 0 && g.out > 0)
    RNNLAB_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, g.in, g.out, g.rows, &one, src, g.in, diff_dst,
                                    g.out, &one, diff_weight, g.in));
  // 3. diff_bias += column sums of diff_dst, in row order.
  if (diff_bias && g.out > 0 && g.rows > 0)
    launch(shape.out_features, column_sums_kernel, diff_dst, shape.rows, shape.out_features, diff_bias);
}

void dropout_forward(const float* src, float* dst, float* mask, int64_t count, float p, uint64_t seed,
                     uint64_t stream_id) {
  require_count("dropout_forward", count);
  require(p >= 0.0f && p < 1.0f, "dropout_forward", "p = " + std::to_string(p) + " is outside [0, 1)");
  if (count == 0) return;
  launch(count, dropout_kernel, src, dst, mask, count, p, seed, stream_id);
}

void multiply(float* values, const float* factors, int64_t count) {
  require_count("multiply", count);
  if (count == 0) return;
  launch(count, multiply_kernel, values, factors, count);
}

void gather_final_states(const float* h, int num_layers, int directions, int batch, int state_size, bool sum,
                         float* dst) {
  const FinalStates f = final_states("gather_final_states", num_layers, directions, batch, state_size, sum);
  if (batch == 0) return;
  launch(int64_t(batch) * f.head_in(), gather_final_states_kernel, h, f, dst);
}

void scatter_final_states(const float* diff_dst, int num_layers, int directions, int batch, int state_size,
                          bool sum, float* diff_h) {
  const FinalStates f = final_states("scatter_final_states", num_layers, directions, batch, state_size, sum);
  if (batch == 0) return;
  launch(int64_t(num_layers) * directions * batch * state_size, scatter_final_states_kernel, diff_dst, f, diff_h);
}

}  // namespace rnnlab::layers::ops::gpu
