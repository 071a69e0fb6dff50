// language_model: one token stream split by position (train, then val, then test) and
// batched for truncated BPTT as parallel streams (the layout is in task_data.h).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "trainer/data/builders.h"
#include "trainer/data/readers.h"
#include "trainer/data/sequence_data.h"

namespace rnnlab::trainer::data {
namespace {

class LanguageModelData : public TaskData {
 public:
  LanguageModelData(TextCodec codec, std::vector<int32_t> streams[3], int seq_len) : codec_(std::move(codec)), seq_len_(seq_len) {
    for (int i = 0; i < 3; ++i) streams_[i] = std::move(streams[i]);
    // Unigram model with add-one smoothing, so a token unseen in training (<unk> when no
    // training token fell below min_count) keeps a finite loss.
    std::vector<double> counts(size_t(codec_.vocabulary.size()), 1.0);
    for (int32_t id : streams_[0]) counts[size_t(id)] += 1.0;
    double total = 0;
    for (double count : counts) total += count;
    for (int i = 0; i < 3; ++i) {
      double nats = 0;
      for (int32_t id : streams_[i]) nats -= std::log(counts[size_t(id)] / total);
      const double loss = streams_[i].empty() ? 0.0 : nats / double(streams_[i].size());
      // The model's name for the same quantity (Objective::metrics): bpc at character level.
      const char* bits = codec_.tokenizer.level == Tokenizer::Level::character ? "bpc" : "bits_per_token";
      baselines_[i] = {{"loss", loss}, {"perplexity", std::exp(loss)}, {bits, loss / std::log(2.0)}};
    }
  }

  TaskInfo info() const override {
    TaskInfo info;
    info.task = "language_model";
    info.vocab_size = codec_.vocabulary.size();
    info.output_size = codec_.vocabulary.size();
    info.per_step_output = true;
    return info;
  }

  int64_t size(Split split) const override { return int64_t(streams_[int(split)].size()); }

  std::vector<Batch> batches(Split split, const BatchOptions& options) const override {
    check_batch_options(options);
    return split == Split::train ? training_batches(options) : scoring_batches(split, options);
  }

  std::map<std::string, double> baseline(Split split) const override { return baselines_[int(split)]; }
  const TextCodec* input_codec() const override { return &codec_; }

  nlohmann::json metadata() const override {
    return nlohmann::json{{"task", "language_model"},
                          {"vocab_size", codec_.vocabulary.size()},
                          {"output_size", codec_.vocabulary.size()},
                          {"input_codec", codec_.to_json()},
                          {"split_tokens", {streams_[0].size(), streams_[1].size(), streams_[2].size()}}};
  }

 private:
  // Training: W * batch_size parallel streams; stream s covers tokens [s * stream_len,
  // (s + 1) * stream_len], its last token being only a target; the tail that does not fill
  // every stream is left out of that epoch.
  std::vector<Batch> training_batches(const BatchOptions& options) const {
    const std::vector<int32_t>& tokens = streams_[int(Split::train)];
    const int64_t streams = int64_t(options.world) * options.batch_size;
    const int64_t stream_len = tokens.empty() ? 0 : (int64_t(tokens.size()) - 1) / streams;
    if (stream_len < 1) {
      throw std::invalid_argument("the train split has " + std::to_string(tokens.size()) + " tokens, too few for " +
                                  std::to_string(streams) + " streams (train.batch_size x ranks); lower train.batch_size");
    }
    const int64_t first_stream = int64_t(options.rank) * options.batch_size;
    std::vector<Batch> batches;
    for (int64_t start = 0; start < stream_len; start += seq_len_) {
      const int t_size = int(std::min<int64_t>(seq_len_, stream_len - start));
      Batch batch = stream_batch(tokens, t_size, options.batch_size, stream_len, first_stream * stream_len + start);
      batch.resets_state = start == 0;
      batch.global_targets = int64_t(t_size) * streams;
      batches.push_back(std::move(batch));
    }
    return batches;
  }

