// Internal to tracking: the one SELECT list that reads a RunRecord, shared by store.cc and
// store_pivot.cc so the column order lives in one place.
#pragma once

#include "tracking/detail/sqlite_db.h"
#include "tracking/store.h"

namespace rnnlab::tracking::detail {

inline constexpr const char* kRunColumns =
    "r.id, e.name, r.name, r.status, r.error, r.host, r.backend, r.rnnlab_version, "
    "r.git_commit, r.ranks, r.start_time, r.end_time, r.heartbeat_at";
inline constexpr int kRunColumnCount = 13;
inline constexpr const char* kRunFrom = " FROM runs r JOIN experiments e ON e.id = r.experiment_id";

inline RunRecord read_run(const Statement& s) {
  RunRecord run;
  run.id = s.column_int(0);
  run.experiment = s.column_text(1);
  run.name = s.column_text(2);
  run.status = s.column_text(3);
  run.error = s.column_text(4);
  run.host = s.column_text(5);
  run.backend = s.column_text(6);
  run.rnnlab_version = s.column_text(7);
  run.git_commit = s.column_text(8);
  run.ranks = s.column_int(9);
  run.start_time = s.column_double(10);
  if (!s.is_null(11)) run.end_time = s.column_double(11);
  run.heartbeat_at = s.column_double(12);
  return run;
}

}  // namespace rnnlab::tracking::detail
