// Conversion between the recurrent stack's canonical flat buffer and the tensor list of a
// PyTorch state_dict, so a trained stack loads into torch.nn.RNN / LSTM / GRU with
// load_state_dict, and PyTorch weights load into rnnlab.
//
// Mapping (see recurrent_parameters() in layers/recurrent.h for the canonical layout):
//   weight_ih_l{k}[_reverse], weight_hh_l{k}[_reverse]: copied as they are (same names,
//     shapes and gate order).
//   RNN/LSTM: the canonical single bias B is exported as bias_ih = B, bias_hh = 0; on
//     import B = bias_ih + bias_hh. GRU: bias_ih and bias_hh are both kept as they are.
//   weight_hr_l{k}: LSTM projection, PyTorch's name and shape (proj_size).
//   weight_peephole_l{k} [3, H] (rows i, f, o): PyTorch has no peephole LSTM; it is
//     exported under this rnnlab name, so load_state_dict(strict=True) rejects it: a stack
//     with peepholes has no torch.nn equivalent.
//   bidirectional_sum has no PyTorch mode either: the tensors are PyTorch's, but with more
//     than one layer weight_ih_l{k>0} has S columns where a PyTorch bidirectional layer
//     expects 2*S.
// The order of the list is torch.nn's state_dict order: per layer, per direction,
// weight_ih, weight_hh, bias_ih, bias_hh, weight_hr (then rnnlab's weight_peephole).
//
// canonical -> PyTorch -> canonical is bit-exact (including -0.0 and NaN payloads).
//
// Failure: import throws std::invalid_argument naming a missing tensor, an unexpected
// one, a duplicate, or a shape that differs from the expected one; invalid options throw
// as validate() does. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layers/recurrent.h"

namespace rnnlab::layers {

struct NamedTensor {
  std::string name;            // state_dict key, e.g. "weight_hh_l1_reverse"
  std::vector<int64_t> shape;  // PyTorch shape
  std::vector<float> data;     // row-major, product(shape) floats
};

// params: canonical buffer of recurrent_parameter_count(options) floats.
std::vector<NamedTensor> to_pytorch_state(const RecurrentOptions& options, const float* params);

// Writes the canonical buffer (recurrent_parameter_count(options) floats). Each expected
// tensor must appear exactly once, with the expected shape; anything else throws.
void from_pytorch_state(const RecurrentOptions& options, const std::vector<NamedTensor>& tensors, float* params);

// The Python expression that builds the matching torch.nn module, e.g.
// "torch.nn.LSTM(input_size=32, hidden_size=64, num_layers=2, bias=True, bidirectional=True,
// proj_size=16)" (one line): a module whose state_dict has exactly the names and shapes of
// to_pytorch_state (for bidirectional_sum with one layer: same weights, but torch
// concatenates the directions' outputs). Throws std::invalid_argument when there is none
// (peephole; direction reverse; bidirectional_sum with more than one layer).
std::string pytorch_module_expression(const RecurrentOptions& options);

}  // namespace rnnlab::layers
