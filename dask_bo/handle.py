"""start and RunHandle: a run in a thread of its own, stopped from another thread or cell."""

from __future__ import annotations

import threading
from typing import Any

from .api import optimize
from .stop import StopSignal
from .problems import Problem
from .result import Result

__all__ = ["start", "RunHandle"]


class RunHandle:
    """A run going on in a thread of its own (from :func:`start`): stop it from another
    thread or notebook cell, and collect its result.

    The run starts as the handle is made; :func:`start` is the usual way to make one.

    :param problem: What to optimize, as for :func:`optimize`: a :class:`~dask_bo.Problem`
        or the name of a benchmark problem.
    :param options: :func:`optimize`'s keyword arguments (``client``, ``evaluations``,
        ``out``, ...), but ``stop``: the handle has its own, which :meth:`stop` sets.
    """

    def __init__(self, problem: Problem | str, options: dict[str, Any]):
        self._stop = StopSignal()
        self._result: Result | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(problem, options), name="dask-bo-run", daemon=True)
        self._thread.start()

    def _run(self, problem, options) -> None:
        try:
            self._result = optimize(problem, stop=self._stop, **options)
        except BaseException as error:  # handed to whoever asks for the result
            self._error = error

    def stop(self) -> None:
        """Send no new point, cancel those in flight (``resume`` can send them again)."""
        self._stop.set()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout_s: float | None = None) -> Result:
        """Wait for the run (at most ``timeout_s``) and return its :class:`~dask_bo.Result`.

        :param timeout_s: Seconds to wait at most (``None``: until the run ends).
        :raise TimeoutError: The run is still going after ``timeout_s``; it goes on, and
            ``result`` can be called again.
        :raise Exception: Whatever :func:`optimize` raised in the run's thread (a bad option,
            :class:`RunStopped`, ...), raised again here.
        """
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"the run is still going after {timeout_s} s")
        if self._error is not None:
            raise self._error
        return self._result


def start(problem: Problem | str, **options: Any) -> RunHandle:
    """:func:`optimize` in a background thread, for a notebook or a program that goes on
    while the run does.

    :param problem: What to optimize, as for :func:`optimize`.
    :param options: :func:`optimize`'s keyword arguments, but ``stop``
        (:meth:`RunHandle.stop` stops the run).
    :return: A :class:`RunHandle`: :meth:`~RunHandle.stop` it, or wait for its
        :meth:`~RunHandle.result`.
    """
    return RunHandle(problem, options)
