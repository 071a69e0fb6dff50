// The communicator: what the trainer sees of data-parallel training.
//
// A Communicator connects the N ranks of one job. Implementations: "local" (one process;
// every collective is a no-op or a copy, always built), "mpi" (Open MPI, built under
// RNNLAB_WITH_MPI; dist/mpi/) and "nccl" (one GPU per rank, built with the GPU path and MPI;
// dist/nccl/nccl_communicator.h: its FLOAT collectives take DEVICE pointers). Pick one by
// name with create_communicator(); "auto" picks "mpi" when the process was started by mpirun.
//
// Collectives: every rank must call the same collectives in the same order with the same
// counts; that is the caller's contract (a mismatch is undefined in MPI and ends as a hang
// that the watchdog below turns into an abort).
//
// Asynchronous all-reduce: start_all_reduce() begins a sum/average in place and returns a
// handle; wait() completes it. The buffer must not be touched between the two. Async
// operations run on their own channel (an MPI_Comm_dup), so blocking collectives may be
// issued while async ones are in flight; async operations complete in any order of wait()
// calls, but must be *started* in the same order on every rank. How they make progress while
// the caller computes is the Progress option (see there).
//
// Faults (the "Faults" section), for a job of N > 1 ranks:
//   - Every blocking collective and every wait() is watched: if it has not returned after
//     `timeout_seconds`, a watchdog thread prints
//       rank R: timed out after 60 s in all_reduce(bucket 3 of 7, step 120)
//     to stderr and aborts the whole job (MPI_Abort; Open MPI kills every rank, mpirun exits
//     non-zero). The text in parentheses is the operation's label plus set_context().
//   - fail(message): for an error that only this rank has (an exception mid-step, while the
//     others may already sit in a collective): prints "rank R (host pid P): message
//     [context]" and aborts the job. Never returns.
//   - check_all_ok(local_ok, what, message): a collective status vote for errors that can be
//     noticed at a point every rank reaches (a NaN/Inf loss each step): if any rank says
//     not ok, every rank throws RankFailure naming the failing ranks and their messages, so
//     every rank exits non-zero through its normal error path, in step, without an abort.
//   - A rank that dies (SIGKILL, crash): mpirun notices and kills the job (SIGTERM, then
//     SIGKILL a second later). The MPI communicator's watchdog also checks, every 0.1 s
//     while a collective waits, whether the processes of the ranks on the same machine
//     still run (dist/peer_liveness.h), and aborts the job naming the dead rank:
//       rank 0: rank 1 (host vm pid 4242) died (its process is gone) while rank 0 waited in
//       all_reduce(bucket 1 of 3, epoch 2 step 146)
//     A rank on another host that dies without mpirun noticing (a host that vanishes)
//     stalls the others' collectives until the watchdog's timeout fires.
//   - set_failure_hook(): whatever ends the job from the watchdog (timeout, dead peer) calls
//     the hook with its message first, so rank 0 can mark its tracked run failed before
//     it is gone.
//   - Destroying an MPI communicator while an exception unwinds the stack (the caller did
//     not catch it and call fail()) aborts the job as well, because a clean MPI_Finalize
//     would wait for ranks that are stuck in a collective. A RankFailure from
//     check_all_ok() is the exception: every rank has it, so finalize is safe.
//
// Errors: a vendor failure throws std::runtime_error naming the call, the vendor's message
// and the rank; invalid arguments (bad root, unknown backend) throw std::invalid_argument.
// Thread safety: a Communicator is used by one thread (the training loop). Its own
// watchdog/progress threads are internal. Ownership: the caller owns the buffers; a
// communicator never keeps a pointer past wait() (async) or the call (blocking).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rnnlab::dist {

enum class ReduceOp { sum, average };  // float buffers (gradients)
enum class ScalarOp { sum, min, max };  // double values (metrics)

// How an async all-reduce advances while the caller computes between start and wait.
//   none:   only inside wait() (Open MPI's non-blocking collectives progress only in MPI calls,
//           so nothing overlaps; the baseline).
//   poll:   also whenever the caller calls progress() (GradientBucketer does on every
//           ready()); no extra thread, overlap only as fine-grained as the calls.
//   thread: a progress thread issues the operations and tests them, sleeping
//           `progress_sleep_us` between tests; overlaps fully but takes CPU from compute.
enum class Progress { none, poll, thread };
Progress parse_progress(std::string_view name);  // throws std::invalid_argument
std::string_view to_string(Progress progress);

struct CommunicatorOptions {
  std::string backend = "auto";  // "auto", "local", "mpi", "nccl"
  // A blocking collective or wait() running longer than this aborts the job; <= 0: never.
  double timeout_seconds = 60.0;
  Progress progress = Progress::thread;  // overlapped best here (docs/distributed.md)
  int progress_sleep_us = 20;
};

// Names an operation in timeout messages: "bucket 3 of 7".
struct OpLabel {
  int bucket = -1;  // 0-based; -1 = not a bucket
  int buckets = 0;
};

// One async all-reduce in flight. Plain value; valid until passed to wait().
struct AsyncHandle {
  std::int64_t id = -1;
};

