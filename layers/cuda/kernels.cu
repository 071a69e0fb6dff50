// The training kernels of layers/cuda/kernels.h. The only file of rnnlab with the CUDA
// kernels of the training step; cuBLAS for the two GEMMs of each Linear.
//
// Floating point: float arithmetic that must equal the CPU's bit for bit (optimizers,
// dropout scale, bias sums) uses the __f*_rn intrinsics, which nvcc never contracts into
// FMAs (the CPU build is -std=c++17, where GCC does not contract either). Loss math runs in
// double, as on the CPU.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>

#include "layers/cuda/device.h"
#include "layers/cuda/kernels.h"
#include "layers/random.h"

namespace rnnlab::layers::cuda {
namespace {

constexpr int kThreads = 256;      // threads per block of every kernel here
constexpr int kReduceBlocks = 256;  // fixed width of the first pass of every reduction

cudaStream_t stream() { return device_context().stream(); }

void require(bool ok, const char* function, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string("cuda::") + function + ": " + message);
}

// Blocks for a grid-stride loop over n elements (at least 1, at most a few waves).
unsigned blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return unsigned(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535)));
}

void check_launch() { RNNLAB_CUDA_CHECK(cudaGetLastError()); }

// Per-thread scratch for the reductions. Growing frees the old buffer with cudaFree, which
// waits for the device, so work still queued on the old buffer finishes first.
double* scratch(size_t doubles) {
  thread_local DeviceBuffer<double> buffer;
  buffer.reserve(doubles);
  return buffer.data();
}

// ---- block reductions -------------------------------------------------------------------

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

// Second pass of every reduction: `columns` arrays of `width` partial sums each
// (partials[c * width + b]); metrics[slots[c]] += their sum. One block.
struct Slots {
  int slot[kMetricSlots];
  int columns;
};
__global__ void finish_sums(const double* partials, int width, Slots slots, double* metrics) {
  __shared__ double shared[kThreads];
  for (int c = 0; c < slots.columns; ++c) {
    double sum = 0;
    for (int b = threadIdx.x; b < width; b += blockDim.x) sum += partials[c * width + b];
    sum = block_sum(sum, shared);
    if (threadIdx.x == 0) metrics[slots.slot[c]] += sum;
  }
}

// Dropout masks use layers/random.h itself: its functions are constexpr, which device code
// calls as they are (--expt-relaxed-constexpr, set for rnnlab_layers' CUDA sources), so the
// GPU draws exactly the CPU's numbers.

// ---- kernels ----------------------------------------------------------------------------------

__global__ void embedding_forward_kernel(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids,
                                         int64_t count, float* dst) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < count * dim; e += int64_t(gridDim.x) * blockDim.x) {
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
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < rows * out; e += int64_t(gridDim.x) * blockDim.x)
    dst[e] = bias ? bias[e % out] : 0.0f;
}

// diff_bias[o] += column o of diff_dst, summed in float in row order (dense.cc's order).
__global__ void column_sums_kernel(const float* diff_dst, int64_t rows, int64_t out, float* diff_bias) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < out; o += int64_t(gridDim.x) * blockDim.x) {
    float sum = diff_bias[o];
    for (int64_t r = 0; r < rows; ++r) sum = __fadd_rn(sum, diff_dst[r * out + o]);
    diff_bias[o] = sum;
  }
}

// One block per row. Per-row results go to scratch [loss | counted | correct] x rows.
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
    if (threadIdx.x == 0) {
      row_results[r] = 0.0;
      row_results[rows + r] = 0.0;
      row_results[2 * rows + r] = 0.0;
    }
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
  // 3. d(loss_sum)/d(logit_c) = softmax_c - [c == label], then objective.cc's scaling.
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

// First pass of a reduction over `n` elements, `columns` values per element from `value`:
// partials[c * kReduceBlocks + block]. Grid: exactly kReduceBlocks blocks (fixed tree).
template <int Columns, typename Value>
__global__ void partial_sums_kernel(int64_t n, Value value, double* partials) {
  __shared__ double shared[kThreads];
  double sums[Columns] = {};
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    double v[Columns];
    value(i, v);
    for (int c = 0; c < Columns; ++c) sums[c] += v[c];
  }
  for (int c = 0; c < Columns; ++c) {
    const double total = block_sum(sums[c], shared);
    if (threadIdx.x == 0) partials[c * kReduceBlocks + blockIdx.x] = total;
  }
}

