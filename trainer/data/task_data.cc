#include "trainer/data/task_data.h"

#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "trainer/data/builders.h"
#include "trainer/data/datasets.h"

namespace rnnlab::trainer::data {
namespace {

// The reader a task needs, and the formats that can feed it.
std::string default_format(const std::string& task, const std::string& path) {
  if (task == "language_model") return "text";
  if (task == "classify") return std::filesystem::path(path).extension() == ".csv" ? "csv" : "tsv";
  if (task == "tag") return "tagged";
  if (task == "forecast") return "numeric_csv";
  return "";
}

bool format_fits(const std::string& task, const std::string& format) {
  if (task == "language_model") return format == "text";
  if (task == "classify") return format == "tsv" || format == "csv";
  if (task == "tag") return format == "tagged" || format == "conll";
  if (task == "forecast") return format == "numeric_csv";
  return format == "synthetic";
}

std::unique_ptr<TaskData> build(const Config& config, const nlohmann::json* trained) {
  const std::string& task = config.task;
  std::string dataset = config.data.dataset;
  if (dataset.empty() || dataset == "auto") dataset = default_dataset(task);

  if (task == "adding" || task == "copy") {
    if (dataset != task) {
      throw std::invalid_argument("key 'data.dataset': task '" + task + "' generates its data; use dataset '" + task +
                                  "' (or leave it out), not '" + dataset + "'");
    }
    return task == "adding" ? build_adding(config) : build_copy(config);
  }
  default_dataset(task);  // rejects an unknown task

  std::string path = config.data.path;
  std::string format = config.data.format;
  bool proper_names = false;  // a name-span data set derived from a POS one
  if (dataset == "file") {
    if (path.empty()) throw std::invalid_argument("key 'data.path': required with data.dataset=file");
    if (format.empty() || format == "auto") format = default_format(task, path);
  } else {
    const DatasetInfo& info = find_dataset(dataset);
    if (!config.data.path.empty() && config.data.format != "auto" && !config.data.format.empty() &&
        config.data.format != info.format) {
      throw std::invalid_argument("key 'data.format': data set '" + dataset + "' is " + info.format);
    }
    format = info.format;
    proper_names = !info.derived_from.empty();
    if (path.empty()) {
      path = dataset_path(info);
      const std::string source = proper_names ? info.derived_from : dataset;
      if (!dataset_fetched(info)) {
        throw std::invalid_argument("key 'data.dataset': data set '" + dataset + "' is not fetched (looked in " +
                                    data_root() + "/" + source + "); run `rnnlab data fetch " + source +
                                    "` or set RNNLAB_DATA");
      }
    }
  }
  if (!format_fits(task, format)) {
    throw std::invalid_argument("key 'data.format': task '" + task + "' cannot read '" + format + "' data" +
                                (dataset == "file" ? "" : " (data set '" + dataset + "')"));
  }
  if (task == "language_model") return build_language_model(config, path, trained);
  if (task == "classify") return build_classify(config, path, format, trained);
  if (task == "tag") return build_tag(config, path, format, proper_names, trained);
  return build_forecast(config, path, trained);
}

}  // namespace

const nlohmann::json& trained_part(const nlohmann::json& trained, const std::string& key) {
  if (!trained.is_object() || !trained.contains(key))
    throw std::invalid_argument("checkpoint metadata lacks '" + key + "' (needed to read data for this model)");
  return trained.at(key);
}

std::unique_ptr<TaskData> make_task_data(const Config& config, const nlohmann::json* trained) {
  try {
    return build(config, trained);
  } catch (const std::invalid_argument& error) {
    // Key errors come without the config file; file:line errors already name their file.
    const std::string message = error.what();
    if (!config.source.empty() && message.rfind("key", 0) == 0) {
      throw std::invalid_argument(config.source + ": " + message);
    }
    throw;
  }
}

}  // namespace rnnlab::trainer::data
