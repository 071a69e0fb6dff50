// `rnnlab evaluate CHECKPOINT [--split val|test] [--format text|json] [data.x=... ...]`:
// the task's metrics of a trained model on a split of its data set, or of other data given
// by overrides (`data.dataset=wsj_pos`, `data.dataset=file data.path=my.txt`; also accepted
// as `--data.dataset=wsj_pos`). See trainer/evaluate.h for what may be overridden and the
// errors. CHECKPOINT may be the run's output dir. Exit 0, or 2 for a bad argument / file
// (message on stderr), 1 for other failures.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/cli/commands.h"
#include "trainer/checkpoint.h"
#include "trainer/evaluate.h"

namespace rnnlab::cli {
namespace {

struct EvaluateArgs {
  std::string checkpoint;
  std::string split = "test";
  std::string format = "text";
  std::vector<std::string> overrides;
};

std::string metrics_text(const std::map<std::string, double>& metrics) {
  std::string out;
  char text[96];
  for (const auto& [key, value] : metrics) {
    std::snprintf(text, sizeof text, "%s%s %.6g", out.empty() ? "" : "  ", key.c_str(), value);
    out += text;
  }
  return out;
}

int run_evaluate(const EvaluateArgs& args, const std::vector<std::string>& extras) {
  const std::string path = trainer::resolve_checkpoint_argument(args.checkpoint);
  trainer::EvaluateOptions options;
  options.split = args.split;
  options.overrides = args.overrides;
  for (const std::string& extra : extras) {
    if (extra.rfind("--", 0) != 0 || extra.find('=') == std::string::npos)
      throw std::invalid_argument("evaluate: unexpected argument '" + extra + "' (overrides are key=value)");
    options.overrides.push_back(extra.substr(2));
  }
  const trainer::EvaluateResult result = trainer::evaluate_checkpoint(path, options);
  const trainer::Config& config = result.config;
  const std::string data_name = config.data.dataset == "file" ? config.data.path : config.data.dataset;
  if (args.format == "json") {
    nlohmann::json out = {{"checkpoint", path},     {"task", config.task},     {"dataset", config.data.dataset},
                          {"path", config.data.path}, {"split", result.split}, {"step", result.step},
                          {"examples", result.examples}, {"metrics", result.metrics}, {"baseline", result.baseline},
                          {"unscored", result.unscored}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s: task %s, step %lld\n", path.c_str(), config.task.c_str(), static_cast<long long>(result.step));
    std::printf("%s, split %s: %lld %s\n", data_name.c_str(), result.split.c_str(),
                static_cast<long long>(result.examples), config.task == "language_model" ? "tokens" : "sequences");
    std::printf("%-9s %s\n", result.split.c_str(), metrics_text(result.metrics).c_str());
    std::printf("%-9s %s\n", "baseline", metrics_text(result.baseline).c_str());
    if (result.unscored > 0)
      std::printf("note: %lld tokens carry tags the model cannot output; accuracy leaves them out, "
                  "accuracy_counting_unscored counts them wrong\n",
                  static_cast<long long>(result.unscored));
  }
  return 0;
}

}  // namespace

void add_evaluate_command(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<EvaluateArgs>();
  CLI::App* evaluate = app.add_subcommand("evaluate", "Metrics of a checkpoint on a split of its data (or other data)");
  evaluate->add_option("checkpoint", args->checkpoint, "checkpoint.safetensors (or the run's output dir)")->required();
  evaluate->add_option("overrides", args->overrides,
                       "Data overrides: data.dataset=wsj_pos, data.dataset=file data.path=...");
  evaluate->add_option("--split", args->split, "train, val or test")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  evaluate->add_option("--format,-f", args->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  evaluate->allow_extras();  // --data.dataset=wsj_pos
  commands["evaluate"] = [args, evaluate] { return run_evaluate(*args, evaluate->remaining()); };
}

}  // namespace rnnlab::cli
