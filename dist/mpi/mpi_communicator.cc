// The Open MPI communicator. The only file of rnnlab that includes mpi.h.
//
// Design (see dist/communicator.h for the contract):
// - MPI is initialised with MPI_THREAD_MULTIPLE: the watchdog thread may call MPI_Abort while
//   the training thread sits in a collective, and the progress thread tests requests while
//   the training thread issues blocking collectives.
// - Two duplicates of MPI_COMM_WORLD, both MPI_ERRORS_RETURN: `comm_` for blocking
//   collectives, `async_comm_` for the non-blocking all-reduces, so the two streams never
//   interleave on one communicator (MPI requires collectives on a communicator to be issued
//   in the same order everywhere; a second thread issuing on the same one would break that).
// - Every MPI return code goes through RNNLAB_MPI, which throws std::runtime_error with the
//   call, MPI_Error_string's text and the rank.
#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "dist/mpi/mpi_communicator.h"
#include "dist/peer_liveness.h"
#include "dist/watchdog.h"

namespace rnnlab::dist {
namespace {

void check_mpi(int code, const char* call, int rank) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error("rank " + std::to_string(rank) + ": " + call + " failed: " + std::string(text, length));
}
#define RNNLAB_MPI(call) check_mpi((call), #call, rank_)

std::atomic<bool> g_mpi_communicator_alive{false};

int checked_count(std::size_t count, const char* op) {
  if (count > static_cast<std::size_t>(INT_MAX)) {
    throw std::invalid_argument(std::string(op) + ": count " + std::to_string(count) +
                                " exceeds MPI's int count limit; split the buffer");
  }
  return static_cast<int>(count);
}

MPI_Op to_mpi(ScalarOp op) {
  switch (op) {
    case ScalarOp::sum: return MPI_SUM;
    case ScalarOp::min: return MPI_MIN;
    case ScalarOp::max: return MPI_MAX;
  }
  return MPI_SUM;
}

[[noreturn]] void abort_job(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; this is the belt to its braces
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const CommunicatorOptions& options);
  ~MpiCommunicator() override;

  std::string_view backend() const override { return "mpi"; }
  std::string library_version() const override;
  void set_context(std::string context) override;

  void all_reduce(float* data, std::size_t count, ReduceOp op) override;
  void all_reduce(double* data, std::size_t count, ScalarOp op) override;
  void broadcast(float* data, std::size_t count, int root) override;
  void broadcast_bytes(void* data, std::size_t bytes, int root) override;
  std::vector<std::uint8_t> all_gather_bytes(const void* data, std::size_t bytes) override;
  void barrier() override;

  AsyncHandle start_all_reduce(float* data, std::size_t count, ReduceOp op, OpLabel label) override;
  void wait(AsyncHandle handle) override;
  void progress() override;
  void set_progress(Progress progress) override;
  Progress progress_mode() const override { return progress_; }

  [[noreturn]] void fail(const std::string& message) override;
  void raw_all_reduce_sum(float* data, std::size_t count) override;

 private:
  struct Pending {
    float* data = nullptr;
    int count = 0;
    ReduceOp op = ReduceOp::sum;
    OpLabel label;
    MPI_Request request = MPI_REQUEST_NULL;
    bool issued = false;
    bool done = false;
    std::string error;
  };

  void check_root(int root) const;
  void scale_if_average(Pending& pending) const;
  void progress_loop();
  void stop_progress_thread();

  bool owns_mpi_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm async_comm_ = MPI_COMM_NULL;
  PeerLiveness peers_;
  std::unique_ptr<Watchdog> watchdog_;
  std::string context_;

  Progress progress_;
  int progress_sleep_us_;
  std::int64_t next_handle_ = 0;
  // In Progress::thread mode shared with the progress thread under mutex_.
  std::map<std::int64_t, Pending> pending_;
  int undone_ = 0;
  std::mutex mutex_;
  std::condition_variable work_;   // progress thread: new work or stop
  std::condition_variable done_;   // wait(): an operation completed
  bool stopping_ = false;
  std::thread progress_thread_;
};

