#include "trainer/data/translation_data.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

#include "layers/random.h"
#include "trainer/data/builders.h"
#include "trainer/data/sequence_data.h"

namespace rnnlab::trainer::data {
namespace {

static_assert(kTranslationSplitSeed == kSplitSeed, "translation splits share the classify/tag seed");

template <typename T>
void seeded_shuffle(std::vector<T>& items, uint64_t seed) {
  layers::RandomStream random{seed, 0, 0};
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[size_t(random.next_below(i))]);
}

SplitSizes sizes_for(const TranslationOptions& options, size_t count, const std::string& where) {
  DataConfig data;
  data.val_fraction = options.val_fraction;
  data.test_fraction = options.test_fraction;
  return split_sizes(data, int64_t(count), "translation pairs", where);
}

std::vector<Split> shuffle_splits(size_t count, const TranslationOptions& options, const std::string& where) {
  const SplitSizes sizes = sizes_for(options, count, where);
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), size_t(0));
  seeded_shuffle(order, options.split_seed);
  std::vector<Split> assignment(count, Split::train);
  for (int64_t i = 0; i < sizes.test + sizes.val; ++i) assignment[order[size_t(i)]] = i < sizes.test ? Split::test : Split::val;
  return assignment;
}

std::vector<Split> group_splits(const std::vector<TranslationPair>& pairs, const TranslationOptions& options,
                                const std::string& where) {
  std::vector<std::string> groups;  // in order of first appearance
  std::map<std::string, std::vector<size_t>> members;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].key.empty()) {
      throw std::invalid_argument(where + ":" + std::to_string(pairs[i].line) +
                                  ": splitting by group needs a key column (source<TAB>target<TAB>key)");
    }
    const std::string group = key_group(pairs[i].key);
    if (members.count(group) == 0) groups.push_back(group);
    members[group].push_back(i);
  }
  std::vector<Split> assignment(pairs.size(), Split::train);
  const auto give = [&](const std::string& group, Split split) {
    const auto found = members.find(group);
    if (found == members.end()) {
      std::string known;
      for (size_t g = 0; g < groups.size() && g < 8; ++g) known += (g ? ", " : "") + groups[g];
      throw std::invalid_argument("split group '" + group + "' is not in " + where + " (its groups: " + known +
                                  (groups.size() > 8 ? ", ..." : "") + ")");
    }
    for (size_t i : found->second) assignment[i] = split;
  };
  if (!options.test_groups.empty() || !options.val_groups.empty()) {
    for (const std::string& group : options.test_groups) give(group, Split::test);
    for (const std::string& group : options.val_groups) give(group, Split::val);
  } else {
    const SplitSizes sizes = sizes_for(options, pairs.size(), where);
    seeded_shuffle(groups, options.split_seed);
    size_t next = 0;
    for (const auto& [split, wanted] : {std::pair{Split::test, sizes.test}, std::pair{Split::val, sizes.val}}) {
      for (int64_t taken = 0; taken < wanted && next < groups.size(); ++next) {
        give(groups[next], split);
        taken += int64_t(members[groups[next]].size());
      }
    }
  }
  if (std::find(assignment.begin(), assignment.end(), Split::train) == assignment.end()) {
    throw std::invalid_argument("the split by group leaves no training pairs in " + where);
  }
  return assignment;
}

void check_options(const TranslationOptions& options) {
  if (options.max_length < 0) throw std::invalid_argument("key 'data.max_length': must be >= 0 (0 = no bound)");
}

// One padded batch of `plan.local` (indices into `pairs`).
TranslationBatch make_batch(const std::vector<EncodedPair>& pairs, const PlannedBatch& plan) {
  TranslationBatch batch;
  const size_t N = plan.local.size();
  batch.batch_size = int(N);
  for (int64_t index : plan.local) {
    const EncodedPair& pair = pairs[size_t(index)];
    batch.source_len = std::max(batch.source_len, int(pair.source.size()));
    batch.target_len = std::max(batch.target_len, int(pair.target.size()) + 1);
  }
  const size_t S = size_t(batch.source_len), T = size_t(batch.target_len);
  batch.source.assign(S * N, SideCodec::kPadId);
  batch.target_in.assign(T * N, SideCodec::kPadId);
  batch.target_out.assign(T * N, kIgnoreIndex);
  for (size_t n = 0; n < N; ++n) {
    const EncodedPair& pair = pairs[size_t(plan.local[n])];
    for (size_t t = 0; t < pair.source.size(); ++t) batch.source[t * N + n] = pair.source[t];
    const size_t m = pair.target.size();
    for (size_t t = 0; t <= m; ++t) {
      batch.target_in[t * N + n] = t == 0 ? SideCodec::kBosId : pair.target[t - 1];
      batch.target_out[t * N + n] = t == m ? SideCodec::kEosId : pair.target[t];
    }
    batch.source_lengths.push_back(int32_t(pair.source.size()));
    batch.target_lengths.push_back(int32_t(m + 1));
    batch.examples.push_back(plan.local[n]);
    batch.local_targets += int64_t(m + 1);
  }
  for (int64_t index : plan.global) batch.global_targets += int64_t(pairs[size_t(index)].target.size()) + 1;
  return batch;
}

}  // namespace

