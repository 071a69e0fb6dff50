// `rnnlab serve` in process: the JSON API answers exactly what `rnnlab runs ... --format
// json` prints, bad filters are 400s naming the token, the token rules, request limits,
// the security headers, no file outside the served assets, and clear start-up errors.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/tracking/fixture.h"
#include "tests/tracking/serve_fixture.h"
#include "tools/cli/runs.h"
#include "tracking/detail/sqlite_db.h"
#include "tracking/detail/store_access.h"
#include "tracking/store.h"

namespace rnnlab::tracking {
namespace {

using nlohmann::json;
using testing::RunningServer;
using testing::TempDir;

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("runs.db");
    testing::write_fixture(db_);
    cli::ServeOptions options;
    options.db = db_;
    server_ = std::make_unique<RunningServer>(options);
  }

  // What `rnnlab runs <command> --format json` prints with these options.
  template <typename Command>
  std::string cli_json(Command command, cli::runs::Options options) {
    options.db = db_;
    options.format = "json";
    std::ostringstream out;
    command(options, out);
    return out.str();
  }

  httplib::Result get(const std::string& path) { return server_->client().Get(path); }

  TempDir dir_;
  std::string db_;
  std::unique_ptr<RunningServer> server_;
};

TEST_F(ServeTest, RunsListIsTheCliAnswer) {
  cli::runs::Options options;
  options.where = "params.model.cell = 'gru' and metrics.val_loss < 0.5";
  options.columns = {"params.model.layers"};
  auto res = get("/api/v1/runs?where=" + httplib::detail::encode_query_param(options.where) +
                 "&columns=params.model.layers");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, cli_json(cli::runs::list, options));
  EXPECT_EQ(json::parse(res->body).size(), 6u);  // gru x 3 layer counts x 2 seeds
}

TEST_F(ServeTest, ShowCompareBestPivotAreTheCliAnswers) {
  cli::runs::Options show;
  show.refs = {"3"};
  EXPECT_EQ(get("/api/v1/runs/3")->body, cli_json(cli::runs::show, show));
  cli::runs::Options compare;
  compare.refs = {"1", "lstm-2-s0"};
  EXPECT_EQ(get("/api/v1/compare?runs=1,lstm-2-s0")->body, cli_json(cli::runs::compare, compare));
  cli::runs::Options best;
  best.metric = "val_loss";
  best.limit = 3;
  EXPECT_EQ(get("/api/v1/best?metric=val_loss&limit=3")->body, cli_json(cli::runs::best, best));
  cli::runs::Options pivot;
  pivot.rows = {"model.cell"};
  pivot.cols = {"model.layers"};
  pivot.metric = "val_loss";
  pivot.experiment = "sweep";
  auto res = get("/api/v1/pivot?rows=model.cell&cols=model.layers&metric=val_loss&experiment=sweep");
  EXPECT_EQ(res->body, cli_json(cli::runs::pivot, pivot));
  EXPECT_EQ(json::parse(res->body).size(), 9u);
  EXPECT_EQ(json::parse(get("/api/v1/experiments")->body), json({"other", "sweep"}));
}