struct RowResults {  // softmax cross-entropy rows -> loss, counted, correct
  const double* results;
  int64_t rows;
  __device__ void operator()(int64_t i, double* v) const {
    v[0] = results[i];
    v[1] = results[rows + i];
    v[2] = results[2 * rows + i];
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
    v[1] = fabs(double(float(pred[i] - target[i])));  // objective.cc: fabs of the float difference
  }
};

struct BinaryCrossEntropy {
  const float* logits;
  const float* targets;
  double gradient_scale;
  float* diff;
  __device__ void operator()(int64_t i, double* v) const {
    const double x = logits[i], t = targets[i];
    if (diff) {
      const double sigmoid = x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
      diff[i] = float(double(float(sigmoid - t)) * gradient_scale);
    }
    v[0] = fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
    v[1] = (logits[i] > 0.0f) == (targets[i] >= 0.5f) ? 1.0 : 0.0;
  }
};

struct Squares {
  const float* values;
  __device__ void operator()(int64_t i, double* v) const { v[0] = double(values[i]) * double(values[i]); }
};

template <int Columns, typename Value>
void reduce_into(int64_t n, const Value& value, Slots slots, double* metrics) {
  double* partials = scratch(size_t(Columns) * kReduceBlocks);
  partial_sums_kernel<Columns><<<kReduceBlocks, kThreads, 0, stream()>>>(n, value, partials);
  check_launch();
  slots.columns = Columns;
  finish_sums<<<1, kThreads, 0, stream()>>>(partials, kReduceBlocks, slots, metrics);
  check_launch();
}

__global__ void add_kernel(double* target, double value) { *target += value; }

__global__ void dropout_kernel(const float* src, float* dst, float* mask, int64_t count, float p, uint64_t seed,
                               uint64_t stream_id) {
  const float keep_scale = __fdiv_rn(1.0f, __fsub_rn(1.0f, p));
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const float m = p > 0.0f ? (layers::random_uniform(seed, stream_id, uint64_t(i)) < p ? 0.0f : keep_scale) : 1.0f;
    mask[i] = m;
    dst[i] = __fmul_rn(src[i], m);
  }
}

__global__ void multiply_kernel(float* values, const float* factors, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    values[i] = __fmul_rn(values[i], factors[i]);
}

__global__ void scale_kernel(float* values, int64_t count, float factor) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    values[i] = __fmul_rn(values[i], factor);
}

__global__ void gather_final_states_kernel(const float* h, int num_layers, int directions, int batch,
                                           int state_size, bool sum, float* dst) {
  const int head_in = sum ? state_size : directions * state_size;
  const int64_t total = int64_t(batch) * head_in;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = e / head_in;
    const int column = int(e % head_in);
    float value = 0.0f;  // model.cc starts from zeros and adds direction 0, then 1
    for (int d = 0; d < directions; ++d) {
      const int first = sum ? 0 : d * state_size;
      if (column < first || column >= first + state_size) continue;
      const float* layer = h + (int64_t(num_layers - 1) * directions + d) * batch * state_size;
      value = __fadd_rn(value, layer[n * state_size + (column - first)]);
    }
    dst[e] = value;
  }
}

__global__ void scatter_final_states_kernel(const float* diff_dst, int num_layers, int directions, int batch,
                                            int state_size, bool sum, float* diff_h) {
  const int head_in = sum ? state_size : directions * state_size;
  const int64_t per_layer = int64_t(batch) * state_size;
  const int64_t total = int64_t(num_layers) * directions * per_layer;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t layer_direction = e / per_layer;
    const int d = int(layer_direction - int64_t(num_layers - 1) * directions);
    if (d < 0) {
      diff_h[e] = 0.0f;
      continue;
    }
    const int64_t n = (e % per_layer) / state_size, k = e % state_size;
    diff_h[e] = diff_dst[n * head_in + (sum ? 0 : d * state_size) + k];
  }
}

