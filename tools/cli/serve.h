// `rnnlab serve`: the web dashboard and tracking server over one SQLite run database
// (docs/tracking.md). Pages and their JavaScript come from the web folder (tools/web, or
// $RNNLAB_WEB_DIR) and Chart.js from Debian's libjs-chart.js, all read once at start and
// served from memory; the JSON API answers what `rnnlab runs` answers (the same functions,
// the same filter language and errors); POST /api/v1/ingest takes remote trainers' writes
// (tracking/ingest.h).
//
// Security: listening on anything but loopback needs a token; with a token, writes need
// it (Authorization: Bearer T) and reads too unless public_read. Requests over
// max_body_bytes are refused; slow clients time out. Every page is under a
// Content-Security-Policy without inline scripts.
// Failure: a missing database, a file that is not SQLite, or a schema from a newer rnnlab
// throw at construction with a message naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

namespace rnnlab::cli {

struct ServeOptions {
  std::string db;
  std::string host = "127.0.0.1";
  int port = 8765;  // 0: any free port (port() tells which)
  std::string token;
  bool read_only = false;    // no writes at all (POST /api/v1/ingest answers 403)
  bool public_read = false;  // with a token: reads without it
  std::string web_dir;       // empty: $RNNLAB_WEB_DIR, else the source tree's tools/web
  std::string chart_js;      // empty: $RNNLAB_CHARTJS, else Debian's libjs-chart.js file
  size_t max_body_bytes = 16u << 20;
  int timeout_seconds = 10;  // read and write timeout per request
  int threads = 8;
};

bool is_loopback(const std::string& host);
// a == b in time that depends only on the lengths, not on where they differ.
bool same_token(const std::string& given, const std::string& expected);

class DashboardServer {
 public:
  // Opens the database (read-only connections for queries; a writer unless read_only),
  // loads the web assets and binds the port.
  explicit DashboardServer(const ServeOptions& options);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  int port() const;
  void run();   // serves until stop()
  void stop();  // from any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `rnnlab serve --bench`: request times on options.db and a bounded loopback load test
// (requests and seconds, whichever ends first) while a trainer logs through the server.
struct ServeBench {
  int repeat = 7;
  int clients = 4;
  int64_t requests = 4000;
  double seconds = 20;
};
void serve_bench(ServeOptions options, const ServeBench& bench, std::ostream& out);

}  // namespace rnnlab::cli
