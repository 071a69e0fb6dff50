// The cuDNN recurrent backend (layers/cudnn/cudnn_stack.h).
#include "layers/cudnn/cudnn_stack.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "layers/cuda/device.h"
#include "layers/cudnn/cudnn_descriptor.h"
#include "layers/cudnn/cudnn_kernels.h"
#include "layers/cudnn/cudnn_weights.h"
#include "layers/dropout.h"

namespace rnnlab::layers {
namespace {

using cuda::DeviceBuffer;
using cudnn_detail::WeightSegment;

// RAII wrappers for the cuDNN descriptors (create in the constructor, destroy once).
using RnnDescriptor =
    cudnn_detail::CudnnDescriptor<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor, cudnnDestroyRNNDescriptor>;
using DataDescriptor = cudnn_detail::CudnnDescriptor<cudnnRNNDataDescriptor_t, cudnnCreateRNNDataDescriptor,
                                                     cudnnDestroyRNNDataDescriptor>;
using DropoutDescriptor = cudnn_detail::CudnnDescriptor<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor,
                                                        cudnnDestroyDropoutDescriptor>;
struct TensorDescriptor : cudnn_detail::TensorDescriptorHandle {
  // A packed 3-d tensor [a, b, c] (cuDNN's hx/cx descriptors are 3-d).
  void set(int a, int b, int c) {
    const int dims[3] = {a, b, c};
    const int strides[3] = {b * c, c, 1};
    RNNLAB_CUDNN_CHECK(cudnnSetTensorNdDescriptor(desc, CUDNN_DATA_FLOAT, 3, dims, strides));
  }
};

cudnnRNNMode_t cudnn_mode(Cell cell) {
  switch (cell) {
    case Cell::rnn_tanh: return CUDNN_RNN_TANH;
    case Cell::rnn_relu: return CUDNN_RNN_RELU;
    case Cell::lstm: return CUDNN_LSTM;
    case Cell::gru: return CUDNN_GRU;  // linear-before-reset: PyTorch's GRU
  }
  throw std::invalid_argument("cudnn: unknown cell");
}

constexpr int64_t kWeightAlignFloats = 64;  // 256-byte alignment of each run's weight space

int64_t align_up(int64_t value, int64_t to) { return (value + to - 1) / to * to; }

// One cuDNN RNN: layers [first_layer, first_layer + layer_count), one or both directions.
struct Run {
  int first_layer = 0;
  int layer_count = 1;
  bool bidirectional = false;
  int x_channels = 0;       // input channels of the run
  int y_channels = 0;       // cuDNN output channels: D * S
  int out_channels = 0;     // after bidirectional_sum: S; else y_channels
  RnnDescriptor rnn;
  size_t weight_bytes = 0;
  int64_t weight_offset = 0;  // floats, inside a weight buffer holding every run
  DeviceBuffer<WeightSegment> segments;
  int segment_count = 0;
  int64_t max_segment = 0;
};

// Activations and descriptors of one forward: the training one (kept for backward) and the
// inference one (so an evaluation between a training forward and its backward is harmless).
struct RunState {
  DataDescriptor x_desc, y_desc;
  TensorDescriptor h_desc, c_desc;
  const float* x = nullptr;     // what the run read (points into this state's buffers)
  DeviceBuffer<float> x_buffer;  // runs > 0: the previous run's output after dropout
  DeviceBuffer<float> y;         // [T, N, D*S]
  DeviceBuffer<float> out;       // bidirectional_sum: [T, N, S]
  DeviceBuffer<unsigned char> reserve;  // grows only; cuDNN gets reserve_bytes of it
  size_t reserve_bytes = 0;
  const float* layer_out() const { return out.empty() ? y.data() : out.data(); }
};

struct ForwardState {
  std::vector<RunState> runs;
  DeviceBuffer<float> weights;
  DeviceBuffer<unsigned char> workspace;  // grows only; cuDNN gets workspace_bytes of it
  size_t workspace_bytes = 0;
  DeviceBuffer<int> lengths;  // device copy of host_lengths (cuDNN's devSeqLengths)
  std::vector<int> host_lengths;
  bool padded = false;         // the caller gave lengths
  DeviceBuffer<float> src;     // training: src (reversed for Direction::reverse)
  DeviceBuffer<float> h0, c0;  // training: copies of the caller's initial states
  bool has_h0 = false, has_c0 = false;
  int seq_len = 0, batch = 0;
  uint64_t dropout_seed = 0;
  bool valid = false;

