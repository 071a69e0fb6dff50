// The one-process communicator: rank 0 of 1. Sum and average all-reduce leave the buffer
// as it is, broadcast from root 0 is a no-op, all-gather returns the caller's own value,
// async operations complete at once; fail() throws std::runtime_error (nothing to abort).
// Always built, so a build without MPI still trains. Internal: use create_communicator().
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "dist/communicator.h"

namespace rnnlab::dist {

class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(const CommunicatorOptions& options);

  std::string_view backend() const override { return "local"; }
  std::string library_version() const override { return "local (no communication library)"; }
  void set_context(std::string context) override { context_ = std::move(context); }

  void all_reduce(float* data, std::size_t count, ReduceOp op) override;
  void all_reduce(double* data, std::size_t count, ScalarOp op) override;
  void broadcast(float* data, std::size_t count, int root) override;
  void broadcast_bytes(void* data, std::size_t bytes, int root) override;
  std::vector<std::uint8_t> all_gather_bytes(const void* data, std::size_t bytes) override;
  void barrier() override {}

  AsyncHandle start_all_reduce(float* data, std::size_t count, ReduceOp op, OpLabel label) override;
  void wait(AsyncHandle handle) override;
  void progress() override {}
  void set_progress(Progress progress) override { progress_ = progress; }
  Progress progress_mode() const override { return progress_; }

  [[noreturn]] void fail(const std::string& message) override;
  void raw_all_reduce_sum(float*, std::size_t) override {}

 private:
  void check_root(int root) const;
  std::string context_;
  Progress progress_;
  std::int64_t next_handle_ = 0;
  std::set<std::int64_t> outstanding_;  // started, not yet waited
};

}  // namespace rnnlab::dist
