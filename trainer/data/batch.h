// One training batch, time-major, the same struct for every task, and the options that
// choose which batches an epoch gives to which data-parallel rank.
//
// Layouts (T = seq_len, N = batch_size, F = features, K = target_size):
//   tokens         int32 [T, N]     token tasks: language_model, classify, tag, copy
//   values         float [T, N, F]  numeric tasks: forecast (F = 1), adding (F = 2)
//   token_targets  int32 [T, N]     language_model (next token), tag, copy; kIgnoreIndex where
//                                   no loss is taken (padding, copy task's input phase)
//   labels         int32 [N]        classify
//   value_targets  float [N, K]     forecast (normalised), adding (K = 1)
// Element (t, n) of a [T, N] tensor is at t * N + n; (t, n, f) at (t * N + n) * F + f.
// Exactly one of tokens/values is filled, and exactly one kind of target.
//
// Batches are plain values (no sharing, no views): copy or move them freely.
#pragma once

#include <cstdint>
#include <vector>

namespace rnnlab::trainer::data {

// Target value meaning "no loss here" (PyTorch's CrossEntropyLoss default ignore_index).
constexpr int32_t kIgnoreIndex = -100;

enum class Split { train, val, test };
const char* split_name(Split split);  // "train" | "val" | "test"

struct Batch {
  int seq_len = 0;     // T: time steps of every sequence in the batch (the longest if padded)
  int batch_size = 0;  // N: sequences on THIS rank; may be 0 (see BatchOptions::world)
  int features = 0;    // F: 0 for token input

  std::vector<int32_t> tokens;  // [T, N]; padded positions hold TaskInfo::pad_id
  std::vector<float> values;    // [T, N, F]; padded positions hold 0

  // [N] valid steps per sequence, only for padded batches (BatchOptions::padded); empty
  // means every sequence has exactly seq_len steps. Padding is at the end (steps
  // lengths[n] .. T-1 of column n); the recurrent stack runs each sequence over its own
  // length (layers/recurrent.h), so results are exact.
  std::vector<int32_t> lengths;
  // Valid input steps of this step summed over ALL ranks (what tokens/s counts); 0 means
  // seq_len * batch_size on every rank (no padding).
  int64_t global_steps = 0;

  std::vector<int32_t> token_targets;  // [T, N]
  std::vector<int32_t> labels;         // [N]
  std::vector<float> value_targets;    // [N, K]
  int target_size = 0;                 // K

  // language_model: true for the first batch of an epoch (and of every evaluation pass):
  // the hidden state must start from zero. Every later batch continues the streams of
  // the one before it, so the loop carries the final state over (truncated BPTT).
  // Other tasks: always true (each batch holds whole, independent sequences).
  bool resets_state = true;

  // Loss terms in this optimizer step summed over ALL ranks: sequences for classify,
  // forecast and adding; non-ignored token targets for language_model, tag and copy.
  // Every rank knows it without communication, so the exact global mean is
  //   all_reduce_sum(d/dw sum of local losses) / global_targets,
  // which also makes an empty batch (batch_size 0) contribute correctly.
  int64_t global_targets = 0;
  int64_t local_targets = 0;  // the same count for this rank's batch alone
};

// Global batches per length-sorted pool of padded training batches (torchtext's
// BucketIterator sorts within 100 batches): larger pools pad less, smaller ones mix more.
constexpr int kBucketPoolBatches = 100;

// Which batches of an epoch a call returns.
struct BatchOptions {
  int batch_size = 64;  // sequences (or BPTT streams) per rank
  uint64_t seed = 0;    // with epoch, determines the order; the same on every rank
  int64_t epoch = 0;
  int rank = 0;         // 0 <= rank < world
  int world = 1;        // data-parallel ranks
  // true (default): full batches of similar lengths, padded to the longest, with `lengths`
  // filled: training batches are cut from pools of kBucketPoolBatches global batches of a
  // seeded shuffle, each pool sorted by length (torchtext's BucketIterator), and go in a
  // shuffled order; evaluation batches are cut from the split sorted by length. Every
  // batch holds batch_size sequences per rank but the epoch's last. false: every batch
  // holds sequences of one exact length (no padding; many small batches when lengths
  // vary). Ignored by tasks whose sequences all have one length (language_model,
  // forecast, adding, copy).
  bool padded = true;
};

}  // namespace rnnlab::trainer::data
