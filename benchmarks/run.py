"""Benchmark harness: dask_bo's rules and modes (and the reference notebook's loop) on one cluster.

    python benchmarks/run.py --workload NAME[,NAME..] [--seeds N] [--first-seed K] [--arms default,naive]
        [--rule NAME[,NAME..]|all] [--modes async,sync] [--out FILE] [--evaluations N]
        [--delay-scale S] [--workers N] [--initial N] [--no-warm-up] [--plan]
    python benchmarks/run.py --workload NAME --summarize FILE [FILE ...]

For each seed the initial design is evaluated once and shared by every run of that seed:
arm ``default`` runs ``dask_bo.optimize`` (``initial_data=``) for each rule and mode, arm
``naive`` the notebook's one-at-a-time loop (``naive.py``). Each run writes one JSON line
(``Result.metrics()`` plus the harness's measures, see benchmarks/README.md) to stdout, and
appends it to ``--out`` if given; a last line per workload with ``"summary": true`` holds
medians per group and the README's targets. A readable table goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

# TensorFlow and trieste are imported where they are used: every worker process of the
# cluster imports this file (as __mp_main__) when it starts, and needs neither.
import dask_bo  # noqa: E402
from metrics import markdown_table, print_table, read_lines, record_line, summarize, summarize_files  # noqa: E402
from workloads import (  # noqa: E402, F401  (initial_design: prof_wide.py uses it from here)
    DEFAULT_RULE, SUITES, WORKLOADS, Workload, initial_design, make_problem,
)

logger = logging.getLogger("dask_bo.benchmarks")

ARMS = ("default", "naive")
MODES = ("async", "sync")


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


class ThreadSampler:
    """The worker threads an (adaptive) cluster has, sampled every 0.25 s from the cluster's
    own copy of the scheduler's state (no round trip): their maximum, and their integral over
    a time span (for an honest utilization that does not trust the run's own accounting)."""

    def __init__(self, cluster, interval_s: float = 0.25):
        self._cluster, self._interval_s = cluster, interval_s
        self._stop = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def threads(self) -> int:
        workers = self._cluster.scheduler_info.get("workers", {})
        return sum(w.get("nthreads", 0) for w in dict(workers).values())

    def _loop(self) -> None:
        while True:
            self.samples.append((time.time(), self.threads()))
            if self._stop.wait(self._interval_s):
                return

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def thread_seconds(self, t0: float, t1: float) -> float:
        total = 0.0
        for (a, n), (b, _) in zip(self.samples, self.samples[1:] + [(t1, 0)]):
            total += n * max(0.0, min(b, t1) - max(a, t0))
        return total


def load_worker_code() -> None:
    """Run on every worker before the first run, so that none pays for its imports in a run."""
    import dask_bo.worker  # noqa: F401


def import_model_stack() -> None:
    """TensorFlow, trieste and dask_bo's model code, imported once before any run: start-up,
    not a run (and a run's own import thread then finds them imported)."""
    from dask_bo.model import configure

    configure()
    import dask_bo.model.gp  # noqa: F401
    import dask_bo.strategies  # noqa: F401


def seed_everything(seed: int) -> None:
    import tensorflow as tf

    np.random.seed(seed)
    tf.random.set_seed(seed)


def all_rules() -> list[str]:
    """The rules registered in ``dask_bo.strategies.RULES`` (read only when asked for)."""
    from dask_bo.strategies import RULES

    return list(RULES)


def warm_up(problem, initial: list, rules: list[str], model: str) -> float:
    """One untimed build and ask per rule (TensorFlow's first traces are not a run's)."""
    from dask_bo.comparison import warm_up as product_warm_up

    start = time.perf_counter()
    for rule in rules:
        product_warm_up(problem, initial, {"rule": rule, "model": model})
    return time.perf_counter() - start


def run_naive_apart(client, problem, initial_data: list, evaluations: int, seed: int, warm: bool):
    """The naive arm in a fresh process on the same cluster (see naive.py): its result and
    that process's peak resident memory in MB."""
    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp, "job.pkl"), Path(tmp, "result.pkl")
        job.write_bytes(pickle.dumps({
            "address": client.scheduler.address, "problem": problem, "initial_data": initial_data,
            "evaluations": evaluations, "seed": seed, "warm_up": warm,
        }))
        child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("naive.py")), str(job), str(out)])
        with PeakRSS(psutil.Process(child.pid)) as rss:
            code = child.wait()
        if code != 0:
            raise RuntimeError(f"the naive arm's process exited with code {code} (its error is above)")
        return pickle.loads(out.read_bytes()), rss.peak_mb


