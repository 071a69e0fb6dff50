// The shared vocabularies of rnnlab: how a run ended, which task a config trains, which
// way a metric improves. One enum (or one rule) each, with its names, so that the trainer,
// the tracker, the sweep engine and the CLI never compare or map strings of their own.
//
// It lives in tracking/ because tracking is the lowest library that all of its users can
// include (tools -> experiments -> trainer -> {layers, dist, tracking}) and because the run
// store is where these names are kept on disk: the database's `runs.status` column holds
// exactly the names below, so databases written before this header read as they did.
//
// RunStatus: every status a run (a training call, a tracked run, a sweep trial) can have.
// The database records five of them (running, finished, failed, killed, pruned);
// early_stopped is recorded as finished (the run completed: it has test metrics) and
// interrupted (a sweep trial stopped by the sweep's own signal, to be rerun) as killed.
// recorded() is that mapping; every write to the database goes through it.
//
// Failure: the parse_* functions throw std::invalid_argument naming the unknown text and
// the choices. Thread safety: pure functions, no state.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rnnlab::tracking {

enum class RunStatus { running, finished, early_stopped, pruned, killed, failed, interrupted };
std::string_view to_string(RunStatus status);
RunStatus parse_run_status(std::string_view text);  // the names above, exactly
// The status the database records for `status` (see above); the identity for the five it keeps.
RunStatus recorded(RunStatus status);
std::ostream& operator<<(std::ostream& out, RunStatus status);  // its name (test messages)

// The kind of learning problem a config trains (config key `task`).
enum class TaskKind { language_model, classify, tag, forecast, adding, copy };
std::string_view to_string(TaskKind task);
TaskKind parse_task_kind(std::string_view text);  // "task: unknown task 'x' (choices: ...)"
std::optional<TaskKind> find_task_kind(std::string_view text);  // nullopt for an unknown name
std::vector<std::string> task_kind_names();       // in declaration order
std::ostream& operator<<(std::ostream& out, TaskKind task);

// Which way a metric improves.
enum class Goal { minimize, maximize };
// "min"/"minimize"/"max"/"maximize" (any case); else invalid_argument.
Goal parse_goal(std::string_view text);

// THE rule for a metric's direction, used by early stopping and restore_best, the config
// checks, a sweep's default goal and `rnnlab runs compare/best/pivot` without --goal.
// The prefix val_, test_, train_ or baseline_test_ is ignored; the rest is split at '_'
// and the last word that names a known quantity decides:
//   maximize: accuracy, acc, f1, bleu, chrf, precision, recall, auc
//   minimize: loss, perplexity, ppl, bpc, bits, rmse, mae, mse, error, err
// A name with no known word (tokens_per_s, lr, grad_norm/rnn.l0, a user's own metric) is
// minimized: most quantities logged here (losses, errors, norms, times) are better small,
// and the CLI's historical default was min. Give an explicit goal for anything else.
Goal metric_goal(std::string_view metric);
// An explicit goal text ("min", "max", ...) when given; "" or "auto": metric_goal(metric).
Goal resolve_goal(std::string_view goal, std::string_view metric);

}  // namespace rnnlab::tracking
