#include "tracking/ingest.h"

#include <cmath>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tracking/detail/run_rows.h"
#include "tracking/detail/schema.h"
#include "tracking/detail/sqlite_db.h"
#include "tracking/detail/wire.h"
#include "tracking/detail/writer.h"

namespace rnnlab::tracking {
namespace {

using nlohmann::json;

// A request field of the expected JSON type, else invalid_argument naming it.
const json& field(const json& request, const char* key, json::value_t type) {
  auto it = request.find(key);
  bool ok = it != request.end() &&
            (it->type() == type || (type == json::value_t::number_integer && it->is_number_integer()) ||
             (type == json::value_t::number_float && it->is_number()));
  if (!ok) throw std::invalid_argument(std::string("ingest: request field '") + key + "' missing or of the wrong type");
  return *it;
}

int64_t int_field(const json& r, const char* key) {
  return field(r, key, json::value_t::number_integer).get<int64_t>();
}
double number_field(const json& r, const char* key) {
  return field(r, key, json::value_t::number_float).get<double>();
}
std::string text_field(const json& r, const char* key) {
  return field(r, key, json::value_t::string).get<std::string>();
}

double stale_after(const json& r) {
  double seconds = number_field(r, "stale_after");
  if (!(seconds > 0)) throw std::invalid_argument("ingest: stale_after must be > 0");
  return seconds;
}

std::vector<MetricPoint> points_of(const json& r) {
  std::vector<MetricPoint> points;
  for (const json& p : field(r, "points", json::value_t::array)) {
    if (!p.is_array() || p.size() != 4 || !p[0].is_string() || p[0].get<std::string>().empty() ||
        !p[1].is_number_integer() || !(p[2].is_number() || p[2].is_null()) || !p[3].is_number()) {
      throw std::invalid_argument("ingest: a point must be [key, step, value|null, wall_time]");
    }
    points.push_back({p[0].get<std::string>(), p[1].get<int64_t>(),
                      p[2].is_null() ? std::nan("") : p[2].get<double>(), p[3].get<double>()});
  }
  return points;
}

}  // namespace

Ingest::Ingest(const std::string& db_path, int busy_timeout_ms)
    : db_(std::make_unique<detail::Database>(db_path, /*create=*/false, busy_timeout_ms)) {
  detail::prepare_database(*db_);
  if (db_->read_only()) {
    throw std::runtime_error("tracking database '" + db_path +
                             "' is read-only here: serve it with --read-only");
  }
  writer_ = std::make_unique<detail::MetricWriter>(*db_);
}

Ingest::~Ingest() = default;

json Ingest::apply(const json& request) {
  if (!request.is_object()) throw std::invalid_argument("ingest: the request must be a JSON object");
  const std::string op = text_field(request, "op");
  std::lock_guard<std::mutex> lock(mutex_);
  detail::Transaction transaction(*db_);
  json reply = json::object();
  if (op == "start") {
    RunInfo info = detail::run_info_from_wire(field(request, "info", json::value_t::object));
    if (info.experiment.empty()) throw std::invalid_argument("ingest: experiment name is empty");
    const int64_t experiment = detail::find_or_create_experiment(*db_, info.experiment);
    reply["run_id"] = detail::insert_run(*db_, experiment, info, stale_after(request));
  } else {
    const int64_t run_id = int_field(request, "run_id");
    if (op == "resume") {
      detail::resume_run_rows(*db_, run_id, int_field(request, "after_step"), stale_after(request));
    } else {
      detail::require_run_row(*db_, run_id, op.c_str());
      if (op == "log") {
        const std::vector<MetricPoint> points = points_of(request);
        if (!points.empty()) writer_->write(run_id, points);
        if (request.value("retry", false)) detail::rebuild_summary(*db_, run_id);
        detail::write_heartbeat(*db_, run_id, detail::now_seconds());
        reply["written"] = points.size();
      } else if (op == "tag") {
        detail::write_tag(*db_, run_id, text_field(request, "key"), text_field(request, "value"));
      } else if (op == "artifact") {
        detail::write_artifact(*db_, run_id, text_field(request, "path"), text_field(request, "kind"),
                               int_field(request, "step"));
      } else if (op == "finish") {
        const RunStatus status = parse_run_status(text_field(request, "status"));
        if (status == RunStatus::running) throw std::invalid_argument("ingest: finish with status running");
        detail::write_final_status(*db_, run_id, status, request.value("error", std::string()));
      } else {
        throw std::invalid_argument("ingest: unknown op '" + op +
                                    "' (choices: start, resume, log, tag, artifact, finish)");
      }
    }
  }
  transaction.commit();
  return reply;
}

}  // namespace rnnlab::tracking
