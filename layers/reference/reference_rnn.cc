#include "layers/reference/reference_rnn.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "layers/dropout.h"
#include "layers/reference/reference_cell.h"

namespace rnnlab::layers {

using reference::CellActivations;
using reference::CellShape;
using reference::CellTensors;

namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("reference recurrent: ") + what);
}

// Offsets (in elements) of one direction's tensors in the canonical buffer; -1 if absent.
struct DirectionOffsets {
  int64_t weight_ih = -1, weight_hh = -1, bias_ih = -1, bias_hh = -1, weight_hr = -1, weight_peephole = -1;
};

DirectionOffsets find_offsets(const std::vector<ParamInfo>& infos, int layer, int dir) {
  const std::string suffix = "_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
  DirectionOffsets offsets;
  for (const auto& info : infos) {
    if (info.name == "weight_ih" + suffix) offsets.weight_ih = info.offset;
    if (info.name == "weight_hh" + suffix) offsets.weight_hh = info.offset;
    if (info.name == "bias_ih" + suffix) offsets.bias_ih = info.offset;
    if (info.name == "bias_hh" + suffix) offsets.bias_hh = info.offset;
    if (info.name == "weight_hr" + suffix) offsets.weight_hr = info.offset;
    if (info.name == "weight_peephole" + suffix) offsets.weight_peephole = info.offset;
  }
  return offsets;
}

template <typename P>
CellTensors<P> tensors_at(P* base, const DirectionOffsets& o) {
  auto at = [base](int64_t offset) { return offset < 0 ? nullptr : base + offset; };
  return {at(o.weight_ih), at(o.weight_hh), at(o.bias_ih), at(o.bias_hh), at(o.weight_hr), at(o.weight_peephole)};
}

}  // namespace

// Everything backward() needs from the last training forward.
template <typename T>
struct ReferenceRecurrent<T>::State {
  struct Layer {
    std::vector<T> src;           // [T, N, I_k] what this layer read (after dropout)
    std::vector<T> dropout_mask;  // [T, N, O] applied to this layer's output; empty if none
    std::vector<CellActivations<T>> directions;
  };
  int seq_len = 0;
  int batch = 0;
  std::vector<T> params;
  std::vector<Layer> layers;
};

template <typename T>
ReferenceRecurrent<T>::ReferenceRecurrent(const RecurrentOptions& options)
    : options_(options), params_info_(recurrent_parameters(options)) {
  parameter_count_ = params_info_.back().offset + params_info_.back().size();
}

template <typename T>
ReferenceRecurrent<T>::~ReferenceRecurrent() = default;
template <typename T>
ReferenceRecurrent<T>::ReferenceRecurrent(ReferenceRecurrent&&) noexcept = default;
template <typename T>
ReferenceRecurrent<T>& ReferenceRecurrent<T>::operator=(ReferenceRecurrent&&) noexcept = default;

template <typename T>
void ReferenceRecurrent<T>::forward(const ReferenceForwardArgs<T>& args, bool training) {
  require(args.seq_len > 0, "seq_len must be > 0");
  require(args.batch > 0, "batch must be > 0");
  require(args.params != nullptr, "params is required");
  require(args.src != nullptr, "src is required");
  require(args.dst != nullptr, "dst is required");

  const RecurrentOptions& opt = options_;
  const int steps = args.seq_len, N = args.batch;
  const int D = direction_count(opt.direction), S = opt.state_size(), H = opt.hidden_size, O = opt.output_size();
  const int64_t rows = int64_t(steps) * N;
  const bool lstm = opt.cell == Cell::lstm;

  auto state = std::make_unique<State>();
  state->seq_len = steps;
  state->batch = N;
  // Keep our own copy: backward must use exactly the parameters this forward ran with.
  state->params.assign(args.params, args.params + parameter_count_);
  state->layers.resize(opt.num_layers);

  std::vector<T> layer_out;
  for (int layer = 0; layer < opt.num_layers; ++layer) {
    auto& cache = state->layers[layer];
    const int I = opt.layer_input_size(layer);
    if (layer == 0) cache.src.assign(args.src, args.src + rows * I);
    else cache.src.swap(layer_out);
    layer_out.assign(rows * O, T(0));
    cache.directions.resize(D);

    // 1. Each direction over the whole sequence.
    for (int dir = 0; dir < D; ++dir) {
      const bool reverse = opt.direction == Direction::reverse || dir == 1;
      const CellShape shape{opt.cell, steps, N, I, H, S, gate_count(opt.cell), opt.peephole, opt.projection_size > 0,
                            reverse};
      const int64_t slot = int64_t(layer) * D + dir;  // index into h0/hT/c0/cT
      const auto params = tensors_at<const T>(state->params.data(), find_offsets(params_info_, layer, dir));
      auto& acts = cache.directions[dir];
      reference::cell_forward(shape, params, cache.src.data(), args.h0 ? args.h0 + slot * N * S : nullptr,
                              lstm && args.c0 ? args.c0 + slot * N * H : nullptr, acts);

      // 2. Final states: the state after the last processed step (t = 0 when reversed).
      const int64_t last = reverse ? 0 : steps - 1;
      if (args.hT) std::copy_n(acts.state.data() + last * N * S, int64_t(N) * S, args.hT + slot * N * S);
      if (lstm && args.cT) std::copy_n(acts.cell.data() + last * N * H, int64_t(N) * H, args.cT + slot * N * H);

      // 3. Merge into the layer output: concatenated [fwd, rev] or summed.
      for (int64_t r = 0; r < rows; ++r)
        for (int s = 0; s < S; ++s) {
          const T value = acts.state[r * S + s];
          if (opt.direction == Direction::bidirectional_concat) layer_out[r * O + dir * S + s] = value;
          else layer_out[r * O + s] += value;
        }
    }

    // 4. Inter-layer dropout, training only; the mask is shared with every backend.
    if (training && layer + 1 < opt.num_layers && opt.dropout > 0.0f) {
      cache.dropout_mask.resize(rows * O);
      for (int64_t i = 0; i < rows * O; ++i) {
        cache.dropout_mask[i] = T(dropout_scale(args.dropout_seed, kRecurrentDropoutStream + layer, uint64_t(i),
                                                opt.dropout));
        layer_out[i] *= cache.dropout_mask[i];
      }
    }
  }
  std::copy(layer_out.begin(), layer_out.end(), args.dst);
  if (training) state_ = std::move(state);
}

