// The built-in data sets (docs/architecture.md, "Data sets"): where `tools/fetch-data` puts them and
// which reader and task they go with. Thread safe (constant tables, environment reads).
#pragma once

#include <string>
#include <vector>

namespace rnnlab::trainer::data {

struct DatasetInfo {
  std::string name;         // data.dataset: moby_dick, sotu, ...
  std::string task;         // the task it is meant for
  std::string format;       // reader (readers.h): text | csv | tagged | numeric_csv | synthetic;
                            // translation: translation_text.h's read_translation_pairs
  std::string file;         // file (or folder, for sotu) under data_root()/name; empty if synthetic
  std::string source;       // registry package it is fetched from
  std::string description;  // one line for `rnnlab data list`
  // Set for a data set computed from another one's file when it is read (wsj_names from
  // wsj_pos): its file lives in that one's folder, and fetching it fetches that one.
  std::string derived_from;
};

// Every built-in data set, fetched and synthetic, in a fixed order.
const std::vector<DatasetInfo>& builtin_datasets();
// The entry named `name`; throws std::invalid_argument listing the choices otherwise.
const DatasetInfo& find_dataset(const std::string& name);
// The data set a task uses when data.dataset is "auto" (or empty).
std::string default_dataset(const std::string& task);

// $RNNLAB_DATA if set, else <source tree>/data (the folder tools/fetch-data fills).
std::string data_root();
// Where a fetched data set's file (or folder) lives: data_root()/name/file (for a derived
// data set, the folder of the one it is derived from).
std::string dataset_path(const DatasetInfo& dataset);
// Whether tools/fetch-data completed for it (its .complete marker exists); synthetic: true.
bool dataset_fetched(const DatasetInfo& dataset);
// tools/fetch-data in the source tree (what `rnnlab data fetch` runs).
std::string fetch_script_path();

}  // namespace rnnlab::trainer::data
