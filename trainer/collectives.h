// The few collective operations the training loop needs, over a dist::Communicator or,
// without one, for a single process (where each is the identity). Keeps the loop free of
// rank checks and of the communicator's details (buckets, overlap, timeouts).
#pragma once

#include <cstdint>

#include "trainer/objective.h"

namespace rnnlab::dist {
class Communicator;
}

namespace rnnlab::trainer {

class Collectives {
 public:
  explicit Collectives(dist::Communicator* communicator) : communicator_(communicator) {}

  int rank() const;
  int size() const;
  // Rank 0's values everywhere.
  void broadcast(float* values, int64_t count);
  // Element-wise sum over ranks, in place.
  void all_reduce_sum(float* values, int64_t count);
  MetricSums reduce(const MetricSums& local);

 private:
  dist::Communicator* communicator_;
};

}  // namespace rnnlab::trainer