TEST_F(ServeTest, BadFilterIs400NamingTheToken) {
  auto res = get("/api/v1/runs?where=" + httplib::detail::encode_query_param("metrics.val_loss < 3 ands x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  const std::string error = json::parse(res->body).at("error");
  std::string expected;
  try {
    compile_filter("metrics.val_loss < 3 ands x", {});
  } catch (const std::invalid_argument& e) {
    expected = e.what();
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(error, expected);
  EXPECT_EQ(get("/api/v1/runs/999")->status, 404);
  EXPECT_EQ(get("/api/v1/nothing")->status, 404);
  EXPECT_EQ(get("/api/v1/runs?limit=-1")->status, 400);
}

TEST_F(ServeTest, HistoryHoldsEveryPointOfAShortCurve) {
  auto res = get("/api/v1/runs/1/history?keys=val_loss");
  ASSERT_EQ(res->status, 200);
  json h = json::parse(res->body).at("histories").at(0);
  EXPECT_EQ(h["total"], 10);
  EXPECT_FALSE(h["downsampled"].get<bool>());
  ASSERT_EQ(h["values"].size(), 10u);
  for (int step = 0; step < 10; ++step) {
    EXPECT_EQ(h["steps"][step], step);
    EXPECT_DOUBLE_EQ(h["values"][step].get<double>(), testing::fixture_loss(0, 1, 0, step));
  }
  // A point logged since (through the server) shows: the cached answer is not reused.
  auto logged = server_->client().Post(
      "/api/v1/ingest", R"({"op": "log", "run_id": 1, "points": [["val_loss", 10, 0.125, 5.0]]})", "application/json");
  ASSERT_EQ(logged->status, 200) << logged->body;
  json again = json::parse(get("/api/v1/runs/1/history?keys=val_loss")->body).at("histories").at(0);
  EXPECT_EQ(again["total"], 11);
  EXPECT_EQ(again["values"][10], 0.125);
}

TEST_F(ServeTest, PagesCarryTheSecurityHeaders) {
  auto res = get("/");
  ASSERT_EQ(res->status, 200);
  const std::string csp = res->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(res->body.find("runs.js"), std::string::npos);
  EXPECT_EQ(res->body.find("<script>"), std::string::npos);  // no inline script
  EXPECT_EQ(get("/runs.js")->status, 200);
}

TEST_F(ServeTest, NoPathOutsideTheAssets) {
  for (const char* path : {"/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                           "/..%2f..%2f..%2f..%2fetc%2fpasswd", "/%252e%252e/etc/passwd",
                           "/index.html/../../CMakeLists.txt", "/..\\..\\CMakeLists.txt",
                           "/serve.cc", "/../cli/serve.cc", "/%2e%2e%2fcli%2fserve.cc",
                           "//etc/passwd", "/runs.db", "/.%2e/.%2e/etc/passwd"}) {
    auto res = get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body.find("root:"), std::string::npos) << path;
    EXPECT_EQ(res->body.find("cmake_minimum_required"), std::string::npos) << path;
  }
}

TEST_F(ServeTest, TooLargeABodyIsRefused) {
  std::string body(17u << 20, 'x');
  auto res = server_->client().Post("/api/v1/ingest", body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  auto bad = server_->client().Post("/api/v1/ingest", "{not json", "application/json");
  EXPECT_EQ(bad->status, 400);
}

TEST(ServeAuth, TokenRules) {
  EXPECT_TRUE(cli::same_token("secret", "secret"));
  EXPECT_FALSE(cli::same_token("secreT", "secret"));
  EXPECT_FALSE(cli::same_token("secret1", "secret"));
  EXPECT_FALSE(cli::same_token("", "secret"));
  TempDir dir;
  const std::string db = dir.file("runs.db");
  testing::write_fixture(db);
  cli::ServeOptions open;
  open.db = db;
  open.host = "0.0.0.0";
  EXPECT_THROW({ cli::DashboardServer s(open); }, std::invalid_argument);

  cli::ServeOptions options;
  options.db = db;
  options.token = "s3cret";
  RunningServer server(options);
  const std::string ingest = R"({"op": "tag", "run_id": 1, "key": "k", "value": "v"})";
  EXPECT_EQ(server.client().Get("/api/v1/runs")->status, 401);
  EXPECT_EQ(server.client().Post("/api/v1/ingest", ingest, "application/json")->status, 401);
  EXPECT_EQ(server.client().Get("/")->status, 200);  // pages hold no data
  server.client().set_bearer_token_auth("wrong!");
  EXPECT_EQ(server.client().Get("/api/v1/runs")->status, 401);
  server.client().set_bearer_token_auth("s3cret");
  EXPECT_EQ(server.client().Get("/api/v1/runs")->status, 200);
  EXPECT_EQ(server.client().Post("/api/v1/ingest", ingest, "application/json")->status, 200);

  options.public_read = true;
  RunningServer public_server(options);
  EXPECT_EQ(public_server.client().Get("/api/v1/runs")->status, 200);
  EXPECT_EQ(public_server.client().Post("/api/v1/ingest", ingest, "application/json")->status, 401);

  cli::ServeOptions read_only;
  read_only.db = db;
  read_only.read_only = true;
  RunningServer reader(read_only);
  EXPECT_EQ(reader.client().Post("/api/v1/ingest", ingest, "application/json")->status, 403);
  EXPECT_EQ(reader.client().Get("/api/v1/runs/1")->status, 200);
}

std::string start_error(const std::string& db) {
  cli::ServeOptions options;
  options.db = db;
  options.port = 0;
  try {
    cli::DashboardServer server(options);
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

TEST(ServeStart, ClearMessagesForBadDatabases) {
  TempDir dir;
  const std::string missing = dir.file("missing.db");
  EXPECT_NE(start_error(missing).find("no tracking database at '" + missing + "'"), std::string::npos);
  const std::string text = dir.file("notes.db");
  std::ofstream(text) << "these are my notes, not a database, but long enough to be read as one\n"
                      << std::string(200, 'x');
  const std::string not_sqlite = start_error(text);
  EXPECT_NE(not_sqlite.find(text), std::string::npos) << not_sqlite;
  EXPECT_NE(not_sqlite.find("not a database"), std::string::npos) << not_sqlite;
  const std::string future = dir.file("future.db");
  testing::write_fixture(future);
  { Store store(future); detail::StoreAccess::database(store).exec("PRAGMA user_version = 99"); }
  const std::string newer = start_error(future);
  EXPECT_NE(newer.find(future), std::string::npos) << newer;
  EXPECT_NE(newer.find("schema version 99"), std::string::npos) << newer;
}

}  // namespace
}  // namespace rnnlab::tracking
