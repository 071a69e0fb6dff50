// The NCCL communicator (contract in dist/nccl/nccl_communicator.h). The only file of rnnlab
// that includes nccl.h. dist knows nothing of layers/, so the few CUDA runtime calls it
// needs (device choice, a stream, events, a benchmark buffer) are made here directly and
// checked with RNNLAB_CUDA_DIST; NCCL results go through RNNLAB_NCCL.
//
// The communicator is created non-blocking (ncclConfig_t.blocking = 0), so that no NCCL
// call can hang the process: every call returns at once (possibly ncclInProgress) and
// wait_until_done() polls ncclCommGetAsyncError and the stream until the work is done, an
// error shows, or the timeout passes (then ncclCommAbort and a RankFailure).
#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dist/benchmark.h"
#include "dist/mpi/mpi_communicator.h"
#include "dist/nccl/nccl_communicator.h"
#include "dist/watchdog.h"

namespace rnnlab::dist {
namespace {

using Clock = std::chrono::steady_clock;

void check_nccl(ncclResult_t code, const char* call, int rank) {
  // ncclInProgress is the normal answer of a non-blocking communicator: the operation was
  // accepted and completes asynchronously (wait_until_done() checks it).
  if (code == ncclSuccess || code == ncclInProgress) return;
  throw std::runtime_error("rank " + std::to_string(rank) + ": " + call + " failed: " + ncclGetErrorString(code));
}
void check_cuda_dist(cudaError_t code, const char* call, int rank) {
  if (code == cudaSuccess) return;
  throw std::runtime_error("rank " + std::to_string(rank) + ": " + call + " failed: " + cudaGetErrorString(code));
}
#define RNNLAB_NCCL(call) check_nccl((call), #call, rank_)
#define RNNLAB_CUDA_DIST(call) check_cuda_dist((call), #call, rank_)

std::string version_text(int code) {
  // NCCL_VERSION_CODE since 2.9: major * 10000 + minor * 100 + patch.
  return "NCCL " + std::to_string(code / 10000) + "." + std::to_string(code / 100 % 100) + "." +
         std::to_string(code % 100);
}

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(const CommunicatorOptions& options);
  ~NcclCommunicator() override;

  std::string_view backend() const override { return "nccl"; }
  std::string library_version() const override;
  void set_context(std::string context) override {
    mpi_->set_context(context);
    context_ = std::move(context);
  }

  void all_reduce(float* data, std::size_t count, ReduceOp op) override;
  void all_reduce(double* data, std::size_t count, ScalarOp op) override { mpi_->all_reduce(data, count, op); }
  void broadcast(float* data, std::size_t count, int root) override;
  void broadcast_bytes(void* data, std::size_t bytes, int root) override { mpi_->broadcast_bytes(data, bytes, root); }
  std::vector<std::uint8_t> all_gather_bytes(const void* data, std::size_t bytes) override {
    return mpi_->all_gather_bytes(data, bytes);
  }
  void barrier() override { mpi_->barrier(); }

  AsyncHandle start_all_reduce(float* data, std::size_t count, ReduceOp op, OpLabel label) override;
  void wait(AsyncHandle handle) override;
  void progress() override {}
  void set_progress(Progress progress) override { progress_ = progress; }
  Progress progress_mode() const override { return progress_; }

  [[noreturn]] void fail(const std::string& message) override {
    mpi_->fail(message);  // [[noreturn]] there too: MPI_Abort
    std::abort();         // unreachable; tells the compiler so through a virtual call
  }
  void raw_all_reduce_sum(float* data, std::size_t count) override;

 private:
  struct Pending {
    cudaEvent_t done = nullptr;
    OpLabel label;
    std::size_t count = 0;
  };
  // Polls until `done` (or, when null, the whole stream) has completed. Throws RankFailure
  // on timeout and std::runtime_error on an NCCL/CUDA error, aborting the NCCL communicator.
  void wait_until_done(cudaEvent_t done, const char* op, OpLabel label, std::size_t count);
  // Polls until NCCL has accepted the last call (ncclCommGetAsyncError leaves
  // ncclInProgress); same errors as wait_until_done.
  void wait_until_enqueued(const char* op, OpLabel label, std::size_t count);
  void abort_nccl();
  void check_root(int root) const;

