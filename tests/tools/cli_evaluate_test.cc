// `rnnlab evaluate` as a user runs it: after `rnnlab train` on tests/tools/configs/tiny_lm.yaml,
// evaluate prints the test metrics the run logged in metrics.jsonl (text and --format json),
// data overrides work in both spellings, and a missing or corrupt checkpoint exits non-zero
// with a message naming the file.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/trainer/train_test_util.h"

namespace {

using rnnlab::trainer::testing_util::TempFolder;

struct CliRun {
  int code = -1;
  std::string out;  // stdout
  std::string all;  // stdout and stderr
};

// Runs `rnnlab ARGS` in `folder` (a shell command line; arguments are quoted by the caller).
CliRun rnnlab(const std::string& args, const TempFolder& folder) {
  CliRun run;
  const std::string err = folder.file("stderr.txt");
  const std::string command = "cd '" + folder.file("") + "' && '" RNNLAB_BIN "' " + args + " 2>'" + err + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return run;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(err);
  run.all = run.out + std::string(std::istreambuf_iterator<char>(in), {});
  return run;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The last value of every key in metrics.jsonl.
std::map<std::string, double> logged(const std::string& path) {
  std::map<std::string, double> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto point = nlohmann::json::parse(line);
    if (point["value"].is_number()) out[point["key"].get<std::string>()] = point["value"].get<double>();
  }
  return out;
}

TEST(CliEvaluate, PrintsTheTestMetricsTheRunLogged) {
  TempFolder folder;
  folder.write("text.txt", rnnlab::trainer::testing_util::tiny_text());
  const CliRun train = rnnlab("train -q '" RNNLAB_CONFIGS "/tiny_lm.yaml'", folder);
  ASSERT_EQ(train.code, 0) << train.all;
  const auto metrics = logged(folder.file("run/metrics.jsonl"));
  ASSERT_TRUE(metrics.count("test_loss") && metrics.count("test_bpc")) << "metrics.jsonl lacks the test metrics";

  const CliRun json = rnnlab("evaluate run --format json", folder);
  ASSERT_EQ(json.code, 0) << json.all;
  const auto result = nlohmann::json::parse(json.out);
  EXPECT_EQ(result["split"], "test");
  EXPECT_EQ(result["task"], "language_model");
  for (const auto& [key, value] : result["metrics"].items()) {
    ASSERT_TRUE(metrics.count("test_" + key)) << key;
    EXPECT_DOUBLE_EQ(value.get<double>(), metrics.at("test_" + key)) << key;
  }
  EXPECT_DOUBLE_EQ(result["baseline"]["loss"].get<double>(), metrics.at("baseline_test_loss"));

  const CliRun text = rnnlab("evaluate run/checkpoint.safetensors", folder);
  ASSERT_EQ(text.code, 0) << text.all;
  EXPECT_TRUE(contains(text.out, "bpc")) << text.out;
  EXPECT_TRUE(contains(text.out, "baseline")) << text.out;

  // Other data, both spellings of an override; val split.
  folder.write("other.txt", rnnlab::trainer::testing_util::tiny_text() + "the mat sat on a dog. ");
  const CliRun a = rnnlab("evaluate run --split val --format json data.path=other.txt", folder);
  const CliRun b = rnnlab("evaluate run --split val --format json --data.path=other.txt", folder);
  ASSERT_EQ(a.code, 0) << a.all;
  ASSERT_EQ(b.code, 0) << b.all;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(nlohmann::json::parse(a.out)["path"], "other.txt");

  const CliRun shape = rnnlab("evaluate run model.hidden_size=8", folder);
  EXPECT_EQ(shape.code, 2) << shape.all;
  EXPECT_TRUE(contains(shape.all, "model.hidden_size")) << shape.all;
}

TEST(CliEvaluate, MissingOrCorruptCheckpointIsAClearError) {
  TempFolder folder;
  const CliRun missing = rnnlab("evaluate nowhere/checkpoint.safetensors", folder);
  EXPECT_EQ(missing.code, 2) << missing.all;
  EXPECT_TRUE(contains(missing.all, "nowhere/checkpoint.safetensors")) << missing.all;

  folder.write("garbage.safetensors", std::string(100, 'x'));
  const CliRun corrupt = rnnlab("evaluate garbage.safetensors", folder);
  EXPECT_NE(corrupt.code, 0) << corrupt.all;
  EXPECT_LT(corrupt.code, 128) << "crashed: " << corrupt.all;
  EXPECT_TRUE(contains(corrupt.all, "garbage.safetensors")) << corrupt.all;
  EXPECT_TRUE(corrupt.out.empty()) << corrupt.out;
}

}  // namespace
