// Per-layer gradient norms (`grad_norm/<group>`), averaged over the steps between two
// evaluations. The running sums are part of the training state: a checkpoint saves them
// (state()) and a resume restores them (restore()), so an average that spans a resume is
// the one an uninterrupted training logs.
// Failure: restore() of a state saved for other groups (another model) throws
// std::runtime_error naming the checkpoint. Not thread safe (the training loop's).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/model.h"

namespace rnnlab::trainer {

class GradientNorms {
 public:
  explicit GradientNorms(const Model& model);
  // One sum of squared gradients per group, in group order (Engine::gradient_group_square_sums).
  void accumulate(const std::vector<double>& group_square_sums);
  // {"grad_norm/rnn.l0": mean norm, ...} since the last take(); resets.
  std::map<std::string, double> take();
  // {"steps": n, "norm_sums": {group: sum}}: what take() has not reported yet.
  nlohmann::json state() const;
  // A state() document; null (a checkpoint written before it was saved) means empty sums.
  void restore(const nlohmann::json& state, const std::string& checkpoint);

 private:
  struct Group {
    std::string name;
    double norm_sum = 0;
  };
  std::vector<Group> groups_;
  int64_t steps_ = 0;
};

}  // namespace rnnlab::trainer
