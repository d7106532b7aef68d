"""The async driver's model thread, on a real Optimizer, without a cluster."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dask_bo.drivers import _Planner
from dask_bo.history import Evaluation
from dask_bo.optimizer import Optimizer
from dask_bo.problems import get_problem


def wait_until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def as_set(points) -> set[tuple[float, ...]]:
    return {tuple(float(v) for v in p) for p in points}


@pytest.mark.parametrize("duration_s", [10.0, 0.01])
def test_ready_points_are_asked_again_once_results_arrive(duration_s):
    """With evaluations of 10 s the model has time to ask the ready points again with the
    new result; with evaluations of 10 ms it has not, and leaves them."""
    problem = get_problem("scaled-branin", delay_scale=0.0)
    x = np.random.default_rng(0).random((5, 2))
    y = problem.objective(x)
    history = [Evaluation(id=i, x=tuple(x[i]), y=float(y[i, 0]), status="ok") for i in range(5)]
    planner = _Planner(
        lambda: Optimizer(problem.lower, problem.upper, x, y), problem, history, seed=0,
        capacity=3, max_explore=0,  # no space-filling points: every point comes from the model
    )
    planner.start()
    try:
        sent = [planner.next_point() for _ in range(3)]
        wait_until(lambda: len(planner._ready) == 2)
        stale = [entry[0] for entry in planner._ready]
        assert all(entry[2] == 5 for entry in planner._ready)

        first = sent[0][0]
        now = time.time()
        planner.observe(Evaluation(
            id=5, x=tuple(first), y=float(problem.objective(first[None, :])[0, 0]), status="ok",
            proposal=sent[0][1], started_at=now - duration_s, finished_at=now,
        ))
        if duration_s < 1:
            wait_until(lambda: planner.optimizer.dataset_size == 6)
            time.sleep(2.0)
            assert as_set(entry[0] for entry in planner._ready) == as_set(stale)
            assert all(entry[2] == 5 for entry in planner._ready)
            return
        # Told, then each ready point is asked again with the sixth observation.
        wait_until(lambda: len(planner._ready) == 2 and all(e[2] == 6 for e in planner._ready))
        fresh = [entry[0] for entry in planner._ready]
        assert [entry[1] for entry in planner._ready] == ["lp", "lp"]
        assert not as_set(fresh) & as_set(stale)
        # Pending: the two points still out and the two ready ones, nothing else.
        pending = as_set(planner.optimizer.pending_points)
        assert pending == as_set([p for p, _ in sent[1:]] + fresh)
    finally:
        optimizer = planner.stop()
    # Ready points never sent are no longer pending; the points out still are.
    assert as_set(optimizer.pending_points) == as_set([p for p, _ in sent[1:]])
    assert optimizer.dataset_size == 6


@pytest.mark.parametrize("duration_s", [10.0, 0.01])
def test_thompson_points_cover_an_ask_only_where_results_outpace_it(duration_s):
    """With results every few milliseconds, the workers freed during a Local Penalization ask
    get Thompson points readied before it; with results every few seconds none are needed."""
    problem = get_problem("scaled-branin", delay_scale=0.0)
    x = np.random.default_rng(1).random((5, 2))
    y = problem.objective(x)
    history = [Evaluation(id=i, x=tuple(x[i]), y=float(y[i, 0]), status="ok") for i in range(5)]
    planner = _Planner(
        lambda: Optimizer(problem.lower, problem.upper, x, y), problem, history, seed=0,
        capacity=3, max_explore=0,
    )
    planner.start()
    try:
        sent = [planner.next_point() for _ in range(3)]
        wait_until(lambda: len(planner._ready) == 2)
        assert {entry[1] for entry in planner._ready} == {"lp"}
        sent.append(planner.next_point())  # one ready point left: the model asks another
        first = sent[0][0]
        now = time.time()
        planner.observe(Evaluation(
            id=5, x=tuple(first), y=float(problem.objective(first[None, :])[0, 0]), status="ok",
            proposal=sent[0][1], started_at=now - duration_s, finished_at=now,
        ))
        wait_until(lambda: planner.optimizer.dataset_size == 6 and len(planner._ready) >= 2)
        time.sleep(1.0)
        proposals = [entry[1] for entry in planner._ready]
        if duration_s < 1:  # readied before the ask they cover
            assert "thompson" in proposals and proposals[-1] == "lp", proposals
        else:
            assert proposals == ["lp", "lp"], proposals
        # Pending: the points out and the ready ones, nothing else.
        out = [p for p, _ in sent[1:]]
        assert as_set(planner.optimizer.pending_points) == as_set(out + [e[0] for e in planner._ready])
    finally:
        planner.stop()
