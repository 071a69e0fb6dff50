// What a run leaves behind, at its edges: metrics.jsonl on a full disk stops the training
// naming the file; after a resume it holds every point once; a resumed finished run counts
// its test metrics once; per-layer gradient norms averaged across a resume equal the
// uninterrupted ones; a tracker run deleted mid-training warns and training goes on;
// result names and progress lines say what they count.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/trainer/train_test_util.h"
#include "tracking/store.h"
#include "trainer/checkpoint.h"
#include "trainer/train.h"

namespace rnnlab::trainer {
namespace {

namespace fs = std::filesystem;
using testing_util::TempFolder;
using testing_util::tiny_config;

TrainOptions quiet(int64_t stop_after = 0, bool resume = false) {
  TrainOptions options;
  options.quiet = true;
  options.stop_after_steps = stop_after;
  options.resume = resume;
  return options;
}

std::vector<nlohmann::json> read_points(const Config& config) {
  std::ifstream in(fs::path(config.output.dir) / "metrics.jsonl");
  std::vector<nlohmann::json> points;
  for (std::string line; std::getline(in, line);) points.push_back(nlohmann::json::parse(line));
  return points;
}

// (key, step) -> how often it appears; the throughput (a time) is left out.
std::map<std::pair<std::string, int64_t>, int> point_counts(const std::vector<nlohmann::json>& points) {
  std::map<std::pair<std::string, int64_t>, int> counts;
  for (const auto& p : points)
    if (p["key"] != "tokens_per_s") ++counts[{p["key"].get<std::string>(), p["step"].get<int64_t>()}];
  return counts;
}

// (grad_norm/<group>, step) -> value.
std::map<std::pair<std::string, int64_t>, double> grad_norms(const std::vector<nlohmann::json>& points) {
  std::map<std::pair<std::string, int64_t>, double> out;
  for (const auto& p : points) {
    const std::string key = p["key"];
    if (key.rfind("grad_norm/", 0) == 0) out[{key, p["step"].get<int64_t>()}] = p["value"].get<double>();
  }
  return out;
}

TEST(MetricsFile, AFullDiskStopsTheTrainingNamingTheFile) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  config.train.max_steps = 3;
  fs::create_directories(config.output.dir);
  const std::string path = (fs::path(config.output.dir) / "metrics.jsonl").string();
  fs::create_symlink("/dev/full", path);
  try {
    train(config, quiet());
    FAIL() << "training went on with metrics.jsonl on a full disk";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("writing '" + path + "' failed: No space left on device"), std::string::npos) << message;
  }
}

// A training stopped mid-epoch and killed after its checkpoint had logged later steps (and
// cut a line short): the resume drops them, so each point is in the file once, as in an
// uninterrupted run; grad_norm/<group>, the average over the steps since the last
// evaluation, spans the resume and equals the uninterrupted one (bit for bit: same steps,
// same sums); a resume of the finished run logs its test results again, still once.
TEST(Resume, ContinuesTheMetricsFileAndTheGradientNormAverages) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  config.train.epochs = 2;
  config.output.dir = folder.file("whole");
  train(config, quiet());
  const std::vector<nlohmann::json> whole = read_points(config);

  config.output.dir = folder.file("split");
  train(config, quiet(2));
  {
    std::ofstream killed(fs::path(config.output.dir) / "metrics.jsonl", std::ios::app);
    killed << R"({"key":"train_loss","step":3,"time":1,"value":0.5})" << "\n"
           << R"({"key":"train_loss","step":4,"time":1,"value":0.4})" << "\n"
           << R"({"key":"lr","step":4,"ti)";
  }
  train(config, quiet(0, true));
  const std::vector<nlohmann::json> split = read_points(config);
  EXPECT_EQ(point_counts(split), point_counts(whole));
  const auto whole_norms = grad_norms(whole);
  ASSERT_GE(whole_norms.size(), 4u);  // several groups, two epochs
  EXPECT_EQ(grad_norms(split), whole_norms);

  train(config, quiet(0, true));
  EXPECT_EQ(point_counts(read_points(config)), point_counts(whole));
}

