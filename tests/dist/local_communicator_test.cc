// The local communicator's semantics, bucket planning and the bucketer's bookkeeping, the
// watchdog (with a recording callback instead of an abort), and the registry.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dist/bucketer.h"
#include "dist/communicator.h"
#include "dist/peer_liveness.h"
#include "dist/watchdog.h"

namespace rnnlab::dist {
namespace {

std::unique_ptr<Communicator> make_local() {
  CommunicatorOptions options;
  options.backend = "local";
  return create_communicator(options);
}

TEST(LocalCommunicator, IsRankZeroOfOne) {
  auto comm = make_local();
  EXPECT_EQ(comm->backend(), "local");
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->local_rank(), 0);
  EXPECT_FALSE(comm->host_name().empty());
}

TEST(LocalCommunicator, CollectivesLeaveDataAsIs) {
  auto comm = make_local();
  std::vector<float> values{1.5f, -2.0f, 3.25f};
  comm->all_reduce(values.data(), values.size(), ReduceOp::sum);
  EXPECT_EQ(values, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  comm->all_reduce(values.data(), values.size(), ReduceOp::average);
  EXPECT_EQ(values, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  comm->broadcast(values.data(), values.size(), 0);
  EXPECT_EQ(comm->all_reduce(2.5, ScalarOp::max), 2.5);
  EXPECT_EQ(comm->all_gather(7.0), std::vector<double>{7.0});
  EXPECT_EQ(comm->all_gather(std::string("host-a")), std::vector<std::string>{"host-a"});
  comm->barrier();
}

TEST(LocalCommunicator, BroadcastFromAnotherRootIsAnError) {
  auto comm = make_local();
  float value = 1;
  EXPECT_THROW(comm->broadcast(&value, 1, 1), std::invalid_argument);
  EXPECT_THROW(comm->broadcast_bytes(&value, sizeof value, -1), std::invalid_argument);
}

TEST(LocalCommunicator, AsyncHandlesAreWaitedOnce) {
  auto comm = make_local();
  float value = 4;
  const AsyncHandle first = comm->start_all_reduce(&value, 1, ReduceOp::average);
  const AsyncHandle second = comm->start_all_reduce(&value, 1, ReduceOp::sum);
  comm->wait(second);
  comm->wait(first);
  EXPECT_EQ(value, 4);
  EXPECT_THROW(comm->wait(first), std::invalid_argument);
  EXPECT_THROW(comm->wait(AsyncHandle{}), std::invalid_argument);
}

TEST(LocalCommunicator, CheckAllOkThrowsRankFailureNamingTheRank) {
  auto comm = make_local();
  EXPECT_NO_THROW(comm->check_all_ok(true, "step 1"));
  try {
    comm->check_all_ok(false, "step 2 loss check", "loss is nan");
    FAIL() << "expected RankFailure";
  } catch (const RankFailure& failure) {
    EXPECT_EQ(std::string(failure.what()), "rank 0 failed in step 2 loss check: loss is nan");
    EXPECT_EQ(failure.failed_ranks(), std::vector<int>{0});
  }
}

TEST(LocalCommunicator, FailThrowsWithContext) {
  auto comm = make_local();
  comm->set_context("step 9");
  try {
    comm->fail("boom");
    FAIL() << "fail() returned";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), "rank 0: boom [step 9]");
  }
}

TEST(Registry, UnknownBackendListsChoices) {
  CommunicatorOptions options;
  options.backend = "carrier-pigeon";
  try {
    create_communicator(options);
    FAIL() << "expected invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("carrier-pigeon"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("local"), std::string::npos);
  }
}

TEST(Registry, AutoIsLocalOutsideMpirun) {
  if (launched_by_mpi()) GTEST_SKIP() << "running under an MPI launcher";
  auto comm = create_communicator({});
  EXPECT_EQ(comm->backend(), "local");
}

// The choice for a training process (make_communicator_for): none outside mpirun, NCCL for
// device gradients where it is built, MPI otherwise.
TEST(Registry, CommunicatorForTheGradientMemory) {
  EXPECT_EQ(communicator_backend_for(GradientMemory::host, false), "");
  EXPECT_EQ(communicator_backend_for(GradientMemory::device, false), "");
  EXPECT_EQ(communicator_backend_for(GradientMemory::host, true), "mpi");
  EXPECT_EQ(communicator_backend_for(GradientMemory::device, true), nccl_version().empty() ? "mpi" : "nccl");
  if (launched_by_mpi()) GTEST_SKIP() << "running under an MPI launcher";
  EXPECT_EQ(make_communicator_for(GradientMemory::host), nullptr);
  EXPECT_EQ(make_communicator_for(GradientMemory::device), nullptr);
}

TEST(Registry, ProgressNames) {
  EXPECT_EQ(parse_progress("thread"), Progress::thread);
  EXPECT_EQ(to_string(parse_progress("poll")), "poll");
  EXPECT_THROW(parse_progress("busy"), std::invalid_argument);
}

TEST(PlanBuckets, GroupsTensorsUntilTheBucketIsFull) {
  // 4-byte floats; 1000-byte buckets = 250 floats.
  EXPECT_EQ(plan_buckets({100, 200, 300, 310, 2000, 2001}, 1000), (std::vector<std::size_t>{300, 2000, 2001}));
  EXPECT_EQ(plan_buckets({5}, 1 << 20), (std::vector<std::size_t>{5}));
  EXPECT_EQ(plan_buckets({100, 200}, 4), (std::vector<std::size_t>{100, 200}));
  EXPECT_TRUE(plan_buckets({}, 1000).empty());
  EXPECT_THROW(plan_buckets({100, 100}, 1000), std::invalid_argument);
  EXPECT_THROW(plan_buckets({0}, 1000), std::invalid_argument);
  EXPECT_THROW(plan_buckets({10}, 0), std::invalid_argument);
}

TEST(GradientBucketer, FiresInFixedOrderWhateverTheReadyOrder) {
  auto comm = make_local();
  std::vector<float> gradients(30, 1.0f);
  GradientBucketer bucketer(*comm, gradients.data(), {10, 20, 30});  // last_to_first
  bucketer.ready(0, 10);   // bucket 0 complete, but bucket 2 must go first
  EXPECT_EQ(bucketer.started_count(), 0u);
  bucketer.ready(25, 30);  // bucket 2 half
  EXPECT_EQ(bucketer.started_count(), 0u);
  bucketer.ready(15, 25);  // completes bucket 2 and half of 1
  EXPECT_EQ(bucketer.started_count(), 1u);
  bucketer.ready(10, 15);  // completes bucket 1 -> 1 and then the waiting 0 fire
  EXPECT_EQ(bucketer.started_count(), 3u);
  bucketer.finish();
  EXPECT_EQ(bucketer.started_count(), 0u);  // reset for the next step
  // Second step: nothing marked, finish() still issues and completes every bucket.
  bucketer.finish();
}

TEST(GradientBucketer, FirstToLastOrder) {
  auto comm = make_local();
  std::vector<float> gradients(20);
  GradientBucketer bucketer(*comm, gradients.data(), {10, 20}, ReduceOp::sum, FireOrder::first_to_last);
  bucketer.ready(10, 20);
  EXPECT_EQ(bucketer.started_count(), 0u);
  bucketer.ready(0, 10);
  EXPECT_EQ(bucketer.started_count(), 2u);
  bucketer.finish();
}

TEST(GradientBucketer, RejectsBadRangesAndDoubleMarks) {
  auto comm = make_local();
  std::vector<float> gradients(20);
  EXPECT_THROW(GradientBucketer(*comm, gradients.data(), {}), std::invalid_argument);
  EXPECT_THROW(GradientBucketer(*comm, gradients.data(), {10, 10}), std::invalid_argument);
  GradientBucketer bucketer(*comm, gradients.data(), {10, 20});
  EXPECT_THROW(bucketer.ready(5, 25), std::invalid_argument);
  EXPECT_THROW(bucketer.ready(7, 7), std::invalid_argument);
  bucketer.ready(0, 5);
  EXPECT_THROW(bucketer.ready(0, 10), std::invalid_argument);
}

// A child process that waits for a signal stands in for rank 1; identities_ are rank 0's
// (this process) and the child's as they would all-gather them: ours with its pid and
// start time (/proc/<pid>/stat field 22).
class PeerLivenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    child_ = fork();
    if (child_ == 0) {
      pause();
      _exit(0);
    }
    ASSERT_GE(child_, 0);
    identities_ = {this_process_identity(), this_process_identity()};
    identities_[1].pid = child_;
    identities_[1].start_time = 0;
    std::ifstream stat("/proc/" + std::to_string(child_) + "/stat");
    std::string text;
    ASSERT_TRUE(std::getline(stat, text));
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    for (int index = 3; index <= 22 && fields >> field; ++index)
      if (index == 22) identities_[1].start_time = std::strtoull(field.c_str(), nullptr, 10);
    ASSERT_NE(identities_[1].start_time, 0u);
  }
  void TearDown() override {
    if (child_ <= 0) return;
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
  }
  std::string described() const {
    return "rank 1 (host " + std::string(identities_[1].host) + " pid " + std::to_string(child_) + ")";
  }

  pid_t child_ = -1;
  std::vector<ProcessIdentity> identities_;
};

