// The training loop end to end on tiny data: every task's loss falls on both CPU backends;
// the same config, seed and threads give bit-identical losses; a run stopped and resumed
// from its checkpoint continues with exactly the uninterrupted loss curve; a corrupt
// checkpoint given to resume is an error naming the file; a diverging run stops naming the
// step and leaves the previous checkpoint loadable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "tests/trainer/train_test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/train.h"
#include "tracking/store.h"

namespace rnnlab::trainer {
namespace {

using testing_util::TempFolder;
using testing_util::tiny_config;

TrainOptions quiet() {
  TrainOptions options;
  options.quiet = true;
  return options;
}

double mean(const std::vector<double>& v, size_t begin, size_t end) {
  return std::accumulate(v.begin() + long(begin), v.begin() + long(end), 0.0) / double(end - begin);
}

class LossFalls : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(LossFalls, OverAFewDozenSteps) {
  const auto& [task, backend] = GetParam();
  TempFolder folder;
  Config config = tiny_config(task, folder, backend);
  config.train.epochs = 50;
  config.train.max_steps = 40;
  const TrainResult result = train(config, quiet());
  ASSERT_EQ(result.status, tracking::RunStatus::finished);
  ASSERT_EQ(result.train_losses.size(), 40u);
  for (double loss : result.train_losses) ASSERT_TRUE(std::isfinite(loss));
  // Means of the first and last 5 steps: single steps are noisy, these are not.
  const double first = mean(result.train_losses, 0, 5), last = mean(result.train_losses, 35, 40);
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", last / first);
  RecordProperty("last_over_first", text);
  EXPECT_LT(last, 0.8 * first) << task << " on " << backend << ": first " << first << ", last " << last;
  EXPECT_FALSE(result.test.empty());
  EXPECT_TRUE(std::filesystem::exists(checkpoint_path(config)));
  EXPECT_TRUE(std::filesystem::exists(folder.file("run/metrics.jsonl")));
}

INSTANTIATE_TEST_SUITE_P(
    EveryTask, LossFalls,
    ::testing::Combine(::testing::Values("language_model", "language_model_word", "classify", "tag", "forecast",
                                         "adding", "copy"),
                       ::testing::Values("onednn", "reference")),
    [](const auto& test) { return std::get<0>(test.param) + "_" + std::get<1>(test.param); });

// The two CPU backends follow the same curve (to float rounding) through the whole loop:
// same initial weights, same data order, same dropout masks.
TEST(TrainBackends, OneDnnAndReferenceTrainAlike) {
  for (const std::string task : {"language_model", "tag", "forecast"}) {
    TempFolder a, b;
    Config onednn = tiny_config(task, a, "onednn"), reference = tiny_config(task, b, "reference");
    for (Config* config : {&onednn, &reference}) {
      config->train.max_steps = 20;
      config->model.layers = 2;
      config->model.bidirectional = task == "tag";
    }
    const auto x = train(onednn, quiet()).train_losses, y = train(reference, quiet()).train_losses;
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-4 * std::fabs(y[i]) + 1e-6) << task << " step " << i + 1;
  }
}

TEST(Determinism, SameSeedSameLossesOtherSeedOtherLosses) {
  for (const std::string task : {"language_model", "classify"}) {
    TempFolder a, b, c;
    Config config_a = tiny_config(task, a), config_b = tiny_config(task, b), config_c = tiny_config(task, c);
    for (Config* config : {&config_a, &config_b, &config_c}) {
      config->train.max_steps = 15;
      config->model.dropout = 0.2;
      config->model.layers = 2;
    }
    config_c.train.seed = 8;
    const auto losses_a = train(config_a, quiet()).train_losses;
    const auto losses_b = train(config_b, quiet()).train_losses;
    const auto losses_c = train(config_c, quiet()).train_losses;
    ASSERT_EQ(losses_a.size(), 15u);
    EXPECT_EQ(losses_a, losses_b) << task;  // bit-identical doubles
    EXPECT_NE(losses_a, losses_c) << task;
  }
}

// Steps of one epoch, from a one-epoch run into a scratch folder.
int64_t steps_per_epoch(Config config) {
  TempFolder probe;
  config.output.dir = probe.file("run");
  config.train.epochs = 1;
  config.train.max_steps = 0;
  return train(config, quiet()).steps;
}

// Uninterrupted losses vs. the concatenation of a run stopped after `stop_after` steps
// (checkpoint written on stop) and its resumed rest.
// `carried`: whether the stop falls mid-epoch of a language model, so the checkpoint must
// hold the hidden state the next batch continues from.
void expect_resume_equals_uninterrupted(Config config, int64_t stop_after, const std::string& what,
                                        bool carried = false) {
  TempFolder whole_dir, split_dir;
  config.output.dir = whole_dir.file("run");
  const TrainResult whole = train(config, quiet());
  ASSERT_EQ(whole.status, tracking::RunStatus::finished) << what;

  config.output.dir = split_dir.file("run");
  TrainOptions first = quiet();
  first.stop_after_steps = stop_after;
  const TrainResult part1 = train(config, first);
  ASSERT_EQ(part1.status, tracking::RunStatus::killed) << what;
  ASSERT_EQ(part1.steps, stop_after) << what;
  if (carried) {  // (other tasks may store a state too; their batches never continue it)
    const Checkpoint saved = load_checkpoint(checkpoint_path(config));
    EXPECT_NE(saved.find("carried.h"), nullptr) << what;
    EXPECT_EQ(saved.find("carried.c") != nullptr, config.model.cell == "lstm") << what;
  }
  TrainOptions second = quiet();
  second.resume = true;
  const TrainResult part2 = train(config, second);
  ASSERT_EQ(part2.status, tracking::RunStatus::finished) << what;
  std::vector<double> joined = part1.train_losses;
  joined.insert(joined.end(), part2.train_losses.begin(), part2.train_losses.end());
  ASSERT_EQ(joined.size(), whole.train_losses.size()) << what;
  for (size_t i = 0; i < joined.size(); ++i) EXPECT_EQ(joined[i], whole.train_losses[i]) << what << ", step " << i + 1;
  EXPECT_EQ(part2.test, whole.test) << what;
}

TEST(Resume, LanguageModelMidEpochCarriesTheHiddenState) {
  TempFolder folder;
  Config config = tiny_config("language_model", folder);
  config.train.epochs = 2;
  config.model.layers = 2;
  config.model.dropout = 0.1;
  config.train.optimizer = "adam";
  // Several batches per epoch, and the stop falls between two of them.
  ASSERT_GT(steps_per_epoch(config), 4);
  for (const std::string cell : {"lstm", "gru"}) {
    config.model.cell = cell;
    expect_resume_equals_uninterrupted(config, 3, "language_model " + cell + " stopped at step 3", true);
  }
}

// The check above would see a lost hidden state: resuming from the same checkpoint with
// the carried tensors removed gives another loss right at the first resumed step.
TEST(Resume, WithoutTheCarriedStateTheCurveDiffers) {
  TempFolder whole_dir, split_dir;
  Config config = tiny_config("language_model", whole_dir);
  config.train.epochs = 1;
  const TrainResult whole = train(config, quiet());
  config.output.dir = split_dir.file("run");
  TrainOptions first = quiet();
  first.stop_after_steps = 3;
  train(config, first);
  const Checkpoint saved = load_checkpoint(checkpoint_path(config));
  std::vector<TensorRef> kept;
  for (const auto& t : saved.tensors)
    if (t.name.rfind("carried.", 0) != 0) kept.push_back({t.name, t.shape, t.data.data()});
  ASSERT_LT(kept.size(), saved.tensors.size());
  save_checkpoint(checkpoint_path(config), kept, saved.metadata);
  TrainOptions second = quiet();
  second.resume = true;
  const TrainResult rest = train(config, second);
  ASSERT_FALSE(rest.train_losses.empty());
  EXPECT_NE(rest.train_losses[0], whole.train_losses[3]);
}

TEST(Resume, ClassifyWithDropoutAndAdam) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  config.train.epochs = 3;
  config.model.dropout = 0.3;
  config.model.layers = 2;
  config.model.bidirectional = true;
  config.train.optimizer = "adam";
  config.train.schedule = "cosine";
  config.train.warmup_steps = 3;
  expect_resume_equals_uninterrupted(config, 5, "classify stopped at step 5");
}

