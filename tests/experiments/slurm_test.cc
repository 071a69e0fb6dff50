// launch.mode slurm on a real one-node Slurm cluster (tests/experiments/slurm_cluster.sh,
// started once for all tests here): a sweep through Slurm gives the process-mode table; a
// cancelled job marks its trial failed with Slurm's state; a sweep SIGKILLed and resumed
// follows its jobs again instead of submitting them twice; pruning cancels the job; the warning before the time
// limit (SIGUSR1 to the batch shell) checkpoints, requeues, and the requeued job finishes
// the curve of an uninterrupted training; a 2-rank trial (srun --mpi=pmix). Every test
// skips, loudly, where the daemons cannot start (not root, slurm-wlm missing).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "experiments/launch.h"
#include "experiments/runner.h"
#include "experiments/slurm.h"
#include "experiments/sweep.h"
#include "tests/experiments/sweep_test_util.h"
#include "tracking/store.h"

namespace rnnlab::experiments {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string g_unavailable;  // why there is no cluster ("" when there is one)

class SlurmCluster : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string output;
    const int code = detail::capture({RNNLAB_SLURM_CLUSTER, "start", RNNLAB_SLURM_DIR}, &output);
    std::fprintf(stderr, "%s", output.c_str());
    if (code != 0) {
      g_unavailable = output.empty() ? "slurm_cluster.sh exit code " + std::to_string(code) : output;
      std::fprintf(stderr, "SKIP: no Slurm cluster: every Slurm test skips: %s\n", g_unavailable.c_str());
      return;
    }
    ::setenv("SLURM_CONF", (std::string(RNNLAB_SLURM_DIR) + "/slurm.conf").c_str(), 1);
    ::setenv("PATH", (std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin") + ":/usr/sbin").c_str(), 1);
  }
  void TearDown() override {
    std::string output;
    detail::capture({RNNLAB_SLURM_CLUSTER, "stop", RNNLAB_SLURM_DIR}, &output);
  }
};

const ::testing::Environment* const kCluster = ::testing::AddGlobalTestEnvironment(new SlurmCluster);

using testing_util::kBase;

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_unavailable.empty()) GTEST_SKIP() << "no Slurm cluster: " << g_unavailable;
    char pattern[] = "/tmp/rnnlab-slurm-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
  }

  std::string write(const std::string& name, const std::string& body, const std::string& launch) {
    const std::string text = "name: " + name + "\n" + kBase + body + launch + "tracker: " + dir_ + "/" + name +
                             ".db\noutput_dir: " + dir_ + "/" + name + "\n";
    const std::string path = dir_ + "/" + name + ".yaml";
    std::ofstream(path) << text;
    return path;
  }
  static std::string slurm_launch(const std::string& more = ", parallel: 2") {
    return std::string("launch: {mode: slurm, rnnlab: ") + RNNLAB_BINARY + ", poll_seconds: 0.3" + more + "}\n";
  }

  std::map<std::string, tracking::RunDetails> runs_by_trial(const SweepSpec& spec) {
    tracking::Store store(spec.tracker);
    tracking::RunQuery query;
    query.experiment = spec.experiment;
    std::map<std::string, tracking::RunDetails> out;
    for (const auto& run : store.list_runs(query)) {
      auto details = store.run_details(run.id);
      out[details.tags["trial_id"]] = details;
    }
    return out;
  }

  std::string dir_;
};

// Every job Slurm knows by name (squeue --states=all: MinJobAge keeps ended ones).
std::multiset<std::string> job_names() {
  std::string output;
  detail::capture({"squeue", "--noheader", "--states=all", "--format=%j"}, &output);
  std::multiset<std::string> names;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) names.insert(line);
  return names;
}

using testing_util::start_rnnlab;
using testing_util::wait_exit;

