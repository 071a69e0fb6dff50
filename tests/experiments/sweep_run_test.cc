// Sweeps end to end on the adding problem at T = 10 (a second per trial): a failing trial is
// recorded failed while the others finish; median pruning stops trials that do not learn (lr = 1e-9); a sweep
// process SIGKILLed mid-sweep and resumed gives the table of an uninterrupted sweep.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "experiments/runner.h"
#include "experiments/sweep.h"
#include "tests/experiments/sweep_test_util.h"
#include "tracking/store.h"

namespace rnnlab::experiments {
namespace {

namespace fs = std::filesystem;

using testing_util::kBase;

class SweepRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rnnlab-sweep-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Writes a sweep file into the test folder and returns its path.
  std::string write(const std::string& name, const std::string& body, const std::string& tag = "") {
    const std::string suffix = tag.empty() ? "" : "-" + tag;
    const std::string text = "name: " + name + "\n" + kBase + body + "tracker: " + dir_ + "/runs" + suffix +
                             ".db\noutput_dir: " + dir_ + "/out" + suffix + "\n";
    const std::string path = dir_ + "/" + name + suffix + ".yaml";
    std::ofstream(path) << text;
    return path;
  }

  std::map<std::string, tracking::RunDetails> runs_by_trial(const SweepSpec& spec) {
    tracking::Store store(spec.tracker);
    tracking::RunQuery query;
    query.experiment = spec.experiment;
    query.where = "tags.sweep = '" + spec.name + "'";
    std::map<std::string, tracking::RunDetails> out;
    for (const auto& run : store.list_runs(query)) {
      auto details = store.run_details(run.id);
      out[details.tags["trial_id"]] = details;
    }
    return out;
  }

  void failing_trial_sweep(const std::string& launch);

