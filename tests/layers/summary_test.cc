// Keras-style model summary: the parameter counts users know from Keras, and the exact
// printed table.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "layers/summary.h"

namespace rnnlab::layers {
namespace {

RecurrentSpec rnn(Cell cell, int units, bool return_sequences = false, bool bidirectional = false) {
  RecurrentSpec spec;
  spec.cell = cell;
  spec.units = units;
  spec.return_sequences = return_sequences;
  spec.bidirectional = bidirectional;
  return spec;
}

TEST(Summary, KerasParameterCounts) {
  // Embedding(10000, 32) + SimpleRNN(32).
  EXPECT_EQ(summarize({EmbeddingSpec{10000, 32}, rnn(Cell::rnn_tanh, 32)}).total_params, 322080);
  // Embedding(10000, 32) + four SimpleRNN(32, return_sequences=True).
  std::vector<LayerSpec> stacked{EmbeddingSpec{10000, 32}};
  for (int i = 0; i < 4; ++i) stacked.push_back(rnn(Cell::rnn_tanh, 32, true));
  EXPECT_EQ(summarize(stacked).total_params, 328320);
  // LSTM(32) and GRU(32) on 32 input features.
  EXPECT_EQ(summarize({rnn(Cell::lstm, 32)}, 32).total_params, 8320);
  EXPECT_EQ(summarize({rnn(Cell::gru, 32)}, 32).total_params, 6336);
  // Bidirectional counts both directions.
  EXPECT_EQ(summarize({rnn(Cell::lstm, 32, false, true)}, 32).total_params, 2 * 8320);
  // Bidirectional(LSTM(32, return_sequences=True), merge_mode='sum') + Dense(5): the sum
  // gives 32 features (not 64), so the Dense has 32 * 5 + 5 parameters.
  RecurrentSpec summed = rnn(Cell::lstm, 32, true, true);
  summed.merge_sum = true;
  const ModelSummary sum = summarize({summed, DenseSpec{5}}, 32);
  EXPECT_EQ(sum.total_params, 2 * 8320 + 32 * 5 + 5);
  EXPECT_EQ(sum.rows[0].output_shape, "(None, None, 32)");
  EXPECT_EQ(summarize({rnn(Cell::lstm, 32, true, true), DenseSpec{5}}, 32).rows[0].output_shape, "(None, None, 64)");
  // Dense on the last state: 32 * 1 + 1.
  EXPECT_EQ(summarize({EmbeddingSpec{10000, 32}, rnn(Cell::lstm, 32), DenseSpec{1}}).total_params, 320000 + 8320 + 33);
}

TEST(Summary, PrintsTheKerasTable) {
  const ModelSummary summary = summarize({EmbeddingSpec{10000, 32}, rnn(Cell::rnn_tanh, 32)});
  const std::vector<std::string> expected{
      "Model: \"sequential\"",
      "_________________________________________________________________",
      " Layer (type)                Output Shape              Param #",
      "=================================================================",
      " embedding (Embedding)       (None, None, 32)          320000",
      "",
      " simple_rnn (SimpleRNN)      (None, 32)                2080",
      "",
      "=================================================================",
      "Total params: 322,080",
      "Trainable params: 322,080",
      "Non-trainable params: 0",
      "_________________________________________________________________",
  };
  EXPECT_EQ(summary.lines(), expected);
  std::string joined;
  for (const std::string& line : expected) joined += line + "\n";
  EXPECT_EQ(summary.to_string(), joined);
}

TEST(Summary, NamesShapesAndWrappers) {
  const ModelSummary summary = summarize({EmbeddingSpec{5000, 16}, rnn(Cell::rnn_tanh, 8, true),
                                          rnn(Cell::lstm, 8, true, true), rnn(Cell::lstm, 4, true),
                                          rnn(Cell::rnn_relu, 8, false), DenseSpec{3, true, false}});
  ASSERT_EQ(summary.rows.size(), 6u);
  EXPECT_EQ(summary.rows[1].name, "simple_rnn (SimpleRNN)");
  EXPECT_EQ(summary.rows[1].output_shape, "(None, None, 8)");
  // The Bidirectional wrapper takes the name "bidirectional"; its inner LSTM takes "lstm",
  // so the next LSTM is "lstm_1" (as in Keras).
  EXPECT_EQ(summary.rows[2].name, "bidirectional (Bidirectional)");
  EXPECT_EQ(summary.rows[2].output_shape, "(None, None, 16)");
  EXPECT_EQ(summary.rows[2].params, 2 * 4 * (8 * 8 + 8 * 8 + 8));
  EXPECT_EQ(summary.rows[3].name, "lstm_1 (LSTM)");
  EXPECT_EQ(summary.rows[3].params, 4 * (16 * 4 + 4 * 4 + 4));
  EXPECT_EQ(summary.rows[4].name, "simple_rnn_1 (SimpleRNN)");
  EXPECT_EQ(summary.rows[4].output_shape, "(None, 8)");
  EXPECT_EQ(summary.rows[5].name, "dense (Dense)");
  EXPECT_EQ(summary.rows[5].output_shape, "(None, 3)");
  EXPECT_EQ(summary.non_trainable_params, 8 * 3 + 3);
  EXPECT_EQ(summary.trainable_params + summary.non_trainable_params, summary.total_params);
  EXPECT_EQ(summary.lines()[summary.lines().size() - 2], "Non-trainable params: 27");
}

TEST(Summary, ThousandsSeparators) {
  EXPECT_EQ(with_thousands_separators(0), "0");
  EXPECT_EQ(with_thousands_separators(999), "999");
  EXPECT_EQ(with_thousands_separators(1000), "1,000");
  EXPECT_EQ(with_thousands_separators(322080), "322,080");
  EXPECT_EQ(with_thousands_separators(1234567890), "1,234,567,890");
  EXPECT_EQ(with_thousands_separators(-1234), "-1,234");
}

TEST(Summary, InvalidStacksThrowNamingTheLayer) {
  auto expect_error = [](const std::vector<LayerSpec>& layers, int64_t input, const std::string& needle) {
    try {
      summarize(layers, input);
      ADD_FAILURE() << "accepted; expected " << needle;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(needle), std::string::npos) << error.what();
    }
  };
  expect_error({rnn(Cell::lstm, 8), rnn(Cell::lstm, 8)}, 4, "layer 1: a recurrent layer needs a sequence");
  expect_error({rnn(Cell::lstm, 8), EmbeddingSpec{10, 2}}, 4, "layer 1: Embedding must be the first layer");
  expect_error({rnn(Cell::lstm, 8)}, 0, "layer 0: input_features must be > 0");
  expect_error({EmbeddingSpec{10, 2}, rnn(Cell::gru, 0)}, 0, "layer 1: units must be > 0");
  RecurrentSpec bad_projection = rnn(Cell::gru, 8);
  bad_projection.projection_size = 4;
  expect_error({EmbeddingSpec{10, 2}, bad_projection}, 0, "layer 1: recurrent options: projection_size needs cell lstm");
}

}  // namespace
}  // namespace rnnlab::layers
