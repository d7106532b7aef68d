"""The strategy's steps as the model's thread calls them: a step that raises is warned about
once and reported as failed (a failing model must not stop the run), and what the steps
measure (their times, the dataset's size) is kept for the policy.
:mod:`dask_bo.strategies.prefetch` decides what to call and when."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from .policy import StepTimes

logger = logging.getLogger("dask_bo")

FAILED = object()  # what a model step that raised returns


class ModelSteps:
    """Calls the strategy's steps safely, and keeps what they measured.

    One thread at a time calls the methods (the model's, then the driver's once it has
    ended); what the other reads (``strategy``, ``times``, ``dataset_size``, through the
    prefetcher's state) changes with ``lock`` held.

    :param dim: The points' dimension D.
    :param clock: Seconds, monotonic; it times the steps.
    :param lock: The lock the owner's state is read under; notified once results are told.
    """

    def __init__(self, dim: int, clock: Callable[[], float], lock: threading.Condition):
        self.strategy: Any = None
        self.times = StepTimes()
        self.dataset_size = 0
        self._dim = dim
        self._clock = clock
        self._lock = lock
        self._warned: set[str] = set()

    def build(self, factory: Callable[[], Any]) -> tuple[Any, float]:
        """:return: ``(factory(), seconds)``, or ``FAILED`` for the strategy if it raised."""
        started = self._clock()
        strategy = self.call("build", factory)
        return strategy, self._clock() - started

    def accept(self, strategy: Any, build_s: float) -> None:
        """With the lock held: the steps from now on are ``strategy``'s, built in ``build_s``."""
        self.strategy = strategy
        self.times = replace(self.times, build_s=build_s)

    def tell(self, arrived: list[tuple[np.ndarray, float]]) -> None:
        """Tell the strategy the ``(u [D], y)`` results that arrived, and read its dataset
        size (kept as it was if the strategy cannot say)."""
        if arrived:
            x = np.array([u for u, _ in arrived]).reshape(-1, self._dim)
            y = np.array([[v] for _, v in arrived], dtype=np.float64)
            self.call("tell", lambda: self.strategy.tell(x, y))
        size = self.call("dataset_size", lambda: self.strategy.dataset_size)
        with self._lock:
            self.dataset_size = self.dataset_size if size is FAILED else int(size)
            self._lock.notify_all()

    def ask(self, n: int, proposal: str, pending: np.ndarray, timed: bool = True) -> Any:
        """``n`` points [n, D] of ``proposal`` (``"rule"`` or ``"thompson"``) away from
        ``pending`` [P, D], or ``FAILED``; a rule ask is timed per point, or (``timed``
        false: a first ask, which traces) whole as a trace."""
        if proposal == "thompson":
            return self.call("ask_thompson", lambda: self.strategy.ask_thompson(n, pending))
        started = self._clock()
        points = self.call("ask", lambda: self.strategy.ask(n, pending))
        if points is not FAILED:
            seconds = self._clock() - started
            self._record(**({"ask_s": seconds / n} if timed else {"trace_s": seconds}))
        return points

    def ask_or_thompson(
        self, n: int, proposal: str, pending: np.ndarray, timed: bool = True
    ) -> tuple[Any, str]:
        """:meth:`ask`, with Thompson points in place of a rule ask that failed.

        :return: ``(points [n, D] or FAILED, the proposal they are)``.
        """
        points = self.ask(n, proposal, pending, timed)
        if points is FAILED and proposal == "rule":
            return self.ask(n, "thompson", pending), "thompson"
        return points, proposal

    def refit_due(self) -> str | None:
        """:return: ``"full"`` or ``"warm"`` if a refit is due (``full_refit_due`` says
        which), else ``None`` (also if the strategy cannot say)."""
        if not self.call("refit_due", self.strategy.refit_due, False):
            return None
        return "full" if self.call("full_refit_due", self.strategy.full_refit_due, False) else "warm"

    def refit(self, kind: str) -> None:
        """Refit the model, timed as a ``kind`` (``"full"`` or ``"warm"``) refit."""
        started = self._clock()
        if self.call("refit", self.strategy.refit) is not FAILED:
            self._record(**{f"{kind}_refit_s": self._clock() - started})

    def _record(self, **seconds: float) -> None:
        with self._lock:
            self.times = replace(self.times, **seconds)

    def call(self, step: str, call: Callable[[], Any], default: Any = FAILED) -> Any:
        """The model step's value, or ``default`` if it raised (warned once per step)."""
        try:
            return call()
        except Exception as error:
            if step not in self._warned:
                self._warned.add(step)
                logger.warning(
                    "the model's %s failed (%r): workers get Thompson or space-filling points"
                    " instead", step, error,
                )
            return default
