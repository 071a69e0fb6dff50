// One builder per task, called by make_task_data (task_data.cc) once the data set's path
// and format are resolved. Internal to trainer/data. Each throws what make_task_data
// documents.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "trainer/config.h"
#include "trainer/data/readers.h"
#include "trainer/data/task_data.h"

namespace rnnlab::trainer::data {

// Seed of the fixed shuffle that splits classify and tag examples into train/val/test:
// independent of train.seed so that runs with different seeds share one test set.
constexpr uint64_t kSplitSeed = 0x5350524C4954ull;  // "SPRLIT"

// `trained` (nullable): a checkpoint's TaskData::metadata(); when given, the vocabularies and
// the normalisation come from it instead of being fitted on this data's training split.
std::unique_ptr<TaskData> build_language_model(const Config& config, const std::string& path,
                                               const nlohmann::json* trained);
// format: "tsv" or "csv"
std::unique_ptr<TaskData> build_classify(const Config& config, const std::string& path, const std::string& format,
                                         const nlohmann::json* trained);
// format: "tagged" or "conll"; proper_names: replace the POS tags by their proper-name spans
// (wsj_names, oanc_names). The tags are checked against data.scheme (tag_schemes.cc).
std::unique_ptr<TaskData> build_tag(const Config& config, const std::string& path, const std::string& format,
                                    bool proper_names, const nlohmann::json* trained);

// data.scheme for the tag task: resolves "auto", derives proper-name tags when asked, checks
// every tag against the scheme (std::invalid_argument naming file:line and the tag) and
// returns "" (none), "bio" or "iobes"; sentences breaking the scheme's grammar (an I- after
// O, ...) are not errors: they add one line to `warnings` with their count and the first.
std::string apply_tag_scheme(const DataConfig& data, const std::string& path, bool proper_names,
                             std::vector<TaggedSentence>& sentences, std::vector<std::string>& warnings);
std::unique_ptr<TaskData> build_forecast(const Config& config, const std::string& path,
                                         const nlohmann::json* trained);

// The part `key` of a checkpoint's data metadata; std::invalid_argument when it is missing.
const nlohmann::json& trained_part(const nlohmann::json& trained, const std::string& key);
std::unique_ptr<TaskData> build_adding(const Config& config);
std::unique_ptr<TaskData> build_copy(const Config& config);

// Sizes of the train/val/test parts of `count` items for the configured fractions; throws
// std::invalid_argument naming data.val_fraction / data.test_fraction when they are out of
// [0, 1) or leave no training data, and naming `source` (the data file) when it holds no
// items at all.
struct SplitSizes {
  int64_t train = 0, val = 0, test = 0;
};
SplitSizes split_sizes(const DataConfig& data, int64_t count, const std::string& what, const std::string& source);

}  // namespace rnnlab::trainer::data
