#include "dist/local_communicator.h"

#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace rnnlab::dist {

LocalCommunicator::LocalCommunicator(const CommunicatorOptions& options) : progress_(options.progress) {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  host_name_ = name;
  timeout_seconds_ = options.timeout_seconds;
}

void LocalCommunicator::all_reduce(float* data, std::size_t count, ReduceOp) {
  if (data == nullptr && count > 0) throw std::invalid_argument("all_reduce: null buffer");
}

void LocalCommunicator::all_reduce(double* data, std::size_t count, ScalarOp) {
  if (data == nullptr && count > 0) throw std::invalid_argument("all_reduce: null buffer");
}

void LocalCommunicator::check_root(int root) const {
  if (root != 0) throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is not a rank (size 1)");
}

void LocalCommunicator::broadcast(float*, std::size_t, int root) { check_root(root); }
void LocalCommunicator::broadcast_bytes(void*, std::size_t, int root) { check_root(root); }

std::vector<std::uint8_t> LocalCommunicator::all_gather_bytes(const void* data, std::size_t bytes) {
  std::vector<std::uint8_t> gathered(bytes);
  if (bytes > 0) std::memcpy(gathered.data(), data, bytes);
  return gathered;
}

AsyncHandle LocalCommunicator::start_all_reduce(float* data, std::size_t count, ReduceOp op, OpLabel) {
  all_reduce(data, count, op);
  outstanding_.insert(next_handle_);
  return AsyncHandle{next_handle_++};
}

void LocalCommunicator::wait(AsyncHandle handle) {
  if (outstanding_.erase(handle.id) == 0) {
    throw std::invalid_argument("wait: unknown or already waited async handle " + std::to_string(handle.id));
  }
}

void LocalCommunicator::fail(const std::string& message) {
  throw std::runtime_error("rank 0: " + message + (context_.empty() ? "" : " [" + context_ + "]"));
}

}  // namespace rnnlab::dist
