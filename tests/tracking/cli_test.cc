// `rnnlab runs ...` on the fixture database: the same CLI11 subcommands the rnnlab binary
// registers, driven in process with standard output captured.
#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "tests/tracking/fixture.h"
#include "tools/cli/commands.h"
#include "tools/cli/runs.h"
#include "tracking/store.h"
#include "tracking/tracker.h"

namespace rnnlab::tracking {
namespace {

class RunsCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_fixture(dir_->file("fixture.db"));
  }
  static void TearDownTestSuite() { delete dir_; }

  // Runs `rnnlab runs ARGS --db fixture`; returns standard output, sets exit_code.
  std::string run(std::vector<std::string> args, const std::string& db = "") {
    args.insert(args.begin(), "runs");
    args.push_back("--db");
    args.push_back(db.empty() ? dir_->file("fixture.db") : db);
    CLI::App app;
    cli::Commands commands;
    cli::add_runs_command(app, commands);
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
    app.parse(reversed);
    std::ostringstream captured;
    std::streambuf* saved = std::cout.rdbuf(captured.rdbuf());
    try {
      exit_code = commands.at("runs")();
    } catch (...) {
      std::cout.rdbuf(saved);
      throw;
    }
    std::cout.rdbuf(saved);
    return captured.str();
  }

  int exit_code = -1;
  static testing::TempDir* dir_;
};
testing::TempDir* RunsCli::dir_ = nullptr;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) out.push_back(line);
  return out;
}

TEST_F(RunsCli, ListTableShowsFilterColumnsAligned) {
  std::string out = run({"list", "--where", "params.model.cell = 'gru' and metrics.val_loss < 0.33",
                         "--order-by", "metrics.val_loss desc"});
  auto rows = lines(out);
  ASSERT_EQ(rows.size(), 6u) << out;  // header, rule, gru layers 1 and 2 x 2 seeds
  EXPECT_NE(rows[0].find("params.model.cell"), std::string::npos);
  EXPECT_NE(rows[0].find("metrics.val_loss"), std::string::npos);
  EXPECT_NE(rows[2].find("gru-2-s1"), std::string::npos) << out;
  EXPECT_NE(rows[5].find("gru-1-s0"), std::string::npos) << out;
  // Aligned: every line has the same width up to the last column.
  EXPECT_EQ(rows[1].size(), rows[2].size());
  EXPECT_EQ(rows[2].size(), rows[5].size());
}

TEST_F(RunsCli, ListCsvAndJson) {
  std::string csv = run({"list", "--experiment", "sweep", "--where", "params.model.layers >= 10",
                         "--format", "csv", "--order-by", "run.id"});
  auto rows = lines(csv);
  ASSERT_EQ(rows.size(), 7u) << csv;
  EXPECT_EQ(rows[0], "id,experiment,name,status,start (UTC),duration_s,params.model.layers");
  EXPECT_EQ(rows[1].substr(0, 20), "5,sweep,lstm-10-s0,f");
  EXPECT_EQ(rows[1].substr(rows[1].size() - 3), ",10");

  nlohmann::json json = nlohmann::json::parse(
      run({"list", "--where", "run.status = 'failed'", "--format", "json"}));
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["name"], "broken");
  EXPECT_EQ(json[0]["id"], 19);
  EXPECT_EQ(json[0]["experiment"], "other");
}

TEST_F(RunsCli, BestTableAndJson) {
  std::string table = run({"best", "--metric", "val_loss", "--limit", "2"});
  auto rows = lines(table);
  ASSERT_EQ(rows.size(), 4u) << table;
  EXPECT_NE(rows[0].find("val_loss.min"), std::string::npos);
  EXPECT_NE(rows[2].find("lstm-1-s0"), std::string::npos);
  EXPECT_NE(rows[2].find("0.21"), std::string::npos);
  EXPECT_NE(rows[3].find("lstm-1-s1"), std::string::npos);

  nlohmann::json json = nlohmann::json::parse(
      run({"best", "-m", "val_loss", "--goal", "max", "--value", "last", "-n", "1", "-f", "json",
           "--experiment", "sweep"}));
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["name"], "rnn_tanh-10-s1");
  EXPECT_NEAR(json[0]["val_loss.last"].get<double>(), testing::fixture_loss(2, 10, 1, 9), 1e-12);
  EXPECT_EQ(json[0]["step"], 9);
  run({"best", "-m", "val_loss", "--where", "params.model.layers > 99"});
  EXPECT_EQ(exit_code, 1);  // nothing to rank
}

