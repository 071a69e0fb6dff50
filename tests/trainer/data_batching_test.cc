// Task data and batching through make_task_data, on small fixtures: BPTT stream
// continuity, equal-length buckets, sharding (disjoint, covering, equal batch counts),
// seeded order, padding, forecast normalisation and baselines, synthetic tasks, empty files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "trainer/data/task_data.h"

namespace rnnlab::trainer::data {
namespace {

namespace fs = std::filesystem;

class BatchingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() /
              ("rnnlab_batching_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  Config file_config(const std::string& task, const std::string& name, const std::string& content) {
    const std::string path = (folder_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    Config config;
    config.task = task;
    config.data.dataset = "file";
    config.data.path = path;
    config.data.val_fraction = 0;
    config.data.test_fraction = 0;
    return config;
  }

  fs::path folder_;
};

// `count` examples "label<TAB>w w w" with lengths 1..5 cycling; the label is the example's
// index, so a batch column says which example it holds.
std::string numbered_tsv(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) {
    text += std::to_string(i) + "\t";
    for (int w = 0; w <= i % 5; ++w) text += "w" + std::to_string((i + w) % 7) + " ";
    text += "\n";
  }
  return text;
}

// Example ids (labels decoded back to the example index) of every batch.
std::vector<std::vector<int>> examples_of(const TaskData& data, const std::vector<Batch>& batches) {
  std::vector<std::vector<int>> ids;
  for (const Batch& batch : batches) {
    std::vector<int> column_ids;
    for (int32_t label : batch.labels) column_ids.push_back(std::stoi(data.output_vocabulary()->token(label)));
    ids.push_back(column_ids);
  }
  return ids;
}

TEST_F(BatchingTest, LanguageModelBatchesContinueEachStream) {
  std::string text;
  for (int i = 0; i < 301; ++i) text += char('a' + (i * 7 + i / 26) % 26);
  Config config = file_config("language_model", "lm.txt", text);
  config.data.seq_len = 7;
  const auto data = make_task_data(config);
  const std::vector<Batch> batches = data->batches(Split::train, {4, 0, 0, 0, 1, false});
  // 4 streams of (301 - 1) / 4 = 75 steps: 10 batches of 7 and one of 5.
  ASSERT_EQ(batches.size(), 11u);
  EXPECT_EQ(batches.back().seq_len, 5);
  std::vector<std::string> streams(4);
  for (size_t k = 0; k < batches.size(); ++k) {
    const Batch& batch = batches[k];
    EXPECT_EQ(batch.resets_state, k == 0);
    EXPECT_EQ(batch.global_targets, int64_t(batch.seq_len) * 4);
    for (int n = 0; n < 4; ++n) {
      for (int t = 0; t < batch.seq_len; ++t) {
        const int32_t input = batch.tokens[size_t(t * 4 + n)];
        const int32_t target = batch.token_targets[size_t(t * 4 + n)];
        streams[size_t(n)] += data->input_codec()->decode({input});
        if (t + 1 < batch.seq_len) {
          EXPECT_EQ(target, batch.tokens[size_t((t + 1) * 4 + n)]);
        }
      }
      // Batch k+1 starts where batch k's targets ended: the carried state is valid.
      if (k + 1 < batches.size()) {
        EXPECT_EQ(batch.token_targets[size_t((batch.seq_len - 1) * 4 + n)], batches[k + 1].tokens[size_t(n)]);
      }
    }
  }
  for (int n = 0; n < 4; ++n) EXPECT_EQ(streams[size_t(n)], text.substr(size_t(n) * 75, 75));
  // What a checkpoint stores is enough to encode a prompt and decode a sample.
  const TextCodec loaded = TextCodec::from_json(data->metadata().at("input_codec"));
  EXPECT_EQ(loaded.encode("abc"), data->input_codec()->encode("abc"));
  EXPECT_EQ(loaded.decode(loaded.encode("abc")), "abc");
}

TEST_F(BatchingTest, LanguageModelShardsOwnDisjointStreams) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += std::to_string(i % 10);
  Config config = file_config("language_model", "lm.txt", text);
  config.data.seq_len = 10;
  const auto data = make_task_data(config);
  const auto rank0 = data->batches(Split::train, {2, 0, 0, 0, 2, false});
  const auto rank1 = data->batches(Split::train, {2, 0, 0, 1, 2, false});
  const auto whole = data->batches(Split::train, {4, 0, 0, 0, 1, false});
  ASSERT_EQ(rank0.size(), rank1.size());
  ASSERT_EQ(rank0.size(), whole.size());
  // With 4 streams in all, rank 0 holds columns 0-1 and rank 1 columns 2-3 of the 1-rank batch.
  for (size_t k = 0; k < whole.size(); ++k) {
    for (int t = 0; t < whole[k].seq_len; ++t) {
      for (int n = 0; n < 2; ++n) {
        EXPECT_EQ(rank0[k].tokens[size_t(t * 2 + n)], whole[k].tokens[size_t(t * 4 + n)]);
        EXPECT_EQ(rank1[k].tokens[size_t(t * 2 + n)], whole[k].tokens[size_t(t * 4 + n + 2)]);
      }
    }
    EXPECT_EQ(rank0[k].global_targets, rank0[k].local_targets + rank1[k].local_targets);
  }
  EXPECT_THROW(data->batches(Split::train, {2, 0, 0, 2, 2, false}), std::invalid_argument);
  EXPECT_THROW(data->batches(Split::train, {1000, 0, 0, 0, 1, false}), std::invalid_argument);
}

