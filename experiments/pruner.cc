#include "experiments/pruner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace rnnlab::experiments {

Pruner::Pruner(PruningSpec spec, bool minimize) : spec_(std::move(spec)), minimize_(minimize) {}

double Pruner::best_up_to(const std::vector<StepPoint>& points, int64_t limit) const {
  double best = NAN;
  for (const StepPoint& point : points) {
    if (point.step > limit) break;
    if (std::isnan(point.value)) continue;
    if (std::isnan(best) || better(point.value, best)) best = point.value;
  }
  return best;
}

bool Pruner::median_prunes(const std::vector<StepPoint>& own, const std::vector<PeerHistory>& peers,
                           double* median) const {
  if (int(own.size()) <= spec_.warmup_evaluations) return false;
  const int64_t step = own.back().step;
  std::vector<double> values;
  for (const PeerHistory& peer : peers) {
    if (peer.status != tracking::RunStatus::finished || peer.points.empty() || peer.points.front().step > step) continue;
    const double value = best_up_to(peer.points, step);
    if (!std::isnan(value)) values.push_back(value);
  }
  if (int(values.size()) < spec_.min_trials) return false;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  *median = values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
  const double mine = best_up_to(own, step);
  return std::isnan(mine) || better(*median, mine);
}

bool Pruner::asha_prunes(const std::vector<StepPoint>& own, const std::vector<PeerHistory>& peers,
                         int64_t* rung_out) const {
  const int64_t step = own.back().step;
  const int64_t previous = own.size() > 1 ? own[own.size() - 2].step : 0;
  const int eta = spec_.reduction_factor;
  int64_t rung = spec_.min_step;
  for (int i = 0; i < spec_.min_early_stopping_rate; ++i) rung *= eta;
  // Value of a history at a rung: its best up to the first evaluation that reached it;
  // NaN when it never reached the rung.
  auto rung_value = [&](const std::vector<StepPoint>& points, int64_t at) {
    for (const StepPoint& point : points)
      if (point.step >= at) return best_up_to(points, point.step);
    return double(NAN);
  };
  for (; rung <= step; rung *= eta) {
    if (rung <= previous) continue;  // judged at an earlier evaluation
    const double mine = rung_value(own, rung);
    if (std::isnan(mine)) {
      *rung_out = rung;
      return true;
    }
    std::vector<double> competing{mine};
    for (const PeerHistory& peer : peers) {
      if (peer.status == tracking::RunStatus::killed) continue;  // an interrupted attempt, rerun under the same trial
      const double value = rung_value(peer.points, rung);
      if (!std::isnan(value)) competing.push_back(value);
    }
    std::sort(competing.begin(), competing.end());
    if (!minimize_) std::reverse(competing.begin(), competing.end());
    int64_t promotable = int64_t(competing.size()) / eta - 1;
    if (promotable < 0) promotable = 0;
    if (better(competing[size_t(promotable)], mine)) {
      *rung_out = rung;
      return true;
    }
  }
  return false;
}

bool Pruner::should_prune(const std::vector<StepPoint>& own, const std::vector<PeerHistory>& peers) const {
  if (own.empty() || spec_.method == "none") return false;
  double median = 0;
  int64_t rung = 0;
  if (spec_.method == "median") return median_prunes(own, peers, &median);
  if (spec_.method == "asha") return asha_prunes(own, peers, &rung);
  return false;
}

std::string Pruner::describe(const std::vector<StepPoint>& own, const std::vector<PeerHistory>& peers) const {
  char text[160];
  double median = 0;
  int64_t rung = 0;
  if (spec_.method == "median" && median_prunes(own, peers, &median)) {
    std::snprintf(text, sizeof text, "pruned at step %lld: best %.6g is worse than the median %.6g of finished trials",
                  static_cast<long long>(own.back().step), best_up_to(own, own.back().step), median);
    return text;
  }
  if (spec_.method == "asha" && asha_prunes(own, peers, &rung)) {
    std::snprintf(text, sizeof text, "pruned at step %lld: not in the top 1/%d at rung step %lld",
                  static_cast<long long>(own.back().step), spec_.reduction_factor, static_cast<long long>(rung));
    return text;
  }
  return "pruned";
}

}  // namespace rnnlab::experiments
