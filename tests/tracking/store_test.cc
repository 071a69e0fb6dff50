// The store: what the tracker writes (params, summaries, tags, artifacts, statuses), the
// query API on the fixture, schema creation/migration, and concurrent creation.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <thread>

#include "tests/tracking/fixture.h"
#include "tracking/detail/schema.h"
#include "tracking/detail/sqlite_db.h"
#include "tracking/detail/store_access.h"
#include "tracking/detail/writer.h"
#include "tracking/store.h"
#include "tracking/tracker.h"

namespace rnnlab::tracking {
namespace {

using testing::TempDir;

TEST(Flatten, DottedKeysTypedValues) {
  nlohmann::json config = {{"model", {{"cell", "lstm"}, {"layers", 2}, {"bidirectional", true}}},
                           {"train", {{"lr", "1e-3"}, {"sizes", {1, 2}}, {"note", nullptr}}}};
  std::map<std::string, detail::FlatParam> by_key;
  for (auto& param : detail::flatten_config(config)) by_key[param.key] = param;
  ASSERT_EQ(by_key.size(), 6u);
  EXPECT_EQ(by_key["model.cell"].kind, "string");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(by_key["model.cell"].value_num));
  EXPECT_EQ(std::get<int64_t>(by_key["model.layers"].value_num), 2);
  EXPECT_EQ(by_key["model.bidirectional"].value_text, "true");
  EXPECT_DOUBLE_EQ(std::get<double>(by_key["train.lr"].value_num), 1e-3);  // numeric string
  EXPECT_EQ(by_key["train.sizes"].value_text, "[1,2]");
  EXPECT_EQ(by_key["train.note"].kind, "null");
}

TEST(Tracker, WritesRunParamsSummaryTagsArtifacts) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  int64_t run_id = 0;
  {
    TrackerOptions options;
    options.flush_every_points = 3;
    Tracker tracker(path, options);
    RunInfo info;
    info.experiment = "e1";
    info.config = {{"model", {{"cell", "gru"}}}};
    info.tags = {{"owner", "track"}};
    info.host = "h";
    info.ranks = 4;
    info.backend = "onednn";
    info.rnnlab_version = "0.1.0";
    info.git_commit = "deadbeef";
    run_id = tracker.start_run(info);
    const double values[] = {3.0, 1.0, 5.0, NAN, 0.5, 4.0};
    for (int step = 0; step < 6; ++step) tracker.log_metric("loss", step * 10, values[step]);
    tracker.log_metric("loss", 20, 0.25);  // a step logged again replaces its value
    tracker.set_tag("phase", "done");
    tracker.log_artifact("ckpt/a.bin", "checkpoint", 50);
    EXPECT_THROW(tracker.start_run(info), std::logic_error);
    tracker.finish(RunStatus::finished);
    EXPECT_THROW(tracker.log_metric("loss", 1, 1.0), std::logic_error);
  }
  Store store(path);
  RunDetails details = store.run_details(run_id);
  EXPECT_EQ(details.run.name, "run-" + std::to_string(run_id));
  EXPECT_EQ(details.run.status, "finished");
  EXPECT_EQ(details.run.ranks, 4);
  EXPECT_EQ(details.run.git_commit, "deadbeef");
  EXPECT_TRUE(details.run.end_time.has_value());
  EXPECT_EQ(nlohmann::json::parse(details.config_json)["model"]["cell"], "gru");
  ASSERT_EQ(details.params.size(), 1u);
  EXPECT_EQ(details.params[0].key, "model.cell");
  EXPECT_EQ(details.tags.at("owner"), "track");
  EXPECT_EQ(details.tags.at("phase"), "done");
  ASSERT_EQ(details.artifacts.size(), 1u);
  EXPECT_EQ(*details.artifacts[0].step, 50);
  ASSERT_EQ(details.metrics.size(), 1u);
  const MetricSummary& loss = details.metrics[0];
  EXPECT_EQ(loss.last_step, 50);
  EXPECT_EQ(loss.last_value, 4.0);
  EXPECT_EQ(loss.min_value, 0.25);  // the replacing value; NaN never counts
  EXPECT_EQ(loss.min_step, 20);
  // The summary describes the points as they are now: the replaced 5.0 is gone, and the
  // step logged twice counts once.
  EXPECT_EQ(loss.max_value, 4.0);
  EXPECT_EQ(loss.max_step, 50);
  EXPECT_EQ(loss.count, 6);
  std::vector<MetricPoint> history = store.metric_history(run_id, "loss");
  ASSERT_EQ(history.size(), 6u);
  EXPECT_EQ(history[2].step, 20);
  EXPECT_EQ(history[2].value, 0.25);
  EXPECT_TRUE(std::isnan(history[3].value));  // NaN is stored as NULL, read back as NaN
  EXPECT_EQ(store.experiments(), std::vector<std::string>{"e1"});
}

