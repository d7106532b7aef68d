"""compare: sync, then async, from one initial design on one cluster; the model's one-off
tracing happens before both, untimed, so that neither mode's clock includes it."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

from .api import _client, optimize
from .backend import Backend
from .config import Settings, settings_from_options
from .design import Design, fittable, strategy_factory
from .journal import JOURNAL_NAME, JournalError, check_writable
from .problems import Problem, get_problem
from .loop import Loop
from .progress import Progress
from .records import Evaluation, observations
from .result import Result

logger = logging.getLogger("dask_bo")


class _DesignOnly:
    """A proposer with nothing to propose: the loop gathers the initial design and stops."""

    waiting = False

    def suggest(self, n: int, wait: bool = False) -> list:
        return []

    def interrupt(self) -> None:
        pass

    def tell(self, proposal, record) -> None:
        pass


def initial_design(client, problem, n: int, seed: int | None, eval_timeout_s: float | None) -> list[Evaluation]:
    """Evaluate ``n`` initial points of ``problem`` on ``client``; :return: their records."""
    settings = Settings(initial=n, seed=seed, eval_timeout_s=eval_timeout_s)
    backend = Backend(client, problem, uuid.uuid4().hex[:8], eval_timeout_s)
    result = Result(mode="sync", problem=problem.name, workers=1, seed=seed, history=[],
                    started_at=backend.clock(), space=problem.space)
    design = Design(problem.space, settings, [], None, backend.threads)
    loop = Loop(backend, _DesignOnly(), settings, result, write=lambda *a, **k: None,
                publish=lambda *a, **k: None, progress=Progress(0, enabled=False))
    try:
        loop.run(design.initial(n))
    finally:
        backend.close()
    return result.history


def warm_up(problem, history: list[Evaluation], options: dict[str, Any]) -> None:
    """Build and ask each mode's model once, untimed (TensorFlow's first traces). A failure
    here costs only the untimed tracing: the runs still start, and journal the design."""
    if not fittable(history):
        return  # each run draws more points first, and says so
    try:
        _warm_up(problem, history, options)
    except Exception as error:  # noqa: BLE001  (each run's own model step recovers or reports it)
        logger.warning("compare: warming up the model failed (%s: %.160s); the runs trace it"
                       " on their own clocks", type(error).__name__, error)


def _warm_up(problem, history: list[Evaluation], options: dict[str, Any]) -> None:
    for mode in ("sync", "async"):
        settings = Settings(mode=mode, rule=options.get("rule", Settings.rule), model=options.get("model", "auto"))
        x, y = observations(history)
        u = problem.space.encode(x)
        strategy = strategy_factory(problem.space, settings, lambda: 1)(u, y)
        strategy.ask(1, u[:0])


def compare(problem: Problem | str, *, client: Any = None, out: str | Path | None = None,
            initial: int = 3, seed: int | None = 0, workers: int = 3, progress: bool = True,
            **options: Any) -> dict[str, Result]:
    """Run sync, then async, from the same initial design on the same cluster.

    The initial design is evaluated once and given to both runs as their initial data, and
    each mode's model is built and asked once beforehand, untimed, so that neither run's
    ``wall_s`` includes TensorFlow's one-off tracing.

    :param problem: A :class:`~dask_bo.Problem` or the name of a benchmark problem
        (:data:`~dask_bo.PROBLEM_NAMES`).
    :param client: Where to run both: ``None`` (a local cluster of ``workers`` processes,
        closed at the end), a scheduler address, a :class:`distributed.Client`, a cluster
        object or the path of a scheduler file, as for :func:`optimize`.
    :param out: A folder for both runs: ``out/sync/`` and ``out/async/`` (each as
        :func:`optimize`'s ``out``), ``out/comparison.json`` (both runs' metrics and the
        ``speedup``, sync ``wall_s`` over async ``wall_s``) and ``out/comparison.png``.
        ``None``: nothing is written.
    :param initial: Points of the shared initial design (at least 1); they do not count
        against ``evaluations``.
    :param seed: Seeds the initial design and both runs' models (``None``: not
        reproducible).
    :param workers: Worker processes of the local cluster started when ``client`` is None.
    :param progress: Show a progress bar for each run.
    :param options: More of :func:`optimize`'s keyword arguments (``evaluations``, ``rule``,
        ``model``, ``eval_timeout_s``, ...), the same for both runs; not ``mode`` nor
        ``initial_data``, which the comparison sets. ``eval_timeout_s`` also limits the
        initial design's evaluations.
    :return: ``{"sync": Result, "async": Result}``.
    """
    if isinstance(problem, str):
        problem = get_problem(problem)
    settings = _check_options(options, initial, seed)
    for mode in ("sync", "async"):
        if out is not None:
            _check_folder(Path(out) / mode, options.get("overwrite", False))
    client, owned = _client(client, workers)
    try:
        history = initial_design(client, problem, initial, seed, settings.eval_timeout_s)
        warm_up(problem, history, options)
        results = {
            mode: optimize(problem, client=client, mode=mode, seed=seed, initial_data=history,
                           out=None if out is None else Path(out) / mode, progress=progress, **options)
            for mode in ("sync", "async")
        }
    finally:
        if owned:
            client.close()
    if out is not None:
        save_comparison(results, Path(out))
    return results


def _check_options(options: dict[str, Any], initial: int, seed: int | None) -> Settings:
    """The settings both runs will take, checked before the initial design spends anything."""
    import dataclasses
    import inspect

    if any(options.get(k) is not None for k in ("mode", "initial_data")):
        raise TypeError("compare runs both modes from its own initial design: drop mode and initial_data")
    fields = {f.name for f in dataclasses.fields(Settings)} | {"timeout_s"}
    unknown = sorted(set(options) - fields - set(inspect.signature(optimize).parameters))
    if unknown:
        raise TypeError(f"unexpected option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    chosen = {k: v for k, v in options.items() if k in fields and k != "mode"}
    settings_from_options(dict(chosen, mode="async", initial=initial, seed=seed))
    return settings_from_options(dict(chosen, mode="sync", initial=initial, seed=seed))


def _check_folder(out: Path, overwrite: bool) -> None:
    check_writable(out)
    if not overwrite and (out / JOURNAL_NAME).is_file() and (out / JOURNAL_NAME).stat().st_size > 0:
        raise JournalError(
            f"{out} already holds a run's journal: give compare a new folder, or replace it with"
            f" --overwrite (overwrite=True)"
        )


def save_comparison(results: dict[str, Result], out: Path) -> None:
    from .plots import plot_comparison

    out.mkdir(parents=True, exist_ok=True)
    summary = {mode: r.metrics() for mode, r in results.items()}
    if "sync" in results and "async" in results and summary["async"]["wall_s"]:
        summary["speedup"] = summary["sync"]["wall_s"] / summary["async"]["wall_s"]
    (out / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_comparison(results, out / "comparison.png")
