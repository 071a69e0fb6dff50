// The sweep loop: bookkeeping in the tracker, launching, pruning, progress.
#include "experiments/runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "experiments/launch.h"
#include "experiments/progress.h"
#include "experiments/pruner.h"
#include "experiments/slurm.h"
#include "tracking/tracker.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/train.h"

namespace rnnlab::experiments {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using tracking::RunStatus;

// A trial whose run ended so is done: a resumed sweep reuses it. status_of: as stored.
bool terminal(RunStatus s) { return s == RunStatus::finished || s == RunStatus::pruned || s == RunStatus::failed; }
RunStatus status_of(const tracking::RunRecord& run) { return tracking::parse_run_status(run.status); }

class SweepRunner {
 public:
  SweepRunner(const SweepSpec& spec, const SweepOptions& options)
      : spec_(spec), options_(options), pruner_(spec.pruning, spec.goal == "minimize"),
        trials_(expand_trials(spec)), progress_(spec.name, int(trials_.size()), options.quiet ? nullptr : options.progress) {
    for (size_t i = 0; i < trials_.size(); ++i) by_name_[trial_run_name(spec_, trials_[i])] = i;
    if (pruner_.enabled() && spec_.launch.mode == "in_process" && spec_.metric.rfind("val_", 0) != 0)
      throw std::invalid_argument(spec_.path + ": key 'metric.name': pruning needs a validation metric (val_...), got '" +
                                  spec_.metric + "'");
  }

  SweepResult run() {
    const auto start = Clock::now();
    fs::create_directories(fs::path(spec_.output_dir) / "trials");
    detail::SweepLock lock((fs::path(spec_.output_dir) / "sweep.lock").string(), options_.quiet ? nullptr : options_.progress);
    store_ = std::make_unique<tracking::Store>(spec_.tracker, /*create=*/true);
    if (spec_.launch.mode == "slurm")
      jobs_ = std::make_unique<detail::JobBook>((fs::path(spec_.output_dir) / "slurm_jobs.json").string());
    write_manifest();
    result_.trials.resize(trials_.size());
    std::vector<size_t> pending = plan();
    if (spec_.launch.mode == "in_process") {
      for (size_t index : pending) {
        if (result_.interrupted) break;
        run_in_process(index);
      }
    } else {
      run_processes(pending);
    }
    progress_.finish();
    result_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result_;
  }

 private:
  // ---- bookkeeping --------------------------------------------------------------------

  // The runs of this sweep (by name), oldest first.
  std::vector<tracking::RunRecord> sweep_runs() {
    tracking::RunQuery query;
    query.experiment = spec_.experiment;
    query.order_by = "run.id asc";
    std::vector<tracking::RunRecord> runs;
    for (auto& run : store_->list_runs(query))
      if (by_name_.count(run.name)) runs.push_back(std::move(run));
    return runs;
  }

  // Decides what each trial needs: reuse a finished/pruned/failed run, restart an
  // interrupted one, or run it for the first time. Returns the trials to run, in order.
  std::vector<size_t> plan() {
    std::map<std::string, tracking::RunRecord> latest;
    const auto runs = sweep_runs();
    if (!runs.empty() && !options_.resume)
      throw std::invalid_argument("sweep '" + spec_.name + "' already has " + std::to_string(runs.size()) +
                                  " runs in " + spec_.tracker + " (experiment '" + spec_.experiment +
                                  "'): use --resume to continue it, or delete them with rnnlab runs delete");
    for (const auto& run : runs) latest[run.name] = run;  // ascending ids: the last wins
    std::vector<size_t> pending;
    for (size_t i = 0; i < trials_.size(); ++i) {
      TrialOutcome& outcome = result_.trials[i];
      outcome.trial = trials_[i];
      outcome.best = NAN;
      auto it = latest.find(trial_run_name(spec_, trials_[i]));
      if (it != latest.end() && terminal(status_of(it->second))) {
        outcome.status = status_of(it->second);
        outcome.error = it->second.error;
        outcome.run_id = it->second.id;
        outcome.reused = true;
        // Its trainer may have ended with no sweep there to tag it (a killed sweep's job).
        tag(it->second.id, trials_[i]);
        if (jobs_) jobs_->forget(trials_[i].id);
        outcome.best = best_of(history(it->second.id));
        ++result_.reused;
        result_.count(outcome.status);
        progress_.done(outcome.status, true);
        continue;
      }
      if (attach(i)) continue;
      // Left running by a sweep that died (the lock says nobody else runs it now).
      if (it != latest.end() && status_of(it->second) == RunStatus::running)
        store_->set_status(it->second.id, RunStatus::killed, "the sweep process running it stopped");
      // A checkpoint without any run in this database belongs to some other sweep that
      // used the folder (a deleted database): never continue from it.
      if (it == latest.end()) fs::remove(trainer::checkpoint_path(trial_dir(trials_[i])));
      pending.push_back(i);
    }
    return pending;
  }

