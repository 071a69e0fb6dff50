// Text generation from a tiny trained language model: a seed reproduces a sample, another
// seed changes it, top-k = 1 is greedy whatever the seed, unknown prime characters are
// named, and bad checkpoints (another task, truncated, missing) are errors that name the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "tests/trainer/train_test_util.h"
#include "trainer/generate.h"
#include "trainer/train.h"

namespace rnnlab::trainer {
namespace {

using testing_util::TempFolder;
using testing_util::tiny_config;

class Generate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = new TempFolder;
    Config config = tiny_config("language_model", *folder_);
    config.train.max_steps = 30;
    TrainOptions options;
    options.quiet = true;
    train(config, options);
    lm_path_ = new std::string(checkpoint_path(config));
  }
  static void TearDownTestSuite() {
    delete lm_path_;
    delete folder_;
  }
  static GenerateOptions sample(uint64_t seed, int top_k = 0) {
    GenerateOptions options;
    options.prime = "the ";
    options.length = 60;
    options.temperature = 1.0;
    options.seed = seed;
    options.top_k = top_k;
    return options;
  }

  static TempFolder* folder_;
  static std::string* lm_path_;
};
TempFolder* Generate::folder_ = nullptr;
std::string* Generate::lm_path_ = nullptr;

TEST_F(Generate, SeedReproducesTheSampleAndAnotherSeedChangesIt) {
  const std::string a = generate_text(*lm_path_, sample(1));
  EXPECT_EQ(a.rfind("the ", 0), 0u) << "the sample starts with the prime";
  EXPECT_EQ(a.size(), 4u + 60u) << "character level: one character per token";
  EXPECT_EQ(generate_text(*lm_path_, sample(1)), a);
  EXPECT_NE(generate_text(*lm_path_, sample(2)), a);
}

TEST_F(Generate, TopKOneIsGreedyWhateverTheSeed) {
  const std::string greedy = generate_text(*lm_path_, sample(1, 1));
  EXPECT_EQ(generate_text(*lm_path_, sample(2, 1)), greedy);
  GenerateOptions cold = sample(3, 1);
  cold.temperature = 0.1;
  EXPECT_EQ(generate_text(*lm_path_, cold), greedy);
}

TEST_F(Generate, ReferenceBackendGivesTheGreedySampleOfOneDnn) {
  GenerateOptions options = sample(1, 1);
  options.length = 20;
  const std::string onednn = generate_text(*lm_path_, options);
  options.backend = "reference";
  EXPECT_EQ(generate_text(*lm_path_, options), onednn);
}

TEST_F(Generate, BadOptionsAreUserErrors) {
  GenerateOptions options = sample(1);
  options.temperature = 0;
  EXPECT_THROW(generate_text(*lm_path_, options), std::invalid_argument);
  options = sample(1);
  options.length = -1;
  EXPECT_THROW(generate_text(*lm_path_, options), std::invalid_argument);
  options = sample(1);
  options.prime = "";
  EXPECT_THROW(generate_text(*lm_path_, options), std::invalid_argument);
}

// generate.h: at character level a prime character the training text never had is an
// error naming it and its position; at word level an unknown word becomes <unk>.
TEST_F(Generate, UnknownPrimeCharactersAreNamedWithTheirPositions) {
  GenerateOptions options = sample(1);
  options.prime = "the Zebra#";
  try {
    generate_text(*lm_path_, options);
    FAIL() << "a prime with unknown characters generated text";
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'Z' at character 5"), std::string::npos) << message;
    EXPECT_NE(message.find("'b' at character 7"), std::string::npos) << message;
    EXPECT_NE(message.find("'#' at character 10"), std::string::npos) << message;
    EXPECT_EQ(message.find("'e' at"), std::string::npos) << message;  // known characters are not listed
  }
}

// The checkpoint of a `max_steps` training of tiny_config(task) in `folder`.
std::string train_tiny(const std::string& task, const TempFolder& folder, int64_t max_steps) {
  Config config = tiny_config(task, folder);
  config.train.max_steps = max_steps;
  TrainOptions options;
  options.quiet = true;
  train(config, options);
  return checkpoint_path(config);
}

TEST(GenerateWords, UnknownWordsBecomeUnk) {
  TempFolder folder;
  GenerateOptions options;
  options.prime = "the zebra";
  options.length = 3;
  const std::string text = generate_text(train_tiny("language_model_word", folder, 3), options);
  EXPECT_EQ(text.rfind("the <unk>", 0), 0u) << text;
}

TEST(GenerateErrors, NonLanguageModelCheckpointIsRefused) {
  TempFolder folder;
  const std::string path = train_tiny("classify", folder, 2);
  try {
    generate_text(path, GenerateOptions{});
    FAIL() << "a classify checkpoint generated text";
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("language_model"), std::string::npos) << message;
    EXPECT_NE(message.find("classify"), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
}

TEST(GenerateErrors, TruncatedOrMissingCheckpointNamesTheFile) {
  TempFolder folder;
  const std::string path = train_tiny("language_model", folder, 2);
  const std::uintmax_t size = std::filesystem::file_size(path);
  for (const std::uintmax_t keep : {size - 1, size / 2, std::uintmax_t(12), std::uintmax_t(0)}) {
    std::filesystem::resize_file(path, keep);
    try {
      generate_text(path, GenerateOptions{});
      ADD_FAILURE() << "checkpoint truncated to " << keep << " bytes generated text";
    } catch (const std::exception& error) {
      EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
    }
  }
  EXPECT_THROW(generate_text(folder.file("nothing.safetensors"), GenerateOptions{}), std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::trainer
