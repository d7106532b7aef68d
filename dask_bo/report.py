"""Reading a run back from its folder, finished or interrupted, and redrawing its plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .history import Result
from .journal import JOURNAL_NAME, journal_state, read_journal


def load_result(directory: str | Path) -> Result:
    """The :class:`Result` of the run whose ``--out`` folder is ``directory``, rebuilt from
    its journal, so an interrupted run loads too.

    The points still in flight when a run was interrupted are not in its history; such a run
    says so in ``stopped_early`` (``"interrupted: ..."``), as does a run that stopped early.

    :raises FileNotFoundError: There is no journal in ``directory``.
    :raises ValueError: The journal does not describe a run.
    """
    events = read_journal(Path(directory))
    config, history, in_flight = journal_state(events)
    settings, problem = config["settings"], config["problem"]
    starts = [e["started_at"] for e in events if e["event"] == "driver_started"]
    started_at = starts[0] if starts else min(
        (e.submitted_at for e in history if e.submitted_at is not None), default=0.0
    )
    # The last "finished" counts only if no "resumed" came after it.
    last = {e["event"]: i for i, e in enumerate(events)}
    finished = events[last["finished"]]["metrics"] if last.get("finished", -1) > last.get("resumed", -1) else None
    if finished is not None:
        workers = finished["workers"]
        stopped_early = finished.get("stopped_early")
        latencies = [finished["dispatch_latency_s"]] if finished.get("dispatch_latency_s") is not None else []
    else:
        workers = max(1, len({e.worker for e in history if e.worker}))
        stopped_early = (
            f"interrupted: the journal has no 'finished' event; "
            f"{len(in_flight)} submitted point{'' if len(in_flight) == 1 else 's'} never evaluated"
        )
        latencies = []
    # Only the median latency is journalled; keeping it makes the metrics read back unchanged.
    return Result(
        mode=settings["mode"], problem=problem["name"], workers=workers, seed=settings.get("seed"),
        history=history, started_at=started_at, minimum=problem.get("minimum"),
        dispatch_latencies_s=latencies, stopped_early=stopped_early,
    )


def run_folders(directory: Path) -> dict[str, Path]:
    """The run folders under ``directory``: itself, or the ``sync``/``async`` of a comparison."""
    if (directory / JOURNAL_NAME).is_file():
        return {"run": directory}
    found = {m: directory / m for m in ("sync", "async") if (directory / m / JOURNAL_NAME).is_file()}
    if not found:
        raise FileNotFoundError(f"no {JOURNAL_NAME} in {str(directory)!r} nor in its sync/ or async/ folders")
    return found


def write_report(directory: Path) -> tuple[dict[str, dict[str, Any]], list[Path]]:
    """Redraw every plot of the run (or comparison) in ``directory``.

    :return: The metrics by mode, and the files written.
    """
    from .drivers import save_comparison
    from .history import write_history_csv
    from .plotting import plot_points, plot_regret, plot_timeline

    results = {}
    written: list[Path] = []
    for folder in run_folders(directory).values():
        result = load_result(folder)
        results[result.mode] = result
        write_history_csv(result.history, folder / "history.csv")
        written.append(folder / "history.csv")
        written.append(plot_regret({result.mode: result}, folder / "regret.png"))
        written.append(plot_timeline(result, folder / "timeline.png"))
        written.append(plot_points(result, folder / "points.png"))
    if len(results) == 2:
        save_comparison(results, directory)
        written += [directory / "comparison.png", directory / "comparison.json"]
    return {mode: r.metrics() for mode, r in results.items()}, written