  // launch.mode slurm: a trial whose recorded job Slurm still knows (or whose job left its
  // exit file) is followed again instead of being submitted a second time.
  bool attach(size_t index) {
    const detail::JobBook::Entry* entry = jobs_ ? jobs_->find(trials_[index].id) : nullptr;
    if (!entry) return false;
    const std::string job = entry->job;
    if (detail::slurm_job(job).state.empty() && !fs::exists(detail::slurm_exit_file(trial_dir(trials_[index]), job))) {
      jobs_->forget(trials_[index].id);  // gone without a trace: submitted anew
      return false;
    }
    attached_.push_back({index, job});
    previous_run_[index] = entry->after;
    return true;
  }

  void write_manifest() const {
    nlohmann::json trials = nlohmann::json::array();
    for (const Trial& trial : trials_)
      trials.push_back({{"index", trial.index}, {"id", trial.id}, {"repeat", trial.repeat}, {"overrides", trial.overrides}});
    nlohmann::json manifest = {{"sweep", spec_.name}, {"file", spec_.path}, {"tracker", spec_.tracker},
                               {"experiment", spec_.experiment}, {"metric", spec_.metric}, {"goal", spec_.goal},
                               {"trials", trials}};
    std::ofstream((fs::path(spec_.output_dir) / "sweep.json").string()) << manifest.dump(2) << "\n";
    std::ofstream((fs::path(spec_.output_dir) / "base.yaml").string()) << spec_.base_yaml;
  }

  std::string trial_dir(const Trial& trial) const {
    return (fs::path(spec_.output_dir) / "trials" / trial.id).string();
  }

  std::vector<std::string> overrides_of(const Trial& trial) const {
    std::vector<std::string> overrides = trial.overrides;
    overrides.push_back("output.dir=" + trial_dir(trial));
    overrides.push_back("output.tracker=" + spec_.tracker);
    overrides.push_back("output.experiment=" + spec_.experiment);
    overrides.push_back("output.run_name=" + trial_run_name(spec_, trial));
    return overrides;
  }

  std::vector<StepPoint> history(int64_t run_id) {
    std::vector<StepPoint> points;
    for (const auto& point : store_->metric_history(run_id, spec_.metric)) points.push_back({point.step, point.value});
    return points;
  }

  double best_of(const std::vector<StepPoint>& points) const {
    double best = NAN;
    for (const auto& p : points)
      if (!std::isnan(p.value) && (std::isnan(best) || (spec_.goal == "minimize" ? p.value < best : p.value > best)))
        best = p.value;
    return best;
  }

  // Every other trial's runs with their metric histories (finished ones are cached).
  std::vector<PeerHistory> peers(const std::string& own_name) {
    std::vector<PeerHistory> out;
    for (const auto& run : sweep_runs()) {
      if (run.name == own_name) continue;
      auto cached = finished_cache_.find(run.id);
      if (cached != finished_cache_.end()) {
        out.push_back(cached->second);
        continue;
      }
      PeerHistory peer{run.id, status_of(run), history(run.id)};
      if (terminal(peer.status)) finished_cache_[run.id] = peer;
      out.push_back(std::move(peer));
    }
    return out;
  }