  explicit ForwardState(size_t run_count) : runs(run_count) {}
};

}  // namespace

struct CudnnStack::Impl {
  RecurrentOptions options;
  CudnnTuning tuning;
  int directions = 1;  // of the cuDNN RNNs: 2 for both bidirectional modes
  bool reversed = false;
  bool summed = false;
  std::vector<std::unique_ptr<Run>> runs;
  DropoutDescriptor dropout_desc;
  DeviceBuffer<unsigned char> dropout_states;
  int64_t weight_floats = 0;
  std::unique_ptr<ForwardState> train_state, infer_state;  // see ForwardState
  DeviceBuffer<float> diff_weights;
  DeviceBuffer<float> grad[2];  // ping-pong gradients between runs
  DeviceBuffer<float> dy_concat;
  DeviceBuffer<float> dx_scratch;

  Impl(const RecurrentOptions& opt, const CudnnTuning& tune);
  void prepare(ForwardState& state, int seq_len, int batch, const int* seq_lengths, bool training);
  void forward(const RecurrentForwardArgs& args, bool training, const int* seq_lengths);
  void backward(const RecurrentBackwardArgs& args);
  int64_t state_slot(const Run& run) const { return int64_t(run.first_layer) * directions; }
};

CudnnStack::Impl::Impl(const RecurrentOptions& opt, const CudnnTuning& tune) : options(opt), tuning(tune) {
  validate(options);
  if (options.peephole)
    throw std::invalid_argument(
        "cudnn: peephole LSTM is not supported by cuDNN (use backend onednn or reference for peephole: true)");
  cuda::require_cuda_device("cudnn");
  auto& context = cuda::device_context();
  cudnnHandle_t handle = context.cudnn();

  directions = direction_count(options.direction);
  reversed = options.direction == Direction::reverse;
  summed = options.direction == Direction::bidirectional_sum;
  const int layers = options.num_layers;
  const int state = options.state_size();

  // 1. The runs: the whole stack in one cuDNN RNN when nothing runs between its layers.
  //    bidirectional_sum adds its halves after every layer, and cuDNN's multi-layer
  //    bidirectional RNN feeds the next layer the concatenation, so it goes per layer.
  const bool fused = layers == 1 || (tuning.fuse_layers && options.dropout == 0.0f && !summed);
  const int run_count = fused ? 1 : layers;
  for (int r = 0; r < run_count; ++r) {
    auto run = std::make_unique<Run>();
    run->first_layer = fused ? 0 : r;
    run->layer_count = fused ? layers : 1;
    run->bidirectional = directions == 2;
    run->x_channels = options.layer_input_size(run->first_layer);
    run->y_channels = directions * state;
    run->out_channels = summed ? state : run->y_channels;
    runs.push_back(std::move(run));
  }

  // 2. cuDNN wants a dropout descriptor; rnnlab draws its own masks between runs, so
  //    cuDNN's dropout is 0 (states allocated as cuDNN's samples do).
  size_t state_bytes = 0;
  RNNLAB_CUDNN_CHECK(cudnnDropoutGetStatesSize(handle, &state_bytes));
  dropout_states.resize(state_bytes);
  RNNLAB_CUDNN_CHECK(
      cudnnSetDropoutDescriptor(dropout_desc.desc, handle, 0.0f, dropout_states.data(), state_bytes, 0));

  // 3. One RNN descriptor per run. Double bias (PyTorch's layout); FP32 data and math,
  //    tensor cores (TF32) only when asked; padded I/O because the data descriptors are
  //    SEQ_MAJOR_UNPACKED with per-sequence lengths.
  for (auto& run : runs) {
    RNNLAB_CUDNN_CHECK(cudnnSetRNNDescriptor_v8(
        run->rnn.desc, CUDNN_RNN_ALGO_STANDARD, cudnn_mode(options.cell), CUDNN_RNN_DOUBLE_BIAS,
        run->bidirectional ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
        CUDNN_DATA_FLOAT, tuning.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH, run->x_channels,
        options.hidden_size, state, run->layer_count, dropout_desc.desc, CUDNN_RNN_PADDED_IO_ENABLED));
    RNNLAB_CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle, run->rnn.desc, &run->weight_bytes));
    run->weight_offset = weight_floats;
    weight_floats = align_up(weight_floats + int64_t(run->weight_bytes / sizeof(float)) + 1, kWeightAlignFloats);
  }

  // 4. Weight spaces (zeroed once: the RNN/LSTM recurrent biases are never written and
  //    stay 0, see cudnn_weights.cc) and where each canonical tensor goes in them.
  train_state = std::make_unique<ForwardState>(runs.size());
  infer_state = std::make_unique<ForwardState>(runs.size());
  ForwardState& train = *train_state;
  ForwardState& infer = *infer_state;
  train.weights.resize(size_t(weight_floats));
  train.weights.zero();
  infer.weights.resize(size_t(weight_floats));
  infer.weights.zero();
  diff_weights.resize(size_t(weight_floats));
  for (auto& run : runs) {
    const auto segments = cudnn_detail::cudnn_weight_segments(
        handle, run->rnn.desc, options, run->first_layer, run->layer_count,
        train.weights.data() + run->weight_offset, run->weight_bytes);
    run->segments.upload(segments.data(), segments.size());
    run->segment_count = int(segments.size());
    for (const auto& s : segments) run->max_segment = std::max(run->max_segment, s.count);
  }
  context.synchronize();
}

