// layers/ops/embedding_plan.h: a stable counting sort of the positions by id.
#include "layers/ops/embedding_plan.h"

#include <climits>
#include <stdexcept>
#include <string>

namespace rnnlab::layers::ops {

std::vector<int32_t> plan_embedding_backward(const int32_t* host_ids, int64_t count, int64_t vocab_size,
                                             int32_t padding_id) {
  if (count < 0 || count > INT_MAX || vocab_size <= 0)
    throw std::invalid_argument("ops::embedding_backward: count = " + std::to_string(count) +
                                ", vocab_size = " + std::to_string(vocab_size) +
                                ": need 0 <= count <= 2^31 - 1 and vocab_size > 0");
  const auto planned = [&](int32_t id) { return id >= 0 && id < vocab_size && id != padding_id; };
  // 1. Positions per id, then the ids that occur and where their positions start.
  std::vector<int32_t> per_id(size_t(vocab_size) + 1, 0);
  for (int64_t i = 0; i < count; ++i)
    if (planned(host_ids[i])) ++per_id[size_t(host_ids[i]) + 1];
  std::vector<int32_t> unique_ids, starts{0};
  for (int64_t id = 0; id < vocab_size; ++id) {
    if (per_id[size_t(id) + 1] == 0) continue;
    unique_ids.push_back(int32_t(id));
    starts.push_back(starts.back() + per_id[size_t(id) + 1]);
  }
  // 2. Stable placement: per_id becomes each id's next free slot.
  for (int64_t id = 0; id < vocab_size; ++id) per_id[size_t(id) + 1] += per_id[size_t(id)];
  std::vector<int32_t> positions(size_t(starts.back()));
  for (int64_t i = 0; i < count; ++i)
    if (planned(host_ids[i])) positions[size_t(per_id[size_t(host_ids[i])]++)] = int32_t(i);
  // 3. Pack [U | ids | starts | positions].
  std::vector<int32_t> packed;
  packed.reserve(1 + unique_ids.size() + starts.size() + positions.size());
  packed.push_back(int32_t(unique_ids.size()));
  packed.insert(packed.end(), unique_ids.begin(), unique_ids.end());
  packed.insert(packed.end(), starts.begin(), starts.end());
  packed.insert(packed.end(), positions.begin(), positions.end());
  return packed;
}

}  // namespace rnnlab::layers::ops
