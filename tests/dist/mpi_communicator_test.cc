// The MPI communicator under mpirun (ctest runs it with -np 2 and -np 3): collectives with
// odd sizes, every root, async all-reduce under every progress strategy, the bucketer with
// ranks marking ranges in different orders, and the status vote. Every rank runs every test;
// the exit code is the worst over ranks, so one rank's failure fails the job.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "dist/bucketer.h"
#include "dist/communicator.h"

namespace rnnlab::dist {
namespace {

Communicator* g_comm = nullptr;

// Rank-dependent integer-valued floats keep the sums exact.
float value_of(int rank, std::size_t i) { return static_cast<float>((rank + 1) * static_cast<int>(i % 7 + 1)); }
float sum_of(int size, std::size_t i) { return static_cast<float>(size * (size + 1) / 2 * static_cast<int>(i % 7 + 1)); }

const std::vector<std::size_t> kOddCounts{1, 3, 1023, 4097, 100003};

TEST(Mpi, RanksAreDistinctAndSizeMatchesTheLauncher) {
  Communicator& comm = *g_comm;
  EXPECT_EQ(comm.backend(), "mpi");
  const char* world = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (world != nullptr) {
    EXPECT_EQ(comm.size(), std::atoi(world));
  }
  std::vector<double> ranks = comm.all_gather(static_cast<double>(comm.rank()));
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(ranks[r], r);
  EXPECT_GE(comm.local_rank(), 0);
  EXPECT_LT(comm.local_rank(), comm.local_size());
  EXPECT_NE(comm.library_version().find("MPI"), std::string::npos);
}

TEST(Mpi, OnlyOneMpiCommunicatorPerProcess) {
  CommunicatorOptions options;
  options.backend = "mpi";
  EXPECT_THROW(create_communicator(options), std::invalid_argument);
}

TEST(Mpi, AllReduceSumAndAverageOddSizes) {
  Communicator& comm = *g_comm;
  for (std::size_t count : kOddCounts) {
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i) values[i] = value_of(comm.rank(), i);
    comm.all_reduce(values.data(), count, ReduceOp::sum);
    for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(values[i], sum_of(comm.size(), i)) << "count " << count << " i " << i;
    for (std::size_t i = 0; i < count; ++i) values[i] = value_of(comm.rank(), i);
    comm.all_reduce(values.data(), count, ReduceOp::average);
    for (std::size_t i = 0; i < count; ++i) {
      ASSERT_FLOAT_EQ(values[i], sum_of(comm.size(), i) / comm.size()) << "count " << count << " i " << i;
    }
  }
}

TEST(Mpi, ScalarReductions) {
  Communicator& comm = *g_comm;
  const double mine = 10.0 + comm.rank();
  EXPECT_EQ(comm.all_reduce(mine, ScalarOp::sum), 10.0 * comm.size() + comm.size() * (comm.size() - 1) / 2.0);
  EXPECT_EQ(comm.all_reduce(mine, ScalarOp::min), 10.0);
  EXPECT_EQ(comm.all_reduce(mine, ScalarOp::max), 10.0 + comm.size() - 1);
  std::vector<double> several{1.0 * comm.rank(), -1.0 * comm.rank(), 0.5};
  comm.all_reduce(several.data(), several.size(), ScalarOp::max);
  EXPECT_EQ(several, (std::vector<double>{comm.size() - 1.0, 0.0, 0.5}));
}

TEST(Mpi, BroadcastFromEveryRoot) {
  Communicator& comm = *g_comm;
  for (int root = 0; root < comm.size(); ++root) {
    std::vector<float> values(1023, static_cast<float>(comm.rank()));
    if (comm.rank() == root) std::iota(values.begin(), values.end(), 0.5f);
    comm.broadcast(values.data(), values.size(), root);
    for (std::size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], 0.5f + i);
    std::string bytes = comm.rank() == root ? "state from root " + std::to_string(root) : std::string(17, '?');
    bytes.resize(17);
    comm.broadcast_bytes(bytes.data(), bytes.size(), root);
    EXPECT_EQ(bytes, ("state from root " + std::to_string(root)).substr(0, 17));
  }
  float value = 0;
  EXPECT_THROW(comm.broadcast(&value, 1, comm.size()), std::invalid_argument);
}

