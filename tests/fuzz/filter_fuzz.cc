// The run filter language (tracking/filter.h): --where, --order-by and field names. What
// compiles must also be SQL that SQLite accepts, with one bind per '?': each fragment is
// prepared and run, the way the store runs it, on an empty in-memory database with the
// tables and columns the filter's SQL names (tracking/detail/schema.cc has the real ones).
#include <sqlite3.h>

#include <cstdio>

#include "tests/fuzz/fuzz_input.h"
#include "tracking/filter.h"

namespace {

using rnnlab::tracking::SqlFragment;

sqlite3* database() {
  static sqlite3* db = [] {
    sqlite3* handle = nullptr;
    if (sqlite3_open(":memory:", &handle) != SQLITE_OK) __builtin_trap();
    const char* schema =
        "CREATE TABLE experiments (id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, experiment_id INTEGER, name TEXT, status TEXT,"
        "  start_time REAL, end_time REAL, heartbeat_at REAL, host TEXT, ranks INTEGER, backend TEXT,"
        "  rnnlab_version TEXT, git_commit TEXT, error TEXT);"
        "CREATE TABLE params (run_id INTEGER, key TEXT, value_text TEXT, value_num REAL);"
        "CREATE TABLE metric_summary (run_id INTEGER, key TEXT, last_value REAL, min_value REAL,"
        "  max_value REAL, count INTEGER);"
        "CREATE TABLE tags (run_id INTEGER, key TEXT, value TEXT);"
        "INSERT INTO experiments VALUES (1, 'e'); INSERT INTO runs (id, experiment_id) VALUES (1, 1);";
    if (sqlite3_exec(handle, schema, nullptr, nullptr, nullptr) != SQLITE_OK) __builtin_trap();
    return handle;
  }();
  return db;
}

// Prepares and steps `select` + the fragment; any SQLite error is a finding.
void run(const std::string& select, const SqlFragment& fragment) {
  size_t marks = 0;
  for (char c : fragment.sql) marks += c == '?';
  if (marks != fragment.binds.size()) __builtin_trap();
  const std::string sql = select + fragment.sql;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(database(), sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "SQLite refused the compiled filter: %s\n", sqlite3_errmsg(database()));
    __builtin_trap();
  }
  for (size_t i = 0; i < fragment.binds.size(); ++i) {
    const int index = int(i) + 1;
    const auto& value = fragment.binds[i];
    if (const auto* integer = std::get_if<int64_t>(&value)) sqlite3_bind_int64(statement, index, *integer);
    else if (const auto* real = std::get_if<double>(&value)) sqlite3_bind_double(statement, index, *real);
    else if (const auto* text = std::get_if<std::string>(&value))
      sqlite3_bind_text(statement, index, text->data(), int(text->size()), SQLITE_TRANSIENT);
  }
  const int step = sqlite3_step(statement);
  sqlite3_finalize(statement);
  if (step != SQLITE_ROW && step != SQLITE_DONE) __builtin_trap();
}

const char* kSelect = "SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id ";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rnnlab;
  const std::string input = fuzz::text(data, size);
  fuzz::expect_answer([&] {
    const SqlFragment where = tracking::compile_filter(input);
    if (!where.sql.empty()) run(std::string(kSelect) + "WHERE 1 AND ", where);
  });
  fuzz::expect_answer([&] {
    tracking::FilterContext best{tracking::Goal::maximize, tracking::MetricValue::best};
    const SqlFragment order = tracking::compile_order_by(input, best);
    if (!order.sql.empty()) run(std::string(kSelect) + "ORDER BY ", order);
  });
  fuzz::expect_answer([&] { run(std::string(kSelect) + "WHERE 1 AND ", tracking::field_expression(tracking::parse_field(input))); });
  return 0;
}
