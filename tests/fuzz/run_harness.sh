#!/usr/bin/env bash
# Runs one libFuzzer harness for a while:
#   run_harness.sh HARNESS SECONDS SEEDS SCRATCH FINDINGS [DICTIONARY]
# New inputs go to SCRATCH (the seed corpus in the tree stays as committed); a crash, leak,
# sanitizer report, uncaught exception, >2 GB or an input running >10 s is written to
# FINDINGS/ and makes this exit non-zero.
set -euo pipefail
harness=$1 seconds=$2 seeds=$3 scratch=$4 findings=$5
mkdir -p "$scratch" "$findings"
dict=()  # the format's keywords, where it has some
[[ -n ${6:-} ]] && dict=(-dict="$6")
exec "$harness" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$findings/" "$scratch" "$seeds"
