"""The Dask side of a run: a client from whatever the user has, submitting evaluations,
turning finished futures into records, following the threads present, restarting the worker
of a late evaluation.

Only this module and :mod:`dask_bo.cluster` (with :mod:`dask_bo.embedded`, the cluster it starts)
talk to Dask.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import CancelledError
from typing import Any, Callable

from distributed import Client, Future, as_completed
from distributed.client import ClosedClientError

from .records import Evaluation
from .worker import EvaluationFailed, ProblemPlugin, evaluation_task

logger = logging.getLogger("dask_bo")


def _wake() -> None:
    """The task behind the loop's wake-ups (:meth:`Backend.follow_workers`, :meth:`Backend.wake`)."""


class RunStopped(RuntimeError):
    """The run could not go on; what it had gathered is in its journal."""


class SchedulerLost(RunStopped):
    """The client lost its scheduler; Dask cancelled every future in flight."""


class Backend:
    """Runs one run's evaluations on a cluster.

    The problem reaches each worker once, through a worker plugin (workers that join later
    get it too), so an objective that closes over large data costs nothing per evaluation.

    :param client: The cluster's client.
    :param problem: What is evaluated.
    :param run_id: Names the run's tasks (``objective-<id>-<run>``) and plugin.
    :param eval_timeout_s: Passed to each evaluation, which enforces it on its worker.
    :param clock: Unix time, injectable for tests.
    """

    def __init__(
        self, client: Client, problem: Any, run_id: str, eval_timeout_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.client = client
        self.run_id = run_id
        self.eval_timeout_s = eval_timeout_s
        self.clock = clock
        self.address = client.scheduler.address
        self.plugin = f"dask-bo-problem-{run_id}"
        self._guard(lambda: client.register_plugin(ProblemPlugin(self.plugin, problem)))
        self._threads: tuple[float, int] = (-1.0, 0)
        self.threads_over_time: list[tuple[float, int]] = []
        """``(unix time, worker threads)`` at each change seen, for honest utilization."""
        self._on_change: Callable[[Future], None] | None = None
        self._following = threading.Lock()  # a wake-up from another thread is never handed to a loop gone

    def _guard(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (OSError, RuntimeError, CancelledError, ClosedClientError) as error:  # CommClosedError, closed pool
            if self.client.status == "running" and not isinstance(error, (OSError, ClosedClientError)):
                raise
            raise SchedulerLost(f"lost the Dask scheduler at {self.address}") from None

    def threads(self) -> int:
        """Worker threads present now (asked at most every half second), at least 1."""
        checked_at, threads = self._threads
        now = time.monotonic()
        if now - checked_at > 0.5:
            threads = self._guard(lambda: sum(self.client.nthreads().values()))
            self._threads = (now, threads)
            if not self.threads_over_time or self.threads_over_time[-1][1] != threads:
                self.threads_over_time.append((self.clock(), threads))
        return max(threads, 1)

    def follow_workers(self, wake: Callable[[Future], None]) -> None:
        """Call ``wake(future)`` with a finished future whenever a worker joins or leaves, so
        that a loop waiting for results fills new threads at once: a new worker would
        otherwise get work only when some result came back."""
        self._on_change = wake
        self.client.subscribe_topic("all", self._worker_event)

    def _worker_event(self, event: tuple[float, dict]) -> None:  # on the client's event loop
        msg = event[1] if isinstance(event, tuple) and len(event) == 2 else {}
        action = msg.get("action") if isinstance(msg, dict) else None
        if action not in ("add-worker", "remove-worker") or self._on_change is None:
            return
        self._threads = (-1.0, self._threads[1])  # count the threads again
        restriction = {"workers": [msg["worker"]]} if action == "add-worker" and msg.get("worker") else {}
        with self._following:
            if self._on_change is not None:
                self._on_change(self._wake_up(allow_other_workers=True, **restriction))

    def wake(self) -> None:
        """From any thread: wake the loop waiting for results (a finished future that is no
        evaluation), so that it fills what is free now; nothing before :meth:`follow_workers`."""
        with self._following:
            if self._on_change is None:
                return
            try:
                self._on_change(self._wake_up())
            except Exception as error:  # the run is ending: there is nothing left to wake
                logger.debug("no wake-up: %r", error)

    def unfollow_workers(self, completed: as_completed | None = None) -> None:
        """No more wake-ups, and those still in ``completed`` are let go: none outlives a run."""
        with self._following:
            following, self._on_change = self._on_change is not None, None
        if following and self.client.status == "running":
            try:
                self.client.unsubscribe_topic("all")
            except Exception as error:
                logger.debug("could not unsubscribe: %r", error)
        if completed is not None:
            left = list(completed.futures)
            while completed.has_ready():
                left += [future for future, _ in completed.next_batch(block=False)]
            completed.clear()
            for future in left:
                future.release()

    def _wake_up(self, **restrictions: Any) -> Future:
        # First in the scheduler's queue: a thread that frees up runs it before a waiting point.
        return self.client.submit(_wake, key=f"dask-bo-wake-{uuid.uuid4().hex[:8]}", pure=False,
                                  priority=100, **restrictions)

    def submit(self, x: list[float], eval_id: int, proposal: str, submitted_at: float) -> Future:
        return self._guard(lambda: self.client.submit(
            evaluation_task, self.plugin, x, eval_id, submitted_at, proposal, self.eval_timeout_s,
            key=f"objective-{eval_id}-{self.run_id}", pure=False,
        ))

    def completed(self, futures: list[Future] = ()) -> as_completed:
        """Yields ``(future, result)`` as each finishes, the result fetched on the client's
        event loop (an error or cancellation is read from the future itself)."""
        return as_completed(list(futures), with_results=True, raise_errors=False)

    def record(self, future: Future, result: Any, pending: dict[str, Any]) -> Evaluation:
        """The record of a finished future; Dask's own failures become ``lost``.

        :param pending: The submission (``id``, ``x``, ``proposal``, ``submitted_at``).
        :raise SchedulerLost: The future was cancelled because the scheduler is gone.
        """
        if future.status == "finished":
            record = result
        elif future.status == "error" and isinstance(future.exception(), EvaluationFailed):
            record = future.exception().record
        elif future.status == "cancelled" and self.client.status != "running":
            raise SchedulerLost(f"lost the Dask scheduler at {self.address}")
        else:
            error = future.exception() if future.status == "error" else None
            record = Evaluation(
                id=pending["id"], x=tuple(pending["x"]), y=None, status="lost",
                proposal=pending["proposal"], submitted_at=pending["submitted_at"],
                finished_at=self.clock(),
                error=f"{type(error).__name__}: {error}" if error is not None else "cancelled by Dask",
                params=pending.get("params"),
            )
        if record.status == "timeout" and record.worker:
            self.restart(record.worker)
        return record

    def restart(self, worker: str) -> None:
        """Restart ``worker`` through its nanny, without waiting: its thread still runs a late
        evaluation, which a cancelled Dask task would not stop."""

        async def restart() -> None:
            try:
                await self.client.scheduler.restart_workers(
                    workers=[worker], timeout=60, on_error="return",
                    stimulus_id=f"dask-bo-timeout-{time.time()}",
                )
            except Exception as error:  # a worker without a nanny cannot be restarted
                logger.warning("could not restart worker %s (%r): its thread stays busy", worker, error)

        self.client.loop.add_callback(restart)

    def cancel(self, futures: list[Future]) -> None:
        if futures and self.client.status == "running":
            try:
                self.client.cancel(futures)
            except Exception as error:  # the run is ending: nothing left to save
                logger.debug("could not cancel %d futures: %r", len(futures), error)

    def close(self) -> None:
        self.unfollow_workers()
        if self.client.status == "running":
            try:
                self.client.unregister_worker_plugin(self.plugin)
            except Exception as error:
                logger.debug("could not unregister %s: %r", self.plugin, error)
