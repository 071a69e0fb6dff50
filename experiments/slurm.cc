#include "experiments/slurm.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "experiments/launch.h"

namespace rnnlab::experiments::detail {
namespace {

namespace fs = std::filesystem;

// text for bash: as it is when it holds only harmless characters, else in single quotes.
std::string quoted(const std::string& text) {
  const char* plain = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:@%+,-";
  if (!text.empty() && text.find_first_not_of(plain) == std::string::npos) return text;
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : " ") + quoted(word);
  return out;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  return text;
}

// scontrol's one-line output as key -> value; a value may hold spaces (reasons do), so a
// word continues the value before it unless it starts with "Key=".
std::map<std::string, std::string> scontrol_fields(const std::string& line) {
  std::map<std::string, std::string> fields;
  std::string key;
  std::istringstream words(line);
  for (std::string word; words >> word;) {
    const size_t equals = word.find('=');
    const bool starts = equals != std::string::npos && equals > 0 &&
                        word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz/:_") == equals;
    if (starts) {
      key = word.substr(0, equals);
      fields[key] = word.substr(equals + 1);
    } else if (!key.empty()) {
      fields[key] += " " + word;
    }
  }
  return fields;
}

}  // namespace

std::string slurm_exit_file(const std::string& dir, const std::string& job) {
  return (fs::path(dir) / ("slurm-" + job + ".exit")).string();
}

std::string sbatch_script(const LaunchSpec& launch, const SlurmJobRequest& request) {
  const SlurmSpec& slurm = launch.slurm;
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Written by rnnlab sweep for one trial (docs/distributed.md, \"Slurm\"); submitted with sbatch.\n"
    << "#SBATCH --job-name=" << request.name << "\n"
    << "#SBATCH --output=" << request.log << "\n"
    << "#SBATCH --open-mode=append\n"
    << "#SBATCH --nodes=" << slurm.nodes << "\n"
    << "#SBATCH --ntasks=" << launch.ranks << "\n";
  if (slurm.cpus_per_rank > 0) s << "#SBATCH --cpus-per-task=" << slurm.cpus_per_rank << "\n";
  if (slurm.gpus_per_rank > 0) s << "#SBATCH --gpus-per-task=" << slurm.gpus_per_rank << "\n";
  if (!slurm.time.empty()) s << "#SBATCH --time=" << slurm.time << "\n";
  if (!slurm.partition.empty()) s << "#SBATCH --partition=" << slurm.partition << "\n";
  if (!slurm.account.empty()) s << "#SBATCH --account=" << slurm.account << "\n";
  if (!slurm.qos.empty()) s << "#SBATCH --qos=" << slurm.qos << "\n";
  if (slurm.signal_seconds > 0) s << "#SBATCH --signal=B:USR1@" << slurm.signal_seconds << "\n";
  s << (slurm.requeue ? "#SBATCH --requeue\n" : "#SBATCH --no-requeue\n");
  for (const std::string& arg : slurm.sbatch_args) s << "#SBATCH " << arg << "\n";

  std::vector<std::string> ranks;
  if (slurm.ranks_via == "mpirun") {
    ranks = {"mpirun", "-np", std::to_string(launch.ranks)};
    if (::geteuid() == 0) ranks.push_back("--allow-run-as-root");
    ranks.insert(ranks.end(), launch.mpirun_args.begin(), launch.mpirun_args.end());
  } else {
    ranks = {"srun", "--ntasks=" + std::to_string(launch.ranks)};
    // srun does not take --cpus-per-task from the allocation (Slurm >= 22.05).
    if (slurm.cpus_per_rank > 0) ranks.push_back("--cpus-per-task=" + std::to_string(slurm.cpus_per_rank));
    ranks.insert(ranks.end(), slurm.srun_args.begin(), slurm.srun_args.end());
  }
  ranks.insert(ranks.end(), request.train.begin(), request.train.end());
  s << "\ncd " << quoted(request.workdir) << " || exit 1\n"
    << "resume=()\n"
    << "[[ -f " << quoted(request.checkpoint) << " ]] && resume=(--resume)\n"
    << "echo \"rnnlab sweep: job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST"
       "${resume:+, resuming from the checkpoint}\"\n"
    << "# SIGUSR1 before the time limit: the ranks checkpoint and stop (exit 143), then requeue.\n"
    << "warned=0\n"
    << "trap 'warned=1; kill -USR1 \"$ranks\" 2>/dev/null' USR1\n"
    << joined(ranks) << " \"${resume[@]}\" &\n"
    << "ranks=$!\n"
    << "while kill -0 \"$ranks\" 2>/dev/null; do wait \"$ranks\"; done\n"
    << "wait \"$ranks\"\n"
    << "code=$?\n";
  if (slurm.requeue)
    s << "if [[ $warned == 1 && $code == 143 ]]; then\n"
      << "  echo \"rnnlab sweep: time limit near: checkpoint written, requeueing job $SLURM_JOB_ID\"\n"
      << "  scontrol requeue \"$SLURM_JOB_ID\" && exit 0\n"
      << "fi\n";
  s << "echo \"$code\" > " << quoted(request.exit_dir) << "/slurm-\"$SLURM_JOB_ID\".exit\n"
    << "exit \"$code\"\n";
  return s.str();
}

std::string sbatch(const std::string& script_path) {
  std::string output;
  const int code = capture({"sbatch", "--parsable", script_path}, &output);
  output = trimmed(output);
  // --parsable prints "id" or "id;cluster" (after any warnings on earlier lines).
  const std::string last = output.substr(output.find_last_of('\n') == std::string::npos ? 0 : output.find_last_of('\n') + 1);
  const std::string id = last.substr(0, last.find(';'));
  if (code != 0 || id.empty() || id.find_first_not_of("0123456789_") != std::string::npos)
    throw std::runtime_error("sbatch " + script_path + " failed (exit code " + std::to_string(code) + "): " + output);
  return id;
}

std::map<std::string, SlurmJob> slurm_jobs(const std::vector<std::string>& ids) {
  std::map<std::string, SlurmJob> jobs;
  if (ids.empty()) return jobs;
  std::string list;
  for (const std::string& id : ids) list += (list.empty() ? "" : ",") + id;
  std::string output;
  if (capture({"squeue", "--noheader", "--states=all", "--jobs=" + list, "--format=%i|%T|%r"}, &output) == 0) {
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
      const size_t a = line.find('|'), b = line.find('|', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      SlurmJob job{line.substr(0, a), line.substr(a + 1, b - a - 1), trimmed(line.substr(b + 1)), ""};
      jobs[job.id] = job;
    }
    return jobs;
  }
  // squeue refuses the whole list when one id is unknown (forgotten): one at a time.
  for (const std::string& id : ids) {
    SlurmJob job = slurm_job(id);
    if (!job.state.empty()) jobs[id] = job;
  }
  return jobs;
}

SlurmJob slurm_job(const std::string& id) {
  std::string output;
  SlurmJob job{id, "", "", ""};
  if (capture({"scontrol", "--oneliner", "show", "job", id}, &output) != 0) {
    // Forgotten (MinJobAge), or no answer now (the controller busy or restarting): ask again later.
    if (output.find("Invalid job id") == std::string::npos) job.state = "UNKNOWN";
    return job;
  }
  auto fields = scontrol_fields(output);
  job.state = fields["JobState"];
  job.reason = fields["Reason"];
  job.exit_code = fields["ExitCode"];
  return job;
}

bool slurm_active(const std::string& state) {
  for (const char* ended : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
                            "DEADLINE", "PREEMPTED", "SPECIAL_EXIT", "REVOKED"})
    if (state.rfind(ended, 0) == 0) return false;
  return !state.empty();
}

