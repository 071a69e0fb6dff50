// The data side of every task behind one interface: the training loop asks a TaskData for
// its sizes and for the batches of one split and epoch, and never needs to know the task.
//
//   auto data = make_task_data(config);               // reads files, builds vocabularies
//   TaskInfo info = data->info();                      // vocab_size, output_size, ...
//   for (int64_t epoch = 0; ...; ++epoch)
//     for (const Batch& batch : data->batches(Split::train, {batch_size, seed, epoch, rank, world}))
//       ...
//
// Determinism: batches() is a pure function of (data, split, options): the order comes from
// layers::RandomStream seeded by (options.seed, options.epoch), never from threads or time.
// Only the train split is shuffled; val and test come in a fixed order.
//
// Data parallelism (rank r of world W): every rank computes the same epoch plan and takes
// its share, so the ranks never communicate to agree on it.
//   language_model, train split: W * batch_size streams over the split; rank r owns streams
//     [r * batch_size, (r + 1) * batch_size). Every rank has the same number of batches; the
//     last (< W * batch_size) tokens that do not fill a stream are left out of the epoch, and
//     the last batch may be shorter in time (seq_len < data.seq_len) on every rank alike.
//   language_model, val and test: ONE stream over the whole split (batch_size 1, the state
//     carried from chunk to chunk, data.seq_len steps each), so every target after the
//     first token is scored (size() - 1 of them) whatever batch_size and W are; rank 0
//     holds it and every other rank gets as many empty batches.
//   sequence tasks: sequences are cut into global batches of W * batch_size: padded (the
//     default, classify and tag) from length-sorted pools, so all batches are full but the
//     epoch's last; unpadded (or tasks of one length) from groups of one exact length (each
//     group's last batch is smaller). The global batches are shuffled, and each
//     is dealt to the W ranks as W slices whose sizes differ by at most one. So every rank
//     gets the SAME number of batches and every example is used exactly once per epoch; the
//     remainder shows up as smaller slices, and a global batch with fewer than W sequences
//     gives some ranks an EMPTY batch (batch_size 0). A rank must still take part in the
//     step's all-reduce with a zero gradient; Batch::global_targets gives the divisor.
//
// Thread safety: const methods may be called concurrently. Failures: make_task_data throws
// std::invalid_argument for a bad config or a malformed / missing data file (naming
// `file:line` or the key), std::runtime_error for I/O failures. batches() throws
// std::invalid_argument for bad options (batch_size < 1, rank outside [0, world)).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "trainer/config.h"
#include "trainer/data/batch.h"
#include "trainer/data/vocabulary.h"

namespace rnnlab::trainer::data {

struct TaskInfo {
  std::string task;  // language_model | classify | tag | forecast | adding | copy
  // Input: token ids in [0, vocab_size) when vocab_size > 0, else input_features floats.
  int vocab_size = 0;
  int input_features = 0;
  int pad_id = -1;  // the id padded positions hold in padded batches (-1: no padding)
  // Output: classes per sequence (classify) or per step (language_model, tag, copy), or
  // values per sequence (forecast: horizon, adding: 1).
  int output_size = 0;
  bool per_step_output = false;  // language_model, tag, copy: one prediction per time step
  // tag: "bio" or "iobes" when the tags are spans (data.scheme, trainer/data/spans.h), so
  // span precision / recall / F1 apply; "" for plain tags.
  std::string tag_scheme;
  bool regression = false;       // forecast, adding: mean squared error on value_targets
  // forecast: value_targets are z-scores of x, or of the change since the last input with
  // data.difference (forecast_scaling.h); report errors times std.
  double target_mean = 0.0;
  double target_std = 1.0;
};

class TaskData {
 public:
  virtual ~TaskData() = default;

  virtual TaskInfo info() const = 0;
  // Examples in a split: sequences, or tokens for language_model.
  virtual int64_t size(Split split) const = 0;
  // Every batch of one epoch of `split` for options.rank, in order. The whole epoch is
  // materialised (tens of MB at most for the data sets of docs/architecture.md).
  virtual std::vector<Batch> batches(Split split, const BatchOptions& options) const = 0;

  // Metrics of a trivial predictor on `split`, in the units the trainer reports, so results
  // can be read next to them:
  //   language_model: unigram model from training counts: "loss" (nats/token),
  //     "perplexity", "bpc" (character level) or "bits_per_token" (word level), the names
  //     the model's own results have
  //   classify: majority class: "accuracy"
  //   tag: most frequent tag of each training word (unknown words: most frequent tag):
  //     "accuracy"
  //   forecast: repeat the last value: "rmse", "mae" (original units); with data.season = m
  //     also the seasonal-naive forecast (the value m steps before, from the last season
  //     the window saw): "seasonal_rmse", "seasonal_mae"
  //   adding: predict the training mean: "mse"
  //   copy: uniform guess over the symbols: "loss" (nats/target)
  virtual std::map<std::string, double> baseline(Split split) const = 0;

  // Inputs as text (language_model, classify, tag); nullptr for numeric tasks.
  virtual const TextCodec* input_codec() const { return nullptr; }
  // Class or tag names by output id (classify, tag); nullptr otherwise.
  virtual const Vocabulary* output_vocabulary() const { return nullptr; }
  // tag, read for a trained model (make_task_data's `trained`): tokens of `split` whose tag
  // the model cannot output (e.g. WSJ's '' for a tagger trained on OANC). They are left out
  // of the loss and accuracy (kIgnoreIndex); the caller reports them. 0 otherwise.
  virtual int64_t unscored_targets(Split) const { return 0; }
  // Problems with the data that are not errors, one line each, for the caller to print
  // (e.g. span tags that break data.scheme: "file: 3 sentences have an I- tag ...").
  virtual std::vector<std::string> warnings() const { return {}; }

  // What a checkpoint stores to use the model later: task, sizes, codec, output names,
  // normalisation. {"task": ..., "input_codec": {...}, "output_vocabulary": {...},
  // "target_mean": m, "target_std": s, ...}
  virtual nlohmann::json metadata() const = 0;
};

// Builds the task's data from config.task and config.data (dataset, path, format, level,
// vocabulary options, splits, seq_len, window/horizon, synthetic sizes). With `trained` (a
// checkpoint's metadata(), for evaluating a trained model on this data), the input
// vocabulary, the label/tag set and the forecast normalisation are the checkpoint's instead
// of being fitted on this data's training split: words the model never saw become <unk>, a
// label outside the model's set is an std::invalid_argument naming it, and a tag outside it
// is not scored (TaskData::unscored_targets). The baselines are still fitted on this data's
// training split. Built-in data sets
// are looked up under data_root() (see datasets.h); synthetic ones (adding, copy) are
// generated from config.train.seed. The val/test split of classify and tag uses a fixed
// shuffle (the same for every run seed, so runs are comparable).
std::unique_ptr<TaskData> make_task_data(const Config& config, const nlohmann::json* trained = nullptr);

}  // namespace rnnlab::trainer::data
