// The modules around a recurrent stack (layers/modules/module.h says what a module is):
//
//   Embedding    table [vocab, dim] ("<name>.weight"): ids (HOST) -> rows [count, dim]
//   Linear       weight [out, in], bias [out] ("<name>.weight", "<name>.bias"):
//                src [rows, in] -> dst [rows, out]
//   Dropout      inverted dropout with dropout.h's counter-based masks on its own stream
//   FinalStates  a recurrent stack's final states [L*D, N, S] -> the last layer's state per
//                direction, concatenated [N, D*S] (or summed [N, S]); no parameters
//
// Each forward keeps what its backward needs (the ids, the input pointer, the mask); a
// Linear's `src` must stay valid until its backward (it is the previous module's output).
// Ids are checked on the host before anything runs (ops::check_ids: "<name>: id ... at
// position ..."). Errors and thread safety: module.h's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layers/init.h"
#include "layers/modules/module.h"
#include "layers/recurrent.h"

namespace rnnlab::layers {

class Embedding final : public Module {
 public:
  Embedding(ParameterSet& parameters, std::string name, int64_t vocab_size, int64_t dim);
  int64_t vocab_size() const { return vocab_size_; }
  int64_t dim() const { return dim_; }
  // Writes the table into the set's host parameters (ParameterSet::host_params()).
  void initialize(InitScheme scheme, uint64_t seed);

  // ids: `count` HOST ids in [0, vocab_size); kept for backward when training.
  const Buffer<float>& forward(const std::vector<int32_t>& ids);
  // diff_dst [count, dim] on the device; adds into the table's gradient.
  void backward(const float* diff_dst);

 private:
  int64_t vocab_size_, dim_, offset_;
  std::vector<int32_t> ids_;  // host, from the last forward
  Buffer<int32_t> device_ids_;
  Buffer<float> dst_;
};

class Linear final : public Module {
 public:
  Linear(ParameterSet& parameters, std::string name, int64_t in_features, int64_t out_features);
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  void initialize(InitScheme scheme, uint64_t seed);

  const Buffer<float>& forward(const float* src, int64_t rows);
  // Gradients of weight and bias added; returns diff_src [rows, in] when `diff_src` is
  // asked for (else an empty buffer). The caller may modify it in place (a mask).
  Buffer<float>& backward(const float* diff_dst, bool diff_src = true);

 private:
  int64_t in_, out_, weight_offset_, bias_offset_;
  const float* src_ = nullptr;
  int64_t rows_ = 0;
  Buffer<float> dst_, diff_src_;
};

class Dropout final {
 public:
  // p in [0, 1); `stream` names the masks (dropout.h), distinct per dropout of a model.
  Dropout(Device device, float p, uint64_t stream) : p_(p), stream_(stream), dst_(device), mask_(device) {}
  float p() const { return p_; }
  // Training with p > 0: dst = src * mask (a buffer of the module; src may be read only);
  // otherwise `src` itself (nothing runs).
  const float* forward(const float* src, int64_t count, bool training, uint64_t seed);
  // values *= mask, in place, when the last forward applied a mask.
  void backward(float* values, int64_t count) const;

 private:
  float p_;
  uint64_t stream_;
  bool applied_ = false;
  Buffer<float> dst_, mask_;
};

class FinalStates final {
 public:
  FinalStates(Device device, const RecurrentOptions& options);
  int width() const;  // D*S, or S for bidirectional_sum
  // h [L*D, N, S] -> [N, width()].
  const Buffer<float>& forward(const float* h, int batch);
  // diff [N, width()] -> diff_h [L*D, N, S] (layers before the last get 0).
  const Buffer<float>& backward(const float* diff_dst);

 private:
  RecurrentOptions options_;
  int batch_ = 0;
  Buffer<float> dst_, diff_h_;
};

}  // namespace rnnlab::layers
