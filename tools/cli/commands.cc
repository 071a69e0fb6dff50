#include "tools/cli/commands.h"

#include <CLI/CLI.hpp>

namespace rnnlab::cli {
namespace {
Commands& registry() {
  static Commands commands;
  return commands;
}
}  // namespace

void register_commands(CLI::App& app) {
  Commands& commands = registry();
  add_bench_command(app, commands);
  add_config_command(app, commands);
  add_data_command(app, commands);
  add_doctor_command(app, commands);
  add_evaluate_command(app, commands);
  add_runs_command(app, commands);
  add_serve_command(app, commands);
  add_sweep_command(app, commands);
  add_train_command(app, commands);
}

int run_selected(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands()) {
    auto it = registry().find(sub->get_name());
    if (it != registry().end()) return it->second();
  }
  return 2;
}

}  // namespace rnnlab::cli
