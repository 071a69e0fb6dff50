#include "trainer/data/sequence_data.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "layers/random.h"

namespace rnnlab::trainer::data {
namespace {

// Stream id of the epoch shuffle; distinct from the streams weight init and dropout use.
constexpr uint64_t kShuffleStream = 0x53485546464C45ull;  // "SHUFFLE"

// Fisher-Yates over items[0, count).
template <typename T>
void shuffle(std::vector<T>& items, layers::RandomStream& random, size_t count) {
  for (size_t i = count; i > 1; --i) {
    std::swap(items[i - 1], items[size_t(random.next_below(i))]);
  }
}

template <typename T>
void shuffle(std::vector<T>& items, layers::RandomStream& random) {
  shuffle(items, random, items.size());
}

using GlobalBatches = std::vector<std::vector<int64_t>>;

void cut_into(const std::vector<int64_t>& members, size_t global_size, GlobalBatches& out) {
  for (size_t begin = 0; begin < members.size(); begin += global_size) {
    const size_t end = std::min(members.size(), begin + global_size);
    out.emplace_back(members.begin() + long(begin), members.begin() + long(end));
  }
}

// One group per exact length (ascending), shuffled within, each cut into global batches;
// then the batch order is shuffled.
GlobalBatches exact_length_batches(const std::vector<int>& lengths, bool shuffle_order, size_t global_size,
                                   layers::RandomStream& random) {
  std::map<int, std::vector<int64_t>> groups;
  for (size_t i = 0; i < lengths.size(); ++i) groups[lengths[i]].push_back(int64_t(i));
  GlobalBatches batches;
  for (auto& [length, members] : groups) {
    if (shuffle_order) shuffle(members, random);
    cut_into(members, global_size, batches);
  }
  // So that one epoch does not go from short to long sequences.
  if (shuffle_order) shuffle(batches, random);
  return batches;
}

// Bucketing (torchtext's BucketIterator): a seeded shuffle of all examples, each pool of
// kBucketPoolBatches global batches sorted by length (stable), cut into full global
// batches; their order is shuffled and the one partial batch (if any) goes last. Without
// shuffling the whole split is one pool.
GlobalBatches bucketed_batches(const std::vector<int>& lengths, bool shuffle_order, size_t global_size,
                               layers::RandomStream& random) {
  std::vector<int64_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  if (shuffle_order) shuffle(order, random);
  const size_t pool = shuffle_order ? size_t(kBucketPoolBatches) * global_size : std::max<size_t>(order.size(), 1);
  for (size_t begin = 0; begin < order.size(); begin += pool) {
    const size_t end = std::min(order.size(), begin + pool);
    std::stable_sort(order.begin() + long(begin), order.begin() + long(end),
                     [&](int64_t a, int64_t b) { return lengths[size_t(a)] < lengths[size_t(b)]; });
  }
  GlobalBatches batches;
  cut_into(order, global_size, batches);
  if (shuffle_order && !batches.empty())
    shuffle(batches, random, batches.size() - (batches.back().size() < global_size ? 1 : 0));
  return batches;
}

}  // namespace

const char* split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::val: return "val";
    case Split::test: return "test";
  }
  return "?";
}

void check_batch_options(const BatchOptions& options) {
  if (options.batch_size < 1) throw std::invalid_argument("key 'train.batch_size': must be >= 1");
  if (options.world < 1) throw std::invalid_argument("data parallel world size must be >= 1");
  if (options.rank < 0 || options.rank >= options.world) {
    throw std::invalid_argument("rank " + std::to_string(options.rank) + " outside [0, " +
                                std::to_string(options.world) + ")");
  }
}

std::vector<PlannedBatch> plan_batches(const std::vector<int>& lengths, bool group_by_length, bool shuffle_order,
                                       const BatchOptions& options) {
  check_batch_options(options);
  // 1-3. The global batches of the epoch, in order.
  layers::RandomStream random{options.seed, kShuffleStream ^ layers::mix64(uint64_t(options.epoch)), 0};
  const size_t global_size = size_t(options.world) * size_t(options.batch_size);
  GlobalBatches global_batches = group_by_length ? exact_length_batches(lengths, shuffle_order, global_size, random)
                                                 : bucketed_batches(lengths, shuffle_order, global_size, random);

  // 4. Deal each global batch to the ranks: W slices whose sizes differ by at most one,
  // the larger ones first.
  std::vector<PlannedBatch> plan;
  plan.reserve(global_batches.size());
  const size_t world = size_t(options.world);
  const size_t rank = size_t(options.rank);
  for (auto& global : global_batches) {
    const size_t base = global.size() / world;
    const size_t extra = global.size() % world;
    const size_t begin = rank * base + std::min(rank, extra);
    const size_t count = base + (rank < extra ? 1 : 0);
    PlannedBatch batch;
    batch.local.assign(global.begin() + long(begin), global.begin() + long(begin + count));
    batch.global = std::move(global);
    plan.push_back(std::move(batch));
  }
  return plan;
}

