// launch.mode slurm (internal to experiments/): every trial is one batch job.
//
// The job script (written next to the trial's log, submitted with `sbatch --parsable`)
// starts the ranks with `srun --mpi=pmix` (or Open MPI's mpirun inside the allocation),
// resumes from the trial's checkpoint when one exists when the job starts, asks for
// SIGUSR1 `signal_seconds` before the time limit (--signal=B:USR1@N) and passes it to the
// ranks: `rnnlab train` then checkpoints, marks the run killed and exits 143, and the
// script requeues the job (`scontrol requeue`), which resumes the same tracker run. The
// trainer's exit code goes to <trial>/slurm-<job>.exit, the sweep's record of how a job
// ended once Slurm has forgotten it.
//
// Following jobs: `squeue --states=all` for all of the sweep's jobs at once, then
// `scontrol show job` for the state, reason and exit code of each job that ended. No
// sacct: it needs slurmdbd (accounting), which many clusters have and a test cluster does
// not; scontrol knows a job for MinJobAge seconds after its end (300 by default), and the
// exit file covers the rest.
//
// The job book, <output_dir>/slurm_jobs.json, maps trial ids to the job ids submitted for
// them, so that `rnnlab sweep --resume` re-attaches to jobs still queued or running.
// Failure: sbatch refusing a job throws std::runtime_error with sbatch's message.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "experiments/sweep.h"

namespace rnnlab::experiments::detail {

struct SlurmJobRequest {
  std::string name;        // --job-name
  std::string log;         // --output (appended to across requeues)
  std::string exit_dir;    // the script writes the trainer's exit code to slurm_exit_file(exit_dir, job)
  std::string checkpoint;  // --resume when this file exists as the job starts
  std::string workdir;     // the sweep's working directory (relative paths in the command)
  std::vector<std::string> train;  // rnnlab train CONFIG --quiet key=value ... (no --resume)
};

// The text of the job's batch script.
std::string sbatch_script(const LaunchSpec& launch, const SlurmJobRequest& request);

// <dir>/slurm-<job>.exit
std::string slurm_exit_file(const std::string& dir, const std::string& job);

// Submits a script; returns the job id.
std::string sbatch(const std::string& script_path);

struct SlurmJob {
  std::string id;
  std::string state;   // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...; "" when Slurm
                       // has forgotten the job, UNKNOWN when it did not answer
  std::string reason;  // Slurm's reason ("None" when none)
  std::string exit_code;  // "code:signal" as scontrol prints it
};

// Slurm's view of the jobs (ids Slurm has forgotten are left out).
std::map<std::string, SlurmJob> slurm_jobs(const std::vector<std::string>& ids);
// Details of one job from scontrol.
SlurmJob slurm_job(const std::string& id);
// Whether a job in this state may still run (pending, running, requeued, suspended, ...).
bool slurm_active(const std::string& state);
// scancel; a job that has ended already is no error.
void scancel(const std::string& id);

// How a job ended, for the trial's record: 0 when it finished (COMPLETED, exit 0), else
// non-zero with Slurm's state, reason and exit code in *how.
int slurm_outcome(const SlurmJob& job, const std::string& exit_file, std::string* how);

// <output_dir>/slurm_jobs.json: trial id -> the job submitted for it and the trial's
// newest run id before that job (to tell the job's run from older ones).
class JobBook {
 public:
  struct Entry {
    std::string job;
    int64_t after = 0;
  };
  explicit JobBook(std::string path);
  const Entry* find(const std::string& trial_id) const;
  void record(const std::string& trial_id, const Entry& entry);
  void forget(const std::string& trial_id);

 private:
  void save() const;
  std::string path_;
  std::map<std::string, Entry> entries_;
};

}  // namespace rnnlab::experiments::detail
