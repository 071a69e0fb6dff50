#!/usr/bin/python3
"""Data-parallel training through the real `rnnlab train`, under mpirun.

  train_dist_test.py RNNLAB MPIEXEC CASE [NP]

Cases (each one ctest test; every job runs under an outer timeout, so nothing hangs):
  equivalence NP  NP ranks x batch B == 1 rank x batch NP*B: the training loss of every
                  step and the final parameters (relative 1e-5), for an LSTM (bidirectional)
                  on the adding task and a stacked GRU and a stacked bidirectional LSTM on the
                  copy task. Sizes are chosen so that the last batch of an epoch is uneven (at
                  NP=3 one rank gets an empty slice). Every rank ends with bitwise identical
                  parameters (RNNLAB_TEST_DUMP_PARAMS, a test hook `rnnlab train` passes to trainer::train).
  overlap NP      dist.overlap=false (one blocking all-reduce after backward) gives the
                  same losses and parameters as the overlapped all-reduce in 256-byte
                  buckets (dist.bucket_mb), which are started during backward, under each
                  dist.progress (thread, poll, none).
  resume          checkpoints written by N ranks resume on M ranks (2->1, 1->2, 2->3, at
                  one global batch), continuing with the loss curve and final parameters of
                  an uninterrupted run, every resumed rank holding identical parameters:
                  rank 0 reads the checkpoint and broadcasts it (parameters and optimizer
                  state; momentum SGD, so a rank without the state would diverge).
  nan NP          RNNLAB_TEST_INJECT_NAN_RANK=1 (a test hook): every rank exits non-zero,
                  the message names rank 1 and the step; the tracked run is marked failed.
  kill NP         rank 1 is SIGKILLed mid-training (dist.timeout_seconds=10): the job ends
                  non-zero within the timeout, the last checkpoint still resumes, and right
                  after the job the tracked run is failed with an error naming rank 1 (rank
                  0's watchdog sees rank 1's process gone and marks it before mpirun kills
                  rank 0). A dead rank 0 is the tracker's stale-heartbeat rule instead.
  two_hosts       `rnnlab train` with one rank in each of two network namespaces, Open MPI
                  over TCP between them (two_hosts.sh): exit 0, both ranks end with bitwise
                  identical parameters, and the losses and parameters equal a 2-rank run on
                  one host (relative 1e-5). Exit 77 (skipped) without root / ip netns.
  sigterm NP      SIGTERM to the last rank only: every rank stops after the same step (exit
                  143), the checkpoint holds that step, the tracked run is marked killed.
Exit status 0 = pass; the output says what was compared.
"""
import array
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

RNNLAB, MPIEXEC, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
NP = int(sys.argv[4]) if len(sys.argv) > 4 else 2
JOB_TIMEOUT = 120  # seconds for one job; the ctest TIMEOUT is above the sum of a case's jobs
RTOL = 1e-5
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1")
for key in ("RNNLAB_TEST_INJECT_NAN_RANK", "RNNLAB_TEST_INJECT_NAN_STEP", "RNNLAB_TEST_DUMP_PARAMS"):
    ENV.pop(key, None)


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


