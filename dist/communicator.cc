#include "dist/communicator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "dist/local_communicator.h"
#ifdef RNNLAB_HAVE_MPI
#include "dist/mpi/mpi_communicator.h"
#endif
#ifdef RNNLAB_HAVE_NCCL
#include "dist/nccl/nccl_communicator.h"
#endif

namespace rnnlab::dist {

Progress parse_progress(std::string_view name) {
  if (name == "none") return Progress::none;
  if (name == "poll") return Progress::poll;
  if (name == "thread") return Progress::thread;
  throw std::invalid_argument("unknown progress strategy '" + std::string(name) +
                              "' (choices: none, poll, thread)");
}

std::string_view to_string(Progress progress) {
  switch (progress) {
    case Progress::none: return "none";
    case Progress::poll: return "poll";
    case Progress::thread: return "thread";
  }
  return "?";
}

std::vector<double> Communicator::all_gather(double value) {
  const std::vector<std::uint8_t> bytes = all_gather_bytes(&value, sizeof value);
  std::vector<double> values(static_cast<std::size_t>(size()));
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

std::vector<std::string> Communicator::all_gather(const std::string& text) {
  // Two rounds: the lengths, then every text padded to the longest.
  const std::uint64_t length = text.size();
  const std::vector<std::uint8_t> length_bytes = all_gather_bytes(&length, sizeof length);
  std::vector<std::uint64_t> lengths(static_cast<std::size_t>(size()));
  std::memcpy(lengths.data(), length_bytes.data(), length_bytes.size());
  const std::uint64_t longest = std::max<std::uint64_t>(1, *std::max_element(lengths.begin(), lengths.end()));
  std::string padded = text;
  padded.resize(longest, '\0');
  const std::vector<std::uint8_t> bytes = all_gather_bytes(padded.data(), longest);
  std::vector<std::string> texts;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    texts.emplace_back(reinterpret_cast<const char*>(bytes.data()) + r * longest, lengths[r]);
  }
  return texts;
}

double Communicator::all_reduce(double value, ScalarOp op) {
  all_reduce(&value, 1, op);
  return value;
}

void Communicator::check_all_ok(bool local_ok, std::string_view what, std::string_view message) {
  // One fixed-size record per rank: the verdict and the first bytes of the reason, so every
  // rank can name who failed and why without a second round.
  struct Record {
    std::int32_t ok;
    char message[252];
  };
  Record record{};
  record.ok = local_ok ? 1 : 0;
  const std::size_t length = std::min(message.size(), sizeof record.message - 1);
  if (length > 0) std::memcpy(record.message, message.data(), length);  // data() may be null
  const std::vector<std::uint8_t> bytes = all_gather_bytes(&record, sizeof record);
  std::vector<int> failed;
  std::string text;
  for (int r = 0; r < size(); ++r) {
    Record other;
    std::memcpy(&other, bytes.data() + static_cast<std::size_t>(r) * sizeof other, sizeof other);
    if (other.ok != 0) continue;
    failed.push_back(r);
    other.message[sizeof other.message - 1] = '\0';
    if (!text.empty()) text += "; ";
    text += "rank " + std::to_string(r) + " failed in " + std::string(what);
    if (other.message[0] != '\0') text += ": " + std::string(other.message);
  }
  if (failed.empty()) return;
  failure_is_collective_ = true;
  throw RankFailure(text, failed);
}

void Communicator::set_failure_hook(FailureHook hook) {
  std::lock_guard<std::mutex> lock(failure_hook_mutex_);
  failure_hook_ = std::move(hook);
}

void Communicator::run_failure_hook(const std::string& message) noexcept {
  std::lock_guard<std::mutex> lock(failure_hook_mutex_);
  if (!failure_hook_) return;
  try {
    failure_hook_(message);
  } catch (...) {
    // The job is ending anyway; the message has been printed.
  }
}

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

std::vector<std::string> communicator_backends() {
  std::vector<std::string> names{"auto", "local"};
#ifdef RNNLAB_HAVE_MPI
  names.push_back("mpi");
#endif
#ifdef RNNLAB_HAVE_NCCL
  names.push_back("nccl");
#endif
  return names;
}

#ifndef RNNLAB_HAVE_NCCL
std::string nccl_version() { return ""; }
#endif

std::unique_ptr<Communicator> create_communicator(const CommunicatorOptions& options) {
  std::string backend = options.backend;
  if (backend == "auto") backend = launched_by_mpi() ? "mpi" : "local";
  if (backend == "local") return std::make_unique<LocalCommunicator>(options);
#ifdef RNNLAB_HAVE_MPI
  if (backend == "mpi") return create_mpi_communicator(options);
#endif
#ifdef RNNLAB_HAVE_NCCL
  if (backend == "nccl") return create_nccl_communicator(options);
#endif
  std::string choices;
  for (const std::string& name : communicator_backends()) choices += (choices.empty() ? "" : ", ") + name;
  throw std::invalid_argument("unknown communicator backend '" + options.backend + "' (choices: " + choices +
                              ")");
}

std::string communicator_backend_for(GradientMemory memory, bool launched_by_mpi) {
  if (!launched_by_mpi) return "";
  return memory == GradientMemory::device && !nccl_version().empty() ? "nccl" : "mpi";
}

std::unique_ptr<Communicator> make_communicator_for(GradientMemory memory, CommunicatorOptions options) {
  options.backend = communicator_backend_for(memory, launched_by_mpi());
  if (options.backend.empty()) return nullptr;
  return create_communicator(options);
}

}  // namespace rnnlab::dist
