// Measurements behind `rnnlab doctor`: all-reduce latency and bandwidth through the
// communicator and through the vendor's raw call on the same buffers, and whether an async
// all-reduce overlaps computation under each progress strategy.
//
// Every function here is collective (all ranks call it with the same arguments) and returns
// the same numbers on every rank: each timing is the maximum over ranks of that rank's
// median, since a collective is as slow as its slowest rank. Bandwidth follows nccl-tests:
// algbw = bytes / time, busbw = algbw * 2 (n - 1) / n for all-reduce.
#pragma once

#include <cstddef>
#include <vector>

#include "dist/communicator.h"

namespace rnnlab::dist {

struct AllReduceTiming {
  std::size_t bytes = 0;
  int iterations = 0;
  double wrapper_seconds = 0;  // Communicator::all_reduce(sum), median
  double raw_seconds = 0;      // Communicator::raw_all_reduce_sum, median
  double algbw_gbps = 0;       // of the wrapper, GB/s (1e9 bytes)
  double busbw_gbps = 0;
  double raw_busbw_gbps = 0;
  double overhead_percent = 0;  // (wrapper - raw) / raw * 100
};

// One row from the two medians: bandwidths (busbw = algbw x 2(n-1)/n, as nccl-tests) and
// the wrapper's overhead over the raw call. Shared by the host and the device benchmark.
AllReduceTiming make_timing(std::size_t bytes, int iterations, double wrapper_seconds, double raw_seconds,
                            int ranks);

// Sizes from `min_bytes` to `max_bytes`, each step times `factor` (sizes are rounded to
// whole floats). Wrapper and raw iterations alternate so that drift hits both alike; a
// barrier precedes each timed call. `iterations` per size and variant, after 2 warm-ups.
std::vector<AllReduceTiming> benchmark_all_reduce(Communicator& communicator, std::size_t min_bytes,
                                                  std::size_t max_bytes, int factor, int iterations);

// The same measurement on DEVICE buffers, for the "nccl" communicator (one GPU per rank).
// Throws std::invalid_argument for another communicator or when this build has no NCCL.
std::vector<AllReduceTiming> benchmark_device_all_reduce(Communicator& communicator, std::size_t min_bytes,
                                                         std::size_t max_bytes, int factor, int iterations);

struct OverlapTiming {
  Progress progress = Progress::none;
  double communication_seconds = 0;  // blocking all-reduce alone
  double compute_seconds = 0;        // the compute loop alone
  double combined_seconds = 0;       // start, compute (calling progress() 16 times), wait
  // (comm + compute - combined) / min(comm, compute): 0 = serial, 1 = perfectly hidden.
  double overlap_fraction = 0;
};

// Compute is a memory-light FMA loop sized to about the communication time. Restores the
// communicator's progress mode afterwards.
std::vector<OverlapTiming> measure_overlap(Communicator& communicator, std::size_t bytes,
                                           const std::vector<Progress>& modes, int iterations);

}  // namespace rnnlab::dist