TEST_F(BatchingTest, UnpaddedBatchesHoldSequencesOfOneLength) {
  const auto data = make_task_data(file_config("classify", "c.tsv", numbered_tsv(23)));
  const auto batches = data->batches(Split::train, {3, 5, 0, 0, 1, false});
  const std::vector<std::vector<int>> ids = examples_of(*data, batches);
  std::multiset<int> seen;
  for (size_t k = 0; k < batches.size(); ++k) {
    const Batch& batch = batches[k];
    EXPECT_TRUE(batch.lengths.empty());
    ASSERT_EQ(batch.tokens.size(), size_t(batch.seq_len) * size_t(batch.batch_size));
    for (int id : ids[k]) {
      EXPECT_EQ(id % 5 + 1, batch.seq_len) << "example " << id << " in a batch of length " << batch.seq_len;
      seen.insert(id);
    }
  }
  EXPECT_EQ(seen.size(), 23u);
  EXPECT_EQ(std::set<int>(seen.begin(), seen.end()).size(), 23u);
}

// `count` examples whose label is the index; example i has 1 + (i * 37) % 53 words, so
// the corpus has 53 distinct lengths.
std::string many_lengths_tsv(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) {
    text += std::to_string(i) + "\t";
    for (int w = 0; w < 1 + (i * 37) % 53; ++w) text += "w" + std::to_string((i + w) % 11) + " ";
    text += "\n";
  }
  return text;
}