TranslationOptions::SplitBy parse_split_by(const std::string& name) {
  if (name == "shuffle") return TranslationOptions::SplitBy::shuffle;
  if (name == "group") return TranslationOptions::SplitBy::group;
  throw std::invalid_argument("key 'data.split': unknown split '" + name + "' (choices: shuffle, group)");
}

std::vector<Split> assign_translation_splits(const std::vector<TranslationPair>& pairs,
                                             const TranslationOptions& options, const std::string& where) {
  return options.split_by == TranslationOptions::SplitBy::group ? group_splits(pairs, options, where)
                                                                 : shuffle_splits(pairs.size(), options, where);
}

TranslationCorpus TranslationCorpus::build(const std::vector<TranslationPair>& pairs, const TranslationOptions& options,
                                           const std::string& where) {
  return build_with(pairs, options, where, nullptr);
}

TranslationCorpus TranslationCorpus::build_trained(const std::vector<TranslationPair>& pairs,
                                                   const TranslationOptions& options, const std::string& where,
                                                   const nlohmann::json& trained) {
  return build_with(pairs, options, where, &trained);
}

TranslationCorpus TranslationCorpus::build_with(const std::vector<TranslationPair>& pairs,
                                                const TranslationOptions& options, const std::string& where,
                                                const nlohmann::json* trained) {
  check_options(options);
  const std::vector<Split> assignment = assign_translation_splits(pairs, options, where);
  std::vector<std::vector<std::string>> source_tokens(pairs.size()), target_tokens(pairs.size());
  std::vector<bool> kept(pairs.size(), true);
  std::vector<std::vector<std::string>> train_sources, train_targets;
  TranslationCorpus corpus;
  for (size_t i = 0; i < pairs.size(); ++i) {
    source_tokens[i] = options.tokenizer.split(pairs[i].source);
    target_tokens[i] = options.tokenizer.split(pairs[i].target);
    if (source_tokens[i].empty() || target_tokens[i].empty()) {
      corpus.no_tokens_++;
      kept[i] = false;
      continue;
    }
    const bool over = options.max_length > 0 && (int(source_tokens[i].size()) > options.max_length ||
                                                 int(target_tokens[i].size()) > options.max_length);
    const int split = int(assignment[i]);
    if (over) corpus.too_long_[split]++;
    kept[i] = !(over && assignment[i] == Split::train);
    if (kept[i] && assignment[i] == Split::train) {
      train_sources.push_back(source_tokens[i]);
      train_targets.push_back(target_tokens[i]);
    }
  }
  if (train_sources.empty()) {
    throw std::invalid_argument("key 'data.max_length': " + std::to_string(options.max_length) +
                                " leaves no training pair of " + where);
  }
  if (trained != nullptr) {
    const auto part = [&](const char* side) -> const nlohmann::json& {
      if (!trained->is_object() || !trained->contains(side)) {
        throw std::invalid_argument(std::string("the checkpoint's data metadata has no '") + side + "' codec");
      }
      return (*trained)[side];
    };
    corpus.source_ = SideCodec::from_json(part("source"));
    corpus.target_ = SideCodec::from_json(part("target"));
  } else {
    corpus.source_ = SideCodec::build(options.tokenizer, train_sources, options.source_max_vocab,
                                      options.source_min_count, "source");
    corpus.target_ = SideCodec::build(options.tokenizer, train_targets, options.target_max_vocab,
                                      options.target_min_count, "target");
  }
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (!kept[i]) continue;
    corpus.splits_[int(assignment[i])].push_back(
        {corpus.source_.encode(source_tokens[i]), corpus.target_.encode(target_tokens[i]), int64_t(i)});
  }
  return corpus;
}

std::vector<TranslationBatch> TranslationCorpus::batches(Split split, const BatchOptions& options) const {
  const std::vector<EncodedPair>& pairs = splits_[int(split)];
  std::vector<int> lengths;
  lengths.reserve(pairs.size());
  for (const EncodedPair& pair : pairs) lengths.push_back(int(std::max(pair.source.size(), pair.target.size() + 1)));
  BatchOptions padded = options;
  padded.padded = true;
  std::vector<TranslationBatch> out;
  for (const PlannedBatch& plan : plan_batches(lengths, false, split == Split::train, padded)) {
    out.push_back(make_batch(pairs, plan));
  }
  return out;
}

nlohmann::json TranslationCorpus::metadata() const {
  return nlohmann::json{{"source", source_.to_json()},
                        {"target", target_.to_json()},
                        {"split_pairs", {splits_[0].size(), splits_[1].size(), splits_[2].size()}},
                        {"too_long", {too_long_[0], too_long_[1], too_long_[2]}},
                        {"no_tokens", no_tokens_}};
}

}  // namespace rnnlab::trainer::data
