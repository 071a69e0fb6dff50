// Pruning rules on hand-made histories: median (Optuna's MedianPruner) and ASHA.
#include <gtest/gtest.h>

#include <cmath>

#include "experiments/pruner.h"

namespace rnnlab::experiments {
namespace {

PeerHistory finished(int64_t id, std::vector<StepPoint> points) { return {id, tracking::RunStatus::finished, std::move(points)}; }

TEST(MedianPruner, PrunesWorseThanMedianAfterWarmup) {
  PruningSpec spec;
  spec.method = "median";
  spec.warmup_evaluations = 1;
  spec.min_trials = 2;
  const Pruner pruner(spec, /*minimize=*/true);
  const std::vector<PeerHistory> peers = {finished(1, {{10, 1.0}, {20, 0.5}}), finished(2, {{10, 0.9}, {20, 0.4}}),
                                          finished(3, {{10, 2.0}, {20, 1.9}})};
  // Warm-up: the first evaluation is never judged.
  EXPECT_FALSE(pruner.should_prune({{10, 5.0}}, peers));
  // Median at step 20 of the best-so-far values {0.5, 0.4, 1.9} is 0.5.
  EXPECT_TRUE(pruner.should_prune({{10, 5.0}, {20, 0.6}}, peers));
  EXPECT_FALSE(pruner.should_prune({{10, 5.0}, {20, 0.45}}, peers));
  EXPECT_TRUE(pruner.should_prune({{10, 5.0}, {20, NAN}}, peers));
  // Running, pruned and killed peers do not count; too few finished ones: no pruning.
  const std::vector<PeerHistory> few = {finished(1, {{10, 0.1}, {20, 0.1}}), {2, tracking::RunStatus::running, {{10, 0.1}, {20, 0.1}}},
                                        {3, tracking::RunStatus::pruned, {{10, 0.1}}}};
  EXPECT_FALSE(pruner.should_prune({{10, 5.0}, {20, 5.0}}, few));
  // Maximizing flips the comparison.
  const Pruner maximizing(spec, /*minimize=*/false);
  EXPECT_FALSE(maximizing.should_prune({{10, 5.0}, {20, 0.6}}, peers));
  EXPECT_TRUE(maximizing.should_prune({{10, 0.0}, {20, 0.3}}, peers));
  EXPECT_NE(pruner.describe({{10, 5.0}, {20, 0.6}}, peers).find("median 0.5"), std::string::npos);
}

TEST(AshaPruner, KeepsTheTopThirdAtEachRung) {
  PruningSpec spec;
  spec.method = "asha";
  spec.min_step = 10;
  spec.reduction_factor = 3;
  const Pruner pruner(spec, /*minimize=*/true);
  // Rung 10: five peers reached it with 0.1 .. 0.5 (a running one counts, a killed one does not).
  std::vector<PeerHistory> peers;
  for (int i = 1; i <= 5; ++i) peers.push_back({i, i == 5 ? tracking::RunStatus::running : tracking::RunStatus::pruned, {{10, 0.1 * i}}});
  peers.push_back({9, tracking::RunStatus::killed, {{10, 0.01}}});
  // Six values with this trial's: the top 6/3 = 2 go on; the 2nd best value is 0.2.
  EXPECT_FALSE(pruner.should_prune({{10, 0.15}}, peers));
  EXPECT_FALSE(pruner.should_prune({{10, 0.2}}, peers));
  EXPECT_TRUE(pruner.should_prune({{10, 0.25}}, peers));
  // Between rungs nothing is judged; the next rung is 30.
  EXPECT_FALSE(pruner.should_prune({{10, 0.15}, {20, 9.0}}, peers));
  // Alone at a rung (fewer than eta values): it goes on only as the best.
  EXPECT_FALSE(pruner.should_prune({{10, 0.15}, {20, 9.0}, {30, 1.0}}, peers));
  EXPECT_TRUE(pruner.should_prune({{10, 0.15}, {30, 1.0}},
                                  {{1, tracking::RunStatus::finished, {{10, 0.1}, {30, 0.5}}}}));
}

TEST(NoPruner, NeverPrunes) {
  const Pruner pruner(PruningSpec{}, true);
  EXPECT_FALSE(pruner.enabled());
  EXPECT_FALSE(pruner.should_prune({{10, NAN}}, {}));
}

}  // namespace
}  // namespace rnnlab::experiments
