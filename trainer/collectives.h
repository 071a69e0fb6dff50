// The few collective operations the training loop needs, over a dist::Communicator or,
// without one, for a single process (where each is the identity). Keeps the loop free of
// rank checks and of the communicator's details (buckets, overlap, timeouts, votes).
//
// Gradient all-reduce is bucketed: begin_gradients() before backward, ready(begin, end)
// as ranges of the flat gradient buffer become final (the model calls it layer by layer),
// end_gradients() waits for the rest. With overlap off, everything goes in one blocking
// all-reduce at end_gradients().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trainer/objective.h"

namespace rnnlab::dist {
class Communicator;
class GradientBucketer;
}  // namespace rnnlab::dist

namespace rnnlab::trainer {

class Collectives {
 public:
  // segment_ends: end offsets of the parameter tensors (bucket boundaries fall on them).
  Collectives(dist::Communicator* communicator, float* gradients, int64_t count,
              const std::vector<int64_t>& segment_ends, double bucket_megabytes, bool overlap);
  ~Collectives();

  int rank() const;
  int size() const;
  // Rank 0's values everywhere.
  void broadcast(float* values, int64_t count);
  // Rank 0's bytes everywhere (the other ranks' `bytes` are replaced, whatever their size).
  void broadcast_bytes(std::string& bytes);
  MetricSums reduce(const MetricSums& local);
  // Throws dist::RankFailure on every rank when any rank's `local_ok` is false, naming
  // the ranks and their messages (a NaN loss on one rank stops all of them in step).
  void vote(bool local_ok, const std::string& what, const std::string& message);
  // True on every rank when any rank's `local` is true (a stop signal seen by some ranks
  // only: every rank must stop after the same step, or the others wait in a collective).
  bool any(bool local);
  // What the loop is doing, shown when a collective times out ("step 120").
  void set_context(const std::string& context);

  void begin_gradients();
  void ready(int64_t begin, int64_t end);  // a range of the gradient buffer is final
  void end_gradients();                    // after it, gradients are summed over ranks

 private:
  dist::Communicator* communicator_;
  float* gradients_;
  int64_t count_;
  bool overlap_;
  std::unique_ptr<dist::GradientBucketer> bucketer_;
};

}  // namespace rnnlab::trainer
