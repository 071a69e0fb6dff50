#!/usr/bin/env bash
# One fault test: runs dist_fault_program under mpirun with a communicator timeout of
# TIMEOUT seconds (default 5) and checks that the job ends (non-zero, or zero for MODE=ok)
# within MAX_SECONDS, with output matching EXPECT (an extended regex naming the rank and
# what it was doing).
#   run_fault_case.sh MPIEXEC PROGRAM NP MODE EXPECT MAX_SECONDS [TIMEOUT]
set -uo pipefail
mpiexec=$1 program=$2 np=$3 mode=$4 expect=$5 max_seconds=$6 timeout_s=${7:-5}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
# The outer timeout is the "nothing hangs" check: well above MAX_SECONDS, below ctest's.
timeout -k 5 60 "$mpiexec" -np "$np" --oversubscribe --allow-run-as-root \
  "$program" "$mode" --rank 1 --timeout "$timeout_s" >"$log" 2>&1
rc=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
cat "$log"
echo "--- mode=$mode np=$np exit=$rc elapsed=${elapsed}s (limit ${max_seconds}s)"
fail() { echo "FAIL: $*"; exit 1; }
[ "$rc" -eq 124 ] || [ "$rc" -eq 137 -a "$mode" != kill ] && fail "the job hung and was killed by timeout"
if [ "$mode" = ok ]; then
  [ "$rc" -eq 0 ] || fail "expected exit 0"
else
  [ "$rc" -ne 0 ] || fail "expected a non-zero exit"
fi
[ "$(echo "$elapsed <= $max_seconds" | bc)" -eq 1 ] || fail "took ${elapsed}s, more than ${max_seconds}s"
grep -Eq -- "$expect" "$log" || fail "output does not match /$expect/"
echo PASS
