// `rnnlab train | summary | generate` as a user runs them: the built binary on the tiny
// configs in tests/tools/configs, checking exit codes and what the messages name.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/trainer/train_test_util.h"
#include "trainer/checkpoint.h"

namespace {

using rnnlab::trainer::testing_util::TempFolder;

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `rnnlab ARGS` in `folder` (a shell command line; arguments are quoted by the caller).
CliRun rnnlab(const std::string& args, const TempFolder& folder) {
  const std::string command = "cd '" + folder.file("") + "' && '" RNNLAB_BIN "' " + args + " 2>&1";
  CliRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return run;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

std::string config(const std::string& name) { return std::string("'" RNNLAB_CONFIGS "/") + name + "'"; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CliConfigErrors, MalformedYamlNamesFileAndLine) {
  TempFolder folder;
  const CliRun run = rnnlab("train " + config("malformed.yaml"), folder);
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "malformed.yaml:")) << run.output;
  EXPECT_TRUE(contains(run.output, "YAML")) << run.output;
  EXPECT_FALSE(std::filesystem::exists(folder.file("run"))) << "no work before validation";
}

TEST(CliConfigErrors, UnknownKeyNamesFileLineAndKeyPath) {
  TempFolder folder;
  const CliRun run = rnnlab("train " + config("unknown_key.yaml"), folder);
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "unknown_key.yaml:4")) << run.output;
  EXPECT_TRUE(contains(run.output, "model.hiden_size")) << run.output;
}

TEST(CliConfigErrors, WrongTypeNamesFileLineAndKeyPath) {
  TempFolder folder;
  const CliRun run = rnnlab("train " + config("wrong_type.yaml"), folder);
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "wrong_type.yaml:4")) << run.output;
  EXPECT_TRUE(contains(run.output, "train.lr")) << run.output;
}

TEST(CliConfigErrors, BadOverrideNamesTheOverride) {
  TempFolder folder;
  const CliRun run = rnnlab("train " + config("tiny_lm.yaml") + " model.cell=lstn", folder);
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "model.cell")) << run.output;
  EXPECT_TRUE(contains(run.output, "lstn")) << run.output;
}

TEST(CliConfigErrors, MissingConfigFileNamesIt) {
  TempFolder folder;
  const CliRun run = rnnlab("train no_such_config.yaml", folder);
  EXPECT_NE(run.code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "no_such_config.yaml")) << run.output;
}

TEST(CliConfigErrors, MissingDataFileNamesIt) {
  TempFolder folder;
  const CliRun run = rnnlab("train " + config("tiny_lm.yaml") + " data.path=absent.txt", folder);
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "absent.txt")) << run.output;
}

TEST(CliSummary, PrintsTheKerasTable) {
  TempFolder folder;
  folder.write("text.txt", rnnlab::trainer::testing_util::tiny_text());
  const CliRun run = rnnlab("summary " + config("tiny_lm.yaml"), folder);
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "Layer (type)")) << run.output;
  EXPECT_TRUE(contains(run.output, "embedding (Embedding)")) << run.output;
  EXPECT_TRUE(contains(run.output, "lstm (LSTM)")) << run.output;
  EXPECT_TRUE(contains(run.output, "dense (Dense)")) << run.output;
  EXPECT_TRUE(contains(run.output, "Total params:")) << run.output;
  const CliRun gru = rnnlab("summary " + config("tiny_lm.yaml") + " model.cell=gru", folder);
  EXPECT_TRUE(contains(gru.output, "gru (GRU)")) << gru.output;
}

