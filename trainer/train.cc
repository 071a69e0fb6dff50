#include "trainer/train.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "dist/communicator.h"
#include "layers/random.h"
#include "trainer/checkpoint.h"
#include "trainer/collectives.h"
#include "trainer/data/task_data.h"
#include "trainer/engine.h"
#include "trainer/gradient_norms.h"
#include "trainer/model.h"
#include "trainer/objective.h"
#include "trainer/optim.h"
#include "trainer/progress.h"
#include "trainer/run_log.h"
#include "trainer/schedule.h"
#include "trainer/training_state.h"

namespace rnnlab::trainer {
namespace {

using Clock = std::chrono::steady_clock;
using tracking::RunStatus;

// Installs a Communicator failure hook for one scope (no-op without a communicator).
class FailureHookScope {
 public:
  FailureHookScope(dist::Communicator* communicator, dist::Communicator::FailureHook hook)
      : communicator_(communicator) {
    if (communicator_) communicator_->set_failure_hook(std::move(hook));
  }
  ~FailureHookScope() {
    if (communicator_) communicator_->set_failure_hook({});
  }
  FailureHookScope(const FailureHookScope&) = delete;
  FailureHookScope& operator=(const FailureHookScope&) = delete;

 private:
  dist::Communicator* communicator_;
};

uint64_t dropout_seed(uint64_t seed, int64_t step) { return layers::random_bits(seed, 0xD0, uint64_t(step)); }

class Trainer {
 public:
  Trainer(const Config& config, const TrainOptions& options)
      : config_(config), options_(options) {
    const int threads = config.train.threads > 0 ? config.train.threads : int(sysconf(_SC_NPROCESSORS_ONLN));
    omp_set_num_threads(threads);
    require_engine_available(config);  // a GPU backend without a GPU fails before the data load
    data_ = data::make_task_data(config);
    info_ = data_->info();
    objective_ = std::make_unique<Objective>(info_, config.data.level == "char");
    // The compute half of every step: CPU (Model + Optimizer) or GPU (trainer/engine.h).
    engine_ = make_engine(config, info_, *objective_,
                          options.communicator && options.communicator->backend() == "nccl");
    model_ = &engine_->model();
    optimizer_ = &engine_->optimizer();
    std::vector<int64_t> segment_ends;
    for (const auto& segment : model_->segments()) segment_ends.push_back(segment.offset + segment.size());
    // dist.progress is applied here too (no async operation is in flight yet), so that it
    // holds for a communicator created in code as well as for `rnnlab train`'s.
    if (options.communicator) {
      const dist::Progress progress = dist::parse_progress(config.dist.progress);
      if (options.communicator->progress_mode() != progress) options.communicator->set_progress(progress);
    }
    collectives_ = std::make_unique<Collectives>(options.communicator, engine_->collective_gradients(), model_->parameter_count(),
                                                 segment_ends, config.dist.bucket_mb,
                                                 config.dist.overlap && engine_->overlap_possible());
    steps_per_epoch_ = int64_t(data_->batches(data::Split::train, batch_options(0)).size());
    if (steps_per_epoch_ == 0) throw std::invalid_argument(config.source + ": the training split has no batches");
    total_steps_ = steps_per_epoch_ * config.train.epochs;
    if (config.train.max_steps > 0) total_steps_ = std::min(total_steps_, config.train.max_steps);
    schedule_ = schedule_options(config.train, total_steps_);
    validate(schedule_);
    early_metric_ = config.train.early_stopping.metric;
    state_.early_stopping.best = early_lower_is_better() ? INFINITY : -INFINITY;
    // Every rank starts from rank 0's parameters.
    engine_->broadcast_parameters(*collectives_);
  }

