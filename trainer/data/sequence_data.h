// Building blocks shared by the sequence tasks (classify, tag, forecast, adding, copy):
// the epoch plan (bucketing, seeded shuffle, sharding; the rules are in task_data.h) and
// a TaskData over in-memory sequences that the task builders fill. Internal to
// trainer/data, exposed for tests.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/data/task_data.h"

namespace rnnlab::trainer::data {

// Throws std::invalid_argument unless batch_size >= 1, world >= 1, 0 <= rank < world.
void check_batch_options(const BatchOptions& options);

struct PlannedBatch {
  std::vector<int64_t> local;   // this rank's example indices, in batch column order
  std::vector<int64_t> global;  // every rank's examples of the same step
};

// The epoch plan over examples 0..lengths.size()-1 for options.rank. With
// `group_by_length`, each batch holds examples of one exact length; with `shuffle`, the
// examples within each length group and the order of the global batches are permuted by a
// RandomStream seeded from (options.seed, options.epoch); otherwise examples keep their
// order and groups go by increasing length. Without `group_by_length` (padded batches),
// batches are full and of similar lengths (BatchOptions::padded says how).
std::vector<PlannedBatch> plan_batches(const std::vector<int>& lengths, bool group_by_length, bool shuffle,
                                       const BatchOptions& options);

// One split of a sequence task. Token input (tokens non-empty) or value input (values
// non-empty, each [length * features]); one target kind filled.
struct SequenceSet {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<float>> values;
  std::vector<std::vector<int32_t>> step_targets;  // per step, same length as the input
  std::vector<int32_t> labels;                     // per sequence
  std::vector<std::vector<float>> value_targets;   // per sequence, target_size each

  size_t size() const { return tokens.empty() ? values.size() : tokens.size(); }
  int length(size_t example, int features) const {
    return tokens.empty() ? int(values[example].size()) / features : int(tokens[example].size());
  }
};

// A TaskData over three in-memory splits. The builders (text_tasks.cc, numeric_tasks.cc)
// fill the fields and hand it out; it is immutable afterwards.
class SequenceTaskData : public TaskData {
 public:
  TaskInfo task_info;
  SequenceSet splits[3];  // indexed by Split
  std::map<std::string, double> baselines[3];
  std::optional<TextCodec> codec;
  std::optional<Vocabulary> outputs;
  nlohmann::json extra_metadata = nlohmann::json::object();
  int64_t unscored[3] = {0, 0, 0};  // see TaskData::unscored_targets
  std::vector<std::string> warning_lines;  // see TaskData::warnings

  TaskInfo info() const override { return task_info; }
  int64_t size(Split split) const override { return int64_t(splits[int(split)].size()); }
  std::vector<Batch> batches(Split split, const BatchOptions& options) const override;
  std::map<std::string, double> baseline(Split split) const override { return baselines[int(split)]; }
  const TextCodec* input_codec() const override { return codec ? &*codec : nullptr; }
  const Vocabulary* output_vocabulary() const override { return outputs ? &*outputs : nullptr; }
  int64_t unscored_targets(Split split) const override { return unscored[int(split)]; }
  std::vector<std::string> warnings() const override { return warning_lines; }
  nlohmann::json metadata() const override;
};

}  // namespace rnnlab::trainer::data
