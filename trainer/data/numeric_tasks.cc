// forecast (windows of a numeric series) and the synthetic long-memory tasks (adding,
// copy), all with sequences of one length.
#include <cmath>
#include <stdexcept>

#include "layers/random.h"
#include "trainer/data/builders.h"
#include "trainer/data/forecast_scaling.h"
#include "trainer/data/readers.h"
#include "trainer/data/sequence_data.h"

namespace rnnlab::trainer::data {
namespace {

// Streams of the generated splits: one seed, three independent streams, so train, val and
// test never share a sequence (beyond chance) and each is reproducible alone.
constexpr uint64_t kAddingStream = 0xADD100ull;
constexpr uint64_t kCopyStream = 0xC0B100ull;

std::map<std::string, double> regression_errors(const std::vector<double>& errors) {
  double squared = 0, absolute = 0;
  for (double error : errors) {
    squared += error * error;
    absolute += std::abs(error);
  }
  const double count = errors.empty() ? 1.0 : double(errors.size());
  return {{"rmse", std::sqrt(squared / count)}, {"mae", absolute / count}};
}

int split_sequences(const DataConfig& data, Split split) { return split == Split::train ? data.train_size : data.test_size; }

void check_sizes(const DataConfig& data) {
  if (data.train_size < 1) throw std::invalid_argument("key 'data.train_size': must be >= 1");
  if (data.test_size < 1) throw std::invalid_argument("key 'data.test_size': must be >= 1");
}

}  // namespace

std::unique_ptr<TaskData> build_forecast(const Config& config, const std::string& path,
                                         const nlohmann::json* trained) {
  const DataConfig& cfg = config.data;
  if (cfg.window < 1) throw std::invalid_argument("key 'data.window': must be >= 1");
  if (cfg.horizon < 1) throw std::invalid_argument("key 'data.horizon': must be >= 1");
  if (cfg.season < 0) throw std::invalid_argument("key 'data.season': must be >= 0");
  const std::vector<double> series = read_numeric_column(path, cfg.column);
  const SplitSizes sizes = split_sizes(cfg, int64_t(series.size()), "time steps", path);
  const int64_t train_end = sizes.train, val_end = sizes.train + sizes.val;
  // With differences a window of `window` changes reads window + 1 values.
  const int64_t lag = cfg.difference ? 1 : 0;
  if (cfg.window + cfg.horizon + lag > train_end) {
    throw std::invalid_argument("keys 'data.window' + 'data.horizon'" + std::string(lag ? " + 1 (data.difference)" : "") +
                                " (" + std::to_string(cfg.window + cfg.horizon + lag) + ") exceed the " +
                                std::to_string(train_end) + " training time steps of '" + path + "'");
  }
  if (cfg.season >= train_end) {
    throw std::invalid_argument("key 'data.season': " + std::to_string(cfg.season) + " is not below the " +
                                std::to_string(train_end) + " training time steps of '" + path + "'");
  }

  // 1. Normalisation of what the model reads (levels or changes) from the training part
  // only, so nothing of val/test leaks into it.
  ForecastScaling scaling;
  scaling.difference = cfg.difference;
  const ForecastScaling identity{cfg.difference, 0.0, 1.0};
  const double count = double(train_end - lag);
  for (int64_t j = lag; j < train_end; ++j) scaling.mean += forecast_input(series, j, identity) / count;
  double variance = 0;
  for (int64_t j = lag; j < train_end; ++j) {
    const double centred = forecast_input(series, j, identity) - scaling.mean;
    variance += centred * centred / count;
  }
  scaling.std = std::sqrt(variance);
  if (!(scaling.std > 0)) scaling.std = 1.0;  // a constant training series: keep values as they are
  if (trained) {  // the model's own units
    scaling.mean = trained_part(*trained, "target_mean").get<double>();
    scaling.std = trained_part(*trained, "target_std").get<double>();
  }

  // 2. The window whose first target is x[first] reads positions [first - window, first)
  // and predicts x[first, first + horizon). It belongs to the split holding all of its
  // targets (its inputs may reach back into an earlier split, as they would in deployment);
  // windows whose targets straddle a boundary are dropped. Baselines on the same targets:
  // repeat the last value, and (data.season = m) seasonal naive: the value one season
  // before, from the last season the window has seen (x[first + k - m (k / m + 1)]).
  auto data = std::make_unique<SequenceTaskData>();
  std::vector<double> naive_errors[3], seasonal_errors[3];
  for (int64_t first = cfg.window + lag; first + cfg.horizon <= int64_t(series.size()); ++first) {
    const int64_t last = first + cfg.horizon - 1;
    int s = -1;
    if (last < train_end) s = 0;
    else if (first >= train_end && last < val_end) s = 1;
    else if (first >= val_end) s = 2;
    if (s < 0) continue;
    std::vector<float> inputs(size_t(cfg.window)), targets(size_t(cfg.horizon));
    for (int t = 0; t < cfg.window; ++t) inputs[size_t(t)] = float(forecast_input(series, first - cfg.window + t, scaling));
    for (int k = 0; k < cfg.horizon; ++k) {
      const double target = series[size_t(first + k)];
      targets[size_t(k)] = float(forecast_target(series, first, k, scaling));
      naive_errors[s].push_back(series[size_t(first - 1)] - target);
      const int64_t seasonal = cfg.season > 0 ? first + k - int64_t(cfg.season) * (k / cfg.season + 1) : -1;
      if (seasonal >= 0) seasonal_errors[s].push_back(series[size_t(seasonal)] - target);
    }
    data->splits[s].values.push_back(std::move(inputs));
    data->splits[s].value_targets.push_back(std::move(targets));
  }
  for (int s = 0; s < 3; ++s) {
    data->baselines[s] = regression_errors(naive_errors[s]);
    if (seasonal_errors[s].empty()) continue;  // no season, or no window reaches a season back
    const auto seasonal = regression_errors(seasonal_errors[s]);
    data->baselines[s]["seasonal_rmse"] = seasonal.at("rmse");
    data->baselines[s]["seasonal_mae"] = seasonal.at("mae");
  }

  TaskInfo& info = data->task_info;
  info.task = "forecast";
  info.input_features = 1;
  info.output_size = cfg.horizon;
  info.regression = true;
  info.target_mean = scaling.mean;
  info.target_std = scaling.std;
  data->extra_metadata = {{"window", cfg.window},
                          {"horizon", cfg.horizon},
                          {"column", cfg.column},
                          {"difference", cfg.difference},
                          {"season", cfg.season}};
  return data;
}

// Le et al. (2015), after Hochreiter & Schmidhuber (1997): step t carries (u_t, m_t) with
// u_t ~ U[0, 1) and marker m_t = 1 at one step in the first half and one in the second half;
// the target is the sum of the two marked values. Predicting the constant 1 (the mean)
// gives MSE = Var(u1 + u2) = 2/12 ~ 0.167.
std::unique_ptr<TaskData> build_adding(const Config& config) {
  const DataConfig& cfg = config.data;
  check_sizes(cfg);
  const int steps = cfg.seq_len;
  if (steps < 2) throw std::invalid_argument("key 'data.seq_len': the adding problem needs >= 2 steps");
  auto data = std::make_unique<SequenceTaskData>();
  for (int s = 0; s < 3; ++s) {
    layers::RandomStream random{config.train.seed, kAddingStream + uint64_t(s), 0};
    SequenceSet& set = data->splits[s];
    for (int example = 0; example < split_sequences(cfg, Split(s)); ++example) {
      std::vector<float> values(size_t(steps) * 2, 0.0f);
      for (int t = 0; t < steps; ++t) values[size_t(t) * 2] = random.next_uniform();
      const int half = steps / 2;
      const int first = int(random.next_below(uint64_t(half)));
      const int second = half + int(random.next_below(uint64_t(steps - half)));
      values[size_t(first) * 2 + 1] = 1.0f;
      values[size_t(second) * 2 + 1] = 1.0f;
      set.value_targets.push_back({values[size_t(first) * 2] + values[size_t(second) * 2]});
      set.values.push_back(std::move(values));
    }
  }
  double mean = 0;
  for (const auto& target : data->splits[0].value_targets) mean += target[0];
  mean /= double(data->splits[0].size());
  for (int s = 0; s < 3; ++s) {
    double squared = 0;
    for (const auto& target : data->splits[s].value_targets) squared += (target[0] - mean) * (target[0] - mean);
    data->baselines[s] = {{"mse", squared / double(data->splits[s].size())}};
  }
  TaskInfo& info = data->task_info;
  info.task = "adding";
  info.input_features = 2;
  info.output_size = 1;
  info.regression = true;
  data->extra_metadata = {{"seq_len", steps}};
  return data;
}

// Copy task: ids 0 = blank, 1..K = symbols, K + 1 = delimiter. Input: copy_length random
// symbols, blanks, the delimiter, copy_length blanks (seq_len steps in all); the targets are
// the symbols on the last copy_length steps and kIgnoreIndex everywhere else.
std::unique_ptr<TaskData> build_copy(const Config& config) {
  const DataConfig& cfg = config.data;
  check_sizes(cfg);
  if (cfg.copy_symbols < 1) throw std::invalid_argument("key 'data.copy_symbols': must be >= 1");
  if (cfg.copy_length < 1) throw std::invalid_argument("key 'data.copy_length': must be >= 1");
  const int steps = cfg.seq_len, length = cfg.copy_length;
  if (steps < 2 * length + 1) {
    throw std::invalid_argument("key 'data.seq_len': the copy task needs >= 2 * data.copy_length + 1 = " +
                                std::to_string(2 * length + 1) + " steps");
  }
  const int32_t delimiter = cfg.copy_symbols + 1;
  auto data = std::make_unique<SequenceTaskData>();
  for (int s = 0; s < 3; ++s) {
    layers::RandomStream random{config.train.seed, kCopyStream + uint64_t(s), 0};
    SequenceSet& set = data->splits[s];
    for (int example = 0; example < split_sequences(cfg, Split(s)); ++example) {
      std::vector<int32_t> tokens(size_t(steps), 0), targets(size_t(steps), kIgnoreIndex);
      for (int i = 0; i < length; ++i) {
        const int32_t symbol = 1 + int32_t(random.next_below(uint64_t(cfg.copy_symbols)));
        tokens[size_t(i)] = symbol;
        targets[size_t(steps - length + i)] = symbol;
      }
      tokens[size_t(steps - length - 1)] = delimiter;
      set.tokens.push_back(std::move(tokens));
      set.step_targets.push_back(std::move(targets));
    }
  }
  for (int s = 0; s < 3; ++s) data->baselines[s] = {{"loss", std::log(double(cfg.copy_symbols))}};
  TaskInfo& info = data->task_info;
  info.task = "copy";
  info.vocab_size = cfg.copy_symbols + 2;
  info.output_size = cfg.copy_symbols + 2;
  info.per_step_output = true;
  data->extra_metadata = {{"seq_len", steps}, {"copy_length", length}, {"copy_symbols", cfg.copy_symbols}};
  return data;
}

}  // namespace rnnlab::trainer::data
