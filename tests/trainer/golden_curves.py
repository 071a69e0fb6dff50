#!/usr/bin/env python3
"""Golden training curves: every example config, a short run on 1 thread, compared bit for bit.

Each example config in examples/ (not the sweeps) trains for a few hundred steps (the two
language models for fewer: they are 20x slower per step) with threads=1 and oneDNN pinned to
AVX2 (ONEDNN_MAX_CPU_ISA: the kernels, and so the rounding, are the same on every AVX2 CPU).
Every logged value but the throughputs (train_loss, grad_norm and its per-layer parts, lr,
val_*, test_*, baselines) must equal the recorded one exactly: the curves in
tests/trainer/golden/ were recorded before issue 10's refactor of the model and engine, which
must not change a single bit of a CPU run.

    golden_curves.py --rnnlab BIN --examples DIR --golden DIR            compare (the test)
    golden_curves.py --rnnlab BIN --examples DIR --golden DIR --record   write the curves
    ... --only copy_task,pos_lstm                                         a subset

Exit status 0 when every curve matches, 1 when a config differs (after printing its first
differing point and the largest difference), 2 on a failed run, 77 (ctest's skip, said loudly)
when a data set is not fetched (tools/fetch-data; tools/test fetches them all).
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile

# config name -> (steps, eval_every)
RUNS = {
    "adding_t100": (200, 100),
    "char_lm_moby_dick": (30, 15),
    "copy_task": (200, 100),
    "forecast_co2": (200, 100),
    "forecast_sunspots": (200, 100),
    "pos_bilstm": (200, 100),
    "pos_lstm": (200, 100),
    "sentiment_bilstm": (200, 100),
    "sentiment_lstm": (200, 100),
    "word_lm_sotu": (30, 15),
}
# Measured, not computed: they differ from run to run.
UNSTABLE_KEYS = {"tokens_per_s", "sequences_per_s"}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def data_missing(config_path):
    """The data set a config reads, when it is a fetched one that is not there."""
    dataset = None
    with open(config_path) as f:
        for line in f:
            if line.strip().startswith("dataset:"):
                dataset = line.split(":", 1)[1].split("#")[0].strip()
    if dataset in (None, "adding", "copy"):
        return None
    root = os.environ.get("RNNLAB_DATA") or os.path.join(os.path.dirname(os.path.abspath(config_path)), "..", "data")
    return None if os.path.exists(os.path.join(root, dataset, ".complete")) else f"{dataset} (under {root})"


def run_curve(rnnlab, config_path, steps, eval_every, workdir):
    out = os.path.join(workdir, "run")
    command = [rnnlab, "train", config_path, f"train.max_steps={steps}", "train.threads=1",
               f"train.eval_every={eval_every}", f"output.dir={out}", "output.tracker="]
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2", OMP_NUM_THREADS="1")
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(f"golden: {' '.join(command)} exited {result.returncode}\n{result.stderr[-3000:]}")
        sys.exit(2)
    points = []
    with open(os.path.join(out, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if record["key"] not in UNSTABLE_KEYS:
                points.append({"key": record["key"], "step": record["step"], "value": record["value"]})
    return points


def compare(name, golden, actual):
    if [(p["key"], p["step"]) for p in golden] != [(p["key"], p["step"]) for p in actual]:
        print(f"golden: {name}: the logged (key, step) sequence differs "
              f"({len(golden)} recorded points, {len(actual)} now)")
        return False
    first, largest = None, (0.0, None)
    for g, a in zip(golden, actual):
        if g["value"] == a["value"]:
            continue
        if first is None:
            first = (g, a)
        scale = max(abs(g["value"]), 1e-30)
        relative = abs(g["value"] - a["value"]) / scale if math.isfinite(a["value"]) else math.inf
        if relative > largest[0]:
            largest = (relative, (g, a))
    if first is None:
        print(f"golden: {name}: {len(golden)} points identical")
        return True
    g, a = first
    print(f"golden: {name}: first difference at {g['key']} step {g['step']}: recorded {g['value']!r}, "
          f"now {a['value']!r}")
    relative, (g, a) = largest
    print(f"golden: {name}: largest relative difference {relative:.3g} at {g['key']} step {g['step']}")
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rnnlab", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--golden", required=True)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or sorted(RUNS)
    for name in names:
        if name not in RUNS:
            sys.exit(f"golden: unknown config '{name}' (choices: {', '.join(sorted(RUNS))})")
    missing = [m for m in (data_missing(os.path.join(args.examples, n + ".yaml")) for n in names) if m]
    if missing and not args.record:
        print(f"golden: SKIPPED: data not fetched: {', '.join(missing)}; run tools/fetch-data all")
        sys.exit(77)
    ok = True
    for name in names:
        steps, eval_every = RUNS[name]
        golden_path = os.path.join(args.golden, name + ".json")
        with tempfile.TemporaryDirectory() as workdir:
            points = run_curve(args.rnnlab, os.path.join(args.examples, name + ".yaml"), steps, eval_every, workdir)
        if args.record:
            os.makedirs(args.golden, exist_ok=True)
            with open(golden_path, "w") as f:
                json.dump({"config": f"examples/{name}.yaml", "steps": steps, "eval_every": eval_every,
                           "recorded_on": cpu_model(), "points": points}, f, indent=0)
                f.write("\n")
            print(f"golden: {name}: recorded {len(points)} points")
            continue
        with open(golden_path) as f:
            golden = json.load(f)
        if not compare(name, golden["points"], points):
            print(f"golden: {name}: recorded on '{golden['recorded_on']}', compared on '{cpu_model()}'; "
                  "a CPU without AVX2 gives other roundings. Re-record only from a commit whose curves "
                  "are known good (--record).")
            ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
