// The language model's validation and test score: one stream over the whole split from a
// zero state (trainer/data/language_model_data.cc), so every target after the first token
// is scored (tokens - 1 of them) and the loss is the same whatever train.batch_size is.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/trainer/train_test_util.h"
#include "trainer/data/task_data.h"
#include "trainer/evaluate.h"
#include "trainer/train.h"

namespace rnnlab::trainer {
namespace {

using data::Batch;
using data::BatchOptions;
using data::Split;
using testing_util::TempFolder;
using testing_util::tiny_config;

BatchOptions options_for(int batch_size, int rank = 0, int world = 1) {
  BatchOptions options;
  options.batch_size = batch_size;
  options.rank = rank;
  options.world = world;
  return options;
}

TEST(LanguageModelScoring, EveryTargetOfValAndTestInOneStreamWhateverTheBatchSize) {
  TempFolder folder;
  const Config config = tiny_config("language_model", folder);
  const auto task_data = data::make_task_data(config);
  for (const Split split : {Split::val, Split::test}) {
    const int64_t tokens = task_data->size(split);
    ASSERT_GT(tokens, 3 * config.data.seq_len) << "the fixture should need several chunks";
    std::vector<Batch> first;
    for (const int batch_size : {1, 7, 32}) {
      const auto batches = task_data->batches(split, options_for(batch_size));
      int64_t scored = 0;
      std::vector<int32_t> inputs, targets;
      for (size_t b = 0; b < batches.size(); ++b) {
        const Batch& batch = batches[b];
        EXPECT_EQ(batch.batch_size, 1);
        EXPECT_EQ(batch.resets_state, b == 0) << "the state is carried through the whole split";
        EXPECT_LE(batch.seq_len, config.data.seq_len);
        EXPECT_EQ(batch.global_targets, batch.seq_len);
        scored += batch.global_targets;
        inputs.insert(inputs.end(), batch.tokens.begin(), batch.tokens.end());
        targets.insert(targets.end(), batch.token_targets.begin(), batch.token_targets.end());
      }
      EXPECT_EQ(scored, tokens - 1) << "split " << int(split) << ", batch_size " << batch_size;
      // Target i is the input i + 1: one contiguous stream, tail included.
      ASSERT_EQ(inputs.size(), size_t(tokens - 1));
      for (size_t i = 0; i + 1 < inputs.size(); ++i) ASSERT_EQ(targets[i], inputs[i + 1]) << i;
      if (first.empty()) first = batches;
      ASSERT_EQ(batches.size(), first.size());
      for (size_t b = 0; b < batches.size(); ++b) EXPECT_EQ(batches[b].tokens, first[b].tokens);
    }
  }
}

TEST(LanguageModelScoring, OtherRanksGetAsManyEmptyBatches) {
  TempFolder folder;
  const Config config = tiny_config("language_model", folder);
  const auto task_data = data::make_task_data(config);
  const auto owner = task_data->batches(Split::test, options_for(4, 0, 3));
  const auto other = task_data->batches(Split::test, options_for(4, 2, 3));
  ASSERT_EQ(owner.size(), other.size());
  for (size_t b = 0; b < owner.size(); ++b) {
    EXPECT_EQ(owner[b].batch_size, 1);
    EXPECT_EQ(other[b].batch_size, 0);
    EXPECT_EQ(other[b].global_targets, owner[b].global_targets);
    EXPECT_EQ(other[b].local_targets, 0);
  }
}

TEST(LanguageModelScoring, TestLossIsTheSameForBatchSizes1_7_32) {
  TempFolder folder;
  Config config = tiny_config("language_model", folder);
  config.train.epochs = 100;
  config.train.max_steps = 6;
  TrainOptions quiet;
  quiet.quiet = true;
  const TrainResult trained = train(config, quiet);
  const std::string checkpoint = checkpoint_path(config);
  std::vector<double> losses;
  for (const int batch_size : {1, 7, 32}) {
    EvaluateOptions options;
    options.overrides = {"train.batch_size=" + std::to_string(batch_size)};
    const EvaluateResult result = evaluate_checkpoint(checkpoint, options);
    losses.push_back(result.metrics.at("loss"));
  }
  EXPECT_GT(losses[0], 0.0);
  EXPECT_DOUBLE_EQ(losses[1], losses[0]);
  EXPECT_DOUBLE_EQ(losses[2], losses[0]);
  // The run itself (batch_size 4) logged the same number.
  EXPECT_NEAR(trained.test.at("loss"), losses[0], 1e-12);
}

}  // namespace
}  // namespace rnnlab::trainer
