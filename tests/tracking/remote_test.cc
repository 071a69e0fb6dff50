// Remote logging through `rnnlab serve`: a RemoteTracker's points arrive exactly once
// across a server restart, a batch sent twice duplicates nothing, heartbeats keep a quiet
// run alive and a silent one is marked killed, and the server's errors reach the trainer.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/tracking/fixture.h"
#include "tests/tracking/serve_fixture.h"
#include "tracking/ingest.h"
#include "tracking/remote.h"
#include "tracking/store.h"

namespace rnnlab::tracking {
namespace {

using nlohmann::json;
using testing::RunningServer;
using testing::TempDir;

double value_at(int64_t step) { return 1.0 / (1.0 + step) + (step == 321 ? 50.0 : 0.0); }

cli::ServeOptions serve_options(const std::string& db, int port = 0) {
  cli::ServeOptions options;
  options.db = db;
  options.port = port;
  return options;
}

void create_empty(const std::string& db) { Tracker tracker(db); }

TEST(RemoteTracker, AServerRestartLosesAndDuplicatesNoPoint) {
  TempDir dir;
  const std::string db = dir.file("runs.db");
  create_empty(db);
  auto server = std::make_unique<RunningServer>(serve_options(db));
  const int port = server->port();
  RemoteOptions options;
  options.tracker.flush_every_points = 50;
  options.tracker.flush_every_seconds = 0.2;
  options.retry_seconds = 30;
  RemoteTracker tracker(server->url(), options);
  RunInfo info;
  info.experiment = "remote";
  info.name = "restarted";
  info.config = {{"model", {{"cell", "gru"}}}};
  const int64_t run = tracker.start_run(info);
  for (int64_t step = 0; step < 400; ++step) tracker.log_metric("loss", step, value_at(step), 1000.0 + step);
  tracker.flush();
  server.reset();  // the server goes away mid-run
  for (int64_t step = 400; step < 700; ++step) tracker.log_metric("loss", step, value_at(step), 1000.0 + step);
  EXPECT_GT(tracker.buffered(), 0u);  // kept while nobody answers
  server = std::make_unique<RunningServer>(serve_options(db, port));  // back on the same port
  for (int64_t step = 700; step < 1000; ++step) tracker.log_metric("loss", step, value_at(step), 1000.0 + step);
  tracker.set_tag("note", "it's \"quoted\"");
  tracker.finish(RunStatus::finished);
  EXPECT_EQ(tracker.buffered(), 0u);

  Store store(db);
  RunDetails details = store.run_details(run);
  EXPECT_EQ(details.run.status, "finished");
  EXPECT_EQ(details.run.name, "restarted");
  EXPECT_EQ(details.tags.at("note"), "it's \"quoted\"");
  ASSERT_EQ(details.metrics.size(), 1u);
  EXPECT_EQ(details.metrics[0].count, 1000);
  EXPECT_DOUBLE_EQ(details.metrics[0].max_value, value_at(321));
  auto points = store.metric_history(run, "loss");
  ASSERT_EQ(points.size(), 1000u);
  for (int64_t step = 0; step < 1000; ++step) {
    EXPECT_EQ(points[step].step, step);
    EXPECT_DOUBLE_EQ(points[step].value, value_at(step));
  }
}

TEST(Ingest, ABatchSentTwiceDuplicatesNothing) {
  TempDir dir;
  const std::string db = dir.file("runs.db");
  create_empty(db);
  Ingest ingest(db);
  const int64_t run = ingest.apply({{"op", "start"}, {"info", {{"experiment", "e"}}}, {"stale_after", 60}})
                          .at("run_id");
  const json batch = {{"op", "log"}, {"run_id", run}, {"points", {{"a", 1, 0.5, 1.0}, {"a", 2, 0.25, 2.0}}}};
  ingest.apply(batch);
  json again = batch;
  again["retry"] = true;  // the client did not see the first answer
  ingest.apply(again);
  Store store(db);
  EXPECT_EQ(store.metric_history(run, "a").size(), 2u);
  EXPECT_EQ(store.run_details(run).metrics.at(0).count, 2);
  EXPECT_THROW(ingest.apply({{"op", "log"}, {"run_id", 99}, {"points", json::array()}}), std::invalid_argument);
  EXPECT_THROW(ingest.apply({{"op", "log"}, {"run_id", run}, {"points", {{"a", "x", 1, 1}}}}),
               std::invalid_argument);
  EXPECT_THROW(ingest.apply({{"op", "explode"}, {"run_id", run}}), std::invalid_argument);
}

TEST(RemoteTracker, HeartbeatsKeepAQuietRunAliveAndSilenceKillsIt) {
  TempDir dir;
  const std::string db = dir.file("runs.db");
  create_empty(db);
  RunningServer server(serve_options(db));
  RemoteOptions options;
  options.tracker.heartbeat_seconds = 0.1;
  options.tracker.stale_after_seconds = 0.8;
  int64_t quiet = 0;
  {
    RemoteTracker tracker(server.url(), options);
    quiet = tracker.start_run({});
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // nothing logged
    EXPECT_EQ(Store(db).run_details(quiet).run.status, "running");
    tracker.finish(RunStatus::finished);
  }
  // A writer that vanished (no finish, no heartbeat): the next reader marks it killed.
  Ingest ingest(db);
  const int64_t silent = ingest.apply({{"op", "start"}, {"info", json::object()}, {"stale_after", 0.5}}).at("run_id");
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  EXPECT_EQ(Store(db).run_details(silent).run.status, "killed");
  EXPECT_EQ(Store(db).run_details(quiet).run.status, "finished");
}

TEST(RemoteTracker, RefusalsReachTheTrainer) {
  TempDir dir;
  const std::string db = dir.file("runs.db");
  create_empty(db);
  cli::ServeOptions options = serve_options(db);
  options.token = "right";
  RunningServer server(options);
  RemoteOptions wrong;
  wrong.token = "wrong";
  wrong.retry_seconds = 1;
  RemoteTracker tracker(server.url(), wrong);
  try {
    tracker.start_run({});
    ADD_FAILURE() << "no error for a wrong token";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("HTTP 401"), std::string::npos) << error.what();
  }
  RemoteOptions right;
  right.token = "right";
  RemoteTracker good(server.url(), right);
  EXPECT_GT(good.start_run({}), 0);
  good.finish(RunStatus::finished);
  RemoteOptions nobody;
  nobody.retry_seconds = 0.3;
  RemoteTracker unreachable("http://127.0.0.1:1", nobody);
  EXPECT_THROW(unreachable.start_run({}), std::runtime_error);
  EXPECT_THROW(RemoteTracker("http://host:99999"), std::invalid_argument);
  EXPECT_EQ(open_run_sink(db)->run_id(), 0);  // a path: the local Tracker
}

}  // namespace
}  // namespace rnnlab::tracking
