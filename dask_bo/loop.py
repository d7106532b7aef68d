"""The one driver loop, for both modes: collect -> tell -> stop? -> suggest -> submit.

What runs next is the proposer's business (:mod:`dask_bo.design`: the initial design, then
the model's prefetcher in asynchronous mode or whole batches in synchronous mode); where it
runs is the backend's (:mod:`dask_bo.backend`); side effects (journal, dashboard, progress,
callbacks) happen here, in one place, as do dispatch latency, failure counting and stopping.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import dask
from dask.utils import parse_timedelta
from distributed import Future

from . import capacity
from .backend import Backend, RunStopped
from .config import Settings
from .events import Event
from .records import INITIAL, Evaluation
from .result import Result
from .stop import StopSignal

logger = logging.getLogger("dask_bo")

Callback = Callable[[Evaluation, Result], Any]


class RunInterrupted(RunStopped):
    """Ctrl-C or SIGTERM stopped the run: the points in flight were cancelled, and the
    journal holds everything else (``resume`` sends those points again)."""


@dataclass
class Proposal:
    """A point to evaluate: ``x`` in the parameters' own coordinates [D]."""

    x: list[float]
    proposal: str
    token: Any = None
    id: int | None = None  # a resubmitted point keeps its id


class Proposer(Protocol):
    waiting: bool  # the last suggest stopped short for a point that is coming (a wake-up follows)

    def suggest(self, n: int, wait: bool) -> list[Proposal]: ...  # wait: nothing else to do
    def tell(self, proposal: Proposal, record: Evaluation) -> None: ...
    def interrupt(self) -> None: ...  # from any thread: suggest must not wait any more


@dataclass
class _Sent:
    proposal: Proposal
    fields: dict[str, Any] = field(default_factory=dict)


