"""The drivers: thin loops that send points to the cluster and feed results to the optimizer.

``run_async`` refills a worker the moment a result comes back (``distributed.as_completed``);
``run_sync`` sends a batch as large as the worker count and waits for all of it. Both are
built on :class:`_Run` (submitting, collecting and recording evaluations) and on the ask/tell
core in :mod:`dask_bo.optimizer`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import statistics
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from distributed import Client, Future, as_completed
from distributed.comm.core import CommClosedError
from concurrent.futures import CancelledError

from .evaluation import EvaluationFailed, evaluation_task
from .history import INITIAL, Evaluation, Result
from .journal import JOURNAL_NAME, Journal, journal_state, read_journal
from .problems import Problem, get_problem, load_objective
from .progress import Progress, Publisher

logger = logging.getLogger("dask_bo")

MODES = ("async", "sync")


class RunStopped(RuntimeError):
    """The run could not go on (no data to model, or the scheduler was lost).

    What it had gathered is in its journal, from which ``resume`` continues.
    """


class SchedulerLost(RunStopped):
    """The client lost its scheduler; Dask cancelled every future in flight."""


@dataclass(frozen=True)
class Settings:
    """How a run is driven. Saved in the journal's ``start`` event, so ``resume`` can go on.

    :param evaluations: Evaluations after the initial design, whatever their outcome.
    :param initial: Points of the initial design.
    :param max_failures: Stop once this many evaluations have failed (``None``: never).
    :param timeout_s: Mark an evaluation ``timeout`` after this many seconds and restart its
        worker (``None``: wait for ever).
    :param refit_fraction: See :class:`~dask_bo.optimizer.Optimizer`.
    :param explore_fraction: At most this fraction of the budget goes to space-filling points
        given to workers the model cannot serve in time (asynchronous mode).
    """

    mode: str = "async"
    evaluations: int = 30
    initial: int = 3
    seed: int | None = 0
    max_failures: int | None = None
    timeout_s: float | None = None
    refit_fraction: float = 0.1
    explore_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if int(self.evaluations) < 1:
            raise ValueError(f"evaluations must be at least 1, got {self.evaluations}")
        if int(self.initial) < 1:
            raise ValueError(f"initial must be at least 1 (the model needs data), got {self.initial}")
        if self.max_failures is not None and self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1 or None, got {self.max_failures}")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout must be a number of seconds > 0, got {self.timeout_s}")


class _Run:
    """What both drivers share: submitting points, collecting results, recording them."""

    def __init__(
        self,
        client: Client,
        problem: Problem,
        settings: Settings,
        history: list[Evaluation],
        journal: Journal | None,
        progress: bool,
        next_id: int,
    ):
        self.client = client
        self.problem = problem
        self.settings = settings
        self.history = history
        self.journal = journal
        self.next_id = next_id
        self.in_flight: dict[Future, tuple[int, np.ndarray, str, float]] = {}
        self.timed_out: set[Future] = set()
        self.dispatch_latencies_s: list[float] = []
        self.run_id = uuid.uuid4().hex[:8]
        self.scheduler_address = client.scheduler.address
        self.publisher = Publisher(client, self.run_id)
        self._capacity = (0.0, 0)
        driven = [e for e in history if e.proposal != INITIAL]
        self.submitted = len(driven)
        self.failed = sum(not e.ok for e in driven)
        self.show_progress = progress
        self.progress = Progress(0, enabled=False)  # the driver starts the real bar

    # -- the cluster --------------------------------------------------------------------
    def capacity(self) -> int:
        """Worker threads in the cluster now (cached for half a second): the in-flight limit."""
        checked_at, threads = self._capacity
        if time.monotonic() - checked_at > 0.5:
            try:
                threads = sum(self.client.nthreads().values())
            except (OSError, RuntimeError) as error:  # CommClosedError, "ConnectionPool is closed"
                raise SchedulerLost(f"lost the Dask scheduler at {self.scheduler_address}") from error
            self._capacity = (time.monotonic(), threads)
        return max(threads, 1)

    @property
    def remaining(self) -> int:
        """Evaluations of the budget not yet submitted."""
        return self.settings.evaluations - self.submitted

    def submit(self, x: np.ndarray, proposal: str, eval_id: int | None = None) -> Future:
        if eval_id is None:
            eval_id, self.next_id = self.next_id, self.next_id + 1
        submitted_at = time.time()
        future = self.client.submit(
            evaluation_task, self.problem, x, eval_id, submitted_at, proposal,
            key=f"objective-{eval_id}-{self.run_id}", pure=False,
        )
        self.in_flight[future] = (eval_id, x, proposal, submitted_at)
        if proposal != INITIAL:
            self.submitted += 1
        event = {"id": eval_id, "x": [float(v) for v in x], "proposal": proposal, "submitted_at": submitted_at}
        if self.journal:
            self.journal.write("submitted", **event)
        self.publisher.publish("submitted", **event)
        return future

    def collect(self, future: Future, result: Any) -> Evaluation:
        """The record of a finished future (Dask's own failures become ``lost``), recorded;
        the caller releases the future.

        :param result: What :func:`_as_completed` yielded with it: fetched on the client's
            event loop, which spares the driver's thread a round trip to the worker per result.
        """
        eval_id, x, proposal, submitted_at = self.in_flight.pop(future)
        now = time.time()
        if future in self.timed_out:
            self.timed_out.discard(future)
            record = Evaluation(
                id=eval_id, x=tuple(float(v) for v in x), y=None, status="timeout",
                proposal=proposal, submitted_at=submitted_at, finished_at=now,
                duration_s=now - submitted_at,
                error=f"still running after {self.settings.timeout_s:g} s (--timeout); its worker was restarted",
            )
        elif future.status == "finished":
            record = result
        elif future.status == "error" and isinstance(future.exception(), EvaluationFailed):
            record = future.exception().record
        elif future.status == "cancelled" and self.client.status != "running":
            # Not an outcome of the evaluation: the journal keeps it in flight for resume.
            self.in_flight[future] = (eval_id, x, proposal, submitted_at)
            raise SchedulerLost(f"lost the Dask scheduler at {self.scheduler_address}")
        else:
            error = future.exception() if future.status == "error" else "cancelled by Dask"
            record = Evaluation(
                id=eval_id, x=tuple(float(v) for v in x), y=None, status="lost",
                proposal=proposal, submitted_at=submitted_at, finished_at=now,
                error=f"{type(error).__name__}: {error}" if future.status == "error" else error,
            )
        self.record(record)
        return record

    def record(self, record: Evaluation) -> None:
        self.history.append(record)
        if self.journal:
            self.journal.evaluated(record)
        if record.proposal != INITIAL:
            self.failed += not record.ok
            self.progress.update(record, len(self.in_flight))
        if not record.ok:
            logger.warning(
                "evaluation %d at x=%s %s: %s", record.id, list(record.x), record.status,
                record.error,
            )
        self.publisher.publish(
            "evaluated", **{k: v for k, v in record.to_dict().items() if k != "traceback"}
        )

    def too_many_failures(self) -> bool:
        limit = self.settings.max_failures
        return limit is not None and self.failed >= limit

    def initial_design(self, n: int, seed: int | None) -> None:
        """Evaluate ``n`` points drawn uniformly from the box, in parallel."""
        rng = np.random.default_rng(seed)
        lower, upper = np.array(self.problem.lower), np.array(self.problem.upper)
        points = lower + rng.random((n, self.problem.dim)) * (upper - lower)
        with self.watch():
            self.gather([self.submit(x, INITIAL) for x in points])

    def watch(self) -> contextlib.AbstractContextManager:
        """Enforce ``timeout_s`` on the evaluations in flight while in this context."""
        if self.settings.timeout_s is None:
            return contextlib.nullcontext()
        return _Watchdog(self, self.settings.timeout_s)

    def gather(self, futures: list[Future]) -> list[Evaluation]:
        records = []
        for future, result in _as_completed(futures):
            records.append(self.collect(future, result))
            future.release()
        return records

    def close(self) -> None:
        """Finish publishing this run's events (see :class:`~dask_bo.progress.Publisher`)."""
        self.publisher.close()

    def cancel_all(self) -> None:
        if self.in_flight and self.client.status == "running":
            self.client.cancel(list(self.in_flight))
        self.in_flight.clear()


def _as_completed(futures: list[Future]) -> as_completed:
    """Yields ``(future, result)`` as each finishes, the result fetched on the client's event
    loop (for a failed or cancelled future, its error, which :meth:`_Run.collect` reads from
    the future itself)."""
    return as_completed(futures, with_results=True, raise_errors=False)


class _Watchdog:
    """Stops evaluations that run longer than ``timeout_s``: cancels the task and restarts its
    worker through the nanny, since a cancelled Dask task keeps running in its thread."""

    def __init__(self, run: _Run, timeout_s: float):
        self.run = run
        self.timeout_s = timeout_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dask-bo-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopped.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stopped.wait(0.1):
            now = time.time()
            for future, (_, _, _, submitted_at) in list(self.run.in_flight.items()):
                if future not in self.run.timed_out and now - submitted_at > self.timeout_s:
                    self._stop(future)

    def _stop(self, future: Future) -> None:
        client = self.run.client
        self.run.timed_out.add(future)
        try:
            workers = [w for w, keys in client.processing().items() if future.key in keys]
            future.cancel()
            if workers:
                client.restart_workers(workers, raise_for_error=False)
        except Exception as error:  # a worker without a nanny cannot be restarted
            logger.warning("could not restart the worker of %s (%r): its thread stays busy", future.key, error)


def observations(records: list[Evaluation]) -> tuple[np.ndarray, np.ndarray]:
    """The successful records' points x [N, D] and values y [N, 1], for the model."""
    ok = [r for r in records if r.ok]
    return np.array([r.x for r in ok]), np.array([[r.y] for r in ok])


def space_filling_point(
    lower: np.ndarray, upper: np.ndarray, taken: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Of 256 uniform candidates, the one farthest from every point in ``taken`` (in the box
    rescaled to the unit cube): a cheap proposal that still explores."""
    candidates = rng.random((256, len(lower)))
    if taken:
        known = (np.array(taken) - lower) / (upper - lower)
        distances = np.linalg.norm(candidates[:, None, :] - known[None, :, :], axis=-1)
        candidates = candidates[[int(np.argmax(distances.min(axis=1)))]]
    return lower + candidates[0] * (upper - lower)


LP_BATCH = 4
"""The most Local Penalization points the model thread asks for at once."""


class _Planner:
    """Keeps points ready for the next free worker, on a thread of its own.

    The model's work (build, tell, ask, refit) runs while the workers compute; the driver's
    loop only pops a ready point. When none is ready (the model is still being built, or has
    fallen behind), the worker gets a space-filling point at once (proposal ``explore``), and
    once the model is running more points are kept ready, up to one per worker thread
    (``capacity``, which the driver keeps up to date: only its thread talks to the cluster).
    Exploration is capped at ``max_explore`` points, past which a free worker waits for the
    model: a run of cheap evaluations would otherwise be all exploration. Points come from
    Local Penalization (``lp``); when workers wait, or would while the model asks or refits
    (at the workers' recent evaluation times and the model's recent step times), from one
    joint Thompson sample (``thompson``), which costs about as much as one Local
    Penalization point. A ready point was chosen without the results told after it; while
    the model has nothing else to do, the oldest such point is asked again (``lp``), so that
    what goes out has seen all the data.
    """

    def __init__(self, optimizer_factory: Callable[[], Any], problem: Problem, history: list[Evaluation],
                 seed: int | None, capacity: int, max_explore: int):
        self._factory = optimizer_factory
        self.optimizer = None
        self._rng = np.random.default_rng(None if seed is None else seed + 1)
        self._lower, self._upper = np.array(problem.lower), np.array(problem.upper)
        self._taken = [np.array(e.x) for e in history]
        self._explored: list[np.ndarray] = []  # handed out before the model existed
        self._cond = threading.Condition()
        self._arrived: list[Evaluation] = []
        self._durations: deque[float] = deque(maxlen=32)  # of the latest evaluations, s
        # How long the last refit of each kind took (full: the model's build, at first), s
        self._refit_s = {True: 1.0, False: 0.0}
        self._ask_s = math.inf  # seconds per point of the latest Local Penalization ask
        # (point, proposal, the number of observations the model had when it was asked)
        self._ready: deque[tuple[np.ndarray, str, int]] = deque()
        self.capacity = capacity
        # Two ready points absorb results that arrive together; more grow on demand.
        self._target = 2
        self._explore_left = max_explore
        self._stopped = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="dask-bo-planner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def observe(self, record: Evaluation) -> None:
        with self._cond:
            self._arrived.append(record)
            if record.started_at is not None and record.finished_at is not None:
                self._durations.append(max(record.finished_at - record.started_at, 1e-3))
            self._cond.notify()

    def next_point(self) -> tuple[np.ndarray, str]:
        with self._cond:
            if not self._ready and self.optimizer is not None:
                # The model has fallen behind: keep more points ready from now on.
                self._target = min(self._target + 1, max(2, self.capacity))
                self._cond.notify_all()
            if self._explore_left <= 0:
                self._cond.wait_for(lambda: self._ready or self._error is not None)
            if self._error is not None:
                raise RuntimeError(f"the model failed: {self._error!r}") from self._error
            if self._ready:
                point, proposal, _ = self._ready.popleft()
                self._cond.notify()
                self._taken.append(point)
                return point, proposal
            point = space_filling_point(self._lower, self._upper, self._taken, self._rng)
            self._taken.append(point)
            self._explore_left -= 1
            if self.optimizer is None:
                self._explored.append(point)
            else:
                self.optimizer.add_pending(point[None, :])
            return point, "explore"

    def stop(self):
        """Stop the thread, tell what is left, and return the optimizer (``None`` if the
        model was never built)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join()
        if self._error is not None:
            raise RuntimeError(f"the model failed: {self._error!r}") from self._error
        if self.optimizer is not None:
            with self._cond:
                if self._ready:  # asked, never sent: no longer pending
                    self.optimizer.forget(np.array([entry[0] for entry in self._ready]))
                    self._ready.clear()
                arrived, self._arrived = self._arrived, []
            self._tell(arrived)
        return self.optimizer

    def _tell(self, arrived: list[Evaluation]) -> None:
        lost = [r.x for r in arrived if not r.ok]
        if lost:
            self.optimizer.forget(np.array(lost))
        if any(r.ok for r in arrived):
            self.optimizer.tell(*observations(arrived))

    def _busy_rate(self) -> float | None:
        """Results a second while every worker thread is busy: one per thread and mean duration
        of the latest evaluations (``None`` before any). The rate of arrivals would undercount
        exactly when the model has starved the workers."""
        with self._cond:
            if not self._durations:
                return None
            return max(self.capacity, 1) / statistics.fmean(self._durations)

    def _demand(self, seconds: float) -> int:
        """How many points busy workers will want within ``seconds`` (at most one per worker
        thread)."""
        rate = self._busy_rate()
        if rate is None:
            return self.capacity
        return min(self.capacity, math.ceil(rate * seconds))

    def _cover(self, seconds: float, explore: int = 0) -> None:
        """Ready enough points, from one Thompson sample, for the workers that will be free
        within ``seconds``, which the model is about to spend on one step; ``explore``
        space-filling points will serve some of them."""
        with self._cond:
            ready = len(self._ready)
        short = self._demand(seconds) - ready - explore
        if short > 0:
            self._push(self.optimizer.ask_thompson(short), "thompson")

    def _push(self, points: np.ndarray, proposal: str) -> None:
        size = self.optimizer.dataset_size
        with self._cond:
            self._ready.extend((x, proposal, size) for x in points)
            self._cond.notify_all()

    def _stale(self) -> int | None:
        """The index of the first of the next two ready points that was asked before the
        latest results, if the model has time for it (call with the lock held). Points
        further back wait for their turn: with many ready, refreshing them all after every
        result would keep the model busy."""
        if not self._time_to_spare():
            return None
        size = self.optimizer.dataset_size
        return next((i for i in range(min(2, len(self._ready))) if self._ready[i][2] < size), None)

    def _time_to_spare(self) -> bool:
        """Whether results arrive slowly enough that the model could ask three points between
        two of them (at the workers' recent evaluation times). Otherwise asking points again
        takes time that telling results and refilling workers need (on ``wide``: 0.02 less
        utilization)."""
        rate = self._busy_rate()
        return rate is not None and 1 / rate > 3 * self._ask_s

    def _ask(self, optimizer, n: int) -> np.ndarray:
        """``n`` Local Penalization points, timing the ask."""
        started = time.monotonic()
        points = optimizer.ask(n)
        self._ask_s = (time.monotonic() - started) / n
        return points

    def _refresh(self, optimizer) -> None:
        """Ask again for a stale ready point, with the data told since. The old point stays
        ready meanwhile, for a worker that frees up, but is not pending for this ask."""
        with self._cond:
            i = self._stale()
            if i is None:
                return
            stale = self._ready[i]
        optimizer.forget(stale[0][None, :])
        (fresh,) = self._ask(optimizer, 1)
        entry = (fresh, "lp", optimizer.dataset_size)
        with self._cond:
            for j, ready in enumerate(self._ready):
                if ready is stale:
                    self._ready[j] = entry
                    break
            else:  # handed out during the ask: in flight, so pending again; keep both
                optimizer.add_pending(stale[0][None, :])
                self._ready.append(entry)
            self._cond.notify_all()

    def _loop(self) -> None:
        try:
            built_at = time.monotonic()
            optimizer = self._factory()
            self._refit_s[True] = time.monotonic() - built_at
            with self._cond:
                if self._explored:
                    optimizer.add_pending(np.array(self._explored))
                self.optimizer = optimizer
                explore_left = max(self._explore_left, 0)
            # The first ask traces the acquisition function (up to 1.5 times as long as the
            # build): enough points for the workers that will be free meanwhile (exploration
            # serves them while it lasts), then that ask, untimed: its tracing says nothing of
            # what later asks cost, which _ask times.
            self._cover(1.5 * self._refit_s[True], explore_left)
            self._push(optimizer.ask(1), "lp")
            while True:
                with self._cond:
                    self._cond.wait_for(
                        lambda: self._stopped or self._arrived or len(self._ready) < self._target
                        or self._stale() is not None
                    )
                    if self._stopped:
                        return
                    arrived, self._arrived = self._arrived, []
                    wanted = self._target - len(self._ready)
                # Asks run outside the lock, so that results keep arriving meanwhile.
                self._tell(arrived)
                if wanted > 1 and not self._ready:
                    # Workers are waiting: all but one point from one Thompson sample, at once,
                    # then the Local Penalization point.
                    self._push(optimizer.ask_thompson(wanted - 1), "thompson")
                    wanted = 1
                if wanted > 0:
                    # A greedy batch shares one Lipschitz estimate; a small one keeps the next
                    # tell close. Workers that free up during the ask must not wait for it.
                    n = min(wanted, LP_BATCH)
                    if math.isfinite(self._ask_s):
                        self._cover(n * self._ask_s)
                    self._push(self._ask(optimizer, n), "lp")
                elif not arrived:
                    self._refresh(optimizer)
                if optimizer.refit_due():
                    # The same for the refit (a full one, with random restarts, takes longest).
                    full = optimizer.full_refit_due()
                    self._cover(1.5 * self._refit_s[full])
                    started = time.monotonic()
                    optimizer.refit()
                    self._refit_s[full] = time.monotonic() - started
        except BaseException as error:  # surfaced in the driver's thread by next_point/stop
            logger.exception("the model thread failed")
            with self._cond:
                self._error = error
                self._cond.notify_all()


def run_async(run: _Run, optimizer_factory: Callable[[], Any]):
    """Refill each worker as soon as its result is back, with the in-flight points pending.

    :return: The optimizer, holding every result told.
    """
    planner = _Planner(
        optimizer_factory, run.problem, run.history, run.settings.seed, capacity=run.capacity(),
        max_explore=max(1, int(run.settings.explore_fraction * run.settings.evaluations)),
    )
    planner.start()
    ac = _as_completed(list(run.in_flight))  # points resubmitted by resume, if any
    try:
        _refill(run, ac, planner, received=None)
        for future, result in ac:
            received = time.time()
            planner.observe(run.collect(future, result))
            if run.too_many_failures():
                break
            _refill(run, ac, planner, received)
            # Only now: the client holds a message to the scheduler back for 10 ms after the
            # one before it (distributed batches them), and the new point is the urgent one.
            future.release()
    finally:
        optimizer = planner.stop()
    return optimizer


def _refill(run: _Run, ac: as_completed, planner: _Planner, received: float | None) -> None:
    """Give every free worker thread a point, while the budget lasts."""
    while run.remaining > 0 and len(run.in_flight) < (capacity := run.capacity()):
        planner.capacity = capacity
        x, proposal = planner.next_point()
        ac.add(run.submit(x, proposal))
        if received is not None:
            run.dispatch_latencies_s.append(time.time() - received)
            received = None


def run_sync(run: _Run, optimizer_factory: Callable[[], Any]):
    """Send a batch as large as the worker count, wait for all of it, tell it, repeat.

    :return: The optimizer, holding every result told.
    """
    optimizer = optimizer_factory()
    received = None
    futures = list(run.in_flight)  # a batch resubmitted by resume, if any
    while futures or (run.remaining > 0 and not run.too_many_failures()):
        if not futures:
            points = optimizer.ask(min(run.capacity(), run.remaining))
            futures = [run.submit(x, "batch") for x in points]
            if received is not None:
                run.dispatch_latencies_s.append(time.time() - received)
        records, futures = run.gather(futures), []
        received = time.time()
        if any(r.ok for r in records):
            optimizer.tell(*observations(records))
            if optimizer.refit_due():
                optimizer.refit()
    return optimizer


def _connect_default(client: Client | None, workers: int) -> tuple[Client, bool]:
    if client is not None:
        return client, False
    from .cluster import connect

    return connect(n_workers=workers), True


def _drive(
    run: _Run, optimizer_factory: Callable[[], Any], started_at: float | None = None
) -> Result:
    from . import optimizer  # noqa: F401  (TensorFlow's import is start-up, not driver work)

    settings = run.settings
    if not any(e.ok for e in run.history):
        errors = "; ".join(sorted({str(e.error) for e in run.history})[:3])
        raise RunStopped(
            f"no evaluation of the initial design succeeded, so there is no data to model"
            f" (errors: {errors})"
        )
    started_at = started_at or time.time()
    if run.journal:
        run.journal.write("driver_started", started_at=started_at)
    workers = run.capacity()
    run.progress = Progress(
        settings.evaluations, run.show_progress, f"{settings.mode} {run.problem.name}",
        initial=run.submitted - len(run.in_flight),
    )
    run.publisher.publish(
        "started", mode=settings.mode, problem=run.problem.name, budget=settings.evaluations,
        workers=workers, started_at=started_at, minimum=run.problem.minimum, dim=run.problem.dim,
    )
    result = Result(
        mode=settings.mode, problem=run.problem.name, workers=workers, seed=settings.seed,
        history=run.history, started_at=started_at, minimum=run.problem.minimum,
        dispatch_latencies_s=run.dispatch_latencies_s,
    )
    try:
        with run.watch():
            loop = run_async if settings.mode == "async" else run_sync
            loop(run, optimizer_factory)
            # A run stopped early still gathers what it paid for.
            run.gather(list(run.in_flight))
        run.publisher.publish("finished", wall_s=result.wall_s)
    except (OSError, CancelledError) as error:
        # Whichever call first noticed (a submit, a count of threads), the cause is the same.
        if run.client.status == "running" and not isinstance(error, CommClosedError):
            raise
        raise SchedulerLost(f"lost the Dask scheduler at {run.scheduler_address} ({error})") from None
    finally:
        run.cancel_all()
        run.progress.close()
    if run.too_many_failures():
        result.stopped_early = f"{run.failed} evaluations failed (max_failures={settings.max_failures})"
    if run.journal:
        run.journal.write("finished", metrics=result.metrics())
    return result


def _make_optimizer(problem: Problem, settings: Settings, history: list[Evaluation], workers: int):
    from .optimizer import Optimizer

    return Optimizer(
        problem.lower, problem.upper, *observations(history),
        asynchronous=settings.mode == "async", batch_size=workers,
        refit_fraction=settings.refit_fraction,
    )


def optimize(
    problem: Problem | str,
    *,
    client: Client | None = None,
    mode: str = "async",
    evaluations: int = 30,
    initial: int = 3,
    seed: int | None = 0,
    out: str | Path | None = None,
    progress: bool = True,
    initial_data: list[Evaluation] | None = None,
    max_failures: int | None = None,
    timeout_s: float | None = None,
    workers: int = 3,
    refit_fraction: float = 0.1,
) -> Result:
    """Minimise ``problem`` on a Dask cluster.

    :param problem: A :class:`Problem` or the name of a benchmark problem.
    :param client: The cluster to run on; ``None`` starts a local one of ``workers`` processes.
    :param mode: ``"async"`` (refill each worker at once) or ``"sync"`` (whole batches).
    :param evaluations: Evaluations after the initial design.
    :param initial: Points in the initial design (ignored when ``initial_data`` is given).
    :param out: A folder for ``journal.jsonl``, ``history.csv``, ``result.json``, ``regret.png``.
    :param initial_data: Evaluations to start from instead of a new initial design.
    :return: The :class:`Result`; if the run stops early (``max_failures``), it says why in
        ``stopped_early``.
    """
    if isinstance(problem, str):
        problem = get_problem(problem)
    settings = Settings(mode, evaluations, initial, seed, max_failures, timeout_s, refit_fraction)
    client, owned = _connect_default(client, workers)
    journal = Journal(Path(out) / JOURNAL_NAME) if out is not None else None
    run = None
    try:
        if journal:
            journal.write("start", config={"settings": settings.__dict__, "problem": problem.describe()})
        history = [replace(e) for e in initial_data] if initial_data else []
        next_id = max((e.id for e in history), default=-1) + 1
        run = _Run(client, problem, settings, history, journal, progress, next_id)
        if initial_data:
            for record in history:
                if journal:
                    journal.evaluated(record)
        else:
            run.initial_design(initial, seed)
        width = run.capacity()
        told = list(history)  # the planner thread builds from a copy the driver never appends to
        result = _drive(run, lambda: _make_optimizer(problem, settings, told, width))
        if out is not None:
            result.save(out)
        return result
    finally:
        if run is not None:
            run.close()
        if journal:
            journal.close()
        if owned:
            client.close()


def compare(
    problem: Problem | str,
    *,
    client: Client | None = None,
    evaluations: int = 30,
    initial: int = 3,
    seed: int | None = 0,
    out: str | Path | None = None,
    progress: bool = True,
    workers: int = 3,
    **options: Any,
) -> dict[str, Result]:
    """Run sync, then async, from the same initial data on the same cluster.

    Writes ``out/sync/``, ``out/async/``, ``out/comparison.png`` and ``out/comparison.json``.
    """
    if isinstance(problem, str):
        problem = get_problem(problem)
    client, owned = _connect_default(client, workers)
    try:
        settings = Settings(initial=initial, seed=seed, timeout_s=options.get("timeout_s"))
        seeding = _Run(client, problem, settings, [], None, False, 0)
        try:
            seeding.initial_design(initial, seed)
        finally:
            seeding.close()
        _warm_up(problem, seeding.history, seeding.capacity())
        results = {}
        for mode in ("sync", "async"):
            results[mode] = optimize(
                problem, client=client, mode=mode, evaluations=evaluations, seed=seed,
                out=None if out is None else Path(out) / mode, progress=progress,
                initial_data=seeding.history, **options,
            )
        if out is not None:
            save_comparison(results, Path(out))
        return results
    finally:
        if owned:
            client.close()


def _warm_up(problem: Problem, history: list[Evaluation], workers: int) -> None:
    """Trace TensorFlow's functions once, untimed, so that neither mode's clock includes the
    process's one-off tracing (the first run would pay it, not the second)."""
    if not any(e.ok for e in history):
        return  # nothing to model: the runs themselves say so
    for mode in MODES:
        settings = Settings(mode=mode)
        _make_optimizer(problem, settings, history, workers).ask(1 if mode == "async" else workers)


def save_comparison(results: dict[str, Result], out: Path) -> None:
    import json

    from .plotting import plot_comparison

    out.mkdir(parents=True, exist_ok=True)
    summary = {mode: r.metrics() for mode, r in results.items()}
    if "sync" in results and "async" in results and summary["async"]["wall_s"]:
        summary["speedup"] = summary["sync"]["wall_s"] / summary["async"]["wall_s"]
    (out / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_comparison(results, out / "comparison.png")


def resume(
    out: str | Path,
    *,
    client: Client | None = None,
    objective: Callable | None = None,
    progress: bool = True,
    workers: int = 3,
) -> Result:
    """Continue an interrupted run from its journal and finish its original budget.

    Every evaluation the journal recorded is kept; the points that were in flight are sent
    again under their own ids.

    :param objective: The objective, for runs of a Python function the journal cannot name.
    """
    out = Path(out)
    events = read_journal(out)
    config, history, in_flight = journal_state(events)
    settings = Settings(**config["settings"])
    problem = problem_from_description(config["problem"], objective)
    client, owned = _connect_default(client, workers)
    journal = Journal(out / JOURNAL_NAME)
    run = None
    try:
        journal.write("resumed", in_flight=[s["id"] for s in in_flight])
        ids = [e.id for e in history] + [s["id"] for s in in_flight]
        run = _Run(client, problem, settings, history, journal, progress, max(ids, default=-1) + 1)
        initial_left = [s for s in in_flight if s["proposal"] == INITIAL]
        driven_left = [s for s in in_flight if s["proposal"] != INITIAL]
        if initial_left:
            with run.watch():
                run.gather([run.submit(np.array(s["x"]), INITIAL, s["id"]) for s in initial_left])
        if not any(e.proposal == INITIAL for e in history):
            run.initial_design(settings.initial, settings.seed)
        driver_starts = [e for e in events if e["event"] == "driver_started"]
        started_at = driver_starts[0]["started_at"] if driver_starts else None
        width = run.capacity()

        told = list(run.history)
        for s in driven_left:
            run.submit(np.array(s["x"], dtype=np.float64), s["proposal"], s["id"])

        def rebuild():
            optimizer = _make_optimizer(problem, settings, told, width)
            if driven_left:
                optimizer.add_pending(np.array([s["x"] for s in driven_left], dtype=np.float64))
            return optimizer

        result = _drive(run, rebuild, started_at)
        result.save(out)
        return result
    finally:
        if run is not None:
            run.close()
        journal.close()
        if owned:
            client.close()


def problem_from_description(description: dict[str, Any], objective: Callable | None = None) -> Problem:
    """Rebuild a :class:`Problem` from :meth:`Problem.describe`."""
    spec = description.get("spec")
    delay_scale = description.get("delay_scale", 0.0)
    if objective is None and spec is not None and ":" not in spec:
        return get_problem(spec, delay_scale)
    if objective is None:
        if spec is None:
            raise ValueError(
                "the journal's objective was a Python function: pass it again (objective=...)"
            )
        objective = load_objective(spec)
    return Problem(
        objective=objective, lower=description["lower"], upper=description["upper"],
        name=description["name"], minimum=description.get("minimum"),
        batch=description.get("batch"), delay_scale=delay_scale, spec=spec,
    )
