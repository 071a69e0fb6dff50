#include "tracking/detail/sqlite_db.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace rnnlab::tracking::detail {
namespace {

// "'/path/run.db': " for messages (nothing for an in-memory database).
std::string file_prefix(sqlite3* db) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  if (!file || !*file) return {};
  return std::string("'") + file + "': ";
}

[[noreturn]] void throw_sqlite(sqlite3* db, const char* call, std::string_view sql) {
  std::string message = "sqlite: " + file_prefix(db);
  message += call;
  message += " failed: ";
  message += db ? sqlite3_errmsg(db) : "out of memory";
  if (!sql.empty()) {
    message += " (SQL: ";
    message += sql.substr(0, 200);
    message += ")";
  }
  throw std::runtime_error(message);
}

// Percent-encodes what a SQLite URI path cannot hold as it is.
std::string uri_escape(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

bool writable(const std::string& path) {
  const std::filesystem::path file(path);
  const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : ".";
  // The folder too: WAL mode creates the -wal and -shm files next to the database.
  return ::access(path.c_str(), W_OK) == 0 && ::access(folder.c_str(), W_OK) == 0;
}

}  // namespace

// The one conversion of SQLite error codes into the project's error type.
#define RNNLAB_SQLITE(db, call)                                 \
  do {                                                          \
    if ((call) != SQLITE_OK) throw_sqlite((db), #call, {});     \
  } while (0)

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK) {
    throw_sqlite(db, "sqlite3_prepare_v2", sql);
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

// Every failure of a statement leaves it reset with its bindings cleared before the error is
// thrown: a statement kept across calls (MetricWriter's) is then usable by the next call,
// instead of answering every later bind with SQLITE_MISUSE ("bad parameter or other API
// misuse") because it was never reset after a failed step.
void Statement::check(int rc, const char* call) {
  if (rc == SQLITE_OK) return;
  fail(call, {});
}

void Statement::fail(const char* call, std::string_view sql) {
  const std::string sql_text(sql);  // sqlite3_sql's text lives in the statement
  ResetGuard guard{stmt_};
  throw_sqlite(db_, call, sql_text);  // reads sqlite3_errmsg before the guard resets
}

Statement::ResetGuard::~ResetGuard() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value), "sqlite3_bind_int64");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check(sqlite3_bind_double(stmt_, index, value), "sqlite3_bind_double");
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT),
        "sqlite3_bind_text");
  return *this;
}

Statement& Statement::bind(int index, const SqlValue& value) {
  if (std::holds_alternative<int64_t>(value)) return bind(index, std::get<int64_t>(value));
  if (std::holds_alternative<double>(value)) return bind(index, std::get<double>(value));
  if (std::holds_alternative<std::string>(value))
    return bind(index, std::string_view(std::get<std::string>(value)));
  return bind_null(index);
}

Statement& Statement::bind_null(int index) {
  check(sqlite3_bind_null(stmt_, index), "sqlite3_bind_null");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail("sqlite3_step", sqlite3_sql(stmt_));
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);  // returns the last step's error, already reported by step()
  RNNLAB_SQLITE(db_, sqlite3_clear_bindings(stmt_));
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
int64_t Statement::column_int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::column_double(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (!text) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
SqlValue Statement::column_value(int column) const {
  switch (sqlite3_column_type(stmt_, column)) {
    case SQLITE_INTEGER: return column_int(column);
    case SQLITE_FLOAT: return column_double(column);
    case SQLITE_NULL: return std::monostate{};
    default: return column_text(column);
  }
}

Database::Database(const std::string& path, bool create, int busy_timeout_ms, bool read_only)
    : path_(path), read_only_(read_only) {
  struct stat info {};
  const bool exists = path == ":memory:" || ::stat(path.c_str(), &info) == 0;
  if (!create && !exists) {
    throw std::invalid_argument("no tracking database at '" + path +
                                "' (pass --db PATH or set RNNLAB_DB)");
  }
  if (exists && path != ":memory:" && !writable(path)) read_only_ = true;
  open(path, read_only_ ? SQLITE_OPEN_READONLY
                        : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0));
  // Wait (sleeping and retrying) instead of failing with "database is locked" when another
  // process holds the write lock.
  RNNLAB_SQLITE(db_, sqlite3_busy_timeout(db_, busy_timeout_ms));
  if (read_only_ && path != ":memory:" && !readable()) {
    // A WAL database in a folder this process cannot write to has no -shm file to share
    // with writers: read it as an immutable snapshot (nobody can be writing it either).
    sqlite3_close(db_);
    db_ = nullptr;
    open("file:" + uri_escape(std::filesystem::absolute(path).string()) + "?immutable=1",
         SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  }
}

void Database::open(const std::string& name, int flags) {
  if (sqlite3_open_v2(name.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = "sqlite: cannot open '" + path_ + "': " +
                          (db_ ? sqlite3_errmsg(db_) : "out of memory");
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(message);
  }
}

// One cheap read: fails (SQLITE_CANTOPEN, or SQLITE_READONLY when it cannot set up the
// shared-memory index) where a WAL file cannot be shared.
bool Database::readable() {
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &statement, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  else rc = sqlite3_errcode(db_);
  sqlite3_finalize(statement);
  return (rc & 0xff) != SQLITE_CANTOPEN && (rc & 0xff) != SQLITE_READONLY;
}

Database::~Database() { sqlite3_close(db_); }

void Database::exec(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = "sqlite: " + file_prefix(db_) + text.substr(0, 200) + ": " +
                          (error ? error : sqlite3_errmsg(db_));
    sqlite3_free(error);
    throw std::runtime_error(message);
  }
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int64_t Database::changes() const { return sqlite3_changes64(db_); }

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (open_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // The transaction may already be rolled back by SQLite after an I/O error.
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace rnnlab::tracking::detail