std::vector<Batch> SequenceTaskData::batches(Split split, const BatchOptions& options) const {
  const SequenceSet& set = splits[int(split)];
  const int features = std::max(task_info.input_features, 1);
  std::vector<int> lengths(set.size());
  for (size_t i = 0; i < set.size(); ++i) lengths[i] = set.length(i, features);
  // Padding only where lengths differ: a split of one length (copy, forecast, adding)
  // keeps the exact-length plan.
  const bool one_length = std::adjacent_find(lengths.begin(), lengths.end(), std::not_equal_to<>()) == lengths.end();
  const bool padded = options.padded && task_info.pad_id >= 0 && !one_length;
  const std::vector<PlannedBatch> plan = plan_batches(lengths, !padded, split == Split::train, options);

  // Loss terms of one example: its steps with a target, or 1 for per-sequence targets.
  auto targets_of = [&](int64_t example) -> int64_t {
    if (set.step_targets.empty()) return 1;
    const auto& steps = set.step_targets[size_t(example)];
    return std::count_if(steps.begin(), steps.end(), [](int32_t t) { return t != kIgnoreIndex; });
  };

  std::vector<Batch> batches;
  batches.reserve(plan.size());
  for (const PlannedBatch& planned : plan) {
    Batch batch;
    const int n_size = int(planned.local.size());
    int seq_len = 0;
    for (int64_t example : planned.global) seq_len = std::max(seq_len, lengths[size_t(example)]);
    batch.seq_len = seq_len;
    batch.batch_size = n_size;
    for (int64_t example : planned.global) batch.global_targets += targets_of(example);
    for (int64_t example : planned.local) batch.local_targets += targets_of(example);
    if (padded)
      for (int64_t example : planned.global) batch.global_steps += lengths[size_t(example)];
    const size_t cells = size_t(seq_len) * size_t(n_size);
    if (padded) {
      for (int64_t example : planned.local) batch.lengths.push_back(lengths[size_t(example)]);
    }
    if (!set.tokens.empty()) {
      batch.tokens.assign(cells, padded ? task_info.pad_id : 0);
    } else {
      batch.features = features;
      batch.values.assign(cells * size_t(features), 0.0f);
    }
    if (!set.step_targets.empty()) batch.token_targets.assign(cells, kIgnoreIndex);
    if (!set.value_targets.empty()) {
      batch.target_size = int(set.value_targets[0].size());
      batch.value_targets.reserve(size_t(n_size) * size_t(batch.target_size));
    }
    for (int n = 0; n < n_size; ++n) {
      const size_t example = size_t(planned.local[size_t(n)]);
      const int length = lengths[example];
      for (int t = 0; t < length; ++t) {
        const size_t cell = size_t(t) * size_t(n_size) + size_t(n);
        if (!set.tokens.empty()) {
          batch.tokens[cell] = set.tokens[example][size_t(t)];
        } else {
          std::copy_n(set.values[example].begin() + long(t) * features, features,
                      batch.values.begin() + long(cell) * features);
        }
        if (!set.step_targets.empty()) batch.token_targets[cell] = set.step_targets[example][size_t(t)];
      }
      if (!set.labels.empty()) batch.labels.push_back(set.labels[example]);
      if (!set.value_targets.empty()) {
        const auto& target = set.value_targets[example];
        batch.value_targets.insert(batch.value_targets.end(), target.begin(), target.end());
      }
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

nlohmann::json SequenceTaskData::metadata() const {
  nlohmann::json document = extra_metadata;
  document["task"] = task_info.task;
  document["vocab_size"] = task_info.vocab_size;
  document["input_features"] = task_info.input_features;
  document["output_size"] = task_info.output_size;
  document["target_mean"] = task_info.target_mean;
  document["target_std"] = task_info.target_std;
  if (codec) document["input_codec"] = codec->to_json();
  if (outputs) document["output_vocabulary"] = outputs->to_json();
  return document;
}

}  // namespace rnnlab::trainer::data
