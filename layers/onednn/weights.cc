#include "layers/onednn/weights.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rnnlab::layers::onednn {

WeightMap::WeightMap(const RecurrentOptions& options, int first_layer, int layer_count)
    : cell_(options.cell),
      layer_count_(layer_count),
      directions_(direction_count(options.direction)),
      gates_(gate_count(options.cell)),
      bias_gates_(options.cell == Cell::gru ? 4 : gate_count(options.cell)),
      hidden_(options.hidden_size),
      state_(options.state_size()),
      input_size_(options.layer_input_size(first_layer)),
      peephole_(options.peephole),
      projection_(options.projection_size > 0) {
  if (first_layer < 0 || layer_count < 1 || first_layer + layer_count > options.num_layers)
    throw std::invalid_argument("onednn weights: layer group [" + std::to_string(first_layer) + ", +" +
                                std::to_string(layer_count) + ") outside num_layers " +
                                std::to_string(options.num_layers));
  for (int layer = first_layer; layer < first_layer + layer_count; ++layer)
    if (options.layer_input_size(layer) != input_size_)
      throw std::invalid_argument("onednn weights: layers of one primitive need equal input sizes");
  // Find the canonical offsets by name so that this file never re-derives the layout.
  offsets_.resize(size_t(layer_count) * directions_);
  for (const ParamInfo& info : recurrent_parameters(options)) {
    const auto l_pos = info.name.rfind("_l");
    const int layer = std::stoi(info.name.substr(l_pos + 2));
    if (layer < first_layer || layer >= first_layer + layer_count) continue;
    const int dir = info.name.find("_reverse") != std::string::npos ? 1 : 0;
    const std::string base = info.name.substr(0, l_pos);
    Offsets& entry = offsets_[size_t(layer - first_layer) * directions_ + dir];
    if (base == "weight_ih") entry.weight_ih = info.offset;
    else if (base == "weight_hh") entry.weight_hh = info.offset;
    else if (base == "bias_ih") entry.bias_ih = info.offset;
    else if (base == "bias_hh") entry.bias_hh = info.offset;
    else if (base == "weight_hr") entry.weight_hr = info.offset;
    else if (base == "weight_peephole") entry.peephole = info.offset;
  }
}

int64_t WeightMap::weights_layer_size() const { return int64_t(layer_count_) * directions_ * gates_ * hidden_ * input_size_; }
int64_t WeightMap::weights_iter_size() const { return int64_t(layer_count_) * directions_ * gates_ * hidden_ * state_; }
int64_t WeightMap::bias_size() const { return int64_t(layer_count_) * directions_ * bias_gates_ * hidden_; }
int64_t WeightMap::peephole_size() const { return peephole_ ? int64_t(layer_count_) * directions_ * 3 * hidden_ : 0; }
int64_t WeightMap::projection_size() const {
  return projection_ ? int64_t(layer_count_) * directions_ * hidden_ * state_ : 0;
}

int WeightMap::canonical_gate(int onednn_gate) const {
  // GRU: oneDNN [u, r, o] holds PyTorch [z, r, n] = PyTorch gates {1, 0, 2}.
  if (cell_ == Cell::gru && onednn_gate < 2) return 1 - onednn_gate;
  return onednn_gate;
}

// Every conversion below walks the same (layer, direction) blocks. Within a block:
//   weights: oneDNN gate g's [H, X] rows are canonical gate canonical_gate(g)'s rows;
//   bias: RNN/LSTM copy; GRU fuses (see the header);
//   peephole and projection: same element order on both sides.
void WeightMap::to_onednn(const float* canonical, const PlainWeights& dst) const {
  const int64_t block_layer = gates_ * hidden_ * input_size_, block_iter = gates_ * hidden_ * state_;
  for (int l = 0; l < layer_count_; ++l) {
    for (int d = 0; d < directions_; ++d) {
      const Offsets& off = offsets(l, d);
      const int64_t ld = int64_t(l) * directions_ + d;
      for (int g = 0; g < gates_; ++g) {
        const int cg = canonical_gate(g);
        std::copy_n(canonical + off.weight_ih + cg * hidden_ * input_size_, hidden_ * input_size_,
                    dst.weights_layer + ld * block_layer + g * hidden_ * input_size_);
        std::copy_n(canonical + off.weight_hh + cg * hidden_ * state_, hidden_ * state_,
                    dst.weights_iter + ld * block_iter + g * hidden_ * state_);
      }
      float* bias = dst.bias + ld * bias_gates_ * hidden_;
      if (cell_ == Cell::gru) {
        const float* b_ih = canonical + off.bias_ih;
        const float* b_hh = canonical + off.bias_hh;
        for (int64_t h = 0; h < hidden_; ++h) {
          bias[0 * hidden_ + h] = b_ih[1 * hidden_ + h] + b_hh[1 * hidden_ + h];  // z (oneDNN u)
          bias[1 * hidden_ + h] = b_ih[0 * hidden_ + h] + b_hh[0 * hidden_ + h];  // r
          bias[2 * hidden_ + h] = b_ih[2 * hidden_ + h];                          // n, input side
          bias[3 * hidden_ + h] = b_hh[2 * hidden_ + h];                          // n, recurrent side
        }
      } else {
        std::copy_n(canonical + off.bias_ih, gates_ * hidden_, bias);
      }
      if (peephole_) std::copy_n(canonical + off.peephole, 3 * hidden_, dst.peephole + ld * 3 * hidden_);
      if (projection_)
        std::copy_n(canonical + off.weight_hr, hidden_ * state_, dst.projection + ld * hidden_ * state_);
    }
  }
}

