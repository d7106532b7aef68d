"""Benchmark harness: dask_bo's drivers against the reference notebook's loop, on one cluster.

    python benchmarks/run.py --workload reference [--seeds N] [--first-seed K] [--arms default,naive]
        [--out FILE] [--evaluations N] [--delay-scale S] [--no-warm-up]

For each seed the initial design is evaluated once and shared by every run of that seed:
arm ``default`` runs dask_bo's ``sync`` and ``async`` drivers (``dask_bo.optimize`` with
``initial_data=``), arm ``naive`` the notebook's one-at-a-time loop (``naive.py``). Each run
writes one JSON line (``Result.metrics()`` plus the fields below) to stdout, and appends it to
``--out`` if given; a last line with ``"summary": true`` holds medians per (arm, mode) and the
targets of benchmarks/README.md. A readable table goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

# TensorFlow and trieste are imported where they are used: every worker process of the
# cluster imports this file (as __mp_main__) when it starts, and needs neither.
import dask_bo  # noqa: E402
from dask_bo.evaluation import evaluate  # noqa: E402
from dask_bo.history import INITIAL, Evaluation, Result  # noqa: E402
from dask_bo.problems import Problem, get_problem  # noqa: E402

logger = logging.getLogger("dask_bo.benchmarks")

REGRET_LEVELS = (1e-1, 1e-2, 1e-3)
REGRET_FLOOR = 1e-6
"""Trieste states minima to about 7 significant digits: regrets below this are noise."""
LAST_N = 100


@dataclass(frozen=True)
class Workload:
    problem: str
    workers: int
    initial: int
    evaluations: int
    delay_scale: float


WORKLOADS = {
    "reference": Workload("scaled-branin", workers=3, initial=3, evaluations=30, delay_scale=3.0),
    "wide": Workload("hartmann-6", workers=16, initial=12, evaluations=200, delay_scale=1.0),
    "long": Workload("scaled-branin", workers=4, initial=4, evaluations=500, delay_scale=0.2),
}
ARMS = ("default", "naive")


class PeakRSS:
    """The peak resident memory of a process (this one by default) while the block runs,
    sampled every 0.1 s; a process that exits stops the sampling."""

    def __init__(self, process: psutil.Process | None = None, interval_s: float = 0.1):
        self._process = process or psutil.Process()
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.peak_bytes = 0
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def _sample(self) -> None:
        try:
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
        except psutil.NoSuchProcess:
            self._stop.set()

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def __enter__(self) -> PeakRSS:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def load_worker_code() -> None:
    """Run on every worker before the first run, so that none pays for its imports in a run."""
    import dask_bo.evaluation  # noqa: F401


def seed_everything(seed: int) -> None:
    import tensorflow as tf

    np.random.seed(seed)
    tf.random.set_seed(seed)


def initial_design(client, problem: Problem, n: int, seed: int) -> list[Evaluation]:
    """The points dask_bo's own initial design draws for ``seed``, evaluated once.

    They are evaluated without the delay: the initial design is outside every run's clock.
    """
    rng = np.random.default_rng(seed)
    lower, upper = np.array(problem.lower), np.array(problem.upper)
    points = lower + rng.random((n, problem.dim)) * (upper - lower)
    fast = problem.with_delay(0.0)
    futures = [
        client.submit(evaluate, fast, x, i, time.time(), INITIAL, key=f"initial-{seed}-{i}", pure=False)
        for i, x in enumerate(points)
    ]
    records = client.gather(futures)
    for future in futures:
        future.release()
    failed = [r for r in records if not r.ok]
    if failed:
        raise RuntimeError(f"initial design failed at {len(failed)} points: {failed[0].error}")
    return records


def run_naive_apart(
    client, problem: Problem, initial_data: list[Evaluation], evaluations: int, seed: int,
    warm_up: bool,
) -> tuple[Result, float]:
    """The naive arm in a fresh process on the same cluster (see naive.py): its result and
    that process's peak resident memory in MB."""
    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp, "job.pkl"), Path(tmp, "result.pkl")
        job.write_bytes(pickle.dumps({
            "address": client.scheduler.address, "problem": problem, "initial_data": initial_data,
            "evaluations": evaluations, "seed": seed, "warm_up": warm_up,
        }))
        child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("naive.py")), str(job), str(out)])
        with PeakRSS(psutil.Process(child.pid)) as rss:
            code = child.wait()
        if code != 0:
            raise RuntimeError(f"the naive arm's process exited with code {code} (its error is above)")
        return pickle.loads(out.read_bytes()), rss.peak_mb


