// Shared by the sweep tests that run the real binary (RNNLAB_BINARY, a compile definition).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace rnnlab::experiments::testing_util {

// The base config of the test sweeps: the adding problem at T = 10, about a second a trial.
inline const char* kBase =
    "base:\n"
    "  task: adding\n"
    "  data: {seq_len: 10, train_size: 256, test_size: 64}\n"
    "  model: {embedding_size: 0, cell: lstm, hidden_size: 8}\n"
    "  train: {batch_size: 32, epochs: 2, lr: 0.01, threads: 1, eval_every: 4}\n"
    "  output: {checkpoint_every: 4, log_every_seconds: 60}\n";


// Runs `rnnlab ARGS` with stdout and stderr appended to `log`; returns the child's pid.
inline pid_t start_rnnlab(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen(log.c_str(), "a", stderr)) ::_exit(99);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    std::vector<char*> argv{const_cast<char*>(RNNLAB_BINARY)};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(RNNLAB_BINARY, argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for a child; its exit code, or 128 + the signal that ended it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace rnnlab::experiments::testing_util
