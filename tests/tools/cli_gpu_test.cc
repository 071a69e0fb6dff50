// `rnnlab train` with model.backend cudnn where there is no GPU: a clear error naming the
// config file and the key, exit code 2 (a user mistake for this machine), before any work.
// On a machine with a GPU it skips (tests/trainer/gpu_train_test.cc trains there).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "layers/cuda/device.h"
#include "tests/trainer/train_test_util.h"

namespace {

using rnnlab::trainer::testing_util::TempFolder;

TEST(CliGpu, CudnnWithoutDeviceFailsNamingFileAndKey) {
  if (rnnlab::layers::cuda::cuda_device_available())
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

}  // namespace
