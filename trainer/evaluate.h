// Evaluating a trained model: `rnnlab evaluate CHECKPOINT [--split val|test] [data.x=...]`.
//
// A checkpoint holds the config and the data metadata (vocabulary, label/tag set,
// normalisation) it was trained with. evaluate_checkpoint() rebuilds that config, applies
// the overrides, reads the data with the CHECKPOINT's vocabularies (make_task_data's
// `trained` mode: unseen words become <unk>), and computes the task's metrics on one split
// exactly as the training loop does (same batches, same code path), so evaluating the final
// checkpoint of a finished run on `test` gives the test metrics that run logged, bit for bit.
//
// Overrides may point the model at other data: `data.dataset=wsj_pos` evaluates a tagger
// trained on oanc_pos on WSJ's held-out test sentences, `data.dataset=file data.path=...`
// on the user's file. Only keys that do not change the model's shape can be overridden:
// data.* except level, lowercase, max_vocab, min_count, window, horizon, difference,
// copy_symbols and copy_length; model.backend; train.batch_size; train.threads.
//
// Failure: a missing file throws std::invalid_argument naming it; a corrupt or truncated
// one std::runtime_error (from load_checkpoint); a file that is not an rnnlab checkpoint,
// a bad split name, an override of another key or a bad value, data that do not fit the
// model (a label it was not trained on) throw std::invalid_argument naming the checkpoint,
// key or file. Nothing is written.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trainer/config.h"

namespace rnnlab::trainer {

struct EvaluateOptions {
  std::string split = "test";          // train | val | test
  std::vector<std::string> overrides;  // "data.dataset=wsj_pos", applied to the stored config
};

struct EvaluateResult {
  Config config;       // the stored config with the overrides applied
  std::string split;
  int64_t step = 0;    // the checkpoint's optimizer step
  int64_t examples = 0;  // sequences in the split (tokens for language_model)
  std::map<std::string, double> metrics;   // the task's metrics (as TrainResult::test)
  std::map<std::string, double> baseline;  // the trivial predictor on the same split
  // tag on other data: tokens whose tag the model cannot output (not in `metrics`' loss and
  // accuracy); when > 0, metrics also has "accuracy_counting_unscored" (them counted wrong).
  int64_t unscored = 0;
};

EvaluateResult evaluate_checkpoint(const std::string& checkpoint_path, const EvaluateOptions& options = {});

}  // namespace rnnlab::trainer
