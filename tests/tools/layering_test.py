#!/usr/bin/env python3
"""tools/check-layering on a temporary copy of the source tree (ctest: tools_layering).

1. The copy, less the files the check names today, passes (exit 0): the clean tree.
2. Files planted in the copy, one per rule, fail it (exit 1), each named file:line: rule;
   the includes the rules allow (a library's own backend, a backend's own test, CUDA in a
   layers/ops/*_gpu* file) are not reported.
Usage: layering_test.py REPO_ROOT
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

FOLDERS = ["layers", "dist", "tracking", "trainer", "experiments", "tools", "tests"]

# path -> (content, the violations it must produce as "line: rule", or [] when allowed)
PLANTED = {
    "layers/planted_up.cc": ('// planted\n#include "trainer/model.h"\n', ["2: direction"]),
    "dist/planted_sibling.cc": ('#include "tracking/store.h"\n', ["1: direction"]),
    "trainer/planted_up.h": ('#pragma once\n#include <vector>\n#include "experiments/sweep.h"\n',
                             ["3: direction"]),
    "tools/cli/planted_private.cc": ('#include "tracking/detail/sqlite_db.h"\n', ["1: private"]),
    "tracking/planted_public.h": ('#pragma once\n#include "tracking/detail/schema.h"\n', ["2: private"]),
    "trainer/planted_vendor.cc": ("#include <cudnn.h>\n#include <mpi.h>\n", ["1: vendor", "2: vendor"]),
    "tools/cli/planted_http.h": ("#pragma once\n#include <httplib.h>\n", ["2: vendor"]),
    "trainer/planted_yaml.h": ("#pragma once\n#include <yaml-cpp/yaml.h>\n", ["2: vendor"]),
    "experiments/planted_long.cc": ("// line\n" * 501, ["501: length"]),
    "tests/trainer/planted_test.cc": ('#include "layers/onednn/onednn_stack.h"\n', ["1: private"]),
    "trainer/planted_relative.cc": ('#include "model.h"\n', ["1: root"]),
    # Allowed: a library's own backend from its .cc, a backend's own test, the vendor in
    # the backend's sources, CUDA in an ops *_gpu* file, a sibling public header.
    "layers/planted_own.cc": ('#include "layers/onednn/onednn_stack.h"\n', []),
    "tests/layers/planted_own_test.cc": ('#include "layers/cudnn/cudnn_stack.h"\n#include <cudnn.h>\n', []),
    "layers/ops/ops_gpu_planted.cu": ("#include <cuda_runtime.h>\n#include <cublas_v2.h>\n", []),
    "dist/mpi/planted_mpi.cc": ("#include <mpi.h>\n", []),
    "trainer/planted_yaml.cc": ("#include <yaml-cpp/yaml.h>\n", []),
    "tools/cli/planted_ok.cc": ('#include "layers/recurrent.h"\n#include "experiments/sweep.h"\n', []),
}


def check(root, script):
    run = subprocess.run([sys.executable, script, "--root", root], capture_output=True, text=True)
    return run.returncode, run.stdout, run.stderr


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def main():
    repo = os.path.abspath(sys.argv[1])
    script = os.path.join(repo, "tools", "check-layering")
    with tempfile.TemporaryDirectory(prefix="rnnlab-layering-") as root:
        for folder in FOLDERS:
            shutil.copytree(os.path.join(repo, folder), os.path.join(root, folder),
                            ignore=shutil.ignore_patterns("corpus", "__pycache__"))
        rc, out, err = check(root, script)
        # Violations only ("file:line: rule: ..."): a clean tree prints just the summary line.
        known = sorted({m.group(1) for m in re.finditer(r"^([^:\n]+):\d+: ", out, re.M)})
        if rc not in (0, 1):
            fail(f"check-layering exited {rc} on the copy: {err}")
        print(f"the tree today: {len(known)} file(s) with violations: {', '.join(known) or 'none'}")
        for path in known:
            os.remove(os.path.join(root, path))
        rc, out, err = check(root, script)
        if rc != 0 or "no violation" not in out:
            fail(f"the clean tree did not pass (exit {rc}):\n{out}{err}")
        print("clean tree:", out.strip())

        for path, (content, _) in PLANTED.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(content)
        rc, out, err = check(root, script)
        if rc != 1:
            fail(f"planted violations: exit {rc}, expected 1:\n{out}{err}")
        reported = set()
        for line in out.splitlines():
            match = re.match(r"^([^:]+):(\d+): (\w+): ", line)
            if not match:
                fail(f"line not in the form file:line: rule: message: {line!r}")
            reported.add(f"{match.group(1)}:{match.group(2)}: {match.group(3)}")
        expected = {f"{path}:{v}" for path, (_, violations) in PLANTED.items() for v in violations}
        if reported != expected:
            fail(f"missing: {sorted(expected - reported)}; unexpected: {sorted(reported - expected)}"
                 f"\n{out}")
        print(f"planted: all {len(expected)} violations named, "
              f"{sum(1 for _, v in PLANTED.values() if not v)} allowed files not reported")
        print(out, end="")


if __name__ == "__main__":
    main()
