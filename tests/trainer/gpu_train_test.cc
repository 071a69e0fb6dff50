// model.backend cudnn: the config key (runs everywhere), the clear error without a device
// (runs where there is none), and with a device: the GPU run follows the CPU run's loss
// curve, is deterministic, and its checkpoint resumes/loads on the CPU. The GPU tests skip,
// saying why, without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "layers/cuda/device.h"
#include "tests/trainer/train_test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/engine.h"
#include "trainer/generate.h"
#include "trainer/train.h"

namespace rnnlab::trainer {
namespace {

using testing_util::TempFolder;
using testing_util::tiny_config;
namespace cuda = layers::cuda;

#define SKIP_WITHOUT_DEVICE() \
  if (!cuda::cuda_device_available()) GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason()

TrainOptions quiet() {
  TrainOptions options;
  options.quiet = true;
  return options;
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

// ---- the config key (no device needed) ---------------------------------------------------

TEST(GpuBackendConfig, GpuIsAnAliasOfCudnn) {
  const Config config = parse_config("model:\n  backend: gpu\n", "alias.yaml");
  EXPECT_EQ(config.model.backend, "cudnn");
  EXPECT_TRUE(is_gpu_backend(config.model.backend));
  EXPECT_FALSE(is_gpu_backend("onednn"));
}

TEST(GpuBackendConfig, UnknownBackendNamesFileKeyAndChoices) {
  const std::string message = message_of([] { parse_config("model:\n  backend: tpu\n", "bad_backend.yaml"); });
  EXPECT_NE(message.find("bad_backend.yaml"), std::string::npos) << message;
  EXPECT_NE(message.find("model.backend"), std::string::npos) << message;
  EXPECT_NE(message.find("cudnn"), std::string::npos) << message;
}

TEST(GpuBackendConfig, CudnnRefusesPeepholeNamingBothKeys) {
  const std::string message = message_of(
      [] { parse_config("model:\n  cell: lstm\n  backend: cudnn\n  peephole: true\n", "peephole.yaml"); });
  EXPECT_NE(message.find("peephole.yaml"), std::string::npos) << message;
  EXPECT_NE(message.find("model.peephole"), std::string::npos) << message;
  EXPECT_NE(message.find("cuDNN"), std::string::npos) << message;
}

TEST(GpuBackendConfig, WithoutADeviceTrainFailsBeforeAnyWorkNamingFileAndKey) {
  if (cuda::cuda_device_available()) GTEST_SKIP() << "a CUDA device is present; this checks the no-device error";
  TempFolder folder;
  Config config = tiny_config("language_model", folder, "cudnn");
  config.source = "gpu_run.yaml";
  const std::string message = message_of([&] { train(config, quiet()); });
  EXPECT_NE(message.find("gpu_run.yaml"), std::string::npos) << message;
  EXPECT_NE(message.find("model.backend"), std::string::npos) << message;
  EXPECT_NE(message.find("CUDA"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(folder.file("run/checkpoint.safetensors")));
}

TEST(GpuBackendConfig, AGpuCheckpointGeneratesOnTheCpuWithoutADevice) {
  if (cuda::cuda_device_available()) GTEST_SKIP() << "a CUDA device is present; this checks the CPU fallback";
  // A checkpoint is the same file on CPU and GPU; only the stored config names the backend.
  TempFolder folder;
  Config config = tiny_config("language_model", folder, "onednn");
  config.train.max_steps = 3;
  train(config, quiet());
  Checkpoint checkpoint = load_checkpoint(checkpoint_path(config));
  Config stored = parse_config(checkpoint.metadata["config"].get<std::string>(), "stored");
  stored.model.backend = "cudnn";
  checkpoint.metadata["config"] = config_to_yaml(stored);
  std::vector<TensorRef> refs;
  for (const auto& t : checkpoint.tensors) refs.push_back({t.name, t.shape, t.data.data()});
  const std::string gpu_file = folder.file("gpu.safetensors");
  save_checkpoint(gpu_file, refs, checkpoint.metadata);
  GenerateOptions options;
  options.prime = "the ";
  options.length = 10;
  options.seed = 5;
  const std::string from_gpu_file = generate_text(gpu_file, options);
  EXPECT_EQ(from_gpu_file, generate_text(checkpoint_path(config), options)) << "same weights, same text";
}

// ---- on a GPU ----------------------------------------------------------------------------

// The same tiny run on onednn and on cudnn: every step's loss within float tolerance (cuDNN's
// FP32 sums in another order than oneDNN's, and the difference grows with the steps).
void expect_same_curve(const std::string& task, int steps, double tolerance) {
  TempFolder cpu_folder, gpu_folder;
  Config cpu = tiny_config(task, cpu_folder, "onednn");
  Config gpu = tiny_config(task, gpu_folder, "cudnn");
  cpu.train.max_steps = gpu.train.max_steps = steps;
  const TrainResult a = train(cpu, quiet());
  const TrainResult b = train(gpu, quiet());
  ASSERT_EQ(a.train_losses.size(), b.train_losses.size());
  for (size_t i = 0; i < a.train_losses.size(); ++i)
    EXPECT_NEAR(a.train_losses[i], b.train_losses[i], tolerance * (1 + std::fabs(a.train_losses[i])))
        << task << " step " << i + 1;
  // The test loss too (accuracy is left out: one flipped prediction moves it by 1/N).
  EXPECT_NEAR(a.test.at("loss"), b.test.at("loss"), 10 * tolerance * (1 + std::fabs(a.test.at("loss")))) << task;
}

TEST(GpuTraining, LanguageModelFollowsTheCpuCurve) {
  SKIP_WITHOUT_DEVICE();
  expect_same_curve("language_model", 12, 2e-4);
}

TEST(GpuTraining, ClassifierFollowsTheCpuCurve) {
  SKIP_WITHOUT_DEVICE();
  expect_same_curve("classify", 12, 2e-4);
}

TEST(GpuTraining, ForecastFollowsTheCpuCurve) {
  SKIP_WITHOUT_DEVICE();
  expect_same_curve("forecast", 12, 2e-4);
}

TEST(GpuTraining, DropoutAndBidirectionalFollowTheCpuCurve) {
  SKIP_WITHOUT_DEVICE();
  // Same counter-based masks on both: dropout does not break the comparison.
  TempFolder cpu_folder, gpu_folder;
  Config cpu = tiny_config("tag", cpu_folder, "onednn");
  Config gpu = tiny_config("tag", gpu_folder, "cudnn");
  for (Config* c : {&cpu, &gpu}) {
    c->model.layers = 2;
    c->model.bidirectional = true;
    c->model.dropout = 0.2;
    c->model.cell = "gru";
    c->train.max_steps = 8;
  }
  const TrainResult a = train(cpu, quiet());
  const TrainResult b = train(gpu, quiet());
  ASSERT_EQ(a.train_losses.size(), b.train_losses.size());
  for (size_t i = 0; i < a.train_losses.size(); ++i)
    EXPECT_NEAR(a.train_losses[i], b.train_losses[i], 2e-4 * (1 + a.train_losses[i])) << "step " << i + 1;
}

TEST(GpuTraining, TwoRunsAreBitIdentical) {
  SKIP_WITHOUT_DEVICE();
  TempFolder first, second;
  Config a = tiny_config("language_model", first, "cudnn");
  Config b = tiny_config("language_model", second, "cudnn");
  a.train.max_steps = b.train.max_steps = 10;
  EXPECT_EQ(train(a, quiet()).train_losses, train(b, quiet()).train_losses);
}

TEST(GpuTraining, CheckpointResumesOnTheCpuAndGenerates) {
  SKIP_WITHOUT_DEVICE();
  TempFolder folder;
  Config gpu = tiny_config("language_model", folder, "cudnn");
  gpu.train.max_steps = 6;
  train(gpu, quiet());
  // The same file continues on the CPU (optimizer state and step count included)...
  Config cpu = gpu;
  cpu.model.backend = "onednn";
  cpu.train.max_steps = 9;
  TrainOptions resume = quiet();
  resume.resume = true;
  const TrainResult resumed = train(cpu, resume);
  EXPECT_EQ(resumed.steps, 9);
  EXPECT_EQ(resumed.train_losses.size(), 3u);
  // ...and generates text.
  GenerateOptions options;
  options.prime = "the ";
  options.length = 20;
  EXPECT_FALSE(generate_text(checkpoint_path(cpu), options).empty());
  // A CPU checkpoint resumes on the GPU.
  Config back = cpu;
  back.model.backend = "cudnn";
  back.train.max_steps = 11;
  EXPECT_EQ(train(back, resume).steps, 11);
}

TEST(GpuTraining, ResumeOnTheGpuContinuesTheUninterruptedCurve) {
  SKIP_WITHOUT_DEVICE();
  TempFolder whole_folder, split_folder;
  Config whole = tiny_config("language_model", whole_folder, "cudnn");
  Config split = tiny_config("language_model", split_folder, "cudnn");
  whole.train.max_steps = split.train.max_steps = 10;
  const TrainResult uninterrupted = train(whole, quiet());
  TrainOptions first = quiet();
  first.stop_after_steps = 4;
  const TrainResult part = train(split, first);
  TrainOptions rest = quiet();
  rest.resume = true;
  const TrainResult tail = train(split, rest);
  std::vector<double> joined = part.train_losses;
  joined.insert(joined.end(), tail.train_losses.begin(), tail.train_losses.end());
  EXPECT_EQ(uninterrupted.train_losses, joined);
}

}  // namespace
}  // namespace rnnlab::trainer