// A metric no run has: an error naming it and listing the metrics there are (exit 2 from
// main), for every command that would print an empty table.
TEST_F(RunsCli, AMetricNoRunHasIsAnErrorListingTheOnesThatExist) {
  const std::vector<std::vector<std::string>> commands = {
      {"best", "-m", "val_los"},
      {"pivot", "-r", "model.cell", "-m", "val_los"},
      {"list", "--where", "metrics.val_los < 1"},
      {"list", "--columns", "metrics.val_los.best"},
      {"best", "-m", "train_loss", "--experiment", "other"}};
  for (const auto& command : commands) {
    try {
      run(command);
      ADD_FAILURE() << command[0] << ": no error";
    } catch (const std::invalid_argument& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("has logged it (metrics: "), std::string::npos) << message;
      EXPECT_NE(message.find("val_loss"), std::string::npos) << message;
    }
  }
}

TEST_F(RunsCli, PivotWideTableAndLongCsv) {
  std::string table = run({"pivot", "--rows", "model.cell", "--cols", "model.layers", "--metric",
                           "val_loss", "--experiment", "sweep"});
  auto rows = lines(table);
  ASSERT_EQ(rows.size(), 7u) << table;  // caption, the column key's values, row key, rule, 3 cells
  EXPECT_NE(rows[0].find("mean ± std over 2 runs each"), std::string::npos) << table;
  EXPECT_EQ(rows[1].rfind("model.layers", 0), 0u) << table;
  EXPECT_LT(rows[1].find(" 2 "), rows[1].find(" 10"));  // numeric order
  EXPECT_EQ(rows[2], "model.cell");
  EXPECT_EQ(rows[4].rfind("gru", 0), 0u);
  EXPECT_NE(rows[5].find("0.2105 ± 0.00071 *"), std::string::npos) << table;

  std::string csv = run({"pivot", "-r", "model.cell", "-c", "model.layers", "-m", "val_loss",
                         "-e", "sweep", "--format", "csv"});
  auto csv_rows = lines(csv);
  ASSERT_EQ(csv_rows.size(), 10u) << csv;
  EXPECT_EQ(csv_rows[0], "model.cell,model.layers,n,mean,std,min,max");
  EXPECT_EQ(csv_rows[1].substr(0, 10), "gru,1,2,0.");
}

// Two column keys: one header line per key, values spanning their group, so a cell is as
// wide as its number, not as "model.layers=1,train.seed=0".
TEST_F(RunsCli, PivotOfTwoColumnKeysHasAHeaderLinePerKey) {
  std::string table = run({"pivot", "-r", "model.cell", "-c", "model.layers,train.seed", "-m", "val_loss",
                           "-e", "sweep"});
  auto rows = lines(table);
  ASSERT_EQ(rows.size(), 8u) << table;  // caption, 2 key lines, row key, rule, 3 cells
  EXPECT_NE(rows[0].find("one run each"), std::string::npos) << table;
  EXPECT_EQ(rows[1].rfind("model.layers", 0), 0u) << table;
  EXPECT_EQ(rows[2].rfind("train.seed", 0), 0u) << table;
  // Each layers value once (spanning its two seeds); each seed under every layers value.
  for (const char* value : {" 1 ", " 2 ", " 10"}) {
    const size_t at = rows[1].find(value);
    EXPECT_NE(at, std::string::npos) << value << "\n" << table;
    EXPECT_EQ(rows[1].find(value, at + 1), std::string::npos) << value << "\n" << table;
  }
  size_t seeds = 0;
  for (size_t at = rows[2].find(" 0 "); at != std::string::npos; at = rows[2].find(" 0 ", at + 1)) ++seeds;
  EXPECT_EQ(seeds, 3u) << table;
  // One run per cell: the value alone, no "± 0".
  EXPECT_EQ(table.find("± 0 "), std::string::npos) << table;
  EXPECT_EQ(table.find("(n="), std::string::npos) << table;
  for (const auto& row : rows) EXPECT_LE(row.size(), 100u) << row;
}

