// Modules: the building blocks a model is composed of (Embedding, Linear, Dropout,
// FinalStates, Recurrent; Attention and CRF are meant to join them), written ONCE over the
// per-device ops of layers/ops.h.
//
// What a module is. A small object with a forward and a backward over Buffers on ONE
// device (layers/device.h), that owns
//   - named segments of the model's ONE flat parameter buffer (and the same offsets of its
//     gradient buffer), registered in the shared ParameterSet when it is constructed, in
//     model order: the segment list is the parameter registry (name, shape, group, offset)
//     the optimizer, clipping, the all-reduce and checkpoints all read;
//   - its activations, as Buffers on the model's device, kept from the last training
//     forward for its backward.
// A module never allocates per step once its shapes are stable (Buffer::resize keeps the
// allocation) and never copies an input it can read in place. Forward and backward take
// inputs as pointers of the module's device and return references to buffers the module
// owns, valid until its next forward/backward. Backward ADDS parameter gradients and
// OVERWRITES data gradients (ops.h's rule). Why layers/ and not trainer/: a module knows
// tensors and ops only, nothing of tasks, batches or configs, so any model (the trainer's
// today, an encoder-decoder tomorrow) can compose them.
//
// How the flat buffer is shared. A ParameterSet is built in two phases: modules add()
// their segments (offsets handed out in order), then allocate() sizes the parameter and
// gradient Buffers on the device. Initialisation writes host memory (host_params(): the
// buffer itself on the cpu, a host mirror on cuda) and from_host() uploads it; to_host()
// brings the device values back into the mirror (checkpoints).
//
// Errors: std::invalid_argument for bad shapes (naming the module), std::logic_error for a
// use out of phase (add after allocate, backward without a training forward).
// Thread safety: none; a model and its modules belong to one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layers/device.h"

namespace rnnlab::layers {

// A named slice of the flat buffers. `group` gathers the slices of one layer for
// per-layer gradient norms: "embedding", "rnn.l0", "rnn.l1", ..., "head".
struct ParamSegment {
  std::string name;  // "embedding.weight", "rnn.weight_ih_l0", "head.bias"
  std::vector<int64_t> shape;
  int64_t offset = 0;
  std::string group;
  int64_t size() const;
};

int64_t shape_size(const std::vector<int64_t>& shape);  // product of the dimensions

class ParameterSet {
 public:
  explicit ParameterSet(Device device) : device_(device), params_(device), grads_(device) {}
  ParameterSet(const ParameterSet&) = delete;
  ParameterSet& operator=(const ParameterSet&) = delete;

  Device device() const { return device_; }
  // Appends a segment; returns its offset. Only before allocate().
  int64_t add(std::string name, std::vector<int64_t> shape, std::string group);
  // Sizes both buffers (parameters and gradients zero).
  void allocate();

  const std::vector<ParamSegment>& segments() const { return segments_; }
  int64_t count() const { return count_; }
  Buffer<float>& params() { return params_; }
  const Buffer<float>& params() const { return params_; }
  Buffer<float>& grads() { return grads_; }
  const Buffer<float>& grads() const { return grads_; }
  float* param(int64_t offset) { return params_.data() + offset; }
  float* grad(int64_t offset) { return grads_.data() + offset; }

  // Host copy of the parameters: the buffer itself on the cpu, the mirror on cuda (as of
  // the last to_host/from_host).
  float* host_params() { return params_.on_cpu() ? params_.data() : mirror_.data(); }
  const float* host_params() const { return params_.on_cpu() ? params_.data() : mirror_.data(); }
  void to_host();    // device -> mirror (no-op on the cpu)
  void from_host();  // mirror -> device (no-op on the cpu)

 private:
  Device device_;
  std::vector<ParamSegment> segments_;
  int64_t count_ = 0;
  bool allocated_ = false;
  Buffer<float> params_, grads_;
  std::vector<float> mirror_;
};

// Base of every module: its name and the range of the flat buffers its segments cover.
class Module {
 public:
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& name() const { return name_; }
  Device device() const { return parameters_.device(); }
  // [begin, end) of this module's segments (begin == end without parameters).
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }

 protected:
  Module(ParameterSet& parameters, std::string name);
  // Registers "<name>.<suffix>" (group: the module's group, default its name).
  int64_t add(const std::string& suffix, std::vector<int64_t> shape, const std::string& group = "");

  ParameterSet& parameters_;
  std::string name_;
  int64_t begin_ = 0, end_ = 0;
};

}  // namespace rnnlab::layers
