"""optimize and resume: wire the parts, run the loop, save what it produced."""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

from .backend import Backend, RunStopped, SchedulerLost
from .config import DEFAULT_RULE, Settings, settings_from_options
from .design import Design, import_model_stack, strategy_factory
from .events import Event, replay
from .journal import Journal, check_writable, read_journal
from .loop import Loop, RunInterrupted
from .stop import StopSignal
from .problems import Problem, get_problem, problem_from_description
from .progress import Progress, Publisher
from .records import INITIAL, Evaluation
from .result import Result
from .warm import load_initial_data

__all__ = ["optimize", "resume", "RunStopped", "RunInterrupted", "SchedulerLost"]

logger = logging.getLogger("dask_bo")


def _warm_imports() -> None:
    try:
        import_model_stack()
    except Exception as error:  # the model's own build reports it
        logger.debug("importing the model stack failed: %r", error)


def _client(client: Any, workers: int):
    from .cluster import as_client

    return as_client(client, workers)


def _drive(
    client, problem: Problem, settings: Settings, history: list[Evaluation], journal: Journal | None,
    *, run_id: str, progress: bool, callbacks: Iterable, stop: StopSignal | None,
    initial: int, in_flight: list[dict] = (), started_at: float | None = None, paused_s: float = 0.0,
    threads_before: list = (),
) -> Result:
    """Run the loop on ``client`` and return the result (saved by the caller)."""
    write = journal.write if journal is not None else (lambda *a, **k: None)
    publisher = Publisher(client, run_id)
    backend = Backend(client, problem, f"{run_id}{uuid.uuid4().hex[:4]}", settings.eval_timeout_s)
    result = Result(
        mode=settings.mode, problem=problem.name, workers=backend.threads(), seed=settings.seed,
        history=list(history), started_at=started_at or backend.clock(), minimum=problem.minimum,
        rule=settings.rule, direction=settings.direction, space=problem.space,
        threads=list(threads_before), paused_s=paused_s,
    )
    driven_done = len(result.driven)
    bar = Progress(settings.evaluations, progress, f"{settings.mode} {problem.name}",
                   initial=driven_done - sum(s["proposal"] != INITIAL for s in in_flight))
    design = Design(problem.space, settings, history, strategy_factory(problem.space, settings, backend.threads),
                    backend.threads, in_flight=in_flight, wake=backend.wake)
    info = {"mode": settings.mode, "problem": problem.name, "rule": settings.rule,
            "workers": result.workers, "budget": settings.evaluations, "minimum": problem.minimum,
            "dim": problem.space.dim, "names": list(problem.space.names), "direction": settings.direction}
    publisher.publish(Event.START, **info)
    loop = Loop(backend, design, settings, result, write=write, publish=publisher.publish, progress=bar,
                callbacks=tuple(callbacks), stop_requested=stop, next_id=max([e.id for e in history] +
                [s["id"] for s in in_flight], default=-1) + 1, driver=info, resumed=started_at is not None)
    first = design.resumed(in_flight) + (design.initial(initial) if initial else [])
    # Started after the design is drawn: a thread importing a module blocks others that need it.
    threading.Thread(target=_warm_imports, name="dask-bo-import", daemon=True).start()
    try:
        loop.run(first)
    finally:
        design.stop()
        result.threads.extend(backend.threads_over_time)
        backend.close()
        bar.close()
        result.stopped_early = loop.stopped_early
        if not any(e.ok for e in result.history):
            errors = "; ".join(sorted({str(e.error) for e in result.history})[:3])
            result.stopped_early = result.stopped_early or f"no evaluation succeeded (errors: {errors})"
        publisher.publish(Event.FINISHED, metrics=result.metrics())
        publisher.close()
    write(Event.FINISHED, metrics=result.metrics())
    return result


def _save(result: Result, out: str | Path | None) -> None:
    if out is None:
        return
    try:
        result.save(out)
    except OSError as error:
        raise RunStopped(
            f"the run finished (its journal {Path(out) / 'journal.jsonl'} holds every result) but"
            f" writing its files failed: {error}; 'dask-bo report {out}' writes them again"
        ) from None


