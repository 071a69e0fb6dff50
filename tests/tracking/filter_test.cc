// The filter language: what valid filters select, where invalid ones are reported, and
// that injection attempts are only ever data.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "tests/tracking/fixture.h"
#include "tracking/detail/sqlite_db.h"
#include "tracking/detail/store_access.h"
#include "tracking/filter.h"
#include "tracking/store.h"

namespace rnnlab::tracking {
namespace {

class FilterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::write_fixture(dir_->file("fixture.db"));
  }
  static void TearDownTestSuite() { delete dir_; }

  std::vector<std::string> names(const std::string& where, MetricValue value = MetricValue::last,
                                 Goal goal = Goal::minimize) {
    Store store(dir_->file("fixture.db"));
    RunQuery query;
    query.where = where;
    query.context = {goal, value};
    query.order_by = "run.id asc";
    std::vector<std::string> out;
    for (const RunRecord& run : store.list_runs(query)) out.push_back(run.name);
    return out;
  }

  static testing::TempDir* dir_;
};
testing::TempDir* FilterTest::dir_ = nullptr;

TEST_F(FilterTest, ParamTextAndNumericComparison) {
  EXPECT_EQ(names("params.model.cell = 'gru' and params.model.layers = 10"),
            (std::vector<std::string>{"gru-10-s0", "gru-10-s1"}));
  // Numeric: 10 > 2 (as text '10' < '2').
  EXPECT_EQ(names("params.model.layers > 2 and params.model.cell = 'lstm'"),
            (std::vector<std::string>{"lstm-10-s0", "lstm-10-s1", "broken"}));
  EXPECT_EQ(names("params.model.layers > 2").size(), 7u);  // 6 + "broken" (3 layers)
  // Text comparison when the literal is a string.
  EXPECT_EQ(names("params.model.layers = '10'").size(), 6u);
  EXPECT_EQ(names("params.train.lr <= 0.002 and params.train.seed == 1").size(), 6u);
}

TEST_F(FilterTest, MetricsLastBestOrParenthesesNot) {
  // val_loss.last = 0.2 + 0.1*cell + 0.01*layers + 0.001*seed; min == last (decreasing).
  EXPECT_EQ(names("metrics.val_loss < 0.215"),
            (std::vector<std::string>{"lstm-1-s0", "lstm-1-s1"}));
  EXPECT_EQ(names("metrics.val_loss.best < 0.215"), names("metrics.val_loss.last < 0.215"));
  EXPECT_EQ(names("metrics.val_loss.max > 2"), names("metrics.val_loss.max >= 2.0"));
  EXPECT_EQ(names("metrics.val_loss.count = 10").size(), 18u);
  EXPECT_EQ(names("(params.model.cell = 'gru' or params.model.cell = 'rnn_tanh') and "
                  "params.model.layers = 1 and not params.train.seed = 0"),
            (std::vector<std::string>{"gru-1-s1", "rnn_tanh-1-s1"}));
  // .best follows the goal: with max, best is the first step's (largest) value.
  EXPECT_EQ(names("metrics.val_loss > 1.5", MetricValue::best, Goal::maximize).size(), 19u);
  EXPECT_EQ(names("metrics.val_loss > 1.5", MetricValue::last, Goal::maximize),
            (std::vector<std::string>{"broken"}));
}

TEST_F(FilterTest, InLikeIlikeIsNullTagsAttributes) {
  EXPECT_EQ(names("params.model.cell in ('gru', 'lstm') and params.model.layers in (1, 2)").size(), 8u);
  EXPECT_EQ(names("params.model.cell not in ('gru', 'lstm')").size(), 6u);
  EXPECT_EQ(names("run.name like 'lstm-1-%'").size(), 2u);
  EXPECT_EQ(names("run.name like 'LSTM-1-%'").size(), 0u);  // like is case-sensitive
  EXPECT_EQ(names("run.name ilike 'LSTM-1-%'").size(), 2u);
  EXPECT_EQ(names("tags.note = 'diverged'"), (std::vector<std::string>{"broken"}));
  EXPECT_EQ(names("tags.note is null").size(), 18u);
  EXPECT_EQ(names("metrics.train_loss is null"), (std::vector<std::string>{"broken"}));
  EXPECT_EQ(names("run.status = 'failed' and run.experiment = 'other'"),
            (std::vector<std::string>{"broken"}));
  EXPECT_EQ(names("run.id >= 18").size(), 2u);
  EXPECT_EQ(names("attributes.status != 'finished'").size(), 1u);
  EXPECT_EQ(names("params.`model`.`cell` = 'gru'").size(), 6u);
  EXPECT_EQ(names("  ").size(), 19u);
}

