// rnnlab: the command line. Each subcommand registers itself from cli/<name>.cc through
// the functions declared in cli/commands.h; this file only parses and reports errors.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <stdexcept>

#include "tools/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"rnnlab: train and compare recurrent neural networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", RNNLAB_VERSION);
  rnnlab::cli::register_commands(app);
  try {
    app.parse(argc, argv);
    return rnnlab::cli::run_selected(app);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "rnnlab: error: %s\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "rnnlab: error: %s\n", error.what());
    return 1;
  }
}
