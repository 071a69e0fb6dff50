#include "layers/modules/module.h"

#include <stdexcept>
#include <utility>

namespace rnnlab::layers {

int64_t shape_size(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t ParamSegment::size() const { return shape_size(shape); }

int64_t ParameterSet::add(std::string name, std::vector<int64_t> shape, std::string group) {
  if (allocated_) throw std::logic_error("ParameterSet::add('" + name + "') after allocate()");
  segments_.push_back({std::move(name), std::move(shape), count_, std::move(group)});
  count_ += segments_.back().size();
  return segments_.back().offset;
}

void ParameterSet::allocate() {
  allocated_ = true;
  params_.resize(size_t(count_));
  grads_.resize(size_t(count_));
  params_.zero();
  grads_.zero();
  if (!params_.on_cpu()) mirror_.assign(size_t(count_), 0.0f);
}

void ParameterSet::to_host() {
  if (!params_.on_cpu()) params_.download(mirror_.data());
}

void ParameterSet::from_host() {
  if (!params_.on_cpu()) params_.upload(mirror_);
}

Module::Module(ParameterSet& parameters, std::string name)
    : parameters_(parameters), name_(std::move(name)), begin_(parameters.count()), end_(parameters.count()) {}

int64_t Module::add(const std::string& suffix, std::vector<int64_t> shape, const std::string& group) {
  const int64_t offset = parameters_.add(name_ + "." + suffix, std::move(shape), group.empty() ? name_ : group);
  if (begin_ == end_) begin_ = offset;
  end_ = parameters_.count();
  return offset;
}

}  // namespace rnnlab::layers
