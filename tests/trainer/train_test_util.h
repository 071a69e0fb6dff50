// Shared fixtures of the trainer tests: a temporary folder and tiny configs for every task,
// small enough that a few dozen steps take well under a second on one thread.
#pragma once

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "trainer/config.h"

namespace rnnlab::trainer::testing_util {

// A fresh folder under the system temp dir, removed by the destructor.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "rnnlab_train_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(file(name), std::ios::binary) << content;
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

// ~1000 characters of a few repeated sentences: a model learns the bigrams in a few steps.
inline std::string tiny_text() {
  std::string text;
  const char* lines[] = {"the cat sat on the mat. ", "a dog ran to the cat. ", "the mat is red. "};
  for (int i = 0; i < 48; ++i) text += lines[(i * 7) % 3];
  return text;
}

// Sentiment-like examples whose label is given by one word; lengths 2..6 vary so batches
// come from several equal-length buckets.
inline std::string tiny_tsv() {
  std::string text;
  const char* fill[] = {"the", "film", "was", "a", "plot"};
  for (int i = 0; i < 160; ++i) {
    const bool positive = (i * 5 + i / 3) % 2 == 0;
    text += positive ? "pos\t" : "neg\t";
    const int length = 2 + i % 5;
    for (int w = 0; w < length; ++w) text += (w == (i % length) ? (positive ? "good" : "bad") : fill[(i + w) % 5]) + std::string(" ");
    text += "\n";
  }
  return text;
}

inline std::string tiny_tagged() {
  std::string text;
  const char* sentences[] = {"the/DT cat/NN sat/VBD ./.", "a/DT dog/NN ran/VBD to/TO the/DT mat/NN ./.",
                             "the/DT red/JJ mat/NN is/VBZ here/RB ./.", "dogs/NNS run/VBP ./."};
  for (int i = 0; i < 120; ++i) text += std::string(sentences[(i * 3 + i / 4) % 4]) + "\n";
  return text;
}

inline std::string tiny_series() {
  std::string text = "value\n";
  for (int i = 0; i < 400; ++i) text += std::to_string(50.0 + 40.0 * std::sin(i * 0.3) + 5.0 * std::sin(i * 1.7)) + "\n";
  return text;
}

// A small, fast config for `task` ("language_model_word" selects word level), data files
// written into `folder`. One thread, batches of 8, tiny model, output into the folder.
inline Config tiny_config(const std::string& task, const TempFolder& folder, const std::string& backend = "onednn") {
  Config config;
  config.task = task == "language_model_word" ? "language_model" : task;
  config.model.embedding_size = 8;
  config.model.hidden_size = 16;
  config.model.cell = "lstm";
  config.model.backend = backend;
  config.train.batch_size = 8;
  config.train.epochs = 4;
  config.train.optimizer = "adam";
  config.train.lr = 0.02;
  config.train.threads = 1;
  config.train.seed = 7;
  config.output.dir = folder.file("run");
  config.data.val_fraction = 0.1;
  config.data.test_fraction = 0.1;
  if (task == "language_model" || task == "language_model_word") {
    config.data.dataset = "file";
    config.data.path = folder.write("text.txt", tiny_text());
    config.data.level = task == "language_model" ? "char" : "word";
    config.data.seq_len = task == "language_model" ? 12 : 4;
    config.train.batch_size = task == "language_model" ? 4 : 2;
  } else if (task == "classify") {
    config.data.dataset = "file";
    config.data.path = folder.write("labels.tsv", tiny_tsv());
  } else if (task == "tag") {
    config.data.dataset = "file";
    config.data.path = folder.write("tagged.txt", tiny_tagged());
  } else if (task == "forecast") {
    config.data.dataset = "file";
    config.data.path = folder.write("series.csv", tiny_series());
    config.data.window = 8;
    config.train.batch_size = 16;
  } else if (task == "adding") {
    config.data.dataset = "adding";
    config.data.seq_len = 8;
    config.data.train_size = 256;
    config.data.test_size = 32;
    config.train.batch_size = 16;
  } else if (task == "copy") {
    config.data.dataset = "copy";
    config.data.copy_symbols = 4;
    config.data.copy_length = 3;
    config.data.seq_len = 8;
    config.data.train_size = 256;
    config.data.test_size = 32;
    config.train.batch_size = 16;
  }
  validate_config(config);
  return config;
}

}  // namespace rnnlab::trainer::testing_util
