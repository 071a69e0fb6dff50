// Pairs for `task: translate` (issue 12) as model input: tokenized, split, filtered by
// length, encoded with the two vocabularies of translation_text.h, and cut into padded
// batches. Built from pairs (a file's, the Bible's, or generated ones) and options; the
// config keys come with the task.
//
// Splits (Split::train / val / test):
//   shuffle  a fixed permutation seeded by split_seed (kSplitSeed by default, as classify
//            and tag), test first, then val, then train, in the fractions' sizes
//            (floor(count * fraction), as split_sizes() in builders.h).
//   group    whole groups of keys (key_group(): the Bible's books) go to one split: the
//            groups named in test_groups / val_groups, or, when none is named, groups in a
//            seeded order to test and then val until each holds at least its fraction of
//            the pairs. Every pair needs a key; an unknown group name is an error.
// Length: a TRAINING pair with more than max_length tokens on either side (without <s> and
// </s>) is left out and counted (too_long); it is never truncated. Held-out pairs are all
// kept (so BLEU covers every test sentence); how many of them are over the bound is counted
// too. max_length 0 means no bound. A pair with no token on a side (a side of only
// non-ASCII spaces) is left out of any split and counted (no_tokens).
// Vocabularies come from the kept training pairs only, or from a checkpoint (`trained`
// codecs: unseen tokens become <unk>).
//
// Batches (TranslationBatch): the split's pairs in the epoch plan of sequence_data.h's
// plan_batches (bucketed by max(source, target + 1) length, shuffled for train with
// (seed, epoch), dealt to data-parallel ranks; val and test in a fixed length-sorted order).
// Time-major like batch.h: element (t, n) of a [T, N] tensor is at t * N + n.
//   source          [S, N]  source ids, <pad> after each source's length
//   target_in       [T, N]  <s> y1 .. ym, then <pad>       (teacher forcing input)
//   target_out      [T, N]  y1 .. ym </s>, then kIgnoreIndex (what the loss scores)
//   source_lengths  [N], target_lengths [N] (= m + 1), examples [N] (the pair's index in its
//   split: for references and keys).
// S and T are the batch's longest source and target + 1, so a pair in a padded batch gives
// exactly the loss it gives alone when the model masks source padding and the loss ignores
// kIgnoreIndex.
//
// Immutable after build; const methods are thread safe. Errors: std::invalid_argument
// naming the option (data.max_length, data.val_fraction, ...), the file or the group.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/data/batch.h"
#include "trainer/data/translation_text.h"

namespace rnnlab::trainer::data {

constexpr uint64_t kTranslationSplitSeed = 0x5350524C4954ull;  // builders.h's kSplitSeed

struct TranslationOptions {
  PairTokenizer tokenizer;  // the same level and lowercasing on both sides
  int source_max_vocab = 0, source_min_count = 1;
  int target_max_vocab = 0, target_min_count = 1;
  int max_length = 50;
  enum class SplitBy { shuffle, group };
  SplitBy split_by = SplitBy::shuffle;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  uint64_t split_seed = kTranslationSplitSeed;
  std::vector<std::string> val_groups, test_groups;
};

TranslationOptions::SplitBy parse_split_by(const std::string& name);  // "shuffle" | "group"

struct EncodedPair {
  std::vector<int32_t> source, target;  // without <s> / </s>
  int64_t pair = 0;                     // index into the pairs build() was given
};

struct TranslationBatch {
  int batch_size = 0;  // N (may be 0 on some ranks, see task_data.h)
  int source_len = 0;  // S
  int target_len = 0;  // T
  std::vector<int32_t> source, target_in, target_out;
  std::vector<int32_t> source_lengths, target_lengths;
  std::vector<int64_t> examples;
  int64_t local_targets = 0;   // non-ignored target_out entries on this rank
  int64_t global_targets = 0;  // the same over all ranks' share of this step
};

class TranslationCorpus {
 public:
  // `where` names the data in messages (a path, "bible_en_es", "generated reverse").
  static TranslationCorpus build(const std::vector<TranslationPair>& pairs, const TranslationOptions& options,
                                 const std::string& where);
  // With a checkpoint's codecs (metadata()["source"] / ["target"]) instead of new ones.
  static TranslationCorpus build_trained(const std::vector<TranslationPair>& pairs, const TranslationOptions& options,
                                         const std::string& where, const nlohmann::json& trained);

  const std::vector<EncodedPair>& pairs(Split split) const { return splits_[int(split)]; }
  int64_t too_long(Split split) const { return too_long_[int(split)]; }
  int64_t no_tokens() const { return no_tokens_; }
  const SideCodec& source_codec() const { return source_; }
  const SideCodec& target_codec() const { return target_; }
  std::vector<TranslationBatch> batches(Split split, const BatchOptions& options) const;
  // {"source": codec, "target": codec, "split_pairs": [...], "too_long": [...], "no_tokens": n}
  nlohmann::json metadata() const;

 private:
  static TranslationCorpus build_with(const std::vector<TranslationPair>& pairs, const TranslationOptions& options,
                                      const std::string& where, const nlohmann::json* trained);

  SideCodec source_, target_;
  std::vector<EncodedPair> splits_[3];
  int64_t too_long_[3] = {0, 0, 0};
  int64_t no_tokens_ = 0;
};

// Which split each pair goes to (the rules above); exposed for tests.
std::vector<Split> assign_translation_splits(const std::vector<TranslationPair>& pairs,
                                             const TranslationOptions& options, const std::string& where);

}  // namespace rnnlab::trainer::data
