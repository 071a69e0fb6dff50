// trainer/training_state.h: a checkpoint written by the trainer BEFORE TrainingState existed
// (tests/trainer/data/checkpoint_v1_char_lm.safetensors, `rnnlab train` of the .yaml beside
// it at commit 258d7e2: a char LM stopped mid-epoch, so it carries state; adam; early
// stopping with restore_best; a tracker) loads with every field, and saving what was loaded
// gives the same bytes: the layout is unchanged. Bad files fail naming the file and key.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/trainer/train_test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/generate.h"
#include "trainer/optim.h"
#include "trainer/training_state.h"

namespace rnnlab::trainer {
namespace {

const std::string kOld = std::string(RNNLAB_TEST_DATA) + "/checkpoint_v1_char_lm.safetensors";

std::string bytes_of(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream out;
  out << file.rdbuf();
  return out.str();
}

struct Loaded {
  LoadedModel model;
  std::unique_ptr<Optimizer> optimizer;
  TrainingState state;
};

Loaded load_old(bool restore_best = true) {
  Loaded loaded;
  loaded.model = load_model(kOld);
  loaded.optimizer = make_optimizer(optimizer_options(loaded.model.config.train), loaded.model.model->parameter_count());
  loaded.state.early_stopping.best = INFINITY;  // the trainer's initial value for val_loss
  loaded.state.load(load_checkpoint(kOld), *loaded.model.model, *loaded.optimizer, restore_best);
  return loaded;
}

TEST(TrainingState, LoadsACheckpointOfTheCodeBeforeIt) {
  const Loaded loaded = load_old();
  const TrainingState& s = loaded.state;
  EXPECT_EQ(s.step, 7);
  EXPECT_EQ(s.epoch, 0);
  EXPECT_EQ(s.batch_in_epoch, 7);  // where a resume starts: the batch after the 7th
  EXPECT_EQ(s.carried.batch, 4);
  EXPECT_EQ(s.carried.h.size(), 64u);  // [layers, batch 4, hidden 16]
  EXPECT_EQ(s.carried.c.size(), 64u);
  EXPECT_DOUBLE_EQ(s.early_stopping.best, 2.284609531148569);
  EXPECT_EQ(s.early_stopping.since_best, 0);
  EXPECT_FALSE(s.early_stopping.stopped);
  EXPECT_EQ(int64_t(s.early_stopping.best_params.size()), loaded.model.model->parameter_count());
  EXPECT_EQ(s.gradient_norms["steps"], 1);
  EXPECT_EQ(s.tracker_path, "/tmp/oldckpt/tracker.db");
  EXPECT_EQ(s.run_id, 1);
  EXPECT_EQ(loaded.optimizer->step_count(), 7);
  EXPECT_EQ(loaded.model.config.train.optimizer, "adam");
  // Without restore_best the copy of the best parameters is not read.
  EXPECT_TRUE(load_old(false).state.early_stopping.best_params.empty());
}

TEST(TrainingState, SavingWhatWasLoadedGivesTheSameBytes) {
  Loaded loaded = load_old();
  const Checkpoint old = load_checkpoint(kOld);
  testing_util::TempFolder folder;
  const std::string again = folder.file("again.safetensors");
  // The loop's position is the batch just trained (the file holds the next one).
  loaded.state.batch_in_epoch -= 1;
  const CheckpointContext context{old.metadata["config"].get<std::string>(), old.metadata["task_data"]};
  loaded.state.save(again, context, *loaded.model.model, *loaded.optimizer, /*epoch_done=*/false);
  const std::string want = bytes_of(kOld), got = bytes_of(again);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "the re-saved checkpoint differs from the one the old code wrote";

  // At an epoch's end the file resumes at the next epoch, without carried state.
  loaded.state.save(again, context, *loaded.model.model, *loaded.optimizer, /*epoch_done=*/true);
  const Checkpoint done = load_checkpoint(again);
  EXPECT_EQ(done.metadata["epoch"], 1);
  EXPECT_EQ(done.metadata["batch_in_epoch"], 0);
  EXPECT_EQ(done.find("carried.h"), nullptr);
}

std::string load_error(Checkpoint checkpoint, const std::string& optimizer_name, bool restore_best) {
  LoadedModel model = load_model(kOld);
  OptimizerOptions options = optimizer_options(model.config.train);
  options.name = optimizer_name;
  auto optimizer = make_optimizer(options, model.model->parameter_count());
  TrainingState state;
  try {
    state.load(checkpoint, *model.model, *optimizer, restore_best);
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

TEST(TrainingState, BadCheckpointsNameTheFileAndKey) {
  const Checkpoint old = load_checkpoint(kOld);
  EXPECT_EQ(load_error(old, "sgd", true), kOld + ": saved with optimizer 'adam', config asks for 'sgd'");

  Checkpoint foreign = old;
  foreign.metadata["format"] = "something-else";
  EXPECT_EQ(load_error(foreign, "adam", true), kOld + ": not an rnnlab checkpoint (no rnnlab metadata)");

  Checkpoint no_best = old;
  for (size_t i = 0; i < no_best.tensors.size(); ++i)
    if (no_best.tensors[i].name == "early_stopping.best_params") no_best.tensors.erase(no_best.tensors.begin() + long(i));
  EXPECT_NE(load_error(no_best, "adam", true).find(kOld + ": has no copy of the best parameters"), std::string::npos);
  EXPECT_EQ(load_error(no_best, "adam", false), "");

  Checkpoint short_state = old;
  for (Tensor& tensor : short_state.tensors)
    if (tensor.name == "optimizer.exp_avg") tensor.shape = {3}, tensor.data.resize(3);
  const std::string error = load_error(short_state, "adam", true);
  EXPECT_NE(error.find(kOld), std::string::npos) << error;
  EXPECT_NE(error.find("optimizer.exp_avg"), std::string::npos) << error;
}

TEST(CheckpointHelpers, PathsAndTheRnnlabCheck) {
  EXPECT_EQ(checkpoint_path("runs/a"), "runs/a/checkpoint.safetensors");
  EXPECT_EQ(resolve_checkpoint_argument("runs/a"), "runs/a/checkpoint.safetensors");
  EXPECT_EQ(resolve_checkpoint_argument("runs/a/step-10.safetensors"), "runs/a/step-10.safetensors");
  Checkpoint checkpoint = load_checkpoint(kOld);
  EXPECT_EQ(require_rnnlab_checkpoint(checkpoint, {"config", "task_data"})["step"], 7);
  checkpoint.metadata.erase("task_data");
  EXPECT_THROW(require_rnnlab_checkpoint(checkpoint, {"task_data"}), std::invalid_argument);
  checkpoint.metadata["config"] = 3;  // not the config's text
  EXPECT_THROW(require_rnnlab_checkpoint(checkpoint, {"config"}), std::invalid_argument);
  checkpoint.metadata = nullptr;
  EXPECT_THROW(require_rnnlab_checkpoint(checkpoint), std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::trainer
