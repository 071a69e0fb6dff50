// The signals that ask a training to stop cleanly, for the commands that train
// (`rnnlab train`, `rnnlab sweep` in launch mode in_process): SIGINT, SIGTERM, SIGHUP (a
// closed terminal) and SIGUSR1 (a batch scheduler's time-limit warning: Slurm's --signal)
// are recorded instead of ending the process, and trainer::TrainOptions::stop_requested
// reads the record after every step, so the run ends with a checkpoint and the tracker
// in order. The library installs no handler of its own; this is the one place that does.
//
// One StopSignals at a time per process (the handlers write one process-wide flag); the
// constructor installs the handlers and clears the flag, the destructor puts the previous
// handlers back. requested() may be called from any thread.
//
// The handlers run on an alternate signal stack (sigaltstack, SA_ONSTACK) of the thread that
// installed them: a signal delivered on the interrupted code's own stack writes its frame
// below that code's stack pointer, and oneDNN's JIT kernels were seen to lose data kept there
// (a SIGUSR1 during training corrupted the heap in about 4 of 10 runs on the oneDNN backend,
// never on the reference one; with the alternate stack, 0 of 16).
#pragma once

#include <signal.h>

#include <array>
#include <functional>

namespace rnnlab::cli {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The last signal received since construction; 0 when none.
  static int requested();
  // requested, as trainer::TrainOptions::stop_requested takes it.
  std::function<int()> source() const { return &StopSignals::requested; }

 private:
  std::array<struct sigaction, 4> previous_{};
  stack_t previous_stack_{};
};

// The exit code of `rnnlab train` stopped by `signal_number`: 130 for Ctrl-C (SIGINT),
// else 143 (128 + SIGTERM), as for a process the scheduler or the system asked to end.
int stop_exit_code(int signal_number);

}  // namespace rnnlab::cli
