// Training on every device through the ONE engine (trainer/engine.h), and model.backend
// cudnn's config key. The TrainingOnDevice tests are one body per device (cpu: onednn,
// cuda: cudnn; the cuda instance skips, saying why, without a CUDA device): the run follows
// the reference backend's loss curve, is deterministic, resumes bit for bit, and keeps the
// carried state of a language model on its device between steps while checkpoints see it.
// The CrossDevice tests move checkpoints between the cpu and a GPU. The config tests run
// everywhere (the no-device error where there is no device).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/trainer/device_test_util.h"
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
using layers::Device;

bool have_cuda() { return layers::device_available(Device::cuda); }

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
  if (have_cuda()) GTEST_SKIP() << "a CUDA device is present; this checks the no-device error";
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
  if (have_cuda()) GTEST_SKIP() << "a CUDA device is present; this checks the CPU fallback";
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

// ---- on every device ----------------------------------------------------------------------

class TrainingOnDevice : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override { RNNLAB_SKIP_WITHOUT(GetParam()); }
  // The tiny config of `task` on this device's backend.
  Config config(const std::string& task, const TempFolder& folder) const {
    return tiny_config(task, folder, testing_util::backend_for(GetParam(), "onednn"));
  }
  // Every step's loss of `config` within float tolerance of the same run on the reference
  // backend (other sums in another order: oneDNN's and cuDNN's GEMMs; the difference grows
  // with the steps).
  void expect_reference_curve(Config config, double tolerance) const;
};

void TrainingOnDevice::expect_reference_curve(Config config, double tolerance) const {
  TempFolder reference_folder;
  Config reference = config;
  reference.model.backend = "reference";
  reference.output.dir = reference_folder.file("run");
  const TrainResult a = train(reference, quiet());
  const TrainResult b = train(config, quiet());
  ASSERT_EQ(a.train_losses.size(), b.train_losses.size());
  for (size_t i = 0; i < a.train_losses.size(); ++i)
    EXPECT_NEAR(a.train_losses[i], b.train_losses[i], tolerance * (1 + std::fabs(a.train_losses[i])))
        << config.task << " step " << i + 1;
  // The test loss too (accuracy is left out: one flipped prediction moves it by 1/N).
  EXPECT_NEAR(a.test.at("loss"), b.test.at("loss"), 10 * tolerance * (1 + std::fabs(a.test.at("loss"))))
      << config.task;
}

TEST_P(TrainingOnDevice, EveryTaskFollowsTheReferenceCurve) {
  for (const std::string task : {"language_model", "classify", "forecast"}) {
    TempFolder folder;
    Config c = config(task, folder);
    c.train.max_steps = 12;
    expect_reference_curve(c, 2e-4);
  }
}

TEST_P(TrainingOnDevice, DropoutAndBidirectionalFollowTheReferenceCurve) {
  // Same counter-based masks on every backend: dropout does not break the comparison.
  TempFolder folder;
  Config c = config("tag", folder);
  c.model.layers = 2;
  c.model.bidirectional = true;
  c.model.dropout = 0.2;
  c.model.cell = "gru";
  c.train.max_steps = 8;
  expect_reference_curve(c, 2e-4);
}

TEST_P(TrainingOnDevice, TwoRunsAreBitIdentical) {
  TempFolder first, second;
  Config a = config("language_model", first);
  Config b = config("language_model", second);
  a.train.max_steps = b.train.max_steps = 10;
  EXPECT_EQ(train(a, quiet()).train_losses, train(b, quiet()).train_losses);
}