class Loop:
    """Drives one run until its budget is spent or a stopping rule says so.

    :param backend: Where evaluations run.
    :param proposer: What to evaluate next.
    :param settings: Budget and stopping rules.
    :param result: The run's result, whose history grows as results arrive.
    :param write: Journals an event (a no-op without ``--out``).
    :param publish: Publishes an event to the dashboard.
    :param progress: The progress bar.
    :param callbacks: Each called with every record and the result so far; one that
        returns a true value stops the run.
    :param stop_requested: Set from another thread to stop the run cleanly.
    :param next_id: The id of the next new evaluation.
    :param clock: Unix time, injectable for tests.
    :param driver: The fields of the ``driver_started`` event, journalled with the first point
        the driver chooses (the run's clock starts there, unless ``resumed``).
    """

    def __init__(
        self, backend: Backend, proposer: Proposer, settings: Settings, result: Result, *,
        write: Callable[..., None], publish: Callable[..., None], progress: Any,
        callbacks: tuple[Callback, ...] = (), stop_requested: StopSignal | None = None,
        next_id: int = 0, clock: Callable[[], float] = time.time,
        driver: dict[str, Any] | None = None, resumed: bool = False,
    ):
        self.backend, self.proposer, self.settings, self.result = backend, proposer, settings, result
        self.write, self.publish, self.progress = write, publish, progress
        self.callbacks = tuple(callbacks)
        self.stop_requested = stop_requested or StopSignal()
        self.stop_requested.listen(self._cancel_in_flight)
        self.stop_requested.listen(proposer.interrupt)
        self.next_id = next_id
        self.clock = clock
        self.in_flight: dict[Future, _Sent] = {}
        driven = result.driven
        self.submitted = len(driven)
        self.failed = sum(not e.ok for e in driven)
        best = result.best
        self._best_y = best.y if best is not None else None  # kept per record: the history is long
        self.stopped_early: str | None = None
        self._threads_written = 0
        self._driver = driver or {}  # what the driver_started event says of the run
        self._driver_started = False
        self._resumed = resumed  # the run's clock started with an earlier driver
        self._completed = backend.completed()
        self._owed: deque[float] = deque()  # when results came whose slots the proposer left free
        self._durations: deque[float] = deque(maxlen=32)  # the latest evaluations', s
        self._target_duration_s = parse_timedelta(dask.config.get("distributed.adaptive.target-duration"))

    @property
    def remaining(self) -> int:
        """Evaluations of the budget not yet sent."""
        return self.settings.evaluations - self.submitted

    def run(self, first: list[Proposal] = ()) -> None:
        """Drive until the budget is spent or a stopping rule holds, then gather what is in
        flight. ``first`` go out at once: the initial design, and points that were in flight
        when an earlier driver stopped (under their own ids)."""
        try:
            for proposal in first:
                self._send(proposal)
            self.stopped_early = self._stop_reason()
            self._refill(received=None)
            self.backend.follow_workers(self._completed.add)
            for future, value in self._completed:
                received = self.clock()
                sent = self.in_flight.pop(future, None)
                if sent is None:  # a worker joined or left: fill what is free now
                    future.release()
                    self._refill(received=None)
                    if not self.in_flight:
                        break
                    continue
                if future.status == "cancelled" and self.stop_requested.is_set():
                    self.stopped_early = self.stopped_early or self._stop_reason()
                    if not self.in_flight:
                        break
                    continue  # not an outcome: the journal keeps it in flight
                record = self.backend.record(future, value, sent.fields)
                self._record(record)
                if not any(s.proposal.proposal == INITIAL for s in self.in_flight.values()):
                    self._start_driver(received)
                self.proposer.tell(sent.proposal, record)
                by_callback = self._callbacks(record)
                self.stopped_early = self.stopped_early or by_callback or self._stop_reason()
                self._refill(received)
                self.progress.update(record, len(self.in_flight), counted=record.proposal != INITIAL)
                # Only now: the client holds a message back for 10 ms after the one before it,
                # and the new point is the urgent one.
                future.release()
                if not self.in_flight:
                    break  # wake-ups still pending must not keep the loop waiting
        except KeyboardInterrupt:
            self.backend.cancel(list(self.in_flight))
            self.write(Event.INTERRUPTED, reason="interrupted (Ctrl-C or SIGTERM)",
                       in_flight=[s.fields["id"] for s in self.in_flight.values()])
            self.in_flight.clear()
            raise RunInterrupted("interrupted") from None
        finally:
            if self.in_flight:
                self.backend.cancel(list(self.in_flight))
                self.in_flight.clear()
            self.backend.unfollow_workers(self._completed)

    def _cancel_in_flight(self) -> None:
        while True:
            try:
                futures = list(self.in_flight)
                break
            except RuntimeError:  # the loop's thread changed it meanwhile
                continue
        self.backend.cancel(futures)

    # -- phases ------------------------------------------------------------------------
    def _callbacks(self, record: Evaluation) -> str | None:
        """Call every callback with ``record``; :return: why one stops the run, if one does."""
        reason = None
        for callback in self.callbacks:
            name = getattr(callback, "__name__", repr(callback))
            try:
                if callback(record, self.result):
                    reason = reason or f"stopped by callback {name}"
            except Exception as error:
                logger.warning("callback %s raised %r: stopping the run", name, error)
                reason = reason or f"callback {name} raised {error!r}"
        return reason

    def _stop_reason(self) -> str | None:
        s = self.settings
        if self.stop_requested.is_set():
            return "stopped on request"
        if s.max_failures is not None and self.failed >= s.max_failures:
            return f"{self.failed} evaluations failed (max_failures={s.max_failures})"
        if s.reached(self._best_y):
            return f"reached the target {s.target:g} (best {self._best_y:g})"
        if s.max_time_s is not None and self.clock() - self.result.started_at >= s.max_time_s:
            return f"ran for max_time_s={s.max_time_s:g} s"
        return None

    def _slots(self) -> int:
        threads = self.backend.threads()
        changes = self.backend.threads_over_time
        for _, count in changes[self._threads_written:]:
            self.write(Event.CAPACITY, threads=count)
            self.publish(Event.CAPACITY, threads=count)
        self._threads_written = len(changes)
        return capacity.in_flight_limit(
            threads, self.settings.max_in_flight, waiting=self.settings.mode == "async",
            growing=capacity.grown(changes),
            mean_duration_s=sum(self._durations) / len(self._durations) if self._durations else None,
            target_duration_s=self._target_duration_s,
        )

    def _refill(self, received: float | None) -> None:
        """Give every free slot a point while the budget lasts and no stopping rule holds."""
        while self.stopped_early is None and self.remaining > 0:
            free = self._slots() - len(self.in_flight)
            if free <= 0:
                return
            # With nothing in flight no result can come: wait for the proposer's point.
            proposals = self.proposer.suggest(min(free, self.remaining), wait=not self.in_flight)
            if not proposals:
                if received is not None and self.proposer.waiting:
                    self._owed.append(received)  # its slot is filled at a wake-up: time it then
                self.stopped_early = self._stop_reason()  # a stop request ends a wait
                return
            for proposal in proposals:
                self._send(proposal)
                if received is None and self._owed:
                    received = self._owed.popleft()
                if received is not None:
                    self.result.dispatch_latencies_s.append(self.clock() - received)
                    received = None
            if self.settings.max_time_s is not None:
                self.stopped_early = self._stop_reason()

    def _start_driver(self, at: float) -> None:
        """The driver's clock starts at its first point, or once the initial design is back
        if that comes first (the model's build and first ask are the driver's work)."""
        if self._driver_started:
            return
        self._driver_started = True
        if not self._resumed:
            self.result.started_at = at
        self.write(Event.DRIVER_STARTED, started_at=at, **self._driver)
        self.publish(Event.DRIVER_STARTED, started_at=at, **self._driver)

    def _send(self, proposal: Proposal) -> None:
        if proposal.id is None:
            proposal.id, self.next_id = self.next_id, self.next_id + 1
        submitted_at = self.clock()
        future = self.backend.submit(proposal.x, proposal.id, proposal.proposal, submitted_at)
        fields = {"id": proposal.id, "x": list(proposal.x), "proposal": proposal.proposal,
                  "submitted_at": submitted_at}
        space = self.result.space
        if space is not None and not space.is_box:
            fields["params"] = space.to_params(proposal.x)
        self.in_flight[future] = _Sent(proposal, fields)
        self._completed.add(future)
        if proposal.proposal != INITIAL:
            self.submitted += 1
            self._start_driver(submitted_at)
        self.write(Event.SUBMITTED, **fields)
        self.publish(Event.SUBMITTED, **fields)

    def _record(self, record: Evaluation) -> None:
        self.result.history.append(record)
        if record.duration_s is not None:
            self._durations.append(record.duration_s)
        self.write(Event.EVALUATED, **record.to_dict())
        self.publish(Event.EVALUATED, **{k: v for k, v in record.to_dict().items() if k != "traceback"})
        if record.proposal != INITIAL:
            self.failed += not record.ok
        if record.ok and record.y is not None:
            pick = max if self.result.direction == "maximize" else min
            self._best_y = record.y if self._best_y is None else pick(self._best_y, record.y)
        if not record.ok:
            where = record.params if record.params is not None else list(record.x)
            logger.warning("evaluation %d at %s %s: %s", record.id, where, record.status, record.error)