void scancel(const std::string& id) {
  std::string output;
  capture({"scancel", id}, &output);
}

int slurm_outcome(const SlurmJob& job, const std::string& exit_file, std::string* how) {
  int code = -1;
  if (std::ifstream file(exit_file); file >> code) {
  }
  if (job.state.empty()) {  // Slurm has forgotten it: the script's exit file is all there is
    *how = code < 0 ? "slurm job " + job.id + " is gone from Slurm and left no exit status"
                    : "slurm job " + job.id + ": exit code " + std::to_string(code);
    return code < 0 ? 1 : code;
  }
  if (job.state == "COMPLETED" && (job.exit_code.empty() || job.exit_code == "0:0")) return 0;
  *how = "slurm job " + job.id + " " + job.state;
  std::string details;
  if (!job.reason.empty() && job.reason != "None") details = "reason " + job.reason;
  if (!job.exit_code.empty() && job.exit_code != "0:0")
    details += (details.empty() ? "" : ", ") + std::string("exit code ") + job.exit_code;
  if (!details.empty()) *how += " (" + details + ")";
  if (code > 0) return code;
  const int script_code = std::atoi(job.exit_code.c_str());
  return script_code > 0 ? script_code : 1;
}

JobBook::JobBook(std::string path) : path_(std::move(path)) {
  std::ifstream file(path_);
  if (!file) return;
  try {
    const nlohmann::json book = nlohmann::json::parse(file);
    for (const auto& [trial, entry] : book.items())
      entries_[trial] = {entry.value("job", ""), entry.value("after", int64_t(0))};
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(path_ + ": not a job book (" + error.what() + "); remove it to forget the sweep's jobs");
  }
}

const JobBook::Entry* JobBook::find(const std::string& trial_id) const {
  auto it = entries_.find(trial_id);
  return it == entries_.end() ? nullptr : &it->second;
}

void JobBook::record(const std::string& trial_id, const Entry& entry) {
  entries_[trial_id] = entry;
  save();
}

void JobBook::forget(const std::string& trial_id) {
  if (entries_.erase(trial_id)) save();
}

void JobBook::save() const {
  nlohmann::json book = nlohmann::json::object();
  for (const auto& [trial, entry] : entries_) book[trial] = {{"job", entry.job}, {"after", entry.after}};
  // Written whole, then renamed: a sweep killed mid-write leaves the previous book.
  const std::string temporary = path_ + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << book.dump(2) << "\n";
    if (!file) throw std::runtime_error("cannot write " + temporary);
  }
  fs::rename(temporary, path_);
}

}  // namespace rnnlab::experiments::detail
