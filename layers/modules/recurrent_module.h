// The recurrent stack as a module (layers/modules/module.h): a layers::RecurrentStack of any
// backend over the stack's segment of the flat buffers, "<name>.<PyTorch name>" in the
// canonical layout of recurrent.h (group "<name>.l<k>" per layer), with its activations
// (dst, final states) as Buffers on the stack's device. The stack's device must be the
// ParameterSet's (std::invalid_argument otherwise).
//
// forward() runs the stack from an optional initial state (h0/c0 pointers of the device,
// nullptr = zeros; detached: no gradient flows into them) over optional per-sequence
// lengths (HOST); backward() takes the gradient of dst (nullptr = zeros) and of the final
// states (nullptr = zeros) and returns diff_src when asked. final_h()/final_c() are
// non-const so a caller may swap them out (carried state) instead of copying them; the next
// forward resizes and overwrites them. Errors and thread safety: module.h's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "layers/init.h"
#include "layers/modules/module.h"
#include "layers/recurrent.h"

namespace rnnlab::layers {

class Recurrent final : public Module {
 public:
  Recurrent(ParameterSet& parameters, std::string name, std::unique_ptr<RecurrentStack> stack);
  const RecurrentOptions& options() const { return stack_->options(); }
  std::string_view backend() const { return stack_->backend(); }
  void initialize(InitScheme scheme, uint64_t seed);

  struct Input {
    const float* src = nullptr;  // [T, N, input_size]
    int seq_len = 0, batch = 0;
    const float* h0 = nullptr;  // [L*D, N, S] or nullptr
    const float* c0 = nullptr;  // [L*D, N, H] (LSTM) or nullptr
    const int32_t* lengths = nullptr;  // HOST [N] or nullptr
    bool want_final_c = true;           // LSTM: fill final_c() (not with lengths on the CPU)
  };
  void forward(const Input& input, bool training, uint64_t dropout_seed);
  const Buffer<float>& dst() const { return dst_; }
  Buffer<float>& final_h() { return h_final_; }
  Buffer<float>& final_c() { return c_final_; }  // empty unless LSTM and asked for

  const Buffer<float>& backward(const float* diff_dst, const float* diff_h_final, bool diff_src);

 private:
  std::unique_ptr<RecurrentStack> stack_;
  int64_t offset_ = 0;
  int seq_len_ = 0, batch_ = 0;
  Buffer<float> dst_, h_final_, c_final_, zero_diff_dst_, diff_src_;
};

}  // namespace rnnlab::layers
