#include "trainer/evaluate.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "trainer/checkpoint.h"
#include "trainer/data/task_data.h"
#include "trainer/model.h"
#include "trainer/objective.h"

namespace rnnlab::trainer {
namespace {

// Keys an evaluation may change: they pick the data, not the model's shape.
bool overridable(const std::string& key) {
  static const char* const fixed_data[] = {"data.level",   "data.lowercase",    "data.max_vocab",
                                           "data.min_count", "data.window",     "data.horizon",
                                           "data.difference", "data.copy_symbols", "data.copy_length"};
  if (key == "model.backend" || key == "train.batch_size" || key == "train.threads") return true;
  if (key.rfind("data.", 0) != 0) return false;
  return std::none_of(std::begin(fixed_data), std::end(fixed_data), [&](const char* k) { return key == k; });
}

data::Split parse_split(const std::string& name) {
  if (name == "train") return data::Split::train;
  if (name == "val") return data::Split::val;
  if (name == "test") return data::Split::test;
  throw std::invalid_argument("--split: unknown split '" + name + "' (choices: train, val, test)");
}

}  // namespace

EvaluateResult evaluate_checkpoint(const std::string& checkpoint_path, const EvaluateOptions& options) {
  const data::Split split = parse_split(options.split);
  for (const std::string& override_text : options.overrides) {
    const std::string key = override_text.substr(0, override_text.find('='));
    if (!overridable(key))
      throw std::invalid_argument("override '" + override_text + "': evaluate can change the data (data.* except "
                                  "level, lowercase, max_vocab, min_count, window, horizon, difference, "
                                  "copy_symbols, copy_length), model.backend, train.batch_size and train.threads, not '" +
                                  key + "'");
  }
  const Checkpoint checkpoint = load_checkpoint(checkpoint_path);
  const nlohmann::json& meta = require_rnnlab_checkpoint(checkpoint, {"config", "task_data"});

  EvaluateResult result;
  result.config = parse_config(meta["config"].get<std::string>(), checkpoint_path + " (stored config)",
                               options.overrides);
  result.split = options.split;
  result.step = meta.value("step", int64_t(0));
  const Config& config = result.config;
  omp_set_num_threads(config.train.threads > 0 ? config.train.threads : int(sysconf(_SC_NPROCESSORS_ONLN)));

  const nlohmann::json& trained = meta["task_data"];
  const auto data = data::make_task_data(config, &trained);
  const data::TaskInfo info = data->info();
  if (info.vocab_size != trained.value("vocab_size", 0) || info.output_size != trained.value("output_size", 0))
    throw std::invalid_argument(checkpoint_path + ": the data do not fit the model (vocabulary " +
                                std::to_string(info.vocab_size) + " vs " +
                                std::to_string(trained.value("vocab_size", 0)) + ", outputs " +
                                std::to_string(info.output_size) + " vs " +
                                std::to_string(trained.value("output_size", 0)) + ")");
  Model model(model_spec(config, info), config.train.seed);
  import_checkpoint(model, checkpoint);

  // The training loop's evaluation (train.cc), one process: same batches, same order.
  const Objective objective(info, config.data.level == "char");
  data::BatchOptions batch_options;
  batch_options.batch_size = config.train.batch_size;
  batch_options.seed = config.train.seed;
  MetricSums sums;
  CarriedState state;
  for (const auto& batch : data->batches(split, batch_options)) {
    if (batch.batch_size == 0) continue;
    const auto& output = model.forward(batch, false, 0, &state);
    objective.evaluate(batch, output, sums, nullptr);
  }
  result.examples = data->size(split);
  if (result.examples == 0 || sums.count == 0)
    throw std::invalid_argument(checkpoint_path + ": split '" + options.split + "' of data set '" +
                                config.data.dataset + "' is empty (see data.val_fraction / data.test_fraction)");
  result.metrics = objective.metrics(sums);
  result.baseline = data->baseline(split);
  result.unscored = data->unscored_targets(split);
  if (result.unscored > 0 && result.metrics.count("accuracy"))
    result.metrics["accuracy_counting_unscored"] = sums.correct / (sums.count + double(result.unscored));
  return result;
}

}  // namespace rnnlab::trainer
