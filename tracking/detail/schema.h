// Internal to tracking: connection settings and the versioned schema (see docs/tracking.md).
#pragma once

#include "tracking/detail/sqlite_db.h"

namespace rnnlab::tracking::detail {

// The schema version this build writes (PRAGMA user_version).
constexpr int kSchemaVersion = 1;

// Sets the per-connection pragmas (WAL, synchronous=NORMAL, foreign keys, case-sensitive
// LIKE), then creates or migrates the schema to kSchemaVersion inside one BEGIN IMMEDIATE
// transaction, so that many processes opening one new database at once serialise on the
// write lock and exactly one of them creates it. Throws std::runtime_error when the file
// was written by a newer rnnlab (a higher version).
void prepare_database(Database& db);

// Marks runs whose writer stopped sending heartbeats as killed. A run is stale when
// its last heartbeat is older than the timeout its own writer chose (runs.heartbeat_timeout).
// Returns how many runs it marked.
int64_t mark_stale_runs(Database& db);

}  // namespace rnnlab::tracking::detail
