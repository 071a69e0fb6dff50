// model.backend cudnn: the config key (runs everywhere), the clear error without a device
// (runs where there is none), and with a device: the GPU run follows the CPU run's loss
// curve, is deterministic, and its checkpoint resumes/loads on the CPU. The GPU tests skip,
// saying why, without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
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

// The GPU engine keeps a language model's carried state on the device between steps and
// copies it to the host only for a checkpoint (engine.h). Checked through checkpoints: a
// checkpoint every step (copy down, upload again at the next step) leaves the curve bit for
// bit; a stop mid-epoch saves carried.h/c and the resume (on the GPU: bit for bit; on the
// CPU: within float tolerance) continues from them; stripping them changes the next loss,
// so the checks would see a lost or stale state. Two epochs: the state is cleared between.
TEST(GpuTraining, CarriedStateStaysOnTheDeviceAndReachesCheckpoints) {
  SKIP_WITHOUT_DEVICE();
  TempFolder whole_folder, periodic_folder, split_folder, cpu_folder, stripped_folder;
  Config config = tiny_config("language_model", whole_folder, "cudnn");
  config.train.epochs = 2;
  config.model.layers = 2;
  config.model.cell = "lstm";
  config.train.max_steps = 0;
  const TrainResult whole = train(config, quiet());
  ASSERT_EQ(whole.status, tracking::RunStatus::finished);
  const int64_t per_epoch = whole.steps / 2;
  constexpr int64_t kStop = 3;
  ASSERT_GT(per_epoch, kStop + 1) << "the stop must fall mid-epoch";

  Config periodic = config;
  periodic.output.dir = periodic_folder.file("run");
  periodic.output.checkpoint_every = 1;
  EXPECT_EQ(train(periodic, quiet()).train_losses, whole.train_losses) << "a checkpoint every step";

  Config split = config;
  split.output.dir = split_folder.file("run");
  TrainOptions first = quiet();
  first.stop_after_steps = kStop;
  const TrainResult part = train(split, first);
  ASSERT_EQ(part.status, tracking::RunStatus::killed);
  const Checkpoint saved = load_checkpoint(checkpoint_path(split));
  const Tensor* h = saved.find("carried.h");
  ASSERT_NE(h, nullptr) << "a mid-epoch GPU checkpoint holds the carried state";
  ASSERT_NE(saved.find("carried.c"), nullptr) << "lstm";
  bool nonzero = false;
  for (float v : h->data) nonzero = nonzero || v != 0.0f;
  EXPECT_TRUE(nonzero) << "carried.h is the device state, not zeros";

  // Copies of the checkpoint for the CPU and for the stripped resume.
  Config cpu = split;
  cpu.output.dir = cpu_folder.file("run");
  cpu.model.backend = "onednn";
  Config stripped = split;
  stripped.output.dir = stripped_folder.file("run");
  std::vector<TensorRef> all, kept;
  for (const auto& t : saved.tensors) {
    all.push_back({t.name, t.shape, t.data.data()});
    if (t.name.rfind("carried.", 0) != 0) kept.push_back({t.name, t.shape, t.data.data()});
  }
  std::filesystem::create_directories(cpu.output.dir);
  std::filesystem::create_directories(stripped.output.dir);
  save_checkpoint(checkpoint_path(cpu), all, saved.metadata);
  save_checkpoint(checkpoint_path(stripped), kept, saved.metadata);

  TrainOptions resume = quiet();
  resume.resume = true;
  const TrainResult rest = train(split, resume);
  std::vector<double> joined = part.train_losses;
  joined.insert(joined.end(), rest.train_losses.begin(), rest.train_losses.end());
  EXPECT_EQ(joined, whole.train_losses) << "resumed on the GPU";

  const TrainResult on_cpu = train(cpu, resume);
  ASSERT_EQ(on_cpu.train_losses.size(), whole.train_losses.size() - size_t(kStop));
  for (size_t i = 0; i < on_cpu.train_losses.size(); ++i)
    EXPECT_NEAR(on_cpu.train_losses[i], whole.train_losses[size_t(kStop) + i],
                2e-4 * (1 + std::fabs(whole.train_losses[size_t(kStop) + i])))
        << "resumed on the CPU, step " << kStop + 1 + int64_t(i);

  const TrainResult without = train(stripped, resume);
  ASSERT_FALSE(without.train_losses.empty());
  EXPECT_NE(without.train_losses[0], whole.train_losses[size_t(kStop)]) << "the carried state matters";
}

}  // namespace
}  // namespace rnnlab::trainer
