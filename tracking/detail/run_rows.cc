#include "tracking/detail/run_rows.h"

#include <unistd.h>

#include <stdexcept>

#include "tracking/detail/writer.h"

namespace rnnlab::tracking::detail {

void require_run_row(Database& db, int64_t run_id, const char* what) {
  Statement find = db.prepare("SELECT count(*) FROM runs WHERE id = ?");
  find.bind(1, run_id);
  find.step();
  if (find.column_int(0) == 0) {
    throw std::invalid_argument(std::string("tracker: cannot ") + what + " run " +
                                std::to_string(run_id) + ": " + db.path() + " has no such run");
  }
}

void resume_run_rows(Database& db, int64_t run_id, int64_t after_step, double stale_after_seconds) {
  require_run_row(db, run_id, "resume");
  db.prepare("UPDATE runs SET status = 'running', end_time = NULL, error = NULL, heartbeat_at = ?, "
             "heartbeat_timeout = ?, pid = ? WHERE id = ?")
      .bind(1, now_seconds())
      .bind(2, stale_after_seconds)
      .bind(3, static_cast<int64_t>(::getpid()))
      .bind(4, run_id)
      .run();
  db.prepare("DELETE FROM metrics WHERE run_id = ? AND step > ?").bind(1, run_id).bind(2, after_step).run();
  rebuild_summary(db, run_id);
  db.prepare("INSERT INTO tags (run_id, key, value) VALUES (?, 'resumed', '1') "
             "ON CONFLICT (run_id, key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
      .bind(1, run_id)
      .run();
}

void write_heartbeat(Database& db, int64_t run_id, double now) {
  db.prepare("UPDATE runs SET heartbeat_at = ? WHERE id = ?").bind(1, now).bind(2, run_id).run();
}

void write_tag(Database& db, int64_t run_id, const std::string& key, const std::string& value) {
  db.prepare("INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)")
      .bind(1, run_id)
      .bind(2, key)
      .bind(3, value)
      .run();
}

void write_artifact(Database& db, int64_t run_id, const std::string& path, const std::string& kind,
                    int64_t step) {
  Statement artifact = db.prepare(
      "INSERT INTO artifacts (run_id, path, kind, step, created_at) VALUES (?, ?, ?, ?, ?)");
  artifact.bind(1, run_id).bind(2, path).bind(3, kind);
  if (step >= 0) artifact.bind(4, step); else artifact.bind_null(4);
  artifact.bind(5, now_seconds()).run();
}

void write_final_status(Database& db, int64_t run_id, RunStatus status, std::string_view error) {
  Statement update = db.prepare("UPDATE runs SET status = ?, end_time = ?, error = ? WHERE id = ?");
  update.bind(1, to_string(recorded(status))).bind(2, now_seconds());
  if (error.empty()) update.bind_null(3); else update.bind(3, error);
  update.bind(4, run_id).run();
}

}  // namespace rnnlab::tracking::detail