TEST(Mpi, AllGatherStringsOfDifferentLengths) {
  Communicator& comm = *g_comm;
  const std::vector<std::string> texts = comm.all_gather(std::string(static_cast<std::size_t>(comm.rank()) * 3, 'x'));
  ASSERT_EQ(texts.size(), static_cast<std::size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(texts[r], std::string(static_cast<std::size_t>(r) * 3, 'x'));
}

class MpiAsync : public testing::TestWithParam<Progress> {
 protected:
  void SetUp() override { g_comm->set_progress(GetParam()); }
  void TearDown() override { g_comm->set_progress(Progress::poll); }
};

TEST_P(MpiAsync, SeveralInFlightWaitedInAnyOrder) {
  Communicator& comm = *g_comm;
  std::vector<std::vector<float>> buffers;
  for (std::size_t count : kOddCounts) {
    std::vector<float> values(count);
    for (std::size_t i = 0; i < count; ++i) values[i] = value_of(comm.rank(), i);
    buffers.push_back(std::move(values));
  }
  std::vector<AsyncHandle> handles;
  for (std::size_t b = 0; b < buffers.size(); ++b) {
    handles.push_back(comm.start_all_reduce(buffers[b].data(), buffers[b].size(),
                                            b % 2 == 0 ? ReduceOp::sum : ReduceOp::average));
    comm.progress();
  }
  // A blocking collective while the async ones are in flight (they use their own channel).
  EXPECT_EQ(comm.all_reduce(1.0, ScalarOp::sum), comm.size());
  for (std::size_t b = buffers.size(); b-- > 0;) comm.wait(handles[b]);
  for (std::size_t b = 0; b < buffers.size(); ++b) {
    const float divisor = b % 2 == 0 ? 1.0f : static_cast<float>(comm.size());
    for (std::size_t i = 0; i < buffers[b].size(); ++i) {
      ASSERT_FLOAT_EQ(buffers[b][i], sum_of(comm.size(), i) / divisor) << "buffer " << b << " i " << i;
    }
  }
  EXPECT_THROW(comm.wait(handles[0]), std::invalid_argument);
}

TEST_P(MpiAsync, BucketerWithRankDependentReadyOrder) {
  Communicator& comm = *g_comm;
  const std::size_t count = 100003;
  const std::vector<std::size_t> tensor_ends{1000, 21000, 50000, 50001, 80000, 99999, count};
  const std::vector<std::size_t> bucket_ends = plan_buckets(tensor_ends, 64 * 1024);
  ASSERT_GE(bucket_ends.size(), 3u);
  std::vector<float> gradients(count);
  GradientBucketer bucketer(comm, gradients.data(), bucket_ends);
  std::mt19937 rng(1234u + static_cast<unsigned>(comm.rank()));
  for (int step = 0; step < 3; ++step) {
    for (std::size_t i = 0; i < count; ++i) gradients[i] = value_of(comm.rank(), i);
    std::vector<std::size_t> order(tensor_ends.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);  // a different order on every rank
    for (std::size_t t : order) bucketer.ready(t == 0 ? 0 : tensor_ends[t - 1], tensor_ends[t]);
    EXPECT_EQ(bucketer.started_count(), bucket_ends.size());
    bucketer.finish();
    for (std::size_t i = 0; i < count; ++i) {
      ASSERT_FLOAT_EQ(gradients[i], sum_of(comm.size(), i) / comm.size()) << "step " << step << " i " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Progress, MpiAsync, testing::Values(Progress::none, Progress::poll, Progress::thread),
                         [](const testing::TestParamInfo<Progress>& param_info) { return std::string(to_string(param_info.param)); });

TEST(Mpi, CheckAllOkNamesTheFailingRankOnEveryRank) {
  Communicator& comm = *g_comm;
  EXPECT_NO_THROW(comm.check_all_ok(true, "step 1"));
  const int bad = comm.size() - 1;
  try {
    comm.check_all_ok(comm.rank() != bad, "step 2 loss check", "loss is nan");
    FAIL() << "expected RankFailure";
  } catch (const RankFailure& failure) {
    EXPECT_EQ(failure.failed_ranks(), std::vector<int>{bad});
    EXPECT_EQ(std::string(failure.what()), "rank " + std::to_string(bad) + " failed in step 2 loss check: loss is nan");
  }
  // The communicator is still usable after a vote (everyone is in step).
  EXPECT_EQ(comm.all_reduce(1.0, ScalarOp::sum), comm.size());
}

}  // namespace
}  // namespace rnnlab::dist

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  rnnlab::dist::CommunicatorOptions options;
  options.backend = "mpi";
  options.timeout_seconds = 30;  // a test that desynchronises the ranks ends, not hangs
  auto comm = rnnlab::dist::create_communicator(options);
  rnnlab::dist::g_comm = comm.get();
  const int local = RUN_ALL_TESTS();
  // Every rank must agree on the exit code, or mpirun reports the first non-zero one only.
  const int worst = static_cast<int>(comm->all_reduce(static_cast<double>(local), rnnlab::dist::ScalarOp::max));
  if (worst != 0 && local == 0) std::fprintf(stderr, "rank %d: passed, but another rank failed\n", comm->rank());
  return worst;
}
