// Downsampled metric histories: a long curve comes back within the asked number of points,
// in step order, with every bucket's minimum and maximum, so a one-step spike survives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/tracking/fixture.h"
#include "tracking/history.h"
#include "tracking/store.h"

namespace rnnlab::tracking {
namespace {

using testing::TempDir;

TEST(History, DownsamplingKeepsSpikesAndOrder) {
  TempDir dir;
  const std::string db = dir.file("runs.db");
  const int64_t n = 100000;
  int64_t run = 0;
  {
    TrackerOptions options;
    options.flush_every_points = 20000;
    Tracker tracker(db, options);
    run = tracker.start_run({});
    for (int64_t step = 0; step < n; ++step) {
      double value = 1.0 + 0.001 * std::sin(step * 0.01);
      if (step == 77777) value = 1000.0;  // one spike up
      if (step == 12345) value = -5.0;    // one down
      if (step == 500) value = NAN;
      tracker.log_metric("loss", step, value, 0.0);
    }
    tracker.finish(RunStatus::finished);
  }
  Store store(db);
  History h = metric_history(store, run, "loss", 1000);
  EXPECT_EQ(h.total, n);
  EXPECT_TRUE(h.downsampled);
  ASSERT_LE(h.steps.size(), 1000u);
  EXPECT_GE(h.steps.size(), 900u);
  EXPECT_TRUE(std::is_sorted(h.steps.begin(), h.steps.end()));
  EXPECT_EQ(std::adjacent_find(h.steps.begin(), h.steps.end()), h.steps.end());  // no step twice
  auto at = [&](int64_t step) {
    auto it = std::find(h.steps.begin(), h.steps.end(), step);
    return it == h.steps.end() ? NAN : h.values[it - h.steps.begin()];
  };
  EXPECT_EQ(at(77777), 1000.0);
  EXPECT_EQ(at(12345), -5.0);
  EXPECT_EQ(*std::max_element(h.values.begin(), h.values.end()), 1000.0);

  History all = metric_history(store, run, "loss", 200000);
  EXPECT_FALSE(all.downsampled);
  ASSERT_EQ(all.steps.size(), static_cast<size_t>(n));
  EXPECT_TRUE(std::isnan(all.values[500]));
  EXPECT_TRUE(metric_history(store, run, "nothing", 10).steps.empty());
  EXPECT_THROW(metric_history(store, run, "loss", 1), std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::tracking
