"""Reading a run back from its folder, finished or interrupted, and redrawing its plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .events import RunState, replay
from .journal import JOURNAL_NAME, read_journal
from .result import Result


def load_result(directory: str | Path) -> Result:
    """The :class:`Result` of the run whose ``--out`` folder is ``directory``, rebuilt from
    its journal, so an interrupted run loads too.

    The points still in flight when a run was interrupted are not in its history; such a run
    says so in ``stopped_early`` (``"interrupted: ..."``), as does a run that stopped early.

    :param directory: The folder of one run, which holds its ``journal.jsonl`` (for a
        comparison, its ``sync/`` or ``async/`` folder).
    :raises FileNotFoundError: There is no journal in ``directory``.
    :raises ValueError: The journal does not describe a run (a
        :class:`~dask_bo.journal.JournalError` if it is damaged).
    """
    return result_from_state(replay(read_journal(Path(directory))))


def result_from_state(state: RunState) -> Result:
    """The :class:`Result` a replayed journal describes.

    :raises ValueError: The journal has no ``start`` event.
    """
    if state.config is None:
        raise ValueError("the journal has no 'start' event: it does not describe a run")
    settings, problem = state.config.get("settings", {}), state.config.get("problem", {})
    history, finished = state.history, state.finished
    started_at = state.started_at
    if started_at is None:  # interrupted before its driver started: the first submission
        started_at = min((e.submitted_at for e in history if e.submitted_at is not None), default=0.0)
    workers = state.driver.get("workers") or max(1, len({e.worker for e in history if e.worker}))
    if finished is not None:
        workers = finished.get("workers") or workers
        stopped_early = finished.get("stopped_early")
        # Only the median latency is journalled; keeping it makes the metrics read back unchanged.
        latency = finished.get("dispatch_latency_s")
        latencies = [latency] if latency is not None else []
    else:
        n = len(state.in_flight)
        why = f"interrupted ({state.interrupted_reason})" if state.interrupted_reason else "interrupted"
        stopped_early = (
            f"{why}: the journal has no 'finished' event; "
            f"{n} submitted point{'' if n == 1 else 's'} never evaluated"
        )
        latencies = []
    return Result(
        mode=settings.get("mode", state.driver.get("mode", "async")),
        problem=problem.get("name", state.driver.get("problem", "?")),
        workers=workers, seed=settings.get("seed"), history=history, started_at=started_at,
        minimum=problem.get("minimum"), dispatch_latencies_s=latencies, stopped_early=stopped_early,
        rule=settings.get("rule", state.driver.get("rule")),
        direction=settings.get("direction", "minimize"),
        space=_space(problem), threads=state.threads, paused_s=state.paused_s,
    )


def _space(problem: dict[str, Any]):
    """The problem's named space, if the journal holds one."""
    if not problem.get("space"):
        return None
    from .space import Space

    return Space.from_dict(problem["space"])


def run_folders(directory: Path) -> dict[str, Path]:
    """The run folders under ``directory``: itself, or the ``sync``/``async`` of a comparison."""
    if (directory / JOURNAL_NAME).is_file():
        return {"run": directory}
    found = {m: directory / m for m in ("sync", "async") if (directory / m / JOURNAL_NAME).is_file()}
    if not found:
        raise FileNotFoundError(f"no {JOURNAL_NAME} in {str(directory)!r} nor in its sync/ or async/ folders")
    return found


def write_report(directory: Path) -> tuple[dict[str, dict[str, Any]], list[Path]]:
    """Rewrite the history and redraw every plot of the run (or comparison) in ``directory``.

    :return: The metrics by mode, and the files written.
    """
    from .comparison import save_comparison

    results = {}
    written: list[Path] = []
    for folder in run_folders(Path(directory)).values():
        result = load_result(folder)
        results[result.mode] = result
        written.append(result.write_history_csv(folder / "history.csv"))
        written += result.write_plots(folder)
    if len(results) == 2:
        save_comparison(results, directory)
        written += [directory / "comparison.png", directory / "comparison.json"]
    return {mode: r.metrics() for mode, r in results.items()}, written