  std::unique_ptr<Communicator> mpi_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  int device_ = 0;
  std::string context_;
  Progress progress_;
  std::int64_t next_handle_ = 0;
  std::map<std::int64_t, Pending> pending_;
};

NcclCommunicator::NcclCommunicator(const CommunicatorOptions& options) : progress_(options.progress) {
  // 1. MPI first: ranks, local ranks, the host name, and the channel for the unique id.
  CommunicatorOptions mpi_options = options;
  mpi_options.backend = "mpi";
  mpi_options.progress = Progress::none;  // no MPI async traffic: no progress thread
  mpi_ = create_mpi_communicator(mpi_options);
  // The bootstrap's watchdog (host collectives: metrics, votes) ends the job from its thread;
  // the hook the caller sets on THIS communicator runs first (base members outlive mpi_).
  mpi_->set_failure_hook([this](const std::string& message) { run_failure_hook(message); });
  rank_ = mpi_->rank();
  size_ = mpi_->size();
  local_rank_ = mpi_->local_rank();
  local_size_ = mpi_->local_size();
  host_name_ = mpi_->host_name();
  timeout_seconds_ = options.timeout_seconds;

  // 2. One GPU per rank: every rank votes, so a host with too few GPUs fails all ranks.
  int devices = 0;
  const cudaError_t query = cudaGetDeviceCount(&devices);
  std::string problem;
  if (query != cudaSuccess) {
    problem = std::string("no CUDA device (cudaGetDeviceCount: ") + cudaGetErrorString(query) + ")";
    cudaGetLastError();
    devices = 0;
  } else if (devices == 0) {
    problem = "no CUDA device (cudaGetDeviceCount: 0 devices)";
  } else if (local_size_ > devices) {
    problem = std::to_string(local_size_) + " ranks on host " + host_name_ + " share " + std::to_string(devices) +
              " GPU(s); NCCL needs one GPU per rank (start fewer ranks per host)";
  }
  mpi_->check_all_ok(problem.empty(), "the NCCL setup", problem);
  device_ = local_rank_ % devices;
  RNNLAB_CUDA_DIST(cudaSetDevice(device_));
  RNNLAB_CUDA_DIST(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));

  // 3. Rank 0's unique id reaches every rank over MPI_Bcast; then a non-blocking init,
  //    waited for with the same timeout as every collective.
  ncclUniqueId id{};
  if (rank_ == 0) RNNLAB_NCCL(ncclGetUniqueId(&id));
  mpi_->broadcast_bytes(&id, sizeof id, 0);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  RNNLAB_NCCL(ncclCommInitRankConfig(&comm_, size_, id, rank_, &config));
  wait_until_done(nullptr, "ncclCommInitRank", {}, 0);
}

NcclCommunicator::~NcclCommunicator() {
  // Unwinding on an error only this rank has: the others may sit in a collective, so the
  // NCCL communicator is aborted (never a finalize that would wait for them); the MPI
  // communicator's destructor then ends the job. When every rank has the same RankFailure
  // (check_all_ok), the MPI communicator learns it too through one more vote, so that it
  // finalises cleanly instead of aborting the job.
  const bool unwinding = std::uncaught_exceptions() > 0;
  for (auto& [id, pending] : pending_) cudaEventDestroy(pending.done);
  if (comm_ != nullptr) {
    if (unwinding) {
      abort_nccl();
    } else {
      ncclCommFinalize(comm_);
      ncclResult_t state = ncclInProgress;
      const auto start = Clock::now();
      while (state == ncclInProgress && ncclCommGetAsyncError(comm_, &state) == ncclSuccess &&
             (timeout_seconds_ <= 0 || std::chrono::duration<double>(Clock::now() - start).count() < timeout_seconds_))
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      if (state == ncclSuccess)
        ncclCommDestroy(comm_);
      else
        ncclCommAbort(comm_);
      comm_ = nullptr;
    }
  }
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  if (unwinding && failure_is_collective_) {
    try {
      mpi_->check_all_ok(false, "shutdown after a collective failure");
    } catch (const RankFailure&) {
      // expected on every rank: it marks the MPI communicator's failure as collective
    }
  }
}

std::string NcclCommunicator::library_version() const {
  int code = 0;
  ncclGetVersion(&code);
  return version_text(code) + " on GPU " + std::to_string(device_) + " (bootstrap: " + mpi_->library_version() + ")";
}

void NcclCommunicator::abort_nccl() {
  if (comm_ == nullptr) return;
  ncclCommAbort(comm_);
  comm_ = nullptr;
}

