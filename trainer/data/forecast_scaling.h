// What a forecast model reads and predicts, in its own units, and the way back to the
// series' units (the forecast task of numeric_tasks.cc; tested in forecast_test.cc).
//
// Levels (data.difference: false): input and target values are z-scores of x,
//   model(x_j) = (x_j - mean) / std.
// Changes (data.difference: true): inputs are the one-step changes d_j = x_j - x_{j-1} as
// z-scores of the training part's changes; target k (0-based) of a window whose last input
// is x_{first-1} is the change since then, less the mean drift over those k + 1 steps:
//   target_k = (x_{first+k} - x_{first-1} - (k + 1) mean) / std,
// so the forecast is added back as x_{first-1} + (k + 1) mean + std * prediction_k.
// In both cases an error of e model units is an error of e * std in the series' units for
// every horizon step, which is how the objective reports RMSE and MAE.
//
// Pure functions; indices are the caller's to check (first >= 1 with differences).
#pragma once

#include <cstdint>
#include <vector>

namespace rnnlab::trainer::data {

struct ForecastScaling {
  bool difference = false;
  double mean = 0.0;  // of x (levels) or of d (changes), over the training part
  double std = 1.0;
};

// The model's input value for series position j (j >= 1 with differences).
inline double forecast_input(const std::vector<double>& series, int64_t j, const ForecastScaling& scaling) {
  const double value = scaling.difference ? series[size_t(j)] - series[size_t(j - 1)] : series[size_t(j)];
  return (value - scaling.mean) / scaling.std;
}

// Target k of the window whose first target is series[first].
inline double forecast_target(const std::vector<double>& series, int64_t first, int k,
                              const ForecastScaling& scaling) {
  const double value = series[size_t(first + k)];
  if (!scaling.difference) return (value - scaling.mean) / scaling.std;
  return (value - series[size_t(first - 1)] - double(k + 1) * scaling.mean) / scaling.std;
}

// The inverse of forecast_target: prediction k (model units) in the series' units, given
// the last value the window saw (series[first - 1]).
inline double forecast_value(double last_value, int k, double prediction, const ForecastScaling& scaling) {
  if (!scaling.difference) return scaling.mean + scaling.std * prediction;
  return last_value + double(k + 1) * scaling.mean + scaling.std * prediction;
}

}  // namespace rnnlab::trainer::data