TEST(Resume, AFinishedRunCountsItsTestMetricsOnce) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  config.train.max_steps = 4;
  config.output.tracker = folder.file("t.db");
  const TrainResult first = train(config, quiet());
  const TrainResult again = train(config, quiet(0, true));
  ASSERT_EQ(again.run_id, first.run_id);
  tracking::Store store(config.output.tracker);
  int checked = 0;
  for (const auto& summary : store.run_details(first.run_id).metrics) {
    if (summary.key.rfind("test_", 0) != 0 && summary.key.rfind("baseline_test_", 0) != 0) continue;
    EXPECT_EQ(summary.count, 1) << summary.key;
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

// `rnnlab runs delete --force` of the run in training: the trainer warns once and trains
// on; its later checkpoints name no run, and metrics.jsonl has everything.
TEST(Tracker, ARunDeletedWhileTrainingWarnsAndTrainingGoesOn) {
  TempFolder folder;
  Config config = tiny_config("classify", folder);
  config.train.epochs = 3;
  config.output.tracker = folder.file("t.db");
  TrainOptions options = quiet();
  int validations = 0;
  options.on_validation = [&](int64_t, const std::map<std::string, double>&) {
    if (++validations == 1) {
      tracking::Store store(config.output.tracker);
      const auto runs = store.list_runs({});
      EXPECT_THROW(store.delete_runs({runs.at(0).id}), std::invalid_argument);  // running
      EXPECT_EQ(store.delete_runs({runs.at(0).id}, true), 1);
    }
    return true;
  };
  ::testing::internal::CaptureStderr();
  const TrainResult result = train(config, options);
  const std::string errors = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(result.status, tracking::RunStatus::finished);
  EXPECT_EQ(validations, 3);
  EXPECT_NE(errors.find("is no longer in " + config.output.tracker), std::string::npos) << errors;
  EXPECT_NE(errors.find("training goes on"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("misuse"), std::string::npos) << errors;
  EXPECT_FALSE(load_checkpoint(checkpoint_path(config)).metadata.contains("tracker"));
  EXPECT_EQ(point_counts(read_points(config)).count({"test_accuracy", result.steps}), 1u);
}

TEST(Names, CharacterLevelBaselineSaysBpcLikeTheModel) {
  TempFolder folder;
  Config config = tiny_config("language_model", folder);
  config.train.max_steps = 2;
  const TrainResult result = train(config, quiet());
  EXPECT_EQ(result.test.count("bpc"), 1u);
  EXPECT_EQ(result.baseline.count("bpc"), 1u);
  EXPECT_EQ(result.baseline.count("bits_per_token"), 0u);
}

// The epoch line counts the epochs the run will train (max_steps may end it early), and a
// numeric task counts sequences, not tokens.
TEST(Progress, EpochsThatMaxStepsImpliesAndSequencesForNumericTasks) {
  TempFolder folder;
  Config config = tiny_config("forecast", folder);
  config.output.dir = folder.file("probe");
  config.train.epochs = 1;
  const int64_t per_epoch = train(config, quiet()).steps;
  config.train.epochs = 10;
  config.train.max_steps = 2 * per_epoch + 1;  // ends in epoch 3
  config.output.dir = folder.file("run");
  TrainOptions loud;
  ::testing::internal::CaptureStderr();
  train(config, loud);
  const std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(output.find("epoch 1/3  step"), std::string::npos) << output;
  EXPECT_NE(output.find("epoch 2/3  step"), std::string::npos) << output;
  EXPECT_EQ(output.find("epoch 1/10"), std::string::npos) << output;
  EXPECT_NE(output.find(" seq/s"), std::string::npos) << output;
  EXPECT_EQ(output.find("tok/s"), std::string::npos) << output;
}

}  // namespace
}  // namespace rnnlab::trainer
