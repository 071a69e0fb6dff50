#include "trainer/train.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

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

namespace rnnlab::trainer {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void record_stop_signal(int signal_number) { g_stop_signal = signal_number; }

// SIGINT, SIGTERM, SIGHUP (a closed terminal) and SIGUSR1 (a scheduler's time-limit warning)
// end the run after the current step instead of killing the process, so the checkpoint and
// the tracker are left in order. Restores the old handlers on scope exit.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    for (size_t i = 0; i < kSignals.size(); ++i) old_[i] = std::signal(kSignals[i], record_stop_signal);
  }
  ~StopSignals() { for (size_t i = 0; i < kSignals.size(); ++i) std::signal(kSignals[i], old_[i]); }
  bool requested() const { return g_stop_signal != 0; }
  int signal_number() const { return g_stop_signal; }

 private:
  static constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
  std::array<void (*)(int), 4> old_{};
};

// Test hooks for tests/dist/train_* (not for users; inert unless set, read once per run).
// The data-parallel settings themselves are config keys (dist.overlap, dist.bucket_mb,
// dist.progress, dist.timeout_seconds).
//   RNNLAB_TEST_INJECT_NAN_RANK=R, RNNLAB_TEST_INJECT_NAN_STEP=S (default 3): rank R's
//       training loss of step S becomes NaN, so a test can check that every rank stops
//       with a message naming R and S.
//   RNNLAB_TEST_DUMP_PARAMS=PREFIX: when train() ends normally, every rank writes its
//       parameters as raw float32 to PREFIX.rank<R>, so a test can compare ranks.
struct EnvironmentSwitches {
  int nan_rank = -1;
  int64_t nan_step = 3;
  std::string dump_params;
  EnvironmentSwitches() {
    if (const char* v = std::getenv("RNNLAB_TEST_INJECT_NAN_RANK")) nan_rank = std::atoi(v);
    if (const char* v = std::getenv("RNNLAB_TEST_INJECT_NAN_STEP")) nan_step = std::atoll(v);
    if (const char* v = std::getenv("RNNLAB_TEST_DUMP_PARAMS")) dump_params = v;
  }
};

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
    best_ = early_lower_is_better() ? INFINITY : -INFINITY;
    // Every rank starts from rank 0's parameters.
    engine_->broadcast_parameters(*collectives_);
  }

  TrainResult run() {
    const auto start = Clock::now();
    GradientNorms norms(*model_);
    ResumePoint resume_point;
    if (options_.resume) resume_point = restore(norms);
    RunLog log(config_, is_root(), collectives_->size(), std::string(engine_->backend()),
               options_.resume ? &resume_point : nullptr);
    result_.run_id = log.run_id();
    // A timeout or a dead rank seen by the communicator's watchdog ends the job from its
    // thread; rank 0 marks the run failed with its message first (removed before `log` goes).
    FailureHookScope failure_hook(options_.communicator, [&log](const std::string& message) {
      log.finish("failed", message);
    });
    if (is_root() && !options_.quiet) {
      std::fprintf(stderr, "%s", model_->summary().to_string().c_str());
      std::fprintf(stderr, "task %s on %s: %lld train batches/epoch, %lld steps\n", info_.task.c_str(),
                   config_.data.dataset.c_str(), static_cast<long long>(steps_per_epoch_),
                   static_cast<long long>(total_steps_));
    }
    ProgressReporter progress(total_steps_, config_.output.log_every_seconds, is_root() && !options_.quiet,
                              throughput_unit());
    StopSignals signals;
    std::string status = "finished";
    try {
      status = train_epochs(log, progress, norms, signals);
      progress.finish();
      if (status == "finished" || status == "early_stopped") {
        result_.test = evaluate(data::Split::test);
        result_.baseline = data_->baseline(data::Split::test);
        for (const auto& [key, value] : result_.test) log.metric("test_" + key, step_, value);
        for (const auto& [key, value] : result_.baseline) log.metric("baseline_test_" + key, step_, value);
        progress.line("test: " + format_metrics(result_.test) + "   baseline: " + format_metrics(result_.baseline));
      }
      log.finish(status == "killed" ? "killed" : status == "pruned" ? "pruned" : "finished", "");
    } catch (const std::exception& error) {
      progress.finish();
      log.finish("failed", error.what());
      throw;
    }
    result_.status = status;
    if (status == "killed") result_.stop_signal = signals.signal_number();
    result_.steps = step_;
    result_.epochs = epoch_;
    result_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!switches_.dump_params.empty()) dump_params();
    return result_;
  }

 private:
  bool is_root() const { return collectives_->rank() == 0; }
  const char* throughput_unit() const { return info_.regression ? "seq/s" : "tok/s"; }

  void dump_params() {
    engine_->sync_to_host();
    const std::string path = switches_.dump_params + ".rank" + std::to_string(collectives_->rank());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(model_->params()),
              std::streamsize(sizeof(float) * size_t(model_->parameter_count())));
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  bool early_lower_is_better() const {
    if (config_.train.early_stopping.goal == "max") return false;
    return Objective::lower_is_better(early_metric_);
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

  std::string train_epochs(RunLog& log, ProgressReporter& progress, GradientNorms& norms, StopSignals& signals) {
    // Resumed from the checkpoint of an early stop: the training is over (Keras would not
    // train on either); what follows is the test evaluation.
    if (stopped_early_) return "early_stopped";
    int64_t steps_this_call = 0;
    for (; epoch_ < config_.train.epochs; ++epoch_, batch_in_epoch_ = 0, carried_.clear()) {
      const auto batches = data_->batches(data::Split::train, batch_options(epoch_));
      MetricSums epoch_sums;
      const auto epoch_start = Clock::now();
      int64_t epoch_tokens = 0;
      for (; batch_in_epoch_ < int64_t(batches.size()); ++batch_in_epoch_) {
        if (config_.train.max_steps > 0 && step_ >= config_.train.max_steps) return "finished";
        const data::Batch& batch = batches[size_t(batch_in_epoch_)];

        // 1-2. Forward, loss, backward; the gradients summed over ranks (the engine calls
        // the collectives as its backward makes ranges final). A rank whose slice of an uneven
        // last batch is empty contributes zero gradients and loss terms but still takes part
        // in every collective of the step.
        collectives_->set_context("step " + std::to_string(step_ + 1));
        MetricSums sums =
            engine_->forward_backward(batch, dropout_seed(config_.train.seed, step_), &carried_, *collectives_);
        if (collectives_->rank() == switches_.nan_rank && step_ + 1 == switches_.nan_step) sums.loss_sum = NAN;
        // A NaN/Inf on any rank stops every rank in step, naming the rank.
        collectives_->vote(std::isfinite(sums.loss_sum), "training loss",
                           "step " + std::to_string(step_ + 1) + " (epoch " + std::to_string(epoch_ + 1) +
                               "): training loss is " + std::to_string(sums.loss_sum) +
                               "; try a lower train.lr or train.clip_norm");
        sums = collectives_->reduce(sums);
        const double loss = sums.loss_sum / std::max(sums.count, 1.0);
        // 3. Clip, step.
        norms.accumulate(engine_->gradient_group_square_sums());
        const double lr = learning_rate(schedule_, step_);
        const double grad_norm = engine_->clip_and_step(config_.train.clip_norm, lr);
        ++step_;
        ++steps_this_call;
        epoch_sums.add(sums);
        result_.train_losses.push_back(loss);

        // Numeric tasks (forecast, adding) have no tokens: they count sequences. A padded batch
        // counts its valid steps only (global_steps).
        const int64_t tokens = info_.regression ? int64_t(batch.batch_size) * collectives_->size()
                               : batch.global_steps > 0 ? batch.global_steps
                                                        : batch.seq_len * int64_t(batch.batch_size) * collectives_->size();
        epoch_tokens += tokens;
        progress.step(epoch_ + 1, step_, loss, tokens);
        log.metric("train_loss", step_, loss);
        log.metric("lr", step_, lr);
        log.metric("grad_norm", step_, grad_norm);

        const bool epoch_end = batch_in_epoch_ + 1 == int64_t(batches.size());
        const bool eval_now = config_.train.eval_every > 0 ? step_ % config_.train.eval_every == 0 : epoch_end;
        std::string stop;
        if (eval_now) stop = validate_and_decide(log, progress, norms, epoch_sums, epoch_start, epoch_tokens);
        // Every rank decides alike: a signal may reach the ranks in different steps.
        const bool stopping = !stop.empty() || collectives_->any(signals.requested()) ||
                              (options_.stop_after_steps > 0 && steps_this_call >= options_.stop_after_steps);
        const bool checkpoint_now = config_.output.checkpoint_every > 0
                                        ? step_ % config_.output.checkpoint_every == 0
                                        : epoch_end;
        // The last step (of max_steps, or of the last epoch) is checkpointed too: otherwise
        // the file would hold an earlier step (or nothing at all) instead of the finished model.
        const bool last_step = (config_.train.max_steps > 0 && step_ >= config_.train.max_steps) ||
                               (epoch_end && epoch_ + 1 == config_.train.epochs);
        // restore_best: training ends here, so the best parameters go back before the last
        // checkpoint (and the test evaluation); a resume of this checkpoint trains no further.
        if (stop == "early_stopped") stopped_early_ = true;
        if (stop == "early_stopped" || last_step) restore_best_params();
        if (checkpoint_now || stopping || last_step) save(log, norms, batch_in_epoch_ + 1 == int64_t(batches.size()));
        if (!stop.empty()) return stop;
        if (stopping) return "killed";
      }
    }
    return "finished";
  }

  // Validation, its log lines, early stopping and the pruning hook. Returns "" to go on,
  // else the status to stop with.
  std::string validate_and_decide(RunLog& log, ProgressReporter& progress, GradientNorms& norms,
                                  const MetricSums& epoch_sums, Clock::time_point epoch_start, int64_t epoch_tokens) {
    const auto val = evaluate(data::Split::val);
    result_.validation = val;
    for (const auto& [key, value] : val) log.metric("val_" + key, step_, value);
    const auto train_metrics = objective_->metrics(epoch_sums);
    for (const auto& [key, value] : norms.take()) log.metric(key, step_, value);
    const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    log.metric("epoch", step_, double(epoch_ + 1));
    log.metric(info_.regression ? "sequences_per_s" : "tokens_per_s", step_, double(epoch_tokens) / std::max(seconds, 1e-9));
    // The epochs this run will train: train.max_steps may end it before train.epochs.
    const int64_t epochs = (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_;
    progress.line("epoch " + std::to_string(epoch_ + 1) + "/" + std::to_string(epochs) + "  step " +
                  std::to_string(step_) + "  train " + format_metrics(train_metrics) + "  val " +
                  format_metrics(val) + "  (" + format_count(double(epoch_tokens) / std::max(seconds, 1e-9)) +
                  " " + throughput_unit() + ", " + format_duration(seconds) + ")");
    if (options_.on_validation && !options_.on_validation(step_, val)) return "pruned";
    if (!early_metric_.empty()) {
      const std::string key = early_metric_.rfind("val_", 0) == 0 ? early_metric_.substr(4) : early_metric_;
      auto it = val.find(key);
      if (it == val.end())
        throw std::invalid_argument("train.early_stopping.metric '" + early_metric_ + "' is not a metric of task '" +
                                    info_.task + "' (validation gives: " + format_metrics(val) + ")");
      const bool better = early_lower_is_better() ? it->second < best_ : it->second > best_;
      if (better) {
        best_ = it->second;
        since_best_ = 0;
        if (config_.train.early_stopping.restore_best) {
          engine_->sync_to_host();
          best_params_.assign(model_->params(), model_->params() + model_->parameter_count());
        }
      } else if (++since_best_ >= config_.train.early_stopping.patience) {  // Keras semantics
        progress.line("early stopping: " + early_metric_ + " has not improved for " + std::to_string(since_best_) +
                      " evaluations (best " + std::to_string(best_) + ")");
        return "early_stopped";
      }
    }
    return "";
  }

  // train.early_stopping.restore_best: puts the parameters of the best evaluation back.
  void restore_best_params() {
    if (!config_.train.early_stopping.restore_best || best_params_.empty()) return;
    engine_->sync_to_host();  // the optimizer state stays as it is; only the parameters change
    std::copy(best_params_.begin(), best_params_.end(), model_->params());
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

  // ---- checkpoints -------------------------------------------------------------------

  void save(RunLog& log, const GradientNorms& norms, bool epoch_done) {
    if (!is_root()) return;
    engine_->sync_to_host();
    if (!epoch_done) engine_->sync_carried_to_host(carried_);  // the GPU keeps it on the device
    log.flush();  // the tracker's curve reaches this step before the checkpoint does
    std::vector<Model::Tensor> tensors = model_->export_tensors();
    for (const auto& [name, values] : optimizer_->state())
      tensors.push_back({"optimizer." + name, {int64_t(values->size())}, *values});
    if (!epoch_done && !carried_.h.empty()) {
      tensors.push_back({"carried.h", {int64_t(carried_.h.size())}, carried_.h});
      if (!carried_.c.empty()) tensors.push_back({"carried.c", {int64_t(carried_.c.size())}, carried_.c});
    }
    if (!best_params_.empty())
      tensors.push_back({"early_stopping.best_params", {int64_t(best_params_.size())}, best_params_});
    std::vector<TensorRef> refs;
    for (const auto& t : tensors) refs.push_back({t.name, t.shape, t.data.data()});
    json meta;
    meta["format"] = "rnnlab-checkpoint";
    meta["version"] = 1;
    meta["config"] = config_to_yaml(config_);
    meta["task_data"] = data_->metadata();
    meta["step"] = step_;
    meta["epoch"] = epoch_done ? epoch_ + 1 : epoch_;
    meta["batch_in_epoch"] = epoch_done ? 0 : batch_in_epoch_ + 1;
    meta["carried_batch"] = carried_.batch;
    meta["optimizer"] = {{"name", std::string(optimizer_->name())}, {"step_count", optimizer_->step_count()}};
    meta["early_stopping"] = {{"best", best_}, {"since_best", since_best_}, {"stopped", stopped_early_}};
    meta["gradient_norms"] = norms.state();
    if (log.run_id() > 0) meta["tracker"] = {{"path", log.tracker_path()}, {"run_id", log.run_id()}};
    std::filesystem::create_directories(config_.output.dir);
    save_checkpoint(checkpoint_path(config_), refs, meta);
  }

  // Returns where the tracker run picks up.
  ResumePoint restore(GradientNorms& norms) {
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
    import_checkpoint(*model_, checkpoint);
    const json& meta = checkpoint.metadata;
    // value() with defaults: a const json's operator[] on a missing key is undefined.
    const json optimizer = meta.value("optimizer", json::object());
    if (optimizer.value("name", "") != optimizer_->name())
      throw std::invalid_argument(checkpoint.path + ": saved with optimizer '" +
                                  optimizer.value("name", "") + "', config asks for '" +
                                  std::string(optimizer_->name()) + "'");
    for (const auto& [name, values] : optimizer_->state())
      checkpoint.copy_to("optimizer." + name, {int64_t(values->size())}, values->data());
    optimizer_->set_step_count(optimizer.value("step_count", int64_t(0)));
    step_ = meta.value("step", int64_t(0));
    epoch_ = meta.value("epoch", 0);
    batch_in_epoch_ = meta.value("batch_in_epoch", int64_t(0));
    // JSON has no infinity: the initial best (+-inf, also whenever early stopping is off)
    // is saved as null, which means "keep the initial value".
    const json early = meta.value("early_stopping", json::object());
    if (early.contains("best") && early["best"].is_number()) best_ = early["best"].get<double>();
    since_best_ = early.value("since_best", 0);
    stopped_early_ = early.value("stopped", false);
    norms.restore(meta.value("gradient_norms", json()), checkpoint.path);
    best_params_.clear();
    if (config_.train.early_stopping.restore_best) {
      if (checkpoint.find("early_stopping.best_params")) {
        best_params_.resize(size_t(model_->parameter_count()));
        checkpoint.copy_to("early_stopping.best_params", {model_->parameter_count()}, best_params_.data());
      } else if (std::isfinite(best_)) {
        throw std::invalid_argument(checkpoint.path +
                                    ": has no copy of the best parameters (saved without "
                                    "train.early_stopping.restore_best); resume with restore_best=false");
      }
    }
    engine_->sync_from_host();
    carried_.clear();
    if (const Tensor* h = checkpoint.find("carried.h")) {
      carried_.batch = meta.value("carried_batch", 0);
      carried_.h = h->data;
      if (const Tensor* c = checkpoint.find("carried.c")) carried_.c = c->data;
    }
    ResumePoint point;
    point.step = step_;
    const json tracker = meta.value("tracker", json::object());
    point.tracker = tracker.value("path", "");
    point.run_id = tracker.value("run_id", int64_t(0));
    return point;
  }

  const Config& config_;
  TrainOptions options_;
  EnvironmentSwitches switches_;
  std::unique_ptr<Collectives> collectives_;
  std::unique_ptr<data::TaskData> data_;
  data::TaskInfo info_;
  std::unique_ptr<Objective> objective_;
  std::unique_ptr<Engine> engine_;
  Model* model_ = nullptr;          // engine_->model(): host parameters as of the last sync
  Optimizer* optimizer_ = nullptr;  // engine_->optimizer()
  ScheduleOptions schedule_;
  int64_t steps_per_epoch_ = 0, total_steps_ = 0;
  int64_t step_ = 0, batch_in_epoch_ = 0;
  int epoch_ = 0;
  CarriedState carried_;
  std::string early_metric_;
  double best_ = 0;
  int since_best_ = 0;
  bool stopped_early_ = false;  // early stopping ended the training (kept in checkpoints)
  std::vector<float> best_params_;  // restore_best: the parameters at best_
  TrainResult result_;
};

}  // namespace

std::string checkpoint_path(const Config& config) {
  return (std::filesystem::path(config.output.dir) / "checkpoint.safetensors").string();
}

TrainResult train(const Config& config, const TrainOptions& options) { return Trainer(config, options).run(); }

}  // namespace rnnlab::trainer