# Tiny models: each job is about a second. 73 sequences leave a last batch of 1 at global
# batch 8 and 12 (ranks with an empty slice), 74 one of 2. Adam on the adding task, SGD with
# momentum on the others: Adam turns rounding-level differences of near-zero gradients
# (the ranks sum in another order than one process) into lr-sized steps, which after 20
# steps sits right at the 1e-5 limit on some weights; SGD keeps them at rounding level.
CONFIGS = {
    "lstm_bidir_adding": """
task: adding
data: {dataset: adding, seq_len: 10, train_size: 74, test_size: 12}
model: {cell: lstm, hidden_size: 8, layers: 1, bidirectional: true}
train: {epochs: 2, optimizer: adam, lr: 0.01, clip_norm: 1.0, seed: 3, threads: 1}
""",
    "gru_stacked_copy": """
task: copy
data: {dataset: copy, copy_symbols: 4, copy_length: 3, seq_len: 7, train_size: 73, test_size: 12}
model: {cell: gru, embedding_size: 6, hidden_size: 8, layers: 2}
train: {epochs: 2, optimizer: sgd, momentum: 0.9, lr: 0.1, clip_norm: 1.0, seed: 5, threads: 1}
""",
    "lstm_stacked_bidir_copy": """
task: copy
data: {dataset: copy, copy_symbols: 4, copy_length: 3, seq_len: 7, train_size: 73, test_size: 12}
model: {cell: lstm, embedding_size: 6, hidden_size: 8, layers: 2, bidirectional: true}
train: {epochs: 2, optimizer: sgd, momentum: 0.9, lr: 0.1, clip_norm: 1.0, seed: 7, threads: 1}
""",
}


def write_config(directory, name, extra=""):
    path = os.path.join(directory, name + ".yaml")
    with open(path, "w") as f:
        f.write(CONFIGS[name] + extra)
    return path


def command(np_, config, overrides, resume=False):
    cmd = [RNNLAB, "train", config, "--quiet"] + overrides + (["--resume"] if resume else [])
    if np_ == 0:  # a plain process, no mpirun
        return cmd
    return [MPIEXEC, "-np", str(np_), "--oversubscribe", "--allow-run-as-root"] + cmd


def run_job(np_, config, overrides, env_extra=None, resume=False, expect_ok=True):
    env = dict(ENV, **(env_extra or {}))
    start = time.monotonic()
    try:
        proc = subprocess.run(command(np_, config, overrides, resume), env=env, capture_output=True,
                              text=True, timeout=JOB_TIMEOUT)
    except subprocess.TimeoutExpired as error:
        fail(f"job hung: {error.cmd} ran past {JOB_TIMEOUT} s")
    elapsed = time.monotonic() - start
    if expect_ok and proc.returncode != 0:
        fail(f"{' '.join(command(np_, config, overrides, resume))} exited {proc.returncode}:\n"
             f"{proc.stdout}{proc.stderr}")
    return proc, elapsed


def losses(output_dir):
    """step -> train_loss from metrics.jsonl (a resumed run appends; the last value wins)."""
    out = {}
    with open(os.path.join(output_dir, "metrics.jsonl")) as f:
        for line in f:
            point = json.loads(line)
            if point["key"] == "train_loss":
                out[point["step"]] = point["value"]
    return out


def read_floats(path):
    values = array.array("f")
    with open(path, "rb") as f:
        values.frombytes(f.read())
    return values


def close(a, b, rtol=RTOL):
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-30)


def compare_losses(what, got, want, steps=None):
    steps = steps if steps is not None else sorted(want)
    if not steps:
        fail(f"{what}: no training steps to compare")
    worst = 0.0
    for step in steps:
        if step not in got:
            fail(f"{what}: step {step} missing (have steps {sorted(got)[:3]}...{sorted(got)[-3:]})")
        if got[step] is None or want[step] is None or not close(got[step], want[step]):
            fail(f"{what}: step {step} loss {got[step]!r} vs {want[step]!r} (rtol {RTOL})")
        worst = max(worst, abs(got[step] - want[step]) / max(abs(want[step]), 1e-30))
    print(f"  {what}: {len(steps)} steps equal, max relative difference {worst:.2e}")