void expect_error(const std::string& filter, size_t column, const std::string& fragment) {
  try {
    compile_filter(filter);
    ADD_FAILURE() << "no error for: " << filter;
  } catch (const std::invalid_argument& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("column " + std::to_string(column) + ":"), std::string::npos)
        << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    // The caret sits under the column.
    std::string caret_line = message.substr(message.rfind('\n') + 1);
    EXPECT_EQ(caret_line, std::string(2 + column - 1, ' ') + "^") << message;
  }
}

TEST(FilterErrors, PointAtTheOffendingToken) {
  expect_error("metrics.val_loss < ", 20, "expected a value");
  expect_error("metrics.val_loss < 1.2 and", 27, "expected a field");
  expect_error("params.model.cell = 'lstm", 21, "unterminated string");
  expect_error("params.x = 1 params.y = 2", 14, "unexpected 'params.y'");
  expect_error("(params.x = 1", 14, "expected ')'");
  expect_error("params.x ~ 1", 10, "unexpected character '~'");
  expect_error("foo.bar = 1", 1, "unknown field prefix 'foo'");
  expect_error("run.colour = 'red'", 1, "unknown run attribute 'colour'");
  expect_error("metrics.val_loss = 'low'", 20, "is a number");
  expect_error("tags.note = 3", 13, "is text");
  expect_error("params.x in (1, 'a')", 17, "mixed numbers and text");
  expect_error("params.x like 3", 15, "like needs a 'pattern'");
  expect_error("val_loss < 3", 1, "expected a field");
  expect_error("params.x = 3abc", 12, "bad number");
  expect_error("params.x is 3", 13, "expected 'null'");
  expect_error("params.x", 9, "expected an operator");
  expect_error("params.x = 1 or", 16, "expected a field, got the end");
}

// `open` repeated `depth` times, then a comparison, then `depth` ')'s.
std::string nested(const std::string& open, int depth) {
  std::string filter;
  for (int i = 0; i < depth; ++i) filter += open;
  return filter + "params.model.layers = 1" + std::string(size_t(depth), ')');
}

TEST(FilterErrors, NestingIsBounded) {
  // 12 levels of '(' or 'not' compile; one more is refused at the token that opens it.
  EXPECT_EQ(compile_filter(nested("(", kMaxFilterNesting)).binds.size(), 2u);
  std::string nots;
  for (int i = 0; i < kMaxFilterNesting; ++i) nots += "not ";
  EXPECT_EQ(compile_filter(nots + "params.x = 1").binds.size(), 2u);
  expect_error(std::string(kMaxFilterNesting + 1, '(') + "params.x = 1", 13, "nesting deeper than 12 levels");
  expect_error(nots + "not params.x = 1", 4 * 12 + 1, "nesting deeper than 12 levels");
  // Deep enough to overflow the stack before the bound (SIGSEGV at about 50,000 under ASan).
  expect_error(std::string(300000, '(') + "params.x = 1", 13, "nesting deeper than 12 levels");
}

