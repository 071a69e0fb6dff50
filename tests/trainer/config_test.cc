// Config loading: the schema, error messages (file:line and key path), overrides, rules,
// flattening, YAML round trip and the committed docs/config.md.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "trainer/config.h"
#include "trainer/config_schema.h"

namespace rnnlab::trainer {
namespace {

// The message of the std::invalid_argument that parsing `yaml` throws ("" if none).
std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(yaml, "cfg.yaml", overrides);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

TEST(Config, EmptyFileGivesResolvedDefaults) {
  const Config config = parse_config("", "empty.yaml");
  EXPECT_EQ(config.task, "language_model");
  EXPECT_EQ(config.data.dataset, "moby_dick");  // auto -> the task's default
  EXPECT_EQ(config.model.cell, "lstm");
  EXPECT_EQ(config.train.optimizer, "adam");
  EXPECT_EQ(config.source, "empty.yaml");
}

TEST(Config, ReadsEveryKindOfValue) {
  const Config config = parse_config(R"(
task: classify
data:
  lowercase: yes
  max_vocab: 20000
  val_fraction: .15
model:
  cell: gru
  hidden_size: 256
  bidirectional: true
  dropout: 0.25
train:
  lr: 3e-4
  max_steps: 123456789012
  seed: 42
  early_stopping:
    metric: val_accuracy
    patience: 5
output:
  run_name: 2024
)",
                                     "cfg.yaml");
  EXPECT_EQ(config.task, "classify");
  EXPECT_EQ(config.data.dataset, "pang_lee");
  EXPECT_TRUE(config.data.lowercase);
  EXPECT_EQ(config.data.max_vocab, 20000);
  EXPECT_DOUBLE_EQ(config.data.val_fraction, 0.15);
  EXPECT_EQ(config.model.cell, "gru");
  EXPECT_EQ(config.model.hidden_size, 256);
  EXPECT_TRUE(config.model.bidirectional);
  EXPECT_DOUBLE_EQ(config.model.dropout, 0.25);
  EXPECT_DOUBLE_EQ(config.train.lr, 3e-4);
  EXPECT_EQ(config.train.max_steps, 123456789012);
  EXPECT_EQ(config.train.seed, 42u);
  EXPECT_EQ(config.train.early_stopping.metric, "val_accuracy");
  EXPECT_EQ(config.train.early_stopping.goal, "max");  // auto, from the metric
  EXPECT_EQ(config.train.early_stopping.patience, 5);
  EXPECT_EQ(config.output.run_name, "2024");  // a string key keeps digits as text
}

TEST(Config, UnknownValueNamesFileLineKeyAndChoices) {
  EXPECT_EQ(error_of("task: language_model\nmodel:\n  cell: lstn\n"),
            "cfg.yaml:3: key 'model.cell': unknown value 'lstn' (choices: rnn_tanh, rnn_relu, lstm, gru)");
}

TEST(Config, UnknownKeySuggestsTheNearestKey) {
  EXPECT_EQ(error_of("model:\n  hiden_size: 64\n"),
            "cfg.yaml:2: unknown key 'model.hiden_size' (did you mean 'model.hidden_size'?)");
  // The right name in the wrong section.
  EXPECT_CONTAINS(error_of("train:\n  dropout: 0.5\n"), "unknown key 'train.dropout' (did you mean 'model.dropout'?)");
  EXPECT_CONTAINS(error_of("modle:\n  cell: gru\n"), "cfg.yaml:1: unknown key 'modle' (did you mean 'model'?)");
  EXPECT_EQ(error_of("zzzzzzzzzz: 1\n"), "cfg.yaml:1: unknown key 'zzzzzzzzzz'");
}

TEST(Config, WrongTypesAreErrors) {
  EXPECT_EQ(error_of("model:\n  hidden_size: abc\n"), "cfg.yaml:2: key 'model.hidden_size': expected an integer, got 'abc'");
  EXPECT_CONTAINS(error_of("model:\n  hidden_size: 1.5\n"), "expected an integer, got '1.5'");
  EXPECT_CONTAINS(error_of("model:\n  hidden_size: [1, 2]\n"), "expected an integer, got a list");
  EXPECT_CONTAINS(error_of("model:\n  hidden_size:\n"), "expected an integer, got nothing (null)");
  EXPECT_CONTAINS(error_of("train:\n  lr: fast\n"), "key 'train.lr': expected a number, got 'fast'");
  EXPECT_CONTAINS(error_of("train:\n  lr: .nan\n"), "expected a number");
  EXPECT_CONTAINS(error_of("train:\n  lr: 0x10\n"), "expected a number");
  EXPECT_CONTAINS(error_of("model:\n  bidirectional: maybe\n"), "key 'model.bidirectional': expected true or false, got 'maybe'");
  EXPECT_CONTAINS(error_of("model: lstm\n"), "cfg.yaml:1: key 'model': expected a mapping of its keys");
  EXPECT_CONTAINS(error_of("- a\n- b\n"), "the top level must be a mapping");
}

TEST(Config, OutOfRangeValuesAreErrors) {
  EXPECT_EQ(error_of("train:\n  lr: 0\n"), "cfg.yaml:2: key 'train.lr': 0 is out of range (must be > 0)");
  EXPECT_CONTAINS(error_of("model:\n  dropout: 1\n"), "key 'model.dropout': 1 is out of range (must be [0, 1))");
  EXPECT_CONTAINS(error_of("model:\n  hidden_size: 0\n"), "(must be >= 1)");
  EXPECT_CONTAINS(error_of("model:\n  hidden_size: 3000000000\n"), "key 'model.hidden_size'");
  EXPECT_CONTAINS(error_of("train:\n  seed: -1\n"), "key 'train.seed'");
  EXPECT_CONTAINS(error_of("train:\n  max_steps: 99999999999999999999\n"), "key 'train.max_steps'");
}

TEST(Config, MalformedYamlNamesTheLine) {
  const std::string message = error_of("model:\n  cell: lstm\n  hidden_size: [1, 2\n");
  EXPECT_CONTAINS(message, "cfg.yaml:");
  EXPECT_CONTAINS(message, "invalid YAML");
}

TEST(Config, DuplicateKeysAreErrors) {
  EXPECT_CONTAINS(error_of("model:\n  cell: gru\n  cell: lstm\n"), "cfg.yaml:3: duplicate key 'model.cell'");
}

TEST(Config, EveryErrorIsReportedAtOnce) {
  const std::string message = error_of("model:\n  cell: lstn\n  hiden_size: 3\ntrain:\n  lr: -1\n");
  EXPECT_CONTAINS(message, "cfg.yaml:2: key 'model.cell'");
  EXPECT_CONTAINS(message, "cfg.yaml:3: unknown key 'model.hiden_size'");
  EXPECT_CONTAINS(message, "cfg.yaml:5: key 'train.lr'");
}

TEST(Config, MissingFileNamesThePath) {
  try {
    load_config("/nonexistent/dir/cfg.yaml");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_CONTAINS(error.what(), "/nonexistent/dir/cfg.yaml");
  }
}

TEST(Config, LoadsAFile) {
  const std::string path = testing::TempDir() + "rnnlab_config_test.yaml";
  std::ofstream(path) << "task: forecast\nmodel:\n  cell: rnn_relu\n";
  const Config config = load_config(path, {"model.hidden_size=7"});
  EXPECT_EQ(config.task, "forecast");
  EXPECT_EQ(config.data.dataset, "sunspots");
  EXPECT_EQ(config.model.hidden_size, 7);
  EXPECT_EQ(config.source, path);
  std::ofstream(path) << "model:\n  cell: lstn\n";
  EXPECT_THROW(
      {
        try {
          load_config(path);
        } catch (const std::invalid_argument& error) {
          EXPECT_CONTAINS(error.what(), path + ":2: key 'model.cell'");
          throw;
        }
      },
      std::invalid_argument);
  std::remove(path.c_str());
}

TEST(Config, OverridesApplyInOrderAndAreValidated) {
  const Config config = parse_config("model:\n  cell: lstm\n", "cfg.yaml",
                                     {"model.cell=gru", "train.lr=0.01", "model.cell=rnn_tanh",
                                      "output.run_name=a b", "data.path=", "train.nesterov=on"});
  EXPECT_EQ(config.model.cell, "rnn_tanh");
  EXPECT_DOUBLE_EQ(config.train.lr, 0.01);
  EXPECT_EQ(config.output.run_name, "a b");
  EXPECT_EQ(config.data.path, "");
  EXPECT_TRUE(config.train.nesterov);  // only checked against momentum for sgd

  EXPECT_EQ(error_of("", {"model.cell=xyz"}),
            "override 'model.cell=xyz': key 'model.cell': unknown value 'xyz' (choices: rnn_tanh, rnn_relu, lstm, gru)");
  EXPECT_EQ(error_of("", {"model.hiden_size=3"}),
            "override 'model.hiden_size=3': unknown key 'model.hiden_size' (did you mean 'model.hidden_size'?)");
  EXPECT_CONTAINS(error_of("", {"model.hidden_size=abc"}), "override 'model.hidden_size=abc': key 'model.hidden_size': expected an integer, got 'abc'");
  EXPECT_CONTAINS(error_of("", {"model"}), "override 'model': expected key=value");
  EXPECT_CONTAINS(error_of("", {"model=gru"}), "override 'model=gru': 'model' is a section");
  EXPECT_CONTAINS(error_of("", {"model.layers=[1,"}), "override 'model.layers=[1,': invalid YAML value");
}

TEST(Config, RulesBetweenKeys) {
  EXPECT_EQ(error_of("model:\n  cell: gru\n  peephole: true\n"),
            "cfg.yaml:3: key 'model.peephole': needs model.cell 'lstm' (got 'gru')");
  // The error points at the override that broke the rule.
  EXPECT_EQ(error_of("model:\n  peephole: true\n", {"model.cell=gru"}),
            "override 'model.cell=gru': key 'model.peephole': needs model.cell 'lstm' (got 'gru')");
  EXPECT_CONTAINS(error_of("model:\n  projection_size: 128\n"), "key 'model.projection_size': must be < model.hidden_size (128)");
  EXPECT_CONTAINS(error_of("train:\n  optimizer: sgd\n  nesterov: true\n"), "cfg.yaml:3: key 'train.nesterov'");
  EXPECT_CONTAINS(error_of("train:\n  early_stopping:\n    metric: val_rmse\n"),
                  "cfg.yaml:3: key 'train.early_stopping.metric': task 'language_model' does not report 'val_rmse' "
                  "(choices: val_loss, val_perplexity, val_accuracy, val_bpc, val_bits_per_token)");
  EXPECT_CONTAINS(error_of("data:\n  level: word\ntrain:\n  early_stopping:\n    metric: val_bpc\n"), "at word level");
  EXPECT_CONTAINS(error_of("train:\n  early_stopping:\n    metric: val_bits_per_token\n"), "at char level");
  EXPECT_CONTAINS(error_of("task: classify\ntrain:\n  early_stopping:\n    metric: val_accuracy\n    goal: min\n"),
                  "key 'train.early_stopping.goal': 'min' contradicts metric 'val_accuracy' (should be max)");
  EXPECT_CONTAINS(error_of("task: classify\ndata:\n  dataset: moby_dick\n"),
                  "cfg.yaml:3: key 'data.dataset': data set 'moby_dick' does not fit task 'classify' (use pang_lee, or file)");
  EXPECT_CONTAINS(error_of("data:\n  dataset: file\n"), "cfg.yaml: key 'data.path': dataset 'file' needs data.path");
  EXPECT_CONTAINS(error_of("data:\n  dataset: file\n  path: a.txt\n  format: tagged\n"),
                  "key 'data.format': format 'tagged' does not fit task 'language_model' (use text)");
  EXPECT_CONTAINS(error_of("data:\n  format: text\n"), "key 'data.format': applies to dataset 'file' only");
  EXPECT_CONTAINS(error_of("task: adding\ndata:\n  dataset: file\n  path: x\n"), "generates its data");
  EXPECT_CONTAINS(error_of("data:\n  val_fraction: 0.5\n  test_fraction: 0.5\n"), "val_fraction + test_fraction");
  EXPECT_CONTAINS(error_of("model:\n  embedding_size: 0\n"), "key 'model.embedding_size'");
  EXPECT_CONTAINS(error_of("train:\n  epochs: 0\n"), "train.epochs or train.max_steps");
  EXPECT_CONTAINS(error_of("train:\n  schedule: cosine\n  min_lr: 0.1\n"), "key 'train.min_lr'");
  EXPECT_CONTAINS(error_of("output:\n  dir: ''\n"), "key 'output.dir': must not be empty");
}

TEST(Config, AutoValuesResolve) {
  Config config = parse_config("task: classify\ndata:\n  dataset: file\n  path: reviews.csv\n", "cfg.yaml");
  EXPECT_EQ(config.data.format, "csv");
  config = parse_config("task: tag\ndata:\n  dataset: file\n  path: pos.txt\n", "cfg.yaml");
  EXPECT_EQ(config.data.format, "tagged");
  config = parse_config("task: tag\n", "cfg.yaml");
  EXPECT_EQ(config.data.dataset, "wsj_pos");
  EXPECT_EQ(config.data.format, "auto");  // built-in readers know their format
  config = parse_config("task: adding\nmodel:\n  embedding_size: 0\n", "cfg.yaml");
  EXPECT_EQ(config.data.dataset, "adding");
}

TEST(Config, FlattenGivesEverySchemaKeyWithNumbersAsNumbers) {
  const Config config = parse_config("model:\n  hidden_size: 32\ntrain:\n  lr: 0.5\n", "cfg.yaml");
  const FlatConfig flat = flatten_config(config);
  EXPECT_EQ(flat.size(), config_schema().size());
  for (const ConfigKey& key : config_schema()) EXPECT_EQ(flat.count(key.key), 1u) << key.key;
  EXPECT_EQ(std::get<int64_t>(flat.at("model.hidden_size")), 32);
  EXPECT_EQ(std::get<double>(flat.at("train.lr")), 0.5);
  EXPECT_EQ(std::get<bool>(flat.at("model.bidirectional")), false);
  EXPECT_EQ(std::get<std::string>(flat.at("model.cell")), "lstm");
  EXPECT_EQ(std::get<int64_t>(flat.at("train.max_steps")), 0);
}

TEST(Config, YamlRoundTripsExactly) {
  const Config original = parse_config("task: classify\nmodel:\n  cell: gru\n  dropout: 0.1\n", "cfg.yaml",
                                       {"train.lr=0.00123456789012345", "output.run_name=yes",
                                        "output.experiment='a: b # c'", "train.seed=9223372036854775807",
                                        "data.column=", "train.early_stopping.metric=val_loss"});
  const std::string yaml = config_to_yaml(original);
  const Config reread = parse_config(yaml, "roundtrip.yaml");
  EXPECT_EQ(flatten_config(reread), flatten_config(original)) << yaml;
  EXPECT_EQ(reread.output.run_name, "yes");
  EXPECT_EQ(reread.output.experiment, "a: b # c");
  EXPECT_EQ(config_to_yaml(reread), yaml);
}

TEST(Config, ValidateConfigChecksCodeBuiltConfigs) {
  Config config;
  validate_config(config);
  EXPECT_EQ(config.data.dataset, "moby_dick");
  config.model.hidden_size = 0;
  config.model.cell = "lstn";
  config.model.peephole = true;
  try {
    validate_config(config);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_CONTAINS(error.what(), "config: key 'model.hidden_size': 0 is out of range");
    EXPECT_CONTAINS(error.what(), "key 'model.cell': unknown value 'lstn'");
    EXPECT_CONTAINS(error.what(), "key 'model.peephole'");
  }
}

TEST(Config, SchemaDefaultsEqualStructDefaultsAndAreValid) {
  // Every default must itself pass the schema (a default out of its own range is a bug).
  Config config;
  for (const ConfigKey& key : config_schema()) {
    ConfigValue value = key.get(config);
    key.set(config, value);
    EXPECT_EQ(key.get(config), value) << key.key;
    EXPECT_FALSE(key.doc.empty()) << key.key;
  }
  EXPECT_NO_THROW(validate_config(config));
}

TEST(Config, CommittedDocsMatchTheSchema) {
  std::ifstream file(RNNLAB_CONFIG_DOCS);
  ASSERT_TRUE(file) << "missing " << RNNLAB_CONFIG_DOCS;
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), config_docs_markdown())
      << "docs/config.md is stale: regenerate with `rnnlab config --docs > docs/config.md`";
  for (const ConfigKey& key : config_schema()) EXPECT_CONTAINS(text.str(), "`" + key.key + "`");
}

}  // namespace
}  // namespace rnnlab::trainer