template <typename T>
void ReferenceRecurrent<T>::backward(const ReferenceBackwardArgs<T>& args) {
  if (!state_) throw std::logic_error("reference recurrent: backward() needs a preceding forward(training=true)");
  require(args.diff_dst != nullptr, "diff_dst is required");
  require(args.diff_params != nullptr, "diff_params is required");

  const RecurrentOptions& opt = options_;
  const State& state = *state_;
  const int steps = state.seq_len, N = state.batch;
  const int D = direction_count(opt.direction), S = opt.state_size(), H = opt.hidden_size, O = opt.output_size();
  const int64_t rows = int64_t(steps) * N;
  const bool lstm = opt.cell == Cell::lstm;

  // Gradient w.r.t. the current layer's output (after its dropout); starts as diff_dst.
  std::vector<T> diff_out(args.diff_dst, args.diff_dst + rows * O);
  std::vector<T> diff_state(rows * S), diff_in;
  for (int layer = opt.num_layers - 1; layer >= 0; --layer) {
    const auto& cache = state.layers[layer];
    const int I = opt.layer_input_size(layer);

    // 1. Back through the dropout applied to this layer's output.
    if (!cache.dropout_mask.empty())
      for (int64_t i = 0; i < rows * O; ++i) diff_out[i] *= cache.dropout_mask[i];

    diff_in.assign(rows * I, T(0));
    for (int dir = 0; dir < D; ++dir) {
      const bool reverse = opt.direction == Direction::reverse || dir == 1;
      const CellShape shape{opt.cell, steps, N, I, H, S, gate_count(opt.cell), opt.peephole, opt.projection_size > 0,
                            reverse};
      const int64_t slot = int64_t(layer) * D + dir;
      const DirectionOffsets offsets = find_offsets(params_info_, layer, dir);

      // 2. This direction's share of the output gradient (its slice, or all of it for sum).
      for (int64_t r = 0; r < rows; ++r)
        for (int s = 0; s < S; ++s)
          diff_state[r * S + s] =
              diff_out[r * O + (opt.direction == Direction::bidirectional_concat ? dir * S : 0) + s];

      // 3. BPTT; both directions add into the same diff_in.
      reference::cell_backward(shape, tensors_at<const T>(state.params.data(), offsets), cache.src.data(),
                               cache.directions[dir], diff_state.data(),
                               args.diff_hT ? args.diff_hT + slot * N * S : nullptr,
                               lstm && args.diff_cT ? args.diff_cT + slot * N * H : nullptr,
                               tensors_at<T>(args.diff_params, offsets), diff_in.data(),
                               args.diff_h0 ? args.diff_h0 + slot * N * S : nullptr,
                               lstm && args.diff_c0 ? args.diff_c0 + slot * N * H : nullptr);
    }
    diff_out.swap(diff_in);
  }
  // After the loop diff_out holds the gradient of layer 0's input.
  if (args.diff_src) std::copy(diff_out.begin(), diff_out.end(), args.diff_src);
}

template class ReferenceRecurrent<float>;
template class ReferenceRecurrent<double>;

}  // namespace rnnlab::layers
