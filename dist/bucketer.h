// Bucketed gradient all-reduce that overlaps the backward pass.
//
// The gradients of a model live in ONE flat buffer; buckets are consecutive ranges of it.
// During backward the trainer calls ready(begin, end) as soon as a range of gradients is
// final; when a bucket is complete it is started (Communicator::start_all_reduce) and the
// layers below keep computing while it travels. finish() starts what is left and waits for
// everything, after which the buffer holds the sum/average over ranks.
//
// Order: buckets are started in ONE fixed order on every rank (by default from the last
// bucket to the first, the order a backward pass finishes them), whatever order ready() is
// called in: a complete bucket waits until the ones before it in that order have started.
// That keeps the async collectives matched across ranks even if a rank marks ranges in
// another order. ready() ranges must not overlap within a step (checked).
//
// Thread safety: one thread (the training loop). Ownership: the caller owns the buffer and
// the communicator; both must outlive the bucketer. The bucketer is reusable: after
// finish() the next step starts from scratch.
#pragma once

#include <cstddef>
#include <vector>

#include "dist/communicator.h"

namespace rnnlab::dist {

// Groups consecutive tensors into buckets of about `bucket_bytes` (a bucket closes as soon
// as it reaches the size; a tensor larger than that is a bucket of its own). `tensor_ends`
// are the end offsets (in floats) of the tensors in the flat buffer, increasing; returns the
// bucket end offsets (the last one is the buffer's size). Throws std::invalid_argument for
// non-increasing ends or bucket_bytes == 0.
std::vector<std::size_t> plan_buckets(const std::vector<std::size_t>& tensor_ends, std::size_t bucket_bytes);

enum class FireOrder { last_to_first, first_to_last };

class GradientBucketer {
 public:
  // bucket_ends: increasing end offsets in floats; the last one is the buffer's length.
  GradientBucketer(Communicator& communicator, float* gradients, std::vector<std::size_t> bucket_ends,
                   ReduceOp op = ReduceOp::average, FireOrder order = FireOrder::last_to_first);

  // Marks gradients [begin, end) final for this step; starts every bucket that is complete
  // and next in the fire order; lets in-flight buckets progress. Throws std::invalid_argument
  // for a range outside the buffer or one marked twice.
  void ready(std::size_t begin, std::size_t end);
  // Starts the buckets not started yet (in order), waits for all; resets for the next step.
  void finish();

  std::size_t bucket_begin(std::size_t bucket) const { return bucket == 0 ? 0 : ends_[bucket - 1]; }
  // Buckets started so far in this step (for tests and overlap diagnostics).
  std::size_t started_count() const { return next_to_fire_; }

 private:
  void fire_ready_buckets();
  std::size_t bucket_at(std::size_t position) const;  // index in fire order -> bucket

  Communicator& communicator_;
  float* gradients_;
  std::vector<std::size_t> ends_;
  ReduceOp op_;
  FireOrder order_;
  std::vector<std::size_t> marked_;  // floats marked ready per bucket this step
  std::vector<AsyncHandle> handles_;  // per bucket
  std::size_t next_to_fire_ = 0;     // position in fire order
};

}  // namespace rnnlab::dist