// Descriptors, lengths and buffers of one forward with this (T, N, lengths).
void CudnnStack::Impl::prepare(ForwardState& state, int seq_len, int batch, const int* seq_lengths, bool training) {
  auto& context = cuda::device_context();
  cudnnHandle_t handle = context.cudnn();
  const int64_t tokens = int64_t(seq_len) * batch;

  std::vector<int> new_lengths(size_t(batch), seq_len);
  if (seq_lengths != nullptr) {
    for (int n = 0; n < batch; ++n) {
      if (seq_lengths[n] < 1 || seq_lengths[n] > seq_len)
        throw std::invalid_argument("cudnn: sequence length " + std::to_string(seq_lengths[n]) + " of sequence " +
                                    std::to_string(n) + " is outside [1, seq_len = " + std::to_string(seq_len) +
                                    "]");
      new_lengths[size_t(n)] = seq_lengths[n];
    }
  }
  state.seq_len = seq_len;
  state.batch = batch;
  state.padded = seq_lengths != nullptr;
  // The device copy (cuDNN's devSeqLengths) only when the lengths change: a copy from
  // pageable memory waits for the stream, which would stall every step of a fixed shape.
  if (new_lengths != state.host_lengths || state.lengths.size() != size_t(batch)) {
    state.host_lengths = std::move(new_lengths);
    state.lengths.resize(size_t(batch));
    // host_lengths lives as long as the state, so the asynchronous copy may read it later.
    RNNLAB_CUDA_CHECK(cudaMemcpyAsync(state.lengths.data(), state.host_lengths.data(),
                                      sizeof(int) * size_t(batch), cudaMemcpyHostToDevice, context.stream()));
  }

  const cudnnForwardMode_t mode = training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
  size_t workspace_bytes = 0;
  float padding_fill = 0.0f;  // what cuDNN writes at padded steps of y
  for (size_t r = 0; r < runs.size(); ++r) {
    const Run& run = *runs[r];
    RunState& rs = state.runs[r];
    RNNLAB_CUDNN_CHECK(cudnnSetRNNDataDescriptor(rs.x_desc.desc, CUDNN_DATA_FLOAT,
                                                 CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, seq_len, batch,
                                                 run.x_channels, state.host_lengths.data(), &padding_fill));
    RNNLAB_CUDNN_CHECK(cudnnSetRNNDataDescriptor(rs.y_desc.desc, CUDNN_DATA_FLOAT,
                                                 CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, seq_len, batch,
                                                 run.y_channels, state.host_lengths.data(), &padding_fill));
    rs.h_desc.set(run.layer_count * directions, batch, options.state_size());
    rs.c_desc.set(run.layer_count * directions, batch, options.hidden_size);
    size_t run_workspace = 0, run_reserve = 0;
    RNNLAB_CUDNN_CHECK(
        cudnnGetRNNTempSpaceSizes(handle, run.rnn.desc, mode, rs.x_desc.desc, &run_workspace, &run_reserve));
    workspace_bytes = std::max(workspace_bytes, run_workspace);
    // Buffers only grow, so batches of changing shape do not reallocate (cudaFree waits
    // for the whole device) once the largest has been seen.
    rs.reserve_bytes = training ? run_reserve : 0;
    rs.reserve.reserve(rs.reserve_bytes);
    rs.y.reserve(size_t(tokens * run.y_channels));
    if (summed) rs.out.reserve(size_t(tokens * run.out_channels));
    if (r > 0) rs.x_buffer.reserve(size_t(tokens * run.x_channels));
  }
  state.workspace_bytes = workspace_bytes;
  state.workspace.reserve(workspace_bytes);
}