void NcclCommunicator::check_root(int root) const {
  if (root < 0 || root >= size_)
    throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is not a rank (size " +
                                std::to_string(size_) + ")");
}

void NcclCommunicator::wait_until_enqueued(const char* op, OpLabel label, std::size_t count) {
  ncclResult_t state = ncclInProgress;
  RNNLAB_NCCL(ncclCommGetAsyncError(comm_, &state));
  if (state == ncclSuccess) return;  // the usual case: accepted at once
  // Rare: let the full wait handle errors and the timeout, on an event recorded nowhere yet
  // (nullptr: it then also waits for the stream, which is only slower, never wrong).
  wait_until_done(nullptr, op, label, count);
}

void NcclCommunicator::wait_until_done(cudaEvent_t done, const char* op, OpLabel label, std::size_t count) {
  if (comm_ == nullptr)
    throw std::runtime_error("rank " + std::to_string(rank_) + ": " + op + " on an aborted NCCL communicator");
  const auto start = Clock::now();
  int sleep_us = 1;
  while (true) {
    // 1. NCCL's own verdict: in progress (keep waiting), an error (abort), or success.
    ncclResult_t state = ncclSuccess;
    RNNLAB_NCCL(ncclCommGetAsyncError(comm_, &state));
    if (state != ncclSuccess && state != ncclInProgress) {
      const std::string detail = ncclGetLastError(comm_);
      abort_nccl();
      throw std::runtime_error("rank " + std::to_string(rank_) + ": NCCL error in " +
                               describe_operation(op, label, count, "floats", context_) + ": " +
                               ncclGetErrorString(state) + (detail.empty() ? "" : " (" + detail + ")") +
                               "; NCCL communicator aborted");
    }
    // 2. The GPU work itself (after NCCL has accepted the operation).
    if (state == ncclSuccess) {
      const cudaError_t query = done != nullptr ? cudaEventQuery(done) : cudaStreamQuery(stream_);
      if (query == cudaSuccess) return;
      if (query != cudaErrorNotReady) {
        abort_nccl();
        check_cuda_dist(query, done != nullptr ? "cudaEventQuery" : "cudaStreamQuery", rank_);
      }
    }
    // 3. The watchdog.
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (timeout_seconds_ > 0 && elapsed > timeout_seconds_) {
      abort_nccl();
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.0f", timeout_seconds_);
      const std::string message = "rank " + std::to_string(rank_) + ": timed out after " + seconds + " s in " +
                                  describe_operation(op, label, count, "floats", context_) +
                                  "; NCCL communicator aborted";
      std::fprintf(stderr, "%s\n", message.c_str());
      std::fflush(stderr);
      throw RankFailure(message, {rank_});
    }
    // Spin briefly (collectives of small buckets finish in microseconds), then back off.
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    sleep_us = std::min(sleep_us * 2, 200);
  }
}

void NcclCommunicator::all_reduce(float* data, std::size_t count, ReduceOp op) {
  if (comm_ == nullptr) throw std::runtime_error("rank " + std::to_string(rank_) + ": NCCL communicator was aborted");
  RNNLAB_NCCL(ncclAllReduce(data, data, count, ncclFloat, op == ReduceOp::average ? ncclAvg : ncclSum, comm_, stream_));
  wait_until_done(nullptr, "all_reduce", {}, count);
}

void NcclCommunicator::broadcast(float* data, std::size_t count, int root) {
  check_root(root);
  if (comm_ == nullptr) throw std::runtime_error("rank " + std::to_string(rank_) + ": NCCL communicator was aborted");
  RNNLAB_NCCL(ncclBroadcast(data, data, count, ncclFloat, root, comm_, stream_));
  wait_until_done(nullptr, "broadcast", {}, count);
}

void NcclCommunicator::raw_all_reduce_sum(float* data, std::size_t count) {
  // No label, no timeout: only the non-blocking handshake NCCL requires, then the stream.
  ncclResult_t state = ncclAllReduce(data, data, count, ncclFloat, ncclSum, comm_, stream_);
  while (state == ncclInProgress) ncclCommGetAsyncError(comm_, &state);
  cudaStreamSynchronize(stream_);
}

