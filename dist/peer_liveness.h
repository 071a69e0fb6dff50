// Peer liveness: is another rank's process still running? For ranks whose process this
// rank can see (same kernel boot and same pid namespace: the same host, or network
// namespaces on one machine), the watchdog checks it while a collective waits, so that a
// rank killed by a signal or the OOM killer is named within a fraction of a second
// ("rank 1 (host vm pid 4242) died") instead of after the collective timeout. When a
// collective times out, the same check names a visible peer whose process is stopped
// (SIGSTOP) or stuck in I/O as the rank that did not arrive. Ranks on other hosts cannot be
// seen; for them the timeout remains the only detector.
//
// A process is identified by (kernel boot id, pid namespace, pid, start time), so a reused
// pid is not mistaken for the peer. Internal to dist (the MPI communicator's watchdog).
// Errors: none thrown; an unreadable /proc makes a peer invisible (never "dead").
// Thread safety: a PeerLiveness is immutable after construction; dead_peer() may be called
// from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnlab::dist {

// Plain bytes, so that ranks can all-gather it.
struct ProcessIdentity {
  char boot_id[40] = {};  // /proc/sys/kernel/random/boot_id
  char host[64] = {};     // gethostname, for messages
  std::uint64_t pid_namespace = 0;  // inode of /proc/self/ns/pid
  std::uint64_t start_time = 0;     // /proc/<pid>/stat field 22 (clock ticks after boot)
  std::int64_t pid = 0;
};

ProcessIdentity this_process_identity();

class PeerLiveness {
 public:
  PeerLiveness() = default;
  // identities[r] is rank r's; `self` is this rank.
  PeerLiveness(int self, const std::vector<ProcessIdentity>& identities);
  // The ranks this process can check (not itself).
  const std::vector<int>& visible_ranks() const { return visible_; }
  // "rank 1 (host vm pid 4242)" for the first visible peer whose process is gone (exited,
  // a zombie, or its pid now belongs to another process); "" when all visible peers run.
  std::string dead_peer() const;
  // The visible peers that cannot be arriving at a collective because their process is
  // stopped (state T/t: SIGSTOP, a suspended job, a debugger) or in uninterruptible sleep
  // (D: stuck in I/O), e.g. "rank 1 (host vm pid 4242) did not arrive: its process is
  // stopped (SIGSTOP, a suspended job or a debugger)"; several joined by "; "; "" if none.
  std::string stuck_peers() const;

 private:
  std::string describe(int rank) const;
  char state_of(int rank) const;

  std::vector<int> visible_;
  std::vector<ProcessIdentity> identities_;
};

}  // namespace rnnlab::dist
