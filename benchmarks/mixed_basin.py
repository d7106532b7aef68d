"""How often a rule finds mixed-branin's optimum basin: the calibration behind
tests/integration/test_mixed_quality.py.

    python benchmarks/mixed_basin.py [--modes async,sync] [--seeds 20] [--rule NAME]
                                     [--evaluations 60] [--delay-scale 0.5]

One JSON line per run (mode, seed, whether the best point lies in the basin, its regret, its
parameters, seconds), then a summary line with the count per mode. The basin: variant "a",
level 2 or 12, regret below the test's BASIN_REGRET. Three single-threaded local workers, as in
the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="async,sync")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0 .. N-1")
    parser.add_argument("--rule", default=None, help="default: the default rule")
    parser.add_argument("--evaluations", type=int, default=60)
    parser.add_argument("--initial", type=int, default=5)
    parser.add_argument("--delay-scale", type=float, default=0.5)
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    import dask_bo
    from dask_bo.config import DEFAULT_RULE

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from test_mixed_quality import in_basin

    rule = args.rule or DEFAULT_RULE
    found: dict[str, int] = {}
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        for mode in args.modes.split(","):
            found[mode] = 0
            for seed in range(args.seeds):
                started = time.perf_counter()
                problem = dask_bo.get_problem("mixed-branin", delay_scale=args.delay_scale)
                result = dask_bo.optimize(problem, client=client, mode=mode, rule=rule,
                                          evaluations=args.evaluations, initial=args.initial,
                                          seed=seed, progress=False)
                ok = in_basin(result, problem.minimum)
                found[mode] += ok
                print(json.dumps({"mode": mode, "rule": rule, "seed": seed, "in_basin": ok,
                                  "regret": result.best_y - problem.minimum,
                                  "best": result.best_params,
                                  "s": round(time.perf_counter() - started, 1)}), flush=True)
    print(json.dumps({"summary": True, "rule": rule, "evaluations": args.evaluations,
                      "delay_scale": args.delay_scale, "seeds": args.seeds, "in_basin": found}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