AsyncHandle NcclCommunicator::start_all_reduce(float* data, std::size_t count, ReduceOp op, OpLabel label) {
  if (comm_ == nullptr) throw std::runtime_error("rank " + std::to_string(rank_) + ": NCCL communicator was aborted");
  Pending pending;
  pending.label = label;
  pending.count = count;
  RNNLAB_CUDA_DIST(cudaEventCreateWithFlags(&pending.done, cudaEventDisableTiming));
  try {
    RNNLAB_NCCL(ncclAllReduce(data, data, count, ncclFloat, op == ReduceOp::average ? ncclAvg : ncclSum, comm_,
                              stream_));
    // A non-blocking communicator may still be enqueueing (ncclInProgress): the event must
    // follow the collective on the stream, and NCCL takes no other call until it is in.
    wait_until_enqueued("all_reduce", label, count);
    RNNLAB_CUDA_DIST(cudaEventRecord(pending.done, stream_));
  } catch (...) {
    cudaEventDestroy(pending.done);
    throw;
  }
  const std::int64_t id = next_handle_++;
  pending_.emplace(id, pending);
  return AsyncHandle{id};
}

void NcclCommunicator::wait(AsyncHandle handle) {
  auto found = pending_.find(handle.id);
  if (found == pending_.end())
    throw std::invalid_argument("wait: unknown or already waited async handle " + std::to_string(handle.id));
  const Pending pending = found->second;
  pending_.erase(found);
  try {
    wait_until_done(pending.done, "all_reduce", pending.label, pending.count);
  } catch (...) {
    cudaEventDestroy(pending.done);
    throw;
  }
  cudaEventDestroy(pending.done);
}

double now_seconds() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace

std::unique_ptr<Communicator> create_nccl_communicator(const CommunicatorOptions& options) {
  return std::make_unique<NcclCommunicator>(options);
}

std::string nccl_version() {
  int code = 0;
  if (ncclGetVersion(&code) != ncclSuccess) return "NCCL (version unknown)";
  return version_text(code);
}

// benchmark.h: the same measurement as benchmark_all_reduce, on device buffers. The buffer
// holds zeros, so repeated sums stay finite without a refill between calls.
std::vector<AllReduceTiming> benchmark_device_all_reduce(Communicator& communicator, std::size_t min_bytes,
                                                         std::size_t max_bytes, int factor, int iterations) {
  if (communicator.backend() != "nccl")
    throw std::invalid_argument("benchmark_device_all_reduce: needs the nccl communicator, got '" +
                                std::string(communicator.backend()) + "'");
  if (factor < 2 || iterations < 1 || min_bytes < sizeof(float) || max_bytes < min_bytes)
    throw std::invalid_argument(
        "benchmark_device_all_reduce: need 4 <= min_bytes <= max_bytes, factor >= 2, iterations >= 1");
  const int rank_ = communicator.rank();  // for RNNLAB_CUDA_DIST's messages
  float* buffer = nullptr;
  RNNLAB_CUDA_DIST(cudaMalloc(reinterpret_cast<void**>(&buffer), max_bytes));
  std::vector<AllReduceTiming> rows;
  try {
    RNNLAB_CUDA_DIST(cudaMemset(buffer, 0, max_bytes));
    RNNLAB_CUDA_DIST(cudaDeviceSynchronize());
    const int n = communicator.size();
    for (std::size_t bytes = min_bytes; bytes <= max_bytes; bytes *= static_cast<std::size_t>(factor)) {
      const std::size_t count = bytes / sizeof(float);
      std::vector<double> wrapper, raw;
      for (int i = -2; i < iterations; ++i) {
        for (int variant = 0; variant < 2; ++variant) {
          communicator.barrier();
          const double start = now_seconds();
          if (variant == 0)
            communicator.all_reduce(buffer, count, ReduceOp::sum);
          else
            communicator.raw_all_reduce_sum(buffer, count);
          const double elapsed = now_seconds() - start;
          if (i >= 0) (variant == 0 ? wrapper : raw).push_back(elapsed);
        }
      }
      const double wrapper_seconds = communicator.all_reduce(median(wrapper), ScalarOp::max);
      const double raw_seconds = communicator.all_reduce(median(raw), ScalarOp::max);
      rows.push_back(make_timing(count * sizeof(float), iterations, wrapper_seconds, raw_seconds, n));
    }
  } catch (...) {
    cudaFree(buffer);
    throw;
  }
  cudaFree(buffer);
  return rows;
}

}  // namespace rnnlab::dist
