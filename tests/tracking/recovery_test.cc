// Failures the tracker must survive or explain: a statement that failed is usable again, a
// run deleted while it trains is named (not "API misuse"), a running run is not deleted
// unless forced, and a step logged again counts once in the summary.
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>

#include "tests/tracking/fixture.h"
#include "tracking/detail/sqlite_db.h"
#include "tracking/store.h"
#include "tracking/tracker.h"

namespace rnnlab::tracking {
namespace {

using testing::error_of;
using testing::TempDir;

TEST(Statement, UsableAgainAfterAFailedStep) {
  detail::Database db(":memory:", true, 1000);
  db.exec("CREATE TABLE t (x INTEGER PRIMARY KEY CHECK (x > 0))");
  detail::Statement insert = db.prepare("INSERT INTO t (x) VALUES (?)");
  const std::string check = error_of([&] { insert.bind(1, -1).run(); });
  EXPECT_NE(check.find("CHECK constraint failed"), std::string::npos) << check;
  // No reset() by the caller: the failed step left the statement ready all the same.
  insert.bind(1, 1).run();
  insert.reset();
  const std::string unique = error_of([&] { insert.bind(1, 1).run(); });
  EXPECT_NE(unique.find("UNIQUE constraint failed"), std::string::npos) << unique;
  EXPECT_EQ(unique.find("misuse"), std::string::npos) << unique;
  insert.bind(1, 2).run();
  insert.reset();
  // A failed bind (index out of range) also leaves it usable.
  EXPECT_THROW(insert.bind(7, 3), std::runtime_error);
  insert.bind(1, 3).run();
  detail::Statement count = db.prepare("SELECT count(*), sum(x) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 3);
  EXPECT_EQ(count.column_int(1), 6);
}

TEST(Delete, RefusesARunningRunUnlessForced) {
  TempDir dir;
  Tracker tracker(dir.file("t.db"));
  RunInfo info;
  info.name = "busy";
  const int64_t id = tracker.start_run(info);
  tracker.log_metric("loss", 1, 0.5);
  tracker.flush();
  {
    Store store(dir.file("t.db"));
    const std::string refused = error_of([&] { store.delete_runs({id}); });
    EXPECT_NE(refused.find("run " + std::to_string(id) + " 'busy' is still running"), std::string::npos) << refused;
    EXPECT_NE(refused.find("--force"), std::string::npos) << refused;
    EXPECT_EQ(store.run_details(id).metrics.size(), 1u);  // nothing was deleted
    EXPECT_EQ(store.delete_runs({id}, /*force=*/true), 1);
  }
  // The trainer's next write says what happened, and says it again on a later write
  // instead of "bad parameter or other API misuse".
  tracker.log_metric("loss", 2, 0.4);
  const std::string gone = error_of([&] { tracker.flush(); });
  EXPECT_NE(gone.find("run " + std::to_string(id) + " is no longer in " + dir.file("t.db")), std::string::npos) << gone;
  EXPECT_THROW(tracker.log_metric("loss", 3, 0.3), std::logic_error);  // no active run now
  // The same connection and its prepared metric statements still work for a new run.
  const int64_t next = tracker.start_run(RunInfo{});
  tracker.log_metric("loss", 1, 0.7);
  tracker.log_metric("loss", 2, 0.6);
  tracker.finish(RunStatus::finished);
  Store store(dir.file("t.db"));
  const RunDetails details = store.run_details(next);
  ASSERT_EQ(details.metrics.size(), 1u);
  EXPECT_EQ(details.metrics[0].count, 2);
  EXPECT_EQ(details.run.status, "finished");
}

TEST(Delete, AFinishedRunIsDeletedWithoutForce) {
  TempDir dir;
  int64_t id = 0;
  {
    Tracker tracker(dir.file("t.db"));
    id = tracker.start_run(RunInfo{});
    tracker.finish(RunStatus::finished);
  }
  Store store(dir.file("t.db"));
  EXPECT_EQ(store.delete_runs({id}), 1);
}

TEST(Tracker, DeletedRunFoundByTheStatusWriteToo) {
  TempDir dir;
  Tracker tracker(dir.file("t.db"));
  const int64_t id = tracker.start_run(RunInfo{});
  Store(dir.file("t.db")).delete_runs({id}, true);
  // Nothing buffered: the heartbeat/status updates match no row.
  EXPECT_THROW(tracker.finish(RunStatus::finished), RunDeleted);
}

TEST(Tracker, AStepLoggedAgainCountsOnce) {
  TempDir dir;
  int64_t id = 0;
  {
    Tracker tracker(dir.file("t.db"));
    id = tracker.start_run(RunInfo{});
    tracker.log_metric("val_loss", 1, 0.9);
    tracker.log_metric("val_loss", 2, 0.2);
    tracker.log_metric("test_loss", 2, 0.5);
    tracker.finish(RunStatus::finished);
  }
  {
    // The resume of a finished run logs its test metrics again at the same step.
    Tracker tracker(dir.file("t.db"));
    tracker.resume_run(id, 2);
    tracker.log_metric("test_loss", 2, 0.5);
    tracker.log_metric("val_loss", 2, 0.95);  // replaces the old best: min must move
    tracker.log_metric("val_loss", 3, 0.8);
    tracker.finish(RunStatus::finished);
  }
  Store store(dir.file("t.db"));
  const RunDetails details = store.run_details(id);
  ASSERT_EQ(details.metrics.size(), 2u);
  const MetricSummary& test = details.metrics[0];
  EXPECT_EQ(test.key, "test_loss");
  EXPECT_EQ(test.count, 1);
  const MetricSummary& val = details.metrics[1];
  EXPECT_EQ(val.count, 3);
  EXPECT_DOUBLE_EQ(val.min_value, 0.8);
  EXPECT_EQ(val.min_step, 3);
  EXPECT_DOUBLE_EQ(val.max_value, 0.95);
  EXPECT_DOUBLE_EQ(val.last_value, 0.8);
  EXPECT_EQ(store.metric_history(id, "val_loss").size(), 3u);
}

}  // namespace
}  // namespace rnnlab::tracking
