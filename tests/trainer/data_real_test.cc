// The real data sets of docs/architecture.md, as fetched by tools/fetch-data (or `rnnlab data fetch`):
// every one loads through make_task_data with its default reader and has the size the
// design says. A data set that was not fetched is SKIPPED with the command to fetch it.
#include <gtest/gtest.h>

#include <cstdio>

#include "trainer/data/datasets.h"
#include "trainer/data/task_data.h"

namespace rnnlab::trainer::data {
namespace {

// Loads a fetched data set, or skips the test naming the command that fetches it.
#define LOAD_OR_SKIP(config, name)                                                               \
  do {                                                                                           \
    if (!dataset_fetched(find_dataset(name))) {                                                  \
      GTEST_SKIP() << "data set '" << name << "' is not fetched in " << data_root()             \
                   << ": run tools/fetch-data " << name << " (or rnnlab data fetch " << name << ")"; \
    }                                                                                            \
    (config).data.dataset = name;                                                                \
  } while (0)

void print_sizes(const char* name, const TaskData& data) {
  std::printf("%s: train %lld, val %lld, test %lld; vocab %d, outputs %d\n", name,
              static_cast<long long>(data.size(Split::train)), static_cast<long long>(data.size(Split::val)),
              static_cast<long long>(data.size(Split::test)), data.info().vocab_size, data.info().output_size);
}

TEST(RealData, MobyDickCharacters) {
  Config config;
  config.task = "language_model";
  LOAD_OR_SKIP(config, "moby_dick");
  const auto data = make_task_data(config);
  print_sizes("moby_dick", *data);
  const int64_t total = data->size(Split::train) + data->size(Split::val) + data->size(Split::test);
  EXPECT_EQ(total, 1190317);  // code points of data.txt (1,204,997 bytes)
  EXPECT_GT(data->info().vocab_size, 70);
  EXPECT_LT(data->info().vocab_size, 100);
  const double unigram_bpc = data->baseline(Split::val).at("bpc");  // the model's name at char level
  std::printf("moby_dick: unigram bits/char on val %.3f\n", unigram_bpc);
  EXPECT_GT(unigram_bpc, 4.0);
  EXPECT_LT(unigram_bpc, 5.0);
  const auto batches = data->batches(Split::train, {64, 0, 0, 0, 1, false});
  EXPECT_EQ(batches.size(), size_t((data->size(Split::train) - 1) / 64 + 99) / 100);
  const std::string start = data->input_codec()->decode(
      std::vector<int32_t>(batches[0].tokens.begin(), batches[0].tokens.begin() + 1));
  EXPECT_EQ(start, "C");  // "CHAPTER 1. Loomings."
}

TEST(RealData, StateOfTheUnionWords) {
  Config config;
  config.task = "language_model";
  config.data.level = "word";
  config.data.max_vocab = 20000;
  LOAD_OR_SKIP(config, "sotu");
  const auto data = make_task_data(config);
  print_sizes("sotu", *data);
  const int64_t total = data->size(Split::train) + data->size(Split::val) + data->size(Split::test);
  EXPECT_GT(total, 1790000);  // 1.79M whitespace words, plus punctuation tokens
  EXPECT_EQ(data->info().vocab_size, 20000);
}

TEST(RealData, PangLeeSentencePolarity) {
  Config config;
  config.task = "classify";
  LOAD_OR_SKIP(config, "pang_lee");
  const auto data = make_task_data(config);
  print_sizes("pang_lee", *data);
  EXPECT_EQ(data->size(Split::train), 3200);
  EXPECT_EQ(data->size(Split::val), 400);
  EXPECT_EQ(data->size(Split::test), 400);
  EXPECT_EQ(data->info().output_size, 2);
  EXPECT_EQ(data->output_vocabulary()->token(0), "-1");
  const double majority = data->baseline(Split::test).at("accuracy");
  EXPECT_GT(majority, 0.4);  // 2,000 of each label: a shuffled split stays near 0.5
  EXPECT_LT(majority, 0.6);
  int64_t sequences = 0;
  for (const Batch& batch : data->batches(Split::train, {32, 1, 0, 0, 1, false})) sequences += batch.batch_size;
  EXPECT_EQ(sequences, 3200);
}

TEST(RealData, WsjPartOfSpeech) {
  Config config;
  config.task = "tag";
  LOAD_OR_SKIP(config, "wsj_pos");
  const auto data = make_task_data(config);
  print_sizes("wsj_pos", *data);
  // 1,000 newline-terminated lines plus a last one without a newline.
  EXPECT_EQ(data->size(Split::train) + data->size(Split::val) + data->size(Split::test), 1001);
  EXPECT_EQ(data->info().output_size, 44);
  int64_t tokens = 0;
  for (Split split : {Split::train, Split::val, Split::test}) {
    for (const Batch& batch : data->batches(split, {16, 0, 0, 0, 1, false})) tokens += batch.local_targets;
  }
  EXPECT_EQ(tokens, 25026);
  const double baseline = data->baseline(Split::test).at("accuracy");
  std::printf("wsj_pos: most-frequent-tag accuracy on test %.3f\n", baseline);
  EXPECT_GT(baseline, 0.75);
}

TEST(RealData, OancPartOfSpeech) {
  Config config;
  config.task = "tag";
  LOAD_OR_SKIP(config, "oanc_pos");
  const auto data = make_task_data(config);
  print_sizes("oanc_pos", *data);
  EXPECT_GT(data->size(Split::train) + data->size(Split::val) + data->size(Split::test), 19000);
  EXPECT_GE(data->info().output_size, 40);
}

TEST(RealData, Sunspots) {
  Config config;
  config.task = "forecast";
  LOAD_OR_SKIP(config, "sunspots");
  const auto data = make_task_data(config);
  print_sizes("sunspots", *data);
  // 309 years: 249 train (229 windows of 20 -> 1), 30 val and 30 test targets.
  EXPECT_EQ(data->size(Split::train), 249 - 20);
  EXPECT_EQ(data->size(Split::val), 30);
  EXPECT_EQ(data->size(Split::test), 30);
  const auto baseline = data->baseline(Split::test);
  std::printf("sunspots: mean %.2f std %.2f; naive test rmse %.2f mae %.2f\n", data->info().target_mean,
              data->info().target_std, baseline.at("rmse"), baseline.at("mae"));
  EXPECT_GT(data->info().target_mean, 30);
  EXPECT_LT(data->info().target_mean, 70);
  EXPECT_GT(baseline.at("rmse"), baseline.at("mae"));
}

}  // namespace
}  // namespace rnnlab::trainer::data
