// The deterministic scatter plan of the cuda embedding_backward (layers/ops.h), built on the
// host from the HOST ids and uploaded in one copy. Internal to layers/ (ops_gpu_dense.cu);
// plain C++ compiled in every build, so its tests run without a GPU.
//
// Packed int32 layout: [unique_count U | unique ids (U) | starts (U + 1) | positions].
// Positions are grouped by id, ids increasing, positions increasing within an id, so a
// table row sums its contributions in position order, as the cpu loop does (no atomics).
// Ids equal to padding_id (>= 0) or outside [0, vocab_size) are left out.
// Errors: std::invalid_argument for count < 0, count > INT32_MAX or vocab_size <= 0.
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <vector>

namespace rnnlab::layers::ops {

std::vector<int32_t> plan_embedding_backward(const int32_t* host_ids, int64_t count, int64_t vocab_size,
                                             int32_t padding_id);

}  // namespace rnnlab::layers::ops