  // Finds the trial's run (newer than `after`), creating a failed one when the trial died
  // before the trainer could record it; tags it and fixes its status.
  int64_t settle(const Trial& trial, int64_t run_id, int64_t after, RunStatus status, const std::string& error) {
    const std::string name = trial_run_name(spec_, trial);
    if (run_id == 0) {
      for (const auto& run : sweep_runs())
        if (run.name == name && run.id > after) run_id = run.id;
    }
    if (run_id == 0) {
      tracking::Tracker tracker(spec_.tracker);
      tracking::RunInfo info;
      info.experiment = spec_.experiment;
      info.name = name;
      run_id = tracker.start_run(info);
      tracker.finish(RunStatus::failed, error);
    } else if (status == RunStatus::failed || status == RunStatus::pruned) {
      store_->set_status(run_id, status, error);
    }
    tag(run_id, trial);
    return run_id;
  }

  void tag(int64_t run_id, const Trial& trial) {
    store_->set_tag(run_id, "sweep", spec_.name);
    store_->set_tag(run_id, "trial", std::to_string(trial.index));
    store_->set_tag(run_id, "trial_id", trial.id);
    store_->set_tag(run_id, "repeat", std::to_string(trial.repeat));
  }

  // Notes which run ids belong to this attempt of the trial; returns whether it continues
  // from the trial's checkpoint. A continued training goes on in the run its checkpoint
  // names (the trial's newest), so that run counts as this attempt's too.
  bool begin_attempt(size_t index) {
    const Trial& trial = trials_[index];
    const bool from_checkpoint = fs::exists(trainer::checkpoint_path(trial_dir(trial)));
    const int64_t latest = latest_run_id(trial);
    previous_run_[index] = from_checkpoint && latest > 0 ? latest - 1 : latest;
    return from_checkpoint;
  }

  int64_t latest_run_id(const Trial& trial) {
    int64_t id = 0;
    const std::string name = trial_run_name(spec_, trial);
    for (const auto& run : sweep_runs())
      if (run.name == name) id = std::max(id, run.id);
    return id;
  }

  void record(size_t index, RunStatus status, const std::string& error, int64_t run_id, double seconds) {
    TrialOutcome& outcome = result_.trials[index];
    outcome.status = status;
    outcome.error = error;
    outcome.seconds = seconds;
    if (status == RunStatus::interrupted) {
      result_.interrupted = true;
      progress_.stopped();
      return;
    }
    outcome.run_id = settle(trials_[index], run_id, previous_run_[index], status, error);
    outcome.best = best_of(history(outcome.run_id));
    result_.count(status);
    progress_.trial_line(outcome);
    progress_.done(status, false);
  }

  // ---- in process ---------------------------------------------------------------------

  void run_in_process(size_t index) {
    const Trial& trial = trials_[index];
    const bool from_checkpoint = begin_attempt(index);
    result_.trials[index].resumed_from_checkpoint = from_checkpoint;
    const std::string name = trial_run_name(spec_, trial);
    const std::string key = spec_.metric.rfind("val_", 0) == 0 ? spec_.metric.substr(4) : spec_.metric;
    std::vector<StepPoint> own;
    std::string prune_reason;
    trainer::TrainOptions train_options;
    train_options.quiet = true;
    train_options.resume = from_checkpoint;
    train_options.stop_requested = options_.stop_requested;
    train_options.on_validation = [&](int64_t step, const std::map<std::string, double>& metrics) {
      auto it = metrics.find(key);
      own.push_back({step, it == metrics.end() ? NAN : it->second});
      progress_.tick();
      if (!pruner_.enabled()) return true;
      const auto others = peers(name);
      if (!pruner_.should_prune(own, others)) return true;
      prune_reason = pruner_.describe(own, others);
      return false;
    };
    progress_.started();
    const auto start = Clock::now();
    RunStatus status = RunStatus::finished;
    std::string error;
    int64_t run_id = 0;
    try {
      const trainer::Config config = trainer::parse_config(spec_.base_yaml, spec_.base_source, overrides_of(trial));
      const trainer::TrainResult result = trainer::train(config, train_options);
      run_id = result.run_id;
      // Killed (by the sweep's signal): interrupted, rerun on --resume; early_stopped: finished.
      status = result.status == RunStatus::killed ? RunStatus::interrupted : tracking::recorded(result.status);
      error = prune_reason;
    } catch (const std::exception& failure) {
      status = RunStatus::failed;
      error = failure.what();
    }
    record(index, status, error, run_id, std::chrono::duration<double>(Clock::now() - start).count());
  }

  // ---- processes ----------------------------------------------------------------------

