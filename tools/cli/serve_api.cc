#include "tools/cli/serve_api.h"

#include <cmath>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tools/cli/runs.h"
#include "tracking/history.h"
#include "tracking/store.h"

namespace rnnlab::cli {
namespace {

using nlohmann::json;

std::string param(const ApiQuery& query, const char* key, const std::string& fallback = {}) {
  auto it = query.find(key);
  return it == query.end() ? fallback : it->second;
}

// "a,b" and repeated keys both give {a, b}.
std::vector<std::string> list_param(const ApiQuery& query, const char* key) {
  std::vector<std::string> out;
  auto [begin, end] = query.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    std::stringstream parts(it->second);
    for (std::string part; std::getline(parts, part, ',');) {
      if (!part.empty()) out.push_back(part);
    }
  }
  return out;
}

int64_t int_param(const ApiQuery& query, const char* key, int64_t fallback) {
  const std::string text = param(query, key);
  if (text.empty()) return fallback;
  if (text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument(std::string("query parameter '") + key + "': not a count: '" + text + "'");
  }
  return std::stoll(text);
}

bool flag_param(const ApiQuery& query, const char* key) {
  const std::string text = param(query, key);
  return text == "1" || text == "true" || text == "yes";
}

// The `rnnlab runs` options a query string sets (the subcommands' flags by the same names).
runs::Options options_of(const ApiQuery& query, tracking::Store& store) {
  runs::Options o;
  o.store = &store;
  o.format = "json";
  o.experiment = param(query, "experiment");
  o.where = param(query, "where");
  o.order_by = param(query, "order_by");
  o.goal = param(query, "goal", "min");
  o.value = param(query, "value", param(query, "agg"));
  o.limit = int_param(query, "limit", 0);
  o.columns = list_param(query, "columns");
  o.rows = list_param(query, "rows");
  o.cols = list_param(query, "cols");
  o.metric = param(query, "metric");
  o.all = flag_param(query, "all");
  o.history = flag_param(query, "history");
  return o;
}

json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(); }

json history_json(const tracking::History& h) {
  json values = json::array();
  for (double v : h.values) values.push_back(number_or_null(v));
  return {{"key", h.key}, {"total", h.total}, {"downsampled", h.downsampled}, {"steps", h.steps},
          {"values", values}};
}

template <typename Command>
std::string run_command(Command command, const runs::Options& options) {
  std::ostringstream out;
  command(options, out);
  return out.str();
}

ApiReply error_reply(int status, const std::string& message) {
  return {status, json{{"error", message}}.dump()};
}

}  // namespace

ReadApi::ReadApi(std::string db_path) : db_path_(std::move(db_path)) { release(acquire()); }

ReadApi::~ReadApi() = default;

std::unique_ptr<tracking::Store> ReadApi::acquire() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      auto store = std::move(idle_.back());
      idle_.pop_back();
      return store;
    }
  }
  return std::make_unique<tracking::Store>(db_path_, false, 5000, /*read_only=*/true);
}

void ReadApi::release(std::unique_ptr<tracking::Store> store) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(store));
}

ApiReply ReadApi::get(const std::string& path, const ApiQuery& query) {
  try {
    auto store = acquire();
    ApiReply reply = answer(path, query, *store);
    release(std::move(store));
    return reply;
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    const bool missing = message.find("no run with") != std::string::npos;
    return error_reply(missing ? 404 : 400, message);
  } catch (const std::exception& error) {
    return error_reply(500, error.what());
  }
}

std::string ReadApi::cached_history(tracking::Store& store, int64_t run_id, const std::string& key,
                                    size_t points) {
  const std::string version = store.metric_version(run_id, key);
  const std::string name = std::to_string(run_id) + "/" + std::to_string(points) + "/" + key;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = history_cache_.find(name);
    if (it != history_cache_.end() && it->second.version == version) return it->second.json;
  }
  std::string text = history_json(tracking::metric_history(store, run_id, key, points)).dump();
  std::lock_guard<std::mutex> lock(mutex_);
  if (history_cache_.size() >= 256) history_cache_.clear();
  history_cache_[name] = {version, text};
  return text;
}

ApiReply ReadApi::answer(const std::string& path, const ApiQuery& query, tracking::Store& store) {
  static const std::regex run_path(R"(/api/v1/runs/([^/]+))");
  static const std::regex history_path(R"(/api/v1/runs/([^/]+)/history)");
  std::smatch match;
  runs::Options options = options_of(query, store);
  if (path == "/api/v1/runs") return {200, run_command(runs::list, options)};
  if (path == "/api/v1/best") return {200, run_command(runs::best, options)};
  if (path == "/api/v1/pivot") return {200, run_command(runs::pivot, options)};
  if (path == "/api/v1/export") return {200, run_command(runs::export_runs, options)};
  if (path == "/api/v1/experiments") return {200, json(store.experiments()).dump()};
  if (path == "/api/v1/compare") {
    options.refs = list_param(query, "runs");
    return {200, run_command(runs::compare, options)};
  }
  if (std::regex_match(path, match, history_path)) {
    const int64_t run_id = store.resolve_runs({match[1].str()})[0];
    const size_t points = static_cast<size_t>(int_param(query, "points", 2000));
    std::vector<std::string> keys = list_param(query, "keys");
    if (keys.empty()) {
      for (const auto& summary : store.run_details(run_id).metrics) keys.push_back(summary.key);
    }
    std::string body = "{\"run_id\":" + std::to_string(run_id) + ",\"histories\":[";
    for (size_t i = 0; i < keys.size(); ++i) {
      body += (i ? "," : "") + cached_history(store, run_id, keys[i], points);
    }
    return {200, body + "]}"};
  }
  if (std::regex_match(path, match, run_path)) {
    options.refs = {match[1].str()};
    return {200, run_command(runs::show, options)};
  }
  return error_reply(404, "no API path '" + path + "'");
}

}  // namespace rnnlab::cli