def optimize(
    problem: Problem | str,
    *,
    client: Any = None,
    mode: str = "async",
    rule: str = DEFAULT_RULE,
    model: str = "auto",
    evaluations: int = 30,
    initial: int = 3,
    initial_data: Any = None,
    seed: int | None = 0,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    max_failures: int | None = None,
    eval_timeout_s: float | None = None,
    max_time_s: float | None = None,
    target: float | None = None,
    direction: str = "minimize",
    max_in_flight: int | None = None,
    callbacks: Iterable[Callable[[Evaluation, Result], Any]] = (),
    workers: int = 3,
    stop: StopSignal | None = None,
    **advanced: Any,
) -> Result:
    """Minimize (or maximize) ``problem`` on a Dask cluster.

    :param problem: A :class:`~dask_bo.Problem` or the name of a benchmark problem
        (:data:`~dask_bo.PROBLEM_NAMES`).
    :param client: Where to run: ``None`` (a local cluster of ``workers`` processes), a
        scheduler address, a :class:`distributed.Client`, a cluster object (``LocalCluster``,
        ``dask_jobqueue.SLURMCluster``, ...) or the path of a scheduler file.
    :param mode: ``"async"`` (refill each worker the moment it frees up, the points in flight
        pending) or ``"sync"`` (batches as large as the worker threads, each waiting for its
        slowest point).
    :param rule: The acquisition rule (``dask-bo run --help`` lists them).
    :param model: ``"exact"`` GP, ``"sparse"`` GP, or ``"auto"`` (sparse past a size).
    :param evaluations: Evaluations after the initial design, whatever their outcome.
    :param initial: Points of the initial design (none when ``initial_data`` is given).
    :param initial_data: Earlier evaluations to start from, as data only (they never count
        against ``evaluations``): a list of :class:`~dask_bo.Evaluation`, a
        :class:`~dask_bo.Result`, a run's ``--out`` folder or a ``history.csv``.
    :param seed: Seeds the initial design and the model (``None``: not reproducible).
    :param out: A folder for ``journal.jsonl``, ``history.csv``, ``result.json`` and the plots.
    :param overwrite: Replace a run already in ``out`` (otherwise refused).
    :param progress: Show a progress bar.
    :param max_failures: Stop once this many evaluations have failed.
    :param eval_timeout_s: Stop an evaluation after this many seconds on its worker.
    :param max_time_s: Send no new point after this many seconds (what is out is gathered).
    :param target: Send no new point once the best value reaches this.
    :param direction: ``"minimize"`` or ``"maximize"``.
    :param max_in_flight: At most this many evaluations at once (default: one per thread).
    :param callbacks: Each called as ``f(record, result)`` after every evaluation; a true
        return value stops the run.
    :param workers: Worker processes of the local cluster started when ``client`` is None.
    :param stop: A :class:`~dask_bo.StopSignal`; setting it from another thread stops
        the run cleanly (:func:`start` does this for you).
    :param advanced: ``refit_fraction``, ``explore_fraction``; ``timeout_s`` (deprecated name
        of ``eval_timeout_s``).
    :return: The :class:`~dask_bo.Result`; ``stopped_early`` says why a run stopped short.
    :raise RunInterrupted: Ctrl-C or SIGTERM; the journal holds the run for ``resume``.
    """
    if isinstance(problem, str):
        problem = get_problem(problem)
    settings = settings_from_options(dict(
        mode=mode, rule=rule, model=model, evaluations=evaluations, initial=initial, seed=seed,
        max_failures=max_failures, eval_timeout_s=eval_timeout_s, max_time_s=max_time_s,
        target=target, direction=direction, max_in_flight=max_in_flight, **advanced,
    ))
    history = load_initial_data(initial_data, problem.space)
    if out is not None:
        check_writable(out)
    client, owned = _client(client, workers)
    run_id = uuid.uuid4().hex[:8]
    journal = None
    try:
        config = {"settings": settings.to_dict(), "problem": problem.describe()}
        if out is not None:
            journal = Journal.create(out, run_id, config, overwrite=overwrite)
            for record in history:
                journal.write(Event.EVALUATED, **record.to_dict())
        result = _drive(
            client, problem, settings, history, journal, run_id=run_id, progress=progress,
            callbacks=callbacks, stop=stop, initial=0 if history else settings.initial,
        )
    finally:
        if journal is not None:
            journal.close()
        if owned:
            client.close()
    _save(result, out)
    return result


