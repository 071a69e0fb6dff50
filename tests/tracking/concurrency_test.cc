// Many writers at once and writers killed at random moments (fork + SIGKILL).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include "tests/tracking/fixture.h"
#include "tracking/detail/sqlite_db.h"
#include "tracking/detail/store_access.h"
#include "tracking/store.h"
#include "tracking/tracker.h"

namespace rnnlab::tracking {
namespace {

using testing::TempDir;

double writer_value(int writer, int64_t step, int key) { return writer * 1e6 + step * 10.0 + key; }

// Eight processes, each its own run, each logging two metrics for 1,500 steps in small
// batches, all started together on one new database.
TEST(Concurrency, EightWritersNoLockErrorNoLostOrDuplicatedPoint) {
  TempDir dir;
  const std::string path = dir.file("eight.db");
  constexpr int kWriters = 8;
  constexpr int kSteps = 1500;
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> children;
  for (int writer = 0; writer < kWriters; ++writer) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(gate[1]);
      char byte;
      (void)!::read(gate[0], &byte, 1);
      try {
        TrackerOptions options;
        options.flush_every_points = 64;  // many small transactions: maximal contention
        options.busy_timeout_ms = 30000;
        Tracker tracker(path, options);
        RunInfo info;
        info.experiment = "concurrent";
        info.name = "writer-" + std::to_string(writer);
        tracker.start_run(info);
        for (int64_t step = 0; step < kSteps; ++step) {
          tracker.log_metric("loss", step, writer_value(writer, step, 0));
          tracker.log_metric("acc", step, writer_value(writer, step, 1));
        }
        tracker.finish(RunStatus::finished);
        ::_exit(0);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "writer %d: %s\n", writer, error.what());
        ::_exit(1);
      }
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer failed (see stderr)";
  }

  Store store(path);
  RunQuery query;
  query.order_by = "run.name";
  std::vector<RunRecord> runs = store.list_runs(query);
  ASSERT_EQ(runs.size(), static_cast<size_t>(kWriters));
  detail::Statement total = detail::StoreAccess::database(store).prepare("SELECT count(*) FROM metrics");
  ASSERT_TRUE(total.step());
  EXPECT_EQ(total.column_int(0), int64_t{kWriters} * kSteps * 2);
  for (int writer = 0; writer < kWriters; ++writer) {
    const RunRecord& run = runs[static_cast<size_t>(writer)];
    EXPECT_EQ(run.name, "writer-" + std::to_string(writer));
    EXPECT_EQ(run.status, "finished");
    for (int key = 0; key < 2; ++key) {
      std::vector<MetricPoint> history = store.metric_history(run.id, key == 0 ? "loss" : "acc");
      ASSERT_EQ(history.size(), static_cast<size_t>(kSteps));
      for (int64_t step = 0; step < kSteps; ++step) {
        ASSERT_EQ(history[static_cast<size_t>(step)].step, step);
        ASSERT_EQ(history[static_cast<size_t>(step)].value, writer_value(writer, step, key));
      }
    }
    RunDetails details = store.run_details(run.id);
    ASSERT_EQ(details.metrics.size(), 2u);
    EXPECT_EQ(details.metrics[0].count, kSteps);  // acc
    EXPECT_EQ(details.metrics[1].min_value, writer_value(writer, 0, 0));  // loss
    EXPECT_EQ(details.metrics[1].last_step, kSteps - 1);
  }
}

// A writer that reports each step it knows is committed (after flush() returned) through a
// pipe, and is killed with SIGKILL at a random moment: while opening or migrating the
// database, inside a transaction, between batches.
void killed_writer(const std::string& path, int report_fd) {
  TrackerOptions options;
  options.flush_every_points = 1 << 30;  // only explicit flushes (and heartbeats) write
  options.flush_every_seconds = 1000;
  options.heartbeat_seconds = 0.02;
  options.stale_after_seconds = 0.25;
  Tracker tracker(path, options);
  RunInfo info;
  info.experiment = "killed";
  info.config = {{"model", {{"cell", "lstm"}}}};
  int64_t run_id = tracker.start_run(info);
  std::string line = "run " + std::to_string(run_id) + "\n";
  (void)!::write(report_fd, line.data(), line.size());
  for (int64_t step = 0;; ++step) {
    tracker.log_metric("loss", step, step * 0.5);
    if (step % 25 == 24) {
      tracker.flush();
      line = "committed " + std::to_string(step) + "\n";
      (void)!::write(report_fd, line.data(), line.size());
    }
  }
}

