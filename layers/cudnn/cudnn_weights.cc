// The canonical <-> cuDNN weight conversion (layers/cudnn/cudnn_weights.h).
#include "layers/cudnn/cudnn_weights.h"

#include <cudnn.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include "layers/cuda/device.h"
#include "layers/cudnn/cudnn_descriptor.h"

namespace rnnlab::layers::cudnn_detail {
namespace {

// RAII for the two tensor descriptors cudnnGetRNNWeightParams fills.
struct TensorDesc : TensorDescriptorHandle {
  int64_t elements() const {
    cudnnDataType_t type;
    int rank = 0, dims[8] = {0}, strides[8] = {0};
    RNNLAB_CUDNN_CHECK(cudnnGetTensorNdDescriptor(desc, 8, &type, &rank, dims, strides));
    int64_t count = 1;
    for (int i = 0; i < rank; ++i) count *= dims[i];
    return count;
  }
};

}  // namespace

// The conversion, in one place. Facts it relies on (cudnn_adv.h, cuDNN 9 docs, and
// PyTorch's aten/src/ATen/native/cudnn/RNN.cpp, which copies its tensors the same way):
//
// 1. cudnnGetRNNWeightParams(pseudoLayer, linLayerID) returns the address of one gate's
//    matrix and bias inside the weight space. pseudoLayer = layer * D + direction
//    (bidirectional: 0 = layer 0 forward, 1 = layer 0 reverse, ...), counted inside this
//    cuDNN RNN, so a per-layer RNN has pseudo layers 0 (and 1).
// 2. linLayerID order is PyTorch's gate order: RNN 0 = W_ih, 1 = W_hh; LSTM 0-3 = W_i,
//    W_f, W_g, W_o on the input, 4-7 the same on the recurrent state, 8 = the projection
//    W_hr (matrix only); GRU 0-2 = W_r, W_z, W_n on the input, 3-5 on the state.
// 3. Each gate matrix is row-major [H, in] (in = the layer's input size for ids < G, the
//    state size S for the recurrent ids; W_hr is [S, H]) = rows g*H .. (g+1)*H of
//    PyTorch's weight_ih/weight_hh, so each gate is ONE contiguous copy.
// 4. Biases (CUDNN_RNN_DOUBLE_BIAS): ids < G carry b_ih's gate, ids >= G b_hh's. rnnlab
//    stores ONE combined bias for RNN/LSTM (b_ih + b_hh is all the cell ever uses): it
//    goes into the input bias and the recurrent bias stays 0 (the weight space is zeroed
//    once and those addresses are never written). The gradient of the combined bias is
//    the input bias's gradient (dL/db_ih = dL/db_hh). GRU keeps both biases (b_hn sits
//    inside r * (W_hn h + b_hn)), which map one to one.
// Adjacent segments that are contiguous on both sides are merged (the G gate matrices of
// one weight usually are), so a step's copy is one kernel over a handful of segments.
std::vector<WeightSegment> cudnn_weight_segments(cudnnContext* handle, cudnnRNNStruct* rnn,
                                                 const RecurrentOptions& options, int first_layer, int layer_count,
                                                 void* weight_space, size_t weight_space_bytes) {
  std::map<std::string, ParamInfo> canonical;
  for (const ParamInfo& info : recurrent_parameters(options)) canonical[info.name] = info;
  const int gates = gate_count(options.cell);
  const int directions = direction_count(options.direction) == 2 ? 2 : 1;
  const int64_t hidden = options.hidden_size;
  const int64_t state = options.state_size();
  const bool separate_recurrent_bias = options.cell == Cell::gru;
  const float* base = static_cast<const float*>(weight_space);

  std::vector<WeightSegment> segments;
  TensorDesc matrix_desc, bias_desc;
  for (int local_layer = 0; local_layer < layer_count; ++local_layer) {
    const int layer = first_layer + local_layer;
    const int64_t input = options.layer_input_size(layer);
    for (int dir = 0; dir < directions; ++dir) {
      const int pseudo_layer = local_layer * directions + dir;
      const std::string suffix = "_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
      auto param = [&](const std::string& name) -> const ParamInfo& {
        auto it = canonical.find(name + suffix);
        if (it == canonical.end()) throw std::logic_error("cudnn weights: no canonical " + name + suffix);
        return it->second;
      };
      // One linLayerID: its matrix -> rows of `matrix_name`, its bias -> `bias_name` (or none).
      auto add = [&](int lin_layer_id, const ParamInfo& matrix, int64_t row0, int64_t rows, int64_t cols,
                     const ParamInfo* bias) {
        void* matrix_address = nullptr;
        void* bias_address = nullptr;
        RNNLAB_CUDNN_CHECK(cudnnGetRNNWeightParams(handle, rnn, pseudo_layer, weight_space_bytes, weight_space,
                                                   lin_layer_id, matrix_desc.desc, &matrix_address, bias_desc.desc,
                                                   &bias_address));
        if (matrix_address == nullptr || matrix_desc.elements() != rows * cols)
          throw std::runtime_error("cudnn weights: linLayerID " + std::to_string(lin_layer_id) + " of " +
                                   matrix.name + " has " + std::to_string(matrix_desc.elements()) +
                                   " elements in cuDNN, rnnlab expects " + std::to_string(rows * cols));
        segments.push_back({static_cast<const float*>(matrix_address) - base, matrix.offset + row0 * cols, rows * cols});
        if (bias != nullptr) {
          if (bias_address == nullptr || bias_desc.elements() != rows)
            throw std::runtime_error("cudnn weights: bias of linLayerID " + std::to_string(lin_layer_id) + " of " +
                                     bias->name + " does not have " + std::to_string(rows) + " elements in cuDNN");
          segments.push_back({static_cast<const float*>(bias_address) - base, bias->offset + row0, rows});
        }
      };
      const ParamInfo& weight_ih = param("weight_ih");
      const ParamInfo& weight_hh = param("weight_hh");
      const ParamInfo& bias_ih = param("bias_ih");
      const ParamInfo* bias_hh = separate_recurrent_bias ? &param("bias_hh") : nullptr;
      for (int gate = 0; gate < gates; ++gate) {
        add(gate, weight_ih, gate * hidden, hidden, input, &bias_ih);             // input part
        add(gates + gate, weight_hh, gate * hidden, hidden, state, bias_hh);     // recurrent part
      }
      if (options.projection_size > 0) add(8, param("weight_hr"), 0, state, hidden, nullptr);
    }
  }

  // Merge runs that are contiguous on both sides.
  std::sort(segments.begin(), segments.end(),
            [](const WeightSegment& a, const WeightSegment& b) { return a.cudnn_offset < b.cudnn_offset; });
  std::vector<WeightSegment> merged;
  for (const WeightSegment& s : segments) {
    if (!merged.empty() && merged.back().cudnn_offset + merged.back().count == s.cudnn_offset &&
        merged.back().canonical_offset + merged.back().count == s.canonical_offset)
      merged.back().count += s.count;
    else
      merged.push_back(s);
  }
  for (const WeightSegment& s : merged)
    if (s.cudnn_offset < 0 || (s.cudnn_offset + s.count) * int64_t(sizeof(float)) > int64_t(weight_space_bytes))
      throw std::runtime_error("cudnn weights: a parameter lies outside cuDNN's weight space");
  if (merged.size() > 65535) throw std::runtime_error("cudnn weights: too many weight segments");
  return merged;
}

}  // namespace rnnlab::layers::cudnn_detail
