// Subcommand registry of the rnnlab command line. Each subcommand file defines one
// `void add_<name>_command(CLI::App& app, Commands& commands)` that adds its CLI11
// subcommand and the function to run when it is selected.
#pragma once

#include <functional>
#include <map>
#include <string>

namespace CLI {
class App;
}

namespace rnnlab::cli {

// Subcommand name -> what to run when it was chosen; returns the exit code.
using Commands = std::map<std::string, std::function<int()>>;

void register_commands(CLI::App& app);
int run_selected(CLI::App& app);

// One line per subcommand file; keep alphabetical.
void add_bench_command(CLI::App& app, Commands& commands);
void add_config_command(CLI::App& app, Commands& commands);
void add_data_command(CLI::App& app, Commands& commands);
void add_doctor_command(CLI::App& app, Commands& commands);
void add_evaluate_command(CLI::App& app, Commands& commands);
void add_runs_command(CLI::App& app, Commands& commands);
void add_serve_command(CLI::App& app, Commands& commands);
void add_sweep_command(CLI::App& app, Commands& commands);
void add_train_command(CLI::App& app, Commands& commands);  // train, summary, generate

}  // namespace rnnlab::cli