std::string read(const std::string& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

// Waits up to `seconds` for `done`; false on the deadline.
template <typename Done>
bool wait_for(Done done, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The trial's job id from the sweep's job book ("" while it has none).
std::string recorded_job(const SweepSpec& spec, const std::string& trial_id) {
  const std::string path = spec.output_dir + "/slurm_jobs.json";
  if (!fs::exists(path)) return "";
  const detail::JobBook book(path);
  const detail::JobBook::Entry* entry = book.find(trial_id);
  return entry ? entry->job : "";
}

bool has_train_loss(const SweepSpec& spec, const Trial& trial) {
  return read(spec.output_dir + "/trials/" + trial.id + "/metrics.jsonl").find("train_loss") != std::string::npos;
}

TEST_F(SlurmTest, SweepThroughSlurmGivesTheProcessModeTable) {
  const std::string body = "parameters:\n  model.cell: {values: [rnn_tanh, gru, lstm]}\nrepeats: 2\n";
  const SweepSpec reference =
      load_sweep(write("reference", body, std::string("launch: {mode: process, parallel: 2, rnnlab: ") + RNNLAB_BINARY + "}\n"));
  const SweepSpec spec = load_sweep(write("cells", body, slurm_launch()));
  SweepOptions options;
  options.quiet = true;
  ASSERT_EQ(run_sweep(reference, options).finished, 6);
  const SweepResult result = run_sweep(spec, options);
  ASSERT_EQ(result.finished, 6);
  for (const auto& outcome : result.trials) {
    const std::string log = read(spec.output_dir + "/trials/" + outcome.trial.id + "/train.log");
    EXPECT_NE(log.find("rnnlab sweep: job "), std::string::npos) << "not run by Slurm: " << log;
    EXPECT_NE(read(spec.output_dir + "/trials/" + outcome.trial.id + "/job.sbatch").find("srun --ntasks=1"),
              std::string::npos);
  }
  tracking::Store expected_store(reference.tracker), store(spec.tracker);
  const auto expected = expected_store.pivot(table_query(reference));
  const auto actual = store.pivot(table_query(spec));
  ASSERT_EQ(actual.cells.size(), 3u);
  ASSERT_EQ(actual.cells.size(), expected.cells.size());
  for (size_t i = 0; i < expected.cells.size(); ++i) {
    EXPECT_EQ(actual.cells[i].row, expected.cells[i].row);
    EXPECT_EQ(actual.cells[i].n, 2);
    EXPECT_DOUBLE_EQ(actual.cells[i].mean, expected.cells[i].mean);
    EXPECT_DOUBLE_EQ(actual.cells[i].std, expected.cells[i].std);
  }
  // Each trial was submitted once, and the book forgets jobs that ended.
  const auto names = job_names();
  for (const auto& outcome : result.trials) EXPECT_EQ(names.count(trial_run_name(spec, outcome.trial)), 1u);
  EXPECT_EQ(read(spec.output_dir + "/slurm_jobs.json").find("\"job\""), std::string::npos);
}

TEST_F(SlurmTest, CancelledJobMarksItsTrialFailedWithSlurmsState) {
  // Two trials: one of 2 epochs, one that would train for minutes; the second is cancelled.
  const SweepSpec spec =
      load_sweep(write("cancel", "parameters:\n  train.epochs: {values: [2, 100000]}\n", slurm_launch()));
  const auto trials = expand_trials(spec);
  const Trial& endless = trials[1];
  const std::string log = dir_ + "/cancel.log";
  const pid_t sweep = start_rnnlab({"sweep", spec.path}, log);
  ASSERT_TRUE(wait_for([&] { return has_train_loss(spec, endless); }, 60)) << read(log);
  const std::string job = recorded_job(spec, endless.id);
  ASSERT_FALSE(job.empty());
  std::string output;
  ASSERT_EQ(detail::capture({"scancel", job}, &output), 0) << output;
  EXPECT_EQ(wait_exit(sweep), 0) << read(log);  // one trial finished: there is a table
  const auto runs = runs_by_trial(spec);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs.at(trials[0].id).run.status, "finished");
  const auto& cancelled = runs.at(endless.id).run;
  EXPECT_EQ(cancelled.status, "failed");
  EXPECT_NE(cancelled.error.find("slurm job " + job + " CANCELLED"), std::string::npos) << cancelled.error;
  // and slurmstepd's line from the job's log ("*** STEP 8.0 ON vm CANCELLED AT ... ***")
  EXPECT_NE(cancelled.error.find(" CANCELLED AT "), std::string::npos) << cancelled.error;
  EXPECT_NE(read(log).find("CANCELLED"), std::string::npos) << read(log);
}

TEST_F(SlurmTest, PrunedTrialsJobIsCancelled) {
  // lr = 1e-9 never improves on the initial loss; the lr = 0.02 trials (run first) do.
  // 40 epochs (320 steps) of T = 100 and 64 units take seconds, so the sweep has time to see
  // the evaluations and scancel (T = 10 with 8 units finished in 0.6 s on a quiet machine,
  // before the job could be cancelled).
  const SweepSpec spec = load_sweep(write("prune",
                                          "parameters:\n  train.lr: {values: [0.02, 1.0e-9]}\n"
                                          "  train.epochs: {values: [40]}\n  data.seq_len: {values: [100]}\n"
                                          "  model.hidden_size: {values: [64]}\nrepeats: 2\n"
                                          "pruning: {method: median, warmup_evaluations: 1, min_trials: 2}\n",
                                          slurm_launch()));
  SweepOptions options;
  options.quiet = true;
  const SweepResult result = run_sweep(spec, options);
  EXPECT_EQ(result.finished, 2);
  EXPECT_EQ(result.pruned, 2);
  const auto names = job_names();
  for (const auto& outcome : result.trials) {
    if (outcome.status != tracking::RunStatus::pruned) continue;
    EXPECT_NE(outcome.error.find("median"), std::string::npos) << outcome.error;
    const std::string log = read(spec.output_dir + "/trials/" + outcome.trial.id + "/train.log");
    EXPECT_NE(log.find("CANCELLED"), std::string::npos) << "not cancelled by Slurm: " << log;
    EXPECT_EQ(log.find("finished after"), std::string::npos) << log;
  }
  for (const auto& [id, run] : runs_by_trial(spec))
    EXPECT_TRUE(run.run.status == "finished" || run.run.status == "pruned") << id << ": " << run.run.status;
}

TEST_F(SlurmTest, SweepKilledAndResumedFollowsItsJobsWithoutSubmittingThemAgain) {
  const SweepSpec spec = load_sweep(write(
      "reattach",
      // T = 100 and 64 units: seconds of training, so both jobs are still running when the
      // sweep is killed (T = 10 with 8 units finishes 800 steps in about 1.5 s).
      "parameters:\n  model.cell: {values: [rnn_tanh, gru]}\n  train.epochs: {values: [100]}\n"
      "  data.seq_len: {values: [100]}\n  model.hidden_size: {values: [64]}\n",
      slurm_launch()));
  const auto trials = expand_trials(spec);
  const std::string log = dir_ + "/reattach.log";
  const pid_t sweep = start_rnnlab({"sweep", spec.path}, log);
  // Killed once both jobs are submitted and training.
  ASSERT_TRUE(wait_for([&] { return has_train_loss(spec, trials[0]) && has_train_loss(spec, trials[1]); }, 60))
      << read(log);
  ASSERT_EQ(::kill(sweep, SIGKILL), 0);
  ASSERT_EQ(wait_exit(sweep), 128 + SIGKILL);
  const std::string first = recorded_job(spec, trials[0].id), second = recorded_job(spec, trials[1].id);
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  // Killing the sweep cancelled nothing: both still train.
  EXPECT_EQ(detail::slurm_job(first).state, "RUNNING");
  EXPECT_EQ(detail::slurm_job(second).state, "RUNNING");

  const pid_t resumed = start_rnnlab({"sweep", spec.path, "--resume"}, log);
  ASSERT_EQ(wait_exit(resumed), 0) << read(log);
  const auto runs = runs_by_trial(spec);
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& [id, run] : runs) EXPECT_EQ(run.run.status, "finished") << id << ": " << run.run.error;
  const auto names = job_names();
  for (const Trial& trial : trials) EXPECT_EQ(names.count(trial_run_name(spec, trial)), 1u) << "submitted twice";
  for (const Trial& trial : trials) {
    const std::string job_log = read(spec.output_dir + "/trials/" + trial.id + "/train.log");
    EXPECT_EQ(job_log.find("resuming"), std::string::npos) << "the job was resubmitted: " << job_log;
  }
}