TEST_F(RunsCli, PlotLabelsCurvesByWhatSetsTheRunsApart) {
  Store store(dir_->file("fixture.db"));
  const std::vector<RunDetails> runs = {store.run_details(1), store.run_details(10)};
  EXPECT_EQ(cli::runs::curve_labels(runs),
            (std::vector<std::string>{"lstm, layers=1, lr=0.001, seed=0 (#1)", "gru, layers=2, lr=0.002, seed=1 (#10)"}));
  EXPECT_EQ(cli::runs::curve_labels({store.run_details(1)}), std::vector<std::string>{"lstm-1-s0 (#1)"});
}

TEST_F(RunsCli, CompareShowsDifferingParamsAndMetrics) {
  std::string table = run({"compare", "lstm-1-s0", "gru-1-s0"});
  auto rows = lines(table);
  EXPECT_NE(rows[0].find("lstm-1-s0 (#1)"), std::string::npos);
  EXPECT_NE(rows[0].find("gru-1-s0 (#7)"), std::string::npos);
  EXPECT_NE(table.find("params.model.cell"), std::string::npos);
  EXPECT_NE(table.find("params.train.lr"), std::string::npos);
  EXPECT_EQ(table.find("params.model.hidden"), std::string::npos);  // equal: hidden
  EXPECT_NE(table.find("metrics.val_loss.best"), std::string::npos);
  std::string all = run({"compare", "1", "7", "--all", "--format", "json"});
  nlohmann::json json = nlohmann::json::parse(all);
  bool hidden = false;
  for (const auto& row : json) hidden |= row["field"] == "params.model.hidden";
  EXPECT_TRUE(hidden);
}

// Without --goal each metric's best follows its direction (tracking::metric_goal):
// val_accuracy's best is its maximum, val_loss's its minimum; --goal overrides both.
TEST_F(RunsCli, CompareAndBestWithoutGoalFollowTheMetricsDirection) {
  const std::string db = dir_->file("accuracy.db");
  {
    Tracker tracker(db);
    for (const char* name : {"a", "b"}) {
      RunInfo info;
      info.name = name;
      tracker.start_run(info);
      const bool a = std::string(name) == "a";
      tracker.log_metric("val_accuracy", 1, a ? 0.5 : 0.6, 1000.0);
      tracker.log_metric("val_accuracy", 2, a ? 0.9 : 0.7, 1001.0);
      tracker.log_metric("val_accuracy", 3, a ? 0.8 : 0.65, 1002.0);
      tracker.log_metric("val_loss", 1, a ? 2.0 : 3.0, 1000.0);
      tracker.log_metric("val_loss", 2, a ? 1.0 : 1.5, 1001.0);
      tracker.finish(RunStatus::finished);
    }
  }
  auto field = [](const nlohmann::json& rows, const std::string& name) {
    for (const auto& row : rows)
      if (row["field"] == name) return row;
    return nlohmann::json();
  };
  const nlohmann::json rows = nlohmann::json::parse(run({"compare", "a", "b", "--format", "json"}, db));
  const nlohmann::json accuracy = field(rows, "metrics.val_accuracy.best");
  EXPECT_EQ(accuracy["a (#1)"], 0.9) << rows.dump();  // the maximum, not the minimum 0.5
  EXPECT_EQ(accuracy["b (#2)"], 0.7);
  EXPECT_EQ(field(rows, "metrics.val_loss.best")["a (#1)"], 1.0);
  const nlohmann::json min_rows = nlohmann::json::parse(run({"compare", "a", "b", "--goal", "min", "--format", "json"}, db));
  EXPECT_EQ(field(min_rows, "metrics.val_accuracy.best")["a (#1)"], 0.5);

  const nlohmann::json best = nlohmann::json::parse(run({"best", "--metric", "val_accuracy", "--format", "json"}, db));
  ASSERT_EQ(best.size(), 2u) << best.dump();
  EXPECT_EQ(best[0]["name"], "a");
  EXPECT_EQ(best[0]["val_accuracy.max"], 0.9);
}