// The child is visible (same boot and pid namespace), alive until killed, then reported
// dead by rank and pid, also as a zombie not yet reaped.
TEST_F(PeerLivenessTest, NamesAPeerWhoseProcessIsGone) {
  const pid_t child = child_;
  const std::vector<ProcessIdentity>& identities = identities_;
  const PeerLiveness liveness(0, identities);
  ASSERT_EQ(liveness.visible_ranks(), std::vector<int>{1});
  EXPECT_EQ(liveness.dead_peer(), "");
  // A reused pid (another start time) is not the peer.
  std::vector<ProcessIdentity> reused = identities;
  reused[1].start_time += 1;
  EXPECT_EQ(PeerLiveness(0, reused).dead_peer().rfind("rank 1 (host ", 0), 0u);
  // Another pid namespace (a container) is not visible.
  std::vector<ProcessIdentity> other_namespace = identities;
  other_namespace[1].pid_namespace += 1;
  EXPECT_TRUE(PeerLiveness(0, other_namespace).visible_ranks().empty());
  kill(child, SIGKILL);
  // Dead but not reaped: a zombie counts as gone.
  for (int i = 0; i < 200 && liveness.dead_peer().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(liveness.dead_peer(), described());
  waitpid(child, nullptr, 0);
  child_ = -1;  // reaped: its pid may be reused, TearDown must not signal it
  EXPECT_NE(liveness.dead_peer(), "");  // reaped: no such process
}

// A stopped peer (SIGSTOP) cannot arrive at any collective: named as such, and no longer
// once it runs again. A waiting (sleeping) one is not.
TEST_F(PeerLivenessTest, NamesAStoppedPeer) {
  const pid_t child = child_;
  const PeerLiveness liveness(0, identities_);
  EXPECT_EQ(liveness.stuck_peers(), "");
  kill(child, SIGSTOP);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status));
  EXPECT_EQ(liveness.stuck_peers(),
            described() + " did not arrive: its process is stopped (SIGSTOP, a suspended job or a debugger)");
  EXPECT_EQ(liveness.dead_peer(), "");  // stopped is not dead
  kill(child, SIGCONT);
  for (int i = 0; i < 200 && !liveness.stuck_peers().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(liveness.stuck_peers(), "");
}

