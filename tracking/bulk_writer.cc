#include "tracking/bulk_writer.h"

#include <stdexcept>

#include "tracking/detail/schema.h"
#include "tracking/detail/sqlite_db.h"
#include "tracking/detail/writer.h"

namespace rnnlab::tracking {

BulkWriter::BulkWriter(const std::string& path, int64_t cache_mib, int busy_timeout_ms)
    : db_(std::make_unique<detail::Database>(path, true, busy_timeout_ms)) {
  detail::prepare_database(*db_);
  db_->exec("PRAGMA cache_size = " + std::to_string(-cache_mib * 1024));
  transaction_ = std::make_unique<detail::Transaction>(*db_);
  writer_ = std::make_unique<detail::MetricWriter>(*db_);
}

// Members go in reverse: the statements, the transaction (rolls back unless committed), the
// connection.
BulkWriter::~BulkWriter() = default;

int64_t BulkWriter::add_run(const RunInfo& info, double heartbeat_timeout_s) {
  require_open(-1, "add_run");
  auto found = experiments_.find(info.experiment);
  if (found == experiments_.end())
    found = experiments_.emplace(info.experiment, detail::find_or_create_experiment(*db_, info.experiment)).first;
  const int64_t id = detail::insert_run(*db_, found->second, info, heartbeat_timeout_s);
  if (last_run_ < first_run_) first_run_ = id;
  last_run_ = id;
  return id;
}

void BulkWriter::log(int64_t run_id, const std::vector<MetricPoint>& points) {
  require_open(run_id, "log");
  writer_->write(run_id, points);
}

void BulkWriter::finish(int64_t run_id, RunStatus status, std::optional<double> end_time) {
  require_open(run_id, "finish");
  detail::Statement update = db_->prepare("UPDATE runs SET status = ?, end_time = ? WHERE id = ?");
  update.bind(1, to_string(status)).bind(2, end_time.value_or(detail::now_seconds())).bind(3, run_id).run();
}

void BulkWriter::commit() {
  require_open(-1, "commit");
  writer_.reset();
  transaction_->commit();
  transaction_.reset();
  db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

void BulkWriter::require_open(int64_t run_id, const char* what) const {
  if (!transaction_) throw std::logic_error(std::string("BulkWriter::") + what + " after commit()");
  if (run_id != -1 && (run_id < first_run_ || run_id > last_run_))
    throw std::logic_error(std::string("BulkWriter::") + what + ": run " + std::to_string(run_id) +
                           " was not added by this writer");
}

}  // namespace rnnlab::tracking