def resume(
    out: str | Path, *, client: Any = None, objective: Callable | str | None = None,
    allow_changed_objective: bool = False, evaluations: int | None = None,
    progress: bool = True, workers: int = 3, callbacks: Iterable = (), stop: StopSignal | None = None,
) -> Result:
    """Continue a stopped run from its journal: every evaluation it recorded is kept, the
    points it had in flight are sent again under their own ids, and it finishes its budget.

    :param out: The run's ``--out`` folder.
    :param client: Where to run, as for :func:`optimize`: ``None`` (a local cluster of
        ``workers`` processes), a scheduler address, a :class:`distributed.Client`, a cluster
        object or the path of a scheduler file. It need not be the cluster the run began on.
    :param objective: The objective again: the function (for a run of a Python function), or
        ``MODULE:FUNCTION`` / ``path/to/file.py:FUNCTION`` (for a file that moved).
    :param allow_changed_objective: Resume although the objective's file changed since the run
        began (otherwise refused: its values would not be comparable).
    :param evaluations: A new total budget (to extend a finished run).
    :param progress: Show a progress bar (it starts at the evaluations already done).
    :param workers: Worker processes of the local cluster started when ``client`` is None.
    :param callbacks: As for :func:`optimize`: each called as ``f(record, result)`` after
        every evaluation from now on (not for those the journal holds); a true return value
        stops the run.
    :param stop: A :class:`~dask_bo.StopSignal`; setting it from another thread stops the
        run cleanly, and it can be resumed again.
    :return: The :class:`~dask_bo.Result` of the whole run, the journal's evaluations
        included; its files in ``out`` are written again.
    :raise RunStopped: The run is finished (say ``evaluations`` to extend it).
    """
    out = Path(out)
    events = read_journal(out)
    state = replay(events)
    if state.config is None:
        raise ValueError(f"{out / 'journal.jsonl'} has no 'start' event: it does not describe a run")
    settings = Settings.from_dict(state.config["settings"])
    budgets = [e["evaluations"] for e in events if e.get("event") == Event.RESUMED and e.get("evaluations")]
    if evaluations is not None or budgets:  # a budget extended by an earlier resume holds
        settings = dataclasses.replace(settings, evaluations=evaluations or budgets[-1])
    problem = problem_from_description(state.config["problem"], objective, allow_changed_objective)
    if not state.in_flight and state.driven_submitted >= settings.evaluations:
        raise RunStopped(
            f"the run in {out} is finished ({state.driven_submitted} of {settings.evaluations}"
            f" evaluations); to go on, give a larger budget (resume --evaluations N)"
        )
    client, owned = _client(client, workers)
    journal = Journal.reopen(out)
    try:
        resumed = journal.write(Event.RESUMED, in_flight=[s["id"] for s in state.in_flight],
                                evaluations=settings.evaluations)
        resumed_state = replay(journal.events + [resumed])
        has_design = any(e.proposal in (INITIAL, "warm") for e in state.history) or any(
            s["proposal"] == INITIAL for s in state.in_flight)
        result = _drive(
            client, problem, settings, state.history, journal, run_id=state.run_id or uuid.uuid4().hex[:8],
            progress=progress, callbacks=callbacks, stop=stop,
            initial=0 if has_design else settings.initial, in_flight=state.in_flight,
            started_at=state.started_at, paused_s=resumed_state.paused_s,
            threads_before=resumed_state.threads,
        )
    finally:
        journal.close()
        if owned:
            client.close()
    _save(result, out)
    return result

