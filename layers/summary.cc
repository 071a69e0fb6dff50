#include "layers/summary.h"

#include <map>
#include <stdexcept>

namespace rnnlab::layers {
namespace {

// Keras's Sequential summary geometry: print_summary(line_length=65, positions=[.45, .85, 1]).
constexpr size_t kLineLength = 65;
constexpr size_t kColumnEnds[] = {29, 55, 65};

// Keras print_row: each field starts at its column, one leading space before the first,
// at least two spaces between fields (long fields overflow instead of wrapping).
std::string table_row(const std::string& name, const std::string& shape, const std::string& params) {
  std::string line = " " + name;
  const std::string fields[] = {shape, params};
  for (size_t col = 0; col < 2; ++col) {
    line += "  ";
    if (line.size() < kColumnEnds[col]) line.resize(kColumnEnds[col], ' ');
    line += fields[col];
  }
  return line;
}

std::string shape_string(bool sequence, int64_t channels) {
  return sequence ? "(None, None, " + std::to_string(channels) + ")" : "(None, " + std::to_string(channels) + ")";
}

std::string keras_class(const RecurrentSpec& spec) {
  switch (spec.cell) {
    case Cell::rnn_tanh:
    case Cell::rnn_relu: return "SimpleRNN";
    case Cell::lstm: return "LSTM";
    case Cell::gru: return "GRU";
  }
  return "?";
}

// Keras names layers by the snake_case class name, numbered from the second one on.
class LayerNames {
 public:
  std::string next(const std::string& base) {
    const int used = counts_[base]++;
    return used == 0 ? base : base + "_" + std::to_string(used);
  }

 private:
  std::map<std::string, int> counts_;
};

std::string snake_case(const std::string& keras_class_name) {
  if (keras_class_name == "SimpleRNN") return "simple_rnn";
  if (keras_class_name == "LSTM") return "lstm";
  if (keras_class_name == "GRU") return "gru";
  if (keras_class_name == "Embedding") return "embedding";
  if (keras_class_name == "Bidirectional") return "bidirectional";
  return "dense";
}

[[noreturn]] void fail(size_t index, const std::string& message) {
  throw std::invalid_argument("model summary: layer " + std::to_string(index) + ": " + message);
}

}  // namespace

std::string with_thousands_separators(int64_t value) {
  const bool negative = value < 0;
  std::string digits = std::to_string(negative ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

ModelSummary summarize(const std::vector<LayerSpec>& layers, int64_t input_features) {
  ModelSummary summary;
  LayerNames names;
  bool sequence = true;            // does the current tensor still have a time axis?
  int64_t features = input_features;
  for (size_t index = 0; index < layers.size(); ++index) {
    SummaryRow row;
    bool trainable = true;
    if (const auto* embedding = std::get_if<EmbeddingSpec>(&layers[index])) {
      if (index != 0) fail(index, "Embedding must be the first layer");
      if (embedding->vocab_size <= 0 || embedding->dim <= 0)
        fail(index, "Embedding vocab_size and dim must be > 0, got " + std::to_string(embedding->vocab_size) +
                        " and " + std::to_string(embedding->dim));
      row.name = names.next("embedding") + " (Embedding)";
      row.params = embedding->vocab_size * embedding->dim;
      features = embedding->dim;
      trainable = embedding->trainable;
    } else {
      if (features <= 0) fail(index, "input_features must be > 0 when the first layer is not an Embedding");
      if (const auto* recurrent = std::get_if<RecurrentSpec>(&layers[index])) {
        if (!sequence) fail(index, "a recurrent layer needs a sequence, but the layer before has return_sequences=false");
        if (recurrent->units <= 0) fail(index, "units must be > 0, got " + std::to_string(recurrent->units));
        RecurrentOptions options;
        options.cell = recurrent->cell;
        options.input_size = int(features);
        options.hidden_size = recurrent->units;
        options.direction = !recurrent->bidirectional ? Direction::forward
                            : recurrent->merge_sum    ? Direction::bidirectional_sum
                                                      : Direction::bidirectional_concat;
        options.projection_size = recurrent->projection_size;
        options.peephole = recurrent->peephole;
        try {
          row.params = recurrent_parameter_count(options);
        } catch (const std::invalid_argument& error) {
          fail(index, error.what());
        }
        const std::string cls = keras_class(*recurrent);
        const std::string inner = names.next(snake_case(cls));
        row.name = recurrent->bidirectional ? names.next("bidirectional") + " (Bidirectional)" : inner + " (" + cls + ")";
        sequence = recurrent->return_sequences;
        features = options.output_size();
        trainable = recurrent->trainable;
      } else {
        const auto& dense = std::get<DenseSpec>(layers[index]);
        if (dense.units <= 0) fail(index, "Dense units must be > 0, got " + std::to_string(dense.units));
        row.name = names.next("dense") + " (Dense)";
        row.params = features * dense.units + (dense.bias ? dense.units : 0);
        features = dense.units;
        trainable = dense.trainable;
      }
    }
    row.output_shape = shape_string(sequence, features);
    summary.total_params += row.params;
    (trainable ? summary.trainable_params : summary.non_trainable_params) += row.params;
    summary.rows.push_back(std::move(row));
  }
  return summary;
}

std::vector<std::string> ModelSummary::lines() const {
  std::vector<std::string> out;
  out.push_back("Model: \"" + model_name + "\"");
  out.push_back(std::string(kLineLength, '_'));
  out.push_back(table_row("Layer (type)", "Output Shape", "Param #"));
  out.push_back(std::string(kLineLength, '='));
  for (const SummaryRow& row : rows) {
    out.push_back(table_row(row.name, row.output_shape, std::to_string(row.params)));
    out.push_back("");  // Keras (TF >= 2.9) prints an empty row after each layer
  }
  out.push_back(std::string(kLineLength, '='));
  out.push_back("Total params: " + with_thousands_separators(total_params));
  out.push_back("Trainable params: " + with_thousands_separators(trainable_params));
  out.push_back("Non-trainable params: " + with_thousands_separators(non_trainable_params));
  out.push_back(std::string(kLineLength, '_'));
  return out;
}

std::string ModelSummary::to_string() const {
  std::string out;
  for (const std::string& line : lines()) out += line + "\n";
  return out;
}

}  // namespace rnnlab::layers
