// train.early_stopping.restore_best (Keras's restore_best_weights): a run ends with the
// parameters of its best validation, in memory (its test metrics) and in its final
// checkpoint, whether it stops early or runs to the end; a resumed run does the same as an
// uninterrupted one (the best copy travels in the checkpoint); the key needs a metric.
//
// "The parameters of the best evaluation" are checked against a second run of the same
// config cut at the best step (max_steps; constant learning rate, so the cut does not change
// the schedule): its final parameters are the ones the first run had at that step.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tests/trainer/train_test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/train.h"

namespace rnnlab::trainer {
namespace {

using testing_util::TempFolder;
using testing_util::tiny_config;

struct Observed {
  TrainResult result;
  std::vector<std::pair<int64_t, double>> val_loss;  // (step, val loss) of every validation
};

Observed run(const Config& config, int64_t stop_after = 0, bool resume = false) {
  Observed observed;
  TrainOptions options;
  options.quiet = true;
  options.stop_after_steps = stop_after;
  options.resume = resume;
  options.on_validation = [&](int64_t step, const std::map<std::string, double>& metrics) {
    observed.val_loss.emplace_back(step, metrics.at("loss"));
    return true;
  };
  observed.result = train(config, options);
  return observed;
}

// Step of the first strictly best validation loss (the trainer's "better" is strict).
std::pair<int64_t, double> best_of(const std::vector<std::pair<int64_t, double>>& val_loss) {
  std::pair<int64_t, double> best = val_loss.at(0);
  for (const auto& point : val_loss)
    if (point.second < best.second) best = point;
  return best;
}

// The model tensors of a checkpoint (no training state), by name.
std::map<std::string, std::vector<float>> model_tensors(const std::string& path) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& t : load_checkpoint(path).tensors)
    if (t.name.rfind("optimizer.", 0) != 0 && t.name.rfind("carried.", 0) != 0 &&
        t.name.rfind("early_stopping.", 0) != 0)
      out[t.name] = t.data;
  return out;
}

// A word-level LM that overfits its tiny text: validation loss falls, then rises.
Config overfitting_config(const TempFolder& folder) {
  Config config = tiny_config("language_model_word", folder);
  config.train.epochs = 12;
  config.train.lr = 0.05;
  config.train.eval_every = 5;
  config.train.early_stopping.metric = "val_loss";
  config.train.early_stopping.patience = 1000;  // never stops early unless a test lowers it
  config.train.early_stopping.restore_best = true;
  validate_config(config);
  return config;
}

void expect_ends_with_best(const Config& config, const std::string& what) {
  const Observed full = run(config);
  ASSERT_FALSE(full.val_loss.empty()) << what;
  const auto [best_step, best_loss] = best_of(full.val_loss);
  ASSERT_LT(best_step, full.result.steps) << what << ": the best validation is the last step, nothing to restore";

  TempFolder cut_dir;
  Config cut = config;
  cut.output.dir = cut_dir.file("run");
  cut.train.max_steps = best_step;
  cut.train.early_stopping.restore_best = false;
  const Observed at_best = run(cut);
  ASSERT_EQ(at_best.result.status, tracking::RunStatus::finished) << what;
  ASSERT_EQ(at_best.val_loss.back().first, best_step) << what;
  EXPECT_EQ(at_best.val_loss.back().second, best_loss) << what;

  // Test metrics of the restored model = test metrics of the weights at the best step.
  EXPECT_EQ(full.result.test, at_best.result.test) << what;
  // The final checkpoint holds those weights too.
  EXPECT_EQ(model_tensors(checkpoint_path(config)), model_tensors(checkpoint_path(cut))) << what;

  // Without restore_best the run ends elsewhere (so the check above could fail).
  TempFolder plain_dir;
  Config plain = config;
  plain.output.dir = plain_dir.file("run");
  plain.train.early_stopping.restore_best = false;
  const Observed last = run(plain);
  EXPECT_EQ(last.result.train_losses, full.result.train_losses) << what << ": restore_best changed training";
  EXPECT_NE(last.result.test, full.result.test) << what;
}

TEST(RestoreBest, RunToTheEndEndsWithTheBestValidationsWeights) {
  TempFolder folder;
  expect_ends_with_best(overfitting_config(folder), "12 epochs, no early stop");
}

TEST(RestoreBest, EarlyStoppedRunEndsWithTheBestValidationsWeights) {
  TempFolder folder;
  Config config = overfitting_config(folder);
  config.train.early_stopping.patience = 2;
  const Observed probe = run(config);
  ASSERT_EQ(probe.result.status, tracking::RunStatus::early_stopped);
  std::filesystem::remove_all(config.output.dir);
  expect_ends_with_best(config, "patience 2");
}

// Resuming the checkpoint of an early stop trains no further: same status, no step, the
// same test metrics (before, a resume trained on through the remaining epochs).
TEST(EarlyStopping, ResumeOfAnEarlyStoppedRunTrainsNoFurther) {
  TempFolder folder;
  Config config = overfitting_config(folder);
  config.train.early_stopping.patience = 2;
  for (const bool restore_best : {false, true}) {
    config.train.early_stopping.restore_best = restore_best;
    std::filesystem::remove_all(config.output.dir);
    const Observed stopped = run(config);
    ASSERT_EQ(stopped.result.status, tracking::RunStatus::early_stopped);
    ASSERT_LT(stopped.result.epochs, config.train.epochs) << "epochs are left to train";
    const Observed resumed = run(config, 0, true);
    EXPECT_EQ(resumed.result.status, tracking::RunStatus::early_stopped) << "restore_best " << restore_best;
    EXPECT_TRUE(resumed.result.train_losses.empty()) << "restore_best " << restore_best;
    EXPECT_EQ(resumed.result.steps, stopped.result.steps);
    EXPECT_EQ(resumed.result.test, stopped.result.test) << "restore_best " << restore_best;
  }
}

TEST(RestoreBest, ResumeEqualsUninterrupted) {
  TempFolder whole_dir, split_dir;
  Config config = overfitting_config(whole_dir);
  const Observed whole = run(config);
  const auto [best_step, best_loss] = best_of(whole.val_loss);
  ASSERT_LT(best_step, whole.result.steps);

  // Stopped after the best validation, so the checkpoint must carry the best copy.
  config.output.dir = split_dir.file("run");
  const Observed part1 = run(config, std::min(best_step + 3, whole.result.steps - 1));
  ASSERT_EQ(part1.result.status, tracking::RunStatus::killed);
  EXPECT_NE(load_checkpoint(checkpoint_path(config)).find("early_stopping.best_params"), nullptr);
  const Observed part2 = run(config, 0, true);
  ASSERT_EQ(part2.result.status, tracking::RunStatus::finished);
  std::vector<double> joined = part1.result.train_losses;
  joined.insert(joined.end(), part2.result.train_losses.begin(), part2.result.train_losses.end());
  EXPECT_EQ(joined, whole.result.train_losses);
  EXPECT_EQ(part2.result.test, whole.result.test);
  EXPECT_EQ(model_tensors(checkpoint_path(config)), model_tensors(whole_dir.file("run/checkpoint.safetensors")));
}

TEST(RestoreBest, NeedsAMetric) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  config.train.early_stopping.restore_best = true;
  try {
    validate_config(config);
    FAIL() << "restore_best without a metric was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("train.early_stopping.restore_best"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace rnnlab::trainer
