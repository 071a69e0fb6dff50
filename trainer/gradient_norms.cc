#include "trainer/gradient_norms.h"

#include <cmath>
#include <stdexcept>

namespace rnnlab::trainer {

GradientNorms::GradientNorms(const Model& model) {
  for (const auto& segment : model.segments()) {
    if (groups_.empty() || groups_.back().name != segment.group) groups_.push_back({segment.group, 0});
  }
}

void GradientNorms::accumulate(const std::vector<double>& group_square_sums) {
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].norm_sum += std::sqrt(group_square_sums.at(g));
  ++steps_;
}

std::map<std::string, double> GradientNorms::take() {
  std::map<std::string, double> out;
  for (auto& group : groups_) {
    if (steps_ > 0) out["grad_norm/" + group.name] = group.norm_sum / double(steps_);
    group.norm_sum = 0;
  }
  steps_ = 0;
  return out;
}

nlohmann::json GradientNorms::state() const {
  nlohmann::json sums = nlohmann::json::object();
  for (const auto& group : groups_) sums[group.name] = group.norm_sum;
  return {{"steps", steps_}, {"norm_sums", sums}};
}

void GradientNorms::restore(const nlohmann::json& state, const std::string& checkpoint) {
  for (auto& group : groups_) group.norm_sum = 0;
  steps_ = 0;
  if (state.is_null()) return;
  const nlohmann::json sums = state.value("norm_sums", nlohmann::json::object());
  for (auto& group : groups_) {
    if (!sums.contains(group.name) || !sums[group.name].is_number())
      throw std::runtime_error(checkpoint + ": gradient norm sums have no group '" + group.name + "'");
    group.norm_sum = sums[group.name].get<double>();
  }
  steps_ = state.value("steps", int64_t(0));
}

}  // namespace rnnlab::trainer