  TrainResult run() {
    const auto start = Clock::now();
    GradientNorms norms(*model_);
    if (options_.resume) restore(norms);
    const ResumePoint resume_point{state_.tracker_path, state_.run_id, state_.step};
    RunLog log(config_, is_root(), collectives_->size(), std::string(engine_->backend()),
               options_.resume ? &resume_point : nullptr);
    result_.run_id = log.run_id();
    // A timeout or a dead rank seen by the communicator's watchdog ends the job from its
    // thread; rank 0 marks the run failed with its message first (removed before `log` goes).
    FailureHookScope failure_hook(options_.communicator, [&log](const std::string& message) {
      log.finish(RunStatus::failed, message);
    });
    if (is_root() && !options_.quiet) {
      std::fprintf(stderr, "%s", model_->summary().to_string().c_str());
      std::fprintf(stderr, "task %s on %s: %lld train batches/epoch, %lld steps\n", info_.task.c_str(),
                   config_.data.dataset.c_str(), static_cast<long long>(steps_per_epoch_),
                   static_cast<long long>(total_steps_));
    }
    ProgressReporter progress(total_steps_, config_.output.log_every_seconds, is_root() && !options_.quiet,
                              throughput_unit());
    RunStatus status = RunStatus::finished;
    try {
      status = train_epochs(log, progress, norms);
      progress.finish();
      if (status == RunStatus::finished || status == RunStatus::early_stopped) {
        result_.test = evaluate(data::Split::test);
        result_.baseline = data_->baseline(data::Split::test);
        for (const auto& [key, value] : result_.test) log.metric("test_" + key, state_.step, value);
        for (const auto& [key, value] : result_.baseline) log.metric("baseline_test_" + key, state_.step, value);
        progress.line("test: " + format_metrics(result_.test) + "   baseline: " + format_metrics(result_.baseline));
      }
      log.finish(status, "");
    } catch (const std::exception& error) {
      progress.finish();
      log.finish(RunStatus::failed, error.what());
      throw;
    }
    result_.status = status;
    if (status != RunStatus::killed) result_.stop_signal = 0;  // a request that came too late
    result_.steps = state_.step;
    result_.epochs = state_.epoch;
    result_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!options_.test_hooks.dump_params.empty()) dump_params();
    return result_;
  }

 private:
  bool is_root() const { return collectives_->rank() == 0; }
  const char* throughput_unit() const { return info_.regression ? "seq/s" : "tok/s"; }

  void dump_params() {
    engine_->sync_to_host();
    const std::string path = options_.test_hooks.dump_params + ".rank" + std::to_string(collectives_->rank());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(model_->params()),
              std::streamsize(sizeof(float) * size_t(model_->parameter_count())));
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  bool early_lower_is_better() const {
    return tracking::resolve_goal(config_.train.early_stopping.goal, early_metric_) == tracking::Goal::minimize;
  }

  data::BatchOptions batch_options(int64_t epoch) const {
    data::BatchOptions o;
    o.batch_size = config_.train.batch_size;
    o.seed = config_.train.seed;
    o.epoch = epoch;
    o.rank = collectives_->rank();
    o.world = collectives_->size();
    return o;
  }