  struct Running {
    size_t index = 0;
    pid_t pid = 0;
    std::string job;  // mode slurm: the job id (pid stays 0)
    Clock::time_point start;
    std::string log;
    int64_t run_id = 0;
    size_t judged = 0;  // evaluations already judged by the pruner
    bool pruning = false;
    std::string prune_reason;
  };

  std::vector<std::string> command_of(const Trial& trial, bool from_checkpoint) const {
    std::string rnnlab = !options_.rnnlab_binary.empty() ? options_.rnnlab_binary
                         : !spec_.launch.rnnlab.empty()  ? spec_.launch.rnnlab
                                                         : detail::self_executable();
    std::vector<std::string> argv;
    if (spec_.launch.mode == "mpirun") {
      argv = {"mpirun", "-np", std::to_string(spec_.launch.ranks)};
      if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
      if (!spec_.launch.hostfile.empty()) argv.insert(argv.end(), {"--hostfile", spec_.launch.hostfile});
      argv.insert(argv.end(), spec_.launch.mpirun_args.begin(), spec_.launch.mpirun_args.end());
    }
    argv.insert(argv.end(), {rnnlab, "train", (fs::path(spec_.output_dir) / "base.yaml").string(), "--quiet"});
    if (from_checkpoint) argv.push_back("--resume");
    for (const std::string& assignment : overrides_of(trial)) argv.push_back(assignment);
    return argv;
  }

  void launch(size_t index, std::vector<Running>& running) {
    const Trial& trial = trials_[index];
    const bool from_checkpoint = begin_attempt(index);
    result_.trials[index].resumed_from_checkpoint = from_checkpoint;
    fs::create_directories(trial_dir(trial));
    Running entry;
    entry.index = index;
    entry.start = Clock::now();
    entry.log = (fs::path(trial_dir(trial)) / "train.log").string();
    if (jobs_) {
      entry.job = submit(trial, entry.log);
      jobs_->record(trial.id, {entry.job, previous_run_[index]});
    } else {
      entry.pid = detail::spawn(command_of(trial, from_checkpoint), entry.log);
    }
    running.push_back(entry);
    progress_.started();
  }

  // Writes the trial's batch script and submits it; returns the job id.
  std::string submit(const Trial& trial, const std::string& log) const {
    detail::SlurmJobRequest request;
    request.name = trial_run_name(spec_, trial);
    request.log = fs::absolute(log).string();
    request.exit_dir = fs::absolute(trial_dir(trial)).string();
    request.checkpoint = trainer::checkpoint_path(request.exit_dir);
    request.workdir = fs::current_path().string();
    request.train = command_of(trial, /*from_checkpoint=*/false);  // the script adds --resume
    const std::string script = (fs::path(trial_dir(trial)) / "job.sbatch").string();
    std::ofstream(script) << detail::sbatch_script(spec_.launch, request);
    return detail::sbatch(script);
  }

  // Asks Slurm about the running jobs; finishes those that ended.
  void follow_jobs(std::vector<Running>& running) {
    std::vector<std::string> ids;
    for (const Running& entry : running) ids.push_back(entry.job);
    const auto jobs = detail::slurm_jobs(ids);
    for (size_t i = 0; i < running.size();) {
      auto it = jobs.find(running[i].job);
      detail::SlurmJob job = it != jobs.end() ? it->second : detail::slurm_job(running[i].job);
      // scontrol: the exit code and reason; also a job seen between ending and its requeue.
      if (!detail::slurm_active(job.state) && !job.state.empty()) job = detail::slurm_job(job.id);
      if (detail::slurm_active(job.state)) {
        ++i;
        continue;
      }
      std::string how;
      const int code = detail::slurm_outcome(job, detail::slurm_exit_file(trial_dir(trials_[running[i].index]), job.id), &how);
      const Running entry = running[i];
      running.erase(running.begin() + long(i));
      finish_process(entry, code, how);
      jobs_->forget(trials_[entry.index].id);
    }
  }

