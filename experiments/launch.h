// Trial processes for the process and mpirun launch modes (internal to experiments/).
//
// A child gets SIGTERM when the sweep process dies (PR_SET_PDEATHSIG), so a killed sweep
// leaves no trial training on: the trainer ends the run after its current step with a
// checkpoint, marked killed, and a resumed sweep continues it from there.
// Failure: fork/exec problems throw std::runtime_error; a child that cannot exec its
// program exits 127 with the reason in its log.
#pragma once

#include <sys/types.h>

#include <cstdio>
#include <string>
#include <vector>

namespace rnnlab::experiments::detail {

// Starts argv[0] (a path, or a name looked up in PATH) with its stdout and stderr
// appended to log_path.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path);

// Runs argv to its end (no PDEATHSIG: a short command such as sbatch or squeue) and
// returns its exit code (128 + signal when signalled, 127 when it cannot start), with its
// stdout and stderr together in *output.
int capture(const std::vector<std::string>& argv, std::string* output);

// Non-blocking: true when `pid` has exited, with a description ("exit code 1", "killed by
// signal 9 (Killed)") in *how and the exit code (128 + signal when signalled) in *code.
bool reap(pid_t pid, int* code, std::string* how);

// The last non-empty lines of a log (for a failed trial's error text).
std::string log_tail(const std::string& path, int lines);
// The last "rnnlab: error: ..." line of a log (any rank's), else Slurm's last "*** JOB
// ... ***" line, else its last 3 lines.
std::string log_error(const std::string& path);

// Holds <output_dir>/sweep.lock (flock) for its lifetime, waiting (with a note on
// `progress`, when not null) while another process holds it. The descriptor is inherited
// by trial processes (no O_CLOEXEC), so the lock lasts until the last trial of a killed
// sweep has exited.
class SweepLock {
 public:
  SweepLock(const std::string& path, std::FILE* progress);
  ~SweepLock();
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  int fd_ = -1;
};

// This program's own path (/proc/self/exe).
std::string self_executable();

}  // namespace rnnlab::experiments::detail
