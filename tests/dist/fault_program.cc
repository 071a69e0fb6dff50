// A tiny "training loop" over the dist communicator, for the fault tests and the two-hosts
// test: each step all-reduces a gradient buffer in buckets and votes on the loss. One rank
// can be told to misbehave at step 3:
//   ok        no fault; checks the sums and exits 0
//   throw     throws mid-step; main catches it and calls fail() (the trainer's pattern)
//   uncaught  throws mid-step and nobody calls fail(): the communicator's destructor must end the job
//   nan       reports a NaN loss through check_all_ok(): every rank throws RankFailure
//   kill      raises SIGKILL on itself
//   stall     sleeps forever before the step's all-reduce: the others' watchdog fires
//   stop      stops itself (SIGSTOP) there: the others' watchdog fires, naming it
//   exit      calls _exit(3) without finalising MPI
// Usage: dist_fault_program MODE [--rank R] [--timeout SECONDS] [--steps N] [--progress P]
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "dist/bucketer.h"
#include "dist/communicator.h"

namespace dist = rnnlab::dist;

namespace {

struct Args {
  std::string mode = "ok";
  int fault_rank = 1;
  double timeout = 5;
  int steps = 6;
  std::string progress;  // empty: the library default
};

Args parse(int argc, char** argv) {
  Args args;
  if (argc < 2) throw std::invalid_argument("usage: dist_fault_program MODE [--rank R] [--timeout S] [--steps N]");
  args.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--rank") args.fault_rank = std::atoi(argv[i + 1]);
    else if (key == "--timeout") args.timeout = std::atof(argv[i + 1]);
    else if (key == "--steps") args.steps = std::atoi(argv[i + 1]);
    else if (key == "--progress") args.progress = argv[i + 1];
    else throw std::invalid_argument("unknown option " + key);
  }
  return args;
}

void run_steps(dist::Communicator& comm, const Args& args) {
  const std::size_t count = 100003;
  std::vector<float> gradients(count);
  const std::vector<std::size_t> tensor_ends{1000, 21000, 50000, 50001, 80000, 99999, count};
  dist::GradientBucketer bucketer(comm, gradients.data(), dist::plan_buckets(tensor_ends, 64 * 1024));
  const bool faulty = comm.rank() == args.fault_rank;
  for (int step = 1; step <= args.steps; ++step) {
    comm.set_context("step " + std::to_string(step));
    for (std::size_t i = 0; i < count; ++i) gradients[i] = static_cast<float>(comm.rank() + 1);
    if (faulty && step == 3) {
      if (args.mode == "throw" || args.mode == "uncaught") throw std::runtime_error("injected exception in backward");
      if (args.mode == "kill") raise(SIGKILL);
      if (args.mode == "stall") sleep(100000);
      if (args.mode == "stop") raise(SIGSTOP);  // mpirun's SIGKILL ends it when the job aborts
      if (args.mode == "exit") _exit(3);
    }
    // "Backward": the last tensor's gradients are final first.
    for (std::size_t t = tensor_ends.size(); t-- > 0;) bucketer.ready(t == 0 ? 0 : tensor_ends[t - 1], tensor_ends[t]);
    bucketer.finish();
    const float expected = static_cast<float>(comm.size() + 1) / 2.0f;  // average of 1..n
    for (std::size_t i = 0; i < count; ++i) {
      if (gradients[i] != expected) throw std::runtime_error("wrong all-reduce result at " + std::to_string(i));
    }
    double loss = 1.0 / step;
    if (faulty && step == 3 && args.mode == "nan") loss = std::numeric_limits<double>::quiet_NaN();
    comm.check_all_ok(std::isfinite(loss), "step " + std::to_string(step) + " loss check",
                      "loss is " + std::to_string(loss));
    const double mean_loss = comm.all_reduce(loss, dist::ScalarOp::sum) / comm.size();
    if (comm.rank() == 0) std::printf("step %d loss %.4f\n", step, mean_loss);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "dist_fault_program: %s\n", error.what());
    return 2;
  }
  dist::CommunicatorOptions options;
  options.backend = "auto";
  options.timeout_seconds = args.timeout;
  if (!args.progress.empty()) options.progress = dist::parse_progress(args.progress);
  if (args.mode == "uncaught") {
    // The communicator is destroyed while the exception unwinds to the handler outside its
    // scope, and nobody called fail(): the destructor must end the job.
    try {
      auto comm = dist::create_communicator(options);
      run_steps(*comm, args);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "dist_fault_program: error: %s\n", error.what());
      return 1;
    }
    return 0;
  }
  std::unique_ptr<dist::Communicator> comm;
  try {
    comm = dist::create_communicator(options);
    std::printf("rank %d of %d on %s (%s)\n", comm->rank(), comm->size(), comm->host_name().c_str(),
                std::string(comm->backend()).c_str());
    std::fflush(stdout);
    run_steps(*comm, args);
  } catch (const dist::RankFailure& failure) {
    // Every rank has this one: report and leave through the normal path.
    std::fprintf(stderr, "dist_fault_program: rank %d: error: %s\n", comm->rank(), failure.what());
    return 1;
  } catch (const std::exception& error) {
    // Only this rank knows: the others may be inside a collective already.
    if (comm != nullptr && comm->size() > 1) comm->fail(error.what());
    std::fprintf(stderr, "dist_fault_program: error: %s\n", error.what());
    return 1;
  }
  if (comm->rank() == 0) std::printf("all %d steps ok\n", args.steps);
  return 0;
}