def compare_params(what, got, want):
    if len(got) != len(want):
        fail(f"{what}: {len(got)} parameters vs {len(want)}")
    # Each element relative to itself, with a floor of 1% of the largest parameter: an element
    # near zero has no relative precision of its own (Adam turns rounding-level gradient
    # differences into lr-sized steps of nearly-zero weights), so it is compared at the
    # model's scale. Also the whole vector: ||got - want|| / ||want||.
    scale = max(abs(v) for v in want)
    worst, worst_at = 0.0, 0
    for i, (a, b) in enumerate(zip(got, want)):
        error = abs(a - b) / max(abs(a), abs(b), 1e-2 * scale)
        if error > worst:
            worst, worst_at = error, i
    norm = sum((a - b) ** 2 for a, b in zip(got, want)) ** 0.5 / max(sum(b * b for b in want) ** 0.5, 1e-30)
    if worst > RTOL or norm > RTOL:
        fail(f"{what}: parameter {worst_at} is {got[worst_at]!r} vs {want[worst_at]!r} "
             f"(relative {worst:.2e}; whole vector {norm:.2e}; limit {RTOL})")
    print(f"  {what}: {len(got)} parameters equal, max relative difference {worst:.2e} "
          f"(floor 1% of max |p| = {scale:.3g}), whole vector {norm:.2e}")


def check_ranks_identical(prefix, np_):
    dumps = [open(f"{prefix}.rank{r}", "rb").read() for r in range(np_)]
    for r in range(1, np_):
        if dumps[r] != dumps[0]:
            fail(f"rank {r} holds different parameters than rank 0 after training")
    print(f"  ranks 0..{np_ - 1} hold bitwise identical parameters ({len(dumps[0]) // 4} floats)")
    return read_floats(f"{prefix}.rank0")


def train_and_dump(directory, tag, np_, config, batch, extra_overrides=(), env_extra=None):
    out_dir = os.path.join(directory, tag)
    prefix = os.path.join(directory, tag + ".params")
    env = dict(env_extra or {}, RNNLAB_TEST_DUMP_PARAMS=prefix)
    run_job(np_, config, [f"train.batch_size={batch}", f"output.dir={out_dir}"] + list(extra_overrides), env)
    params = check_ranks_identical(prefix, max(np_, 1))
    return losses(out_dir), params


def case_equivalence(directory, batch=4):
    for name in CONFIGS:
        print(f"{name}: {NP} ranks x batch {batch} vs 1 rank x batch {NP * batch}")
        config = write_config(directory, name)
        want_losses, want_params = train_and_dump(directory, name + "_single", 0, config, NP * batch)
        got_losses, got_params = train_and_dump(directory, name + "_ranks", NP, config, batch)
        if sorted(got_losses) != sorted(want_losses):
            fail(f"{name}: {len(got_losses)} steps on {NP} ranks vs {len(want_losses)} on one")
        compare_losses("losses", got_losses, want_losses)
        compare_params("parameters", got_params, want_params)


def case_overlap(directory, batch=4):
    for name in ("lstm_stacked_bidir_copy", "gru_stacked_copy"):
        print(f"{name}: {NP} ranks, overlapped bucketed all-reduce vs one all-reduce after backward")
        config = write_config(directory, name)
        # 256-byte buckets: the tiny model's gradients travel in many buckets during backward.
        off_losses, off_params = train_and_dump(directory, name + "_off", NP, config, batch,
                                                ["dist.overlap=false"])
        for progress in ("thread", "poll", "none"):
            print(f" dist.progress={progress}, dist.bucket_mb={256 / 2**20!r} vs dist.overlap=false")
            on_losses, on_params = train_and_dump(directory, f"{name}_on_{progress}", NP, config, batch,
                                                  [f"dist.bucket_mb={256 / 2**20!r}", f"dist.progress={progress}"])
            compare_losses("losses", off_losses, on_losses)
            compare_params("parameters", off_params, on_params)
            print(f"  bitwise identical: {on_params.tobytes() == off_params.tobytes()}")


