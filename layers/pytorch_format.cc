#include "layers/pytorch_format.h"

#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

namespace rnnlab::layers {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

bool has_single_bias(const RecurrentOptions& options) { return options.cell != Cell::gru; }

// "bias_ih_l3_reverse" -> "bias_hh_l3_reverse".
std::string bias_hh_name(const std::string& bias_ih_name) { return "bias_hh" + bias_ih_name.substr(7); }

NamedTensor copy_tensor(const ParamInfo& info, const float* params) {
  NamedTensor tensor{info.name, info.shape, std::vector<float>(size_t(info.size()))};
  std::memcpy(tensor.data.data(), params + info.offset, size_t(info.size()) * sizeof(float));
  return tensor;
}

}  // namespace

std::vector<NamedTensor> to_pytorch_state(const RecurrentOptions& options, const float* params) {
  std::vector<NamedTensor> tensors;
  for (const ParamInfo& info : recurrent_parameters(options)) {
    tensors.push_back(copy_tensor(info, params));
    // The canonical RNN/LSTM bias is b_ih + b_hh: export it whole as bias_ih, zero bias_hh,
    // right after it (torch's order: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr).
    if (info.name.rfind("bias_ih", 0) == 0 && has_single_bias(options))
      tensors.push_back(NamedTensor{bias_hh_name(info.name), info.shape, std::vector<float>(size_t(info.size()), 0.0f)});
  }
  return tensors;
}

void from_pytorch_state(const RecurrentOptions& options, const std::vector<NamedTensor>& tensors, float* params) {
  const std::vector<ParamInfo> infos = recurrent_parameters(options);
  // 1. Index the given tensors by name, rejecting duplicates and names we do not expect.
  std::set<std::string> expected;
  for (const ParamInfo& info : infos) {
    expected.insert(info.name);
    if (info.name.rfind("bias_ih", 0) == 0 && has_single_bias(options)) expected.insert(bias_hh_name(info.name));
  }
  std::map<std::string, const NamedTensor*> by_name;
  for (const NamedTensor& tensor : tensors) {
    if (!expected.count(tensor.name)) {
      std::string names;
      for (const auto& name : expected) names += (names.empty() ? "" : ", ") + name;
      throw std::invalid_argument("pytorch state: unexpected tensor '" + tensor.name + "' for a " +
                                  std::string(to_string(options.cell)) + " stack (expected: " + names + ")");
    }
    if (!by_name.emplace(tensor.name, &tensor).second)
      throw std::invalid_argument("pytorch state: tensor '" + tensor.name + "' appears twice");
  }
  // 2. Look each one up with its expected shape; data must match the shape.
  auto find = [&](const std::string& name, const std::vector<int64_t>& shape) -> const NamedTensor& {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw std::invalid_argument("pytorch state: missing tensor '" + name + "'");
    const NamedTensor& tensor = *it->second;
    if (tensor.shape != shape)
      throw std::invalid_argument("pytorch state: tensor '" + name + "' has shape " + shape_string(tensor.shape) +
                                  ", expected " + shape_string(shape));
    int64_t size = 1;
    for (int64_t d : shape) size *= d;
    if (int64_t(tensor.data.size()) != size)
      throw std::invalid_argument("pytorch state: tensor '" + name + "' holds " + std::to_string(tensor.data.size()) +
                                  " values, its shape " + shape_string(shape) + " needs " + std::to_string(size));
    return tensor;
  };
  // Check everything before writing, so a failed import leaves params untouched.
  for (const ParamInfo& info : infos) {
    find(info.name, info.shape);
    if (info.name.rfind("bias_ih", 0) == 0 && has_single_bias(options)) find(bias_hh_name(info.name), info.shape);
  }
  // 3. Copy; fold the two RNN/LSTM biases into B = b_ih + b_hh. Where b_hh is exactly 0
  //    (our own export) keep b_ih's bits, so -0.0 survives the round trip.
  for (const ParamInfo& info : infos) {
    const NamedTensor& tensor = find(info.name, info.shape);
    float* dst = params + info.offset;
    std::memcpy(dst, tensor.data.data(), size_t(info.size()) * sizeof(float));
    if (info.name.rfind("bias_ih", 0) == 0 && has_single_bias(options)) {
      const NamedTensor& bias_hh = find(bias_hh_name(info.name), info.shape);
      for (int64_t i = 0; i < info.size(); ++i)
        if (bias_hh.data[size_t(i)] != 0.0f) dst[i] = tensor.data[size_t(i)] + bias_hh.data[size_t(i)];
    }
  }
}

std::string pytorch_module_expression(const RecurrentOptions& options) {
  validate(options);
  if (options.peephole) throw std::invalid_argument("pytorch: no torch.nn module has peephole connections");
  const bool bidirectional =
      options.direction == Direction::bidirectional_concat || options.direction == Direction::bidirectional_sum;
  if (options.direction == Direction::bidirectional_sum && options.num_layers > 1)
    throw std::invalid_argument(
        "pytorch: bidirectional_sum with num_layers > 1 has no torch.nn module (it concatenates directions)");
  if (options.direction == Direction::reverse)
    throw std::invalid_argument("pytorch: direction reverse has no torch.nn module (flip the sequence instead)");
  std::string module;
  switch (options.cell) {
    case Cell::rnn_tanh:
    case Cell::rnn_relu: module = "RNN"; break;
    case Cell::lstm: module = "LSTM"; break;
    case Cell::gru: module = "GRU"; break;
  }
  std::string out = "torch.nn." + module + "(input_size=" + std::to_string(options.input_size) +
                    ", hidden_size=" + std::to_string(options.hidden_size) +
                    ", num_layers=" + std::to_string(options.num_layers);
  if (options.cell == Cell::rnn_tanh) out += ", nonlinearity='tanh'";
  if (options.cell == Cell::rnn_relu) out += ", nonlinearity='relu'";
  out += std::string(", bias=True, bidirectional=") + (bidirectional ? "True" : "False");
  if (options.projection_size > 0) out += ", proj_size=" + std::to_string(options.projection_size);
  return out + ")";
}

}  // namespace rnnlab::layers
