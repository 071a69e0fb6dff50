// The schema of the training configuration: one entry per dotted key of `Config`.
//
// The loader (config.cc) checks every YAML key and every override against this table,
// `flatten_config` and `config_to_yaml` read values through it, and docs/config.md is
// generated from it, so a key documented is a key accepted and nothing else is.
//
// Thread safety: the table is built once on first use (C++11 static init) and is
// read-only afterwards; every function here may be called from any thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/config.h"

namespace rnnlab::trainer {

enum class ConfigType { boolean, integer, number, string, choice };

struct ConfigKey {
  std::string key;  // dotted path, e.g. "model.cell"
  ConfigType type = ConfigType::string;
  std::vector<std::string> choices;  // ConfigType::choice only
  // Inclusive or exclusive bounds for integer and number keys (ignored for the others).
  double min = 0, max = 0;
  bool has_min = false, has_max = false;
  bool min_exclusive = false, max_exclusive = false;
  std::string doc;  // one line, shown in docs/config.md
  // Read and write the field. `set` receives a value already checked against type and
  // bounds (integers as int64_t, numbers as double), so it only converts.
  std::function<ConfigValue(const Config&)> get;
  std::function<void(Config&, const ConfigValue&)> set;
};

// Every key, in documentation order (task, data, model, train, output, dist).
const std::vector<ConfigKey>& config_schema();
// nullptr when `key` is not a schema key (sections such as "model" are not keys).
const ConfigKey* find_config_key(std::string_view key);
// True for a proper prefix of some key: "data", "train", "train.early_stopping".
bool is_config_section(std::string_view path);
// "integer", "number", "boolean", "string", "one of" ...
std::string_view config_type_name(ConfigType type);
// Human-readable bounds of a numeric key: "> 0", "[0, 1)", ">= 1"; "" when unbounded.
std::string config_range_text(const ConfigKey& key);
// The value as the user would write it in YAML (numbers in shortest round-trip form).
std::string format_config_value(const ConfigValue& value);
// Plain-language rules between keys, checked by the loader and listed in the docs.
const std::vector<std::string>& config_rules();

// What each task reports on validation data (what train.early_stopping.metric accepts):
//   language_model: val_loss, val_perplexity, val_accuracy, val_bpc (char level),
//                   val_bits_per_token (word level)
//   classify, tag, copy: val_loss, val_accuracy
//   forecast: val_loss, val_rmse, val_mae;  adding: val_loss, val_mse
// The trainer must log its metrics under these names. Empty for an unknown task.
std::vector<std::string> task_metrics(std::string_view task);
// (Which way a metric improves: tracking::metric_goal, tracking/vocabulary.h.)
// The built-in data sets that fit a task, the first being the task's default.
std::vector<std::string> task_datasets(std::string_view task);
// What `model.init: auto` becomes for a task: the scheme that learned faster at equal steps
// in the study of docs/results.md ("Initialisation: which default").
std::string task_init_scheme(std::string_view task);

}  // namespace rnnlab::trainer
