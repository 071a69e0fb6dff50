// Inverted dropout with masks drawn from a counter-based generator: the mask of element i
// under (seed, stream) is the same on every backend and thread count, which lets tests
// compare backends with dropout on, and makes training bit-reproducible.
#pragma once

#include <cstdint>

#include "layers/random.h"

namespace rnnlab::layers {

// Keep probability 1 - p; kept elements are scaled by 1 / (1 - p). p in [0, 1).
inline float dropout_scale(uint64_t seed, uint64_t stream, uint64_t index, float p) {
  return random_uniform(seed, stream, index) < p ? 0.0f : 1.0f / (1.0f - p);
}

// dst[i] = src[i] * mask[i]; writes the mask (0 or 1/(1-p)) for the backward pass.
// src and dst may alias. With p == 0 the mask is all ones.
inline void dropout_forward(const float* src, float* dst, float* mask, int64_t count, float p, uint64_t seed,
                            uint64_t stream) {
  for (int64_t i = 0; i < count; ++i) {
    mask[i] = p > 0.0f ? dropout_scale(seed, stream, uint64_t(i), p) : 1.0f;
    dst[i] = src[i] * mask[i];
  }
}

// Streams used by the recurrent stack: the mask after layer k is stream kRecurrentDropoutStream + k.
constexpr uint64_t kRecurrentDropoutStream = 0x1000;

}  // namespace rnnlab::layers
