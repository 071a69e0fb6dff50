// tracking/vocabulary.h: every name parses back to its value, unknown names are errors
// naming the choices, the database keeps its five status names, and the one metric
// direction rule.
#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include "tracking/vocabulary.h"

namespace rnnlab::tracking {
namespace {

std::string error_of(void (*call)()) {
  try {
    call();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(SharedVocabulary, RunStatusNamesRoundTripAndUnknownNamesTheChoices) {
  for (RunStatus status : {RunStatus::running, RunStatus::finished, RunStatus::early_stopped, RunStatus::pruned,
                           RunStatus::killed, RunStatus::failed, RunStatus::interrupted})
    EXPECT_EQ(parse_run_status(to_string(status)), status) << status;
  EXPECT_EQ(to_string(RunStatus::early_stopped), "early_stopped");
  EXPECT_EQ(error_of([] { parse_run_status("done"); }),
            "status: unknown run status 'done' (choices: running, finished, early_stopped, pruned, killed, failed, "
            "interrupted)");
  EXPECT_THROW(parse_run_status("Finished"), std::invalid_argument);  // exact names, as stored
}

TEST(SharedVocabulary, TheDatabaseRecordsFiveStatuses) {
  EXPECT_EQ(recorded(RunStatus::early_stopped), RunStatus::finished);
  EXPECT_EQ(recorded(RunStatus::interrupted), RunStatus::killed);
  for (RunStatus status : {RunStatus::running, RunStatus::finished, RunStatus::pruned, RunStatus::killed,
                           RunStatus::failed})
    EXPECT_EQ(recorded(status), status);
}

TEST(SharedVocabulary, TaskKinds) {
  EXPECT_EQ(task_kind_names(),
            (std::vector<std::string>{"language_model", "classify", "tag", "forecast", "adding", "copy"}));
  for (const std::string& name : task_kind_names()) {
    EXPECT_EQ(to_string(parse_task_kind(name)), name);
    EXPECT_EQ(find_task_kind(name), parse_task_kind(name));
  }
  EXPECT_FALSE(find_task_kind("translate").has_value());
  EXPECT_EQ(error_of([] { parse_task_kind("translate"); }),
            "task: unknown task 'translate' (choices: language_model, classify, tag, forecast, adding, copy)");
  std::ostringstream out;
  out << TaskKind::tag << " " << RunStatus::pruned;
  EXPECT_EQ(out.str(), "tag pruned");
}

TEST(SharedVocabulary, MetricDirectionIsOneRule) {
  for (const char* higher : {"accuracy", "val_accuracy", "test_accuracy", "train_accuracy", "val_f1", "span_f1",
                             "val_bleu", "chrf", "val_precision", "recall", "val_auc", "VAL_ACCURACY",
                             "baseline_test_accuracy", "top5_acc"})
    EXPECT_EQ(metric_goal(higher), Goal::maximize) << higher;
  for (const char* lower : {"loss", "val_loss", "val_perplexity", "val_bpc", "val_bits_per_token", "val_rmse",
                            "val_mae", "val_mse", "test_error", "f1_loss", "accuracy_error"})
    EXPECT_EQ(metric_goal(lower), Goal::minimize) << lower;
  // No known word: minimized (documented in the header).
  for (const char* unknown : {"", "tokens_per_s", "lr", "grad_norm/rnn.l0", "my_score"})
    EXPECT_EQ(metric_goal(unknown), Goal::minimize) << unknown;
}

TEST(SharedVocabulary, ResolveGoal) {
  EXPECT_EQ(resolve_goal("", "val_accuracy"), Goal::maximize);
  EXPECT_EQ(resolve_goal("auto", "val_accuracy"), Goal::maximize);
  EXPECT_EQ(resolve_goal("min", "val_accuracy"), Goal::minimize);
  EXPECT_EQ(resolve_goal("MAXIMIZE", "val_loss"), Goal::maximize);
  EXPECT_EQ(error_of([] { resolve_goal("up", "val_loss"); }), "goal: unknown goal 'up' (choices: min, max)");
}

}  // namespace
}  // namespace rnnlab::tracking