void WeightMap::to_canonical(const PlainWeights& src, float* canonical) const {
  const int64_t block_layer = gates_ * hidden_ * input_size_, block_iter = gates_ * hidden_ * state_;
  for (int l = 0; l < layer_count_; ++l) {
    for (int d = 0; d < directions_; ++d) {
      const Offsets& off = offsets(l, d);
      const int64_t ld = int64_t(l) * directions_ + d;
      for (int g = 0; g < gates_; ++g) {
        const int cg = canonical_gate(g);
        std::copy_n(src.weights_layer + ld * block_layer + g * hidden_ * input_size_, hidden_ * input_size_,
                    canonical + off.weight_ih + cg * hidden_ * input_size_);
        std::copy_n(src.weights_iter + ld * block_iter + g * hidden_ * state_, hidden_ * state_,
                    canonical + off.weight_hh + cg * hidden_ * state_);
      }
      const float* bias = src.bias + ld * bias_gates_ * hidden_;
      if (cell_ == Cell::gru) {
        float* b_ih = canonical + off.bias_ih;
        float* b_hh = canonical + off.bias_hh;
        for (int64_t h = 0; h < hidden_; ++h) {
          b_ih[1 * hidden_ + h] = bias[0 * hidden_ + h];
          b_hh[1 * hidden_ + h] = 0.0f;
          b_ih[0 * hidden_ + h] = bias[1 * hidden_ + h];
          b_hh[0 * hidden_ + h] = 0.0f;
          b_ih[2 * hidden_ + h] = bias[2 * hidden_ + h];
          b_hh[2 * hidden_ + h] = bias[3 * hidden_ + h];
        }
      } else {
        std::copy_n(bias, gates_ * hidden_, canonical + off.bias_ih);
      }
      if (peephole_) std::copy_n(src.peephole + ld * 3 * hidden_, 3 * hidden_, canonical + off.peephole);
      if (projection_)
        std::copy_n(src.projection + ld * hidden_ * state_, hidden_ * state_, canonical + off.weight_hr);
    }
  }
}

void WeightMap::add_gradients(const PlainWeights& diff, float* diff_canonical) const {
  const int64_t block_layer = gates_ * hidden_ * input_size_, block_iter = gates_ * hidden_ * state_;
  auto add = [](const float* from, int64_t count, float* to) {
    for (int64_t i = 0; i < count; ++i) to[i] += from[i];
  };
  for (int l = 0; l < layer_count_; ++l) {
    for (int d = 0; d < directions_; ++d) {
      const Offsets& off = offsets(l, d);
      const int64_t ld = int64_t(l) * directions_ + d;
      for (int g = 0; g < gates_; ++g) {
        const int cg = canonical_gate(g);
        add(diff.weights_layer + ld * block_layer + g * hidden_ * input_size_, hidden_ * input_size_,
            diff_canonical + off.weight_ih + cg * hidden_ * input_size_);
        add(diff.weights_iter + ld * block_iter + g * hidden_ * state_, hidden_ * state_,
            diff_canonical + off.weight_hh + cg * hidden_ * state_);
      }
      const float* bias = diff.bias + ld * bias_gates_ * hidden_;
      if (cell_ == Cell::gru) {
        float* b_ih = diff_canonical + off.bias_ih;
        float* b_hh = diff_canonical + off.bias_hh;
        add(bias + 0 * hidden_, hidden_, b_ih + 1 * hidden_);  // fused z bias feeds b_iz and b_hz
        add(bias + 0 * hidden_, hidden_, b_hh + 1 * hidden_);
        add(bias + 1 * hidden_, hidden_, b_ih + 0 * hidden_);  // fused r bias feeds b_ir and b_hr
        add(bias + 1 * hidden_, hidden_, b_hh + 0 * hidden_);
        add(bias + 2 * hidden_, hidden_, b_ih + 2 * hidden_);
        add(bias + 3 * hidden_, hidden_, b_hh + 2 * hidden_);
      } else {
        add(bias, gates_ * hidden_, diff_canonical + off.bias_ih);
      }
      if (peephole_) add(diff.peephole + ld * 3 * hidden_, 3 * hidden_, diff_canonical + off.peephole);
      if (projection_) add(diff.projection + ld * hidden_ * state_, hidden_ * state_, diff_canonical + off.weight_hr);
    }
  }
}

}  // namespace rnnlab::layers::onednn
