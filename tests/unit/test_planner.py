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


PROBLEM = get_problem("scaled-branin", delay_scale=0.0)


def started_planner(data_seed: int) -> _Planner:
    """The model thread over five observations, for 3 worker threads, with no space-filling
    points: every point comes from the model."""
    x = np.random.default_rng(data_seed).random((5, 2))
    y = PROBLEM.objective(x)
    history = [Evaluation(id=i, x=tuple(x[i]), y=float(y[i, 0]), status="ok") for i in range(5)]
    planner = _Planner(
        lambda: Optimizer(PROBLEM.lower, PROBLEM.upper, x, y), PROBLEM, history, seed=0,
        capacity=3, max_explore=0,
    )
    planner.start()
    return planner


def observe(planner: _Planner, eval_id: int, sent: tuple[np.ndarray, str], duration_s: float) -> None:
    """Report the result of a sent point, evaluated in ``duration_s``."""
    point, proposal = sent
    now = time.time()
    planner.observe(Evaluation(
        id=eval_id, x=tuple(point), y=float(PROBLEM.objective(point[None, :])[0, 0]),
        status="ok", proposal=proposal, started_at=now - duration_s, finished_at=now,
    ))


@pytest.mark.parametrize("duration_s", [10.0, 0.01])
def test_ready_points_are_asked_again_once_results_arrive(duration_s):
    """With evaluations of 10 s the model has time to ask the ready points again with the
    new result; with evaluations of 10 ms it has not, and leaves them."""
    planner = started_planner(data_seed=0)
    try:
        sent = [planner.next_point() for _ in range(3)]
        wait_until(lambda: len(planner._ready) == 2)
        stale = [entry[0] for entry in planner._ready]
        assert all(entry[2] == 5 for entry in planner._ready)

        observe(planner, 5, sent[0], duration_s)
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
    planner = started_planner(data_seed=1)
    try:
        sent = [planner.next_point() for _ in range(3)]
        wait_until(lambda: len(planner._ready) == 2)
        assert {entry[1] for entry in planner._ready} == {"lp"}
        observe(planner, 5, sent[0], duration_s)  # the model learns how fast results come
        wait_until(lambda: planner.optimizer.dataset_size == 6)
        sent.append(planner.next_point())  # one ready point left: the model asks another

        def proposals() -> list[str]:
            return [entry[1] for entry in planner._ready]

        if duration_s < 1:  # readied before the ask they cover
            wait_until(lambda: "thompson" in proposals() and proposals()[-1] == "lp", timeout_s=30)
        else:  # asked, and the stale one asked again, with the sixth observation
            wait_until(lambda: len(planner._ready) == 2 and all(e[2] == 6 for e in planner._ready))
            time.sleep(1.0)
            assert proposals() == ["lp", "lp"]
        # Pending: the points out and the ready ones, nothing else.
        out = [p for p, _ in sent[1:]]
        assert as_set(planner.optimizer.pending_points) == as_set(out + [e[0] for e in planner._ready])
    finally:
        planner.stop()