def case_resume(directory):
    name = "lstm_stacked_bidir_copy"
    config = write_config(directory, name)
    # (ranks, batch per rank) before -> after the resume, at one global batch (0 = one plain
    # process). The resumed ranks get rank 0's parameters and optimizer state (rank 0 reads
    # the checkpoint and broadcasts it) and must follow the uninterrupted run's curve.
    plans = (((2, 4), (0, 8)), ((0, 8), (2, 4)), ((2, 6), (3, 4)), ((2, 6), (0, 12)))
    uninterrupted = {}
    for (np_a, batch_a), (np_b, batch_b) in plans:
        global_batch = max(np_a, 1) * batch_a
        if global_batch not in uninterrupted:
            uninterrupted[global_batch] = train_and_dump(directory, f"uninterrupted_{global_batch}", 2, config,
                                                         global_batch // 2)
        full_losses, full_params = uninterrupted[global_batch]
        total = max(full_losses)
        first = total * 2 // 3  # stop in the second epoch, mid-epoch
        tag = f"resume_{max(np_a, 1)}x{batch_a}to{max(np_b, 1)}x{batch_b}"
        print(f"{tag}: {first} steps on {max(np_a, 1)} rank(s) x batch {batch_a}, then to step {total} on "
              f"{max(np_b, 1)} rank(s) x batch {batch_b}")
        out_dir = os.path.join(directory, tag)
        run_job(np_a, config, [f"train.batch_size={batch_a}", f"output.dir={out_dir}", f"train.max_steps={first}",
                               f"output.checkpoint_every={first}"])
        prefix = os.path.join(directory, tag + ".params")
        run_job(np_b, config, [f"train.batch_size={batch_b}", f"output.dir={out_dir}"],
                {"RNNLAB_TEST_DUMP_PARAMS": prefix}, resume=True)
        got = losses(out_dir)
        compare_losses("losses after the resume", got, full_losses, list(range(first + 1, total + 1)))
        compare_params("final parameters", check_ranks_identical(prefix, max(np_b, 1)), full_params)


def run_status(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT status, COALESCE(error, '') FROM runs ORDER BY id DESC LIMIT 1").fetchone()


def case_nan(directory):
    config = write_config(directory, "gru_stacked_copy")
    db = os.path.join(directory, "runs.db")
    proc, elapsed = run_job(NP, config, ["train.batch_size=4", f"output.dir={directory}/nan", f"output.tracker={db}"],
                            {"RNNLAB_TEST_INJECT_NAN_RANK": "1", "RNNLAB_TEST_INJECT_NAN_STEP": "3"},
                            expect_ok=False)
    text = proc.stdout + proc.stderr
    print(text)
    print(f"--- exit {proc.returncode} after {elapsed:.1f} s")
    if proc.returncode == 0:
        fail("the job exited 0 with a NaN loss on rank 1")
    expected = "rank 1 failed in training loss: step 3 (epoch 1): training loss is nan"
    if expected not in text:
        fail(f"no message '{expected}'")
    # Every rank leaves through the vote (RankFailure), not through an abort or a timeout.
    # How many of them get to print before mpirun tears the job down after the first
    # non-zero exit is a race, so count only that at least one did and none aborted.
    errors = [line for line in text.splitlines() if line.startswith("rnnlab: error:") and expected in line]
    if not errors:
        fail("no rank reported the failure")
    if "MPI_ABORT" in text or "timed out" in text:
        fail("the job ended through an abort or a timeout, not through the vote")
    status, error = run_status(db)
    if status != "failed" or "rank 1" not in error:
        fail(f"tracked run is '{status}' ({error!r}), expected failed naming rank 1")
    print(f"PASS: all {NP} ranks exited naming rank 1 and step 3; tracked run: {status}: {error}")


def rank_pids(mpirun_pid):
    """{rank: pid} of mpirun's children (the ranks), from their environment."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            if int(stat[stat.rindex(")") + 2:].split()[1]) != mpirun_pid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                for item in f.read().split(b"\0"):
                    if item.startswith(b"OMPI_COMM_WORLD_RANK="):
                        out[int(item.split(b"=")[1])] = int(entry)
        except (OSError, ValueError, IndexError):
            continue
    return out


def case_kill(directory, timeout_seconds=10):
    config = write_config(directory, "lstm_bidir_adding")
    db = os.path.join(directory, "runs.db")
    out_dir = os.path.join(directory, "kill")
    overrides = ["train.batch_size=4", f"output.dir={out_dir}", f"output.tracker={db}", "train.epochs=100000",
                 "output.checkpoint_every=5", f"dist.timeout_seconds={timeout_seconds}"]
    proc = subprocess.Popen(command(NP, config, overrides), env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        # Wait for a checkpoint and a few steps more, then kill rank 1.
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            if proc.poll() is not None:
                fail(f"the job ended before the kill (exit {proc.returncode}):\n{proc.stdout.read()}")
            if time.monotonic() > deadline:
                fail("no training progress within the job timeout")
            steps = losses(out_dir) if os.path.exists(os.path.join(out_dir, "metrics.jsonl")) else {}
            if steps and max(steps) >= 12 and os.path.exists(os.path.join(out_dir, "checkpoint.safetensors")):
                break
            time.sleep(0.1)
        pids = rank_pids(proc.pid)
        if 1 not in pids:
            fail(f"cannot find rank 1 among mpirun's children: {pids}")
        os.kill(pids[1], signal.SIGKILL)
        killed_at = time.monotonic()
        try:
            output, _ = proc.communicate(timeout=timeout_seconds + 30)
        except subprocess.TimeoutExpired:
            fail(f"the job still runs {timeout_seconds + 30} s after rank 1 was killed")
        elapsed = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own job's process group only
    print(output)
    print(f"--- exit {proc.returncode}, {elapsed:.1f} s after SIGKILL of rank 1 (pid {pids[1]})")
    if proc.returncode == 0:
        fail("the job exited 0 after a rank was killed")
    if elapsed > timeout_seconds:
        fail(f"the job took {elapsed:.1f} s to end, more than the {timeout_seconds} s timeout")
    # The last checkpoint resumes (one more step, on one process with the same global batch).
    with open(os.path.join(out_dir, "checkpoint.safetensors"), "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    step = int(json.loads(header["__metadata__"]["rnnlab"])["step"])
    resumed, _ = run_job(0, config, [f"train.batch_size={4 * NP}", f"output.dir={out_dir}", "output.tracker=",
                                     "train.epochs=100000", f"train.max_steps={step + 1}"],
                         resume=True, expect_ok=False)
    if resumed.returncode != 0:
        fail(f"the checkpoint left by the killed job does not resume:\n{resumed.stderr}")
    print(f"  the last checkpoint (step {step}) resumes")
    # Rank 0 outlives the dead rank by the time mpirun takes to kill it (SIGTERM, then
    # SIGKILL a second later); its watchdog sees rank 1's process gone within 0.2 s and
    # marks the run failed, naming rank 1, before the job ends. No stale-heartbeat wait.
    status, error = run_status(db)
    print(f"  tracked run right after the job: {status} {error!r}")
    if status != "failed" or "rank 1" not in error:
        fail(f"the tracked run is '{status}' ({error!r}) right after the job, expected failed naming rank 1")
    print(f"PASS: job ended (exit {proc.returncode}) {elapsed:.1f} s after the kill; run marked {status}: {error}")


def case_two_hosts(directory, batch=4):
    name = "lstm_bidir_adding"
    config = write_config(directory, name)
    print(f"{name}: 2 ranks x batch {batch} on one host, then one rank in each of two network namespaces")
    want_losses, want_params = train_and_dump(directory, "one_host", 2, config, batch)
    out_dir = os.path.join(directory, "two_hosts")
    prefix = os.path.join(directory, "two_hosts.params")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "two_hosts.sh")
    # Both namespaces share this file system and inherit mpirun's environment (the launch
    # agent is mpirun's child), so RNNLAB_TEST_DUMP_PARAMS reaches the remote rank too.
    env = dict(ENV, RNNLAB_TEST_DUMP_PARAMS=prefix)
    cmd = [script, MPIEXEC, RNNLAB, "train", config, "--quiet", f"train.batch_size={batch}",
           f"output.dir={out_dir}"]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=JOB_TIMEOUT)
    except subprocess.TimeoutExpired:
        fail(f"two_hosts.sh ran past {JOB_TIMEOUT} s")
    print(proc.stdout + proc.stderr)
    if proc.returncode == 77:
        print("SKIP: " + proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "SKIP")
        sys.exit(77)
    if proc.returncode != 0:
        fail(f"rnnlab train across two network namespaces exited {proc.returncode}")
    got_params = check_ranks_identical(prefix, 2)
    got_losses = losses(out_dir)
    if sorted(got_losses) != sorted(want_losses):
        fail(f"{len(got_losses)} steps across two hosts vs {len(want_losses)} on one")
    compare_losses("losses, two hosts vs one host", got_losses, want_losses)
    compare_params("parameters, two hosts vs one host", got_params, want_params)


def case_sigterm(directory):
    """SIGTERM to one rank only (a scheduler's stop reaching the ranks at different moments):
    every rank stops after the same step, rank 0 writes the checkpoint and marks the run
    killed, and the job ends promptly instead of waiting in a collective for the watchdog."""
    config = write_config(directory, "lstm_bidir_adding")
    db = os.path.join(directory, "runs.db")
    out_dir = os.path.join(directory, "sigterm")
    overrides = ["train.batch_size=4", f"output.dir={out_dir}", f"output.tracker={db}", "train.epochs=100000",
                 "output.checkpoint_every=1000000"]
    proc = subprocess.Popen(command(NP, config, overrides), env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            if proc.poll() is not None:
                fail(f"the job ended before the signal (exit {proc.returncode}):\n{proc.stdout.read()}")
            if time.monotonic() > deadline:
                fail("no training progress within the job timeout")
            steps = losses(out_dir) if os.path.exists(os.path.join(out_dir, "metrics.jsonl")) else {}
            if steps and max(steps) >= 10:
                break
            time.sleep(0.1)
        pids = rank_pids(proc.pid)
        os.kill(pids[NP - 1], signal.SIGTERM)
        signalled_at = time.monotonic()
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            fail(f"the job still runs 30 s after SIGTERM to rank {NP - 1}: the ranks did not stop together")
        elapsed = time.monotonic() - signalled_at
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own job's process group only
    print(output)
    print(f"--- exit {proc.returncode}, {elapsed:.1f} s after SIGTERM to rank {NP - 1}")
    if proc.returncode != 143:
        fail(f"expected exit 143 (stopped by SIGTERM), got {proc.returncode}")
    with open(os.path.join(out_dir, "checkpoint.safetensors"), "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    step = int(json.loads(header["__metadata__"]["rnnlab"])["step"])
    last = max(losses(out_dir))
    if step != last:
        fail(f"checkpoint at step {step}, but the last step trained was {last}")
    status, error = run_status(db)
    if status != "killed":
        fail(f"tracked run is '{status}' ({error!r}), expected killed")
    print(f"PASS: every rank stopped after step {step}, checkpoint written, run marked killed")


def main():
    with tempfile.TemporaryDirectory(prefix=f"rnnlab-train-{CASE}-") as directory:
        cases = {"equivalence": case_equivalence, "overlap": case_overlap, "resume": case_resume,
                 "nan": case_nan, "kill": case_kill, "sigterm": case_sigterm, "two_hosts": case_two_hosts}
        if CASE not in cases:
            fail(f"unknown case {CASE} (choices: {', '.join(cases)})")
        cases[CASE](directory)
    print("PASS")


if __name__ == "__main__":
    main()
