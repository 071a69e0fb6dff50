// The CUDA ops of layers/ops.h that reduce: the losses (adding into ops::LossSums) and
// the sum of squares of the gradient norms.
//
// Every reduction is deterministic (no float atomics): a fixed two-pass tree, kReduceBlocks
// partial sums per value in double, then one block adds them in a fixed order. The loss
// math runs in double, as on the CPU; only the order of the sums differs from the cpu's
// (float tolerance, ops.h). The gradients are element-wise and follow the cpu's roundings.
#include <cuda_runtime.h>

#include <cmath>

#include "layers/ops/ops_gpu.h"
#include "layers/ops/ops_gpu_launch.cuh"

namespace rnnlab::layers::ops::gpu {
namespace {

using namespace detail;

constexpr int kReduceBlocks = 256;  // fixed width of the first pass of every reduction
constexpr int kMaxColumns = 3;      // values reduced at once (softmax: loss, count, correct)

// Per-thread scratch for the reductions. Growing frees the old buffer with cudaFree, which
// waits for the device, so work still queued on the old buffer finishes first.
double* scratch(cuda::DeviceBuffer<double>& buffer, size_t doubles) {
  buffer.reserve(doubles);
  return buffer.data();
}

template <typename T>
__device__ T block_sum(T value, T* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int width = blockDim.x / 2; width > 0; width /= 2) {
    if (int(threadIdx.x) < width) shared[threadIdx.x] += shared[threadIdx.x + width];
    __syncthreads();
  }
  const T total = shared[0];
  __syncthreads();
  return total;
}

// Index of the largest value; the smallest index among equal maxima (std::max_element).
__device__ int64_t block_argmax(float value, int64_t index, float* shared_values, int64_t* shared_index) {
  shared_values[threadIdx.x] = value;
  shared_index[threadIdx.x] = index;
  __syncthreads();
  for (int width = blockDim.x / 2; width > 0; width /= 2) {
    if (int(threadIdx.x) < width) {
      const float other = shared_values[threadIdx.x + width];
      const int64_t other_index = shared_index[threadIdx.x + width];
      const float mine = shared_values[threadIdx.x];
      const int64_t mine_index = shared_index[threadIdx.x];
      if (other > mine || (other == mine && other_index < mine_index)) {
        shared_values[threadIdx.x] = other;
        shared_index[threadIdx.x] = other_index;
      }
    }
    __syncthreads();
  }
  const int64_t best = shared_index[0];
  __syncthreads();
  return best;
}

// Where the columns of a reduction go: *to[c] += column c's sum (nullptr: not wanted).
struct Targets {
  double* to[kMaxColumns];
};

// Second pass: `columns` arrays of kReduceBlocks partial sums (partials[c * kReduceBlocks + b]).
template <int Columns>
__global__ void finish_sums_kernel(const double* partials, Targets targets) {
  __shared__ double shared[kThreads];
  for (int c = 0; c < Columns; ++c) {
    double sum = 0;
    for (int b = threadIdx.x; b < kReduceBlocks; b += blockDim.x) sum += partials[c * kReduceBlocks + b];
    sum = block_sum(sum, shared);
    if (threadIdx.x == 0 && targets.to[c] != nullptr) *targets.to[c] += sum;
  }
}

// First pass over `n` elements, `Columns` values per element from value(i, v):
// partials[c * kReduceBlocks + block]. Grid: exactly kReduceBlocks blocks (a fixed tree).
template <int Columns, typename Value>
__global__ void partial_sums_kernel(int64_t n, Value value, double* partials) {
  __shared__ double shared[kThreads];
  double sums[Columns] = {};
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    double v[Columns];
    value(i, v);
    for (int c = 0; c < Columns; ++c) sums[c] += v[c];
  }
  for (int c = 0; c < Columns; ++c) {
    const double total = block_sum(sums[c], shared);
    if (threadIdx.x == 0) partials[c * kReduceBlocks + blockIdx.x] = total;
  }
}

template <int Columns, typename Value>
void reduce_into(int64_t n, const Value& value, Targets targets) {
  static_assert(Columns <= kMaxColumns, "Targets holds kMaxColumns pointers");
  thread_local cuda::DeviceBuffer<double> buffer;
  double* partials = scratch(buffer, size_t(Columns) * kReduceBlocks);
  partial_sums_kernel<Columns><<<kReduceBlocks, kThreads, 0, stream()>>>(n, value, partials);
  check_launch();
  finish_sums_kernel<Columns><<<1, kThreads, 0, stream()>>>(partials, targets);
  check_launch();
}

__global__ void add_kernel(double* target, double value) { *target += value; }

