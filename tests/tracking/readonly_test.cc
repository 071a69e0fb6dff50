// SQLite errors name the database file, and a database this process cannot write (mode
// 0444, a read-only folder, or read_only asked for) can still be listed and queried.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "tests/tracking/fixture.h"
#include "tracking/store.h"

namespace rnnlab::tracking {
namespace {

using testing::error_of;
using testing::TempDir;

TEST(SqliteErrors, NameTheDatabaseFile) {
  TempDir dir;
  const std::string text = dir.file("notes.db");
  std::ofstream(text) << std::string(4096, 'n');
  const std::string not_db = error_of([&] { Store store(text); });
  EXPECT_NE(not_db.find("'" + text + "'"), std::string::npos) << not_db;
  EXPECT_NE(not_db.find("not a database"), std::string::npos) << not_db;

  const std::string db = dir.file("runs.db");
  testing::write_fixture(db);
  Store reader(db, false, 1000, /*read_only=*/true);
  const std::string readonly = error_of([&] { reader.set_tag(1, "k", "v"); });
  EXPECT_NE(readonly.find("'" + db + "'"), std::string::npos) << readonly;
  EXPECT_NE(readonly.find("readonly"), std::string::npos) << readonly;
  EXPECT_EQ(reader.list_runs({}).size(), 19u);
}

// Runs `check` in a child process as user nobody (root ignores file modes); the child's
// failures come back as its exit status.
int as_nobody(const std::function<int()>& check) {
  pid_t pid = fork();
  if (pid == 0) {
    if (::getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(90);
    int code = 1;
    try {
      code = check();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "child: %s\n", error.what());
      code = 2;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

int list_count(const std::string& db) {
  Store store(db);
  return store.list_runs({}).size() == 19 && store.run_details(19).run.status == "failed" ? 0 : 3;
}

TEST(ReadOnlyDatabase, AFileOfMode0444IsListed) {
  TempDir dir;
  const std::string db = dir.file("runs.db");
  testing::write_fixture(db);
  ::chmod(db.substr(0, db.rfind('/')).c_str(), 0777);  // nobody may create the -shm file
  ::chmod(db.c_str(), 0444);
  EXPECT_EQ(as_nobody([&] { return list_count(db); }), 0);
}

TEST(ReadOnlyDatabase, AFileInAReadOnlyFolderIsListed) {
  TempDir dir;
  const std::string folder = dir.file("ro");
  std::filesystem::create_directory(folder);
  const std::string db = folder + "/runs.db";
  testing::write_fixture(db);
  // Writers gone: the folder holds the database only (WAL checkpointed into it).
  ASSERT_FALSE(std::filesystem::exists(db + "-wal"));
  ::chmod(dir.file("").c_str(), 0755);
  ::chmod(db.c_str(), 0444);
  ::chmod(folder.c_str(), 0555);
  EXPECT_EQ(as_nobody([&] { return list_count(db); }), 0);
  ::chmod(folder.c_str(), 0755);  // so TempDir can remove it
}

}  // namespace
}  // namespace rnnlab::tracking
