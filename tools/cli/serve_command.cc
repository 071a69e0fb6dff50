// `rnnlab serve`: the command line of the dashboard and tracking server (serve.h).
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <pthread.h>
#include <thread>

#include "tools/cli/commands.h"
#include "tools/cli/serve.h"

namespace rnnlab::cli {
namespace {

struct State {
  ServeOptions options;
  std::string token_file;
  bool bench = false;
  ServeBench bench_options;
};

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token) || token.empty()) {
    throw std::invalid_argument("--token-file: cannot read a token from '" + path + "'");
  }
  return token;
}

int serve(State& state) {
  ServeOptions& o = state.options;
  if (o.db.empty()) {
    const char* env = std::getenv("RNNLAB_DB");
    o.db = env && *env ? env : "rnnlab.db";
  }
  if (!state.token_file.empty()) o.token = read_token_file(state.token_file);
  if (o.token.empty()) {
    if (const char* env = std::getenv("RNNLAB_SERVE_TOKEN"); env && *env) o.token = env;
  }
  if (state.bench) {
    serve_bench(o, state.bench_options, std::cout);
    return 0;
  }
  // SIGINT/SIGTERM end the server cleanly: blocked here (inherited by the server's
  // threads) and taken by one thread with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  DashboardServer server(o);
  std::cout << "rnnlab serve: http://" << o.host << ":" << server.port() << "/  (database " << o.db
            << (o.read_only ? ", read-only" : "") << (o.token.empty() ? "" : ", token required") << ")"
            << std::endl;
  std::thread waiter([&server, signals] {
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
  });
  server.run();
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes it when run() ended on its own
  waiter.join();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, Commands& commands) {
  auto state = std::make_shared<State>();
  ServeOptions& o = state->options;
  CLI::App* sub = app.add_subcommand("serve", "Web dashboard, JSON API and remote-logging server over a run database");
  sub->add_option("--db", o.db, "Tracking database (default: $RNNLAB_DB, else ./rnnlab.db)");
  sub->add_option("--host", o.host, "Address to listen on (not loopback: needs --token)")->capture_default_str();
  sub->add_option("--port", o.port, "Port (0: any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
  sub->add_option("--token", o.token, "Token clients must send (default: $RNNLAB_SERVE_TOKEN)");
  sub->add_option("--token-file", state->token_file, "Read the token from this file's first line");
  sub->add_flag("--read-only", o.read_only, "Refuse every write (no remote logging)");
  sub->add_flag("--public-read", o.public_read, "With a token: reads (pages, GET API) need none");
  sub->add_option("--threads", o.threads, "Request threads")->capture_default_str()->check(CLI::Range(1, 256));
  sub->add_flag("--bench", state->bench,
                "Measure instead of serving: API times on --db and a bounded loopback load test");
  sub->add_option("--bench-requests", state->bench_options.requests, "Load test: at most this many requests")
      ->capture_default_str();
  sub->add_option("--bench-seconds", state->bench_options.seconds, "Load test: at most this long")
      ->capture_default_str();
  sub->add_option("--bench-clients", state->bench_options.clients, "Load test: concurrent clients")
      ->capture_default_str()->check(CLI::Range(1, 64));
  commands["serve"] = [state]() { return serve(*state); };
}

}  // namespace rnnlab::cli