def regret_curve(result: Result) -> list[list[float]]:
    """``[[t_s, regret], ...]``: each improvement of the best regret, ``t_s`` from the driver's
    start (points of the initial design count at 0)."""
    if result.minimum is None:
        return []
    ok = sorted((e for e in result.history if e.ok), key=lambda e: (e.finished_at or 0.0))
    curve, best = [], math.inf
    for e in ok:
        regret = e.y - result.minimum
        if regret < best:
            best = regret
            t_s = 0.0 if e.proposal == INITIAL else max(0.0, e.finished_at - result.started_at)
            if curve and curve[-1][0] == t_s:
                curve[-1][1] = regret
            else:
                curve.append([t_s, regret])
    return curve


def time_to_regret(curve: list[list[float]]) -> dict[str, float | None]:
    """The first time from the driver's start at which the best regret is <= each level."""
    return {
        f"{level:.0e}".replace("e-0", "e-"): next((t for t, r in curve if r <= level), None)
        for level in REGRET_LEVELS
    }


def idle_worker_s(result: Result) -> dict[str, float]:
    """Where the workers' idle time went (worker-seconds, on the run's clock): ``start``,
    before each worker thread's first evaluation; ``between``, between its evaluations while
    the budget lasted (the driver's share); ``tail``, after the run's last submission (once the
    budget is spent the workers finish one by one, and no driver can fill that)."""
    driven = [e for e in result.history if e.proposal != INITIAL and e.started_at and e.finished_at]
    start, end = result.started_at, result.started_at + result.metrics()["wall_s"]
    budget_spent = max((e.submitted_at for e in driven if e.submitted_at), default=end)
    by_worker: dict[str, list[Evaluation]] = {}
    for e in driven:
        by_worker.setdefault(e.worker or "?", []).append(e)
    idle = {"start": 0.0, "between": 0.0, "tail": 0.0}

    def add(kind: str, t0: float, t1: float) -> None:
        before = max(0.0, min(t1, budget_spent) - t0)
        idle[kind] += before
        idle["tail"] += max(0.0, t1 - max(t0, budget_spent))

    for runs in by_worker.values():
        runs.sort(key=lambda e: e.started_at)
        add("start", start, runs[0].started_at)
        for a, b in zip(runs, runs[1:]):
            add("between", a.finished_at, b.started_at)
        add("between", runs[-1].finished_at, end)
    for _ in range(max(0, result.workers - len(by_worker))):  # never used
        add("start", start, end)
    return {k: round(v, 2) for k, v in idle.items()}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def record_line(workload: str, arm: str, seed: int, result: Result, peak_mb: float, settings: Workload) -> dict[str, Any]:
    curve = regret_curve(result)
    return {
        "workload": workload,
        "arm": arm,
        **result.metrics(),
        "seed": seed,
        "initial": settings.initial,
        "delay_scale": settings.delay_scale,
        "driver_peak_rss_mb": round(peak_mb, 1),
        "dispatch_latency_last100_s": _median(result.dispatch_latencies_s[-LAST_N:]),
        "idle_worker_s": idle_worker_s(result),
        "proposals": dict(Counter(e.proposal for e in result.history if e.proposal != INITIAL)),
        "time_to_regret": time_to_regret(curve),
        "regret_curve": curve,
    }


