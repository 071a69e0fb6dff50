// evaluate_checkpoint (what `rnnlab evaluate` runs): a finished run's checkpoint evaluated
// on test gives exactly the test metrics the run logged, for every task; on val, the last
// validation; other data given by overrides is read with the checkpoint's vocabulary
// (unseen words become <unk>, a tag the model cannot output is counted but not scored);
// missing and corrupt checkpoints and overrides that would change the model are errors
// naming the culprit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "tests/trainer/train_test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/evaluate.h"
#include "trainer/train.h"

namespace rnnlab::trainer {
namespace {

using testing_util::TempFolder;
using testing_util::tiny_config;

TrainResult quiet_train(const Config& config) {
  TrainOptions options;
  options.quiet = true;
  return train(config, options);
}

template <typename Error, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class EvaluateEveryTask : public ::testing::TestWithParam<std::string> {};

TEST_P(EvaluateEveryTask, EqualsTheTestMetricsTheRunLogged) {
  TempFolder folder;
  Config config = tiny_config(GetParam(), folder);
  config.train.epochs = 2;
  const TrainResult trained = quiet_train(config);
  ASSERT_EQ(trained.status, tracking::RunStatus::finished);
  ASSERT_FALSE(trained.test.empty());

  const EvaluateResult test = evaluate_checkpoint(checkpoint_path(config));
  EXPECT_EQ(test.metrics, trained.test);
  EXPECT_EQ(test.baseline, trained.baseline);
  EXPECT_EQ(test.step, trained.steps);
  EXPECT_GT(test.examples, 0);

  EvaluateOptions val_options;
  val_options.split = "val";
  EXPECT_EQ(evaluate_checkpoint(checkpoint_path(config), val_options).metrics, trained.validation);
}

INSTANTIATE_TEST_SUITE_P(Tasks, EvaluateEveryTask,
                         ::testing::Values("language_model", "language_model_word", "classify", "tag", "forecast",
                                           "adding", "copy"));

TEST(Evaluate, RestoreBestCheckpointGivesTheBestValidation) {
  TempFolder folder;
  Config config = tiny_config("language_model_word", folder);
  config.train.epochs = 12;
  config.train.lr = 0.05;
  config.train.eval_every = 5;
  config.train.early_stopping.metric = "val_loss";
  config.train.early_stopping.patience = 1000;
  config.train.early_stopping.restore_best = true;
  // This curve overfits (a later validation is worse than the best) with Keras's scheme; the
  // test is about restore_best, so it names the scheme rather than follow the default.
  config.model.init = "keras";
  validate_config(config);
  double best = INFINITY;
  TrainOptions options;
  options.quiet = true;
  options.on_validation = [&](int64_t, const std::map<std::string, double>& metrics) {
    best = std::min(best, metrics.at("loss"));
    return true;
  };
  const TrainResult trained = train(config, options);
  EvaluateOptions val_options;
  val_options.split = "val";
  EXPECT_EQ(evaluate_checkpoint(checkpoint_path(config), val_options).metrics.at("loss"), best);
  EXPECT_NE(trained.validation.at("loss"), best) << "the last validation was the best: the check is void";
  EXPECT_EQ(evaluate_checkpoint(checkpoint_path(config)).metrics, trained.test);
}

// A tagger evaluated on another tagged file: the same sentences give the same accuracy
// (the checkpoint's vocabulary, not one rebuilt from the new file), new words are <unk>.
TEST(Evaluate, OtherDataUsesTheCheckpointsVocabulary) {
  TempFolder folder;
  Config config = tiny_config("tag", folder);
  const TrainResult trained = quiet_train(config);

  // The same file under another name: identical metrics.
  const std::string copy = folder.write("copy.txt", testing_util::tiny_tagged());
  EvaluateOptions same;
  same.overrides = {"data.path=" + copy};
  EXPECT_EQ(evaluate_checkpoint(checkpoint_path(config), same).metrics, trained.test);

  // Different sentences, with words never seen in training: evaluated on its own test split.
  std::string other;
  for (int i = 0; i < 40; ++i)
    other += i % 2 ? "the/DT zebra/NN ran/VBD ./.\n" : "a/DT red/JJ giraffe/NN is/VBZ here/RB ./.\n";
  const std::string other_path = folder.write("other.txt", other);
  EvaluateOptions options;
  options.overrides = {"data.path=" + other_path, "data.test_fraction=0.5"};
  const EvaluateResult result = evaluate_checkpoint(checkpoint_path(config), options);
  EXPECT_EQ(result.examples, 20);
  EXPECT_GT(result.metrics.at("accuracy"), 0.0);
  EXPECT_LE(result.metrics.at("accuracy"), 1.0);
  EXPECT_EQ(result.config.data.path, other_path);

  // Tags the model cannot output (in every sentence, so the test split has them): not
  // scored, counted, and counted wrong in accuracy_counting_unscored.
  std::string odd;
  for (int i = 0; i < 40; ++i) odd += "the/DT cat/XYZ sat/VBD ./.\n";
  EvaluateOptions odd_options;
  odd_options.overrides = {"data.path=" + folder.write("odd.txt", odd), "data.test_fraction=0.5"};
  const EvaluateResult odd_result = evaluate_checkpoint(checkpoint_path(config), odd_options);
  EXPECT_EQ(odd_result.unscored, 20);
  const double scored = odd_result.metrics.at("accuracy");
  EXPECT_DOUBLE_EQ(odd_result.metrics.at("accuracy_counting_unscored"), scored * 60.0 / 80.0);
  EXPECT_EQ(result.unscored, 0);
  EXPECT_EQ(result.metrics.count("accuracy_counting_unscored"), 0u);
}

TEST(Evaluate, ErrorsNameTheCheckpointTheKeyOrTheSplit) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  config.train.epochs = 1;
  quiet_train(config);
  const std::string path = checkpoint_path(config);

  std::string message = error_of<std::invalid_argument>([&] { evaluate_checkpoint(folder.file("absent.safetensors")); });
  EXPECT_TRUE(contains(message, "absent.safetensors")) << message;

  // Truncated.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string truncated = folder.write("truncated.safetensors", bytes.substr(0, bytes.size() / 2));
  message = error_of<std::runtime_error>([&] { evaluate_checkpoint(truncated); });
  EXPECT_TRUE(contains(message, "truncated.safetensors")) << message;

  EvaluateOptions shape;
  shape.overrides = {"model.hidden_size=32"};
  message = error_of<std::invalid_argument>([&] { evaluate_checkpoint(path, shape); });
  EXPECT_TRUE(contains(message, "model.hidden_size")) << message;

  EvaluateOptions split;
  split.split = "dev";
  message = error_of<std::invalid_argument>([&] { evaluate_checkpoint(path, split); });
  EXPECT_TRUE(contains(message, "dev")) << message;

  EvaluateOptions empty;
  empty.overrides = {"data.test_fraction=0"};
  message = error_of<std::invalid_argument>([&] { evaluate_checkpoint(path, empty); });
  EXPECT_TRUE(contains(message, "empty")) << message;
}

}  // namespace
}  // namespace rnnlab::trainer