void CudnnStack::Impl::forward(const RecurrentForwardArgs& args, bool training, const int* seq_lengths) {
  if (args.seq_len <= 0 || args.batch <= 0)
    throw std::invalid_argument("cudnn forward: seq_len and batch must be > 0");
  if (args.params == nullptr || args.src == nullptr || args.dst == nullptr)
    throw std::invalid_argument("cudnn forward: params, src and dst are required");
  auto& context = cuda::device_context();
  cudnnHandle_t handle = context.cudnn();
  cudaStream_t stream = context.stream();
  const bool lstm = options.cell == Cell::lstm;
  ForwardState& state = training ? *train_state : *infer_state;
  state.valid = false;
  prepare(state, args.seq_len, args.batch, seq_lengths, training);
  const int T = args.seq_len, N = args.batch;
  const int64_t tokens = int64_t(T) * N;
  const int S = options.state_size(), H = options.hidden_size;
  const int* lengths = state.lengths.data();
  const int* kernel_lengths = state.padded ? lengths : nullptr;

  // 1. Canonical parameters into each run's weight space.
  for (const auto& run : runs)
    cudnn_detail::copy_to_weight_space(run->segments.data(), run->segment_count, run->max_segment, args.params,
                                       state.weights.data() + run->weight_offset, stream);

  // 2. The first run's input: reversed in time for Direction::reverse; a copy in training
  //    (backward reads it after the caller may have moved on); the caller's otherwise.
  const float* x = args.src;
  const int64_t src_count = tokens * options.input_size;
  if (reversed) {
    state.src.reserve(size_t(src_count));
    cudnn_detail::reverse_time(args.src, state.src.data(), T, N, options.input_size, kernel_lengths, stream);
    x = state.src.data();
  } else if (training) {
    state.src.reserve(size_t(src_count));
    cuda::copy_device_to_device(state.src.data(), args.src, size_t(src_count) * sizeof(float));
    x = state.src.data();
  }
  // Initial states: copies in training (backward needs hx/cx), else the caller's.
  const float* h0 = args.h0;
  const float* c0 = lstm ? args.c0 : nullptr;
  const int64_t slots = int64_t(options.num_layers) * directions * N;
  if (training) {
    state.has_h0 = h0 != nullptr;
    state.has_c0 = c0 != nullptr;
    if (h0 != nullptr) {
      state.h0.resize(size_t(slots * S));
      cuda::copy_device_to_device(state.h0.data(), h0, state.h0.bytes());
      h0 = state.h0.data();
    }
    if (c0 != nullptr) {
      state.c0.resize(size_t(slots * H));
      cuda::copy_device_to_device(state.c0.data(), c0, state.c0.bytes());
      c0 = state.c0.data();
    }
  }

  // 3. The runs in order; rnnlab's dropout between them (training only).
  const cudnnForwardMode_t mode = training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE;
  for (size_t r = 0; r < runs.size(); ++r) {
    const Run& run = *runs[r];
    RunState& rs = state.runs[r];
    rs.x = x;
    const int64_t h_offset = state_slot(run) * N * S, c_offset = state_slot(run) * N * H;
    RNNLAB_CUDNN_CHECK(cudnnRNNForward(
        handle, run.rnn.desc, mode, lengths, rs.x_desc.desc, x, rs.y_desc.desc, rs.y.data(), rs.h_desc.desc,
        h0 != nullptr ? h0 + h_offset : nullptr, args.hT != nullptr ? args.hT + h_offset : nullptr, rs.c_desc.desc,
        c0 != nullptr ? c0 + c_offset : nullptr, lstm && args.cT != nullptr ? args.cT + c_offset : nullptr,
        run.weight_bytes, state.weights.data() + run.weight_offset, state.workspace_bytes,
        state.workspace.data(), rs.reserve_bytes, rs.reserve_bytes == 0 ? nullptr : rs.reserve.data()));
    if (summed) cudnn_detail::sum_halves(rs.y.data(), rs.out.data(), tokens, S, stream);
    if (r + 1 < runs.size()) {
      RunState& next = state.runs[r + 1];
      const int last_layer = run.first_layer + run.layer_count - 1;
      if (training && options.dropout > 0.0f) {
        cudnn_detail::apply_dropout(rs.layer_out(), next.x_buffer.data(), T, N, run.out_channels, options.dropout,
                                    args.dropout_seed, kRecurrentDropoutStream + uint64_t(last_layer),
                                    kernel_lengths, reversed, stream);
        x = next.x_buffer.data();
      } else {
        x = rs.layer_out();
      }
    }
  }

  // 4. dst in the caller's time order, zero at padded steps.
  const float* out = state.runs.back().layer_out();
  const int out_channels = options.output_size();
  if (reversed) {
    cudnn_detail::reverse_time(out, args.dst, T, N, out_channels, kernel_lengths, stream);
  } else {
    cuda::copy_device_to_device(args.dst, out, size_t(tokens * out_channels) * sizeof(float));
    cudnn_detail::zero_padding(args.dst, T, N, out_channels, kernel_lengths, stream);
  }
  if (training) {
    state.dropout_seed = args.dropout_seed;
    state.valid = true;
  }
}

