"""The model's thread (asynchronous mode): it builds, tells, asks and refits while the
workers compute, and keeps points ready for the next free worker. What it does next is
decided by :mod:`dask_bo.strategies.policy`; this module carries the decisions out, calling
the strategy through :class:`~dask_bo.strategies.steps.ModelSteps`."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Hashable

import numpy as np

from . import policy
from .pending import PendingSet, ReadyPoint, vector
from .policy import PolicyState
from .steps import FAILED, ModelSteps

logger = logging.getLogger("dask_bo")


class Prefetcher:
    """Runs the model on one thread of its own and keeps points ready for free workers.

    The driver's thread calls :meth:`start`, :meth:`next_point`, :meth:`observe` and
    :meth:`stop`; the model's steps all run on the thread ``dask-bo-prefetch``.

    :param strategy_factory: Builds the strategy (on the thread): an object with ``ask(n,
        pending [P, D]) -> [n, D]``, ``ask_thompson(n, pending) -> [n, D]``, ``tell(x [N, D],
        y [N, 1])``, ``refit()``, ``refit_due()``, ``full_refit_due()``, ``dataset_size`` and
        ``traced_sizes``.
    :param capacity: Worker threads now; the driver keeps the attribute up to date.
    :param max_explore: At most this many space-filling points while the model works (none
        are limited once the model has failed).
    :param space_filling: ``taken [T, D] -> u [D]``: a point far from those taken.
    :param dim: The points' dimension D.
    :param in_flight: Points already out (resumed runs) by key: pending until observed.
    :param taken: Points evaluated before [T, D], for ``space_filling`` to avoid.
    :param clock: Seconds, monotonic; it times the model's steps.
    :param wake: Called (from the model's thread) once a point is ready for a caller that
        did not wait for one (``next_point(block=False)``).
    """

    def __init__(
        self, strategy_factory: Callable[[], Any], capacity: int, max_explore: int,
        space_filling: Callable[[np.ndarray], np.ndarray], *, dim: int,
        in_flight: dict[Hashable, np.ndarray] | None = None, taken: np.ndarray | None = None,
        clock: Callable[[], float] = time.monotonic, wake: Callable[[], None] = lambda: None,
    ):
        self._factory = strategy_factory
        self._space_filling = space_filling
        self._dim = dim
        self.capacity = capacity
        self._cond = threading.Condition()
        self._model = ModelSteps(dim, clock, self._cond)
        self._pending = PendingSet(dim, in_flight, taken)
        self._durations: deque[float] = deque(maxlen=policy.RECENT_DURATIONS)
        self._target = policy.INITIAL_TARGET
        self._explore_left = max_explore
        self._failed = False
        self._tokens = itertools.count()
        self._stopped = False
        self._interrupted = False
        self._wake = wake
        self._wake_wanted = False  # a caller did not wait for a point: tell it when one is ready
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dask-bo-prefetch", daemon=True)

    # -- the driver's side ----------------------------------------------------------------
    @property
    def strategy(self) -> Any:
        """The strategy once built (``None`` before, or if its build failed)."""
        return self._model.strategy

    def start(self) -> None:
        self._thread.start()

    def next_point(self, key: Hashable | None = None, block: bool = True) -> tuple[Hashable, np.ndarray, str] | None:
        """The point for a free worker, pending (in flight) under ``key`` until observed.

        Waits for the model only when no point is ready and the exploration budget is spent,
        and not once :meth:`interrupt` was called (then ``None``: the run is stopping).

        :param key: The caller's name for the point (say its evaluation id); ``None``: a new
            token.
        :param block: ``False``: never wait; ``None`` instead, and ``wake`` is called once the
            model has readied a point (or failed).
        :return: ``(key, u [D], proposal)``, proposal ``"rule"``, ``"thompson"`` or
            ``"explore"``; or ``None``.
        """
        key = ("point", next(self._tokens)) if key is None else key
        with self._cond:
            if key in self._pending.in_flight:  # before taking a ready point
                raise ValueError(f"expected a key not in flight, got {key!r} (already out)")
            self._target = policy.grown_target(self._state())
            self._cond.notify_all()
            if block:
                self._cond.wait_for(
                    lambda: self._error or self._interrupted or policy.serve(self._state()) != "wait"
                )
            self._raise_error()
            serve = policy.serve(self._state())
            if serve == "wait":
                self._wake_wanted = not block
                return None
            if serve == "ready":
                entry = self._pending.ready.popleft()
                u, proposal = entry.u, entry.proposal
            else:
                u, proposal = self._space_filling(self._pending.taken()), "explore"
                self._explore_left -= 1
            u = self._pending.send(key, u)
            self._cond.notify_all()
            return key, u, proposal

    def observe(self, key: Hashable, u: np.ndarray, y: float | None, duration_s: float | None):
        """A point's evaluation is over: it leaves the pending set, and ``y`` (lower is
        better; ``None``: failed, lost or timed out) is told to the model.

        :param key: The point's key (from :meth:`next_point` or ``in_flight``).
        :param u: The point evaluated [D].
        :param duration_s: How long the evaluation took (``None``: unknown).
        """
        with self._cond:
            self._pending.observe(key, u, y)
            if duration_s is not None:
                self._durations.append(max(float(duration_s), policy.MIN_DURATION_S))
            self._cond.notify_all()

    def state(self) -> PolicyState:
        """What the policy decides from, now."""
        with self._cond:
            return self._state()

    @property
    def pending(self) -> np.ndarray:
        """The points the model must avoid [P, D]: in flight, ready, observed but not told."""
        with self._cond:
            return self._pending.points()

    @property
    def ready(self) -> list[tuple[np.ndarray, str]]:
        """The ready points and their proposals, in serving order."""
        with self._cond:
            return [(e.u, e.proposal) for e in self._pending.ready]

    def interrupt(self) -> None:
        """From any thread: :meth:`next_point` no longer waits for the model."""
        with self._cond:
            self._interrupted = True
            self._cond.notify_all()

    def stop(self) -> Any:
        """Stop the thread, tell what has arrived, drop the ready points.

        :return: The strategy, with every observed result told (``None`` if it was never
            built or its build failed, or is still building after :meth:`interrupt`: a stop
            request does not wait for it, and the thread ends once the build returns).
        """
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            building = self._interrupted and self.strategy is None
        if self._thread.is_alive() and not building:
            self._thread.join()
        self._raise_error()
        with self._cond:
            self._pending.ready.clear()
            arrived = self._pending.take_arrived()
        if self.strategy is not None:
            self._model.tell(arrived)
        return self.strategy

    # -- state ----------------------------------------------------------------------------
    def _state(self) -> PolicyState:  # with the lock held
        return PolicyState(
            capacity=self.capacity, durations_s=tuple(self._durations), steps=self._model.times,
            ready_seen=tuple(e.seen for e in self._pending.ready), dataset_size=self._model.dataset_size,
            target=self._target, model=self.strategy is not None and not self._failed,
            failed=self._failed, explore_left=self._explore_left,
        )

    def _raise_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the model thread failed: {self._error!r}") from self._error

    # -- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self._build():
                self._loop()
        except BaseException as error:  # a bug of ours: surfaced by next_point and stop
            logger.exception("the model thread failed")
            with self._cond:
                self._error = error
                self._cond.notify_all()
            self._woken()

    def _build(self) -> bool:
        strategy, seconds = self._model.build(self._factory)
        if strategy is FAILED:
            self._fail()
            return False
        with self._cond:
            if self._stopped:
                return False
            self._model.accept(strategy, seconds)
        self._model.tell([])
        # The first asks trace the acquisition function: cover each, and leave them untimed
        # (tracing says nothing of what later asks cost).
        for n in policy.first_asks(self.state(), self.strategy.traced_sizes):
            self._push(policy.first_cover(self.state()), "thompson")
            self._push(n, "rule", timed=False)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._stopped or policy.has_work(self._state(), bool(self._pending.arrived))
                )
                if self._stopped:
                    return
                arrived = self._pending.take_arrived()
                wanted = self._target - len(self._pending.ready)
            # Steps run outside the lock, so that results keep arriving meanwhile.
            self._model.tell(arrived)
            if self._failed:
                continue
            plan = policy.refill(self.state(), wanted)
            self._push(plan.thompson, "thompson")
            if plan.ask:
                self._push(plan.ask, "rule")
            elif not arrived:
                self._refresh()
            due = None if self._failed else self._model.refit_due()
            if due is not None:
                self._push(policy.refit_cover(self.state(), due == "full"), "thompson")
                self._model.refit(due)

    def _push(self, n: int, proposal: str, timed: bool = True) -> None:
        """Ready ``n`` points of ``proposal``; a failed rule ask is replaced by Thompson
        points, and if those fail too, the model has failed for good."""
        if n <= 0:
            return
        with self._cond:
            pending = self._pending.points()
        points, served = self._model.ask_or_thompson(n, proposal, pending, timed)
        if points is FAILED:
            if served != proposal:  # Thompson points failed in a failed rule ask's place
                self._fail()
            return
        with self._cond:
            self._pending.add_ready(points, served, self._model.dataset_size)
            self._cond.notify_all()
        self._woken()

    def _fail(self) -> None:
        with self._cond:
            self._failed = True
            self._cond.notify_all()
        self._woken()

    def _woken(self) -> None:
        """Call ``wake`` if a caller is owed a point (outside the lock: it submits a task)."""
        with self._cond:
            wanted, self._wake_wanted = self._wake_wanted, False
        if wanted:
            self._wake()

    def _refresh(self) -> None:
        """Ask again for a stale ready point, with the data told since. The old point stays
        ready meanwhile, for a worker that frees up, but is not pending for this ask."""
        with self._cond:
            i = policy.stale_index(self._state())
            if i is None:
                return
            stale = self._pending.ready[i]
            pending = self._pending.points(without=stale)
        fresh = self._model.ask(1, "rule", pending)
        with self._cond:
            if fresh is FAILED:  # keep it, and do not ask again for it
                stale.seen = self._model.dataset_size
                return
            self._pending.replace(stale, ReadyPoint(vector(fresh[0], self._dim), "rule", self._model.dataset_size))
            self._cond.notify_all()
