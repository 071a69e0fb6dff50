#include "dist/watchdog.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace rnnlab::dist {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

}  // namespace

std::string describe_operation(const char* op, OpLabel label, std::size_t count, const char* unit,
                               const std::string& context) {
  std::string inside;
  auto append = [&inside](const std::string& part) {
    if (part.empty()) return;
    if (!inside.empty()) inside += ", ";
    inside += part;
  };
  if (label.bucket >= 0) {
    append("bucket " + std::to_string(label.bucket + 1) + " of " + std::to_string(label.buckets));
  } else if (count > 0) {
    append(std::to_string(count) + " " + unit);
  }
  append(context);
  return std::string(op) + "(" + inside + ")";
}

Watchdog::Watchdog(double timeout_seconds, int rank, Fire fire, DeadPeer dead_peer, DeadPeer stuck_peers)
    : timeout_seconds_(timeout_seconds),
      rank_(rank),
      fire_(std::move(fire)),
      dead_peer_(std::move(dead_peer)),
      stuck_peers_(std::move(stuck_peers)) {
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Watchdog::begin(const char* op, OpLabel label, std::size_t count, const char* unit) {
  op_.store(op, std::memory_order_relaxed);
  unit_.store(unit, std::memory_order_relaxed);
  bucket_.store(label.bucket, std::memory_order_relaxed);
  buckets_.store(label.buckets, std::memory_order_relaxed);
  count_.store(count, std::memory_order_relaxed);
  started_ns_.store(now_ns(), std::memory_order_relaxed);
  sequence_.fetch_add(1, std::memory_order_release);  // odd: in progress
}

void Watchdog::end() { sequence_.fetch_add(1, std::memory_order_release); }

void Watchdog::set_context(std::string context) {
  std::lock_guard<std::mutex> lock(mutex_);
  context_ = std::move(context);
}

std::string Watchdog::context() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return context_;
}

void Watchdog::run() {
  // Checking 20 times per timeout bounds the overshoot to 5% (and to 1 s for long timeouts)
  // while costing nothing measurable; with a peer check, every 0.1 s at least (a few reads
  // of /proc per check).
  double seconds = std::clamp(timeout_seconds_ / 20.0, 0.01, 1.0);
  if (dead_peer_) seconds = std::min(seconds, 0.1);
  const auto interval = std::chrono::duration<double>(seconds);
  const auto timeout_ns = static_cast<std::int64_t>(timeout_seconds_ * 1e9);
  std::uint64_t dead_seen_in = 0;  // the operation (sequence) a dead peer was last seen in
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval);
    if (stopping_) break;
    // Seqlock read of the operation in progress: skip the round if it changed meanwhile.
    const std::uint64_t before = sequence_.load(std::memory_order_acquire);
    if (before % 2 == 0) continue;
    const std::int64_t started = started_ns_.load(std::memory_order_relaxed);
    const char* op = op_.load(std::memory_order_relaxed);
    const char* unit = unit_.load(std::memory_order_relaxed);
    const OpLabel label{bucket_.load(std::memory_order_relaxed), buckets_.load(std::memory_order_relaxed)};
    const std::size_t count = count_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (sequence_.load(std::memory_order_relaxed) != before) continue;
    std::string message;
    if (now_ns() - started >= timeout_ns) {
      message = "rank " + std::to_string(rank_) + ": timed out after " + format_seconds(timeout_seconds_) +
                " s in " + describe_operation(op, label, count, unit, context_);
      const std::string stuck = stuck_peers_ ? stuck_peers_() : "";
      if (!stuck.empty()) message += ": " + stuck;
    } else if (dead_peer_ && std::strcmp(op, "finalize") != 0) {
      // A peer that has finished may exit while this rank finalises; in any other
      // operation a vanished peer can never arrive. Seen twice in the same operation, so
      // a peer that completed this collective and exited in between is not blamed.
      const std::string dead = dead_peer_();
      if (dead.empty()) {
        dead_seen_in = 0;
      } else if (dead_seen_in != before) {
        dead_seen_in = before;
      } else {
        message = "rank " + std::to_string(rank_) + ": " + dead + " died (its process is gone) while rank " +
                  std::to_string(rank_) + " waited in " + describe_operation(op, label, count, unit, context_);
      }
    }
    if (message.empty()) continue;
    lock.unlock();
    fire_(message);  // ends the job; returns only if the vendor's abort did not
    lock.lock();
  }
}

}  // namespace rnnlab::dist
