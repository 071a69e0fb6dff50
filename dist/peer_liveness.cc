#include "dist/peer_liveness.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace rnnlab::dist {
namespace {

// State and start time from /proc/<pid>/stat; false when the process does not exist.
bool read_stat(std::int64_t pid, char& state, std::uint64_t& start_time) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!file || !std::getline(file, text)) return false;
  const std::size_t close = text.rfind(')');  // the command name may hold spaces and ')'
  if (close == std::string::npos || close + 2 >= text.size()) return false;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  // Field 3 is the state; field 22 the start time.
  for (int index = 3; index <= 22 && fields >> field; ++index) {
    if (index == 3) state = field.empty() ? '?' : field[0];
    if (index == 22) {
      start_time = std::strtoull(field.c_str(), nullptr, 10);
      return true;
    }
  }
  return false;
}

}  // namespace

ProcessIdentity this_process_identity() {
  ProcessIdentity id;
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string text;
  if (boot && std::getline(boot, text)) std::strncpy(id.boot_id, text.c_str(), sizeof id.boot_id - 1);
  gethostname(id.host, sizeof id.host - 1);
  struct stat info {};
  if (stat("/proc/self/ns/pid", &info) == 0) id.pid_namespace = info.st_ino;
  id.pid = getpid();
  char state = '?';
  read_stat(id.pid, state, id.start_time);
  return id;
}

PeerLiveness::PeerLiveness(int self, const std::vector<ProcessIdentity>& identities) : identities_(identities) {
  if (self < 0 || self >= int(identities.size())) return;
  const ProcessIdentity& me = identities[std::size_t(self)];
  if (me.boot_id[0] == '\0' || me.pid_namespace == 0 || me.start_time == 0) return;  // no /proc
  for (int r = 0; r < int(identities.size()); ++r) {
    const ProcessIdentity& other = identities[std::size_t(r)];
    if (r != self && std::strncmp(other.boot_id, me.boot_id, sizeof me.boot_id) == 0 &&
        other.pid_namespace == me.pid_namespace && other.start_time != 0)
      visible_.push_back(r);
  }
}

std::string PeerLiveness::describe(int rank) const {
  const ProcessIdentity& peer = identities_[std::size_t(rank)];
  std::string host(peer.host, strnlen(peer.host, sizeof peer.host));
  return "rank " + std::to_string(rank) + " (host " + host + " pid " + std::to_string(peer.pid) + ")";
}

// The peer's state letter from /proc/<pid>/stat, 'X' when its process is gone (or the pid
// now belongs to another process).
char PeerLiveness::state_of(int rank) const {
  const ProcessIdentity& peer = identities_[std::size_t(rank)];
  char state = '?';
  std::uint64_t start_time = 0;
  if (!read_stat(peer.pid, state, start_time) || start_time != peer.start_time) return 'X';
  return state;
}

std::string PeerLiveness::dead_peer() const {
  for (int r : visible_) {
    const char state = state_of(r);
    if (state == 'Z' || state == 'X') return describe(r);
  }
  return "";
}

std::string PeerLiveness::stuck_peers() const {
  std::string out;
  for (int r : visible_) {
    const char state = state_of(r);
    const char* why = state == 'T' || state == 't' ? "stopped (SIGSTOP, a suspended job or a debugger)"
                      : state == 'D'               ? "in uninterruptible sleep (stuck in I/O)"
                                                   : nullptr;
    if (why) out += (out.empty() ? "" : "; ") + describe(r) + " did not arrive: its process is " + why;
  }
  return out;
}

}  // namespace rnnlab::dist
