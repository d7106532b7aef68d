"""One async run (seed 0) of a workload (default `wide`) after the benchmark's warm-up, for a
profiler to sample:

    py-spy record -r 100 --threads -f raw -o after.raw -- python benchmarks/prof_wide.py [WORKLOAD [EVALUATIONS]]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import run as bench
    from naive import warm_up

    import dask_bo

    w = bench.WORKLOADS[sys.argv[1] if len(sys.argv) > 1 else "wide"]
    evaluations = int(sys.argv[2]) if len(sys.argv) > 2 else w.evaluations
    problem = dask_bo.get_problem(w.problem, delay_scale=w.delay_scale)
    client = dask_bo.connect(n_workers=w.workers, show_link=False)
    try:
        client.wait_for_workers(w.workers)
        client.run(bench.load_worker_code)
        initial = bench.initial_design(client, problem, w.initial, 0)
        warm_up(problem, initial)
        bench.seed_everything(0)
        result = dask_bo.optimize(
            problem, client=client, mode="async", evaluations=evaluations, seed=0, model=w.model,
            progress=False, initial_data=initial,
        )
        metrics = result.metrics()
        print(json.dumps({k: metrics[k] for k in ("wall_s", "utilization", "dispatch_latency_s", "best_regret")}))
    finally:
        client.close()


if __name__ == "__main__":  # workers import this file when they start
    main()
