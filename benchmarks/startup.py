"""The model's first steps in a fresh process: build (with its first fit), asks, tell, refits.

    python benchmarks/startup.py [--problem hartmann-6] [--initial 12] [--pending 16] [--rule NAME]

A run pays for these once (TensorFlow traces its functions on first use), while its workers
wait for the first points. Prints one JSON line of seconds per step, plus the import time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", default="hartmann-6")
    parser.add_argument("--initial", type=int, default=12, help="observations to build from")
    parser.add_argument("--pending", type=int, default=16, help="points in flight")
    parser.add_argument("--rule", default="local-penalization", help="the strategy's rule")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    import numpy as np

    from dask_bo.problems import get_problem
    from dask_bo.strategies import Strategy

    seconds: dict[str, float] = {"import": round(time.perf_counter() - started, 3)}

    def timed(step: str, call):
        t = time.perf_counter()
        out = call()
        seconds[step] = round(time.perf_counter() - t, 3)
        return out

    problem = get_problem(args.problem, delay_scale=0.0)
    rng = np.random.default_rng(0)
    x = rng.random((args.initial, problem.dim))  # named problems live on the unit cube
    pending = rng.random((args.pending, problem.dim))
    strategy = timed("build", lambda: Strategy(problem.dim, x, problem.objective(x), rule=args.rule, seed=0))
    timed("thompson_3", lambda: strategy.ask_thompson(3, pending))
    for i in range(3):
        timed(f"ask_1_#{i}", lambda: strategy.ask(1, pending))
    timed("ask_4", lambda: strategy.ask(4, pending))
    new = rng.random((4, problem.dim))
    timed("tell_4", lambda: strategy.tell(new, problem.objective(new)))
    timed("ask_1_after_tell", lambda: strategy.ask(1, pending))
    timed("first_refit", strategy.refit)
    seconds["first_fit_and_ask"] = round(seconds["build"] + seconds["ask_1_#0"], 3)
    print(json.dumps({"problem": args.problem, "rule": args.rule, "initial": args.initial, "pending": args.pending,
                      "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