TEST_F(BatchingTest, PaddedBatchesAreFullOfSimilarLengthsAndCoverTheEpoch) {
  const int count = 203, batch_size = 16;
  const auto data = make_task_data(file_config("classify", "c.tsv", many_lengths_tsv(count)));
  const int pad = data->info().pad_id;
  for (int world : {1, 2}) {
    for (int64_t epoch : {0, 1}) {
      SCOPED_TRACE("world " + std::to_string(world) + " epoch " + std::to_string(epoch));
      const int global = batch_size * world;
      std::vector<std::vector<Batch>> per_rank;
      for (int rank = 0; rank < world; ++rank)
        per_rank.push_back(data->batches(Split::train, {batch_size, 3, epoch, rank, world, true}));
      const size_t expected_batches = size_t((count + global - 1) / global);
      std::multiset<int> seen;
      int64_t valid = 0, cells = 0;
      for (int rank = 0; rank < world; ++rank) {
        const std::vector<Batch>& batches = per_rank[size_t(rank)];
        ASSERT_EQ(batches.size(), expected_batches) << "rank " << rank;
        const auto ids = examples_of(*data, batches);
        for (size_t k = 0; k < batches.size(); ++k) {
          const Batch& batch = batches[k];
          if (k + 1 < batches.size()) {
            EXPECT_EQ(batch.batch_size, batch_size) << "batch " << k << " is not full";
          }
          ASSERT_EQ(batch.lengths.size(), size_t(batch.batch_size));
          int64_t global_steps = 0;
          for (const std::vector<Batch>& other : per_rank)
            global_steps += std::accumulate(other[k].lengths.begin(), other[k].lengths.end(), int64_t(0));
          EXPECT_EQ(batch.global_steps, global_steps);
          for (int n = 0; n < batch.batch_size; ++n) {
            const int id = ids[k][size_t(n)];
            seen.insert(id);
            EXPECT_EQ(batch.lengths[size_t(n)], 1 + (id * 37) % 53) << "example " << id;
            for (int t = batch.lengths[size_t(n)]; t < batch.seq_len; ++t)
              EXPECT_EQ(batch.tokens[size_t(t * batch.batch_size + n)], pad);
            valid += batch.lengths[size_t(n)];
          }
          cells += int64_t(batch.seq_len) * batch.batch_size;
        }
      }
      EXPECT_EQ(seen.size(), size_t(count));
      EXPECT_EQ(std::set<int>(seen.begin(), seen.end()).size(), size_t(count)) << "an example came twice";
      // Length-sorted pools: little padding (a shuffled batch of 16 over 53 lengths pads ~2x).
      EXPECT_LT(double(cells), 1.15 * double(valid));
    }
  }
  // Deterministic per (seed, epoch); another seed or epoch gives another order.
  auto order = [&](uint64_t seed, int64_t epoch) {
    return examples_of(*data, data->batches(Split::train, {batch_size, seed, epoch, 0, 1, true}));
  };
  EXPECT_EQ(order(3, 0), order(3, 0));
  EXPECT_NE(order(3, 0), order(3, 1));
  EXPECT_NE(order(3, 0), order(4, 0));
  // The unpadded mode still gives one length per batch: many more, smaller batches.
  EXPECT_GT(data->batches(Split::train, {batch_size, 3, 0, 0, 1, false}).size(), size_t(50));
}

TEST_F(BatchingTest, PaddedEvaluationBatchesGoByLength) {
  Config config = file_config("classify", "c.tsv", many_lengths_tsv(120));
  config.data.val_fraction = 0.5;
  const auto data = make_task_data(config);
  const auto batches = data->batches(Split::val, {8, 0, 0, 0, 1, true});
  ASSERT_EQ(batches.size(), size_t((data->size(Split::val) + 7) / 8));
  for (size_t k = 1; k < batches.size(); ++k) {
    EXPECT_LE(batches[k - 1].seq_len, *std::min_element(batches[k].lengths.begin(), batches[k].lengths.end()));
  }
}

TEST_F(BatchingTest, ShardsAreDisjointCoveringAndEquallyLong) {
  const auto data = make_task_data(file_config("classify", "c.tsv", numbered_tsv(23)));
  for (int world : {1, 2, 3, 4, 7}) {
    std::multiset<int> seen;
    std::vector<std::vector<Batch>> per_rank;
    for (int rank = 0; rank < world; ++rank) {
      per_rank.push_back(data->batches(Split::train, {2, 9, 3, rank, world, false}));
      for (const auto& ids : examples_of(*data, per_rank.back())) seen.insert(ids.begin(), ids.end());
    }
    EXPECT_EQ(seen.size(), 23u) << "world " << world;
    EXPECT_EQ(std::set<int>(seen.begin(), seen.end()).size(), 23u) << "world " << world;
    for (int rank = 1; rank < world; ++rank) {
      ASSERT_EQ(per_rank[size_t(rank)].size(), per_rank[0].size()) << "world " << world;
    }
    for (size_t k = 0; k < per_rank[0].size(); ++k) {
      int64_t sum = 0;
      for (int rank = 0; rank < world; ++rank) {
        const Batch& batch = per_rank[size_t(rank)][k];
        sum += batch.local_targets;
        EXPECT_EQ(batch.seq_len, per_rank[0][k].seq_len);  // one step, one length on every rank
        EXPECT_LE(batch.batch_size, 2);
      }
      EXPECT_EQ(sum, per_rank[0][k].global_targets);
    }
  }
}

