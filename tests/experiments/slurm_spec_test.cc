// launch.mode slurm without a cluster: the launch keys are validated with file:line:key,
// and the batch script a trial gets asks for what the sweep file says.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "experiments/slurm.h"
#include "experiments/sweep.h"

namespace rnnlab::experiments {
namespace {

const char* kSweep =
    "name: cells\n"                                                   // 1
    "base: {task: adding, data: {seq_len: 10}, model: {embedding_size: 0, hidden_size: 8}}\n"  // 2
    "parameters:\n"                                                   // 3
    "  model.cell: {values: [gru]}\n"                                 // 4
    "launch:\n";                                                      // 5

std::string error_of(const std::string& launch) {
  try {
    parse_sweep(std::string(kSweep) + launch, "sweep.yaml");
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "(no error)";
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(SlurmSpec, ResourceKeysAreRead) {
  const SweepSpec spec = parse_sweep(std::string(kSweep) +
                                         "  mode: slurm\n  ranks: 4\n  nodes: 2\n  cpus_per_rank: 3\n"
                                         "  gpus_per_rank: 1\n  time: \"1-02:30:00\"\n  partition: gpu\n"
                                         "  account: lab\n  qos: high\n  sbatch_args: [--exclusive]\n"
                                         "  parallel: 8\n  signal_seconds: 90\n",
                                     "sweep.yaml");
  const SlurmSpec& slurm = spec.launch.slurm;
  EXPECT_EQ(spec.launch.mode, "slurm");
  EXPECT_EQ(spec.launch.ranks, 4);
  EXPECT_EQ(slurm.nodes, 2);
  EXPECT_EQ(slurm.cpus_per_rank, 3);
  EXPECT_EQ(slurm.gpus_per_rank, 1);
  EXPECT_EQ(slurm.time, "1-02:30:00");
  EXPECT_EQ(slurm.partition, "gpu");
  EXPECT_EQ(slurm.account, "lab");
  EXPECT_EQ(slurm.qos, "high");
  EXPECT_EQ(slurm.sbatch_args, std::vector<std::string>{"--exclusive"});
  EXPECT_EQ(slurm.signal_seconds, 90);
}

TEST(SlurmSpec, ErrorsNameFileLineAndKey) {
  EXPECT_CONTAINS(error_of("  mode: process\n  partition: gpu\n"), "sweep.yaml:7: key 'launch.partition': needs mode: slurm");
  EXPECT_CONTAINS(error_of("  mode: slurm\n  time: soon\n"), "sweep.yaml:7: key 'launch.time': expected a Slurm time limit");
  EXPECT_CONTAINS(error_of("  mode: slurm\n  time: \"1:2:3:4\"\n"), "key 'launch.time'");
  EXPECT_CONTAINS(error_of("  mode: slurm\n  ranks: 2\n  nodes: 3\n"), "sweep.yaml:8: key 'launch.nodes': more nodes (3) than ranks (2)");
  EXPECT_CONTAINS(error_of("  mode: slurm\n  cpus_per_rank: 0\n"), "sweep.yaml:7: key 'launch.cpus_per_rank': must be at least 1");
  EXPECT_CONTAINS(error_of("  mode: slurm\n  sbatch_args: --exclusive\n"), "key 'launch.sbatch_args': expected a list");
  EXPECT_CONTAINS(error_of("  mode: slurm\n  ranks_via: ssh\n"), "key 'launch.ranks_via': unknown value 'ssh'");
  EXPECT_CONTAINS(error_of("  mode: slurm\n  requeue: maybe\n"), "key 'launch.requeue': expected true or false");
  EXPECT_CONTAINS(error_of("  mode: slurm\n  gpu_per_rank: 1\n"), "key 'launch.gpu_per_rank': unknown key");
  EXPECT_EQ(error_of("  mode: slurm\n  time: \"30\"\n"), "(no error)");
  EXPECT_EQ(error_of("  mode: slurm\n  time: \"2-12\"\n"), "(no error)");
}

TEST(SlurmSpec, BatchScriptAsksForTheResourcesAndRequeuesOnTheWarning) {
  SweepSpec spec = parse_sweep(std::string(kSweep) +
                                   "  mode: slurm\n  ranks: 4\n  nodes: 2\n  cpus_per_rank: 3\n  gpus_per_rank: 1\n"
                                   "  time: \"90\"\n  partition: gpu\n  account: lab\n  qos: high\n"
                                   "  sbatch_args: [--exclusive]\n  signal_seconds: 90\n",
                               "sweep.yaml");
  detail::SlurmJobRequest request{"cells/abc", "/out/train.log", "/out", "/out/checkpoint.safetensors", "/work",
                                  {"/bin/rnnlab", "train", "base.yaml", "model.cell=gru"}};
  const std::string script = detail::sbatch_script(spec.launch, request);
  for (const char* line : {"#SBATCH --job-name=cells/abc\n", "#SBATCH --nodes=2\n", "#SBATCH --ntasks=4\n",
                           "#SBATCH --cpus-per-task=3\n", "#SBATCH --gpus-per-task=1\n", "#SBATCH --time=90\n",
                           "#SBATCH --partition=gpu\n", "#SBATCH --account=lab\n", "#SBATCH --qos=high\n",
                           "#SBATCH --signal=B:USR1@90\n", "#SBATCH --requeue\n", "#SBATCH --exclusive\n",
                           "#SBATCH --output=/out/train.log\n", "#SBATCH --open-mode=append\n",
                           "srun --ntasks=4 --cpus-per-task=3 --mpi=pmix /bin/rnnlab train base.yaml model.cell=gru \"${resume[@]}\" &",
                           "scontrol requeue", "[[ -f /out/checkpoint.safetensors ]] && resume=(--resume)"})
    EXPECT_CONTAINS(script, line);
  spec.launch.slurm.requeue = false;
  spec.launch.slurm.ranks_via = "mpirun";
  const std::string plain = detail::sbatch_script(spec.launch, request);
  EXPECT_CONTAINS(plain, "#SBATCH --no-requeue\n");
  EXPECT_CONTAINS(plain, "mpirun -np 4 ");
  // Words with spaces or quotes reach the trainer as one argument each.
  request.train.push_back("data.path=it's here.txt");
  EXPECT_CONTAINS(detail::sbatch_script(spec.launch, request), " 'data.path=it'\\''s here.txt' ");
  EXPECT_EQ(plain.find("scontrol requeue"), std::string::npos);
}

TEST(SlurmSpec, OutcomeNamesSlurmsStateReasonAndExitCode) {
  std::string how;
  EXPECT_EQ(detail::slurm_outcome({"7", "COMPLETED", "None", "0:0"}, "/nonexistent", &how), 0);
  EXPECT_NE(detail::slurm_outcome({"7", "TIMEOUT", "TimeLimit", "0:15"}, "/nonexistent", &how), 0);
  EXPECT_EQ(how, "slurm job 7 TIMEOUT (reason TimeLimit, exit code 0:15)");
  EXPECT_EQ(detail::slurm_outcome({"8", "FAILED", "NonZeroExitCode", "1:0"}, "/nonexistent", &how), 1);
  EXPECT_EQ(how, "slurm job 8 FAILED (reason NonZeroExitCode, exit code 1:0)");
  EXPECT_NE(detail::slurm_outcome({"9", "", "", ""}, "/nonexistent", &how), 0);
  EXPECT_CONTAINS(how, "gone from Slurm");
  EXPECT_TRUE(detail::slurm_active("PENDING"));
  EXPECT_TRUE(detail::slurm_active("REQUEUED"));
  EXPECT_FALSE(detail::slurm_active("OUT_OF_MEMORY"));
  EXPECT_FALSE(detail::slurm_active("CANCELLED"));
}

}  // namespace
}  // namespace rnnlab::experiments
