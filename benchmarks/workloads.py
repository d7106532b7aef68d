"""The benchmark workloads, the heavy-tailed delay model and the harness's initial designs.

Worker processes unpickle the heavy-tailed objective, so this module imports nothing heavy
(no TensorFlow, trieste or matplotlib) and is shipped to them by value.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import sys
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from dask_bo.config import DEFAULT_RULE
from dask_bo.problems import Problem, get_problem
from dask_bo.records import INITIAL, Evaluation
from dask_bo.worker import evaluate


@dataclass(frozen=True)
class Workload:
    """One benchmark setting.

    :param problem: A name in :data:`dask_bo.PROBLEM_NAMES`.
    :param workers: Worker processes (the adaptive cluster's maximum when ``adaptive``).
    :param initial: Points of the initial design (evaluated once per seed, without delay).
    :param evaluations: Evaluations after the initial design.
    :param delay_scale: ``sum``: an evaluation at x sleeps ``delay_scale * sum(u)``;
        ``lognormal``: ``delay_scale * exp(sigma * z(x))`` (see :class:`HeavyTailed`).
    :param threads_per_worker: Threads of each worker process.
    :param delay: ``"sum"`` (DESIGN.md's delay model) or ``"lognormal"``.
    :param sigma: The log-normal delay's sigma.
    :param model: ``optimize``'s ``model=``.
    :param adaptive: The cluster starts with one worker under ``adapt(minimum=1,
        maximum=workers)``.
    :param arms: The arms run when ``--arms`` is not given.
    :param rules: The rules run when ``--rule`` is not given (``None``: the default rule).
    """

    problem: str
    workers: int
    initial: int
    evaluations: int
    delay_scale: float
    threads_per_worker: int = 1
    delay: str = "sum"
    sigma: float = 1.0
    model: str = "auto"
    adaptive: bool = False
    arms: tuple[str, ...] = ("default",)
    rules: tuple[str, ...] | None = None

    @property
    def threads(self) -> int:
        return self.workers * self.threads_per_worker

    def overridden(self, **values: Any) -> Workload:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


WORKLOADS: dict[str, Workload] = {
    "reference": Workload("scaled-branin", workers=3, initial=3, evaluations=30, delay_scale=3.0,
                          arms=("default", "naive")),
    "wide": Workload("hartmann-6", workers=16, initial=12, evaluations=200, delay_scale=1.0,
                     arms=("default", "naive")),
    "long": Workload("hartmann-6", workers=16, initial=12, evaluations=2000, delay_scale=0.5),
    "long-branin": Workload("scaled-branin", workers=4, initial=4, evaluations=500, delay_scale=0.2,
                            arms=("default", "naive")),
    "heavy-tail": Workload("hartmann-6", workers=8, initial=12, evaluations=100, delay_scale=1.0,
                           delay="lognormal", sigma=1.0),
    "wide-64": Workload("hartmann-6", workers=8, threads_per_worker=8, initial=12, evaluations=640,
                        delay_scale=2.0),
    "huge": Workload("hartmann-6", workers=8, initial=12, evaluations=10_000, delay_scale=0.1,
                     model="sparse"),
    "elastic": Workload("hartmann-6", workers=8, initial=12, evaluations=160, delay_scale=1.0,
                        adaptive=True),
    "mixed": Workload("mixed-branin", workers=4, initial=5, evaluations=40, delay_scale=1.0,
                      rules=(DEFAULT_RULE, "random")),
}
"""The workloads by name (benchmarks/README.md has the table)."""

SUITES: dict[str, tuple[str, ...]] = {"rules": ("reference", "heavy-tail", "wide")}
"""Workloads that stand for several: ``rules`` runs every rule, both modes, on each of these."""

Z_CLIP = 3.0
"""The heavy-tailed delay's z is clipped to [-3, 3] (0.27% of points), so no run waits
minutes for one point: the slowest evaluation is ``delay_scale * exp(3 * sigma)``."""


def point_normal(x: Any) -> float:
    """A standard normal number fixed by the point ``x`` [dim]: its float64 bytes hashed
    (blake2b) to a uniform in (0, 1), then the normal's inverse CDF."""
    digest = hashlib.blake2b(np.asarray(x, dtype=np.float64).tobytes(), digest_size=8).digest()
    uniform = (int.from_bytes(digest, "little") + 0.5) / 2.0**64
    return statistics.NormalDist().inv_cdf(uniform)


class HeavyTailed:
    """An objective that first sleeps ``scale * exp(sigma * z(x))`` seconds, ``z(x)`` a standard
    normal fixed per point (:func:`point_normal`, clipped to +-:data:`Z_CLIP`): log-normal
    evaluation times whose median is ``scale``, the same for a point every time it is asked.

    :param objective: The problem's objective (plain or batch form, as ``batch`` says).
    :param scale: The median delay in seconds (0: no delay).
    :param sigma: The log-normal's sigma.
    :param batch: Whether ``objective`` takes ``points [N, D]`` (then each row sleeps).
    """

    def __init__(self, objective: Callable, scale: float, sigma: float, batch: bool | None):
        self.objective, self.scale, self.sigma, self.batch = objective, scale, sigma, batch

    def delay_s(self, x: Any) -> float:
        z = min(max(point_normal(x), -Z_CLIP), Z_CLIP)
        return self.scale * math.exp(self.sigma * z)

    def __call__(self, x: Any) -> Any:
        if self.scale > 0:
            rows = np.atleast_2d(np.asarray(x, dtype=np.float64))
            time.sleep(sum(self.delay_s(row) for row in rows))
        return self.objective(x)


def make_problem(w: Workload, delay_scale: float | None = None) -> Problem:
    """The workload's problem with its delay (``delay_scale`` overrides the workload's)."""
    scale = w.delay_scale if delay_scale is None else delay_scale
    if w.delay == "sum":
        return get_problem(w.problem, delay_scale=scale)
    base = get_problem(w.problem)
    if not base.space.is_box:
        raise ValueError(f"the log-normal delay wraps box problems, got {w.problem!r}")
    import cloudpickle

    # Workers of another cluster lack benchmarks/: ship this module's objective by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return Problem(
        HeavyTailed(base.objective, scale, w.sigma, base.batch), lower=base.lower, upper=base.upper,
        name=base.name, minimum=base.minimum, batch=base.batch, delay_scale=0.0,
    )


def without_delay(problem: Problem) -> Problem:
    """The same problem evaluated at once (the initial design is outside every run's clock)."""
    if isinstance(problem.objective, HeavyTailed):
        h = problem.objective
        return replace(problem, objective=HeavyTailed(h.objective, 0.0, h.sigma, h.batch))
    return problem.with_delay(0.0)


def initial_points(problem: Problem, n: int, seed: int) -> np.ndarray:
    """The harness's initial design [n, dim] for ``seed``: uniform in the box from
    ``numpy.random.default_rng(seed)`` (as at every earlier commit), the space's own seeded
    sample for a named space."""
    if not problem.space.is_box:
        return np.asarray(problem.space.sample(n, seed), dtype=np.float64)
    rng = np.random.default_rng(seed)
    lower, upper = np.array(problem.lower), np.array(problem.upper)
    return lower + rng.random((n, problem.dim)) * (upper - lower)


def initial_design(client, problem: Problem, n: int, seed: int) -> list[Evaluation]:
    """:func:`initial_points` evaluated once on ``client``, without the delay."""
    fast = without_delay(problem)
    futures = [
        client.submit(evaluate, fast, x, i, time.time(), INITIAL, key=f"initial-{seed}-{i}", pure=False)
        for i, x in enumerate(initial_points(problem, n, seed))
    ]
    records = client.gather(futures)
    for future in futures:
        future.release()
    failed = [r for r in records if not r.ok]
    if failed:
        raise RuntimeError(f"initial design failed at {len(failed)} points: {failed[0].error}")
    return records
