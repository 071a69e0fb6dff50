#include "dist/bucketer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rnnlab::dist {

std::vector<std::size_t> plan_buckets(const std::vector<std::size_t>& tensor_ends, std::size_t bucket_bytes) {
  if (bucket_bytes == 0) throw std::invalid_argument("plan_buckets: bucket_bytes must be > 0");
  std::vector<std::size_t> bucket_ends;
  std::size_t previous = 0;
  std::size_t bucket_begin = 0;
  for (std::size_t end : tensor_ends) {
    if (end <= previous) {
      throw std::invalid_argument("plan_buckets: tensor ends must increase (" + std::to_string(end) + " after " +
                                  std::to_string(previous) + ")");
    }
    previous = end;
    if ((end - bucket_begin) * sizeof(float) >= bucket_bytes) {
      bucket_ends.push_back(end);
      bucket_begin = end;
    }
  }
  if (!tensor_ends.empty() && (bucket_ends.empty() || bucket_ends.back() != tensor_ends.back())) {
    bucket_ends.push_back(tensor_ends.back());
  }
  return bucket_ends;
}

GradientBucketer::GradientBucketer(Communicator& communicator, float* gradients, std::vector<std::size_t> bucket_ends,
                                   ReduceOp op, FireOrder order)
    : communicator_(communicator), gradients_(gradients), ends_(std::move(bucket_ends)), op_(op), order_(order) {
  if (ends_.empty()) throw std::invalid_argument("GradientBucketer: no buckets");
  for (std::size_t b = 0; b < ends_.size(); ++b) {
    if (ends_[b] <= bucket_begin(b)) {
      throw std::invalid_argument("GradientBucketer: bucket ends must increase (bucket " + std::to_string(b) + ")");
    }
  }
  if (gradients_ == nullptr) throw std::invalid_argument("GradientBucketer: null gradient buffer");
  marked_.assign(ends_.size(), 0);
  handles_.assign(ends_.size(), AsyncHandle{});
}

std::size_t GradientBucketer::bucket_at(std::size_t position) const {
  return order_ == FireOrder::first_to_last ? position : ends_.size() - 1 - position;
}

void GradientBucketer::ready(std::size_t begin, std::size_t end) {
  if (begin >= end || end > ends_.back()) {
    throw std::invalid_argument("GradientBucketer::ready: range [" + std::to_string(begin) + ", " +
                                std::to_string(end) + ") is empty or outside the buffer of " +
                                std::to_string(ends_.back()) + " floats");
  }
  // Buckets touched by the range: the first whose end is past `begin` onwards.
  auto first = std::upper_bound(ends_.begin(), ends_.end(), begin);
  for (auto it = first; it != ends_.end(); ++it) {
    const std::size_t b = static_cast<std::size_t>(it - ends_.begin());
    const std::size_t lo = std::max(begin, bucket_begin(b));
    const std::size_t hi = std::min(end, ends_[b]);
    if (lo >= hi) break;
    marked_[b] += hi - lo;
    if (marked_[b] > ends_[b] - bucket_begin(b)) {
      throw std::invalid_argument("GradientBucketer::ready: bucket " + std::to_string(b) +
                                  " marked ready more than once in this step");
    }
  }
  fire_ready_buckets();
  communicator_.progress();
}

void GradientBucketer::fire_ready_buckets() {
  while (next_to_fire_ < ends_.size()) {
    const std::size_t b = bucket_at(next_to_fire_);
    if (marked_[b] != ends_[b] - bucket_begin(b)) return;
    handles_[b] = communicator_.start_all_reduce(
        gradients_ + bucket_begin(b), ends_[b] - bucket_begin(b), op_,
        OpLabel{static_cast<int>(b), static_cast<int>(ends_.size())});
    ++next_to_fire_;
  }
}

void GradientBucketer::finish() {
  // Buckets never marked (parameters without gradient this step) still go out, so every
  // rank issues the same operations.
  for (std::size_t b = 0; b < ends_.size(); ++b) marked_[b] = ends_[b] - bucket_begin(b);
  fire_ready_buckets();
  for (std::size_t position = 0; position < ends_.size(); ++position) {
    communicator_.wait(handles_[bucket_at(position)]);
  }
  std::fill(marked_.begin(), marked_.end(), 0);
  next_to_fire_ = 0;
}

}  // namespace rnnlab::dist