// One block per row: per-row [loss | counted | correct] x rows into row_results, the
// gradient (if wanted) into diff_logits.
__global__ void softmax_cross_entropy_kernel(const float* logits, const int32_t* labels, int64_t rows,
                                             int64_t classes, int32_t ignore_index, double gradient_scale,
                                             float* diff_logits, double* row_results) {
  __shared__ float shared_float[kThreads];
  __shared__ int64_t shared_index[kThreads];
  __shared__ double shared_double[kThreads];
  const int64_t r = blockIdx.x;
  const float* row = logits + r * classes;
  float* diff_row = diff_logits ? diff_logits + r * classes : nullptr;
  const int32_t label = labels[r];
  const bool counted = label != ignore_index && label >= 0 && label < classes;
  if (!counted) {
    if (diff_row)
      for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) diff_row[c] = 0.0f;
    if (threadIdx.x == 0) row_results[r] = row_results[rows + r] = row_results[2 * rows + r] = 0.0;
    return;
  }
  // 1. Row max (and its first index, for the accuracy count).
  float local_max = -INFINITY;
  int64_t local_index = classes;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x)
    if (row[c] > local_max || local_index == classes) local_max = row[c], local_index = c;
  const int64_t best = block_argmax(local_max, local_index, shared_float, shared_index);
  const float max_logit = row[best];
  // 2. log-sum-exp in double around the max.
  double local_sum = 0.0;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) local_sum += exp(double(row[c]) - double(max_logit));
  const double log_sum_exp = log(block_sum(local_sum, shared_double)) + double(max_logit);
  // 3. d(loss_sum)/d(logit_c) = softmax_c - [c == label], rounded to float, then scaled.
  if (diff_row) {
    for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
      const double softmax = exp(double(row[c]) - log_sum_exp);
      const float unscaled = float(softmax - (c == label ? 1.0 : 0.0));
      diff_row[c] = float(double(unscaled) * gradient_scale);
    }
  }
  if (threadIdx.x == 0) {
    row_results[r] = log_sum_exp - double(row[label]);
    row_results[rows + r] = 1.0;
    row_results[2 * rows + r] = best == label ? 1.0 : 0.0;
  }
}

struct RowResults {  // softmax cross-entropy rows -> loss, counted, correct
  const double* results;
  int64_t rows;
  __device__ void operator()(int64_t i, double* v) const {
    for (int c = 0; c < 3; ++c) v[c] = results[c * rows + i];
  }
};

struct SquaredError {  // also writes the gradient
  const float* pred;
  const float* target;
  double gradient_scale;
  float* diff;
  __device__ void operator()(int64_t i, double* v) const {
    const double error = double(pred[i]) - double(target[i]);
    if (diff) diff[i] = float(double(float(2.0 * error)) * gradient_scale);
    v[0] = error * error;
    v[1] = fabs(double(__fsub_rn(pred[i], target[i])));  // |float difference|, as the cpu's abs_error
  }
};

struct Squares {
  const float* values;
  __device__ void operator()(int64_t i, double* v) const { v[0] = double(values[i]) * double(values[i]); }
};

}  // namespace

void softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                           int32_t ignore_index, double gradient_scale, float* diff_logits, const LossSums& sums) {
  require(rows >= 0 && classes > 0, "softmax_cross_entropy",
          named("rows", rows) + ", " + named("classes", classes) + ": need rows >= 0, classes > 0");
  require(rows <= INT32_MAX, "softmax_cross_entropy", named("rows", rows) + " exceeds one grid (2^31 - 1 blocks)");
  if (rows == 0) return;
  thread_local cuda::DeviceBuffer<double> row_results;  // apart from the reduction's partials
  double* results = scratch(row_results, size_t(3 * rows));
  softmax_cross_entropy_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(logits, labels, rows, classes, ignore_index,
                                                                         gradient_scale, diff_logits, results);
  check_launch();
  if (sums.loss || sums.count || sums.correct)
    reduce_into<3>(rows, RowResults{results, rows}, Targets{{sums.loss, sums.count, sums.correct}});
}

void mean_squared_error(const float* pred, const float* target, int64_t count, double gradient_scale,
                        float* diff_pred, const LossSums& sums) {
  require(count >= 0, "mean_squared_error", named("count", count) + " is negative");
  if (count == 0) return;
  reduce_into<2>(count, SquaredError{pred, target, gradient_scale, diff_pred}, Targets{{sums.loss, sums.abs_error}});
  if (sums.count) {
    add_kernel<<<1, 1, 0, stream()>>>(sums.count, double(count));  // the count is known here
    check_launch();
  }
}

void sum_of_squares(const float* values, int64_t count, double* accumulator) {
  require(count >= 0 && accumulator != nullptr, "sum_of_squares",
          named("count", count) + ": need count >= 0 and an accumulator");
  if (count == 0) return;
  reduce_into<1>(count, Squares{values}, Targets{{accumulator}});
}

}  // namespace rnnlab::layers::ops::gpu