TEST(Resume, AtAnEpochEndAndWithPeriodicCheckpoints) {
  TempFolder folder;
  Config config = tiny_config("language_model", folder);
  config.train.epochs = 3;
  const int64_t per_epoch = steps_per_epoch(config);
  ASSERT_GT(per_epoch, 2);
  expect_resume_equals_uninterrupted(config, per_epoch, "language_model stopped at the end of epoch 1");
  config.output.checkpoint_every = 2;
  config.train.optimizer = "sgd";
  config.train.momentum = 0.9;
  config.train.nesterov = true;
  config.train.lr = 0.5;
  expect_resume_equals_uninterrupted(config, per_epoch + 1, "sgd, checkpoint_every 2, stopped 1 step into epoch 2",
                                     true);
}

// With a tracker, the resumed training continues the same run, so its curve holds every
// evaluation: also when the stop came after the last step (checkpoint written, run not yet
// marked finished), where the resumed training has no step left to log.
TEST(Resume, ContinuesTheTrackerRunEvenAfterTheLastStep) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  config.train.epochs = 2;
  const int64_t total = 2 * steps_per_epoch(config);
  config.output.tracker = folder.file("whole.db");
  config.output.dir = folder.file("whole");
  const TrainResult whole = train(config, quiet());
  for (const int64_t stop_after : {int64_t(1), total}) {
    config.output.tracker = folder.file("split" + std::to_string(stop_after) + ".db");
    config.output.dir = folder.file("split" + std::to_string(stop_after));
    TrainOptions first = quiet();
    first.stop_after_steps = stop_after;
    const TrainResult part1 = train(config, first);
    TrainOptions second = quiet();
    second.resume = true;
    const TrainResult part2 = train(config, second);
    EXPECT_EQ(part2.run_id, part1.run_id) << "stopped after " << stop_after;
    tracking::Store store(config.output.tracker);
    EXPECT_EQ(store.run_details(part2.run_id).run.status, "finished");
    tracking::Store whole_store(folder.file("whole.db"));
    for (const std::string key : {"val_loss", "train_loss", "test_accuracy"}) {
      const auto expected = whole_store.metric_history(whole.run_id, key);
      const auto actual = store.metric_history(part2.run_id, key);
      ASSERT_EQ(actual.size(), expected.size()) << key << ", stopped after " << stop_after;
      for (size_t i = 0; i < actual.size(); ++i) {
        EXPECT_EQ(actual[i].step, expected[i].step) << key;
        EXPECT_EQ(actual[i].value, expected[i].value) << key << " at step " << actual[i].step;
      }
    }
  }
}