TEST_F(BatchingTest, OrderDependsOnlyOnSeedAndEpoch) {
  const auto data = make_task_data(file_config("classify", "c.tsv", numbered_tsv(40)));
  auto order = [&](uint64_t seed, int64_t epoch) {
    return examples_of(*data, data->batches(Split::train, {4, seed, epoch, 0, 1, false}));
  };
  EXPECT_EQ(order(1, 0), order(1, 0));
  EXPECT_NE(order(1, 0), order(1, 1));
  EXPECT_NE(order(1, 0), order(2, 0));
}

TEST_F(BatchingTest, PaddedTagBatchesMarkLengthsPaddingAndUnknownWords) {
  std::string text;
  for (int i = 0; i < 20; ++i) {
    text += "the/DT";
    for (int w = 0; w <= i % 4; ++w) text += " word" + std::to_string(i) + "x" + std::to_string(w) + "/NN";
    text += " ./.\n";
  }
  Config config = file_config("tag", "t.txt", text);
  config.data.val_fraction = 0.5;
  const auto data = make_task_data(config);
  const TaskInfo info = data->info();
  const Vocabulary& words = data->input_codec()->vocabulary;
  EXPECT_EQ(info.output_size, 3);  // . DT NN
  EXPECT_EQ(info.pad_id, words.pad_id());
  EXPECT_EQ(data->size(Split::train) + data->size(Split::val), 20);

  // Every word of a val sentence except "the" and "." was never seen in training.
  for (const Batch& batch : data->batches(Split::val, {3, 0, 0, 0, 1, false})) {
    for (int n = 0; n < batch.batch_size; ++n) {
      EXPECT_EQ(batch.tokens[size_t(n)], words.id("the"));
      for (int t = 1; t + 1 < batch.seq_len; ++t) EXPECT_EQ(batch.tokens[size_t(t * batch.batch_size + n)], words.unk_id());
    }
  }
  int64_t targets = 0;
  for (const Batch& batch : data->batches(Split::train, {4, 0, 0, 0, 1, true})) {
    ASSERT_EQ(batch.lengths.size(), size_t(batch.batch_size));
    for (int n = 0; n < batch.batch_size; ++n) {
      for (int t = 0; t < batch.seq_len; ++t) {
        const size_t cell = size_t(t * batch.batch_size + n);
        const bool padding = t >= batch.lengths[size_t(n)];
        EXPECT_EQ(batch.tokens[cell] == info.pad_id, padding);
        EXPECT_EQ(batch.token_targets[cell] == kIgnoreIndex, padding);
      }
    }
    targets += batch.global_targets;
  }
  int64_t expected = 0;
  for (const Batch& batch : data->batches(Split::train, {4, 0, 0, 0, 1, false})) expected += batch.global_targets;
  EXPECT_EQ(targets, expected);
}

TEST_F(BatchingTest, ClassifyMapsPangLeeLabelsAndReportsMajorityBaseline) {
  const auto data = make_task_data(file_config("classify", "p.csv",
                                               "\"1\",\"good , fun\"\n\"-1\",\"bad\"\n\"1\",\"\"\"great\"\" film\"\n"));
  EXPECT_EQ(data->output_vocabulary()->id("-1"), 0);
  EXPECT_EQ(data->output_vocabulary()->id("1"), 1);
  EXPECT_NEAR(data->baseline(Split::train).at("accuracy"), 2.0 / 3.0, 1e-12);
}