// Reads from fd into text until it holds a complete line starting with prefix; false at EOF.
bool read_until(int fd, std::string& text, const std::string& prefix) {
  char buffer[256];
  while (true) {
    for (size_t at = 0; (at = text.find(prefix, at)) != std::string::npos; ++at) {
      if ((at == 0 || text[at - 1] == '\n') && text.find('\n', at) != std::string::npos) return true;
    }
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    text.append(buffer, static_cast<size_t>(n));
  }
}

TEST(Concurrency, SigkilledWritersLeaveIntactDatabaseAndKilledRuns) {
  TempDir dir;
  const std::string path = dir.file("killed.db");
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> delay_us(0, 40000);
  struct Report {
    int64_t run_id = 0;
    int64_t committed = -1;
  };
  std::vector<Report> reports;
  constexpr int kIterations = 27;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    int report[2];
    ASSERT_EQ(::pipe(report), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(report[0]);
      try {
        killed_writer(path, report[1]);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "killed writer: %s\n", error.what());
      }
      ::_exit(1);
    }
    ::close(report[1]);
    // Three kinds of moments, in turn, so that each kind is hit whatever the machine's
    // load: from the fork (opening, migrating, starting the run), from the start of the
    // run (logging, the first batches), from the first committed batch (later batches,
    // heartbeats).
    std::string text;
    const int mode = iteration % 3;
    if (mode > 0) {
      ASSERT_TRUE(read_until(report[0], text, mode == 1 ? "run " : "committed "));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer exited on its own (error on stderr)";

    char buffer[4096];
    for (ssize_t n; (n = ::read(report[0], buffer, sizeof buffer)) > 0;) text.append(buffer, size_t(n));
    ::close(report[0]);
    Report parsed;
    std::istringstream lines(text);
    std::string word;
    int64_t number = 0;
    while (lines >> word >> number) {
      if (word == "run") parsed.run_id = number;
      if (word == "committed") parsed.committed = number;
    }
    if (parsed.run_id) reports.push_back(parsed);

    // The file is intact after every kill (a writer killed at once may not have made it).
    if (!std::filesystem::exists(path)) continue;
    detail::Database raw(path, false, 5000);
    detail::Statement check = raw.prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check.step());
    ASSERT_EQ(check.column_text(0), "ok") << "iteration " << iteration;
  }
  // Modes 1 and 2 always get as far as a run (2: and a committed batch).
  ASSERT_GE(reports.size(), static_cast<size_t>(2 * kIterations / 3));

  // Past the writers' staleness timeout, the next open marks every one of them killed.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  Store store(path);
  int with_commits = 0;
  for (const Report& report : reports) {
    RunDetails details = store.run_details(report.run_id);
    EXPECT_EQ(details.run.status, "killed") << "run " << report.run_id;
    EXPECT_NE(details.run.error.find("no heartbeat"), std::string::npos);
    std::vector<MetricPoint> history = store.metric_history(report.run_id, "loss");
    // Committed steps form a prefix 0..K with K >= the last step the writer saw committed.
    ASSERT_GE(static_cast<int64_t>(history.size()), report.committed + 1) << "run " << report.run_id;
    for (size_t i = 0; i < history.size(); ++i) {
      ASSERT_EQ(history[i].step, static_cast<int64_t>(i));
      ASSERT_EQ(history[i].value, static_cast<double>(i) * 0.5);
    }
    if (report.committed >= 0) ++with_commits;
  }
  std::printf("killed %d writers: %zu had started a run, %d had committed batches\n",
              kIterations, reports.size(), with_commits);
  EXPECT_GE(with_commits, kIterations / 3);
  RunQuery running;
  running.where = "run.status = 'running'";
  EXPECT_TRUE(store.list_runs(running).empty());
}

}  // namespace
}  // namespace rnnlab::tracking