  std::string dir_;
};

std::string param(const tracking::RunDetails& run, const std::string& key) {
  for (const auto& p : run.params)
    if (p.key == key) return p.value_text;
  return "?";
}

// lr = 1e30 makes the loss overflow: the trainer throws on the non-finite loss (in
// process), or `rnnlab train` exits 1 (process mode, two trials at once).
void SweepRunTest::failing_trial_sweep(const std::string& launch) {
  const SweepSpec spec = load_sweep(write("fails", "parameters:\n"
                                                   "  model.cell: {values: [lstm, gru]}\n"
                                                   "  train.lr: {values: [0.01, 1.0e+30]}\n" + launch));
  SweepOptions options;
  options.quiet = true;
  const SweepResult result = run_sweep(spec, options);
  ASSERT_EQ(result.trials.size(), 4u);
  EXPECT_EQ(result.finished, 2);
  EXPECT_EQ(result.failed, 2);
  for (const auto& outcome : result.trials) {
    const bool huge = outcome.trial.overrides[1] == "train.lr=1.0e+30";
    EXPECT_EQ(outcome.status, huge ? tracking::RunStatus::failed : tracking::RunStatus::finished) << outcome.error;
    if (huge) {
      EXPECT_NE(outcome.error.find("loss"), std::string::npos) << outcome.error;
    }
  }
  // In the tracker: every trial once, tagged, with the status and the error.
  const auto runs = runs_by_trial(spec);
  ASSERT_EQ(runs.size(), 4u);
  for (const auto& outcome : result.trials) {
    const auto& run = runs.at(outcome.trial.id);
    EXPECT_EQ(run.run.status, tracking::to_string(outcome.status));
    EXPECT_EQ(run.run.name, "fails/" + outcome.trial.id);
    EXPECT_EQ(run.tags.at("trial"), std::to_string(outcome.trial.index));
    if (outcome.status == tracking::RunStatus::failed) {
      EXPECT_FALSE(run.run.error.empty());
    }
  }
  // The table holds the finished trials only: one per cell.
  tracking::Store store(spec.tracker);
  const tracking::PivotTable table = store.pivot(table_query(spec));
  ASSERT_EQ(table.cells.size(), 2u);
  for (const auto& cell : table.cells) {
    EXPECT_EQ(cell.n, 1);
    EXPECT_EQ(cell.col, std::vector<std::string>{"0.01"});
  }
  // Running it again without --resume would mix two sweeps: refused.
  EXPECT_THROW(run_sweep(spec, options), std::invalid_argument);
  // With resume nothing is rerun.
  options.resume = true;
  const SweepResult again = run_sweep(spec, options);
  EXPECT_EQ(again.reused, 4);
  EXPECT_EQ(runs_by_trial(spec).size(), 4u);
}

TEST_F(SweepRunTest, FailingTrialIsRecordedFailedAndTheOthersFinishInProcess) { failing_trial_sweep(""); }

TEST_F(SweepRunTest, FailingTrialIsRecordedFailedAndTheOthersFinishAsProcesses) {
  failing_trial_sweep(std::string("launch: {mode: process, parallel: 2, rnnlab: ") + RNNLAB_BINARY + "}\n");
}

TEST_F(SweepRunTest, AshaStopsTrialsThatDoNotLearnAtTheFirstRung) {
  const SweepSpec spec = load_sweep(write("asha", "parameters:\n"
                                                  "  train.lr: {values: [0.02, 1.0e-9]}\n"
                                                  "repeats: 2\n"
                                                  "pruning: {method: asha, min_step: 4, reduction_factor: 2}\n"));
  SweepOptions options;
  options.quiet = true;
  const SweepResult result = run_sweep(spec, options);
  EXPECT_EQ(result.failed, 0);
  EXPECT_GE(result.finished, 1);  // the first trial is alone at every rung
  for (const auto& run : runs_by_trial(spec)) {
    if (std::stod(param(run.second, "train.lr")) > 1e-6) continue;
    EXPECT_EQ(run.second.run.status, "pruned");
    EXPECT_NE(run.second.run.error.find("rung step 4"), std::string::npos) << run.second.run.error;
  }
}

TEST_F(SweepRunTest, MedianPruningStopsTrialsThatDoNotLearn) {
  // lr = 1e-9 never improves on the initial loss; the lr = 0.02 trials (run first) do.
  const SweepSpec spec = load_sweep(write("prune", "parameters:\n"
                                                   "  train.lr: {values: [0.02, 1.0e-9]}\n"
                                                   "repeats: 2\n"
                                                   "metric: {name: val_loss, goal: minimize}\n"
                                                   "pruning: {method: median, warmup_evaluations: 1, min_trials: 2}\n"));
  SweepOptions options;
  options.quiet = true;
  const SweepResult result = run_sweep(spec, options);
  EXPECT_EQ(result.finished, 2);
  EXPECT_EQ(result.pruned, 2);
  for (const auto& run : runs_by_trial(spec)) {
    const bool still = std::stod(param(run.second, "train.lr")) < 1e-6;
    EXPECT_EQ(run.second.run.status, still ? "pruned" : "finished");
    int64_t last_step = 0;
    for (const auto& m : run.second.metrics)
      if (m.key == "train_loss") last_step = m.last_step;
    // 256 * 0.8 / 32 = 6 batches an epoch at most, 2 epochs: pruned ones stop early.
    if (still) {
      EXPECT_EQ(last_step, 8) << "pruned at its second evaluation";
      EXPECT_NE(run.second.run.error.find("median"), std::string::npos) << run.second.run.error;
    }
  }
}

using testing_util::start_rnnlab;
using testing_util::wait_exit;

TEST_F(SweepRunTest, ResumeAfterSigkillGivesTheUninterruptedTable) {
  const std::string body =
      "parameters:\n"
      "  model.cell: {values: [rnn_tanh, gru]}\n"
      "  model.layers: {values: [1, 2]}\n"
      "repeats: 2\n";
  // Reference: the same sweep, uninterrupted, in this process.
  const SweepSpec reference_spec = load_sweep(write("resume", body, "reference"));
  SweepOptions options;
  options.quiet = true;
  ASSERT_EQ(run_sweep(reference_spec, options).finished, 8);

  const std::string path = write("resume", body);
  const SweepSpec spec = load_sweep(path);
  const std::string log = dir_ + "/sweep.log";
  const pid_t sweep = start_rnnlab({"sweep", path}, log);
  // Kill it once two trials are done and a third has written a checkpoint, or at a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool mid_trial = false;
  while (std::chrono::steady_clock::now() < deadline && !mid_trial) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int checkpoints = 0;
    if (fs::exists(spec.output_dir + "/trials"))
      for (const auto& entry : fs::directory_iterator(spec.output_dir + "/trials"))
        checkpoints += fs::exists(entry.path() / "checkpoint.safetensors");
    mid_trial = checkpoints >= 3;
  }
  ASSERT_TRUE(mid_trial) << "the sweep did not get going; log: " << log;
  ASSERT_EQ(::kill(sweep, SIGKILL), 0);
  ASSERT_EQ(wait_exit(sweep), 128 + SIGKILL);

  const pid_t resumed = start_rnnlab({"sweep", path, "--resume"}, log);
  ASSERT_EQ(wait_exit(resumed), 0) << std::ifstream(log).rdbuf();
  // Every trial finished once (an interrupted trial continued in its own run).
  const auto runs = runs_by_trial(spec);
  EXPECT_EQ(runs.size(), 8u);
  for (const auto& [id, run] : runs) EXPECT_EQ(run.run.status, "finished") << id;

  tracking::Store reference_store(reference_spec.tracker), store(spec.tracker);
  const auto expected = reference_store.pivot(table_query(reference_spec));
  const auto actual = store.pivot(table_query(spec));
  ASSERT_EQ(actual.cells.size(), expected.cells.size());
  ASSERT_EQ(actual.cells.size(), 4u);
  for (size_t i = 0; i < expected.cells.size(); ++i) {
    EXPECT_EQ(actual.cells[i].row, expected.cells[i].row);
    EXPECT_EQ(actual.cells[i].col, expected.cells[i].col);
    EXPECT_EQ(actual.cells[i].n, 2);
    EXPECT_EQ(actual.cells[i].n, expected.cells[i].n);
    EXPECT_DOUBLE_EQ(actual.cells[i].mean, expected.cells[i].mean);
    EXPECT_DOUBLE_EQ(actual.cells[i].std, expected.cells[i].std);
  }
  // The output says it picked up the earlier trials.
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_NE(text.str().find("from before"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace rnnlab::experiments
