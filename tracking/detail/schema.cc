#include "tracking/detail/schema.h"

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace rnnlab::tracking::detail {
namespace {

// Version 0 is an empty file. Each entry migrates from version i to i + 1; a new version
// appends an entry and never edits an old one.
const char* const kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE IF NOT EXISTS experiments (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  id                 INTEGER PRIMARY KEY,
  experiment_id      INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  name               TEXT NOT NULL,
  status             TEXT NOT NULL
                     CHECK (status IN ('running', 'finished', 'failed', 'killed', 'pruned')),
  error              TEXT,
  start_time         REAL NOT NULL,
  end_time           REAL,
  heartbeat_at       REAL NOT NULL,
  heartbeat_timeout  REAL NOT NULL,
  host               TEXT,
  pid                INTEGER,
  ranks              INTEGER,
  backend            TEXT,
  rnnlab_version     TEXT,
  git_commit         TEXT,
  config             TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment_id);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_by_name ON runs (name);
CREATE TABLE IF NOT EXISTS params (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key         TEXT NOT NULL,
  value_text  TEXT NOT NULL,
  value_num   NUMERIC,
  kind        TEXT NOT NULL CHECK (kind IN ('number', 'string', 'bool', 'null', 'json')),
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
-- Covering (run_id rides along as the primary key): pivot reads one key's labels for
-- every run in a single range scan.
CREATE INDEX IF NOT EXISTS params_by_key ON params (key, value_text);
CREATE TABLE IF NOT EXISTS metrics (
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  step       INTEGER NOT NULL,
  value      REAL,
  wall_time  REAL NOT NULL,
  PRIMARY KEY (run_id, key, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metric_summary (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key         TEXT NOT NULL,
  count       INTEGER NOT NULL,
  last_step   INTEGER NOT NULL,
  last_value  REAL,
  min_value   REAL,
  min_step    INTEGER,
  max_value   REAL,
  max_step    INTEGER,
  wall_time   REAL NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS metric_summary_by_min ON metric_summary (key, min_value);
CREATE INDEX IF NOT EXISTS metric_summary_by_max ON metric_summary (key, max_value);
CREATE INDEX IF NOT EXISTS metric_summary_by_last ON metric_summary (key, last_value);
CREATE TABLE IF NOT EXISTS tags (
  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS artifacts (
  id          INTEGER PRIMARY KEY,
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  path        TEXT NOT NULL,
  kind        TEXT NOT NULL,
  step        INTEGER,
  created_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_by_run ON artifacts (run_id);
)sql",
};

int user_version(Database& db) {
  Statement statement = db.prepare("PRAGMA user_version");
  statement.step();
  return static_cast<int>(statement.column_int(0));
}

// Switching to WAL needs a moment with no other connection in a transaction; SQLite
// reports SQLITE_BUSY for it without consulting the busy handler in some states, so retry
// briefly. Once a file is in WAL mode it stays so and later opens skip this.
void enable_wal(Database& db) {
  for (int attempt = 0;; ++attempt) {
    try {
      Statement statement = db.prepare("PRAGMA journal_mode = WAL");
      statement.step();
      if (statement.column_text(0) == "wal" || db.path() == ":memory:") return;
      throw std::runtime_error("sqlite: cannot switch '" + db.path() + "' to WAL mode (got " +
                               statement.column_text(0) + ")");
    } catch (const std::runtime_error& error) {
      if (attempt >= 200 || std::string(error.what()).find("locked") == std::string::npos) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + attempt));
    }
  }
}

[[noreturn]] void throw_newer(Database& db, int version) {
  throw std::runtime_error("tracking database '" + db.path() + "' has schema version " +
                           std::to_string(version) + ", newer than this rnnlab's " +
                           std::to_string(kSchemaVersion) + ": upgrade rnnlab");
}

// A read-only connection changes nothing: it checks the version and sets what queries need.
void check_read_only(Database& db) {
  db.exec("PRAGMA case_sensitive_like = ON");
  const int version = user_version(db);
  if (version == kSchemaVersion) return;
  if (version > kSchemaVersion) throw_newer(db, version);
  throw std::runtime_error("tracking database '" + db.path() + "' has schema version " +
                           std::to_string(version) + " and is opened read-only: " +
                           (version == 0 ? "it holds no runs (is it an rnnlab database?)"
                                         : "open it once writable to migrate it"));
}

}  // namespace

void prepare_database(Database& db) {
  if (db.read_only()) return check_read_only(db);
  enable_wal(db);
  // NORMAL in WAL mode syncs the WAL only at checkpoints: a commit survives the death of
  // the process (the SIGKILL case: it is in the OS page cache), only an OS crash or power
  // loss may lose the last commits, and it never corrupts the file. FULL would fsync on
  // every commit, which dominates the cost of a small metric batch.
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA case_sensitive_like = ON");

  constexpr int kKnown = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
  static_assert(kKnown == kSchemaVersion, "one migration per schema version");
  // Cheap check first: the common case is an up-to-date file and needs no write lock.
  int version = user_version(db);
  if (version == kSchemaVersion) return;
  Transaction transaction(db);
  version = user_version(db);  // again, under the lock: another process may have won
  if (version > kSchemaVersion) throw_newer(db, version);
  for (; version < kSchemaVersion; ++version) db.exec(kMigrations[version]);
  db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
  transaction.commit();
}

int64_t mark_stale_runs(Database& db) {
  if (db.read_only()) return 0;  // readers of a read-only file see such runs as running
  const double now = now_seconds();
  // Read first (no lock) so that an open with nothing stale never takes the write lock.
  Statement probe = db.prepare(
      "SELECT count(*) FROM runs WHERE status = 'running' AND heartbeat_at + heartbeat_timeout < ?");
  probe.bind(1, now);
  probe.step();
  if (probe.column_int(0) == 0) return 0;
  Transaction transaction(db);
  Statement update = db.prepare(
      "UPDATE runs SET status = 'killed', end_time = heartbeat_at, "
      "error = 'no heartbeat since ' || strftime('%Y-%m-%d %H:%M:%S', heartbeat_at, 'unixepoch') "
      "|| ' UTC: the writer died or hung' "
      "WHERE status = 'running' AND heartbeat_at + heartbeat_timeout < ?");
  update.bind(1, now);
  update.run();
  int64_t marked = db.changes();
  transaction.commit();
  return marked;
}

}  // namespace rnnlab::tracking::detail
