// Text generation from a language-model checkpoint: feed the prime text, then sample one
// token at a time from softmax(logits / temperature), optionally from the top k only.
// Sampling draws from layers::RandomStream, so a seed reproduces a sample exactly.
//
// Failure: a missing, corrupt or non-language-model checkpoint throws std::invalid_argument /
// std::runtime_error naming it. A prime that is empty after tokenisation, or (character
// level) holds a character the vocabulary lacks, throws std::invalid_argument naming the
// characters and their positions (1-based). At word level an unknown word becomes <unk>,
// which the model learned for rare words, and a warning on stderr names the words.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "trainer/config.h"
#include "trainer/model.h"

namespace rnnlab::trainer {

struct GenerateOptions {
  std::string prime = "The ";
  int length = 300;          // tokens to generate
  double temperature = 1.0;  // > 0; lower is more conservative
  int top_k = 0;             // 0 = sample from every token
  uint64_t seed = 0;
  std::string backend;       // empty: the checkpoint's own; e.g. "reference"
};

// A model restored from a checkpoint with the config and data metadata it was trained with.
struct LoadedModel {
  Config config;
  nlohmann::json task_data;  // TaskData::metadata() at training time
  std::unique_ptr<Model> model;
};
LoadedModel load_model(const std::string& checkpoint_path, const std::string& backend = "");

// The prime followed by `length` generated tokens, decoded.
std::string generate_text(const std::string& checkpoint_path, const GenerateOptions& options);

}  // namespace rnnlab::trainer
