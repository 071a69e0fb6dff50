// `rnnlab runs bench`: metric points logged per second through the Tracker at several batch
// sizes, and the time of `best` and `pivot` on a large database (default 10,000 runs x
// 1,000 steps = 10M metric rows), generated once in one transaction through
// tracking::BulkWriter (the Tracker's own statements).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "tools/cli/runs.h"
#include "tracking/bulk_writer.h"
#include "tracking/store.h"
#include "tracking/tracker.h"

namespace rnnlab::cli::runs {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void remove_database(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

void generate(const std::string& path, int64_t runs, int64_t steps, std::ostream& out) {
  remove_database(path);
  const auto start = Clock::now();
  tracking::BulkWriter bulk(path);
  const char* cells[] = {"rnn_tanh", "lstm", "gru"};
  const int hidden_sizes[] = {64, 128, 256};
  std::mt19937_64 random(7);
  std::normal_distribution<double> noise(0.0, 0.02);
  std::vector<tracking::MetricPoint> points(static_cast<size_t>(steps));
  const double t0 = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (int64_t i = 0; i < runs; ++i) {
    const int cell = static_cast<int>(i % 3), layers = static_cast<int>(1 + (i / 3) % 4);
    const int hidden = hidden_sizes[(i / 12) % 3];
    const int64_t seed = i / 36;
    tracking::RunInfo info;
    info.experiment = "bench";
    info.name = std::string(cells[cell]) + "-" + std::to_string(layers) + "x" + std::to_string(hidden) +
                "-s" + std::to_string(seed);
    info.config = {{"model", {{"cell", cells[cell]}, {"layers", layers}, {"hidden", hidden}}},
                   {"train", {{"lr", 1e-3}, {"seed", seed}, {"epochs", 10}}},
                   {"data", {{"task", "charlm"}, {"path", "data/moby-dick.txt"}}}};
    info.host = "bench";
    info.backend = "onednn";
    info.rnnlab_version = "bench";
    const int64_t run_id = bulk.add_run(info);
    const double floor = 1.2 - 0.1 * cell + 0.05 * layers - 0.0002 * hidden + noise(random);
    for (int64_t step = 0; step < steps; ++step) {
      points[static_cast<size_t>(step)] = {"val_loss", step, floor + 3.0 / (1.0 + 0.01 * step) + noise(random) * 0.1,
                                           t0 + static_cast<double>(step)};
    }
    bulk.log(run_id, points);
    bulk.finish(run_id, tracking::RunStatus::finished, t0 + 3600);
  }
  bulk.commit();
  out << "generated " << runs << " runs x " << steps << " steps (" << runs * steps
      << " metric rows) in " << seconds_since(start) << " s: " << path << " ("
      << std::filesystem::file_size(path) / (1 << 20) << " MiB)\n";
}

struct Timing {
  double median_ms, min_ms, max_ms, cpu_median_ms;
};

double thread_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) * 1e-6;
}

