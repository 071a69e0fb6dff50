#include "tracking/detail/writer.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

namespace rnnlab::tracking::detail {
namespace {

void flatten_into(const nlohmann::json& node, const std::string& prefix,
                  std::vector<FlatParam>& out) {
  if (node.is_object()) {
    for (const auto& [key, child] : node.items()) {
      flatten_into(child, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  FlatParam param;
  param.key = prefix.empty() ? "value" : prefix;
  if (node.is_number()) {
    param.kind = "number";
    param.value_text = node.dump();
    if (node.is_number_float()) param.value_num = node.get<double>();
    else if (node.is_number_unsigned()) param.value_num = static_cast<double>(node.get<uint64_t>());
    else param.value_num = node.get<int64_t>();
  } else if (node.is_string()) {
    param.kind = "string";
    param.value_text = node.get<std::string>();
    // A config read from YAML may carry numbers as strings ("1e-3"): give those a numeric
    // view too, so that params.lr < 0.01 works whichever way the value arrived.
    const char* begin = param.value_text.c_str();
    char* end = nullptr;
    double value = std::strtod(begin, &end);
    if (!param.value_text.empty() && end && *end == '\0' && std::isfinite(value) &&
        !std::isspace(static_cast<unsigned char>(param.value_text[0]))) {
      param.value_num = value;
    }
  } else if (node.is_boolean()) {
    param.kind = "bool";
    param.value_text = node.get<bool>() ? "true" : "false";
  } else if (node.is_null()) {
    param.kind = "null";
    param.value_text = "null";
  } else {
    param.kind = "json";
    param.value_text = node.dump();
  }
  out.push_back(std::move(param));
}

}  // namespace

std::vector<FlatParam> flatten_config(const nlohmann::json& config) {
  std::vector<FlatParam> out;
  flatten_into(config, "", out);
  return out;
}

int64_t find_or_create_experiment(Database& db, const std::string& name) {
  // INSERT OR IGNORE then SELECT: correct when another process creates it at the same time.
  Statement insert = db.prepare("INSERT OR IGNORE INTO experiments (name, created_at) VALUES (?, ?)");
  insert.bind(1, name).bind(2, now_seconds()).run();
  Statement select = db.prepare("SELECT id FROM experiments WHERE name = ?");
  select.bind(1, name);
  select.step();
  return select.column_int(0);
}

int64_t insert_run(Database& db, int64_t experiment_id, const RunInfo& info,
                   double heartbeat_timeout_s) {
  const double now = now_seconds();
  Statement run = db.prepare(
      "INSERT INTO runs (experiment_id, name, status, start_time, heartbeat_at, "
      "heartbeat_timeout, host, pid, ranks, backend, rnnlab_version, git_commit, config) "
      "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  run.bind(1, experiment_id).bind(2, info.name).bind(3, now).bind(4, now);
  run.bind(5, heartbeat_timeout_s).bind(6, info.host).bind(7, static_cast<int64_t>(::getpid()));
  run.bind(8, info.ranks).bind(9, info.backend).bind(10, info.rnnlab_version);
  run.bind(11, info.git_commit).bind(12, info.config.dump());
  run.run();
  const int64_t run_id = db.last_insert_rowid();
  if (info.name.empty()) {
    Statement rename = db.prepare("UPDATE runs SET name = ? WHERE id = ?");
    rename.bind(1, "run-" + std::to_string(run_id)).bind(2, run_id).run();
  }
  Statement param = db.prepare(
      "INSERT OR REPLACE INTO params (run_id, key, value_text, value_num, kind) "
      "VALUES (?, ?, ?, ?, ?)");
  for (const FlatParam& flat : flatten_config(info.config)) {
    param.bind(1, run_id).bind(2, flat.key).bind(3, flat.value_text).bind(4, flat.value_num);
    param.bind(5, flat.kind);
    param.run();
    param.reset();
  }
  Statement tag = db.prepare("INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)");
  for (const auto& [key, value] : info.tags) {
    tag.bind(1, run_id).bind(2, key).bind(3, value).run();
    tag.reset();
  }
  return run_id;
}

void rebuild_summary(Database& db, int64_t run_id, const std::string* key) {
  const std::string only_key = key ? " AND key = ?" : "";
  Statement remove = db.prepare("DELETE FROM metric_summary WHERE run_id = ?" + only_key);
  remove.bind(1, run_id);
  if (key) remove.bind(2, *key);
  remove.run();
  // min/max steps: the first step that reached the extreme, as the incremental writer keeps.
  Statement insert = db.prepare(
        "INSERT INTO metric_summary (run_id, key, count, last_step, last_value, min_value, "
        "min_step, max_value, max_step, wall_time) "
        "SELECT m.run_id, m.key, count(*), max(m.step), "
        "(SELECT value FROM metrics WHERE run_id = m.run_id AND key = m.key ORDER BY step DESC LIMIT 1), "
        "min(m.value), "
        "(SELECT step FROM metrics WHERE run_id = m.run_id AND key = m.key AND value IS NOT NULL "
        " ORDER BY value ASC, step ASC LIMIT 1), "
        "max(m.value), "
        "(SELECT step FROM metrics WHERE run_id = m.run_id AND key = m.key AND value IS NOT NULL "
        " ORDER BY value DESC, step ASC LIMIT 1), "
        "max(m.wall_time) FROM metrics m WHERE m.run_id = ?" + (key ? std::string(" AND m.key = ?") : "") +
        " GROUP BY m.key");
  insert.bind(1, run_id);
  if (key) insert.bind(2, *key);
  insert.run();
}

MetricWriter::MetricWriter(Database& db)
    : db_(db),
      insert_(db.prepare(
          "INSERT OR IGNORE INTO metrics (run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?)")),
      replace_(db.prepare("UPDATE metrics SET value = ?, wall_time = ? WHERE run_id = ? AND key = ? AND step = ?")),
      // SET expressions read the row as it was before the update, so each line compares
      // the batch's aggregate with the stored one.
      summary_(db.prepare(
          "INSERT INTO metric_summary (run_id, key, count, last_step, last_value, min_value, "
          "min_step, max_value, max_step, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (run_id, key) DO UPDATE SET "
          "count = count + excluded.count, "
          "last_value = CASE WHEN excluded.last_step >= last_step THEN excluded.last_value "
          "ELSE last_value END, "
          "last_step = max(last_step, excluded.last_step), "
          "min_value = CASE WHEN min_value IS NULL OR excluded.min_value < min_value "
          "THEN excluded.min_value ELSE min_value END, "
          "min_step = CASE WHEN min_value IS NULL OR excluded.min_value < min_value "
          "THEN excluded.min_step ELSE min_step END, "
          "max_value = CASE WHEN max_value IS NULL OR excluded.max_value > max_value "
          "THEN excluded.max_value ELSE max_value END, "
          "max_step = CASE WHEN max_value IS NULL OR excluded.max_value > max_value "
          "THEN excluded.max_step ELSE max_step END, "
          "wall_time = max(wall_time, excluded.wall_time)")) {}

void MetricWriter::write(int64_t run_id, const std::vector<MetricPoint>& points) {
  struct Aggregate {
    int64_t count = 0, last_step = 0, min_step = 0, max_step = 0;
    double last_value = NAN, min_value = NAN, max_value = NAN, wall_time = 0;
  };
  std::map<std::string, Aggregate> aggregates;
  // Keys with a step logged again: the value it replaces may have been the summary's min,
  // max or last, and it must not count twice, so their summary is recomputed instead.
  std::set<std::string> replaced;
  for (const MetricPoint& point : points) {
    insert_.bind(1, run_id).bind(2, point.key).bind(3, point.step);
    if (std::isnan(point.value)) insert_.bind_null(4); else insert_.bind(4, point.value);
    insert_.bind(5, point.wall_time);
    insert_.run();
    insert_.reset();
    if (db_.changes() == 0) {  // the step is there already: replace its value
      if (std::isnan(point.value)) replace_.bind_null(1); else replace_.bind(1, point.value);
      replace_.bind(2, point.wall_time).bind(3, run_id).bind(4, point.key).bind(5, point.step);
      replace_.run();
      replace_.reset();
      replaced.insert(point.key);
      continue;
    }

    Aggregate& a = aggregates[point.key];
    if (a.count == 0 || point.step >= a.last_step) {
      a.last_step = point.step;
      a.last_value = point.value;
    }
    if (!std::isnan(point.value)) {
      if (std::isnan(a.min_value) || point.value < a.min_value) {
        a.min_value = point.value;
        a.min_step = point.step;
      }
      if (std::isnan(a.max_value) || point.value > a.max_value) {
        a.max_value = point.value;
        a.max_step = point.step;
      }
    }
    a.wall_time = std::max(a.wall_time, point.wall_time);
    ++a.count;
  }
  auto bind_maybe_nan = [this](int index, double value) {
    if (std::isnan(value)) summary_.bind_null(index); else summary_.bind(index, value);
  };
  for (const std::string& key : replaced) rebuild_summary(db_, run_id, &key);
  for (const auto& [key, a] : aggregates) {
    if (replaced.count(key)) continue;
    summary_.bind(1, run_id).bind(2, key).bind(3, a.count).bind(4, a.last_step);
    bind_maybe_nan(5, a.last_value);
    bind_maybe_nan(6, a.min_value);
    if (std::isnan(a.min_value)) summary_.bind_null(7); else summary_.bind(7, a.min_step);
    bind_maybe_nan(8, a.max_value);
    if (std::isnan(a.max_value)) summary_.bind_null(9); else summary_.bind(9, a.max_step);
    summary_.bind(10, a.wall_time);
    summary_.run();
    summary_.reset();
  }
}

}  // namespace rnnlab::tracking::detail
