// Shared by the server tests: a DashboardServer on a free loopback port, run by a thread,
// and a client for it.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "tools/cli/serve.h"

namespace rnnlab::tracking::testing {

class RunningServer {
 public:
  explicit RunningServer(cli::ServeOptions options) {
    if (options.port == 8765) options.port = 0;
    server_ = std::make_unique<cli::DashboardServer>(options);
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    // listen_after_bind starts accepting a moment after the thread starts.
    for (int i = 0; i < 200 && !client_->Get("/style.css"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~RunningServer() {
    server_->stop();
    thread_.join();
  }
  int port() const { return server_->port(); }
  httplib::Client& client() { return *client_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

 private:
  std::unique_ptr<cli::DashboardServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace rnnlab::tracking::testing