def summarize(workload: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per (arm, mode), and the README's targets checked on them."""
    fields = ("wall_s", "utilization", "dispatch_latency_s", "dispatch_latency_last100_s",
              "best_regret", "driver_peak_rss_mb")
    groups: dict[str, dict[str, Any]] = {}
    for arm_mode in sorted({(l["arm"], l["mode"]) for l in lines}):
        runs = [l for l in lines if (l["arm"], l["mode"]) == arm_mode]
        groups["/".join(arm_mode)] = {"runs": len(runs)} | {
            f: _median([l[f] for l in runs if l[f] is not None]) for f in fields
        }
    return {
        "summary": True, "workload": workload, "cpus": os.cpu_count(),
        "medians": groups, "targets": check_targets(workload, groups),
    }


def check_targets(workload: str, medians: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets of benchmarks/README.md that these runs can decide."""
    a, s, n = (medians.get(k, {}) for k in ("default/async", "default/sync", "naive/async"))
    checks: list[tuple[str, Any, str, float]] = []  # name, value, comparison, threshold
    if workload == "reference":
        checks += [("async utilization", a.get("utilization"), ">=", 0.95)]
        if n.get("wall_s"):
            checks += [("async wall / naive wall", _ratio(a.get("wall_s"), n["wall_s"]), "<=", 0.5)]
        if s.get("wall_s"):
            checks += [("async wall / sync wall", _ratio(a.get("wall_s"), s["wall_s"]), "<=", 1.0)]
    elif workload == "wide":
        checks += [
            ("async utilization", a.get("utilization"), ">=", 0.90),
            ("async dispatch_latency_s", a.get("dispatch_latency_s"), "<=", 0.1),
            ("async driver_peak_rss_mb", a.get("driver_peak_rss_mb"), "<=", 2048.0),
        ]
    elif workload == "long":
        checks += [("async dispatch_latency_last100_s", a.get("dispatch_latency_last100_s"), "<=", 0.5)]
    if n.get("best_regret") is not None:
        for mode, m in (("async", a), ("sync", s)):
            if m.get("best_regret") is not None:
                decades = math.log10(max(m["best_regret"], REGRET_FLOOR)) - math.log10(
                    max(n["best_regret"], REGRET_FLOOR)
                )
                checks += [(f"{mode} regret, decades worse than naive", decades, "<=", 0.5)]
    return [
        {"target": name, "value": value, "threshold": f"{op} {threshold:g}",
         "ok": None if value is None else (value >= threshold if op == ">=" else value <= threshold)}
        for name, value, op, threshold in checks
    ]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def print_table(summary: dict[str, Any], out=sys.stderr) -> None:
    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)

    columns = ("runs", "wall_s", "utilization", "dispatch_latency_s", "dispatch_latency_last100_s",
               "best_regret", "driver_peak_rss_mb")
    print(f"\n{summary['workload']}: medians per (arm, mode)", file=out)
    print(f"{'arm/mode':<15}" + "".join(f"{c:>28}" for c in columns), file=out)
    for name, m in summary["medians"].items():
        print(f"{name:<15}" + "".join(f"{fmt(m[c]):>28}" for c in columns), file=out)
    for t in summary["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[t["ok"]]
        print(f"  {verdict:4}  {t['target']}: {fmt(t['value'])} (target {t['threshold']})", file=out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds to run (default 5)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="runs seeds K..K+N-1 (default 0), to add seeds to an earlier run")
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated, of: default, naive")
    parser.add_argument("--out", type=Path, help="also append the JSON lines to this file")
    parser.add_argument("--evaluations", type=int, help="override the workload's budget")
    parser.add_argument("--delay-scale", type=float, help="override the workload's delay scale")
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="FILE",
                        help="run nothing: the summary of the workload's lines in these files"
                             " (the last line of each arm, mode and seed counts)")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip the untimed model warm-up (smoke tests only)")
    args = parser.parse_args(argv)
    args.arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in args.arms if a not in ARMS]
    if unknown or not args.arms:
        parser.error(f"--arms expects a comma-separated list of {', '.join(ARMS)}, got {unknown or args.arms}")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be >= 0, got {args.first_seed}")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.evaluations is not None and args.evaluations < 1:
        parser.error(f"--evaluations must be at least 1, got {args.evaluations}")
    if args.delay_scale is not None and not args.delay_scale >= 0:
        parser.error(f"--delay-scale must be >= 0, got {args.delay_scale}")
    return args


def summarize_files(workload: str, paths: list[Path]) -> dict[str, Any]:
    """The summary of the run lines of ``workload`` in earlier ``--out`` files: seeds added by
    a later invocation count with the earlier ones, and a rerun replaces its earlier line."""
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"--summarize: no such file {str(path)!r}; give files written by --out")
        for text in path.read_text().splitlines():
            line = json.loads(text) if text.strip() else {}
            if line.get("workload") == workload and not line.get("summary"):
                runs[(line["arm"], line["mode"], line["seed"])] = line
    if not runs:
        raise SystemExit(f"--summarize: no runs of workload {workload!r} in {', '.join(map(str, paths))}")
    return summarize(workload, list(runs.values()))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarize:
        summary = summarize_files(args.workload, args.summarize)
        print(json.dumps(summary))
        print_table(summary)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    w = WORKLOADS[args.workload]
    w = Workload(
        w.problem, w.workers, w.initial,
        args.evaluations if args.evaluations is not None else w.evaluations,
        args.delay_scale if args.delay_scale is not None else w.delay_scale,
    )
    problem = get_problem(w.problem, delay_scale=w.delay_scale)
    from naive import warm_up  # TensorFlow and trieste: start-up, not a run

    out = open(args.out, "a") if args.out else None
    lines: list[dict[str, Any]] = []

    def emit(line: dict[str, Any]) -> None:
        text = json.dumps(line)
        print(text, flush=True)
        if out:
            out.write(text + "\n")
            out.flush()

    client = dask_bo.connect(n_workers=w.workers)
    # Once distributed has set up its logging: not every client's comings and goings.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    try:
        client.wait_for_workers(w.workers)
        client.run(load_worker_code)
        logger.info("workload %s: %s on %d workers (%s)", args.workload, w, w.workers, client.dashboard_link)
        warmed = not args.warm_up
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            initial = initial_design(client, problem, w.initial, seed)
            if not warmed and "default" in args.arms:  # the naive arm warms up in its process
                logger.info("warm-up took %.1f s", warm_up(problem, initial))
                warmed = True
            runs = [("default", m) for m in ("sync", "async") if "default" in args.arms]
            runs += [("naive", "async")] if "naive" in args.arms else []
            k = seed % len(runs)  # each seed starts with another run: no arm always goes first
            for arm, mode in runs[k:] + runs[:k]:
                if arm == "naive":  # seeds its own process
                    result, peak_mb = run_naive_apart(client, problem, initial, w.evaluations, seed, args.warm_up)
                else:
                    seed_everything(seed)
                    with PeakRSS() as rss:
                        result = dask_bo.optimize(
                            problem, client=client, mode=mode, evaluations=w.evaluations,
                            seed=seed, progress=False, initial_data=initial,
                        )
                    peak_mb = rss.peak_mb
                line = record_line(args.workload, arm, seed, result, peak_mb, w)
                lines.append(line)
                emit(line)
                logger.info(
                    "seed %d %s/%s: wall %.1f s, utilization %.3f, dispatch %.3f s, regret %.3g",
                    seed, arm, mode, line["wall_s"], line["utilization"] or 0,
                    line["dispatch_latency_s"] or 0, line["best_regret"],
                )
        summary = summarize(args.workload, lines)
        emit(summary)
        print_table(summary)
    finally:
        client.close()
        if out:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
