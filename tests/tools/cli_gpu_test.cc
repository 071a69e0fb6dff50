// `rnnlab train` with model.backend cudnn where there is no GPU: a clear error naming the
// config file and the key, exit code 2 (a user mistake for this machine), before any work.
// On a machine with a GPU it skips (tests/trainer/gpu_train_test.cc trains there).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "layers/device.h"
#include "tests/trainer/train_test_util.h"

namespace {

using rnnlab::trainer::testing_util::TempFolder;

std::string run(const std::string& command, int* code) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return output;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return output;
}

TEST(CliGpu, DoctorReportsNcclAndFailsClearlyWithoutADevice) {
  int code = -1;
  const std::string plain = run("'" RNNLAB_BIN "' doctor --skip-bench", &code);
  EXPECT_EQ(code, 0) << plain;
  EXPECT_NE(plain.find("NCCL: "), std::string::npos) << plain;
  if (rnnlab::layers::device_available(rnnlab::layers::Device::cuda))
    GTEST_SKIP() << "a CUDA device is present; this checks doctor --nccl's error without one";
  const std::string nccl = run("'" RNNLAB_BIN "' doctor --nccl --skip-bench", &code);
  EXPECT_NE(code, 0) << nccl;
  if (plain.find("NCCL: not in this build") != std::string::npos) {
    EXPECT_NE(nccl.find("no NCCL"), std::string::npos) << nccl;
  } else {
    EXPECT_NE(nccl.find("NCCL setup"), std::string::npos) << nccl;
    EXPECT_NE(nccl.find("no CUDA device"), std::string::npos) << nccl;
  }
}

TEST(CliGpu, CudnnWithoutDeviceFailsNamingFileAndKey) {
  if (rnnlab::layers::device_available(rnnlab::layers::Device::cuda))
    GTEST_SKIP() << "a CUDA device is present; this checks the no-device error";
  TempFolder folder;
  folder.write("text.txt", rnnlab::trainer::testing_util::tiny_text());
  for (const std::string backend : {"cudnn", "gpu"}) {
    const std::string command = "cd '" + folder.file("") + "' && '" RNNLAB_BIN "' train '" RNNLAB_CONFIGS
                                "/tiny_lm.yaml' model.backend=" + backend + " 2>&1";
    std::string output;
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::array<char, 4096> buffer;
    size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
    const int status = pclose(pipe);
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 2) << output;
    EXPECT_NE(output.find("tiny_lm.yaml"), std::string::npos) << output;
    EXPECT_NE(output.find("model.backend"), std::string::npos) << output;
    EXPECT_NE(output.find("CUDA"), std::string::npos) << output;
    EXPECT_FALSE(std::filesystem::exists(folder.file("run/checkpoint.safetensors"))) << output;
  }
}

TEST(CliGpu, SummaryOfACudnnConfigNeedsNoDevice) {
  TempFolder folder;
  folder.write("text.txt", rnnlab::trainer::testing_util::tiny_text());
  int code = -1;
  const std::string output = run("cd '" + folder.file("") + "' && '" RNNLAB_BIN "' summary '" RNNLAB_CONFIGS
                                 "/tiny_lm.yaml' model.backend=cudnn", &code);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("Total params"), std::string::npos) << output;
}

}  // namespace
