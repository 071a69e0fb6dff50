// Counter-based random numbers: the value at (seed, stream, index) is a pure function,
// so results do not depend on thread count, call order or backend. Used for weight
// initialisation, dropout masks and data shuffling. Header-only; thread safe (no state).
#pragma once

#include <cmath>
#include <cstdint>

namespace rnnlab::layers {

// SplitMix64 finaliser: a bijective 64-bit mix with full avalanche.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// 64 random bits for element `index` of stream `stream` under `seed`.
constexpr uint64_t random_bits(uint64_t seed, uint64_t stream, uint64_t index) {
  return mix64(mix64(seed ^ mix64(stream + 0x632BE59BD9B4E019ull)) + index);
}

// Uniform in [0, 1) with 24 random mantissa bits (exact in float).
constexpr float random_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return float(random_bits(seed, stream, index) >> 40) * (1.0f / 16777216.0f);
}

// Standard normal by Box-Muller on two independent uniforms (double inside).
inline double random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t bits_a = random_bits(seed, stream, 2 * index);
  const uint64_t bits_b = random_bits(seed, stream, 2 * index + 1);
  const double u1 = (double(bits_a >> 11) + 1.0) * (1.0 / 9007199254740992.0);  // (0, 1]
  const double u2 = double(bits_b >> 11) * (1.0 / 9007199254740992.0);          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// A sequential generator for code that just wants "the next number" (shuffles, sampling).
// Its whole state is (seed, stream, counter), so it can be checkpointed and restored.
struct RandomStream {
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t counter = 0;

  uint64_t next_bits() { return random_bits(seed, stream, counter++); }
  float next_uniform() { return random_uniform(seed, stream, counter++); }
  // Uniform integer in [0, bound), bound > 0 (Lemire's multiply-shift; bias < 2^-32).
  uint64_t next_below(uint64_t bound) {
    __extension__ using u128 = unsigned __int128;  // GCC/Clang builtin; -Wpedantic knows no 128-bit type
    return uint64_t((static_cast<u128>(next_bits()) * bound) >> 64);
  }
};

}  // namespace rnnlab::layers