  RunStatus train_epochs(RunLog& log, ProgressReporter& progress, GradientNorms& norms) {
    // Resumed from the checkpoint of an early stop: the training is over (Keras would not
    // train on either); what follows is the test evaluation.
    if (state_.early_stopping.stopped) return RunStatus::early_stopped;
    TrainingState& s = state_;
    int64_t steps_this_call = 0;
    for (; s.epoch < config_.train.epochs; ++s.epoch, s.batch_in_epoch = 0, s.carried.clear()) {
      const auto batches = data_->batches(data::Split::train, batch_options(s.epoch));
      MetricSums epoch_sums;
      const auto epoch_start = Clock::now();
      int64_t epoch_tokens = 0;
      for (; s.batch_in_epoch < int64_t(batches.size()); ++s.batch_in_epoch) {
        if (config_.train.max_steps > 0 && s.step >= config_.train.max_steps) return RunStatus::finished;
        const data::Batch& batch = batches[size_t(s.batch_in_epoch)];

        // 1-2. Forward, loss, backward; the gradients summed over ranks (the engine calls
        // the collectives as its backward makes ranges final). A rank whose slice of an uneven
        // last batch is empty contributes zero gradients and loss terms but still takes part
        // in every collective of the step.
        collectives_->set_context("step " + std::to_string(s.step + 1));
        MetricSums sums =
            engine_->forward_backward(batch, dropout_seed(config_.train.seed, s.step), &s.carried, *collectives_);
        const TrainOptions::TestHooks& hooks = options_.test_hooks;
        if (collectives_->rank() == hooks.nan_rank && s.step + 1 == hooks.nan_step) sums.loss_sum = NAN;
        // A NaN/Inf on any rank stops every rank in step, naming the rank.
        collectives_->vote(std::isfinite(sums.loss_sum), "training loss",
                           "step " + std::to_string(s.step + 1) + " (epoch " + std::to_string(s.epoch + 1) +
                               "): training loss is " + std::to_string(sums.loss_sum) +
                               "; try a lower train.lr or train.clip_norm");
        sums = collectives_->reduce(sums);
        const double loss = sums.loss_sum / std::max(sums.count, 1.0);
        // 3. Clip, step.
        norms.accumulate(engine_->gradient_group_square_sums());
        const double lr = learning_rate(schedule_, s.step);
        const double grad_norm = engine_->clip_and_step(config_.train.clip_norm, lr);
        ++s.step;
        ++steps_this_call;
        epoch_sums.add(sums);
        result_.train_losses.push_back(loss);

        // Numeric tasks (forecast, adding) have no tokens: they count sequences. A padded batch
        // counts its valid steps only (global_steps).
        const int64_t tokens = info_.regression ? int64_t(batch.batch_size) * collectives_->size()
                               : batch.global_steps > 0 ? batch.global_steps
                                                        : batch.seq_len * int64_t(batch.batch_size) * collectives_->size();
        epoch_tokens += tokens;
        progress.step(s.epoch + 1, s.step, loss, tokens);
        log.metric("train_loss", s.step, loss);
        log.metric("lr", s.step, lr);
        log.metric("grad_norm", s.step, grad_norm);

        const bool epoch_end = s.batch_in_epoch + 1 == int64_t(batches.size());
        const bool eval_now = config_.train.eval_every > 0 ? s.step % config_.train.eval_every == 0 : epoch_end;
        const RunStatus stop = eval_now ? validate_and_decide(log, progress, norms, epoch_sums, epoch_start, epoch_tokens)
                                        : RunStatus::running;
        // Every rank decides alike: a request may reach the ranks in different steps.
        if (options_.stop_requested && result_.stop_signal == 0) result_.stop_signal = options_.stop_requested();
        const bool stopping = stop != RunStatus::running || collectives_->any(result_.stop_signal != 0) ||
                              (options_.stop_after_steps > 0 && steps_this_call >= options_.stop_after_steps);
        const bool checkpoint_now = config_.output.checkpoint_every > 0
                                        ? s.step % config_.output.checkpoint_every == 0
                                        : epoch_end;
        // The last step (of max_steps, or of the last epoch) is checkpointed too: otherwise
        // the file would hold an earlier step (or nothing at all) instead of the finished model.
        const bool last_step = (config_.train.max_steps > 0 && s.step >= config_.train.max_steps) ||
                               (epoch_end && s.epoch + 1 == config_.train.epochs);
        // restore_best: training ends here, so the best parameters go back before the last
        // checkpoint (and the test evaluation); a resume of this checkpoint trains no further.
        if (stop == RunStatus::early_stopped) s.early_stopping.stopped = true;
        if (stop == RunStatus::early_stopped || last_step) restore_best_params();
        if (checkpoint_now || stopping || last_step) save(log, norms, epoch_end);
        if (stop != RunStatus::running) return stop;
        if (stopping) return RunStatus::killed;
      }
    }
    return RunStatus::finished;
  }

