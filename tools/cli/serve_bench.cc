// `rnnlab serve --bench`: the server's speed on a large database (the tracking benchmark's,
// tools/bench-tracking): the runs page's API answer, one run's 1,000,000-point curve
// downsampled, and a bounded loopback load test (a request count and a time limit) while a
// trainer logs through the same server, checking that no point was lost.
#include <httplib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "tools/cli/serve.h"
#include "tracking/history.h"
#include "tracking/remote.h"
#include "tracking/store.h"

namespace rnnlab::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

const char* kLongRun = "bench-long-curve";

// One run with a 1,000,000-point curve (added to the database once).
int64_t long_run(const std::string& db, std::ostream& out) {
  {
    tracking::Store store(db);
    tracking::RunQuery query;
    query.where = std::string("run.name = '") + kLongRun + "'";
    auto runs = store.list_runs(query);
    if (!runs.empty()) return runs[0].id;
  }
  const auto start = Clock::now();
  tracking::TrackerOptions options;
  options.flush_every_points = 100000;
  tracking::Tracker tracker(db, options);
  tracking::RunInfo info;
  info.experiment = "bench-long";
  info.name = kLongRun;
  const int64_t id = tracker.start_run(info);
  std::mt19937_64 random(11);
  std::normal_distribution<double> noise(0.0, 0.05);
  for (int64_t step = 0; step < 1000000; ++step) {
    tracker.log_metric("train_loss", step, 3.0 / (1.0 + step * 1e-4) + noise(random) + (step == 777777 ? 40 : 0), 0.0);
  }
  tracker.finish(tracking::RunStatus::finished);
  out << "added run " << id << " with 1,000,000 points in " << ms_since(start) / 1000 << " s\n";
  return id;
}

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

struct Timing {
  double median = 0, low = 0, high = 0;
  size_t bytes = 0;
};

Timing time_get(httplib::Client& client, const std::string& path, int repeat) {
  std::vector<double> times;
  Timing timing;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    auto res = client.Get(path);
    times.push_back(ms_since(start));
    if (!res || res->status != 200) throw std::runtime_error("bench: GET " + path + " failed");
    timing.bytes = res->body.size();
  }
  std::sort(times.begin(), times.end());
  timing.median = times[times.size() / 2];
  timing.low = times.front();
  timing.high = times.back();
  return timing;
}

void report(std::ostream& out, const std::string& what, const Timing& t) {
  char line[256];
  std::snprintf(line, sizeof line, "  %-58s %8.1f ms  (min %.1f, max %.1f; %zu bytes)\n", what.c_str(), t.median,
                t.low, t.high, t.bytes);
  out << line;
}

}  // namespace

