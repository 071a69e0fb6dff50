// Internal to tracking: a thin RAII layer over the SQLite C API. sqlite3.h stays in
// sqlite_db.cc; this header only forward-declares the two C structs.
//
// Every SQLite failure becomes std::runtime_error naming the database file, the call, the
// SQL where there is one, and sqlite3_errmsg (see RNNLAB_SQLITE in sqlite_db.cc).
// Thread safety: a Database and its Statements belong to one thread at a time; callers that
// share one (Tracker and its heartbeat thread) serialise access with their own mutex.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tracking/filter.h"  // SqlValue

struct sqlite3;
struct sqlite3_stmt;

namespace rnnlab::tracking::detail {

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameter indices are 1-based, like SQLite's.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) {
    return bind(index, std::string_view(value));
  }
  Statement& bind(int index, const SqlValue& value);
  Statement& bind_null(int index);

  // Runs one step: true when a row is available, false when done. On failure (a bind or
  // a step) the statement is reset and its bindings cleared before the error is thrown, so
  // it can be bound and run again.
  bool step();
  // Step through to the end (for statements without rows).
  void run();
  // Ready for new bindings: resets and clears bindings.
  void reset();

  bool is_null(int column) const;
  int64_t column_int(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  // The column's value with SQLite's storage class (NULL, integer, real, text).
  SqlValue column_value(int column) const;

 private:
  // Resets the statement and clears its bindings when it goes out of scope.
  struct ResetGuard {
    sqlite3_stmt* stmt_;
    ~ResetGuard();
  };
  void check(int rc, const char* call);
  [[noreturn]] void fail(const char* call, std::string_view sql);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // create: make the file when it does not exist; otherwise a missing file is
  // std::invalid_argument naming the path. read_only: open for reading only; an existing
  // file this process cannot write (mode 0444, or in a read-only folder) is opened so
  // whatever was asked (a WAL database in a read-only folder as an immutable snapshot).
  Database(const std::string& path, bool create, int busy_timeout_ms, bool read_only = false);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);
  Statement prepare(std::string_view sql) { return Statement(db_, sql); }
  int64_t last_insert_rowid() const;
  int64_t changes() const;
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  sqlite3* handle() { return db_; }

 private:
  void open(const std::string& name, int flags);
  bool readable();

  sqlite3* db_ = nullptr;
  std::string path_;
  bool read_only_ = false;
};

// BEGIN IMMEDIATE on construction: takes the write lock up front so that a transaction
// never has to upgrade from read to write (in WAL mode such an upgrade fails with
// SQLITE_BUSY at once, without waiting in the busy handler). Rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Database& db_;
  bool open_ = true;
};

double now_seconds();  // Unix time, seconds, with sub-second resolution

}  // namespace rnnlab::tracking::detail