// Thrown by check_all_ok() on every rank when any rank reported a failure.
class RankFailure : public std::runtime_error {
 public:
  RankFailure(const std::string& message, std::vector<int> failed_ranks)
      : std::runtime_error(message), failed_ranks_(std::move(failed_ranks)) {}
  const std::vector<int>& failed_ranks() const { return failed_ranks_; }

 private:
  std::vector<int> failed_ranks_;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual std::string_view backend() const = 0;  // "local", "mpi"
  // Vendor version line, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ...".
  virtual std::string library_version() const = 0;
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // rank among the ranks on this host
  int local_size() const { return local_size_; }
  const std::string& host_name() const { return host_name_; }
  double timeout_seconds() const { return timeout_seconds_; }

  // What the caller is doing, appended to timeout/fail messages: "step 120". Cheap.
  virtual void set_context(std::string context) = 0;

  // Blocking collectives (watched by the timeout).
  virtual void all_reduce(float* data, std::size_t count, ReduceOp op) = 0;
  virtual void all_reduce(double* data, std::size_t count, ScalarOp op) = 0;
  virtual void broadcast(float* data, std::size_t count, int root) = 0;
  virtual void broadcast_bytes(void* data, std::size_t bytes, int root) = 0;
  // Every rank contributes `bytes` bytes (the same count everywhere); returns size()*bytes,
  // rank-major.
  virtual std::vector<std::uint8_t> all_gather_bytes(const void* data, std::size_t bytes) = 0;
  virtual void barrier() = 0;

  // Conveniences built on the above.
  std::vector<double> all_gather(double value);
  std::vector<std::string> all_gather(const std::string& text);
  double all_reduce(double value, ScalarOp op);

  // Async all-reduce in place (see the top of this file).
  virtual AsyncHandle start_all_reduce(float* data, std::size_t count, ReduceOp op,
                                       OpLabel label = {}) = 0;
  virtual void wait(AsyncHandle handle) = 0;
  // Lets in-flight async operations advance (Progress::poll); cheap, never blocks.
  virtual void progress() = 0;
  // Changes the progress strategy; only while no async operation is in flight.
  virtual void set_progress(Progress progress) = 0;
  virtual Progress progress_mode() const = 0;

  // Faults (see the top of this file).
  [[noreturn]] virtual void fail(const std::string& message) = 0;
  // Called with the message, from the watchdog's thread, just before this rank aborts the
  // job because a collective timed out or a peer process died (rank 0 marks its run
  // failed). Must be quick, must not throw and must not use the communicator. An empty
  // hook removes it; setting or removing waits for a hook that is running, so whatever the
  // hook refers to may be destroyed once it is removed. Thread safe.
  using FailureHook = std::function<void(const std::string& message)>;
  void set_failure_hook(FailureHook hook);
  // Collective. Returns normally when every rank passed local_ok == true; otherwise throws
  // RankFailure on every rank: "rank 1 failed in <what>: <message>; ...".
  void check_all_ok(bool local_ok, std::string_view what, std::string_view message = {});

  // The vendor's plain sum all-reduce with no watchdog, label or checks: only for measuring
  // the wrapper's overhead (dist/benchmark.h). Not part of the training API.
  virtual void raw_all_reduce_sum(float* data, std::size_t count) = 0;

 protected:
  Communicator() = default;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  std::string host_name_;
  double timeout_seconds_ = 60.0;
  // Set by check_all_ok() before it throws: every rank has the same failure, so an
  // implementation may shut down cleanly instead of aborting the job.
  bool failure_is_collective_ = false;
  // For implementations, from the thread that is about to end the job; never throws.
  void run_failure_hook(const std::string& message) noexcept;

 private:
  std::mutex failure_hook_mutex_;
  FailureHook failure_hook_;
};

// True when this process was started by an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
// PMIX_RANK in the environment).
bool launched_by_mpi();

// Names create_communicator() accepts, for messages: {"auto", "local", "mpi"?, "nccl"?}.
std::vector<std::string> communicator_backends();

// The NCCL library's version, "NCCL 2.28.9"; "" when this build has no NCCL.
std::string nccl_version();

// Where the gradients of a training step live, for the choice below: host memory (the CPU
// backends) or the CUDA memory of this rank's GPU (the cudnn backend: device pointers).
enum class GradientMemory { host, device };

// The communicator a training process needs, chosen here so the command line does not:
// none (nullptr) when the process was not started by an MPI launcher (one process); under
// mpirun "nccl" for device gradients when this build has NCCL (one GPU per rank, by local
// rank), else "mpi" (device gradients are then staged through the host by the trainer).
// options.backend is ignored. Errors: as create_communicator().
std::unique_ptr<Communicator> make_communicator_for(GradientMemory memory, CommunicatorOptions options = {});
// The name make_communicator_for() picks: "" (none), "mpi" or "nccl".
std::string communicator_backend_for(GradientMemory memory, bool launched_by_mpi);

// Creates the communicator named by options.backend. "mpi" initialises MPI (thread level
// MPI_THREAD_MULTIPLE, for the watchdog and progress threads) unless the process already
// did, and finalises it on destruction if it initialised it. At most one "mpi" communicator
// may exist at a time. Throws std::invalid_argument for an unknown or not-built backend.
std::unique_ptr<Communicator> create_communicator(const CommunicatorOptions& options = {});

}  // namespace rnnlab::dist