  // Validation and test: ONE stream over the whole split from a zero state, the state
  // carried from chunk to chunk (PyTorch's charlm.py reads its validation text the same
  // way), so every target after the first token is scored, tokens.size() - 1 in all, and
  // the score does not depend on train.batch_size. Rank 0 scores it; every other rank gets
  // the same number of empty batches (batch_size 0), so the ranks' sums still reduce.
  std::vector<Batch> scoring_batches(Split split, const BatchOptions& options) const {
    const std::vector<int32_t>& tokens = streams_[int(split)];
    const int64_t targets = std::max<int64_t>(int64_t(tokens.size()) - 1, 0);
    std::vector<Batch> batches;
    for (int64_t start = 0; start < targets; start += seq_len_) {
      const int t_size = int(std::min<int64_t>(seq_len_, targets - start));
      Batch batch = options.rank == 0 ? stream_batch(tokens, t_size, 1, 0, start) : Batch{};
      if (options.rank != 0) batch.seq_len = t_size;
      batch.resets_state = start == 0;
      batch.global_targets = t_size;
      batches.push_back(std::move(batch));
    }
    return batches;
  }

  // t_size steps of n_size streams that start stream_len tokens apart, the first at token
  // `first`: inputs tokens[p], targets tokens[p + 1].
  static Batch stream_batch(const std::vector<int32_t>& tokens, int t_size, int n_size, int64_t stream_len,
                            int64_t first) {
    Batch batch;
    batch.seq_len = t_size;
    batch.batch_size = n_size;
    batch.tokens.resize(size_t(t_size) * size_t(n_size));
    batch.token_targets.resize(batch.tokens.size());
    for (int t = 0; t < t_size; ++t) {
      for (int n = 0; n < n_size; ++n) {
        const size_t position = size_t(first + int64_t(n) * stream_len + t);
        batch.tokens[size_t(t) * size_t(n_size) + size_t(n)] = tokens[position];
        batch.token_targets[size_t(t) * size_t(n_size) + size_t(n)] = tokens[position + 1];
      }
    }
    batch.local_targets = int64_t(t_size) * n_size;
    return batch;
  }

  TextCodec codec_;
  std::vector<int32_t> streams_[3];
  int seq_len_;
  std::map<std::string, double> baselines_[3];
};

}  // namespace

SplitSizes split_sizes(const DataConfig& data, int64_t count, const std::string& what, const std::string& source) {
  // Said before the fractions: no choice of them gives an empty file training data.
  if (count == 0) throw std::invalid_argument("data file '" + source + "' is empty (it holds no " + what + ")");
  if (!(data.val_fraction >= 0 && data.val_fraction < 1)) {
    throw std::invalid_argument("key 'data.val_fraction': must be in [0, 1)");
  }
  if (!(data.test_fraction >= 0 && data.test_fraction < 1)) {
    throw std::invalid_argument("key 'data.test_fraction': must be in [0, 1)");
  }
  SplitSizes sizes;
  sizes.val = int64_t(std::floor(double(count) * data.val_fraction));
  sizes.test = int64_t(std::floor(double(count) * data.test_fraction));
  sizes.train = count - sizes.val - sizes.test;
  if (sizes.train < 1) {
    throw std::invalid_argument("keys 'data.val_fraction' + 'data.test_fraction': leave no training " + what +
                                " out of " + std::to_string(count));
  }
  return sizes;
}

std::unique_ptr<TaskData> build_language_model(const Config& config, const std::string& path,
                                               const nlohmann::json* trained) {
  if (config.data.seq_len < 1) throw std::invalid_argument("key 'data.seq_len': must be >= 1");
  TextCodec codec;
  codec.tokenizer.level = Tokenizer::parse_level(config.data.level);
  codec.tokenizer.lowercase = config.data.lowercase;
  if (trained) codec = TextCodec::from_json(trained_part(*trained, "input_codec"));
  const std::vector<std::string> tokens = codec.tokenizer.split(read_text(path));
  const SplitSizes sizes = split_sizes(config.data, int64_t(tokens.size()), "tokens", path);

  std::map<std::string, int64_t> counts;
  for (int64_t i = 0; i < sizes.train; ++i) ++counts[tokens[size_t(i)]];
  if (!trained)
    codec.vocabulary = Vocabulary::from_counts(counts, {false, true, config.data.max_vocab, config.data.min_count});

  std::vector<int32_t> streams[3];
  const int64_t ends[3] = {sizes.train, sizes.train + sizes.val, int64_t(tokens.size())};
  int64_t begin = 0;
  for (int i = 0; i < 3; ++i) {
    streams[i].reserve(size_t(ends[i] - begin));
    for (int64_t j = begin; j < ends[i]; ++j) streams[i].push_back(codec.vocabulary.id(tokens[size_t(j)]));
    begin = ends[i];
  }
  return std::make_unique<LanguageModelData>(std::move(codec), streams, config.data.seq_len);
}

}  // namespace rnnlab::trainer::data
