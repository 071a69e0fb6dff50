#include "dist/benchmark.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace rnnlab::dist {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Slowest rank's median.
double collective_median(Communicator& communicator, const std::vector<double>& samples) {
  return communicator.all_reduce(median(samples), ScalarOp::max);
}

// A chain of dependent FMAs over a small array: pure core time, little memory traffic, so
// that it competes with communication for the CPU only (like a recurrent backward pass).
float compute_chunk(std::vector<float>& values, long repeats) {
  for (long r = 0; r < repeats; ++r) {
    for (float& v : values) v = v * 0.999f + 0.001f;
  }
  return values[0];
}
volatile float g_sink = 0;  // keeps the compute loop's result observable

}  // namespace

AllReduceTiming make_timing(std::size_t bytes, int iterations, double wrapper_seconds, double raw_seconds,
                            int ranks) {
  AllReduceTiming row;
  row.bytes = bytes;
  row.iterations = iterations;
  row.wrapper_seconds = wrapper_seconds;
  row.raw_seconds = raw_seconds;
  row.algbw_gbps = static_cast<double>(bytes) / wrapper_seconds / 1e9;
  const double bus_factor = ranks > 1 ? 2.0 * (ranks - 1) / ranks : 1.0;
  row.busbw_gbps = row.algbw_gbps * bus_factor;
  row.raw_busbw_gbps = static_cast<double>(bytes) / raw_seconds / 1e9 * bus_factor;
  row.overhead_percent = (wrapper_seconds - raw_seconds) / raw_seconds * 100.0;
  return row;
}

std::vector<AllReduceTiming> benchmark_all_reduce(Communicator& communicator, std::size_t min_bytes,
                                                  std::size_t max_bytes, int factor, int iterations) {
  if (factor < 2 || iterations < 1 || min_bytes < sizeof(float) || max_bytes < min_bytes) {
    throw std::invalid_argument("benchmark_all_reduce: need 4 <= min_bytes <= max_bytes, factor >= 2, iterations >= 1");
  }
  std::vector<AllReduceTiming> rows;
  const int n = communicator.size();
  for (std::size_t bytes = min_bytes; bytes <= max_bytes; bytes *= static_cast<std::size_t>(factor)) {
    const std::size_t count = bytes / sizeof(float);
    std::vector<float> buffer(count, 1.0f);
    std::vector<double> wrapper, raw;
    for (int i = -2; i < iterations; ++i) {
      for (int variant = 0; variant < 2; ++variant) {
        communicator.barrier();
        const double start = now_seconds();
        if (variant == 0) {
          communicator.all_reduce(buffer.data(), count, ReduceOp::sum);
        } else {
          communicator.raw_all_reduce_sum(buffer.data(), count);
        }
        const double elapsed = now_seconds() - start;
        if (i >= 0) (variant == 0 ? wrapper : raw).push_back(elapsed);
        // Keep the values bounded (sums grow by n each call).
        std::fill(buffer.begin(), buffer.end(), 1.0f);
      }
    }
    rows.push_back(make_timing(count * sizeof(float), iterations, collective_median(communicator, wrapper),
                               collective_median(communicator, raw), n));
  }
  return rows;
}

#ifndef RNNLAB_HAVE_NCCL
std::vector<AllReduceTiming> benchmark_device_all_reduce(Communicator&, std::size_t, std::size_t, int, int) {
  throw std::invalid_argument("benchmark_device_all_reduce: this build of rnnlab has no NCCL (configure with "
                              "RNNLAB_WITH_CUDA=ON and MPI)");
}
#endif

std::vector<OverlapTiming> measure_overlap(Communicator& communicator, std::size_t bytes,
                                           const std::vector<Progress>& modes, int iterations) {
  const Progress original = communicator.progress_mode();
  const std::size_t count = bytes / sizeof(float);
  std::vector<float> buffer(count, 1.0f);
  std::vector<float> work(4096, 1.0f);
  constexpr int chunks = 16;

  std::vector<double> comm_samples;
  for (int i = -1; i < iterations; ++i) {
    communicator.barrier();
    const double start = now_seconds();
    communicator.all_reduce(buffer.data(), count, ReduceOp::sum);
    if (i >= 0) comm_samples.push_back(now_seconds() - start);
  }
  const double comm_seconds = collective_median(communicator, comm_samples);

  // Calibrate the compute loop to about the communication time: a guess from a short probe,
  // then one correction from a full-length run (the probe alone is off by the cache and
  // frequency effects of a short loop). Rank 0's calibration is broadcast so that every
  // rank computes the same amount.
  double probe_start = now_seconds();
  g_sink = compute_chunk(work, 256);
  double per_repeat = std::max(1e-9, (now_seconds() - probe_start) / 256);
  float repeats_per_chunk = static_cast<float>(std::max(1.0, comm_seconds / per_repeat / chunks));
  probe_start = now_seconds();
  for (int c = 0; c < chunks; ++c) g_sink = compute_chunk(work, static_cast<long>(repeats_per_chunk));
  const double full = std::max(1e-9, now_seconds() - probe_start);
  repeats_per_chunk = std::max(1.0f, static_cast<float>(repeats_per_chunk * comm_seconds / full));
  communicator.broadcast(&repeats_per_chunk, 1, 0);
  const long repeats = static_cast<long>(repeats_per_chunk);

  std::vector<double> compute_samples;
  for (int i = -1; i < iterations; ++i) {
    const double start = now_seconds();
    for (int c = 0; c < chunks; ++c) g_sink = compute_chunk(work, repeats);
    if (i >= 0) compute_samples.push_back(now_seconds() - start);
  }
  const double compute_seconds = collective_median(communicator, compute_samples);

  std::vector<OverlapTiming> results;
  for (Progress mode : modes) {
    communicator.set_progress(mode);
    std::vector<double> combined;
    for (int i = -1; i < iterations; ++i) {
      communicator.barrier();
      const double start = now_seconds();
      const AsyncHandle handle = communicator.start_all_reduce(buffer.data(), count, ReduceOp::sum);
      for (int c = 0; c < chunks; ++c) {
        g_sink = compute_chunk(work, repeats);
        communicator.progress();
      }
      communicator.wait(handle);
      if (i >= 0) combined.push_back(now_seconds() - start);
    }
    OverlapTiming timing;
    timing.progress = mode;
    timing.communication_seconds = comm_seconds;
    timing.compute_seconds = compute_seconds;
    timing.combined_seconds = collective_median(communicator, combined);
    timing.overlap_fraction = (comm_seconds + compute_seconds - timing.combined_seconds) /
                              std::min(comm_seconds, compute_seconds);
    results.push_back(timing);
  }
  communicator.set_progress(original);
  return results;
}

}  // namespace rnnlab::dist
