// `rnnlab config --docs`: the configuration reference (docs/config.md is this output).
// `rnnlab config CONFIG.yaml [key=value ...]`: loads, applies the overrides, validates and
// prints the resolved config as YAML (every key, "auto" values resolved), or the errors.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/cli/commands.h"
#include "trainer/config.h"

namespace rnnlab::cli {
namespace {

struct ConfigArgs {
  bool docs = false;
  std::string path;
  std::vector<std::string> overrides;
};

int run(const ConfigArgs& args) {
  if (args.docs) {
    if (!args.path.empty()) throw std::invalid_argument("config: --docs takes no config file");
    std::fputs(trainer::config_docs_markdown().c_str(), stdout);
    return 0;
  }
  if (args.path.empty()) throw std::invalid_argument("config: give a CONFIG.yaml, or --docs");
  const trainer::Config config = trainer::load_config(args.path, args.overrides);
  std::fputs(trainer::config_to_yaml(config).c_str(), stdout);
  return 0;
}

}  // namespace

void add_config_command(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<ConfigArgs>();
  CLI::App* sub = app.add_subcommand("config", "Validate a config and print it resolved, or print the key reference");
  sub->add_flag("--docs", args->docs, "Print the reference of every config key (docs/config.md)");
  sub->add_option("config", args->path, "YAML config file");
  sub->add_option("overrides", args->overrides, "Dotted overrides: model.cell=gru train.lr=0.01");
  commands["config"] = [args] { return run(*args); };
}

}  // namespace rnnlab::cli