TEST_F(BatchingTest, ForecastNormalisesOnTrainOnlyAndReportsTheNaiveBaseline) {
  // x = 1 3 2 5 4 6 | 8 7 | 9 12; train = first 6: mean 3.5, population std sqrt(17.5 / 6).
  Config config = file_config("forecast", "s.csv", "t,x\n0,1\n1,3\n2,2\n3,5\n4,4\n5,6\n6,8\n7,7\n8,9\n9,12\n");
  config.data.window = 2;
  config.data.horizon = 1;
  config.data.val_fraction = 0.2;
  config.data.test_fraction = 0.2;
  const auto data = make_task_data(config);
  const TaskInfo info = data->info();
  const double std_dev = std::sqrt(17.5 / 6.0);
  EXPECT_DOUBLE_EQ(info.target_mean, 3.5);
  EXPECT_NEAR(info.target_std, std_dev, 1e-12);
  EXPECT_EQ(data->size(Split::train), 4);
  EXPECT_EQ(data->size(Split::val), 2);
  EXPECT_EQ(data->size(Split::test), 2);
  // Repeat-the-last-value errors: train 1,-3,1,-2; val -2,1; test -2,-3.
  EXPECT_NEAR(data->baseline(Split::train).at("rmse"), std::sqrt(15.0 / 4), 1e-12);
  EXPECT_NEAR(data->baseline(Split::train).at("mae"), 7.0 / 4, 1e-12);
  EXPECT_NEAR(data->baseline(Split::val).at("rmse"), std::sqrt(5.0 / 2), 1e-12);
  EXPECT_NEAR(data->baseline(Split::val).at("mae"), 1.5, 1e-12);
  EXPECT_NEAR(data->baseline(Split::test).at("rmse"), std::sqrt(13.0 / 2), 1e-12);
  EXPECT_NEAR(data->baseline(Split::test).at("mae"), 2.5, 1e-12);

  const auto val = data->batches(Split::val, {8, 0, 0, 0, 1, false});
  ASSERT_EQ(val.size(), 1u);
  ASSERT_EQ(val[0].seq_len, 2);
  ASSERT_EQ(val[0].features, 1);
  // Fixed order: window (4, 6) -> 8, then (6, 8) -> 7; values[t * N + n].
  EXPECT_NEAR(val[0].values[0], (4 - 3.5) / std_dev, 1e-6);
  EXPECT_NEAR(val[0].values[2], (6 - 3.5) / std_dev, 1e-6);
  EXPECT_NEAR(val[0].value_targets[0], (8 - 3.5) / std_dev, 1e-6);
  EXPECT_NEAR(val[0].value_targets[1], (7 - 3.5) / std_dev, 1e-6);

  // A different future changes nothing about the normalisation.
  Config changed = file_config("forecast", "s2.csv", "t,x\n0,1\n1,3\n2,2\n3,5\n4,4\n5,6\n6,80\n7,7\n8,9\n9,1200\n");
  changed.data.window = 2;
  changed.data.val_fraction = 0.2;
  changed.data.test_fraction = 0.2;
  const TaskInfo changed_info = make_task_data(changed)->info();
  EXPECT_EQ(changed_info.target_mean, info.target_mean);
  EXPECT_EQ(changed_info.target_std, info.target_std);
}

TEST_F(BatchingTest, AddingProblemMeanPredictorScoresAboutOneSixth) {
  Config config;
  config.task = "adding";
  config.data.dataset = "adding";
  config.data.seq_len = 50;
  config.data.train_size = 4000;
  config.data.test_size = 2000;
  config.train.seed = 7;
  const auto data = make_task_data(config);
  // Var(u1 + u2) = 1/6; the estimate's standard error on 2000 sums is about 0.0044.
  EXPECT_NEAR(data->baseline(Split::test).at("mse"), 1.0 / 6.0, 0.015);
  EXPECT_NEAR(data->baseline(Split::train).at("mse"), 1.0 / 6.0, 0.012);
  const auto batches = data->batches(Split::test, {16, 0, 0, 0, 1, false});
  const Batch& batch = batches[0];
  ASSERT_EQ(batch.features, 2);
  ASSERT_EQ(batch.target_size, 1);
  for (int n = 0; n < batch.batch_size; ++n) {
    int first_half = 0, second_half = 0;
    double sum = 0;
    for (int t = 0; t < 50; ++t) {
      const size_t cell = size_t(t * batch.batch_size + n) * 2;
      if (batch.values[cell + 1] == 1.0f) {
        (t < 25 ? first_half : second_half) += 1;
        sum += batch.values[cell];
      }
    }
    EXPECT_EQ(first_half, 1);
    EXPECT_EQ(second_half, 1);
    EXPECT_NEAR(batch.value_targets[size_t(n)], sum, 1e-6);
  }
  // Train and test come from different streams; the same seed gives the same data.
  EXPECT_NE(data->batches(Split::train, {16, 0, 0, 0, 1, false})[0].values, batch.values);
  EXPECT_EQ(make_task_data(config)->batches(Split::test, {16, 0, 0, 0, 1, false})[0].values, batch.values);
  config.train.seed = 8;
  EXPECT_NE(make_task_data(config)->batches(Split::test, {16, 0, 0, 0, 1, false})[0].values, batch.values);
}

