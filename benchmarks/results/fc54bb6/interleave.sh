#!/bin/bash
# Runs two checkouts of dask_bo on one workload, seed by seed in turn, so that a drift in the
# machine's speed falls on both alike.
# usage: interleave.sh BEFORE_DIR AFTER_DIR WORKLOAD OUT_PREFIX SEED [SEED ...]
# Appends run lines to OUT_PREFIX-before.jsonl and OUT_PREFIX-after.jsonl, logs to OUT_PREFIX.log.
set -euo pipefail
before=$(cd "$1" && pwd); after=$(cd "$2" && pwd); workload=$3; out=$4; shift 4
for seed in "$@"; do
  for side in before after; do
    dir=${!side}
    PYTHONPATH="$dir" python "$dir/benchmarks/run.py" --workload "$workload" --first-seed "$seed" \
      --seeds 1 --arms default --modes async --out "$out-$side.jsonl" > /dev/null 2>> "$out.log"
  done
done