// The train_loss curve of a trial's run, by step.
std::map<int64_t, double> curve(const SweepSpec& spec, int64_t run_id) {
  tracking::Store store(spec.tracker);
  std::map<int64_t, double> points;
  for (const auto& point : store.metric_history(run_id, "train_loss")) points[point.step] = point.value;
  return points;
}

TEST_F(SlurmTest, TimeLimitWarningCheckpointsAndTheRequeuedJobFinishesTheCurve) {
  // 240 steps of T = 100 and 64 units, a few seconds; the warning comes while it trains.
  const std::string body =
      "parameters:\n  train.epochs: {values: [30]}\n  data.seq_len: {values: [100]}\n"
      "  model.hidden_size: {values: [64]}\n";
  const SweepSpec reference = load_sweep(write("uninterrupted", body, ""));
  const SweepSpec spec = load_sweep(write("requeue", body, slurm_launch(", time: 10, signal_seconds: 300")));
  SweepOptions options;
  options.quiet = true;
  const SweepResult expected = run_sweep(reference, options);
  ASSERT_EQ(expected.finished, 1);
  const Trial trial = expand_trials(spec)[0];

  SweepResult result;
  std::thread sweep([&] { result = run_sweep(spec, options); });
  const bool training = wait_for([&] { return has_train_loss(spec, trial); }, 60);
  const std::string job = recorded_job(spec, trial.id);
  std::string output;
  // What --signal=B:USR1@300 sends at 300 s before the time limit: SIGUSR1 to the batch shell.
  if (training && !job.empty()) detail::capture({"scancel", "--batch", "--signal=USR1", job}, &output);
  sweep.join();
  ASSERT_TRUE(training);
  ASSERT_FALSE(job.empty());
  ASSERT_EQ(result.finished, 1) << result.trials[0].error;
  const std::string log = read(spec.output_dir + "/trials/" + trial.id + "/train.log");
  EXPECT_NE(log.find("requeueing job " + job), std::string::npos) << log;
  EXPECT_NE(log.find("(restart 1)"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming from the checkpoint"), std::string::npos) << log;
  // One run, continued by the requeued job, with the uninterrupted run's curve.
  const auto runs = runs_by_trial(spec);
  ASSERT_EQ(runs.size(), 1u);
  const auto actual = curve(spec, result.trials[0].run_id);
  const auto wanted = curve(reference, expected.trials[0].run_id);
  ASSERT_EQ(actual.size(), wanted.size());
  ASSERT_EQ(actual.size(), 240u);
  for (const auto& [step, value] : wanted) EXPECT_NEAR(actual.at(step), value, 1e-6) << "step " << step;
}

TEST_F(SlurmTest, JobSlurmRefusesStopsTheSweepWithSbatchsMessage) {
  const SweepSpec spec = load_sweep(write("refused", "parameters:\n  model.cell: {values: [gru]}\n",
                                          slurm_launch(", partition: nosuch")));
  SweepOptions options;
  options.quiet = true;
  try {
    run_sweep(spec, options);
    ADD_FAILURE() << "a job for partition 'nosuch' was accepted";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("sbatch"), std::string::npos) << message;
    EXPECT_NE(message.find("job.sbatch"), std::string::npos) << message;
    EXPECT_NE(message.find("partition"), std::string::npos) << message;
  }
}

TEST_F(SlurmTest, TwoRankTrialTrainsDataParallelThroughSrunPmix) {
  const SweepSpec spec =
      load_sweep(write("ranks", "parameters:\n  model.cell: {values: [gru]}\n", slurm_launch(", ranks: 2")));
  SweepOptions options;
  options.quiet = true;
  const SweepResult result = run_sweep(spec, options);
  ASSERT_EQ(result.finished, 1) << result.trials[0].error;
  const auto runs = runs_by_trial(spec);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs.begin()->second.run.ranks, 2);
  EXPECT_NE(read(spec.output_dir + "/trials/" + result.trials[0].trial.id + "/job.sbatch")
                .find("srun --ntasks=2 --mpi=pmix"),
            std::string::npos);
}

}  // namespace
}  // namespace rnnlab::experiments