  // Validation, its log lines, early stopping and the pruning hook. Returns running to go
  // on, else the status to stop with.
  RunStatus validate_and_decide(RunLog& log, ProgressReporter& progress, GradientNorms& norms,
                                const MetricSums& epoch_sums, Clock::time_point epoch_start, int64_t epoch_tokens) {
    const int64_t step = state_.step;
    const auto val = evaluate(data::Split::val);
    result_.validation = val;
    for (const auto& [key, value] : val) log.metric("val_" + key, step, value);
    const auto train_metrics = objective_->metrics(epoch_sums);
    for (const auto& [key, value] : norms.take()) log.metric(key, step, value);
    const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    log.metric("epoch", step, double(state_.epoch + 1));
    log.metric(info_.regression ? "sequences_per_s" : "tokens_per_s", step, double(epoch_tokens) / std::max(seconds, 1e-9));
    // The epochs this run will train: train.max_steps may end it before train.epochs.
    const int64_t epochs = (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_;
    progress.line("epoch " + std::to_string(state_.epoch + 1) + "/" + std::to_string(epochs) + "  step " +
                  std::to_string(step) + "  train " + format_metrics(train_metrics) + "  val " +
                  format_metrics(val) + "  (" + format_count(double(epoch_tokens) / std::max(seconds, 1e-9)) +
                  " " + throughput_unit() + ", " + format_duration(seconds) + ")");
    if (options_.on_validation && !options_.on_validation(step, val)) return RunStatus::pruned;
    if (!early_metric_.empty()) {
      EarlyStoppingState& early = state_.early_stopping;
      const std::string key = early_metric_.rfind("val_", 0) == 0 ? early_metric_.substr(4) : early_metric_;
      auto it = val.find(key);
      if (it == val.end())
        throw std::invalid_argument("train.early_stopping.metric '" + early_metric_ + "' is not a metric of task '" +
                                    info_.task + "' (validation gives: " + format_metrics(val) + ")");
      const bool better = early_lower_is_better() ? it->second < early.best : it->second > early.best;
      if (better) {
        early.best = it->second;
        early.since_best = 0;
        if (config_.train.early_stopping.restore_best) {
          engine_->sync_to_host();
          early.best_params.assign(model_->params(), model_->params() + model_->parameter_count());
        }
      } else if (++early.since_best >= config_.train.early_stopping.patience) {  // Keras semantics
        progress.line("early stopping: " + early_metric_ + " has not improved for " +
                      std::to_string(early.since_best) + " evaluations (best " + std::to_string(early.best) + ")");
        return RunStatus::early_stopped;
      }
    }
    return RunStatus::running;
  }

  // train.early_stopping.restore_best: puts the parameters of the best evaluation back.
  void restore_best_params() {
    const std::vector<float>& best = state_.early_stopping.best_params;
    if (!config_.train.early_stopping.restore_best || best.empty()) return;
    engine_->sync_to_host();  // the optimizer state stays as it is; only the parameters change
    std::copy(best.begin(), best.end(), model_->params());
    engine_->sync_from_host();
  }

  std::map<std::string, double> evaluate(data::Split split) {
    const MetricSums sums = engine_->evaluate(data_->batches(split, batch_options(0)));
    return objective_->metrics(collectives_->reduce(sums));
  }

  static std::string format_metrics(const std::map<std::string, double>& metrics) {
    std::string out;
    char text[64];
    for (const auto& [key, value] : metrics) {
      std::snprintf(text, sizeof text, "%s%s %.4g", out.empty() ? "" : " ", key.c_str(), value);
      out += text;
    }
    return out;
  }

  // ---- checkpoints (trainer/training_state.h) ------------------------------------------

  void save(RunLog& log, const GradientNorms& norms, bool epoch_done) {
    if (!is_root()) return;
    engine_->sync_to_host();
    if (!epoch_done) engine_->sync_carried_to_host(state_.carried);  // the GPU keeps it on the device
    log.flush();  // the tracker's curve reaches this step before the checkpoint does
    state_.gradient_norms = norms.state();
    state_.run_id = log.run_id();
    state_.tracker_path = log.tracker_path();
    std::filesystem::create_directories(config_.output.dir);
    state_.save(checkpoint_path(config_), {config_to_yaml(config_), data_->metadata()}, *model_, *optimizer_, epoch_done);
  }

  void restore(GradientNorms& norms) {
    // Rank 0 reads the file and broadcasts its bytes, so every rank restores rank 0's
    // parameters and optimizer state (other hosts need not see rank 0's file system). A
    // file rank 0 cannot read stops every rank with rank 0's message.
    const std::string path = checkpoint_path(config_);
    std::string bytes, error;
    if (is_root()) {
      try {
        bytes = read_checkpoint_bytes(path);
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    if (collectives_->size() > 1) collectives_->vote(error.empty(), "reading the checkpoint", error);
    if (!error.empty()) throw std::invalid_argument(error);
    collectives_->broadcast_bytes(bytes);
    const Checkpoint checkpoint = parse_checkpoint(bytes, path);
    state_.load(checkpoint, *model_, *optimizer_, config_.train.early_stopping.restore_best);
    norms.restore(state_.gradient_norms, checkpoint.path);
    engine_->sync_from_host();
  }

  const Config& config_;
  TrainOptions options_;
  std::unique_ptr<Collectives> collectives_;
  std::unique_ptr<data::TaskData> data_;
  data::TaskInfo info_;
  std::unique_ptr<Objective> objective_;
  std::unique_ptr<Engine> engine_;
  Model* model_ = nullptr;          // engine_->model(): host parameters as of the last sync
  Optimizer* optimizer_ = nullptr;  // engine_->optimizer()
  ScheduleOptions schedule_;
  int64_t steps_per_epoch_ = 0, total_steps_ = 0;
  TrainingState state_;  // everything a checkpoint saves besides parameters and optimizer state
  std::string early_metric_;
  TrainResult result_;
};

}  // namespace

std::string checkpoint_path(const Config& config) { return checkpoint_path(config.output.dir); }

TrainResult train(const Config& config, const TrainOptions& options) { return Trainer(config, options).run(); }

}  // namespace rnnlab::trainer
