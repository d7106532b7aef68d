"""The model's cost as the data grows: ask, tell, warm and full refit of dask_bo's Strategy.

    python benchmarks/model_cost.py [--sizes 100,500,1000,2000,5000,10000] [--models exact,sparse]
        [--pending 15] [--rule local-penalization] [--max-step-s 60] [--repeats 3] [--out FILE]
        [--no-warm-up]

On hartmann-6 (6 dimensions; uniform random points on the unit cube and their values), for
each model and size N: build a ``Strategy`` on N points (``build``: the model and its first,
full fit), then with ``--pending`` points in flight time ``ask(1)`` (the first call, which may
trace, and the median of the next ``--repeats``), ``ask_thompson(pending)``, ``tell`` of one
new point, a warm refit (``refit()`` while no full refit is due: from the current
hyperparameters) and a full refit (``model.refit(full=True)``: random restarts). A size whose
predicted step (the largest step at the last size measured, times the cube of the growth for
the exact model from 1,000 points on, linearly otherwise; the first ask, which may trace, is left out)
exceeds ``--max-step-s`` is skipped, and its line says so. Each model is first built and asked
once on 20 points, untimed (TensorFlow's first traces). One JSON line per (model, size) on stdout (and appended to ``--out``); a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIZES = (100, 500, 1000, 2000, 5000, 10000)
GROWTH = {"exact": 3.0, "sparse": 1.0}
"""How a step's cost grows with N: the exact GP's Cholesky is cubic, SGPR's is linear in N."""
CUBIC_FROM = 1000
"""Sizes from which the exact model's growth is taken as cubic (linear below)."""


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return round(time.perf_counter() - start, 4)


def measure(model: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The seconds of each step of a Strategy on ``n`` points of hartmann-6."""
    import numpy as np

    from dask_bo.problems import get_problem
    from dask_bo.strategies import Strategy

    problem = get_problem("hartmann-6")
    rng = np.random.default_rng(n)
    x = rng.random((n, problem.dim))
    pending = rng.random((args.pending, problem.dim))
    holder: dict[str, Any] = {}
    seconds = {"build": timed(lambda: holder.update(s=Strategy(
        problem.dim, x, problem.objective(x), rule=args.rule, model=model, seed=0)))}
    strategy = holder["s"]
    seconds["ask_first"] = timed(lambda: strategy.ask(1, pending))
    seconds["ask"] = statistics.median(timed(lambda: strategy.ask(1, pending)) for _ in range(args.repeats))
    seconds["ask_thompson"] = timed(lambda: strategy.ask_thompson(args.pending, pending))
    tells = []
    for _ in range(args.repeats):
        new = rng.random((1, problem.dim))
        tells.append(timed(lambda new=new: strategy.tell(new, problem.objective(new))))
    seconds["tell"] = statistics.median(tells)
    seconds["warm_refit"] = timed(strategy.refit) if not strategy.full_refit_due() else None
    gp = getattr(strategy, "model", None)
    seconds["full_refit"] = timed(lambda: gp.refit(True)) if hasattr(gp, "refit") else None
    return {"model": model, "points": n, "pending": args.pending, "rule": args.rule,
            "sparse": bool(getattr(gp, "sparse", model == "sparse")), "seconds": seconds}


def warm_up(model: str, args: argparse.Namespace) -> None:
    """One untimed build, ask and refit on a few points: TensorFlow's first traces in this
    process are not the cost of the first size."""
    import numpy as np

    from dask_bo.problems import get_problem
    from dask_bo.strategies import Strategy

    problem = get_problem("hartmann-6")
    x = np.random.default_rng(1).random((20, problem.dim))
    strategy = Strategy(problem.dim, x, problem.objective(x), rule=args.rule, model=model, seed=0)
    strategy.ask(1, np.random.default_rng(2).random((args.pending, problem.dim)))
    strategy.refit()


def predicted_step_s(last: dict[str, Any] | None, model: str, n: int) -> float | None:
    if last is None or "seconds" not in last:
        return None
    # ask_first may trace: a one-off, not a cost that grows with the data
    worst = max(v for k, v in last["seconds"].items() if v is not None and k != "ask_first")
    # below CUBIC_FROM points fixed costs dominate, and a cube would overstate the growth
    growth = GROWTH[model] if last["points"] >= CUBIC_FROM else 1.0
    return worst * (n / last["points"]) ** growth


def print_table(lines: list[dict[str, Any]], out=sys.stderr) -> None:
    steps = ("build", "ask_first", "ask", "ask_thompson", "tell", "warm_refit", "full_refit")
    print(f"\n{'model':<8}{'points':>8}" + "".join(f"{s:>14}" for s in steps), file=out)
    for line in lines:
        head = f"{line['model']:<8}{line['points']:>8}"
        if "seconds" in line:
            print(head + "".join(f"{_fmt(line['seconds'].get(s)):>14}" for s in steps), file=out)
        else:
            print(head + f"  skipped: {line['skipped']}", file=out)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--models", default="exact,sparse")
    parser.add_argument("--pending", type=int, default=15)
    parser.add_argument("--rule", default="local-penalization")
    parser.add_argument("--max-step-s", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip the untimed first build (smoke tests only)")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted(int(s) for s in args.sizes.split(","))
    except ValueError:
        parser.error(f"--sizes expects comma-separated integers, got {args.sizes!r}")
    if not args.sizes or min(args.sizes) < 2:
        parser.error(f"--sizes expects sizes >= 2, got {args.sizes}")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not args.models or set(args.models) - set(GROWTH):
        parser.error(f"--models expects a comma-separated list of exact, sparse, got {args.models}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = open(args.out, "a") if args.out else None
    lines: list[dict[str, Any]] = []
    try:
        for model in args.models:
            if args.warm_up:
                warm_up(model, args)
            last = None
            for n in args.sizes:
                predicted = predicted_step_s(last, model, n)
                if predicted is not None and predicted > args.max_step_s:
                    line = {"model": model, "points": n, "pending": args.pending, "rule": args.rule,
                            "skipped": f"predicted {predicted:.0f} s for its slowest step (from"
                                       f" {last['points']} points) > --max-step-s {args.max_step_s:g}"}
                else:
                    line = last = measure(model, n, args)
                lines.append(line)
                print(json.dumps(line), flush=True)
                if out:
                    out.write(json.dumps(line) + "\n")
                    out.flush()
    finally:
        if out:
            out.close()
    print_table(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