TEST_F(BatchingTest, CopyTaskTargetsTheSymbolsAfterTheDelimiter) {
  Config config;
  config.task = "copy";
  config.data.dataset = "auto";
  config.data.seq_len = 30;
  config.data.copy_length = 5;
  config.data.copy_symbols = 8;
  config.data.train_size = 10;
  config.data.test_size = 10;
  const auto data = make_task_data(config);
  EXPECT_EQ(data->info().vocab_size, 10);
  const Batch batch = data->batches(Split::train, {10, 0, 0, 0, 1, false})[0];
  ASSERT_EQ(batch.seq_len, 30);
  EXPECT_EQ(batch.global_targets, 50);
  for (int n = 0; n < 10; ++n) {
    auto at = [&](const std::vector<int32_t>& v, int t) { return v[size_t(t * 10 + n)]; };
    EXPECT_EQ(at(batch.tokens, 24), 9);  // delimiter
    for (int i = 0; i < 5; ++i) {
      EXPECT_GE(at(batch.tokens, i), 1);
      EXPECT_LE(at(batch.tokens, i), 8);
      EXPECT_EQ(at(batch.token_targets, 25 + i), at(batch.tokens, i));
      EXPECT_EQ(at(batch.tokens, 25 + i), 0);
    }
    for (int t = 0; t < 25; ++t) EXPECT_EQ(at(batch.token_targets, t), kIgnoreIndex);
  }
  config.data.seq_len = 10;
  EXPECT_THROW(make_task_data(config), std::invalid_argument);
}

TEST_F(BatchingTest, ErrorsNameTheFileLineOrKey) {
  try {
    make_task_data(file_config("tag", "bad.txt", "a/DT b/NN\nc/DT oops\n"));
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()), (folder_ / "bad.txt").string() + ":2: token 'oops' is not word/TAG");
  }
  Config config = file_config("forecast", "c.tsv", "a\tb\n");
  config.data.format = "tsv";
  config.source = "cfg.yaml";
  try {
    make_task_data(config);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()), "cfg.yaml: key 'data.format': task 'forecast' cannot read 'tsv' data");
  }
  const std::string empty_root = (folder_ / "empty").string();
  setenv("RNNLAB_DATA", empty_root.c_str(), 1);
  Config builtin;
  builtin.task = "classify";
  builtin.data.dataset = "pang_lee";
  try {
    make_task_data(builtin);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("run `rnnlab data fetch pang_lee`"), std::string::npos) << error.what();
  }
  unsetenv("RNNLAB_DATA");
}


// An empty data file is named as empty, not blamed on data.val_fraction/test_fraction.
TEST_F(BatchingTest, AnEmptyDataFileIsSaidToBeEmpty) {
  for (const auto& [task, name] : {std::pair<std::string, std::string>{"language_model", "empty.txt"},
                                   {"classify", "empty.tsv"},
                                   {"tag", "empty_tagged.txt"}, {"forecast", "empty.csv"}}) {
    Config config = file_config(task, name, "");
    config.data.val_fraction = 0.1;
    try {
      make_task_data(config);
      ADD_FAILURE() << task << ": no error for an empty file";
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      // The text reader's empty stream ("is empty"); the other readers' own "holds no ...".
      const std::string named = "data file '" + config.data.path + "' ";
      EXPECT_TRUE(message.find(named + "is empty") != std::string::npos ||
                  message.find(named + "holds no") != std::string::npos)
          << message;
      EXPECT_EQ(message.find("val_fraction"), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace rnnlab::trainer::data
