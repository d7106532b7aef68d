"""Worker-side evaluation: call the objective at one point, time it, validate what it returns.

Runs on Dask workers, so it imports neither TensorFlow nor trieste. A run installs its
problem once per worker with :class:`ProblemPlugin` and submits :func:`evaluation_task` with
the plugin's name, so that a large objective (a closure over big arrays) is not shipped
with every evaluation.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from typing import Any

import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin

from .problems import Problem, as_finite_number

from .records import Evaluation

__all__ = [
    "evaluate", "evaluation_task", "EvaluationFailed", "ProblemPlugin", "call_objective",
    "as_finite_number",
]

_HAS_PARAMS = "params" in {f.name for f in dataclasses.fields(Evaluation)}


def call_objective(problem: Problem, x: np.ndarray) -> float:
    """The objective's value at ``x``, whichever form the objective has (:meth:`Problem.value`).

    :param problem: Whose objective.
    :param x: [dim] one point.
    :raise ValueError: If the objective gives no single finite number.
    """
    return problem.value(x)


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:
        return None


def _run(problem: Problem, x: np.ndarray) -> tuple[float | None, str | None, str | None]:
    """The delay model, then the objective: ``(y, error, traceback)``; never raises."""
    try:
        delay = problem.delay_s(x)
        if delay > 0:
            time.sleep(delay)
        return call_objective(problem, x), None, None
    except Exception as exc:  # the driver decides what a failure means
        return None, f"{type(exc).__name__}: {exc}", traceback.format_exc()


def _run_with_timeout(problem: Problem, x: np.ndarray, timeout_s: float) -> tuple | None:
    """:func:`_run` on a daemon thread; ``None`` if it is still running after ``timeout_s``.

    Python cannot stop the thread: the driver restarts the worker (it may hold locks or
    resources the objective took)."""
    outcome: list[tuple] = []
    thread = threading.Thread(
        target=lambda: outcome.append(_run(problem, x)), name="dask-bo-objective", daemon=True
    )
    thread.start()
    thread.join(timeout_s)
    return outcome[0] if outcome else None


def _record(
    problem: Problem | None, x: Any, eval_id: int, submitted_at: float | None, proposal: str,
    **fields: Any,
) -> Evaluation:
    if _HAS_PARAMS and problem is not None:
        try:
            fields["params"] = problem.params(np.asarray(x, dtype=np.float64))
        except Exception:  # a point outside the space: the evaluation's error says so
            fields["params"] = None
    return Evaluation(
        id=eval_id, x=tuple(float(v) for v in x), proposal=proposal, worker=_worker_address(),
        submitted_at=submitted_at, **fields,
    )


def evaluate(
    problem: Problem, x: Any, eval_id: int, submitted_at: float | None, proposal: str,
    timeout_s: float | None = None,
) -> Evaluation:
    """Evaluate ``problem`` at ``x`` and return the record; never raises.

    ``x`` comes back in the record unchanged, so the driver can match it bit for bit against
    the point it asked for.

    :param problem: What to evaluate.
    :param x: [dim] the point, in the parameters' own units.
    :param eval_id: The record's id.
    :param submitted_at: When the driver submitted it (Unix time), kept in the record.
    :param proposal: What proposed the point (see ``PROPOSALS``), kept in the record.
    :param timeout_s: If given, the evaluation runs on a thread of its own and a record with
        status ``timeout`` comes back once it has run ``timeout_s`` seconds (measured here,
        from its start); an evaluation that finished in time is never a timeout.
    """
    point = np.array(x, dtype=np.float64)
    started_at = time.time()
    start = time.perf_counter()
    if timeout_s is None:
        outcome = _run(problem, point)
    else:
        outcome = _run_with_timeout(problem, point, timeout_s)
    duration = time.perf_counter() - start
    times = dict(started_at=started_at, finished_at=started_at + duration, duration_s=duration)
    if outcome is None:
        return _record(
            problem, x, eval_id, submitted_at, proposal, y=None, status="timeout", **times,
            error=(
                f"the objective was still running after {timeout_s:g} s (the evaluation"
                " timeout); its worker will be restarted"
            ),
        )
    y, error, tb = outcome
    status = "ok" if error is None else "failed"
    return _record(
        problem, x, eval_id, submitted_at, proposal, y=y, status=status, error=error,
        traceback=tb, **times,
    )


class EvaluationFailed(Exception):
    """Raised by :func:`evaluation_task` for an evaluation that is not ``ok``, so that Dask
    shows the task as failed (red in the task stream); the record travels with it."""

    def __init__(self, record: Evaluation):
        super().__init__(record.error)
        self.record = record

    def __reduce__(self):
        return EvaluationFailed, (self.record,)


class ProblemPlugin(WorkerPlugin):
    """Keeps a run's problem on every worker, present and future: registered once with
    ``client.register_plugin(plugin)``, it is pickled once (the scheduler sends the same
    bytes to each worker) and unpickled once per worker, so tasks carry only its ``name``.

    :param name: The plugin's name (``worker.plugins[name]``), unique per run, which tasks
        pass to :func:`evaluation_task`.
    :param problem: The problem the run evaluates.
    """

    def __init__(self, name: str, problem: Problem):
        import cloudpickle

        if not isinstance(name, str) or not name:
            raise TypeError(f"ProblemPlugin(name, problem) expects a name first, got {name!r}")
        self.name = name
        self._payload: bytes | None = cloudpickle.dumps(problem)
        self._problem: Problem | None = None

    def __getstate__(self) -> dict[str, Any]:
        payload = self._payload
        if payload is None:  # loaded on a worker, which dropped the bytes
            import cloudpickle

            payload = cloudpickle.dumps(self._problem)
        return {"name": self.name, "_payload": payload, "_problem": None}

    def setup(self, worker: Any) -> None:
        """Load the problem on ``worker`` (Dask calls this as the plugin arrives).

        :param worker: The :class:`distributed.Worker`.
        """
        # Unpickled here, a problem the worker cannot load fails client.register_plugin with
        # the reason, instead of every evaluation failing to deserialize.
        try:
            self.problem  # noqa: B018
        except Exception as error:
            raise ImportError(
                f"worker {worker.address} cannot load the problem ({type(error).__name__}:"
                f" {error}); install the objective's module on the workers, or give the"
                f" objective as path/to/file.py:FUNCTION (shipped by value)"
            ) from None
        self._payload = None  # the worker keeps the problem, not a second copy in bytes

    @property
    def problem(self) -> Problem:
        """The problem, unpickled on first use."""
        if self._problem is None:
            import pickle

            self._problem = pickle.loads(self._payload)
        return self._problem


def _installed_problem(name: str) -> Problem:
    from distributed import get_worker

    plugins = get_worker().plugins
    if not isinstance(plugins.get(name), ProblemPlugin):
        raise LookupError(
            f"no dask_bo problem plugin {name!r} on this worker; register the run's"
            f" ProblemPlugin (client.register_plugin) before submitting its evaluations"
        )
    return plugins[name].problem


def evaluation_task(
    problem: Problem | str, x: Any, eval_id: int, submitted_at: float | None, proposal: str,
    timeout_s: float | None = None,
) -> Evaluation:
    """What the drivers submit: :func:`evaluate`, with a failure raised as
    :class:`EvaluationFailed` (carrying the full record) so that the dashboard shows it.

    :param problem: The problem itself, or the name of a :class:`ProblemPlugin` that holds it.
    :param x: [dim] the point.
    :param eval_id: The record's id.
    :param submitted_at: When the driver submitted it (Unix time).
    :param proposal: What proposed the point.
    :param timeout_s: The evaluation's time limit on the worker (see :func:`evaluate`).
    :raise EvaluationFailed: The evaluation is not ``ok``; its record travels with it.
    """
    if isinstance(problem, str):
        try:
            problem = _installed_problem(problem)
        except Exception as exc:
            record = _record(
                None, x, eval_id, submitted_at, proposal, y=None, status="failed",
                error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
            )
            raise EvaluationFailed(record) from None
    record = evaluate(problem, x, eval_id, submitted_at, proposal, timeout_s)
    if not record.ok:
        raise EvaluationFailed(record)
    return record
