// Sweep files: validation errors with file:line:key, grid and random expansion.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

#include "experiments/sweep.h"

namespace rnnlab::experiments {
namespace {

const char* kBase =
    "name: cells\n"                 // 1
    "base:\n"                       // 2
    "  task: adding\n"              // 3
    "  data:\n"                     // 4
    "    seq_len: 10\n"             // 5
    "  model:\n"                    // 6
    "    embedding_size: 0\n"       // 7
    "    hidden_size: 8\n"          // 8
    "  train:\n"                    // 9
    "    seed: 7\n";                // 10

std::string error_of(const std::string& text) {
  try {
    parse_sweep(text, "sweep.yaml");
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "(no error)";
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(SweepSpec, GridCountsEveryCombinationTimesRepeats) {
  const SweepSpec spec = parse_sweep(std::string(kBase) +
                                         "parameters:\n"
                                         "  model.cell: {values: [rnn_tanh, lstm, gru]}\n"
                                         "  model.layers: {values: [1, 2]}\n"
                                         "  model.bidirectional: {values: [false, true]}\n"
                                         "repeats: 2\n",
                                     "sweep.yaml");
  const auto trials = expand_trials(spec);
  ASSERT_EQ(trials.size(), 24u);
  // First parameter slowest, repeats innermost; seeds from the base seed.
  EXPECT_EQ(trials[0].overrides, (std::vector<std::string>{"model.cell=rnn_tanh", "model.layers=1",
                                                            "model.bidirectional=false", "train.seed=7"}));
  EXPECT_EQ(trials[1].overrides.back(), "train.seed=8");
  EXPECT_EQ(trials[23].overrides[0], "model.cell=gru");
  std::set<std::string> ids;
  for (const auto& trial : trials) ids.insert(trial.id);
  EXPECT_EQ(ids.size(), 24u);
  // Same file, same trials and ids.
  const auto again = expand_trials(spec);
  for (size_t i = 0; i < trials.size(); ++i) EXPECT_EQ(again[i].id, trials[i].id);
}

TEST(SweepSpec, TrialIdsDoNotDependOnKeyOrder) {
  EXPECT_EQ(trial_id({"a=1", "b=2"}, 0), trial_id({"b=2", "a=1"}, 0));
  EXPECT_NE(trial_id({"a=1", "b=2"}, 0), trial_id({"a=1", "b=2"}, 1));
  EXPECT_NE(trial_id({"a=1", "b=2"}, 0), trial_id({"a=1", "b=3"}, 0));
  EXPECT_EQ(trial_id({"a=1"}, 0).size(), 12u);
}

SweepSpec random_spec(uint64_t seed, int trials) {
  return parse_sweep(std::string(kBase) +
                         "method: random\n"
                         "max_trials: " + std::to_string(trials) + "\n"
                         "seed: " + std::to_string(seed) + "\n"
                         "parameters:\n"
                         "  model.cell: {values: [lstm, gru]}\n"
                         "  train.lr: {distribution: log_uniform, min: 0.0001, max: 1.0}\n"
                         "  train.clip_norm: {distribution: uniform, min: 0.5, max: 2.5}\n"
                         "  model.hidden_size: {distribution: int_uniform, min: 4, max: 7}\n",
                     "sweep.yaml");
}

double value_of(const Trial& trial, const std::string& key) {
  for (const auto& assignment : trial.overrides)
    if (assignment.rfind(key + "=", 0) == 0) return std::stod(assignment.substr(key.size() + 1));
  ADD_FAILURE() << "no " << key;
  return NAN;
}

TEST(SweepSpec, RandomIsDeterministicPerSeedAndWithinBounds) {
  const auto a = expand_trials(random_spec(3, 400));
  const auto b = expand_trials(random_spec(3, 400));
  const auto c = expand_trials(random_spec(4, 400));
  ASSERT_EQ(a.size(), 400u);
  int same_as_other_seed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].overrides, b[i].overrides);
    EXPECT_EQ(a[i].id, b[i].id);
    same_as_other_seed += a[i].overrides == c[i].overrides;
  }
  EXPECT_LT(same_as_other_seed, 5);
  int below_hundredth = 0;
  std::set<int> sizes;
  std::set<std::string> ids;
  for (const auto& trial : a) {
    const double lr = value_of(trial, "train.lr"), clip = value_of(trial, "train.clip_norm");
    const double hidden = value_of(trial, "model.hidden_size");
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1.0);
    EXPECT_GE(clip, 0.5);
    EXPECT_LE(clip, 2.5);
    EXPECT_EQ(hidden, std::floor(hidden));
    sizes.insert(int(hidden));
    below_hundredth += lr < 1e-2;
    ids.insert(trial.id);
  }
  // Log scale: half of the draws fall in [1e-4, 1e-2] (a linear draw would put 1% there).
  EXPECT_GT(below_hundredth, 150);
  EXPECT_LT(below_hundredth, 250);
  EXPECT_EQ(sizes, (std::set<int>{4, 5, 6, 7}));
  EXPECT_EQ(ids.size(), a.size());
}

