// `rnnlab train CONFIG.yaml [key=value ...] [--resume]`: train one model.
// `rnnlab summary CONFIG.yaml [key=value ...]`: the Keras-style model summary.
// `rnnlab generate CHECKPOINT --prime "Call me" --length 300 --temperature 0.8 [--top-k K]`.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "tools/cli/commands.h"
#include "trainer/config.h"
#include "trainer/data/task_data.h"
#include "trainer/engine.h"
#include "trainer/generate.h"
#include "trainer/model.h"
#include "trainer/train.h"

namespace rnnlab::cli {
namespace {

struct TrainArgs {
  std::string path;
  std::vector<std::string> overrides;
  bool resume = false;
  bool quiet = false;
};

int run_train(const TrainArgs& args) {
  // Every rank loads the same config, so a bad one fails on all of them alike (before MPI
  // starts; mpirun then ends the job on the first non-zero exit).
  const trainer::Config config = trainer::load_config(args.path, args.overrides);
  // Under mpirun every rank runs this; the communicator makes them one data-parallel job.
  // dist.timeout_seconds: how long a collective may stall before every rank is stopped.
  // model.backend cudnn without a GPU fails here, naming the file and key, on every rank.
  trainer::require_engine_available(config);
  dist::CommunicatorOptions comm_options;
  comm_options.timeout_seconds = config.dist.timeout_seconds;
  comm_options.progress = dist::parse_progress(config.dist.progress);
  // None outside mpirun; the GPU engine's device gradients go over NCCL where it is built.
  const auto memory =
      trainer::is_gpu_backend(config.model.backend) ? dist::GradientMemory::device : dist::GradientMemory::host;
  const std::unique_ptr<dist::Communicator> communicator = dist::make_communicator_for(memory, comm_options);
  const bool root = !communicator || communicator->rank() == 0;
  try {
    trainer::TrainOptions options;
    options.resume = args.resume;
    options.quiet = args.quiet || !root;
    options.communicator = communicator.get();
    const trainer::TrainResult result = trainer::train(config, options);
    if (root)
      std::fprintf(stderr, "%s after %lld steps (%.1f s); checkpoint %s\n", result.status.c_str(),
                   static_cast<long long>(result.steps), result.seconds, trainer::checkpoint_path(config).c_str());
    // Stopped by a signal, checkpoint written: 130 for Ctrl-C (SIGINT), else 143 (128 +
    // SIGTERM), as for a process the scheduler or the system asked to end.
    if (result.status != "killed") return 0;
    return result.stop_signal == SIGINT ? 130 : 143;
  } catch (const dist::RankFailure&) {
    // Every rank has it. Meet once more so that no rank exits (and makes mpirun kill the
    // others) before rank 0 has marked the tracked run failed; then exit non-zero.
    if (communicator) communicator->barrier();
    throw;
  } catch (const std::exception& error) {
    // An error only this rank has: the others may sit in a collective, so end the job.
    if (communicator && communicator->size() > 1) communicator->fail(error.what());
    throw;
  }
}

int run_summary(const TrainArgs& args) {
  const trainer::Config config = trainer::load_config(args.path, args.overrides);
  const auto data = trainer::data::make_task_data(config);
  trainer::ModelSpec spec = trainer::model_spec(config, data->info());
  // The summary does not depend on the kernels: a GPU config prints it on a machine without one.
  if (trainer::is_gpu_backend(spec.backend)) spec.backend = "reference";
  const trainer::Model model(spec, config.train.seed);
  std::fputs(model.summary().to_string().c_str(), stdout);
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* train = app.add_subcommand("train", "Train a model from a YAML config");
  train->add_option("config", args->path, "YAML config file")->required()->check(CLI::ExistingFile);
  train->add_option("overrides", args->overrides, "Dotted overrides: model.cell=gru train.lr=0.01");
  train->add_flag("--resume", args->resume, "Continue from <output.dir>/checkpoint.safetensors");
  train->add_flag("-q,--quiet", args->quiet, "No progress output");
  commands["train"] = [args] { return run_train(*args); };

  CLI::App* summary = app.add_subcommand("summary", "Print the model summary of a config (Keras style)");
  summary->add_option("config", args->path, "YAML config file")->required()->check(CLI::ExistingFile);
  summary->add_option("overrides", args->overrides, "Dotted overrides");
  commands["summary"] = [args] { return run_summary(*args); };

  auto generate = std::make_shared<trainer::GenerateOptions>();
  auto checkpoint = std::make_shared<std::string>();
  CLI::App* gen = app.add_subcommand("generate", "Sample text from a language-model checkpoint");
  gen->add_option("checkpoint", *checkpoint, "checkpoint.safetensors (or the run's output dir)")->required();
  gen->add_option("--prime", generate->prime, "Text to start from")->capture_default_str();
  gen->add_option("--length", generate->length, "Tokens to generate")->capture_default_str();
  gen->add_option("--temperature", generate->temperature, "Sampling temperature (> 0)")->capture_default_str();
  gen->add_option("--top-k", generate->top_k, "Sample from the k most likely tokens only (0 = all)")->capture_default_str();
  gen->add_option("--seed", generate->seed, "Random seed (same seed, same text)")->capture_default_str();
  gen->add_option("--backend", generate->backend, "Recurrent backend (default: the checkpoint's)");
  commands["generate"] = [generate, checkpoint] {
    std::string path = *checkpoint;
    if (path.size() < 12 || path.compare(path.size() - 12, 12, ".safetensors") != 0)
      path += "/checkpoint.safetensors";
    std::printf("%s\n", trainer::generate_text(path, *generate).c_str());
    return 0;
  };
}

}  // namespace rnnlab::cli
