#include "experiments/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <stdexcept>

namespace rnnlab::experiments::detail {
namespace {

// In a forked child: runs args, or says why it cannot on stderr and exits 127. Only
// async-signal-safe calls.
[[noreturn]] void exec_or_exit(std::vector<char*>& args) {
  ::execvp(args[0], args.data());
  const char* reason = std::strerror(errno);
  (void)!::write(STDERR_FILENO, "rnnlab sweep: cannot run ", 25);
  (void)!::write(STDERR_FILENO, args[0], std::strlen(args[0]));
  (void)!::write(STDERR_FILENO, ": ", 2);
  (void)!::write(STDERR_FILENO, reason, std::strlen(reason));
  (void)!::write(STDERR_FILENO, "\n", 1);
  ::_exit(127);
}

}  // namespace

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("cannot write trial log " + log_path + ": " + std::strerror(errno));
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(log);
    throw std::runtime_error(std::string("fork: ") + std::strerror(error));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(126);  // the sweep died before prctl took effect
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    exec_or_exit(args);
  }
  ::close(log);
  return pid;
}

int capture(const std::vector<std::string>& argv, std::string* output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(error));
  }
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    exec_or_exit(args);
  }
  ::close(pipe_fds[1]);
  output->clear();
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    output->append(buffer, size_t(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool reap(pid_t pid, int* code, std::string* how) {
  int status = 0;
  const pid_t done = ::waitpid(pid, &status, WNOHANG);
  if (done == 0) return false;
  if (done < 0) {
    *code = 1;
    *how = std::string("waitpid: ") + std::strerror(errno);
    return true;
  }
  if (WIFEXITED(status)) {
    *code = WEXITSTATUS(status);
    *how = "exit code " + std::to_string(*code);
  } else {
    *code = 128 + WTERMSIG(status);
    *how = "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
  }
  return true;
}

std::string log_tail(const std::string& path, int lines) {
  std::ifstream file(path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(file, line);) {
    // Progress lines end in carriage returns; keep what a person would have seen last.
    const size_t cr = line.find_last_of('\r', line.size() > 0 ? line.size() - 1 : 0);
    if (cr != std::string::npos && cr + 1 < line.size()) line = line.substr(cr + 1);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    tail.push_back(line);
    if (int(tail.size()) > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& line : tail) out += (out.empty() ? "" : "\n") + line;
  return out;
}

std::string log_error(const std::string& path) {
  // rnnlab's own error line says what went wrong; mpirun's epilogue after it does not.
  // Else Slurm's "*** JOB 3 ON vm CANCELLED AT ... DUE TO TIME LIMIT ***" does.
  std::ifstream file(path);
  std::string error, slurm;
  for (std::string line; std::getline(file, line);) {
    if (line.find("rnnlab: error:") != std::string::npos) error = line.substr(line.find("rnnlab: error:"));
    if (line.find("*** JOB ") != std::string::npos || line.find("*** STEP ") != std::string::npos)
      slurm = line.substr(line.find("*** "));
  }
  return !error.empty() ? error : !slurm.empty() ? slurm : log_tail(path, 3);
}

SweepLock::SweepLock(const std::string& path, std::FILE* progress) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (progress) std::fprintf(progress, "sweep: waiting for %s (another sweep process, or the trials of a killed one)\n", path.c_str());
    if (::flock(fd_, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + path);
  }
}

SweepLock::~SweepLock() { ::close(fd_); }

std::string self_executable() {
  char path[4096];
  const ssize_t size = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (size <= 0) throw std::runtime_error("cannot find this program's path (/proc/self/exe)");
  return std::string(path, size_t(size));
}

}  // namespace rnnlab::experiments::detail
