#!/bin/bash
# usage: interleave.sh WORKLOAD TAG SEEDS... ; runs base and new alternately per seed
W=$1; TAG=$2; shift 2
for s in "$@"; do
  PYTHONPATH=/tmp/base python /tmp/base/benchmarks/run.py --workload $W --first-seed $s --seeds 1 --arms default --modes async --out /tmp/exp/$W-$TAG-base.jsonl > /dev/null 2>>/tmp/exp/$W-$TAG.log
  PYTHONPATH=/work/main python /work/main/benchmarks/run.py --workload $W --first-seed $s --seeds 1 --arms default --modes async --out /tmp/exp/$W-$TAG-new.jsonl > /dev/null 2>>/tmp/exp/$W-$TAG.log
done
echo done >> /tmp/exp/$W-$TAG.log