TEST(SweepSpec, RandomDuplicatesGetDistinctIds) {
  const SweepSpec spec = parse_sweep(std::string(kBase) +
                                         "method: random\nmax_trials: 10\nparameters:\n"
                                         "  model.cell: {values: [lstm, gru]}\n",
                                     "sweep.yaml");
  std::set<std::string> ids;
  for (const auto& trial : expand_trials(spec)) ids.insert(trial.id);
  EXPECT_EQ(ids.size(), 10u);
}

TEST(SweepSpec, ErrorsNameFileLineAndKey) {
  const std::string params = "parameters:\n  model.cell: {values: [lstm]}\n";
  EXPECT_CONTAINS(error_of(std::string(kBase) + params + "metod: grid\n"), "sweep.yaml:13: key 'metod': unknown key");
  // A key the base config does not have, checked by the config schema.
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  model.cel: {values: [lstm]}\n"),
                  "sweep.yaml:12: parameter 'model.cel' value 'lstm':");
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  model.cel: {values: [lstm]}\n"), "model.cel");
  // A value the schema rejects.
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  model.cell: {values: [lstm, lstn]}\n"),
                  "sweep.yaml:12: parameter 'model.cell' value 'lstn'");
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  model.layers: {values: [1, two]}\n"),
                  "value 'two'");
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  model.cell: {values: []}\n"),
                  "sweep.yaml:12: key 'parameters.model.cell.values': empty list");
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  train.lr: {distribution: log_uniform, min: 0, max: 1}\n"),
                  "log_uniform needs min > 0");
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  train.lr: {distribution: normal, min: 0, max: 1}\n"),
                  "key 'parameters.train.lr.distribution': unknown value 'normal'");
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  train.lr: {distribution: uniform, min: 2, max: 1}\n"),
                  "min must be below max");
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  train.lr: {distribution: uniform, min: 0.1}\n"),
                  "needs min and max");
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  output.dir: {values: [a]}\n"),
                  "set by the sweep");
  EXPECT_CONTAINS(error_of(std::string(kBase) + params + "method: random\n"), "'max_trials': missing");
  EXPECT_CONTAINS(error_of(std::string(kBase) + params + "pruning: {method: hyperband}\n"),
                  "key 'pruning.method': unknown value 'hyperband'");
  EXPECT_CONTAINS(error_of(std::string(kBase) + params + "launch: {mode: in_process, parallel: 2}\n"),
                  "launch.parallel");
  EXPECT_CONTAINS(error_of(std::string(kBase) + params + "repeats: 0\n"), "key 'repeats': must be at least 1");
  EXPECT_CONTAINS(error_of("name: x\nparameters:\n  model.cell: {values: [lstm]}\n"), "key 'base': missing");
  // Several problems at once, one per line.
  const std::string many = error_of(std::string(kBase) + "parameters:\n  model.cell: {values: []}\nbogus: 1\n");
  EXPECT_CONTAINS(many, "\n");
}

TEST(SweepSpec, InlineBaseErrorsPointAtTheSweepFileLine) {
  const std::string text =
      "name: x\n"          // 1
      "base:\n"            // 2
      "  task: adding\n"   // 3
      "  model:\n"         // 4
      "    cell: lstn\n"   // 5
      "parameters:\n"      // 6
      "  model.layers: {values: [1]}\n";
  EXPECT_CONTAINS(error_of(text), "sweep.yaml:5: key 'model.cell'");
}

TEST(SweepSpec, GridRejectsDistributions) {
  EXPECT_CONTAINS(error_of(std::string(kBase) + "parameters:\n  train.lr: {distribution: uniform, min: 0.1, max: 1}\n"),
                  "sweep.yaml:12: parameter 'train.lr': method grid needs values");
}

TEST(SweepSpec, NestingIsBounded) {
  // In the sweep file itself, past yaml-cpp's own bound of 500 levels and below it.
  EXPECT_EQ(error_of(std::string(kBase) + "parameters:\n  model.cell: {values: " + std::string(100000, '[') +
                     std::string(100000, ']') + "}\n"),
            "sweep.yaml:12: nesting deeper than 64 levels");
  EXPECT_EQ(error_of(std::string(kBase) + "parameters:\n  model.cell: {values: " + std::string(70, '[') +
                     std::string(70, ']') + "}\n"),
            "sweep.yaml:12: nesting deeper than 64 levels");
  // An inline base whose alias contains itself.
  EXPECT_EQ(error_of("name: x\nbase: &b {task: *b}\nparameters: {model.cell: {values: [gru]}}\n"),
            "sweep.yaml:2: nesting deeper than 64 levels");
}

}  // namespace
}  // namespace rnnlab::experiments
