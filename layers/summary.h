// A Keras model.summary()-style table for Sequential-like stacks of Embedding, recurrent
// layers and Dense, so users see the parameter counts they know from Keras:
//
//   Model: "sequential"
//   _________________________________________________________________
//    Layer (type)                Output Shape              Param #
//   =================================================================
//    embedding (Embedding)       (None, None, 32)          320000
//
//    simple_rnn (SimpleRNN)      (None, 32)                2080
//
//   =================================================================
//   Total params: 322,080
//   Trainable params: 322,080
//   Non-trainable params: 0
//   _________________________________________________________________
//
// Columns and naming follow TF 2.x Keras (line length 65, columns at 29 and 55; names
// "simple_rnn", "simple_rnn_1", ...; a Bidirectional wrapper consumes its inner layer's
// name, as in Keras). One difference: trailing spaces are trimmed from every line.
// Parameter counts follow Keras (single bias for SimpleRNN/LSTM, two 3H biases for GRU
// with reset_after), which equals recurrent_parameter_count() of the canonical layout.
//
// Failure: an invalid stack (Embedding not first, a recurrent layer after one that returns
// no sequence, sizes <= 0, a first layer other than Embedding with input_features <= 0)
// throws std::invalid_argument naming the layer index. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "layers/recurrent.h"

namespace rnnlab::layers {

struct EmbeddingSpec {
  int64_t vocab_size = 0;
  int64_t dim = 0;
  bool trainable = true;
};

struct RecurrentSpec {
  Cell cell = Cell::lstm;  // rnn_tanh / rnn_relu show as SimpleRNN
  int units = 0;
  bool return_sequences = false;
  bool bidirectional = false;  // Keras Bidirectional(merge_mode='concat'): 2 * units out
  bool merge_sum = false;      // with bidirectional: merge_mode='sum', units out
  int projection_size = 0;     // LSTM only (no Keras equivalent; shown as LSTM)
  bool peephole = false;       // LSTM only (no Keras equivalent; shown as LSTM)
  bool trainable = true;
};

struct DenseSpec {
  int64_t units = 0;
  bool bias = true;
  bool trainable = true;
};

using LayerSpec = std::variant<EmbeddingSpec, RecurrentSpec, DenseSpec>;

struct SummaryRow {
  std::string name;          // "embedding (Embedding)"
  std::string output_shape;  // "(None, None, 32)"
  int64_t params = 0;
};

struct ModelSummary {
  std::string model_name = "sequential";
  std::vector<SummaryRow> rows;
  int64_t total_params = 0;
  int64_t trainable_params = 0;
  int64_t non_trainable_params = 0;

  std::vector<std::string> lines() const;  // the table, one string per line
  std::string to_string() const;           // lines joined with '\n', final newline
};

// input_features: channels of the input when the first layer is not an Embedding (e.g. 1
// for a univariate time series); ignored otherwise.
ModelSummary summarize(const std::vector<LayerSpec>& layers, int64_t input_features = 0);

// "322,080".
std::string with_thousands_separators(int64_t value);

}  // namespace rnnlab::layers
