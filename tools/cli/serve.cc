#include "tools/cli/serve.h"

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tools/cli/serve_api.h"
#include "tracking/ingest.h"

#ifndef RNNLAB_WEB_DIR_DEFAULT
#define RNNLAB_WEB_DIR_DEFAULT ""
#endif

namespace rnnlab::cli {
namespace {

namespace fs = std::filesystem;

// Pages run only the served scripts: no inline script or style, no other origin.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
  std::string body, type;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("serve: cannot read '" + path.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string mime_type(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  return "";
}

// The only files the server hands out, by name: the web folder's pages, scripts and styles
// (not its subfolders) and Chart.js. No request path is ever joined to a folder.
std::map<std::string, Asset> load_assets(const ServeOptions& options) {
  const fs::path web = env_or("RNNLAB_WEB_DIR", options.web_dir.empty() ? RNNLAB_WEB_DIR_DEFAULT : options.web_dir);
  if (web.empty() || !fs::is_directory(web)) {
    throw std::runtime_error("serve: no web folder at '" + web.string() + "' (set RNNLAB_WEB_DIR)");
  }
  std::map<std::string, Asset> assets;
  for (const auto& entry : fs::directory_iterator(web)) {
    const std::string type = mime_type(entry.path());
    if (entry.is_regular_file() && !type.empty()) {
      assets["/" + entry.path().filename().string()] = {read_file(entry.path()), type};
    }
  }
  const fs::path chart = env_or("RNNLAB_CHARTJS", options.chart_js.empty()
                                                      ? "/usr/share/javascript/chart.js/chart.min.js"
                                                      : options.chart_js);
  if (fs::is_regular_file(chart)) {
    assets["/chart.js"] = {read_file(chart), "text/javascript; charset=utf-8"};
  } else {
    std::cerr << "rnnlab serve: warning: no Chart.js at " << chart
              << " (install libjs-chart.js, or set RNNLAB_CHARTJS): pages show tables only\n";
  }
  if (!assets.count("/index.html")) throw std::runtime_error("serve: no index.html in '" + web.string() + "'");
  assets["/"] = assets["/index.html"];
  return assets;
}

void reply_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

std::string error_json(const std::string& message) { return nlohmann::json{{"error", message}}.dump(); }

}  // namespace

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

bool same_token(const std::string& given, const std::string& expected) {
  unsigned char differ = given.size() != expected.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    differ |= static_cast<unsigned char>((i < given.size() ? given[i] : 0) ^ expected[i]);
  }
  return differ == 0;
}

struct DashboardServer::Impl {
  ServeOptions options;
  ReadApi api;
  std::unique_ptr<tracking::Ingest> ingest;
  std::map<std::string, Asset> assets;
  httplib::Server server;
  int port = 0;

  explicit Impl(const ServeOptions& o) : options(o), api(o.db) {
    if (!is_loopback(o.host) && o.token.empty()) {
      throw std::invalid_argument("serve: --host " + o.host +
                                  " is not a loopback address: give --token (or RNNLAB_SERVE_TOKEN)");
    }
    if (!o.read_only) ingest = std::make_unique<tracking::Ingest>(o.db);
    assets = load_assets(o);
  }

  bool authorized(const httplib::Request& req, bool write) const {
    if (options.token.empty() || (!write && options.public_read)) return true;
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    return header.rfind(prefix, 0) == 0 && same_token(header.substr(prefix.size()), options.token);
  }

  void routes() {
    server.set_payload_max_length(options.max_body_bytes);
    server.set_read_timeout(options.timeout_seconds, 0);
    server.set_write_timeout(options.timeout_seconds, 0);
    server.set_keep_alive_timeout(5);
    const int threads = options.threads;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    server.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy", kContentSecurityPolicy);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("X-Frame-Options", "DENY");
      res.set_header("Cache-Control", "no-store");
    });
    server.Get(R"(/api/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, false)) return reply_json(res, 401, error_json("token required (Authorization: Bearer T)"));
      ApiQuery query(req.params.begin(), req.params.end());
      ApiReply reply = api.get(req.path, query);
      reply_json(res, reply.status, reply.body);
    });
    server.Post("/api/v1/ingest", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, true)) return reply_json(res, 401, error_json("token required (Authorization: Bearer T)"));
      if (!ingest) return reply_json(res, 403, error_json("this server is read-only (--read-only)"));
      try {
        reply_json(res, 200, ingest->apply(nlohmann::json::parse(req.body)).dump());
      } catch (const nlohmann::json::exception& error) {
        reply_json(res, 400, error_json(std::string("ingest: the body is not JSON: ") + error.what()));
      } catch (const std::invalid_argument& error) {
        const bool missing = std::string(error.what()).find("no such run") != std::string::npos;
        reply_json(res, missing ? 404 : 400, error_json(error.what()));
      } catch (const std::exception& error) {
        reply_json(res, 500, error_json(error.what()));
      }
    });
    server.Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      auto it = assets.find(req.path);
      if (it == assets.end()) return reply_json(res, 404, error_json("not found"));
      res.set_content(it->second.body, it->second.type.c_str());
    });
  }
};

DashboardServer::DashboardServer(const ServeOptions& options) : impl_(std::make_unique<Impl>(options)) {
  impl_->routes();
  if (options.port == 0) {
    impl_->port = impl_->server.bind_to_any_port(options.host);
  } else if (impl_->server.bind_to_port(options.host, options.port)) {
    impl_->port = options.port;
  }
  if (impl_->port <= 0) {
    throw std::runtime_error("serve: cannot listen on " + options.host + ":" + std::to_string(options.port));
  }
}

DashboardServer::~DashboardServer() { stop(); }

int DashboardServer::port() const { return impl_->port; }
void DashboardServer::run() { impl_->server.listen_after_bind(); }
void DashboardServer::stop() { impl_->server.stop(); }

}  // namespace rnnlab::cli
