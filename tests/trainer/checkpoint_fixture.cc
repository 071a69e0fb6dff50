// Writes a checkpoint shaped like torch.nn.LSTM(input_size=3, hidden_size=4, num_layers=2,
// bidirectional=True) under the prefix "rnn.", plus optimizer state under "optimizer.", for
// torch_load_check.py. Value j of the k-th tensor is sin(0.37 * j + k) (double, then float),
// which the script recomputes.
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "trainer/checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.safetensors\n", argv[0]);
    return 2;
  }
  const int64_t input = 3, hidden = 4, gates = 4;
  std::vector<std::pair<std::string, std::vector<int64_t>>> layout;
  for (int layer = 0; layer < 2; ++layer) {
    const int64_t layer_input = layer == 0 ? input : 2 * hidden;
    for (const std::string suffix : {"", "_reverse"}) {
      const std::string tag = "_l" + std::to_string(layer) + suffix;
      layout.push_back({"rnn.weight_ih" + tag, {gates * hidden, layer_input}});
      layout.push_back({"rnn.weight_hh" + tag, {gates * hidden, hidden}});
      layout.push_back({"rnn.bias_ih" + tag, {gates * hidden}});
      layout.push_back({"rnn.bias_hh" + tag, {gates * hidden}});
    }
  }
  layout.push_back({"optimizer.exp_avg", {7}});
  std::vector<std::vector<float>> values(layout.size());
  std::vector<rnnlab::trainer::TensorRef> tensors;
  for (size_t k = 0; k < layout.size(); ++k) {
    int64_t count = 1;
    for (int64_t dim : layout[k].second) count *= dim;
    for (int64_t j = 0; j < count; ++j) values[k].push_back(float(std::sin(0.37 * double(j) + double(k))));
    tensors.push_back({layout[k].first, layout[k].second, values[k].data()});
  }
  try {
    rnnlab::trainer::save_checkpoint(argv[1], tensors, {{"step", 7}, {"config", {{"model.cell", "lstm"}}}});
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
  return 0;
}
