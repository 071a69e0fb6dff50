// The ONE place where the canonical (PyTorch) parameter layout meets oneDNN's.
//
// oneDNN's RNN primitives take, for a group of `layer_count` consecutive layers run by one
// primitive, five weight tensors. This file converts between the canonical flat buffer
// (see recurrent_parameters() in layers/recurrent.h) and "plain" oneDNN tensors in these
// layouts (dims as oneDNN names them; the physical order is the format tag):
//   weights_layer       dims {Lg, D, I, G, H}   tag ldgoi (== PyTorch weight_ih [G*H, I])
//   weights_iter        dims {Lg, D, S, G, H}   tag ldgoi (== PyTorch weight_hh [G*H, S])
//   bias                dims {Lg, D, Gb, H}     tag ldgo  (Gb = 4 for lbr_gru, else G)
//   weights_peephole    dims {Lg, D, 3, H}      tag ldgo  (rows i, f, o, like canonical)
//   weights_projection  dims {Lg, D, H, P}      tag ldoi  (== PyTorch weight_hr [P, H])
// The primitive is then free to ask for any other format (`format_tag::any`): the backend
// reorders from these plain tensors. Gate orders: LSTM i,f,g,o is oneDNN's i,f,c~,o; GRU is
// PyTorch [r, z, n] but oneDNN lbr_gru [u(=z), r, o(=n)]: the first two blocks swap. lbr_gru
// has 4 bias blocks [b_iz + b_hz, b_ir + b_hr, b_in, b_hn].
//
// Pure loops, no oneDNN header: usable (and tested) without the library.
// Thread safety: a WeightMap is immutable after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "layers/recurrent.h"

namespace rnnlab::layers::onednn {

// Pointers to the five plain tensors of one layer group; unused ones may be null.
struct PlainWeights {
  float* weights_layer = nullptr;
  float* weights_iter = nullptr;
  float* bias = nullptr;
  float* peephole = nullptr;
  float* projection = nullptr;
};

class WeightMap {
 public:
  // Layers [first_layer, first_layer + layer_count) of `options` (validated by the caller).
  // Throws std::invalid_argument if the group does not fit in options.num_layers, or if the
  // layers of the group do not all have the same input size (one primitive cannot run them).
  WeightMap(const RecurrentOptions& options, int first_layer, int layer_count);

  int layer_count() const { return layer_count_; }
  int input_size() const { return input_size_; }

  // Element counts of the plain tensors (0 when the cell has no such tensor).
  int64_t weights_layer_size() const;
  int64_t weights_iter_size() const;
  int64_t bias_size() const;
  int64_t peephole_size() const;
  int64_t projection_size() const;

  // canonical -> plain oneDNN tensors (overwrites them; sums the GRU's split biases).
  void to_onednn(const float* canonical, const PlainWeights& dst) const;
  // plain oneDNN tensors -> canonical (overwrites this group's canonical entries). Exact
  // inverse of to_onednn for weights and RNN/LSTM biases; a fused GRU bias block B0 (B1)
  // becomes b_iz = B0, b_hz = 0 (b_ir = B1, b_hr = 0), which to_onednn maps back to B0 bit
  // for bit (B0 + 0 == B0).
  void to_canonical(const PlainWeights& src, float* canonical) const;
  // ADDS the gradients held in plain oneDNN layout to the canonical gradient buffer. A
  // fused bias feeds both canonical biases it came from: dL/db_iz = dL/db_hz = dB0,
  // dL/db_ir = dL/db_hr = dB1, dL/db_in = dB2, dL/db_hn = dB3.
  void add_gradients(const PlainWeights& diff, float* diff_canonical) const;

 private:
  // Canonical offsets of one (layer, direction); -1 where absent.
  struct Offsets {
    int64_t weight_ih = -1, weight_hh = -1, bias_ih = -1, bias_hh = -1, weight_hr = -1, peephole = -1;
  };
  // PyTorch gate index stored at oneDNN gate position `onednn_gate`.
  int canonical_gate(int onednn_gate) const;
  const Offsets& offsets(int group_layer, int dir) const { return offsets_[group_layer * directions_ + dir]; }

  Cell cell_;
  int layer_count_, directions_, gates_, bias_gates_;
  int64_t hidden_, state_, input_size_;
  bool peephole_, projection_;
  std::vector<Offsets> offsets_;
};

}  // namespace rnnlab::layers::onednn