TEST_P(TrainingOnDevice, ResumeContinuesTheUninterruptedCurve) {
  TempFolder whole_folder, split_folder;
  Config whole = config("language_model", whole_folder);
  Config split = config("language_model", split_folder);
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

// The carried state of a 2-layer LSTM language model stays in the model's device buffers
// between steps and reaches the host only for a checkpoint (engine.h). Checked through
// checkpoints: a checkpoint every step (copy down, read again at the next step) leaves the
// curve bit for bit; a stop mid-epoch saves carried.h/c (not zeros) and the resume
// continues bit for bit; stripping them changes the next loss, so the checks would see a
// lost or stale state. Two epochs: the state is cleared between. Returns the pieces the
// cross-device test reuses.
struct CarriedRun {
  Config config;
  TrainResult whole;
  Checkpoint saved;
};
CarriedRun expect_carried_state_reaches_checkpoints(Config config, const TempFolder& periodic_folder,
                                                    const TempFolder& split_folder, const TempFolder& stripped_folder,
                                                    int64_t stop) {
  config.train.epochs = 2;
  config.model.layers = 2;
  config.model.cell = "lstm";
  config.train.max_steps = 0;
  CarriedRun run{config, train(config, quiet()), {}};
  EXPECT_EQ(run.whole.status, tracking::RunStatus::finished);
  EXPECT_GT(run.whole.steps / 2, stop + 1) << "the stop must fall mid-epoch";

  Config periodic = config;
  periodic.output.dir = periodic_folder.file("run");
  periodic.output.checkpoint_every = 1;
  EXPECT_EQ(train(periodic, quiet()).train_losses, run.whole.train_losses) << "a checkpoint every step";

  Config split = config;
  split.output.dir = split_folder.file("run");
  TrainOptions first = quiet();
  first.stop_after_steps = stop;
  const TrainResult part = train(split, first);
  EXPECT_EQ(part.status, tracking::RunStatus::killed);
  run.saved = load_checkpoint(checkpoint_path(split));
  const Tensor* h = run.saved.find("carried.h");
  EXPECT_NE(h, nullptr) << "a mid-epoch checkpoint holds the carried state";
  EXPECT_NE(run.saved.find("carried.c"), nullptr) << "lstm";
  bool nonzero = false;
  if (h) {
    for (float v : h->data) nonzero = nonzero || v != 0.0f;
  }
  EXPECT_TRUE(nonzero) << "carried.h is the state, not zeros";

  Config stripped = split;
  stripped.output.dir = stripped_folder.file("run");
  std::vector<TensorRef> kept;
  for (const auto& t : run.saved.tensors)
    if (t.name.rfind("carried.", 0) != 0) kept.push_back({t.name, t.shape, t.data.data()});
  std::filesystem::create_directories(stripped.output.dir);
  save_checkpoint(checkpoint_path(stripped), kept, run.saved.metadata);

  TrainOptions resume = quiet();
  resume.resume = true;
  const TrainResult rest = train(split, resume);
  std::vector<double> joined = part.train_losses;
  joined.insert(joined.end(), rest.train_losses.begin(), rest.train_losses.end());
  EXPECT_EQ(joined, run.whole.train_losses) << "resumed on the same device";

  const TrainResult without = train(stripped, resume);
  EXPECT_FALSE(without.train_losses.empty());
  if (!without.train_losses.empty()) {
    EXPECT_NE(without.train_losses[0], run.whole.train_losses[size_t(stop)]) << "the carried state matters";
  }
  return run;
}

TEST_P(TrainingOnDevice, CarriedStateStaysOnTheDeviceAndReachesCheckpoints) {
  TempFolder whole, periodic, split, stripped;
  expect_carried_state_reaches_checkpoints(config("language_model", whole), periodic, split, stripped, 3);
}

INSTANTIATE_TEST_SUITE_P(Devices, TrainingOnDevice, testing_util::all_devices(), testing_util::device_name);

// ---- between the cpu and a GPU ------------------------------------------------------------

#define SKIP_WITHOUT_CUDA() RNNLAB_SKIP_WITHOUT(Device::cuda)

TEST(CrossDevice, GpuCheckpointResumesOnTheCpuAndGenerates) {
  SKIP_WITHOUT_CUDA();
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

// A GPU run's mid-epoch checkpoint (carried state included) resumes on the CPU within float
// tolerance of the uninterrupted GPU curve.
TEST(CrossDevice, CarriedStateOfAGpuCheckpointResumesOnTheCpu) {
  SKIP_WITHOUT_CUDA();
  TempFolder whole_folder, periodic, split, stripped, cpu_folder;
  constexpr int64_t kStop = 3;
  const CarriedRun run = expect_carried_state_reaches_checkpoints(
      tiny_config("language_model", whole_folder, "cudnn"), periodic, split, stripped, kStop);
  Config cpu = run.config;
  cpu.output.dir = cpu_folder.file("run");
  cpu.model.backend = "onednn";
  std::vector<TensorRef> all;
  for (const auto& t : run.saved.tensors) all.push_back({t.name, t.shape, t.data.data()});
  std::filesystem::create_directories(cpu.output.dir);
  save_checkpoint(checkpoint_path(cpu), all, run.saved.metadata);
  TrainOptions resume = quiet();
  resume.resume = true;
  const TrainResult on_cpu = train(cpu, resume);
  ASSERT_EQ(on_cpu.train_losses.size(), run.whole.train_losses.size() - size_t(kStop));
  for (size_t i = 0; i < on_cpu.train_losses.size(); ++i)
    EXPECT_NEAR(on_cpu.train_losses[i], run.whole.train_losses[size_t(kStop) + i],
                2e-4 * (1 + std::fabs(run.whole.train_losses[size_t(kStop) + i])))
        << "resumed on the CPU, step " << kStop + 1 + int64_t(i);
}

}  // namespace
}  // namespace rnnlab::trainer
