// The NCCL communicator under mpirun -np 2 (one GPU per rank): float collectives on device
// buffers of odd sizes, every root, several async all-reduces in flight, and the host
// collectives that go over the MPI bootstrap. Where a rank has no GPU, creating the
// communicator fails on EVERY rank with a RankFailure naming the rank (checked here), and the
// GPU tests skip, saying why.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "layers/device.h"

namespace rnnlab::dist {
namespace {

Communicator* g_comm = nullptr;
std::string g_no_device;  // why there is no NCCL communicator (the RankFailure's text)

#define SKIP_WITHOUT_NCCL() \
  if (g_comm == nullptr) GTEST_SKIP() << "no CUDA device: " << g_no_device

float value_of(int rank, std::size_t i) { return static_cast<float>((rank + 1) * static_cast<int>(i % 7 + 1)); }
float sum_of(int size, std::size_t i) { return static_cast<float>(size * (size + 1) / 2 * static_cast<int>(i % 7 + 1)); }

std::vector<float> rank_values(int rank, std::size_t count) {
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = value_of(rank, i);
  return values;
}

TEST(Nccl, NoDeviceFailsEveryRankNamingIt) {
  if (g_comm != nullptr) GTEST_SKIP() << "every rank has a GPU; this checks the failure without one";
  EXPECT_NE(g_no_device.find("rank"), std::string::npos) << g_no_device;
  // A host with fewer GPUs than ranks (e.g. -np 2 on a one-GPU machine) fails the same vote
  // with the other message of nccl_communicator.cc.
  if (g_no_device.find("NCCL needs one GPU per rank") == std::string::npos) {
    EXPECT_NE(g_no_device.find("no CUDA device"), std::string::npos) << g_no_device;
  }
}

TEST(Nccl, IdentityAndVersion) {
  SKIP_WITHOUT_NCCL();
  EXPECT_EQ(g_comm->backend(), "nccl");
  EXPECT_NE(g_comm->library_version().find("NCCL 2."), std::string::npos) << g_comm->library_version();
  EXPECT_NE(nccl_version().find("NCCL"), std::string::npos);
  // Host collectives go over the MPI bootstrap.
  const std::vector<double> ranks = g_comm->all_gather(static_cast<double>(g_comm->rank()));
  for (int r = 0; r < g_comm->size(); ++r) EXPECT_EQ(ranks[size_t(r)], r);
  EXPECT_EQ(g_comm->all_reduce(1.0, ScalarOp::sum), double(g_comm->size()));
}

TEST(Nccl, AllReduceSumAndAverageOnDeviceBuffers) {
  SKIP_WITHOUT_NCCL();
  for (std::size_t count : {std::size_t(1), std::size_t(1023), std::size_t(100003)}) {
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::average}) {
      const std::vector<float> mine = rank_values(g_comm->rank(), count);
      layers::cuda::DeviceBuffer<float> buffer;
      buffer.upload(mine.data(), count);
      layers::synchronize(layers::Device::cuda);  // the contract: the buffer is written
      g_comm->all_reduce(buffer.data(), count, op);
      std::vector<float> result(count);
      buffer.download(result.data());
      for (std::size_t i = 0; i < count; ++i) {
        const float expected = op == ReduceOp::sum ? sum_of(g_comm->size(), i) : sum_of(g_comm->size(), i) / g_comm->size();
        ASSERT_FLOAT_EQ(result[i], expected) << "count " << count << " at " << i;
      }
    }
  }
}

TEST(Nccl, BroadcastFromEveryRoot) {
  SKIP_WITHOUT_NCCL();
  const std::size_t count = 4097;
  for (int root = 0; root < g_comm->size(); ++root) {
    const std::vector<float> mine = rank_values(g_comm->rank(), count);
    layers::cuda::DeviceBuffer<float> buffer;
    buffer.upload(mine.data(), count);
    layers::synchronize(layers::Device::cuda);
    g_comm->broadcast(buffer.data(), count, root);
    std::vector<float> result(count);
    buffer.download(result.data());
    EXPECT_EQ(result, rank_values(root, count)) << "root " << root;
  }
  EXPECT_THROW(g_comm->broadcast(nullptr, 1, g_comm->size()), std::invalid_argument);
}

TEST(Nccl, SeveralAsyncAllReducesWaitedInAnyOrder) {
  SKIP_WITHOUT_NCCL();
  const std::vector<std::size_t> counts{7, 70001, 513};
  std::vector<layers::cuda::DeviceBuffer<float>> buffers(counts.size());
  for (std::size_t b = 0; b < counts.size(); ++b) {
    const std::vector<float> mine = rank_values(g_comm->rank(), counts[b]);
    buffers[b].upload(mine.data(), counts[b]);
  }
  layers::synchronize(layers::Device::cuda);
  std::vector<AsyncHandle> handles;
  for (std::size_t b = 0; b < counts.size(); ++b)
    handles.push_back(g_comm->start_all_reduce(buffers[b].data(), counts[b], ReduceOp::sum,
                                               OpLabel{int(b), int(counts.size())}));
  for (std::size_t b : {std::size_t(2), std::size_t(0), std::size_t(1)}) g_comm->wait(handles[b]);
  EXPECT_THROW(g_comm->wait(handles[0]), std::invalid_argument) << "a handle is waited once";
  for (std::size_t b = 0; b < counts.size(); ++b) {
    std::vector<float> result(counts[b]);
    buffers[b].download(result.data());
    for (std::size_t i = 0; i < counts[b]; ++i) ASSERT_FLOAT_EQ(result[i], sum_of(g_comm->size(), i));
  }
}

TEST(Nccl, StatusVoteWorksOverTheBootstrap) {
  SKIP_WITHOUT_NCCL();
  EXPECT_NO_THROW(g_comm->check_all_ok(true, "nothing"));
}

}  // namespace
}  // namespace rnnlab::dist

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  rnnlab::dist::CommunicatorOptions options;
  options.backend = "nccl";
  options.timeout_seconds = 30;  // a desynchronised test ends, it does not hang
  std::unique_ptr<rnnlab::dist::Communicator> comm;
  try {
    comm = rnnlab::dist::create_communicator(options);
  } catch (const rnnlab::dist::RankFailure& failure) {
    // Every rank has it (the device vote): every rank runs the tests without a communicator.
    rnnlab::dist::g_no_device = failure.what();
    std::fprintf(stderr, "NCCL communicator not created: %s\n", failure.what());
  }
  rnnlab::dist::g_comm = comm.get();
  const int local = RUN_ALL_TESTS();
  if (!comm) return local;  // MPI is finalised already; each rank's own verdict
  const int worst = static_cast<int>(comm->all_reduce(static_cast<double>(local), rnnlab::dist::ScalarOp::max));
  if (worst != 0 && local == 0) std::fprintf(stderr, "rank %d: passed, but another rank failed\n", comm->rank());
  return worst;
}
