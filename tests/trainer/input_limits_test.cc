// Hostile input to the trainer's parsers (found by, or written for, tests/fuzz): deep
// nesting and alias bombs in config files and overrides, deep JSON in checkpoint headers
// (these used to overflow the stack), config strings that are not UTF-8, NaN in a series.
// Each gets a message naming where, never a crash.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/data/readers.h"
#include "trainer/yaml_nesting.h"

namespace rnnlab::trainer {
namespace {

std::string config_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(yaml, "cfg.yaml", overrides);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "(no error)";
}

std::string brackets(int depth) { return std::string(size_t(depth), '[') + std::string(size_t(depth), ']'); }

// Block mappings nested `depth` deep: k0:\n  k1:\n    k2: ...
std::string block_mappings(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += std::string(size_t(2 * i), ' ') + "k" + std::to_string(i) + ":\n";
  return text;
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(InputLimits, ConfigNestingIsBoundedWithFileAndLine) {
  // 64 levels is the limit: the value is then only the wrong type for the key.
  EXPECT_CONTAINS(config_error("data:\n  path: " + brackets(kMaxYamlNesting - 2) + "\n"),
                  "key 'data.path': expected a string, got a list");
  EXPECT_EQ(config_error("data:\n  path: " + brackets(kMaxYamlNesting - 1) + "\n"),
            "cfg.yaml:2: nesting deeper than 64 levels");
  EXPECT_EQ(config_error(block_mappings(kMaxYamlNesting + 1)), "cfg.yaml:65: nesting deeper than 64 levels");
  // Past yaml-cpp's own bound (500), which says only "bad file".
  EXPECT_EQ(config_error("model: " + brackets(100000)), "cfg.yaml:1: nesting deeper than 64 levels");
  EXPECT_EQ(config_error(std::string(100000, '{')), "cfg.yaml:1: nesting deeper than 64 levels");
  std::string dashes = "data:\n  path:\n    ";
  for (int i = 0; i < 1000; ++i) dashes += "- ";
  EXPECT_EQ(config_error(dashes + "x\n"), "cfg.yaml:3: nesting deeper than 64 levels");
}

TEST(InputLimits, ConfigAliasesCannotLoopOrExplode) {
  // An alias to the collection that holds it is infinitely deep.
  EXPECT_EQ(config_error("model: &m {cell: *m}\n"), "cfg.yaml:1: nesting deeper than 64 levels");
  // Ten levels of ten aliases each: 10^10 nodes in 300 bytes ("billion laughs").
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string previous = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", " : "") + previous;
    bomb += "]\n";
  }
  EXPECT_CONTAINS(config_error(bomb), "cfg.yaml: aliases expand to more than");
  // A few aliases are fine (and, here, unknown keys).
  EXPECT_CONTAINS(config_error("a: &a [1, 2]\nb: [*a, *a]\n"), "unknown key 'a'");
}

TEST(InputLimits, OverrideNestingIsBounded) {
  const std::string deep = "model.cell=" + brackets(kMaxYamlNesting + 1);
  EXPECT_EQ(config_error("", {deep}), "override '" + deep + "': nesting deeper than 64 levels");
  const std::string deeper = "model.cell=" + std::string(100000, '[');
  EXPECT_EQ(config_error("", {deeper}), "override '" + deeper + "': nesting deeper than 64 levels");
  // Other overrides are still checked and reported with it.
  const std::string message = config_error("", {"train.lr=&a [*a]", "model.cell=lstn"});
  EXPECT_CONTAINS(message, "override 'train.lr=&a [*a]': nesting deeper than 64 levels");
  EXPECT_CONTAINS(message, "override 'model.cell=lstn': key 'model.cell': unknown value 'lstn'");
}

TEST(InputLimits, ConfigStringsAreUtf8) {
  // Found by tests/fuzz: a byte that is not UTF-8 came back from config_to_yaml as U+FFFD.
  EXPECT_EQ(config_error("data:\n  path: -- - x\xDA - y\n"),
            "cfg.yaml:2: key 'data.path': the value is not valid UTF-8 (a YAML file is UTF-8 text)");
  EXPECT_CONTAINS(config_error("", {"output.dir=runs/\xC0\xAF"}), "key 'output.dir': the value is not valid UTF-8");
  // UTF-8 itself loads and survives the round trip.
  const Config config = parse_config("data:\n  path: donn\xC3\xA9\x65s/\xF0\x9F\x93\x88.csv\n", "cfg.yaml");
  EXPECT_EQ(config.data.path, "donn\xC3\xA9\x65s/\xF0\x9F\x93\x88.csv");
  EXPECT_EQ(parse_config(config_to_yaml(config), "again.yaml").data.path, config.data.path);
}

TEST(InputLimits, NumericSeriesAreFinite) {
  // strtod reads "nan" and "inf"; a forecast series must not hold them.
  const std::string path = ::testing::TempDir() + "input_limits_series.csv";
  for (const char* bad : {"nan", "inf", "-Infinity"}) {
    std::ofstream(path) << "t,value\n1,2.5\n2," << bad << "\n";
    try {
      data::read_numeric_column(path, "value");
      ADD_FAILURE() << bad << " was read as a number";
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()), path + ":3: '" + bad + "' is not a number");
    }
  }
  std::ofstream(path) << "t,value\n1,2.5\n2,-1e3\n";
  EXPECT_EQ(data::read_numeric_column(path, "value"), (std::vector<double>{2.5, -1000.0}));
  std::remove(path.c_str());
}

std::string safetensors(const std::string& header, size_t data_bytes) {
  std::string bytes;
  for (int byte = 0; byte < 8; ++byte) bytes.push_back(char((uint64_t(header.size()) >> (8 * byte)) & 0xFF));
  return bytes + header + std::string(data_bytes, '\0');
}

std::string checkpoint_error(const std::string& bytes) {
  try {
    parse_checkpoint(bytes, "deep.safetensors");
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(InputLimits, CheckpointJsonNestingIsBounded) {
  // A shape of 10^6 nested lists: reporting it printed it with a recursive dump.
  const size_t n = 1000000;
  const std::string deep_shape = std::string(n, '[') + "1" + std::string(n, ']');
  EXPECT_EQ(checkpoint_error(safetensors(R"({"w":{"dtype":"F32","shape":)" + deep_shape +
                                          R"(,"data_offsets":[0,4]}})", 4)),
            "checkpoint 'deep.safetensors': header: nesting deeper than 64 levels");
  // The trainer's metadata document, a JSON string inside the header.
  EXPECT_EQ(checkpoint_error(safetensors(R"({"__metadata__":{"rnnlab":")" + brackets(65) + R"("}})", 0)),
            "checkpoint 'deep.safetensors': metadata: nesting deeper than 64 levels");
  // Brackets inside strings do not count, and 64 levels of real nesting still load.
  const Checkpoint ok = parse_checkpoint(safetensors(R"({"__metadata__":{"note":")" + std::string(200, '[') +
                                                      R"(","rnnlab":")" + brackets(64) + R"("}})", 0),
                                          "ok.safetensors");
  EXPECT_TRUE(ok.metadata.is_array());
  EXPECT_TRUE(ok.tensors.empty());
}

}  // namespace
}  // namespace rnnlab::trainer