TEST_F(RunsCli, ExportCsvJsonAndHistory) {
  std::string csv = run({"export", "--format", "csv", "--where", "run.experiment = 'sweep'"});
  auto rows = lines(csv);
  ASSERT_EQ(rows.size(), 19u);
  EXPECT_NE(rows[0].find("params.model.cell"), std::string::npos);
  EXPECT_NE(rows[0].find("metrics.val_loss.min"), std::string::npos);
  EXPECT_EQ(rows[1].substr(0, 17), "1,sweep,lstm-1-s0");

  nlohmann::json json = nlohmann::json::parse(run({"export", "--format", "json"}));
  ASSERT_EQ(json.size(), 19u);
  EXPECT_EQ(json[0]["params.model.layers"], 1);  // numbers stay numbers
  EXPECT_EQ(json[18]["error"], "loss is NaN at step 1");
  EXPECT_TRUE(json[18]["metrics.train_loss.last"].is_null());

  const std::string file = dir_->file("history.csv");
  run({"export", "--history", "--where", "run.id = 1", "-o", file});
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  auto history = lines(text.str());
  ASSERT_EQ(history.size(), 21u);  // header + 2 metrics x 10 steps
  EXPECT_EQ(history[0], "run_id,experiment,run,key,step,value,wall_time");
}

TEST_F(RunsCli, ShowJsonTagDelete) {
  testing::TempDir dir;
  const std::string db = dir.file("edit.db");
  testing::write_fixture(db);
  nlohmann::json shown = nlohmann::json::parse(run({"show", "broken", "--format", "json"}, db));
  EXPECT_EQ(shown["run"]["status"], "failed");
  EXPECT_EQ(shown["config"]["model"]["layers"], 3);
  EXPECT_EQ(shown["tags"]["note"], "diverged");
  EXPECT_EQ(shown["artifacts"][0]["path"], "ckpt/broken-0.bin");

  run({"tag", "broken", "owner=track", "stage=triage", "--remove", "note"}, db);
  Store store(db);
  auto tags = store.run_details(19).tags;
  EXPECT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags["stage"], "triage");

  EXPECT_THROW(run({"delete", "--where", "params.model.cell = 'gru'"}, db), std::invalid_argument);
  EXPECT_EQ(run({"delete", "--where", "params.model.cell = 'gru'", "--yes"}, db), "deleted 6 runs\n");
  EXPECT_EQ(run({"delete", "1", "lstm-1-s1"}, db), "deleted 2 runs\n");
  EXPECT_EQ(store.list_runs({}).size(), 11u);

  // A run still training is deleted only with --force.
  Tracker tracker(db);
  RunInfo info;
  info.name = "training";
  const int64_t id = tracker.start_run(info);
  try {
    run({"delete", "training"}, db);
    ADD_FAILURE() << "a running run was deleted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("run " + std::to_string(id) + " 'training' is still running"),
              std::string::npos)
        << error.what();
  }
  EXPECT_EQ(run({"delete", "training", "--force"}, db), "deleted 1 run\n");
}

TEST_F(RunsCli, UserMistakesAreInvalidArgument) {
  EXPECT_THROW(run({"list", "--where", "metrics.val_loss <"}), std::invalid_argument);
  EXPECT_THROW(run({"list", "--format", "xml"}), std::invalid_argument);
  EXPECT_THROW(run({"show", "nope"}), std::invalid_argument);
  EXPECT_THROW(run({"list"}, dir_->file("missing.db")), std::invalid_argument);
  EXPECT_THROW(run({"best", "-m", "val_loss", "--goal", "up"}), std::invalid_argument);
  EXPECT_THROW(run({"plot", "1", "-m", "val_loss", "-o", dir_->file("x.gif")}), std::invalid_argument);
}

TEST_F(RunsCli, PlotWritesPngAndSvg) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot not installed";
  for (const char* name : {"curves.png", "curves.svg"}) {
    const std::string file = dir_->file(name);
    run({"plot", "1", "lstm-10-s0", "-m", "val_loss", "-m", "train_loss", "-o", file});
    std::ifstream in(file, std::ios::binary);
    std::string head(8, '\0');
    in.read(head.data(), 8);
    if (std::string(name).find("png") != std::string::npos) {
      EXPECT_EQ(head.substr(1, 3), "PNG");
    } else {
      EXPECT_EQ(head.substr(0, 5), "<?xml");
    }
  }
}

}  // namespace
}  // namespace rnnlab::tracking