__global__ void sgd_kernel(float* params, const float* grads, float* buf, int64_t count, SgdScalars s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    float d = __fmul_rn(grads[i], s.grad_scale);
    if (s.weight_decay != 0.0f) d = __fadd_rn(d, __fmul_rn(s.weight_decay, params[i]));
    if (s.momentum != 0.0f) {
      buf[i] = s.first_step ? d : __fadd_rn(__fmul_rn(s.momentum, buf[i]), d);
      d = s.nesterov ? __fadd_rn(d, __fmul_rn(s.momentum, buf[i])) : buf[i];
    }
    params[i] = __fadd_rn(params[i], __fmul_rn(s.neg_lr, d));
  }
}

__global__ void adam_kernel(float* params, const float* grads, float* m, float* v, int64_t count, AdamScalars s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    // 1. Decoupled weight decay (AdamW) before anything reads the parameter.
    float p = params[i];
    if (s.decay != 1.0f) p = __fmul_rn(p, s.decay);
    // 2. The (clipped) gradient, plus the L2 term of plain Adam.
    float g = __fmul_rn(grads[i], s.grad_scale);
    if (s.l2 != 0.0f) g = __fadd_rn(g, __fmul_rn(s.l2, p));
    // 3. Moments.
    const float m_i = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(g, s.one_minus_beta1));
    const float v_i = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, g), g));
    m[i] = m_i;
    v[i] = v_i;
    // 4. Bias-corrected step.
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v_i), s.bias_correction2_sqrt), s.eps);
    params[i] = __fadd_rn(p, __fmul_rn(-s.step_size, __fdiv_rn(m_i, denom)));
  }
}

void check_int(int64_t value, const char* function, const char* name) {
  require(value >= 0 && value <= INT_MAX, function,
          std::string(name) + " = " + std::to_string(value) + " is outside cuBLAS's int range");
}

}  // namespace

// ---- public functions ----------------------------------------------------------------------

void embedding_forward(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids, int64_t count,
                       float* dst) {
  require(vocab_size > 0 && dim > 0 && count >= 0, "embedding_forward", "bad sizes");
  if (count == 0) return;
  embedding_forward_kernel<<<blocks_for(count * dim), kThreads, 0, stream()>>>(table, vocab_size, dim, ids, count, dst);
  check_launch();
}

std::vector<int32_t> plan_embedding_backward(const int32_t* host_ids, int64_t count, int64_t vocab_size,
                                             int32_t padding_id) {
  require(count >= 0 && count <= INT_MAX && vocab_size > 0, "plan_embedding_backward", "bad sizes");
  // 1. Counting sort of the positions by id (stable: positions stay increasing per id).
  std::vector<int32_t> per_id(size_t(vocab_size) + 1, 0);
  for (int64_t i = 0; i < count; ++i) {
    const int32_t id = host_ids[i];
    if (id < 0 || id >= vocab_size || id == padding_id) continue;
    ++per_id[size_t(id) + 1];
  }
  std::vector<int32_t> unique_ids, starts{0};
  for (int64_t id = 0; id < vocab_size; ++id) {
    if (per_id[size_t(id) + 1] == 0) continue;
    unique_ids.push_back(int32_t(id));
    starts.push_back(starts.back() + per_id[size_t(id) + 1]);
  }
  for (int64_t id = 0; id < vocab_size; ++id) per_id[size_t(id) + 1] += per_id[size_t(id)];
  std::vector<int32_t> positions(size_t(starts.back()));
  for (int64_t i = 0; i < count; ++i) {
    const int32_t id = host_ids[i];
    if (id < 0 || id >= vocab_size || id == padding_id) continue;
    positions[size_t(per_id[size_t(id)]++)] = int32_t(i);
  }
  // 2. Pack [U | ids | starts | positions].
  std::vector<int32_t> packed;
  packed.reserve(1 + unique_ids.size() + starts.size() + positions.size());
  packed.push_back(int32_t(unique_ids.size()));
  packed.insert(packed.end(), unique_ids.begin(), unique_ids.end());
  packed.insert(packed.end(), starts.begin(), starts.end());
  packed.insert(packed.end(), positions.begin(), positions.end());
  return packed;
}

void embedding_backward(const float* diff_dst, int64_t dim, const int32_t* device_plan, int64_t unique_count,
                        int64_t count, float* diff_table) {
  require(dim > 0 && unique_count >= 0 && count >= 0, "embedding_backward", "bad sizes");
  if (unique_count == 0) return;
  const int32_t* unique_ids = device_plan + 1;
  const int32_t* starts = unique_ids + unique_count;
  const int32_t* positions = starts + unique_count + 1;
  embedding_backward_kernel<<<unsigned(unique_count), unsigned(std::min<int64_t>(dim, kThreads)), 0, stream()>>>(
      diff_dst, dim, unique_ids, starts, positions, diff_table);
  check_launch();
}