MpiCommunicator::MpiCommunicator(const CommunicatorOptions& options)
    : progress_(options.progress), progress_sleep_us_(options.progress_sleep_us) {
  rank_ = 0;  // for messages until the real rank is known
  int initialized = 0;
  RNNLAB_MPI(MPI_Initialized(&initialized));
  int provided = 0;
  if (initialized == 0) {
    RNNLAB_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    owns_mpi_ = true;
  } else {
    RNNLAB_MPI(MPI_Query_thread(&provided));
  }
  RNNLAB_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  RNNLAB_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  RNNLAB_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  if (provided < MPI_THREAD_MULTIPLE) {
    throw std::runtime_error("rank " + std::to_string(rank_) +
                             ": MPI does not provide MPI_THREAD_MULTIPLE (needed by the watchdog)");
  }
  RNNLAB_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  RNNLAB_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  RNNLAB_MPI(MPI_Comm_dup(comm_, &async_comm_));
  RNNLAB_MPI(MPI_Comm_set_errhandler(async_comm_, MPI_ERRORS_RETURN));

  MPI_Comm node = MPI_COMM_NULL;
  RNNLAB_MPI(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  RNNLAB_MPI(MPI_Comm_rank(node, &local_rank_));
  RNNLAB_MPI(MPI_Comm_size(node, &local_size_));
  RNNLAB_MPI(MPI_Comm_free(&node));

  char name[256] = {};
  gethostname(name, sizeof name - 1);
  host_name_ = name;
  timeout_seconds_ = options.timeout_seconds;
  if (size_ > 1 && timeout_seconds_ > 0) {
    // Who is who, for naming a rank whose process died (peer_liveness.h).
    const ProcessIdentity self = this_process_identity();
    std::vector<ProcessIdentity> identities(static_cast<std::size_t>(size_));
    RNNLAB_MPI(MPI_Allgather(&self, sizeof self, MPI_BYTE, identities.data(), sizeof self, MPI_BYTE, comm_));
    peers_ = PeerLiveness(rank_, identities);
    Watchdog::DeadPeer dead_peer, stuck_peers;
    if (!peers_.visible_ranks().empty()) {
      dead_peer = [this] { return peers_.dead_peer(); };
      stuck_peers = [this] { return peers_.stuck_peers(); };
    }
    watchdog_ = std::make_unique<Watchdog>(
        timeout_seconds_, rank_,
        [this](const std::string& message) {
          std::fprintf(stderr, "%s\n", message.c_str());
          std::fflush(stderr);
          run_failure_hook(message);  // rank 0 marks its run failed before the job ends
          MPI_Abort(MPI_COMM_WORLD, 1);
          std::_Exit(1);
        },
        std::move(dead_peer), std::move(stuck_peers));
  }
  if (progress_ == Progress::thread) progress_thread_ = std::thread([this] { progress_loop(); });
}

MpiCommunicator::~MpiCommunicator() {
  // An exception is unwinding through us and the other ranks do not know: a clean finalize
  // would wait for them while they wait in a collective for us. End the job instead.
  if (std::uncaught_exceptions() > 0 && !failure_is_collective_ && size_ > 1) {
    abort_job("rank " + std::to_string(rank_) + " (host " + host_name_ + " pid " + std::to_string(getpid()) +
              "): exiting on an exception" + (context_.empty() ? "" : " during " + context_) +
              "; aborting the job so that no rank waits for this one");
  }
  stop_progress_thread();
  if (!pending_.empty() && size_ > 1) {
    abort_job("rank " + std::to_string(rank_) + ": communicator destroyed with " + std::to_string(pending_.size()) +
              " async all-reduce(s) never waited for");
  }
  MPI_Comm_free(&async_comm_);
  MPI_Comm_free(&comm_);
  if (owns_mpi_) {
    // Finalize synchronises with the other ranks; a rank that never arrives must not hang us.
    WatchScope watch(watchdog_.get(), "finalize");
    MPI_Finalize();
  }
  watchdog_.reset();
  g_mpi_communicator_alive = false;
}

std::string MpiCommunicator::library_version() const {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, length);
  const std::size_t line_end = version.find('\n');
  if (line_end != std::string::npos) version.resize(line_end);
  return version;
}