// Up to 3 s for the watchdog to fire.
void wait_for_a_message(std::mutex& mutex, const std::vector<std::string>& messages) {
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::lock_guard<std::mutex> lock(mutex);
    if (!messages.empty()) return;
  }
}

TEST(Watchdog, ATimeoutNamesThePeerThatCannotArrive) {
  std::mutex mutex;
  std::vector<std::string> messages;
  {
    Watchdog watchdog(
        0.2, 0,
        [&](const std::string& message) {
          std::lock_guard<std::mutex> lock(mutex);
          messages.push_back(message);
        },
        {}, [] { return std::string("rank 2 (host h pid 9) did not arrive: its process is stopped"); });
    watchdog.begin("all_gather", {}, 256, "bytes");
    wait_for_a_message(mutex, messages);
    watchdog.end();
  }
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages[0],
            "rank 0: timed out after 0.2 s in all_gather(256 bytes): rank 2 (host h pid 9) did not arrive: its process "
            "is stopped");
}

TEST(Watchdog, NamesADeadPeerLongBeforeTheTimeout) {
  std::mutex mutex;
  std::vector<std::string> messages;
  std::atomic<bool> dead{false};
  const auto start = std::chrono::steady_clock::now();
  double fired_after = -1;
  {
    Watchdog watchdog(
        30, 0,
        [&](const std::string& message) {
          std::lock_guard<std::mutex> lock(mutex);
          if (messages.empty())
            fired_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          messages.push_back(message);
        },
        [&] { return dead ? std::string("rank 1 (host h pid 7)") : std::string(); });
    watchdog.set_context("step 5");
    // A gone peer while finalising is normal (it finished first): never fire.
    dead = true;
    watchdog.begin("finalize");
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    watchdog.end();
    {
      std::lock_guard<std::mutex> lock(mutex);
      EXPECT_TRUE(messages.empty());
    }
    watchdog.begin("all_reduce", {0, 3}, 10);
    wait_for_a_message(mutex, messages);
    watchdog.end();
  }
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages[0],
            "rank 0: rank 1 (host h pid 7) died (its process is gone) while rank 0 waited in "
            "all_reduce(bucket 1 of 3, step 5)");
  EXPECT_LT(fired_after, 2.0);  // 0.4 s of finalize + two 0.1 s checks, far below the 30 s timeout
}

TEST(Watchdog, DescribesOperations) {
  EXPECT_EQ(describe_operation("all_reduce", {2, 7}, 100, "floats", "step 120"), "all_reduce(bucket 3 of 7, step 120)");
  EXPECT_EQ(describe_operation("broadcast", {}, 1000, "floats", ""), "broadcast(1000 floats)");
  EXPECT_EQ(describe_operation("barrier", {}, 0, "floats", "step 1"), "barrier(step 1)");
}

TEST(Watchdog, FiresOnlyForAnOperationPastTheTimeout) {
  std::mutex mutex;
  std::vector<std::string> messages;
  {
    Watchdog watchdog(0.2, 3, [&](const std::string& message) {
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(message);
    });
    watchdog.set_context("step 120");
    // Many short operations: never fire.
    for (int i = 0; i < 20; ++i) {
      watchdog.begin("all_reduce", {}, 10);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      watchdog.end();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // idle: never fire
    {
      std::lock_guard<std::mutex> lock(mutex);
      EXPECT_TRUE(messages.empty());
    }
    watchdog.begin("all_reduce", {2, 7}, 10);
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(3)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::lock_guard<std::mutex> lock(mutex);
      if (!messages.empty()) break;
    }
    watchdog.end();
  }
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages.front(), "rank 3: timed out after 0.2 s in all_reduce(bucket 3 of 7, step 120)");
}

}  // namespace
}  // namespace rnnlab::dist
