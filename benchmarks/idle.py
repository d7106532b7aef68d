"""Where a run's worker time went: idle at the start, between evaluations and in the tail,
and the utilization that the same evaluations would reach on a driver that costs nothing."""

from __future__ import annotations

import heapq

from workloads import INITIAL

UNDRIVEN = (INITIAL, "warm")
"""Proposals that are data, not the driver's choices."""


def _driven(result) -> list:
    return [e for e in result.history if e.proposal not in UNDRIVEN and e.started_at and e.finished_at]


def _lanes(runs: list, threads: int) -> list[list]:
    """Split one worker process's evaluations into its threads' timelines: each evaluation, in
    order of starting, goes to the thread that freed up last before it started (or, where the
    clocks overlap, to the one that freed up first). Records name the process, not the thread."""
    lanes: list[list] = [[] for _ in range(max(1, threads))]
    for e in sorted(runs, key=lambda e: e.started_at):
        free = [lane for lane in lanes if not lane or lane[-1].finished_at <= e.started_at]
        if free:
            lane = max(free, key=lambda lane: lane[-1].finished_at if lane else -float("inf"))
        else:
            lane = min(lanes, key=lambda lane: lane[-1].finished_at)
        lane.append(e)
    return lanes


def idle_worker_s(result, wall_s: float, threads_per_worker: int = 1) -> dict[str, float]:
    """Where the worker threads' idle time went (thread-seconds, on the run's clock): ``start``,
    before each thread's first evaluation; ``between``, between its evaluations while the
    budget lasted (the driver's share); ``tail``, after the run's last submission (once the
    budget is spent the threads finish one by one, and no driver can fill that). Only worker
    processes that ran an evaluation are counted."""
    driven = _driven(result)
    start, end = result.started_at, result.started_at + wall_s
    budget_spent = max((e.submitted_at for e in driven if e.submitted_at), default=end)
    by_worker: dict[str, list] = {}
    for e in driven:
        by_worker.setdefault(e.worker or "?", []).append(e)
    idle = {"start": 0.0, "between": 0.0, "tail": 0.0}

    def add(kind: str, t0: float, t1: float) -> None:
        idle[kind] += max(0.0, min(t1, budget_spent) - t0)
        idle["tail"] += max(0.0, t1 - max(t0, budget_spent))

    for runs in by_worker.values():
        for lane in _lanes(runs, threads_per_worker):
            if not lane:
                add("start", start, end)
                continue
            add("start", start, lane[0].started_at)
            for a, b in zip(lane, lane[1:]):
                add("between", a.finished_at, b.started_at)
            add("between", lane[-1].finished_at, end)
    return {k: round(v, 2) for k, v in idle.items()}


def ideal_utilization(result, workers: int) -> float | None:
    """The utilization of the run's driven evaluations, sent in the same order, by a driver
    that costs nothing: each starts the moment a thread is free (list scheduling from the
    run's start on ``workers`` threads, all free). What it leaves below 1 is the tail: once
    the budget is spent the threads finish one by one. It is what these points allow, not what
    every driver could reach (other points take other times), and only on a fixed cluster."""
    durations = [e.finished_at - e.started_at for e in sorted(_driven(result), key=lambda e: e.submitted_at or 0.0)]
    if not durations or workers < 1:
        return None
    free = [0.0] * workers
    for duration in durations:
        heapq.heappush(free, heapq.heappop(free) + duration)
    return round(sum(durations) / (workers * max(free)), 4)