TEST(Tracker, TimedFlushAndHeartbeatWithoutFurtherCalls) {
  TempDir dir;
  TrackerOptions options;
  options.flush_every_seconds = 0.05;
  options.heartbeat_seconds = 0.05;
  options.stale_after_seconds = 1.5;
  Tracker tracker(dir.file("t.db"), options);
  RunInfo info;
  int64_t id = tracker.start_run(info);
  tracker.log_metric("loss", 0, 1.0);
  Store store(dir.file("t.db"));
  // Polls (no fixed sleeps that a loaded machine could outrun): the background thread
  // writes the point and refreshes the heartbeat with no further call.
  for (int i = 0; i < 500 && store.metric_history(id, "loss").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(store.metric_history(id, "loss").size(), 1u);
  const double first = store.run_details(id).run.heartbeat_at;
  for (int i = 0; i < 500 && store.run_details(id).run.heartbeat_at <= first; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(store.run_details(id).run.heartbeat_at, first);
  // Alive past stale_after_seconds: the heartbeat keeps it running for a new reader.
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  Store reopened(dir.file("t.db"));
  EXPECT_EQ(reopened.run_details(id).run.status, "running");
}

TEST(Tracker, DestroyedWhileRunningMarksFailed) {
  TempDir dir;
  int64_t id = 0;
  {
    Tracker tracker(dir.file("t.db"));
    id = tracker.start_run(RunInfo{});
    tracker.log_metric("loss", 0, 1.0);
  }
  Store store(dir.file("t.db"));
  RunDetails details = store.run_details(id);
  EXPECT_EQ(details.run.status, "failed");
  EXPECT_NE(details.run.error.find("still running"), std::string::npos);
  EXPECT_EQ(store.metric_history(id, "loss").size(), 1u);
}

// A resumed training continues its run: points after the checkpoint's step go (they are
// logged again), the summary is rebuilt from what stays, the status is running again.
TEST(Tracker, ResumeRunDropsLaterPointsAndRebuildsTheSummary) {
  TempDir dir;
  int64_t id = 0;
  {
    Tracker tracker(dir.file("t.db"));
    id = tracker.start_run(RunInfo{});
    for (int step = 1; step <= 6; ++step) tracker.log_metric("loss", step, step == 5 ? 0.1 : 1.0 / step);
    tracker.finish(RunStatus::killed, "stopped");
  }
  Tracker tracker(dir.file("t.db"));
  tracker.resume_run(id, 4);
  EXPECT_EQ(tracker.run_id(), id);
  {
    Store store(dir.file("t.db"));
    const RunDetails details = store.run_details(id);
    EXPECT_EQ(details.run.status, "running");
    EXPECT_TRUE(details.run.error.empty()) << details.run.error;
    EXPECT_EQ(details.tags.at("resumed"), "1");
    ASSERT_EQ(details.metrics.size(), 1u);
    const MetricSummary& loss = details.metrics[0];
    EXPECT_EQ(loss.count, 4);
    EXPECT_EQ(loss.last_step, 4);
    EXPECT_DOUBLE_EQ(loss.last_value, 0.25);
    EXPECT_DOUBLE_EQ(loss.min_value, 0.25);  // step 5's 0.1 is gone
    EXPECT_EQ(loss.min_step, 4);
    EXPECT_DOUBLE_EQ(loss.max_value, 1.0);
    EXPECT_EQ(loss.max_step, 1);
  }
  tracker.log_metric("loss", 5, 0.5);
  tracker.finish(RunStatus::finished);
  Store store(dir.file("t.db"));
  EXPECT_EQ(store.run_details(id).run.status, "finished");
  EXPECT_EQ(store.metric_history(id, "loss").size(), 5u);
  EXPECT_THROW(Tracker(dir.file("t.db")).resume_run(id + 100, 0), std::invalid_argument);
}

class StoreFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    testing::write_fixture(dir_->file("fixture.db"));
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
};
TempDir* StoreFixture::dir_ = nullptr;

TEST_F(StoreFixture, BestUsesGoalAndValue) {
  Store store(dir_->file("fixture.db"));
  auto best = store.best_runs("val_loss", Goal::minimize, MetricValue::best, "", "", 3);
  ASSERT_EQ(best.size(), 3u);
  EXPECT_EQ(best[0].run.name, "lstm-1-s0");
  EXPECT_NEAR(best[0].value, testing::fixture_loss(0, 1, 0, 9), 1e-12);
  EXPECT_EQ(best[0].step, 9);
  EXPECT_EQ(best[1].run.name, "lstm-1-s1");
  auto worst = store.best_runs("val_loss", Goal::maximize, MetricValue::last, "sweep", "", 1);
  ASSERT_EQ(worst.size(), 1u);
  EXPECT_EQ(worst[0].run.name, "rnn_tanh-10-s1");
  auto filtered = store.best_runs("val_loss", Goal::minimize, MetricValue::best, "",
                                  "params.model.cell = 'gru'", 0);
  EXPECT_EQ(filtered.size(), 6u);
  EXPECT_EQ(filtered[0].run.name, "gru-1-s0");
  EXPECT_TRUE(store.best_runs("nope", Goal::minimize, MetricValue::best, "", "", 0).empty());
}

TEST_F(StoreFixture, PivotMeanSpreadOverSeeds) {
  Store store(dir_->file("fixture.db"));
  PivotQuery query;
  query.rows = {"model.cell"};
  query.cols = {"params.model.layers"};
  query.metric = "val_loss";
  query.experiment = "sweep";
  PivotTable table = store.pivot(query);
  EXPECT_EQ(table.row_labels, (std::vector<std::vector<std::string>>{{"gru"}, {"lstm"}, {"rnn_tanh"}}));
  EXPECT_EQ(table.col_labels, (std::vector<std::vector<std::string>>{{"1"}, {"2"}, {"10"}}));
  ASSERT_EQ(table.cells.size(), 9u);
  const PivotCell* cell = table.find({"gru"}, {"10"});
  ASSERT_NE(cell, nullptr);
  EXPECT_EQ(cell->n, 2);
  const double a = testing::fixture_loss(1, 10, 0, 9), b = testing::fixture_loss(1, 10, 1, 9);
  EXPECT_NEAR(cell->mean, (a + b) / 2, 1e-12);
  EXPECT_NEAR(cell->std, std::abs(a - b) / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(cell->min, a, 1e-12);
  // Without an experiment, "broken" (lstm, 3 layers) adds a column.
  query.experiment.clear();
  EXPECT_EQ(store.pivot(query).col_labels.size(), 4u);
  query.where = "run.status = 'finished'";
  EXPECT_EQ(store.pivot(query).col_labels.size(), 3u);
}

TEST_F(StoreFixture, MetricAtStepForPruning) {
  Store store(dir_->file("fixture.db"));
  auto at3 = store.metric_at_step("sweep", "val_loss", 3);
  ASSERT_EQ(at3.size(), 18u);
  EXPECT_EQ(at3[0].run_id, 1);
  EXPECT_NEAR(at3[0].value, testing::fixture_loss(0, 1, 0, 3), 1e-12);
  auto best_max = store.metric_at_step("sweep", "val_loss", 3, true, Goal::maximize);
  EXPECT_NEAR(best_max[0].value, testing::fixture_loss(0, 1, 0, 0), 1e-12);
  EXPECT_TRUE(store.metric_at_step("sweep", "val_loss", 99).empty());
}

TEST(StoreEdits, ResolveTagStatusDelete) {
  TempDir dir;
  testing::write_fixture(dir.file("f.db"));
  Store store(dir.file("f.db"));
  EXPECT_EQ(store.resolve_runs({"broken", "3"}), (std::vector<int64_t>{19, 3}));
  EXPECT_THROW(store.resolve_runs({"nope"}), std::invalid_argument);
  store.set_tag(3, "k", "v");
  EXPECT_EQ(store.run_details(3).tags.at("k"), "v");
  EXPECT_TRUE(store.remove_tag(3, "k"));
  EXPECT_FALSE(store.remove_tag(3, "k"));
  store.set_status(4, RunStatus::pruned);
  EXPECT_EQ(store.run_details(4).run.status, "pruned");
  EXPECT_EQ(store.delete_runs({1, 2, 999}), 2);
  detail::Statement left = detail::StoreAccess::database(store).prepare(
      "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM metrics WHERE run_id <= 2), "
      "(SELECT count(*) FROM params WHERE run_id <= 2), "
      "(SELECT count(*) FROM metric_summary WHERE run_id <= 2)");
  ASSERT_TRUE(left.step());
  EXPECT_EQ(left.column_int(0), 17);
  EXPECT_EQ(left.column_int(1) + left.column_int(2) + left.column_int(3), 0);
}

TEST(Schema, MigratesFromVersionZeroAndRefusesNewer) {
  TempDir dir;
  const std::string path = dir.file("old.db");
  {
    detail::Database raw(path, true, 1000);
    raw.exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('kept')");
  }
  {
    Store store(path);
    detail::Statement version = detail::StoreAccess::database(store).prepare("PRAGMA user_version");
    version.step();
    EXPECT_EQ(version.column_int(0), detail::kSchemaVersion);
    detail::Statement notes = detail::StoreAccess::database(store).prepare("SELECT text FROM notes");
    ASSERT_TRUE(notes.step());
    EXPECT_EQ(notes.column_text(0), "kept");
    detail::Statement mode = detail::StoreAccess::database(store).prepare("PRAGMA journal_mode");
    mode.step();
    EXPECT_EQ(mode.column_text(0), "wal");
    EXPECT_TRUE(store.list_runs({}).empty());
  }
  {
    detail::Database raw(path, false, 1000);
    raw.exec("PRAGMA user_version = 99");
  }
  try {
    Store store(path);
    ADD_FAILURE() << "opened a newer schema";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("newer"), std::string::npos) << error.what();
  }
  EXPECT_THROW(Store(dir.file("missing.db")), std::invalid_argument);
}

// Several processes create one new database at the same moment (the race that breaks
// MLflow's and Optuna's SQLite stores): all succeed and the schema exists once.
TEST(Schema, ConcurrentCreateFromManyProcesses) {
  TempDir dir;
  for (int round = 0; round < 4; ++round) {
    const std::string path = dir.file("race" + std::to_string(round) + ".db");
    int gate[2];
    ASSERT_EQ(::pipe(gate), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < 8; ++i) {
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        ::close(gate[1]);
        char byte;
        (void)!::read(gate[0], &byte, 1);  // returns at EOF: everyone starts together
        try {
          Tracker tracker(path);
          RunInfo info;
          info.experiment = "race";
          tracker.start_run(info);
          tracker.finish(RunStatus::finished);
          ::_exit(0);
        } catch (const std::exception& error) {
          std::fprintf(stderr, "child %d: %s\n", i, error.what());
          ::_exit(1);
        }
      }
      children.push_back(pid);
    }
    ::close(gate[0]);
    ::close(gate[1]);
    for (pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    Store store(path);
    EXPECT_EQ(store.experiments(), std::vector<std::string>{"race"});
    RunQuery query;
    query.where = "run.status = 'finished'";
    EXPECT_EQ(store.list_runs(query).size(), 8u);
  }
}

}  // namespace
}  // namespace rnnlab::tracking
