// The CPU implementation of the ops of layers/ops.h (ops_cpu.cc), declared for the one
// dispatch (ops.cc): the same functions minus the Device parameter, in the same order, as
// ops_gpu.h declares the CUDA ones (one list, ops_backend.inc, included by both). Internal
// to layers/: everything else calls layers/ops.h.
//
// Contracts are ops.h's, on HOST pointers. The arithmetic is that of dense.h, losses.h,
// dropout.h and the optimizer loops that trainer/optim.cc had, operation for operation,
// so CPU training curves stay bit-identical to the code before the ops existed. Ids and
// labels are checked here (std::invalid_argument naming the position) before anything is
// written. Thread safety: pure functions of their arguments.
#pragma once

#include <cstdint>

#include "layers/ops.h"

namespace rnnlab::layers::ops::cpu {

#include "layers/ops/ops_backend.inc"

}  // namespace rnnlab::layers::ops::cpu
