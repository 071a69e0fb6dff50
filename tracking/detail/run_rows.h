// Internal to tracking: the statements that change one run's row and its tags/artifacts,
// shared by the Tracker (one local run) and Ingest (the server applying remote writers'
// requests). Callers own the transaction where one is needed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tracking/detail/sqlite_db.h"
#include "tracking/tracker.h"

namespace rnnlab::tracking::detail {

// Fails (invalid_argument naming the database) when no run has that id.
void require_run_row(Database& db, int64_t run_id, const char* what);
// Makes the run 'running' again and drops its points after after_step (Tracker::resume_run).
// Call inside a transaction.
void resume_run_rows(Database& db, int64_t run_id, int64_t after_step, double stale_after_seconds);
void write_heartbeat(Database& db, int64_t run_id, double now);
void write_tag(Database& db, int64_t run_id, const std::string& key, const std::string& value);
void write_artifact(Database& db, int64_t run_id, const std::string& path, const std::string& kind,
                    int64_t step);
void write_final_status(Database& db, int64_t run_id, RunStatus status, std::string_view error);

}  // namespace rnnlab::tracking::detail
