"""Worker-side evaluation: call the objective at one point, time it, validate what it returns.

Runs on Dask workers, so it imports neither TensorFlow nor trieste.
"""

from __future__ import annotations

import math
import time
import traceback
from typing import Any

import numpy as np

from .history import Evaluation
from .problems import Problem

_SHAPE_ERRORS = (IndexError, ValueError, TypeError)


def call_objective(problem: Problem, x: np.ndarray) -> float:
    """The objective's value at ``x`` [D], whichever form the objective has.

    :raise ValueError: If the objective gives no single finite number.
    """
    f = problem.objective
    if problem.batch is True:
        value = f(x[None, :])
    elif problem.batch is False:
        value = f(x)
    else:
        # The plain form first: trieste's batch objectives accept a 1-D point too.
        try:
            value = f(x.copy())
            if np.size(value) != 1:
                raise ValueError(f"got {np.size(value)} values")
        except _SHAPE_ERRORS:
            value = f(x[None, :].copy())
    return as_finite_number(value)


def as_finite_number(value: Any) -> float:
    """``value`` as a float if it holds one finite real number, else a ValueError naming it."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.dtype.kind not in "iuf":  # bools, strings, None and objects are no numbers
        raise ValueError(f"objective returned {value!r}, expected a number")
    if array.size != 1:
        raise ValueError(
            f"objective returned shape {array.shape}, expected one number (a float or [1, 1])"
        )
    number = float(array.reshape(()).astype(np.float64))
    if not math.isfinite(number):
        raise ValueError(f"objective returned {number}, expected a finite number")
    return number


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:
        return None


def evaluate(
    problem: Problem, x: np.ndarray, eval_id: int, submitted_at: float, proposal: str
) -> Evaluation:
    """Evaluate ``problem`` at ``x`` [D] and return the record; never raises.

    ``x`` comes back in the record unchanged, so the driver can match it bit for bit against
    the point it asked for.
    """
    started_at = time.time()
    start = time.perf_counter()
    y, status, error, tb = None, "ok", None, None
    try:
        delay = problem.delay_s(x)
        if delay > 0:
            time.sleep(delay)
        y = call_objective(problem, np.array(x, dtype=np.float64))
    except Exception as exc:  # the driver decides what a failure means
        status = "failed"
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc()
    duration = time.perf_counter() - start
    return Evaluation(
        id=eval_id,
        x=tuple(float(v) for v in x),
        y=y,
        status=status,
        proposal=proposal,
        worker=_worker_address(),
        submitted_at=submitted_at,
        started_at=started_at,
        finished_at=started_at + duration,
        duration_s=duration,
        error=error,
        traceback=tb,
    )


class EvaluationFailed(Exception):
    """Raised by :func:`evaluation_task` for an evaluation that is not ``ok``, so that Dask
    shows the task as failed (red in the task stream); the record travels with it."""

    def __init__(self, record: Evaluation):
        super().__init__(record.error)
        self.record = record

    def __reduce__(self):
        return EvaluationFailed, (self.record,)


def evaluation_task(
    problem: Problem, x: np.ndarray, eval_id: int, submitted_at: float, proposal: str
) -> Evaluation:
    """What the drivers submit: :func:`evaluate`, with a failure raised as
    :class:`EvaluationFailed` (carrying the full record) so that the dashboard shows it."""
    record = evaluate(problem, x, eval_id, submitted_at, proposal)
    if not record.ok:
        raise EvaluationFailed(record)
    return record