def start_cluster(w: Workload):
    """``(client, cluster)``: dask_bo's local cluster, or one under ``adapt(1, workers)``."""
    if not w.adaptive:
        client = dask_bo.connect(n_workers=w.workers, threads_per_worker=w.threads_per_worker)
        client.wait_for_workers(w.workers)
        return client, client.cluster
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=w.threads_per_worker, processes=True,
                           host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    cluster.adapt(minimum=1, maximum=w.workers)
    client = Client(cluster)
    client.wait_for_workers(1)
    return client, cluster


def wait_for_shrink(sampler: ThreadSampler, threads: int, timeout_s: float = 90.0) -> int:
    """Wait until an adaptive cluster is back to ``threads`` (each run starts small)."""
    deadline = time.monotonic() + timeout_s
    while sampler.threads() > threads and time.monotonic() < deadline:
        time.sleep(0.5)
    return sampler.threads()


def plan(w: Workload, args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """The (arm, mode, rule) runs of one seed."""
    arms = args.arms or list(w.arms)
    rules = args.rules or list(w.rules or [DEFAULT_RULE])
    runs = [("default", mode, rule) for rule in rules for mode in args.modes if "default" in arms]
    return runs + ([("naive", "async", DEFAULT_RULE)] if "naive" in arms else [])


def run_workload(name: str, w: Workload, args: argparse.Namespace, emit: Callable[[dict], None]) -> list[dict]:
    problem = make_problem(w)
    runs = plan(w, args)
    if any(arm == "naive" for arm, _, _ in runs) and not problem.space.is_box:
        raise SystemExit(f"the naive arm needs a box problem, got {w.problem!r}: use --arms default")
    client, cluster = start_cluster(w)
    logging.getLogger("distributed").setLevel(logging.WARNING)  # not every client's comings and goings
    lines: list[dict] = []
    try:
        client.run(load_worker_code)
        logger.info("workload %s: %s (%s)", name, w, client.dashboard_link)
        if any(arm == "default" for arm, _, _ in runs):
            import_model_stack()
        warmed = not args.warm_up
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            initial = initial_design(client, problem, w.initial, seed)
            rules = sorted({rule for arm, _, rule in runs if arm == "default"})
            if not warmed and rules:  # the naive arm warms up in its own process
                logger.info("warm-up took %.1f s", warm_up(problem, initial, rules, w.model))
                warmed = True
            k = seed % len(runs)  # each seed starts with another run: none always goes first
            for arm, mode, rule in runs[k:] + runs[:k]:
                line = run_one(name, w, problem, client, cluster, initial, arm, mode, rule, seed, args)
                lines.append(line)
                emit(line)
                logger.info(
                    "seed %d %s/%s/%s: wall %.1f s, utilization %.3f, dispatch %.3f s, regret %.3g",
                    seed, arm, mode, rule, line["wall_s"], line["utilization"] or 0,
                    line["dispatch_latency_s"] or 0, line["best_regret"] if line["best_regret"] is not None else float("nan"),
                )
        summary = summarize(name, lines)
        emit(summary)
        print_table(summary)
    finally:
        client.close()
        if cluster is not None and w.adaptive:
            cluster.close()
    return lines


def run_one(name, w, problem, client, cluster, initial, arm, mode, rule, seed, args) -> dict:
    if arm == "naive":  # seeds its own process
        result, peak_mb = run_naive_apart(client, problem, initial, w.evaluations, seed, args.warm_up)
        return record_line(name, arm, seed, result, peak_mb, w, rule)
    options = {"rule": rule, "model": w.model}
    extra: dict[str, Any] = {}
    sampler = ThreadSampler(cluster) if w.adaptive else None
    if sampler is not None:
        extra["workers_at_start"] = wait_for_shrink(sampler, w.threads_per_worker)
    seed_everything(seed)
    with PeakRSS() as rss:
        if sampler is None:
            result = dask_bo.optimize(problem, client=client, mode=mode, evaluations=w.evaluations, seed=seed,
                                      progress=False, initial_data=initial, **options)
        else:
            with sampler:
                result = dask_bo.optimize(problem, client=client, mode=mode, evaluations=w.evaluations,
                                          seed=seed, progress=False, initial_data=initial, **options)
    if sampler is not None:
        wall_s = result.metrics()["wall_s"]
        seconds = sampler.thread_seconds(result.started_at, result.started_at + wall_s)
        eval_s = result.metrics()["eval_s_sum"]
        extra |= {"max_workers": max(n for _, n in sampler.samples) // w.threads_per_worker,
                  "utilization_sampled": round(eval_s / seconds, 4) if seconds else None,
                  "max_threads_recorded": max((n for _, n in getattr(result, "threads", [])), default=None)}
    return record_line(name, arm, seed, result, rss.peak_mb, w, rule, **extra)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", required=True,
                        help=f"comma-separated, of: {', '.join([*WORKLOADS, *SUITES])} (one process runs them in turn)")
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds to run (default 5)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="runs seeds K..K+N-1 (default 0), to add seeds to an earlier run")
    parser.add_argument("--arms", help="comma-separated, of: default, naive (default: the workload's)")
    parser.add_argument("--rule", help="comma-separated rule names, or 'all' (default: the workload's;"
                                       " 'rules': all)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: async, sync")
    parser.add_argument("--out", type=Path, help="also append the JSON lines to this file")
    parser.add_argument("--evaluations", type=int, help="override the workload's budget")
    parser.add_argument("--delay-scale", type=float, help="override the workload's delay scale")
    parser.add_argument("--workers", type=int, help="override the workload's worker processes")
    parser.add_argument("--initial", type=int, help="override the workload's initial design size")
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="FILE",
                        help="run nothing: the summary of the workload's lines in these files"
                             " (the last line of each run counts)")
    parser.add_argument("--markdown", action="store_true",
                        help="with --summarize: also the README's table (stderr)")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip the untimed model warm-up (smoke tests only)")
    parser.add_argument("--plan", action="store_true",
                        help="run nothing: print each workload's settings and runs as JSON lines")
    args = parser.parse_args(argv)
    args.arms = _names(parser, "--arms", args.arms, ARMS)
    args.modes = _names(parser, "--modes", args.modes, MODES)
    args.workloads = _names(parser, "--workload", args.workload, [*WORKLOADS, *SUITES])
    if any(name in SUITES for name in args.workloads):  # a suite compares the rules: every one, no naive arm
        args.rule = args.rule or "all"
        args.arms = args.arms or ["default"]
    args.rules = None
    if args.rule is not None:  # a comparison of rules: the naive arm only when asked for
        args.arms = args.arms or ["default"]
        known = all_rules()
        args.rules = known if args.rule.strip() == "all" else _names(parser, "--rule", args.rule, known)
    for flag, value, least in (("--seeds", args.seeds, 1), ("--first-seed", args.first_seed, 0),
                               ("--evaluations", args.evaluations, 1), ("--workers", args.workers, 1),
                               ("--initial", args.initial, 1)):
        if value is not None and value < least:
            parser.error(f"{flag} must be at least {least}, got {value}")
    if args.delay_scale is not None and not args.delay_scale >= 0:
        parser.error(f"--delay-scale must be >= 0, got {args.delay_scale}")
    return args


