#include "tracking/vocabulary.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <ostream>
#include <stdexcept>
#include <utility>

namespace rnnlab::tracking {
namespace {

template <typename Enum, size_t N>
using Names = std::array<std::pair<Enum, std::string_view>, N>;

constexpr Names<RunStatus, 7> kRunStatuses = {{{RunStatus::running, "running"},
                                               {RunStatus::finished, "finished"},
                                               {RunStatus::early_stopped, "early_stopped"},
                                               {RunStatus::pruned, "pruned"},
                                               {RunStatus::killed, "killed"},
                                               {RunStatus::failed, "failed"},
                                               {RunStatus::interrupted, "interrupted"}}};

constexpr Names<TaskKind, 6> kTaskKinds = {{{TaskKind::language_model, "language_model"},
                                            {TaskKind::classify, "classify"},
                                            {TaskKind::tag, "tag"},
                                            {TaskKind::forecast, "forecast"},
                                            {TaskKind::adding, "adding"},
                                            {TaskKind::copy, "copy"}}};

template <typename Enum, size_t N>
std::string_view name_of(const Names<Enum, N>& names, Enum value) {
  for (const auto& [candidate, name] : names)
    if (candidate == value) return name;
  return "unknown";
}

// `what` names the vocabulary in the message: "status: unknown run status 'x' (choices: ...)".
template <typename Enum, size_t N>
Enum parse_name(const Names<Enum, N>& names, std::string_view text, const char* key, const char* what) {
  std::string choices;
  for (const auto& [value, name] : names) {
    if (name == text) return value;
    choices += (choices.empty() ? "" : ", ") + std::string(name);
  }
  throw std::invalid_argument(std::string(key) + ": unknown " + what + " '" + std::string(text) +
                              "' (choices: " + choices + ")");
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view to_string(RunStatus status) { return name_of(kRunStatuses, status); }

RunStatus parse_run_status(std::string_view text) { return parse_name(kRunStatuses, text, "status", "run status"); }

RunStatus recorded(RunStatus status) {
  switch (status) {
    case RunStatus::early_stopped: return RunStatus::finished;
    case RunStatus::interrupted: return RunStatus::killed;
    default: return status;
  }
}

std::ostream& operator<<(std::ostream& out, RunStatus status) { return out << to_string(status); }

std::string_view to_string(TaskKind task) { return name_of(kTaskKinds, task); }

TaskKind parse_task_kind(std::string_view text) { return parse_name(kTaskKinds, text, "task", "task"); }

std::optional<TaskKind> find_task_kind(std::string_view text) {
  for (const auto& [value, name] : kTaskKinds)
    if (name == text) return value;
  return std::nullopt;
}

std::vector<std::string> task_kind_names() {
  std::vector<std::string> names;
  for (const auto& entry : kTaskKinds) names.emplace_back(entry.second);
  return names;
}

std::ostream& operator<<(std::ostream& out, TaskKind task) { return out << to_string(task); }

Goal parse_goal(std::string_view text) {
  const std::string t = lower(text);
  if (t == "min" || t == "minimize") return Goal::minimize;
  if (t == "max" || t == "maximize") return Goal::maximize;
  throw std::invalid_argument("goal: unknown goal '" + std::string(text) + "' (choices: min, max)");
}

Goal metric_goal(std::string_view metric) {
  static constexpr std::string_view kHigher[] = {"accuracy", "acc", "f1", "bleu", "chrf", "precision", "recall", "auc"};
  static constexpr std::string_view kLower[] = {"loss", "perplexity", "ppl", "bpc", "bits",
                                                "rmse", "mae",        "mse", "error", "err"};
  std::string name = lower(metric);
  for (std::string_view prefix : {"baseline_test_", "val_", "test_", "train_"}) {
    if (name.compare(0, prefix.size(), prefix) == 0) {
      name.erase(0, prefix.size());
      break;
    }
  }
  Goal goal = Goal::minimize;  // no known word: see the header
  size_t begin = 0;
  while (begin <= name.size()) {
    size_t end = name.find('_', begin);
    if (end == std::string::npos) end = name.size();
    const std::string_view word = std::string_view(name).substr(begin, end - begin);
    if (std::find(std::begin(kHigher), std::end(kHigher), word) != std::end(kHigher)) goal = Goal::maximize;
    if (std::find(std::begin(kLower), std::end(kLower), word) != std::end(kLower)) goal = Goal::minimize;
    begin = end + 1;
  }
  return goal;
}

Goal resolve_goal(std::string_view goal, std::string_view metric) {
  if (goal.empty() || lower(goal) == "auto") return metric_goal(metric);
  return parse_goal(goal);
}

}  // namespace rnnlab::tracking
