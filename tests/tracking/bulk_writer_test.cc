// BulkWriter: runs loaded in one transaction read back through Store exactly as the
// Tracker's would (params, status, end time, metric summaries), nothing is visible before
// commit() and an uncommitted load rolls back; misuse is a logic_error. Store's version
// token of a metric changes with every point written (the dashboard's history cache).
#include <gtest/gtest.h>

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tests/tracking/fixture.h"
#include "tracking/bulk_writer.h"
#include "tracking/store.h"

namespace rnnlab::tracking {
namespace {

using testing::TempDir;

RunInfo run_info(const std::string& cell, int layers) {
  RunInfo info;
  info.experiment = "bulk";
  info.name = cell + "-" + std::to_string(layers);
  info.config = {{"model", {{"cell", cell}, {"layers", layers}}}};
  info.tags = {{"origin", "bulk"}};
  return info;
}

std::vector<MetricPoint> curve(double floor, int64_t steps) {
  std::vector<MetricPoint> points;
  for (int64_t step = 0; step < steps; ++step)
    points.push_back({"val_loss", step, floor + 1.0 / double(1 + step), 100.0 + double(step)});
  return points;
}

TEST(BulkWriter, RunsReadBackAsTrackerRuns) {
  TempDir dir;
  const std::string db = dir.file("bulk.db");
  int64_t lstm = 0, gru = 0;
  {
    BulkWriter bulk(db);
    lstm = bulk.add_run(run_info("lstm", 2));
    gru = bulk.add_run(run_info("gru", 1));
    bulk.log(lstm, curve(0.5, 10));
    bulk.log(gru, curve(0.7, 20));
    bulk.log(gru, {{"val_loss", 19, 0.1, 200.0}});  // a step again replaces its value
    bulk.finish(lstm, RunStatus::finished, 4000.0);
    bulk.finish(gru, RunStatus::failed);
    bulk.commit();
  }
  Store store(db);
  EXPECT_EQ(store.run_count(), 2);
  EXPECT_EQ(store.experiments(), std::vector<std::string>{"bulk"});
  const auto best = store.best_runs("val_loss", Goal::minimize, MetricValue::best, "bulk", "", 10);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_EQ(best[0].run.id, gru);
  EXPECT_DOUBLE_EQ(best[0].value, 0.1);
  EXPECT_EQ(best[0].run.status, "failed");
  EXPECT_EQ(best[1].run.id, lstm);
  EXPECT_DOUBLE_EQ(best[1].value, 0.5 + 1.0 / 10);
  EXPECT_EQ(best[1].run.status, "finished");
  ASSERT_TRUE(best[1].run.end_time.has_value());
  EXPECT_DOUBLE_EQ(*best[1].run.end_time, 4000.0);
  const RunDetails details = store.run_details(gru);
  EXPECT_EQ(details.tags.at("origin"), "bulk");
  ASSERT_EQ(details.metrics.size(), 1u);
  EXPECT_EQ(details.metrics[0].count, 20);  // the replaced step counts once
  EXPECT_EQ(store.metric_history(gru, "val_loss").size(), 20u);
  RunQuery query;
  query.experiment = "bulk";
  query.where = "params.model.cell = 'lstm' and params.model.layers = 2";
  const auto lstm_runs = store.list_runs(query);
  ASSERT_EQ(lstm_runs.size(), 1u);
  EXPECT_EQ(lstm_runs[0].name, "lstm-2");
}

TEST(BulkWriter, NothingBeforeCommitAndRollbackWithout) {
  TempDir dir;
  const std::string db = dir.file("bulk.db");
  {
    BulkWriter bulk(db);
    bulk.log(bulk.add_run(run_info("rnn_tanh", 1)), curve(1.0, 5));
    // A reader (read-only: it neither migrates nor takes the write lock) sees the schema,
    // which the constructor committed, and none of the load.
    EXPECT_EQ(Store(db, false, 1000, true).run_count(), 0);
  }
  EXPECT_EQ(Store(db).run_count(), 0);  // destroyed uncommitted: rolled back
}

TEST(BulkWriter, MisuseIsALogicError) {
  TempDir dir;
  BulkWriter bulk(dir.file("bulk.db"));
  const int64_t id = bulk.add_run(run_info("lstm", 1));
  EXPECT_THROW(bulk.log(id + 1, curve(1.0, 2)), std::logic_error);
  bulk.commit();
  EXPECT_THROW(bulk.finish(id, RunStatus::finished), std::logic_error);
  EXPECT_THROW(bulk.commit(), std::logic_error);
}

TEST(Store, MetricVersionChangesWithEveryPoint) {
  TempDir dir;
  const std::string db = dir.file("runs.db");
  Tracker tracker(db, {});
  const int64_t run = tracker.start_run({});
  Store store(db);
  EXPECT_EQ(store.metric_version(run, "loss"), "none");
  tracker.log_metric("loss", 0, 1.0, 10.0);
  tracker.flush();
  const std::string first = store.metric_version(run, "loss");
  EXPECT_NE(first, "none");
  tracker.log_metric("loss", 1, 0.5, 11.0);
  tracker.flush();
  EXPECT_NE(store.metric_version(run, "loss"), first);
  EXPECT_EQ(store.metric_version(run, "other"), "none");
}

}  // namespace
}  // namespace rnnlab::tracking