TEST(CliTrain, TrainsThenGeneratesReproducibly) {
  TempFolder folder;
  folder.write("text.txt", rnnlab::trainer::testing_util::tiny_text());
  const CliRun train = rnnlab("train -q " + config("tiny_lm.yaml"), folder);
  ASSERT_EQ(train.code, 0) << train.output;
  EXPECT_TRUE(contains(train.output, "finished")) << train.output;
  ASSERT_TRUE(std::filesystem::exists(folder.file("run/checkpoint.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(folder.file("run/metrics.jsonl")));

  const CliRun a = rnnlab("generate run --prime 'the ' --length 40 --seed 5", folder);
  ASSERT_EQ(a.code, 0) << a.output;
  EXPECT_EQ(a.output.rfind("the ", 0), 0u) << a.output;
  const CliRun b = rnnlab("generate run/checkpoint.safetensors --prime 'the ' --length 40 --seed 5", folder);
  EXPECT_EQ(b.output, a.output);
  const CliRun c = rnnlab("generate run --prime 'the ' --length 40 --seed 6", folder);
  EXPECT_EQ(c.code, 0) << c.output;
  EXPECT_NE(c.output, a.output);

  // --resume of a finished run: nothing left to do, the checkpoint stays loadable.
  const CliRun resumed = rnnlab("train -q --resume " + config("tiny_lm.yaml"), folder);
  EXPECT_EQ(resumed.code, 0) << resumed.output;
}

TEST(CliTrain, CorruptCheckpointIsAnErrorForResumeAndGenerate) {
  TempFolder folder;
  folder.write("text.txt", rnnlab::trainer::testing_util::tiny_text());
  ASSERT_EQ(rnnlab("train -q " + config("tiny_lm.yaml") + " train.max_steps=3", folder).code, 0);
  const std::string path = folder.file("run/checkpoint.safetensors");
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  const CliRun resume = rnnlab("train -q --resume " + config("tiny_lm.yaml"), folder);
  EXPECT_EQ(resume.code, 1) << resume.output;  // runtime_error: not a crash (no signal)
  EXPECT_TRUE(contains(resume.output, "checkpoint.safetensors")) << resume.output;
  const CliRun generate = rnnlab("generate run", folder);
  EXPECT_EQ(generate.code, 1) << generate.output;
  EXPECT_TRUE(contains(generate.output, "checkpoint.safetensors")) << generate.output;
}

TEST(CliTrain, DivergenceExitsNonZeroNamingTheStepAndKeepsTheCheckpoint) {
  TempFolder folder;
  folder.write("text.txt", rnnlab::trainer::testing_util::tiny_text());
  const CliRun run = rnnlab("train -q " + config("tiny_lm.yaml") +
                             " train.optimizer=sgd train.lr=1e38 train.clip_norm=0 output.checkpoint_every=1",
                         folder);
  EXPECT_EQ(run.code, 1) << run.output;
  EXPECT_TRUE(contains(run.output, "step ")) << run.output;
  EXPECT_TRUE(contains(run.output, "loss")) << run.output;
  const std::string path = folder.file("run/checkpoint.safetensors");
  if (std::filesystem::exists(path)) {
    EXPECT_NO_THROW(rnnlab::trainer::load_checkpoint(path));
    const CliRun generate = rnnlab("generate run --prime 'the ' --length 5", folder);  // no capitals in the text
    EXPECT_EQ(generate.code, 0) << generate.output;
  }
}

// A stop signal ends the run after the current step with a checkpoint, the tracked run
// marked killed, and --resume continues it: SIGINT exits 130, SIGTERM and SIGHUP (a closed
// terminal) exit 143 (128 + SIGTERM), as does SIGUSR1 (Slurm's warning before the time
// limit, --signal=USR1@SECONDS). The signal is sent once metrics.jsonl has a training loss,
// i.e. once the loop (and its signal handler) is running; no fixed sleeps.
void stop_checkpoints_and_resume_continues(int signal_number, int expected_code) {
  TempFolder folder;
  folder.write("text.txt", rnnlab::trainer::testing_util::tiny_text());
  const std::string log = folder.file("interrupted.log");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(folder.file("").c_str()) != 0) _exit(99);
    if (!freopen(log.c_str(), "w", stderr)) _exit(99);
    const std::string path = std::string(RNNLAB_CONFIGS) + "/tiny_lm.yaml";
    execl(RNNLAB_BIN, RNNLAB_BIN, "train", "-q", path.c_str(), "train.epochs=100000", "output.tracker=runs.db",
          static_cast<char*>(nullptr));
    _exit(98);
  }
  bool running = false;
  for (int i = 0; i < 6000 && !running; ++i) {  // up to 60 s on a loaded machine
    std::ifstream metrics(folder.file("run/metrics.jsonl"));
    running = std::string(std::istreambuf_iterator<char>(metrics), {}).find("train_loss") != std::string::npos;
    if (!running) usleep(10000);
  }
  kill(pid, signal_number);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(running) << "training never started";
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  std::ifstream text(log);
  const std::string output((std::istreambuf_iterator<char>(text)), {});
  EXPECT_EQ(WEXITSTATUS(status), expected_code) << output;
  EXPECT_TRUE(contains(output, "killed")) << output;
  EXPECT_NO_THROW(rnnlab::trainer::load_checkpoint(folder.file("run/checkpoint.safetensors")));
  const CliRun listed = rnnlab("runs list --db runs.db -f csv", folder);
  EXPECT_TRUE(contains(listed.output, ",killed,")) << listed.output;
  const size_t at = output.find("killed after ");
  ASSERT_NE(at, std::string::npos) << output;
  const long long steps = std::stoll(output.substr(at + 13));
  ASSERT_GT(steps, 0);
  const std::string target = std::to_string(steps + 3);
  const CliRun resumed = rnnlab("train -q --resume " + config("tiny_lm.yaml") +
                                    " train.epochs=100000 output.tracker=runs.db train.max_steps=" + target,
                                folder);
  EXPECT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "finished after " + target + " steps")) << resumed.output;
  // The same tracker run continued (one run, now finished).
  const CliRun after = rnnlab("runs list --db runs.db -f csv", folder);
  EXPECT_TRUE(contains(after.output, ",finished,")) << after.output;
  EXPECT_FALSE(contains(after.output, ",killed,")) << after.output;
}

TEST(CliTrain, SigintCheckpointsExits130AndResumeContinues) { stop_checkpoints_and_resume_continues(SIGINT, 130); }
TEST(CliTrain, SigtermCheckpointsExits143AndResumeContinues) { stop_checkpoints_and_resume_continues(SIGTERM, 143); }
TEST(CliTrain, SighupCheckpointsExits143AndResumeContinues) { stop_checkpoints_and_resume_continues(SIGHUP, 143); }
TEST(CliTrain, Sigusr1CheckpointsExits143AndResumeContinues) { stop_checkpoints_and_resume_continues(SIGUSR1, 143); }

TEST(CliGenerate, ClassifyCheckpointIsRefusedClearly) {
  TempFolder folder;
  folder.write("labels.tsv", rnnlab::trainer::testing_util::tiny_tsv());
  ASSERT_EQ(rnnlab("train -q " + config("tiny_lm.yaml") +
                       " task=classify data.path=labels.tsv data.format=auto train.max_steps=2",
                   folder)
                .code,
            0);
  const CliRun run = rnnlab("generate run", folder);
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "language_model")) << run.output;
}

TEST(CliGenerate, HelpShowsTheDefaults) {
  TempFolder folder;
  const CliRun run = rnnlab("generate --help", folder);
  EXPECT_EQ(run.code, 0) << run.output;
  for (const char* shown : {"--prime TEXT=The ", "--length INT=300", "--temperature FLOAT=1", "--top-k INT=0", "--seed UINT=0"})
    EXPECT_TRUE(contains(run.output, shown)) << shown << "\n" << run.output;
}

}  // namespace