  // Reads the trial's new evaluations from the tracker and asks the pruner about them.
  void judge(Running& entry) {
    if (!pruner_.enabled() || entry.pruning) return;
    const Trial& trial = trials_[entry.index];
    const std::string name = trial_run_name(spec_, trial);
    if (entry.run_id == 0) {
      for (const auto& run : sweep_runs())
        if (run.name == name && run.id > previous_run_[entry.index]) entry.run_id = run.id;
      if (entry.run_id == 0) return;
    }
    const std::vector<StepPoint> own = history(entry.run_id);
    if (own.size() <= entry.judged) return;
    const auto others = peers(name);
    for (size_t n = entry.judged + 1; n <= own.size(); ++n) {
      const std::vector<StepPoint> prefix(own.begin(), own.begin() + long(n));
      if (pruner_.should_prune(prefix, others)) {
        entry.pruning = true;
        entry.prune_reason = pruner_.describe(prefix, others);
        if (entry.job.empty()) ::kill(entry.pid, SIGTERM);  // the trainer stops after its current step
        else detail::scancel(entry.job);                    // its SIGTERM does the same
        break;
      }
    }
    entry.judged = own.size();
  }

  void finish_process(const Running& entry, int code, const std::string& how) {
    const double seconds = std::chrono::duration<double>(Clock::now() - entry.start).count();
    if (entry.pruning) return record(entry.index, RunStatus::pruned, entry.prune_reason, entry.run_id, seconds);
    if (code == 0) return record(entry.index, RunStatus::finished, "", entry.run_id, seconds);
    // rnnlab train stopped by SIGINT (130) or SIGTERM, SIGHUP (143); a Slurm job's exit
    // code is its script's.
    const bool signalled = entry.job.empty() && (code == 130 || code == 143);
    if (signalled && stopping_) return record(entry.index, RunStatus::interrupted, "", 0, seconds);
    std::string error = detail::log_error(entry.log);
    error = (entry.job.empty() ? "rnnlab train " : "") + how + (error.empty() ? "" : ": " + error);
    if (signalled) {  // stopped by someone else's signal: the user wants out
      stopping_ = true;
      return record(entry.index, RunStatus::interrupted, "", 0, seconds);
    }
    record(entry.index, RunStatus::failed, error, entry.run_id, seconds);
  }

  void run_processes(const std::vector<size_t>& pending) {
    std::vector<Running> running;
    for (const auto& [index, job] : attached_) {  // mode slurm: jobs of an earlier sweep process
      Running entry;
      entry.index = index;
      entry.job = job;
      entry.start = Clock::now();
      entry.log = (fs::path(trial_dir(trials_[index])) / "train.log").string();
      running.push_back(entry);
      progress_.started();
    }
    size_t next = 0;
    auto last_poll = Clock::now(), last_slurm_poll = Clock::now();
    while (next < pending.size() || !running.empty()) {
      while (!stopping_ && next < pending.size() && int(running.size()) < spec_.launch.parallel)
        launch(pending[next++], running);
      if (jobs_ && std::chrono::duration<double>(Clock::now() - last_slurm_poll).count() >= spec_.launch.slurm.poll_seconds) {
        last_slurm_poll = Clock::now();
        follow_jobs(running);
      }
      for (size_t i = 0; i < running.size() && !jobs_;) {
        int code = 0;
        std::string how;
        if (detail::reap(running[i].pid, &code, &how)) {
          const Running entry = running[i];
          running.erase(running.begin() + long(i));
          finish_process(entry, code, how);
        } else {
          ++i;
        }
      }
      if (stopping_ && next < pending.size()) next = pending.size();
      if (std::chrono::duration<double>(Clock::now() - last_poll).count() >= options_.poll_seconds) {
        last_poll = Clock::now();
        for (Running& entry : running) judge(entry);
        progress_.tick();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  const SweepSpec& spec_;
  SweepOptions options_;
  Pruner pruner_;
  std::vector<Trial> trials_;
  std::map<std::string, size_t> by_name_;
  std::map<size_t, int64_t> previous_run_;  // the trial's newest run id before this attempt
  std::map<int64_t, PeerHistory> finished_cache_;
  std::unique_ptr<tracking::Store> store_;
  std::unique_ptr<detail::JobBook> jobs_;             // mode slurm
  std::vector<std::pair<size_t, std::string>> attached_;  // mode slurm: (trial, job) followed again
  SweepProgress progress_;
  SweepResult result_;
  bool stopping_ = false;
};

}  // namespace

SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& options) {
  return SweepRunner(spec, options).run();
}

}  // namespace rnnlab::experiments