void MpiCommunicator::set_context(std::string context) {
  if (watchdog_ != nullptr) watchdog_->set_context(context);
  context_ = std::move(context);
}

void MpiCommunicator::all_reduce(float* data, std::size_t count, ReduceOp op) {
  const int n = checked_count(count, "all_reduce");
  {
    WatchScope watch(watchdog_.get(), "all_reduce", {}, count);
    RNNLAB_MPI(MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_FLOAT, MPI_SUM, comm_));
  }
  if (op == ReduceOp::average && size_ > 1) {
    const float scale = 1.0f / static_cast<float>(size_);
    for (std::size_t i = 0; i < count; ++i) data[i] *= scale;
  }
}

void MpiCommunicator::all_reduce(double* data, std::size_t count, ScalarOp op) {
  const int n = checked_count(count, "all_reduce");
  WatchScope watch(watchdog_.get(), "all_reduce", {}, count, "doubles");
  RNNLAB_MPI(MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_DOUBLE, to_mpi(op), comm_));
}

void MpiCommunicator::check_root(int root) const {
  if (root < 0 || root >= size_) {
    throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is not a rank (size " +
                                std::to_string(size_) + ")");
  }
}

void MpiCommunicator::broadcast(float* data, std::size_t count, int root) {
  check_root(root);
  const int n = checked_count(count, "broadcast");
  WatchScope watch(watchdog_.get(), "broadcast", {}, count);
  RNNLAB_MPI(MPI_Bcast(data, n, MPI_FLOAT, root, comm_));
}

void MpiCommunicator::broadcast_bytes(void* data, std::size_t bytes, int root) {
  check_root(root);
  const int n = checked_count(bytes, "broadcast");
  WatchScope watch(watchdog_.get(), "broadcast", {}, bytes, "bytes");
  RNNLAB_MPI(MPI_Bcast(data, n, MPI_BYTE, root, comm_));
}

std::vector<std::uint8_t> MpiCommunicator::all_gather_bytes(const void* data, std::size_t bytes) {
  const int n = checked_count(bytes, "all_gather");
  std::vector<std::uint8_t> gathered(bytes * static_cast<std::size_t>(size_));
  WatchScope watch(watchdog_.get(), "all_gather", {}, bytes, "bytes");
  RNNLAB_MPI(MPI_Allgather(data, n, MPI_BYTE, gathered.data(), n, MPI_BYTE, comm_));
  return gathered;
}

void MpiCommunicator::barrier() {
  WatchScope watch(watchdog_.get(), "barrier");
  RNNLAB_MPI(MPI_Barrier(comm_));
}

void MpiCommunicator::raw_all_reduce_sum(float* data, std::size_t count) {
  MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm_);
}

void MpiCommunicator::scale_if_average(Pending& pending) const {
  if (pending.op != ReduceOp::average || size_ == 1) return;
  const float scale = 1.0f / static_cast<float>(size_);
  for (int i = 0; i < pending.count; ++i) pending.data[i] *= scale;
}

AsyncHandle MpiCommunicator::start_all_reduce(float* data, std::size_t count, ReduceOp op, OpLabel label) {
  Pending pending;
  pending.data = data;
  pending.count = checked_count(count, "start_all_reduce");
  pending.op = op;
  pending.label = label;
  const std::int64_t id = next_handle_++;
  if (progress_ == Progress::thread) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.emplace(id, std::move(pending));
      ++undone_;
    }
    work_.notify_one();
    return AsyncHandle{id};
  }
  RNNLAB_MPI(MPI_Iallreduce(MPI_IN_PLACE, data, pending.count, MPI_FLOAT, MPI_SUM, async_comm_, &pending.request));
  pending.issued = true;
  pending_.emplace(id, std::move(pending));
  return AsyncHandle{id};
}

