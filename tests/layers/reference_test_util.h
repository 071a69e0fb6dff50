// Helpers shared by the reference backend's tests: cell variants, random tensors and a
// scalar loss that reads dst, hT and cT so one backward checks every output path.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "layers/random.h"
#include "layers/recurrent.h"
#include "layers/reference/reference_rnn.h"

namespace rnnlab::layers::testing {

struct CellVariant {
  std::string name;
  Cell cell;
  bool peephole = false;
  int projection_size = 0;
};

// Lets GoogleTest print a failing case by name instead of as bytes.
inline void PrintTo(const CellVariant& variant, std::ostream* os) { *os << variant.name; }

inline std::vector<CellVariant> all_cell_variants() {
  return {{"rnn_tanh", Cell::rnn_tanh},
          {"rnn_relu", Cell::rnn_relu},
          {"lstm", Cell::lstm},
          {"gru", Cell::gru},
          {"lstm_peephole", Cell::lstm, true},
          {"lstm_projection", Cell::lstm, false, 2},
          {"lstm_peephole_projection", Cell::lstm, true, 2}};
}

template <typename T>
std::vector<T> random_tensor(int64_t count, uint64_t stream, double scale, uint64_t seed = 2024) {
  std::vector<T> out(count);
  for (int64_t i = 0; i < count; ++i) out[i] = T(scale * random_normal(seed, stream, uint64_t(i)));
  return out;
}

// Everything one forward needs, plus the loss weights: loss = sum(w_dst * dst) +
// sum(w_hT * hT) + sum(w_cT * cT), so dL/ddst = w_dst etc.
template <typename T>
struct Problem {
  RecurrentOptions options;
  int seq_len = 4;
  int batch = 2;
  bool with_init = true;  // pass h0/c0 (else nullptr = zeros)
  uint64_t dropout_seed = 7;
  std::vector<T> params, src, h0, c0, w_dst, w_hT, w_cT;

  int64_t slots() const { return int64_t(options.num_layers) * direction_count(options.direction); }
  int64_t rows() const { return int64_t(seq_len) * batch; }

  Problem(const RecurrentOptions& opt, int steps, int n, bool init, uint64_t seed = 2024)
      : options(opt), seq_len(steps), batch(n), with_init(init) {
    const int64_t h_count = slots() * batch * options.state_size();
    const int64_t c_count = slots() * batch * options.hidden_size;
    params = random_tensor<T>(recurrent_parameter_count(options), 1, 0.5, seed);
    src = random_tensor<T>(rows() * options.input_size, 2, 1.0, seed);
    h0 = random_tensor<T>(h_count, 3, 0.5, seed);
    c0 = random_tensor<T>(c_count, 4, 0.5, seed);
    w_dst = random_tensor<T>(rows() * options.output_size(), 5, 1.0, seed);
    w_hT = random_tensor<T>(h_count, 6, 1.0, seed);
    w_cT = random_tensor<T>(c_count, 7, 1.0, seed);
  }

  struct Outputs {
    std::vector<T> dst, hT, cT;
  };

  // Forward with explicit pointers (h0/c0 may differ from the members for finite
  // differences on them).
  Outputs run(ReferenceRecurrent<T>& rnn, const T* param_ptr, const T* src_ptr, const T* h0_ptr, const T* c0_ptr,
              bool training) const {
    Outputs out{std::vector<T>(rows() * options.output_size()), std::vector<T>(h0.size()),
                std::vector<T>(c0.size())};
    ReferenceForwardArgs<T> args;
    args.seq_len = seq_len;
    args.batch = batch;
    args.params = param_ptr;
    args.src = src_ptr;
    args.h0 = h0_ptr;
    args.c0 = c0_ptr;
    args.dst = out.dst.data();
    args.hT = out.hT.data();
    args.cT = out.cT.data();
    args.dropout_seed = dropout_seed;
    rnn.forward(args, training);
    return out;
  }

  Outputs run(ReferenceRecurrent<T>& rnn, bool training) const {
    return run(rnn, params.data(), src.data(), with_init ? h0.data() : nullptr, with_init ? c0.data() : nullptr,
               training);
  }

  T loss(const Outputs& out) const {
    T sum = 0;
    for (size_t i = 0; i < out.dst.size(); ++i) sum += w_dst[i] * out.dst[i];
    for (size_t i = 0; i < out.hT.size(); ++i) sum += w_hT[i] * out.hT[i];
    if (options.cell == Cell::lstm)
      for (size_t i = 0; i < out.cT.size(); ++i) sum += w_cT[i] * out.cT[i];
    return sum;
  }
};

}  // namespace rnnlab::layers::testing