TEST_F(FilterTest, WhatCompilesSqliteAccepts) {
  // The deepest filters allowed, in the shapes that use most of SQLite's parser stack.
  // gru or (seed 1 and (gru or (seed 1 and ... layers 1))) = the 6 gru runs + 2 of layers 1, seed 1.
  EXPECT_EQ(names(nested("(params.model.cell = 'gru' or params.train.seed = 1 and ", kMaxFilterNesting)).size(), 8u);
  // Every seed is 0 or 1, so this is the gru runs.
  EXPECT_EQ(names(nested("(params.model.cell = 'gru' or not params.train.seed in (0, 1) and not ",
                         kMaxFilterNesting / 2)).size(), 6u);
  // No name starts with x: an even number of nots around layers = 1 (6 runs).
  EXPECT_EQ(names(nested("not (run.name not ilike 'x%' and ", kMaxFilterNesting / 2)).size(), 6u);
  // Long flat chains (each step used to nest its own parentheses: 100 terms overflowed).
  std::string chain = "params.model.layers = 1";
  for (int i = 0; i < 300; ++i) chain += (i % 2 ? " and " : " or ") + std::string("params.train.seed >= 0");
  EXPECT_EQ(names(chain).size(), 18u);  // the runs that have a seed
}

TEST(FilterSql, EveryValueAndKeyIsBound) {
  SqlFragment fragment = compile_filter(
      "params.`x'; DROP TABLE runs;--` = ''';DROP TABLE runs;--' or metrics.a.min in (1, 2.5)");
  // Neither the key nor the value appears in the SQL text.
  EXPECT_EQ(fragment.sql.find("DROP"), std::string::npos) << fragment.sql;
  ASSERT_EQ(fragment.binds.size(), 5u);
  EXPECT_EQ(std::get<std::string>(fragment.binds[0]), "x'; DROP TABLE runs;--");
  EXPECT_EQ(std::get<std::string>(fragment.binds[1]), "';DROP TABLE runs;--");
  EXPECT_EQ(std::get<std::string>(fragment.binds[2]), "a");
  EXPECT_EQ(std::get<int64_t>(fragment.binds[3]), 1);
  EXPECT_DOUBLE_EQ(std::get<double>(fragment.binds[4]), 2.5);
  ASSERT_EQ(fragment.fields.size(), 2u);
  EXPECT_EQ(fragment.fields[1].text, "metrics.a.min");
}

TEST_F(FilterTest, InjectionAttemptsChangeNothing) {
  const char* attempts[] = {
      "params.model.cell = '''; DROP TABLE runs;--'",
      "params.model.cell = \"'; DROP TABLE runs;--\"",
      "params.`'; DROP TABLE runs;--` = 'x'",
      "tags.`a'); DELETE FROM metrics;--` is null",
      "run.name like '%''; DELETE FROM runs; --'",
      "params.model.cell in ('x''); DROP TABLE params;--')",
  };
  for (const char* attempt : attempts) {
    std::vector<std::string> selected = names(attempt);
    if (std::string(attempt).find("is null") != std::string::npos) {
      EXPECT_EQ(selected.size(), 19u) << attempt;
    } else {
      EXPECT_TRUE(selected.empty()) << attempt;
    }
  }
  // Ordering by a hostile key is data as well.
  Store store(dir_->file("fixture.db"));
  RunQuery query;
  query.order_by = "params.`x; DROP TABLE runs` desc, run.id";
  EXPECT_EQ(store.list_runs(query).size(), 19u);
  // Everything is still there.
  detail::Statement count = detail::StoreAccess::database(store).prepare(
      "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM params), "
      "(SELECT count(*) FROM metrics)");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 19);
  EXPECT_EQ(count.column_int(1), 18 * 5 + 2);
  EXPECT_EQ(count.column_int(2), 18 * 20 + 1);
}

TEST_F(FilterTest, OrderBy) {
  Store store(dir_->file("fixture.db"));
  RunQuery query;
  query.experiment = "sweep";
  query.order_by = "params.model.layers desc, metrics.val_loss asc";
  query.columns = {"params.model.layers", "metrics.val_loss"};
  std::vector<RunRecord> runs = store.list_runs(query);
  ASSERT_EQ(runs.size(), 18u);
  EXPECT_EQ(runs.front().name, "lstm-10-s0");  // numeric: 10 first
  EXPECT_EQ(runs.back().name, "rnn_tanh-1-s1");
  EXPECT_EQ(std::get<int64_t>(runs.front().columns[0]), 10);
  EXPECT_NEAR(std::get<double>(runs.front().columns[1]), testing::fixture_loss(0, 10, 0, 9), 1e-12);
  EXPECT_THROW(compile_order_by("params.x sideways"), std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::tracking
