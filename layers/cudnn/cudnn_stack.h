// cuDNN (NVIDIA GPU) recurrent backend: the stack on cuDNN 9's RNN API
// (cudnnSetRNNDescriptor_v8, cudnnRNNForward, cudnnRNNBackwardData_v8,
// cudnnRNNBackwardWeights_v8), in two faces:
//
//   CudnnStack                 DEVICE pointers in RecurrentForwardArgs/RecurrentBackwardArgs
//                              (same fields and shapes as recurrent.h), plus optional
//                              per-sequence lengths. Private to layers/: callers outside
//                              get it as a RecurrentStack from make_cudnn_device_stack
//                              (layers/device_stack.h, device() == Device::cuda).
//   make_cudnn_stack(options)  a RecurrentStack on HOST pointers (copies in and out), so
//                              the backend-equivalence tests run cuDNN like any backend;
//                              make_recurrent_stack("cudnn", ...) returns it.
//
// How the rnnlab options map onto cuDNN (cudnn_stack.cc says why):
//   cells       rnn_tanh/rnn_relu/lstm/gru = CUDNN_RNN_TANH/RELU, CUDNN_LSTM, CUDNN_GRU
//               (cuDNN's GRU is linear-before-reset, i.e. PyTorch's); double bias mode,
//               the RNN/LSTM recurrent bias held at zero (rnnlab stores one combined bias).
//   forward     unidirectional cuDNN RNN.
//   reverse     the time order of each sequence (its own length) is reversed by a kernel
//               before and after a unidirectional RNN (no wasted forward direction).
//   bidirectional_concat  CUDNN_BIDIRECTIONAL (outputs [fwd, rev] like PyTorch).
//   bidirectional_sum     CUDNN_BIDIRECTIONAL into a scratch buffer, a kernel sums the
//               halves; backward feeds diff_dst to both halves.
//   layers      ONE cuDNN RNN for the whole stack when nothing runs between layers (no
//               dropout; not bidirectional_sum with > 1 layer); otherwise one per layer
//               with rnnlab's own dropout masks (dropout.h: same masks as the CPU).
//   projection  LSTM recProjSize (linLayerID 8 = weight_hr).
//   peephole    not in cuDNN: std::invalid_argument.
// Math is FP32 with tensor cores off (CUDNN_FMA_MATH) unless CudnnTuning::allow_tf32.
//
// Per-sequence lengths (host array of `batch` ints in [1, seq_len]) make padded batches
// exact like PyTorch's packed sequences: dst is 0 at t >= length, hT/cT are each
// sequence's state at its own last step, padded positions get no gradient and diff_src is
// 0 there. nullptr means every sequence has seq_len steps.
//
// Streams: everything is queued on the calling thread's device_context().stream()
// (layers/cuda/device.h); forward/backward return without synchronising (the host adapter
// synchronises). Errors: std::invalid_argument for options cuDNN cannot run or bad shapes
// / lengths, std::logic_error for backward without a training forward, std::runtime_error
// for CUDA/cuDNN failures and "cudnn: no CUDA device (...)" when there is none. Not thread
// safe (like every RecurrentStack).
#pragma once

#include <memory>
#include <string_view>

#include "layers/device_stack.h"  // CudnnTuning, make_cudnn_device_stack
#include "layers/recurrent.h"

namespace rnnlab::layers {

class CudnnStack {
 public:
  // Throws std::invalid_argument (options) or std::runtime_error ("cudnn: no CUDA device
  // (...)" without a device). Allocates the cuDNN weight spaces on the current device.
  explicit CudnnStack(const RecurrentOptions& options, const CudnnTuning& tuning = {});
  ~CudnnStack();
  CudnnStack(const CudnnStack&) = delete;
  CudnnStack& operator=(const CudnnStack&) = delete;

  const RecurrentOptions& options() const;

  // All pointers in `args` are DEVICE pointers (params: canonical layout on the device).
  // `seq_lengths`: HOST array of args.batch lengths, or nullptr (args.lengths is not read
  // here; the host-pointer face passes it as seq_lengths).
  void forward(const RecurrentForwardArgs& args, bool training, const int* seq_lengths = nullptr);
  // DEVICE pointers; gradients are ADDED to diff_params. Uses the lengths of the last
  // training forward.
  void backward(const RecurrentBackwardArgs& args);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The host-pointer RecurrentStack over a CudnnStack (uploads, runs, downloads, waits).
std::unique_ptr<RecurrentStack> make_cudnn_stack(const RecurrentOptions& options, const CudnnTuning& tuning = {});

}  // namespace rnnlab::layers
