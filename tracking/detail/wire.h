// Internal to tracking: the JSON form of a RunInfo on the wire between RemoteTracker
// (remote.cc) and Ingest (ingest.cc), so both ends read one definition.
#pragma once

#include <nlohmann/json.hpp>

#include "tracking/tracker.h"

namespace rnnlab::tracking::detail {

inline nlohmann::json run_info_to_wire(const RunInfo& info) {
  return {{"experiment", info.experiment}, {"name", info.name}, {"config", info.config},
          {"tags", info.tags}, {"host", info.host}, {"ranks", info.ranks},
          {"backend", info.backend}, {"rnnlab_version", info.rnnlab_version},
          {"git_commit", info.git_commit}};
}

inline RunInfo run_info_from_wire(const nlohmann::json& wire) {
  RunInfo info;
  info.experiment = wire.value("experiment", std::string("default"));
  info.name = wire.value("name", std::string());
  info.config = wire.value("config", nlohmann::json::object());
  info.tags = wire.value("tags", std::map<std::string, std::string>());
  info.host = wire.value("host", std::string());
  info.ranks = wire.value("ranks", 1);
  info.backend = wire.value("backend", std::string());
  info.rnnlab_version = wire.value("rnnlab_version", std::string());
  info.git_commit = wire.value("git_commit", std::string());
  return info;
}

}  // namespace rnnlab::tracking::detail