void MpiCommunicator::wait(AsyncHandle handle) {
  if (progress_ == Progress::thread) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto found = pending_.find(handle.id);
    if (found == pending_.end()) {
      throw std::invalid_argument("wait: unknown or already waited async handle " + std::to_string(handle.id));
    }
    Pending& pending = found->second;
    {
      WatchScope watch(watchdog_.get(), "all_reduce", pending.label, static_cast<std::size_t>(pending.count));
      done_.wait(lock, [&pending] { return pending.done; });
    }
    const std::string error = pending.error;
    pending_.erase(found);
    if (!error.empty()) throw std::runtime_error(error);
    return;
  }
  auto found = pending_.find(handle.id);
  if (found == pending_.end()) {
    throw std::invalid_argument("wait: unknown or already waited async handle " + std::to_string(handle.id));
  }
  Pending pending = found->second;
  pending_.erase(found);
  if (!pending.done) {
    WatchScope watch(watchdog_.get(), "all_reduce", pending.label, static_cast<std::size_t>(pending.count));
    RNNLAB_MPI(MPI_Wait(&pending.request, MPI_STATUS_IGNORE));
  }
  scale_if_average(pending);
}

void MpiCommunicator::progress() {
  if (progress_ != Progress::poll) return;
  for (auto& [id, pending] : pending_) {
    if (pending.done) continue;
    int flag = 0;
    RNNLAB_MPI(MPI_Test(&pending.request, &flag, MPI_STATUS_IGNORE));
    pending.done = flag != 0;
  }
}

void MpiCommunicator::set_progress(Progress progress) {
  if (!pending_.empty()) {
    throw std::invalid_argument("set_progress: " + std::to_string(pending_.size()) + " async all-reduce(s) in flight");
  }
  if (progress == progress_) return;
  stop_progress_thread();
  progress_ = progress;
  if (progress_ == Progress::thread) progress_thread_ = std::thread([this] { progress_loop(); });
}

void MpiCommunicator::stop_progress_thread() {
  if (!progress_thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  progress_thread_.join();
  stopping_ = false;
}

void MpiCommunicator::progress_loop() {
  // Issues queued operations in start order and tests them; sleeps between rounds so that
  // the compute thread keeps most of the core (Open MPI's libnbc advances a schedule only
  // inside MPI calls, so someone has to keep calling).
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_.wait(lock, [this] { return stopping_ || undone_ > 0; });
    if (stopping_) return;
    bool completed = false;
    for (auto& [id, pending] : pending_) {
      if (pending.done) continue;
      int code = MPI_SUCCESS;
      if (!pending.issued) {
        code = MPI_Iallreduce(MPI_IN_PLACE, pending.data, pending.count, MPI_FLOAT, MPI_SUM, async_comm_,
                              &pending.request);
        pending.issued = true;
      }
      int flag = 0;
      if (code == MPI_SUCCESS) code = MPI_Test(&pending.request, &flag, MPI_STATUS_IGNORE);
      if (code != MPI_SUCCESS) {
        try {
          check_mpi(code, "MPI_Iallreduce/MPI_Test (progress thread)", rank_);
        } catch (const std::runtime_error& error) {
          pending.error = error.what();
        }
        flag = 1;
      }
      if (flag != 0) {
        if (pending.error.empty()) scale_if_average(pending);
        pending.done = true;
        --undone_;
        completed = true;
      }
    }
    if (completed) done_.notify_all();
    if (undone_ > 0) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(progress_sleep_us_));
      lock.lock();
    }
  }
}

void MpiCommunicator::fail(const std::string& message) {
  abort_job("rank " + std::to_string(rank_) + " (host " + host_name_ + " pid " + std::to_string(getpid()) +
            "): " + message + (context_.empty() ? "" : " [" + context_ + "]"));
}

}  // namespace

std::unique_ptr<Communicator> create_mpi_communicator(const CommunicatorOptions& options) {
  if (g_mpi_communicator_alive.exchange(true)) {
    throw std::invalid_argument("create_communicator: an MPI communicator already exists in this process");
  }
  try {
    return std::make_unique<MpiCommunicator>(options);  // the destructor clears the flag
  } catch (...) {
    g_mpi_communicator_alive = false;
    throw;
  }
}

}  // namespace rnnlab::dist