void linear_forward(const LinearShape& shape, const float* src, const float* weight, const float* bias, float* dst) {
  check_int(shape.rows, "linear_forward", "rows");
  check_int(shape.in_features, "linear_forward", "in_features");
  check_int(shape.out_features, "linear_forward", "out_features");
  if (shape.rows == 0 || shape.out_features == 0) return;
  const int rows = int(shape.rows), in = int(shape.in_features), out = int(shape.out_features);
  // 1. Start from the bias (or zeros) so the GEMM accumulates with beta = 1, as on the CPU.
  broadcast_rows_kernel<<<blocks_for(shape.rows * out), kThreads, 0, stream()>>>(bias, rows, out, dst);
  check_launch();
  if (in == 0) return;
  // 2. Row-major dst [rows, out] is column-major D [out, rows]; D = W (col-major [in, out])^T
  //    times src (col-major [in, rows]).
  const float one = 1.0f;
  RNNLAB_CUBLAS_CHECK(cublasSgemm(device_context().cublas(), CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &one, weight,
                                  in, src, in, &one, dst, out));
}

void linear_backward(const LinearShape& shape, const float* src, const float* weight, const float* diff_dst,
                     float* diff_src, float* diff_weight, float* diff_bias) {
  check_int(shape.rows, "linear_backward", "rows");
  check_int(shape.in_features, "linear_backward", "in_features");
  check_int(shape.out_features, "linear_backward", "out_features");
  require(diff_weight != nullptr, "linear_backward", "diff_weight is required");
  const int rows = int(shape.rows), in = int(shape.in_features), out = int(shape.out_features);
  cublasHandle_t handle = device_context().cublas();
  const float zero = 0.0f, one = 1.0f;
  // 1. diff_src [rows, in] = diff_dst [rows, out] * W [out, in]; column-major
  //    DS [in, rows] = W (col-major [in, out]) * DD (col-major [out, rows]).
  if (diff_src && rows > 0 && in > 0) {
    if (out == 0) {
      RNNLAB_CUDA_CHECK(cudaMemsetAsync(diff_src, 0, sizeof(float) * size_t(rows) * size_t(in), stream()));
    } else {
      RNNLAB_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, in, rows, out, &one, weight, in, diff_dst,
                                      out, &zero, diff_src, in));
    }
  }
  // 2. diff_weight [out, in] += diff_dst^T * src; column-major DW [in, out] += S [in, rows] * DD^T.
  if (rows > 0 && in > 0 && out > 0)
    RNNLAB_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, in, out, rows, &one, src, in, diff_dst, out,
                                    &one, diff_weight, in));
  // 3. diff_bias += column sums of diff_dst, in row order.
  if (diff_bias && out > 0 && rows > 0) {
    column_sums_kernel<<<blocks_for(out), kThreads, 0, stream()>>>(diff_dst, rows, out, diff_bias);
    check_launch();
  }
}

void softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                           int32_t ignore_index, double gradient_scale, float* diff_logits, double* metrics) {
  require(rows >= 0 && classes > 0, "softmax_cross_entropy", "bad sizes");
  require(metrics != nullptr, "softmax_cross_entropy", "metrics is required");
  if (rows == 0) return;
  // Per-row results first (a scratch region apart from the reduction's partials).
  thread_local DeviceBuffer<double> row_results;
  row_results.reserve(size_t(3 * rows));
  softmax_cross_entropy_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(logits, labels, rows, classes, ignore_index,
                                                                         gradient_scale, diff_logits,
                                                                         row_results.data());
  check_launch();
  reduce_into<3>(rows, RowResults{row_results.data(), rows}, Slots{{0, 1, 2, 0}, 3}, metrics);
}

void mean_squared_error(const float* pred, const float* target, int64_t count, double gradient_scale,
                        float* diff_pred, double* metrics) {
  require(count >= 0 && metrics != nullptr, "mean_squared_error", "bad arguments");
  if (count == 0) return;
  reduce_into<2>(count, SquaredError{pred, target, gradient_scale, diff_pred}, Slots{{0, 3, 0, 0}, 2}, metrics);
  add_kernel<<<1, 1, 0, stream()>>>(metrics + 1, double(count));  // the count is known here
  check_launch();
}