// Wall time is what a user waits; CPU time of this thread is reported beside it because
// on a shared machine the wall time includes waiting for a core.
template <typename F>
Timing time_repeated(int repeat, F&& body) {
  std::vector<double> ms, cpu;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    const double cpu_start = thread_cpu_ms();
    body();
    cpu.push_back(thread_cpu_ms() - cpu_start);
    ms.push_back(seconds_since(start) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  return {ms[ms.size() / 2], ms.front(), ms.back(), cpu[cpu.size() / 2]};
}

void report(std::ostream& out, const char* what, const Timing& timing) {
  char line[240];
  std::snprintf(line, sizeof line, "  %-50s median %8.2f ms (min %7.2f, max %7.2f), CPU %7.2f ms\n",
                what, timing.median_ms, timing.min_ms, timing.max_ms, timing.cpu_median_ms);
  out << line;
}

void logging_throughput(const std::string& dir, std::ostream& out) {
  out << "metric points logged per second (Tracker, one process, WAL, synchronous=NORMAL):\n";
  for (int batch : {1, 10, 100, 1000, 10000}) {
    const std::string path = dir + "/rnnlab-bench-log-" + std::to_string(::getpid()) + ".db";
    remove_database(path);
    const int64_t points = batch == 1 ? 5000 : batch == 10 ? 50000 : 500000;
    tracking::TrackerOptions options;
    options.flush_every_points = batch;
    options.flush_every_seconds = 1e6;
    double elapsed = 0;
    {
      tracking::Tracker tracker(path, options);
      tracking::RunInfo info;
      info.experiment = "throughput";
      tracker.start_run(info);
      const auto start = Clock::now();
      for (int64_t i = 0; i < points; ++i) {
        tracker.log_metric(i % 2 ? "train_loss" : "lr", i / 2, 1.0 / (1.0 + static_cast<double>(i)));
      }
      tracker.finish(tracking::RunStatus::finished);
      elapsed = seconds_since(start);
    }
    remove_database(path);
    char line[160];
    std::snprintf(line, sizeof line, "  flush every %5d points: %10.0f points/s  (%lld points in %.2f s)\n",
                  batch, static_cast<double>(points) / elapsed, static_cast<long long>(points), elapsed);
    out << line;
  }
}

}  // namespace

void bench(const BenchRequest& request, std::ostream& out) {
  if (request.runs < 1 || request.steps < 1 || request.repeat < 1) {
    throw std::invalid_argument("bench: --runs, --steps and --repeat must be >= 1");
  }
  const std::string dir = std::filesystem::path(request.db_path).parent_path().string();
  if (!request.queries_only) logging_throughput(dir.empty() ? "." : dir, out);

  if (request.regenerate || !std::filesystem::exists(request.db_path)) {
    generate(request.db_path, request.runs, request.steps, out);
  } else {
    out << "reusing " << request.db_path << " (--regenerate to rebuild)\n";
  }
  tracking::Store store(request.db_path);
  out << "queries on " << store.run_count() << " runs, median of " << request.repeat << ":\n";
  size_t best_rows = 0, pivot_cells = 0;
  report(out, "best --metric val_loss (top 10)", time_repeated(request.repeat, [&] {
           best_rows = store.best_runs("val_loss", tracking::Goal::minimize, tracking::MetricValue::best, "", "", 10).size();
         }));
  report(out, "best ... --experiment bench --where <cell, layers>",
         time_repeated(request.repeat, [&] {
           store.best_runs("val_loss", tracking::Goal::minimize, tracking::MetricValue::best, "bench",
                           "params.model.cell = 'lstm' and params.model.layers >= 2", 10);
         }));
  tracking::PivotQuery query;
  query.rows = {"model.cell"};
  query.cols = {"model.layers"};
  query.metric = "val_loss";
  report(out, "pivot --rows model.cell --cols model.layers",
         time_repeated(request.repeat, [&] { pivot_cells = store.pivot(query).cells.size(); }));
  query.experiment = "bench";
  query.where = "run.status = 'finished'";
  report(out, "pivot ... --experiment bench --where <status>",
         time_repeated(request.repeat, [&] { (void)store.pivot(query); }));
  query.experiment.clear();
  query.where.clear();
  query.rows = {"model.cell", "model.hidden"};
  query.value = tracking::MetricValue::last;
  report(out, "pivot --rows model.cell,model.hidden ... --agg last",
         time_repeated(request.repeat, [&] { (void)store.pivot(query); }));
  report(out, "open the database + best (one CLI call)", time_repeated(request.repeat, [&] {
           tracking::Store fresh(request.db_path);
           fresh.best_runs("val_loss", tracking::Goal::minimize, tracking::MetricValue::best, "", "", 10);
         }));
  report(out, "metric_at_step(bench, val_loss, step 500)", time_repeated(request.repeat, [&] {
           store.metric_at_step("bench", "val_loss", 500);
         }));
  out << "  (best returned " << best_rows << " rows, pivot " << pivot_cells << " cells)\n";
}

}  // namespace rnnlab::cli::runs
