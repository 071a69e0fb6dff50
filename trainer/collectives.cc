#include "trainer/collectives.h"

#include <cstdint>

#include "dist/bucketer.h"
#include "dist/communicator.h"

namespace rnnlab::trainer {

Collectives::Collectives(dist::Communicator* communicator, float* gradients, int64_t count,
                         const std::vector<int64_t>& segment_ends, double bucket_megabytes, bool overlap)
    : communicator_(communicator && communicator->size() > 1 ? communicator : nullptr),
      gradients_(gradients),
      count_(count),
      overlap_(overlap) {
  if (!communicator_ || !overlap_) return;
  std::vector<std::size_t> ends(segment_ends.begin(), segment_ends.end());
  const auto bucket_bytes = std::size_t(bucket_megabytes * 1024 * 1024);
  bucketer_ = std::make_unique<dist::GradientBucketer>(*communicator_, gradients_,
                                                       dist::plan_buckets(ends, bucket_bytes), dist::ReduceOp::sum);
}

Collectives::~Collectives() = default;

int Collectives::rank() const { return communicator_ ? communicator_->rank() : 0; }
int Collectives::size() const { return communicator_ ? communicator_->size() : 1; }

void Collectives::broadcast(float* values, int64_t count) {
  if (communicator_) communicator_->broadcast(values, std::size_t(count), 0);
}

void Collectives::broadcast_bytes(std::string& bytes) {
  if (!communicator_) return;
  std::uint64_t size = bytes.size();
  communicator_->broadcast_bytes(&size, sizeof size, 0);
  bytes.resize(std::size_t(size));
  if (size > 0) communicator_->broadcast_bytes(bytes.data(), bytes.size(), 0);
}

MetricSums Collectives::reduce(const MetricSums& local) {
  if (!communicator_) return local;
  std::vector<double> values = local.to_vector();
  communicator_->all_reduce(values.data(), values.size(), dist::ScalarOp::sum);
  return MetricSums::from_vector(values);
}

void Collectives::vote(bool local_ok, const std::string& what, const std::string& message) {
  if (communicator_) {
    communicator_->check_all_ok(local_ok, what, message);
  } else if (!local_ok) {
    throw std::runtime_error(message);
  }
}

bool Collectives::any(bool local) {
  if (!communicator_) return local;
  return communicator_->all_reduce(local ? 1.0 : 0.0, dist::ScalarOp::max) > 0;
}

void Collectives::set_context(const std::string& context) {
  if (communicator_) communicator_->set_context(context);
}

void Collectives::begin_gradients() {}

void Collectives::ready(int64_t begin, int64_t end) {
  if (bucketer_) bucketer_->ready(std::size_t(begin), std::size_t(end));
}

void Collectives::end_gradients() {
  if (!communicator_) return;
  if (bucketer_)
    bucketer_->finish();
  else
    communicator_->all_reduce(gradients_, std::size_t(count_), dist::ReduceOp::sum);
}

}  // namespace rnnlab::trainer