void sigmoid_binary_cross_entropy(const float* logits, const float* targets, int64_t count, double gradient_scale,
                                  float* diff_logits, double* metrics) {
  require(count >= 0 && metrics != nullptr, "sigmoid_binary_cross_entropy", "bad arguments");
  if (count == 0) return;
  reduce_into<2>(count, BinaryCrossEntropy{logits, targets, gradient_scale, diff_logits}, Slots{{0, 2, 0, 0}, 2},
                 metrics);
  add_kernel<<<1, 1, 0, stream()>>>(metrics + 1, double(count));
  check_launch();
}

void dropout_forward(const float* src, float* dst, float* mask, int64_t count, float p, uint64_t seed,
                     uint64_t stream_id) {
  require(count >= 0 && p >= 0.0f && p < 1.0f, "dropout_forward", "need count >= 0 and p in [0, 1)");
  if (count == 0) return;
  dropout_kernel<<<blocks_for(count), kThreads, 0, stream()>>>(src, dst, mask, count, p, seed, stream_id);
  check_launch();
}

void multiply(float* values, const float* factors, int64_t count) {
  require(count >= 0, "multiply", "count must be >= 0");
  if (count == 0) return;
  multiply_kernel<<<blocks_for(count), kThreads, 0, stream()>>>(values, factors, count);
  check_launch();
}

void scale(float* values, int64_t count, float factor) {
  require(count >= 0, "scale", "count must be >= 0");
  if (count == 0) return;
  scale_kernel<<<blocks_for(count), kThreads, 0, stream()>>>(values, count, factor);
  check_launch();
}

void gather_final_states(const float* h, int num_layers, int directions, int batch, int state_size, bool sum,
                         float* dst) {
  require(num_layers > 0 && (directions == 1 || directions == 2) && batch >= 0 && state_size > 0,
          "gather_final_states", "bad sizes");
  if (batch == 0) return;
  const int64_t total = int64_t(batch) * (sum ? state_size : directions * state_size);
  gather_final_states_kernel<<<blocks_for(total), kThreads, 0, stream()>>>(h, num_layers, directions, batch,
                                                                           state_size, sum, dst);
  check_launch();
}

void scatter_final_states(const float* diff_dst, int num_layers, int directions, int batch, int state_size,
                          bool sum, float* diff_h) {
  require(num_layers > 0 && (directions == 1 || directions == 2) && batch >= 0 && state_size > 0,
          "scatter_final_states", "bad sizes");
  if (batch == 0) return;
  const int64_t total = int64_t(num_layers) * directions * batch * state_size;
  scatter_final_states_kernel<<<blocks_for(total), kThreads, 0, stream()>>>(diff_dst, num_layers, directions, batch,
                                                                            state_size, sum, diff_h);
  check_launch();
}

void sum_of_squares(const float* values, int64_t count, double* accumulator) {
  require(count >= 0 && accumulator != nullptr, "sum_of_squares", "bad arguments");
  if (count == 0) return;
  reduce_into<1>(count, Squares{values}, Slots{{0, 0, 0, 0}, 1}, accumulator);
}

void sgd_step(float* params, const float* grads, float* momentum_buffer, int64_t count, const SgdScalars& s) {
  require(count >= 0, "sgd_step", "count must be >= 0");
  require(s.momentum == 0.0f || momentum_buffer != nullptr, "sgd_step", "momentum needs a momentum buffer");
  if (count == 0) return;
  sgd_kernel<<<blocks_for(count), kThreads, 0, stream()>>>(params, grads, momentum_buffer, count, s);
  check_launch();
}

void adam_step(float* params, const float* grads, float* exp_avg, float* exp_avg_sq, int64_t count,
               const AdamScalars& s) {
  require(count >= 0 && exp_avg && exp_avg_sq, "adam_step", "need count >= 0 and both moment buffers");
  if (count == 0) return;
  adam_kernel<<<blocks_for(count), kThreads, 0, stream()>>>(params, grads, exp_avg, exp_avg_sq, count, s);
  check_launch();
}

}  // namespace rnnlab::layers::cuda
