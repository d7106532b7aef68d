"""Reading a run back from its folder, finished or interrupted, and redrawing its plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .history import Result
from .journal import JOURNAL_NAME, journal_state, read_journal


def load_result(directory: str | Path) -> Result:
    """The :class:`Result` of the run whose ``--out`` folder is ``directory``, rebuilt from
    its journal (so an interrupted run loads too; its in-flight points are not in it)."""
    events = read_journal(Path(directory))
    config, history, _ = journal_state(events)
    starts = [e["started_at"] for e in events if e["event"] == "driver_started"]
    finished = [e["metrics"] for e in events if e["event"] == "finished"]
    latencies: list[float] = []
    settings, problem = config["settings"], config["problem"]
    started_at = starts[0] if starts else min((e.submitted_at or 0 for e in history), default=0)
    workers = finished[-1]["workers"] if finished else max(1, len({e.worker for e in history if e.worker}))
    result = Result(
        mode=settings["mode"], problem=problem["name"], workers=workers, seed=settings["seed"],
        history=history, started_at=started_at, minimum=problem.get("minimum"),
        dispatch_latencies_s=latencies,
    )
    if finished and finished[-1].get("dispatch_latency_s") is not None:
        # Only the median is journalled; keep it so the metrics read back unchanged.
        latencies.append(finished[-1]["dispatch_latency_s"])
    return result


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
