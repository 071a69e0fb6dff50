// model.init and model.embedding_init (trainer/model.cc): the embedding table's scheme can
// be chosen on its own; `auto` follows model.init, so `model.init: keras` alone is exactly
// Keras (uniform(-0.05, 0.05) embeddings) and `pytorch` alone exactly PyTorch (N(0, 1)); the
// other parameters do not change when only the embedding's scheme does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "tests/trainer/train_test_util.h"
#include "trainer/data/task_data.h"
#include "trainer/model.h"

namespace rnnlab::trainer {
namespace {

using testing_util::TempFolder;
using testing_util::tiny_config;

struct Parts {
  std::vector<float> embedding, rest;
};

Parts parameters(const std::string& init, const std::string& embedding_init) {
  TempFolder folder;
  Config config = tiny_config("language_model", folder);
  config.model.init = init;
  config.model.embedding_init = embedding_init;
  validate_config(config);
  const auto task_data = data::make_task_data(config);
  const Model model(model_spec(config, task_data->info()), config.train.seed);
  Parts parts;
  for (const ParamSegment& segment : model.segments()) {
    std::vector<float>& dst = segment.name == "embedding.weight" ? parts.embedding : parts.rest;
    dst.insert(dst.end(), model.params() + segment.offset, model.params() + segment.offset + segment.size());
  }
  return parts;
}

double max_abs(const std::vector<float>& values) {
  double m = 0;
  for (float v : values) m = std::max(m, double(std::abs(v)));
  return m;
}

double rms(const std::vector<float>& values) {
  double s = 0;
  for (float v : values) s += double(v) * double(v);
  return std::sqrt(s / double(values.size()));
}

TEST(ModelInit, EmbeddingSchemeIsChosenOnItsOwn) {
  const Parts keras = parameters("keras", "auto");
  const Parts pytorch = parameters("pytorch", "auto");
  const Parts keras_normal = parameters("keras", "pytorch");
  const Parts pytorch_uniform = parameters("pytorch", "keras");
  ASSERT_GT(keras.embedding.size(), 100u);

  // auto follows model.init.
  EXPECT_LE(max_abs(keras.embedding), 0.05);
  EXPECT_NEAR(rms(pytorch.embedding), 1.0, 0.15);
  EXPECT_EQ(keras.embedding, parameters("keras", "keras").embedding);
  EXPECT_EQ(pytorch.embedding, parameters("pytorch", "pytorch").embedding);

  // Only the embedding changes.
  EXPECT_EQ(keras_normal.embedding, pytorch.embedding);
  EXPECT_EQ(keras_normal.rest, keras.rest);
  EXPECT_EQ(pytorch_uniform.embedding, keras.embedding);
  EXPECT_EQ(pytorch_uniform.rest, pytorch.rest);
  EXPECT_NE(keras.rest, pytorch.rest);
}

TEST(ModelInit, AutoResolvesPerTaskAndNamedSchemesStay) {
  const auto init_of = [](const std::string& yaml) { return parse_config(yaml, "inline.yaml").model.init; };
  const std::pair<const char*, const char*> expected[] = {
      {"task: language_model\n", "pytorch"},
      {"task: forecast\n", "pytorch"},
      {"task: classify\n", "keras"},
      {"task: tag\n", "keras"},
      {"task: adding\n", "keras"},
      {"task: copy\n", "keras"},
      {"task: language_model\nmodel:\n  init: keras\n", "keras"},
      {"task: classify\nmodel:\n  init: pytorch\n", "pytorch"},
  };
  for (const auto& [yaml, init] : expected) EXPECT_EQ(init_of(yaml), init) << yaml;
}

TEST(ModelInit, UnknownEmbeddingSchemeNamesTheKey) {
  try {
    parse_config("task: language_model\nmodel:\n  embedding_init: glorot\n", "inline.yaml");
    FAIL() << "no error";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("model.embedding_init"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace rnnlab::trainer
