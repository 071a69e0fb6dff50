// Forecasting options (trainer/data/forecast_scaling.h, numeric_tasks.cc): data.difference
// round-trips exactly and reports errors in the series' units; the seasonal-naive baseline
// (data.season) on series whose answer is known; and on a trending series, where the test
// values lie above the training range, modelling the change beats modelling the level.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/trainer/train_test_util.h"
#include "trainer/data/forecast_scaling.h"
#include "trainer/data/task_data.h"
#include "trainer/train.h"

namespace rnnlab::trainer {
namespace {

using data::ForecastScaling;
using data::Split;
using testing_util::TempFolder;
using testing_util::tiny_config;

std::string as_csv(const std::vector<double>& series) {
  std::string text = "value\n";
  char line[64];
  for (double value : series) {
    std::snprintf(line, sizeof line, "%.17g\n", value);
    text += line;
  }
  return text;
}

// A rising line with a 12-step season and a little deterministic wiggle.
std::vector<double> trending_series(int count) {
  std::vector<double> series;
  for (int t = 0; t < count; ++t)
    series.push_back(0.05 * t + std::sin(2 * M_PI * t / 12.0) + 0.05 * std::sin(t * 2.39996));
  return series;
}

Config forecast_config(const TempFolder& folder, const std::vector<double>& series) {
  Config config = tiny_config("forecast", folder);
  config.data.path = folder.write("series.csv", as_csv(series));
  return config;
}

TEST(ForecastScalingTest, DifferencingRoundTripIsExact) {
  const std::vector<double> series = trending_series(50);
  for (const bool difference : {false, true}) {
    const ForecastScaling scaling{difference, 0.37, 1.9};
    for (int64_t first = 1; first + 3 <= int64_t(series.size()); ++first)
      for (int k = 0; k < 3; ++k) {
        const double target = data::forecast_target(series, first, k, scaling);
        EXPECT_NEAR(data::forecast_value(series[size_t(first - 1)], k, target, scaling), series[size_t(first + k)],
                    1e-12)
            << "difference " << difference << " first " << first << " k " << k;
      }
  }
  // Inputs are the one-step changes.
  const ForecastScaling unit{true, 0.0, 1.0};
  EXPECT_DOUBLE_EQ(data::forecast_input(series, 7, unit), series[7] - series[6]);
}

TEST(ForecastScalingTest, DifferencedBatchesHoldChangesAndAddBackToTheSeries) {
  TempFolder folder;
  const std::vector<double> series = trending_series(120);
  Config config = forecast_config(folder, series);
  config.data.difference = true;
  config.data.window = 6;
  config.data.horizon = 2;
  const auto task_data = data::make_task_data(config);
  const data::TaskInfo info = task_data->info();
  const ForecastScaling scaling{true, info.target_mean, info.target_std};
  // Mean and std are those of the training part's changes.
  const int64_t train_end = 120 - int64_t(std::floor(120 * 0.1)) - int64_t(std::floor(120 * 0.1));
  double mean = 0;
  for (int64_t j = 1; j < train_end; ++j) mean += (series[size_t(j)] - series[size_t(j - 1)]) / double(train_end - 1);
  EXPECT_NEAR(info.target_mean, mean, 1e-12);

  data::BatchOptions options;
  options.batch_size = 1000;
  const auto batches = task_data->batches(Split::train, options);
  ASSERT_EQ(batches.size(), 1u);
  const data::Batch& batch = batches[0];
  // Window n (unshuffled order is not promised): find its first target by its inputs.
  int matched = 0;
  for (int n = 0; n < batch.batch_size; ++n) {
    for (int64_t first = 7; first + 2 <= train_end; ++first) {
      bool same = true;
      for (int t = 0; t < 6 && same; ++t)
        same = std::abs(batch.values[size_t(t * batch.batch_size + n)] -
                        float(data::forecast_input(series, first - 6 + t, scaling))) < 1e-6f;
      if (!same) continue;
      ++matched;
      for (int k = 0; k < 2; ++k) {
        const double predicted = batch.value_targets[size_t(n * 2 + k)];
        EXPECT_NEAR(data::forecast_value(series[size_t(first - 1)], k, predicted, scaling), series[size_t(first + k)],
                    1e-5);
      }
      break;
    }
  }
  EXPECT_EQ(matched, batch.batch_size);
  EXPECT_EQ(batch.batch_size, int(train_end - 2 - 7 + 1)) << "windows need window + 1 values";
}

TEST(ForecastBaselines, SeasonalNaiveOnKnownSeries) {
  TempFolder folder;
  const double pattern[4] = {0, 5, 2, 7};
  std::vector<double> periodic, trended;
  for (int t = 0; t < 200; ++t) {
    periodic.push_back(pattern[t % 4]);
    trended.push_back(2.0 * t + pattern[t % 4]);
  }
  // A purely periodic series: seasonal naive is exact for every horizon step.
  Config config = forecast_config(folder, periodic);
  config.data.season = 4;
  config.data.horizon = 6;
  auto baseline = data::make_task_data(config)->baseline(Split::test);
  EXPECT_NEAR(baseline.at("seasonal_rmse"), 0.0, 1e-12);
  EXPECT_NEAR(baseline.at("seasonal_mae"), 0.0, 1e-12);
  EXPECT_GT(baseline.at("rmse"), 1.0) << "repeat-last misses the season";
  // With a trend of 2 per step, step k (0-based) lags m (k / m + 1) steps: horizon 6,
  // season 4 -> lags 4, 4, 4, 4, 8, 8 -> errors 8, 8, 8, 8, 16, 16.
  config = forecast_config(folder, trended);
  config.data.season = 4;
  config.data.horizon = 6;
  baseline = data::make_task_data(config)->baseline(Split::test);
  EXPECT_NEAR(baseline.at("seasonal_mae"), (4 * 8.0 + 2 * 16.0) / 6, 1e-9);
  EXPECT_NEAR(baseline.at("seasonal_rmse"), std::sqrt((4 * 64.0 + 2 * 256.0) / 6), 1e-9);
  // Without data.season only repeat-last is reported.
  config.data.season = 0;
  EXPECT_EQ(data::make_task_data(config)->baseline(Split::test).count("seasonal_rmse"), 0u);
}

TEST(ForecastBaselines, SeasonMustFitTheTrainingPart) {
  TempFolder folder;
  Config config = forecast_config(folder, trending_series(100));
  config.data.season = 80;
  try {
    data::make_task_data(config);
    FAIL() << "no error";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("key 'data.season'"), std::string::npos) << error.what();
  }
}

TEST(ForecastTraining, DifferencingBeatsLevelsOnATrendingSeries) {
  TempFolder folder;
  Config config = forecast_config(folder, trending_series(400));
  config.data.window = 12;
  config.data.season = 12;
  config.train.batch_size = 32;
  config.train.epochs = 15;
  config.train.lr = 0.01;
  config.model.init = "pytorch";
  TrainOptions quiet;
  quiet.quiet = true;
  config.output.dir = folder.file("levels");
  const TrainResult levels = train(config, quiet);
  config.data.difference = true;
  config.output.dir = folder.file("changes");
  const TrainResult changes = train(config, quiet);
  std::printf("test rmse: levels %.4f, changes %.4f, repeat-last %.4f, seasonal naive %.4f\n",
              levels.test.at("rmse"), changes.test.at("rmse"), changes.baseline.at("rmse"),
              changes.baseline.at("seasonal_rmse"));
  EXPECT_LT(changes.test.at("rmse"), 0.5 * levels.test.at("rmse"));
  EXPECT_LT(changes.test.at("rmse"), changes.baseline.at("rmse"));
  // Same targets either way: the baselines do not depend on data.difference.
  EXPECT_NEAR(changes.baseline.at("rmse"), levels.baseline.at("rmse"), 1e-12);
}

}  // namespace
}  // namespace rnnlab::trainer