void serve_bench(ServeOptions options, const ServeBench& bench, std::ostream& out) {
  options.host = "127.0.0.1";  // the load test stays on this machine
  options.port = 0;
  const int64_t long_id = long_run(options.db, out);
  DashboardServer server(options);
  std::thread serving([&] { server.run(); });
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(60, 0);
  while (!client.Get("/style.css")) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int64_t runs = 0;
  { runs = static_cast<int64_t>(tracking::Store(options.db, false, 60000, true).list_runs({}).size()); }
  out << "rnnlab serve on " << runs << " runs, median of " << bench.repeat << " (min, max):\n";
  report(out, "GET /api/v1/runs (the runs page: every run)", time_get(client, "/api/v1/runs", bench.repeat));
  report(out, "GET /api/v1/runs?columns=params.model.cell,metrics.val_loss.best",
         time_get(client, "/api/v1/runs?columns=params.model.cell,metrics.val_loss.best", bench.repeat));
  report(out, "GET /api/v1/runs?where=params.model.cell='lstm'&limit=50",
         time_get(client, "/api/v1/runs?where=params.model.cell%3D%27lstm%27&limit=50", bench.repeat));
  // Each repetition asks for another resolution, so that none is answered from the cache.
  {
    std::vector<double> times;
    Timing t;
    for (int i = 0; i < bench.repeat; ++i) {
      const std::string path = "/api/v1/runs/" + std::to_string(long_id) + "/history?points=" + std::to_string(2000 + i);
      Timing one = time_get(client, path, 1);
      times.push_back(one.median);
      t.bytes = one.bytes;
    }
    std::sort(times.begin(), times.end());
    t.median = times[times.size() / 2];
    t.low = times.front();
    t.high = times.back();
    report(out, "GET /api/v1/runs/" + std::to_string(long_id) + "/history (1,000,000 points -> 2000)", t);
    report(out, "  the same again (cached: the run is finished)",
           time_get(client, "/api/v1/runs/" + std::to_string(long_id) + "/history?points=2000", bench.repeat));
  }
  report(out, "GET /api/v1/runs/1/history (one bench run, 1000 points)",
         time_get(client, "/api/v1/runs/1/history", bench.repeat));

  {
    // The same downsampling in process, with this thread's CPU time beside the wall time
    // (on a shared machine the wall time is mostly waiting for a core).
    tracking::Store store(options.db, false, 60000, true);
    std::vector<double> wall, cpu;
    for (int i = 0; i < bench.repeat; ++i) {
      const auto start = Clock::now();
      const double cpu_start = thread_cpu_ms();
      (void)tracking::metric_history(store, long_id, "train_loss", 2000);
      cpu.push_back(thread_cpu_ms() - cpu_start);
      wall.push_back(ms_since(start));
    }
    std::sort(wall.begin(), wall.end());
    std::sort(cpu.begin(), cpu.end());
    char line[200];
    std::snprintf(line, sizeof line, "  %-58s %8.1f ms  (min %.1f, max %.1f), CPU %.1f ms (min %.1f)\n",
                  "in process: metric_history(1,000,000 points -> 2000)", wall[wall.size() / 2], wall.front(),
                  wall.back(), cpu[cpu.size() / 2], cpu.front());
    out << line;
  }

  // Load: clients asking for run pages while a trainer logs through the same server.
  tracking::RemoteOptions remote;
  remote.tracker.flush_every_points = 200;
  tracking::RemoteTracker tracker("http://127.0.0.1:" + std::to_string(server.port()), remote);
  tracking::RunInfo info;
  info.experiment = "bench-load";
  const int64_t logged_run = tracker.start_run(info);
  std::atomic<bool> done{false};
  std::atomic<int64_t> requests{0}, failures{0};
  int64_t logged = 0;
  std::thread trainer([&] {
    while (!done) {
      tracker.log_metric("loss", logged, 1.0 / (1.0 + logged), 0.0);
      ++logged;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  std::vector<std::vector<double>> latencies(static_cast<size_t>(bench.clients));
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < bench.clients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client mine("127.0.0.1", server.port());
      std::mt19937 random(static_cast<unsigned>(c));
      std::uniform_int_distribution<int64_t> pick(1, std::max<int64_t>(runs - 2, 1));
      for (;;) {
        const int64_t n = requests++;
        if (n >= bench.requests || ms_since(start) > bench.seconds * 1000) break;
        const int64_t id = pick(random);
        const std::string path = n % 3 == 0   ? "/api/v1/runs/" + std::to_string(id)
                                 : n % 3 == 1 ? "/api/v1/runs/" + std::to_string(id) + "/history?points=500"
                                              : "/api/v1/runs?where=run.id%3E%3D" + std::to_string(id) + "&limit=20";
        const auto sent = Clock::now();
        auto res = mine.Get(path);
        latencies[static_cast<size_t>(c)].push_back(ms_since(sent));
        if (!res || res->status != 200) ++failures;
      }
    });
  }
  for (auto& t : clients) t.join();
  const double seconds = ms_since(start) / 1000;
  done = true;
  trainer.join();
  tracker.finish(tracking::RunStatus::finished);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  tracking::Store store(options.db, false, 60000, true);
  const size_t stored = store.metric_history(logged_run, "loss").size();
  char line[320];
  std::snprintf(line, sizeof line,
                "load: %zu requests from %d clients in %.1f s = %.0f requests/s (p50 %.1f ms, p99 %.1f ms, "
                "%lld failed)\n  while a trainer logged %lld points through the server: %zu stored (%s)\n",
                all.size(), bench.clients, seconds, all.size() / seconds, all[all.size() / 2],
                all[all.size() * 99 / 100], static_cast<long long>(failures.load()), static_cast<long long>(logged),
                stored, stored == static_cast<size_t>(logged) ? "none lost" : "POINTS LOST");
  out << line;
  server.stop();
  serving.join();
  if (stored != static_cast<size_t>(logged) || failures > 0) throw std::runtime_error("bench: the load test lost data");
}

}  // namespace rnnlab::cli
