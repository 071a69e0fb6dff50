// Watchdog for blocking collectives: the caller brackets every blocking call with
// begin()/end(); a thread wakes a few times per timeout and, when one call has run longer
// than the timeout, formats "rank R: timed out after T s in OP(LABEL, CONTEXT)" and hands it
// to the `fire` callback, which must end the job (MPI_Abort) and never return.
// With a `dead_peer` check (dist/peer_liveness.h), it also asks every 0.1 s while an
// operation other than "finalize" waits whether a peer process has died; when the same
// operation still waits on the next check and the peer is still gone, it fires with
// "rank R: rank P (host H pid N) died (its process is gone) while rank R waited in OP(...)".
// With a `stuck_peers` check, a timeout also says which peer cannot arrive: "rank R: timed
// out after T s in OP(...): rank P (host H pid N) did not arrive: its process is stopped".
//
// begin()/end() are the hot path: a clock read and a few relaxed atomic stores, no lock, no
// syscall, so the all-reduce wrapper stays within a few percent of the raw vendor call.
// Thread safety: begin/end/set_context from ONE thread (the training loop); the watchdog
// thread only reads. Internal to dist (used by the MPI and, later, the NCCL communicator).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "dist/communicator.h"

namespace rnnlab::dist {

// "all_reduce(bucket 3 of 7, step 120)"; "broadcast(1000 floats)"; parts that are empty drop.
std::string describe_operation(const char* op, OpLabel label, std::size_t count,
                               const char* unit, const std::string& context);

class Watchdog {
 public:
  using Fire = std::function<void(const std::string& message)>;
  // Returns "" when every peer it can see runs, else a description of a dead one.
  using DeadPeer = std::function<std::string()>;
  // timeout_seconds > 0. The thread starts here and is joined by the destructor.
  // stuck_peers: "" or a description of peers that cannot arrive (appended to a timeout).
  Watchdog(double timeout_seconds, int rank, Fire fire, DeadPeer dead_peer = {}, DeadPeer stuck_peers = {});
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // `op` and `unit` must be string literals (kept by pointer).
  void begin(const char* op, OpLabel label = {}, std::size_t count = 0, const char* unit = "floats");
  void end();
  void set_context(std::string context);
  std::string context() const;

 private:
  void run();

  const double timeout_seconds_;
  const int rank_;
  Fire fire_;
  DeadPeer dead_peer_;
  DeadPeer stuck_peers_;
  // The operation in progress; written by the caller's thread, read by the watchdog.
  std::atomic<std::uint64_t> sequence_{0};  // odd while an operation is in progress
  std::atomic<std::int64_t> started_ns_{0};
  std::atomic<const char*> op_{""};
  std::atomic<const char*> unit_{""};
  std::atomic<int> bucket_{-1};
  std::atomic<int> buckets_{0};
  std::atomic<std::size_t> count_{0};

  mutable std::mutex mutex_;  // context_ and stopping_
  std::condition_variable wake_;
  std::string context_;
  bool stopping_ = false;
  std::thread thread_;
};

// Brackets one blocking call; end() also on exceptions.
class WatchScope {
 public:
  WatchScope(Watchdog* watchdog, const char* op, OpLabel label = {}, std::size_t count = 0,
             const char* unit = "floats")
      : watchdog_(watchdog) {
    if (watchdog_ != nullptr) watchdog_->begin(op, label, count, unit);
  }
  ~WatchScope() {
    if (watchdog_ != nullptr) watchdog_->end();
  }
  WatchScope(const WatchScope&) = delete;
  WatchScope& operator=(const WatchScope&) = delete;

 private:
  Watchdog* watchdog_;
};

}  // namespace rnnlab::dist
