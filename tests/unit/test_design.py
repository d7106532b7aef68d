"""The initial design and the hand-over to the model, without Dask or TensorFlow."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from dask_bo.config import Settings
from dask_bo.design import Design, fittable
from dask_bo.records import Evaluation
from dask_bo.space import Space


class FakeStrategy:
    """Proposes the centre of the cube, nudged; counts what it is told."""

    def __init__(self, u, y):
        self.data = [np.asarray(u), np.asarray(y)]
        self.asked = 0

    @property
    def dataset_size(self):
        return len(self.data[0])

    def ask(self, n, pending):
        self.asked += n
        return np.full((n, self.data[0].shape[1]), 0.5) + 1e-3 * np.arange(n)[:, None]

    ask_thompson = ask
    traced_sizes = (1,)

    def tell(self, u, y):
        self.data = [np.vstack([self.data[0], u]), np.vstack([self.data[1], y])]

    def refit(self):
        pass

    def refit_due(self):
        return False

    def full_refit_due(self):
        return False


def record(proposal, y, i=0):
    return Evaluation(id=i, x=tuple(proposal.x), y=y, status="ok" if y is not None else "failed",
                      proposal=proposal.proposal, duration_s=1.0)


SPACE = Space.box([0, 0], [1, 1])


def test_fittable_needs_two_distinct_values():
    ok = lambda y: Evaluation(id=0, x=(0.0,), y=y, status="ok")  # noqa: E731
    assert not fittable([ok(1.0), ok(1.0)])
    assert fittable([ok(1.0), ok(2.0)])


def test_async_explores_while_the_design_is_out_then_hands_over():
    built = []

    def make(u, y):
        built.append(len(u))
        return FakeStrategy(u, y)

    design = Design(SPACE, Settings(evaluations=20, initial=3), [], make, lambda: 4)
    initial = design.initial(3)
    assert [p.proposal for p in initial] == ["initial"] * 3
    assert len({tuple(p.x) for p in initial}) == 3
    (explore,) = design.suggest(1)  # a fourth thread is free: no model yet
    assert explore.proposal == "explore" and not built
    for i, p in enumerate(initial):
        design.tell(p, record(p, float(i), i))
    points = design.suggest(2, wait=True)
    assert built == [3]  # built from the whole design, the explore point pending
    assert len(points) == 2 and {p.proposal for p in points} <= {"rule", "thompson", "explore"}
    design.tell(explore, record(explore, 5.0, 3))
    strategy = design.stop()
    assert strategy.dataset_size == 4


def test_sync_waits_for_the_design_and_batches():
    design = Design(SPACE, Settings(mode="sync", evaluations=6, initial=2), [], FakeStrategy, lambda: 2)
    initial = design.initial(2)
    assert design.suggest(2) == []  # the first batch waits for the whole design
    for i, p in enumerate(initial):
        design.tell(p, record(p, float(i), i))
    batch = design.suggest(2)
    assert [p.proposal for p in batch] == ["batch", "batch"]
    assert design.suggest(2) == []  # until the batch is back
    for i, p in enumerate(batch):
        design.tell(p, record(p, 3.0 + i, 2 + i))
    assert [p.proposal for p in design.suggest(2)] == ["batch", "batch"]


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_unfittable_data_draws_more_points_and_says_so(mode, caplog):
    design = Design(SPACE, Settings(mode=mode, evaluations=6, initial=2), [], FakeStrategy, lambda: 2)
    initial = design.initial(2)
    for i, p in enumerate(initial):
        design.tell(p, record(p, 1.0, i))  # one distinct value: no variance to fit
    with caplog.at_level(logging.WARNING, logger="dask_bo"):
        more = design.suggest(2)
    assert [p.proposal for p in more] == ["explore", "explore"]
    assert "until the model can be fitted" in caplog.text
    for i, p in enumerate(more):
        design.tell(p, record(p, 2.0 + i, 2 + i))
    assert design.suggest(1, wait=True)[0].proposal in ("batch", "rule", "thompson", "explore")
    design.stop()


def test_a_resumed_design_keeps_its_points_in_flight():
    pending = [{"id": 7, "x": [0.2, 0.2], "proposal": "initial"}]
    design = Design(SPACE, Settings(evaluations=5, initial=1), [], FakeStrategy, lambda: 2, in_flight=pending)
    (again,) = design.resumed(pending)
    assert again.id == 7 and again.x == [0.2, 0.2]
    assert design.suggest(1)[0].proposal == "explore"  # the design is still out