void CudnnStack::Impl::backward(const RecurrentBackwardArgs& args) {
  if (!train_state->valid) throw std::logic_error("cudnn backward: no training forward to differentiate");
  if (args.diff_dst == nullptr || args.diff_params == nullptr)
    throw std::invalid_argument("cudnn backward: diff_dst and diff_params are required");
  auto& context = cuda::device_context();
  cudnnHandle_t handle = context.cudnn();
  cudaStream_t stream = context.stream();
  ForwardState& state = *train_state;
  const bool lstm = options.cell == Cell::lstm;
  const int T = state.seq_len, N = state.batch;
  const int64_t tokens = int64_t(T) * N;
  const int S = options.state_size(), H = options.hidden_size;
  const int* lengths = state.lengths.data();
  const int* kernel_lengths = state.padded ? lengths : nullptr;
  const int out_channels = options.output_size();
  const float* h0 = state.has_h0 ? state.h0.data() : nullptr;
  const float* c0 = lstm && state.has_c0 ? state.c0.data() : nullptr;

  // Scratch: two gradient buffers big enough for any run's x or output.
  int widest = options.input_size;
  for (const auto& run : runs) widest = std::max({widest, run->x_channels, run->y_channels});
  for (auto& buffer : grad) buffer.reserve(size_t(tokens * widest));
  diff_weights.zero();

  // 1. Gradient of the last run's output, in the runs' time order, 0 at padded steps.
  const float* g = args.diff_dst;
  if (reversed) {
    cudnn_detail::reverse_time(args.diff_dst, grad[0].data(), T, N, out_channels, kernel_lengths, stream);
    g = grad[0].data();
  } else if (state.padded) {
    cuda::copy_device_to_device(grad[0].data(), args.diff_dst, size_t(tokens * out_channels) * sizeof(float));
    cudnn_detail::zero_padding(grad[0].data(), T, N, out_channels, kernel_lengths, stream);
    g = grad[0].data();
  }
  int free_buffer = g == grad[0].data() ? 1 : 0;

  // 2. Runs last to first: backward data (dx, dhx, dcx), then backward weights (ADDED
  //    into the zeroed diff weight space), then back through the dropout before the run.
  for (size_t r = runs.size(); r-- > 0;) {
    const Run& run = *runs[r];
    RunState& rs = state.runs[r];
    const float* dy = g;
    if (summed) {
      dy_concat.reserve(size_t(tokens * run.y_channels));
      cudnn_detail::duplicate_halves(g, dy_concat.data(), tokens, S, stream);
      dy = dy_concat.data();
    }
    float* dx = nullptr;
    if (r > 0) {
      dx = grad[free_buffer].data();
    } else if (!reversed && args.diff_src != nullptr) {
      dx = args.diff_src;
    } else {
      dx_scratch.reserve(size_t(tokens * run.x_channels));
      dx = dx_scratch.data();
    }
    const int64_t h_offset = state_slot(run) * N * S, c_offset = state_slot(run) * N * H;
    const float* hx = h0 != nullptr ? h0 + h_offset : nullptr;
    const float* cx = c0 != nullptr ? c0 + c_offset : nullptr;
    const float* weights = state.weights.data() + run.weight_offset;
    RNNLAB_CUDNN_CHECK(cudnnRNNBackwardData_v8(
        handle, run.rnn.desc, lengths, rs.y_desc.desc, rs.y.data(), dy, rs.x_desc.desc, dx, rs.h_desc.desc, hx,
        args.diff_hT != nullptr ? args.diff_hT + h_offset : nullptr,
        args.diff_h0 != nullptr ? args.diff_h0 + h_offset : nullptr, rs.c_desc.desc, cx,
        lstm && args.diff_cT != nullptr ? args.diff_cT + c_offset : nullptr,
        lstm && args.diff_c0 != nullptr ? args.diff_c0 + c_offset : nullptr, run.weight_bytes, weights,
        state.workspace_bytes, state.workspace.data(), rs.reserve_bytes, rs.reserve.data()));
    RNNLAB_CUDNN_CHECK(cudnnRNNBackwardWeights_v8(
        handle, run.rnn.desc, CUDNN_WGRAD_MODE_ADD, lengths, rs.x_desc.desc, rs.x, rs.h_desc.desc, hx,
        rs.y_desc.desc, rs.y.data(), run.weight_bytes, diff_weights.data() + run.weight_offset,
        state.workspace_bytes, state.workspace.data(), rs.reserve_bytes, rs.reserve.data()));
    if (r > 0) {
      const Run& previous = *runs[r - 1];
      const int previous_last_layer = previous.first_layer + previous.layer_count - 1;
      // cuDNN leaves dx at padded steps undefined; the run before must see no gradient there.
      cudnn_detail::zero_padding(dx, T, N, previous.out_channels, kernel_lengths, stream);
      if (options.dropout > 0.0f)
        cudnn_detail::apply_dropout(dx, dx, T, N, previous.out_channels, options.dropout, state.dropout_seed,
                                    kRecurrentDropoutStream + uint64_t(previous_last_layer), kernel_lengths,
                                    reversed, stream);
      g = dx;
      free_buffer = 1 - free_buffer;
    } else if (args.diff_src != nullptr) {
      // 3. diff_src in the caller's time order, 0 at padded steps.
      if (reversed)
        cudnn_detail::reverse_time(dx, args.diff_src, T, N, options.input_size, kernel_lengths, stream);
      else
        cudnn_detail::zero_padding(args.diff_src, T, N, options.input_size, kernel_lengths, stream);
    }
  }

  // 4. Parameter gradients into the canonical layout, added to what the caller holds.
  for (const auto& run : runs)
    cudnn_detail::add_from_weight_space(run->segments.data(), run->segment_count, run->max_segment,
                                        diff_weights.data() + run->weight_offset, args.diff_params, stream);
}

CudnnStack::CudnnStack(const RecurrentOptions& options, const CudnnTuning& tuning)
    : impl_(std::make_unique<Impl>(options, tuning)) {}
CudnnStack::~CudnnStack() = default;
const RecurrentOptions& CudnnStack::options() const { return impl_->options; }
void CudnnStack::forward(const RecurrentForwardArgs& args, bool training, const int* seq_lengths) {
  impl_->forward(args, training, seq_lengths);
}
void CudnnStack::backward(const RecurrentBackwardArgs& args) { impl_->backward(args); }

}  // namespace rnnlab::layers