TEST(Resume, CorruptCheckpointIsAnErrorNamingTheFile) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  TrainOptions stop = quiet();
  stop.stop_after_steps = 2;
  train(config, stop);
  const std::string path = checkpoint_path(config);
  const std::uintmax_t size = std::filesystem::file_size(path);
  for (const std::uintmax_t keep : {std::uintmax_t(0), std::uintmax_t(5), size / 2, size - 3}) {
    std::filesystem::resize_file(path, keep);
    TrainOptions resume = quiet();
    resume.resume = true;
    try {
      train(config, resume);
      ADD_FAILURE() << "resume from a checkpoint truncated to " << keep << " bytes did not throw";
    } catch (const std::exception& error) {
      EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
    }
  }
  std::filesystem::remove(path);
  TrainOptions resume = quiet();
  resume.resume = true;
  EXPECT_THROW(train(config, resume), std::invalid_argument);
}

TEST(Resume, CheckpointOfAnotherModelSizeNamesTheTensor) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  TrainOptions stop = quiet();
  stop.stop_after_steps = 1;
  train(config, stop);
  config.model.hidden_size = 12;
  TrainOptions resume = quiet();
  resume.resume = true;
  try {
    train(config, resume);
    FAIL() << "resume into another model size did not throw";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("weight"), std::string::npos) << error.what();
  }
}

TEST(Divergence, NaNLossStopsNamingTheStepAndKeepsTheLastCheckpoint) {
  TempFolder folder;
  Config config = tiny_config("language_model", folder);
  config.train.optimizer = "sgd";
  config.train.lr = 1e38;
  config.train.clip_norm = 0;
  config.output.checkpoint_every = 1;
  try {
    train(config, quiet());
    FAIL() << "lr = 1e38 trained without a non-finite loss";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("step "), std::string::npos) << message;
    EXPECT_NE(message.find("loss"), std::string::npos) << message;
  }
  // Checkpoint of the last finite step (or none if the first step diverged already).
  if (std::filesystem::exists(checkpoint_path(config))) {
    EXPECT_NO_THROW(load_checkpoint(checkpoint_path(config)));
  }
}

}  // namespace
}  // namespace rnnlab::trainer
