// `rnnlab doctor`: the pre-flight check of a (multi-host) MPI job, run as
//   mpirun -np N [--hostfile H] rnnlab doctor
// Every rank reports host, pid, threads, library versions and a build id (a hash of its own
// executable); rank 0 prints the table, and a build id that differs between ranks is an
// error on every rank. Then an all-reduce benchmark from 4 KB to 64 MB through the
// communicator and through the raw vendor call (the wrapper's overhead), and whether an
// async all-reduce overlaps computation under each progress strategy.
// Without mpirun it runs as one local rank (no communication to measure).
// --nccl: the same over the NCCL communicator (one GPU per rank, device buffers; the overlap
// test is skipped: NCCL progresses on the GPU by itself). Fails, naming the rank, where a
// rank has no GPU or the build has no NCCL.
#include <CLI/CLI.hpp>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "dist/benchmark.h"
#include "dist/communicator.h"
#include "tools/cli/commands.h"

namespace rnnlab::cli {
namespace {

struct DoctorOptions {
  std::string min_size = "4K";
  std::string max_size = "64M";
  int factor = 4;
  int iterations = 20;
  std::string overlap_size = "16M";
  double timeout_seconds = 60;
  bool skip_bench = false;
  bool nccl = false;
};

std::size_t parse_size(const std::string& text, const char* option) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string suffix = text.substr(used);
  double scale = 1;
  if (suffix == "K" || suffix == "KB") scale = 1024;
  else if (suffix == "M" || suffix == "MB") scale = 1024.0 * 1024;
  else if (suffix == "G" || suffix == "GB") scale = 1024.0 * 1024 * 1024;
  else if (!suffix.empty() || used == 0) scale = -1;
  if (scale < 0 || value <= 0) {
    throw std::invalid_argument(std::string(option) + ": '" + text + "' is not a size (e.g. 4096, 4K, 64M)");
  }
  return static_cast<std::size_t>(value * scale);
}

// FNV-1a over the executable's bytes: equal on every rank iff every rank runs the same build.
std::string build_id() {
  std::ifstream file("/proc/self/exe", std::ios::binary);
  if (!file) return "unknown";
  std::uint64_t hash = 1469598103934665603ull;
  std::vector<char> chunk(1 << 16);
  while (file) {
    file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    for (std::streamsize i = 0; i < file.gcount(); ++i) {
      hash = (hash ^ static_cast<unsigned char>(chunk[static_cast<std::size_t>(i)])) * 1099511628211ull;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::string human_size(std::size_t bytes) {
  char text[32];
  if (bytes >= (1u << 20)) std::snprintf(text, sizeof text, "%zu MB", bytes >> 20);
  else if (bytes >= 1024) std::snprintf(text, sizeof text, "%zu KB", bytes >> 10);
  else std::snprintf(text, sizeof text, "%zu B", bytes);
  return text;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) parts.push_back(part);
  return parts;
}

int report_ranks(dist::Communicator& comm) {
  const char* omp_env = std::getenv("OMP_NUM_THREADS");
  const std::string mine = comm.host_name() + "\t" + std::to_string(getpid()) + "\t" + std::to_string(comm.local_rank()) +
                           "\t" + (omp_env != nullptr ? omp_env : "unset") + "\t" +
                           std::to_string(omp_get_max_threads()) + "\t" + build_id() + "\t" + comm.library_version();
  const std::vector<std::string> rows = comm.all_gather(mine);
  std::vector<std::string> build_ids;
  for (const std::string& row : rows) build_ids.push_back(split(row, '\t').at(5));
  if (comm.rank() == 0) {
    std::printf("rnnlab %s doctor: %d rank(s), communicator '%s'\n\n", RNNLAB_VERSION, comm.size(),
                std::string(comm.backend()).c_str());
    std::printf("%-5s %-16s %-8s %-5s %-7s %-7s %-17s %s\n", "rank", "host", "pid", "local", "OMP_NUM", "threads",
                "build id", "library");
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const std::vector<std::string> f = split(rows[r], '\t');
      std::printf("%-5zu %-16s %-8s %-5s %-7s %-7s %-17s %s%s\n", r, f.at(0).c_str(), f.at(1).c_str(), f.at(2).c_str(),
                  f.at(3).c_str(), f.at(4).c_str(), f.at(5).c_str(), f.size() > 6 ? f.at(6).c_str() : "",
                  build_ids[r] != build_ids.front() ? "   <-- differs from rank 0" : "");
    }
    const std::string nccl = dist::nccl_version();
    std::printf("\nNCCL: %s\n\n", nccl.empty() ? "not in this build"
                                             : comm.backend() == "nccl" ? nccl.c_str()
                                                                        : (nccl + " (rnnlab doctor --nccl measures it on the GPUs)").c_str());
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores > 0 && comm.local_size() > cores) {
      std::printf("warning: %d ranks share %ld cores on host %s: timings below include time slicing\n\n",
                  comm.local_size(), cores, comm.host_name().c_str());
    }
    std::fflush(stdout);
  }
  // Every rank votes, so every rank fails alike (RankFailure) and the job ends cleanly.
  const std::string& my_id = build_ids.at(static_cast<std::size_t>(comm.rank()));
  comm.check_all_ok(my_id == build_ids.front(), "the build check",
                    "build id " + my_id + " differs from rank 0's " + build_ids.front() +
                        " (install one build of rnnlab everywhere)");
  return 0;
}

struct Sizes {
  std::size_t min_bytes, max_bytes, overlap_bytes;
};

void report_bench(dist::Communicator& comm, const DoctorOptions& options, const Sizes& sizes) {
  const std::size_t min_bytes = sizes.min_bytes;
  const std::size_t max_bytes = sizes.max_bytes;
  const bool device = comm.backend() == "nccl";
  const auto rows = device ? dist::benchmark_device_all_reduce(comm, min_bytes, max_bytes, options.factor, options.iterations)
                           : dist::benchmark_all_reduce(comm, min_bytes, max_bytes, options.factor, options.iterations);
  if (comm.rank() == 0) {
    std::printf("%sall-reduce (sum, float32, in place), median of %d, slowest rank; busbw = algbw * 2(n-1)/n\n",
                device ? "NCCL device-buffer " : "", options.iterations);
    std::printf("%10s %12s %10s %10s %12s %10s %9s\n", "size", "time (us)", "algbw GB/s", "busbw GB/s", "raw time (us)",
                "raw busbw", "overhead");
    for (const auto& row : rows) {
      std::printf("%10s %12.1f %10.3f %10.3f %12.1f %10.3f %8.1f%%\n", human_size(row.bytes).c_str(),
                  row.wrapper_seconds * 1e6, row.algbw_gbps, row.busbw_gbps, row.raw_seconds * 1e6,
                  row.raw_busbw_gbps, row.overhead_percent);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  if (device) return;  // the overlap test computes on the CPU against host buffers
  const std::size_t overlap_bytes = sizes.overlap_bytes;
  const auto overlaps = dist::measure_overlap(
      comm, overlap_bytes, {dist::Progress::none, dist::Progress::poll, dist::Progress::thread}, options.iterations / 2 + 1);
  if (comm.rank() == 0) {
    std::printf("overlap of an async all-reduce of %s with computation (1 = fully hidden, 0 = serial)\n",
                human_size(overlap_bytes).c_str());
    std::printf("%-8s %10s %12s %13s %8s\n", "progress", "comm (ms)", "compute (ms)", "together (ms)", "overlap");
    for (const auto& o : overlaps) {
      // Together can never beat the longer of the two; if it does, the machine is noisy.
      const bool noisy = o.combined_seconds < 0.95 * std::max(o.communication_seconds, o.compute_seconds);
      std::printf("%-8s %10.2f %12.2f %13.2f %8.2f%s\n", std::string(dist::to_string(o.progress)).c_str(),
                  o.communication_seconds * 1e3, o.compute_seconds * 1e3, o.combined_seconds * 1e3, o.overlap_fraction,
                  noisy ? "  (noisy: together < max(comm, compute))" : "");
    }
    std::fflush(stdout);
  }
}

}  // namespace

void add_doctor_command(CLI::App& app, Commands& commands) {
  auto options = std::make_shared<DoctorOptions>();
  CLI::App* doctor = app.add_subcommand("doctor", "pre-flight check of an MPI job: ranks, builds, all-reduce speed");
  doctor->add_option("--min-size", options->min_size, "smallest all-reduce (bytes; K, M suffixes)")->capture_default_str();
  doctor->add_option("--max-size", options->max_size, "largest all-reduce")->capture_default_str();
  doctor->add_option("--factor", options->factor, "size step factor")->capture_default_str()->check(CLI::Range(2, 1024));
  doctor->add_option("--iterations", options->iterations, "timed iterations per size")->capture_default_str()->check(CLI::Range(1, 100000));
  doctor->add_option("--overlap-size", options->overlap_size, "all-reduce size of the overlap test")->capture_default_str();
  doctor->add_option("--timeout", options->timeout_seconds, "seconds before a stalled collective aborts the job")->capture_default_str();
  doctor->add_flag("--skip-bench", options->skip_bench, "only the rank report and the build check");
  doctor->add_flag("--nccl", options->nccl, "use the NCCL communicator (one GPU per rank) and time it on device buffers");
  commands["doctor"] = [options]() {
    // User mistakes first, before any rank depends on another.
    const Sizes sizes{parse_size(options->min_size, "--min-size"), parse_size(options->max_size, "--max-size"),
                      parse_size(options->overlap_size, "--overlap-size")};
    if (sizes.min_bytes < 4 || sizes.max_bytes < sizes.min_bytes) {
      throw std::invalid_argument("--min-size/--max-size: need 4 bytes <= min <= max");
    }
    dist::CommunicatorOptions comm_options;
    comm_options.timeout_seconds = options->timeout_seconds;
    if (options->nccl) {
      if (dist::nccl_version().empty())
        throw std::invalid_argument("doctor --nccl: this build of rnnlab has no NCCL (it needs the GPU path and MPI)");
      comm_options.backend = "nccl";  // fails on every rank, naming the ranks, where one has no GPU
    }
    auto comm = dist::create_communicator(comm_options);
    try {
      report_ranks(*comm);
      if (!options->skip_bench) report_bench(*comm, *options, sizes);
    } catch (const dist::RankFailure&) {
      throw;  // every rank has it: every rank exits non-zero, in step
    } catch (const std::exception& error) {
      if (comm->size() == 1) throw;
      comm->fail(error.what());  // possibly this rank's alone: end the job, nobody waits
    }
    return 0;
  };
}

}  // namespace rnnlab::cli