def _names(parser, flag: str, text: str | None, allowed) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        parser.error(f"{flag} expects a comma-separated list of {', '.join(allowed)}, got {text!r}")
    return names


def workloads_of(args: argparse.Namespace) -> list[tuple[str, Workload]]:
    names = [n for workload in args.workloads for n in SUITES.get(workload, (workload,))]
    return [(n, WORKLOADS[n].overridden(evaluations=args.evaluations, delay_scale=args.delay_scale,
                                        workers=args.workers, initial=args.initial)) for n in names]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.summarize:
        for name, _ in workloads_of(args):
            summary = summarize_files(name, args.summarize)
            print(json.dumps(summary))
            print_table(summary)
            if args.markdown:
                lines = [l for l in read_lines(args.summarize) if l["workload"] == name]
                print(markdown_table(summary, lines), file=sys.stderr)
        return 0
    if args.plan:
        for name, w in workloads_of(args):
            runs = plan(w, args)
            print(json.dumps({"workload": name, "settings": dataclasses.asdict(w), "runs": runs,
                              "seeds": list(range(args.first_seed, args.first_seed + args.seeds))}))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    out = open(args.out, "a") if args.out else None

    def emit(line: dict[str, Any]) -> None:
        text = json.dumps(line)
        print(text, flush=True)
        if out:
            out.write(text + "\n")
            out.flush()

    try:
        for name, w in workloads_of(args):
            run_workload(name, w, args, emit)
    finally:
        if out:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
