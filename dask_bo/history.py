"""Evaluation records and the result of a run: history, metrics, files.

This module is imported on workers (through :mod:`dask_bo.evaluation`), so it keeps its
imports light: pandas and matplotlib are imported inside the functions that need them.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

STATUSES = ("ok", "failed", "timeout", "lost")
"""``ok``: a finite value; ``failed``: the objective raised or returned no finite number;
``timeout``: stopped after ``timeout_s``; ``lost``: Dask gave up on the task (its worker died
too often, or the task was cancelled)."""

INITIAL = "initial"
"""The ``proposal`` of the points of the initial design."""


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the objective, whatever its outcome.

    Times ending in ``_at`` are Unix timestamps (seconds); ``duration_s`` is measured on the
    worker around the objective call alone.
    """

    id: int
    x: tuple[float, ...]
    y: float | None
    status: str
    proposal: str = INITIAL
    worker: str | None = None
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float | None = None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["x"] = list(self.x)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in names}
        values["x"] = tuple(float(v) for v in values["x"])
        return cls(**values)


HISTORY_COLUMNS = (
    "id",
    "y",
    "status",
    "worker",
    "submitted_at",
    "started_at",
    "finished_at",
    "duration_s",
    "error",
    "proposal",
)


def history_rows(history: Iterable[Evaluation]) -> list[dict[str, Any]]:
    """Flat rows, one per evaluation, with the point spread over ``x0..x{D-1}``."""
    rows = []
    for e in history:
        row: dict[str, Any] = {"id": e.id}
        row.update({f"x{i}": v for i, v in enumerate(e.x)})
        row.update({k: getattr(e, k) for k in HISTORY_COLUMNS[1:]})
        rows.append(row)
    return rows


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Result:
    """What a run produced: its history (initial design included) and its metrics.

    :param mode: ``"async"`` or ``"sync"``.
    :param problem: The problem's name.
    :param workers: Worker threads the run kept busy (at its start).
    :param history: Every evaluation, in the order the driver received them.
    :param started_at: When the driver started, before its first ask (Unix time).
    :param minimum: The problem's known minimum, or ``None``.
    :param dispatch_latencies_s: For each result that let a new point go out, the time from
        the result reaching the driver to that submission.
    """

    mode: str
    problem: str
    workers: int
    seed: int | None
    history: list[Evaluation]
    started_at: float
    minimum: float | None = None
    dispatch_latencies_s: list[float] = field(default_factory=list)
    stopped_early: str | None = None

    @property
    def driven(self) -> list[Evaluation]:
        """The evaluations after the initial design."""
        return [e for e in self.history if e.proposal != INITIAL]

    @property
    def best(self) -> Evaluation | None:
        """The successful evaluation with the lowest value, or ``None``."""
        ok = [e for e in self.history if e.ok]
        return min(ok, key=lambda e: e.y) if ok else None

    @property
    def wall_s(self) -> float:
        ends = [e.finished_at for e in self.driven if e.finished_at is not None]
        return max(ends) - self.started_at if ends else 0.0

    def metrics(self) -> dict[str, Any]:
        """The fields of ``result.json`` (see DESIGN.md)."""
        driven = self.driven
        eval_s_sum = sum(e.duration_s or 0.0 for e in driven)
        wall_s = self.wall_s
        best = self.best
        regret = None
        if best is not None and self.minimum is not None:
            regret = best.y - self.minimum
        return {
            "mode": self.mode,
            "problem": self.problem,
            "workers": self.workers,
            "seed": self.seed,
            "evaluations": len(driven),
            "failed": sum(not e.ok for e in driven),
            "wall_s": wall_s,
            "eval_s_sum": eval_s_sum,
            "utilization": eval_s_sum / (self.workers * wall_s) if wall_s > 0 else None,
            "dispatch_latency_s": _median(self.dispatch_latencies_s),
            "best_x": list(best.x) if best else None,
            "best_y": best.y if best else None,
            "best_regret": regret,
            "stopped_early": self.stopped_early,
        }

    def to_dataframe(self):
        """The history as a :class:`pandas.DataFrame`, one row per evaluation."""
        import pandas as pd

        return pd.DataFrame(history_rows(self.history))

    def save(self, out: str | Path) -> None:
        """Write ``history.csv``, ``result.json`` and the plots (``regret.png``,
        ``timeline.png``, ``points.png``) into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_history_csv(self.history, out / "history.csv")
        (out / "result.json").write_text(json.dumps(self.metrics(), indent=2) + "\n")
        from .plotting import plot_points, plot_regret, plot_timeline

        plot_regret({self.mode: self}, out / "regret.png")
        plot_timeline(self, out / "timeline.png")
        plot_points(self, out / "points.png")

    def __repr__(self) -> str:
        m = self.metrics()
        return (
            f"Result(mode={self.mode!r}, problem={self.problem!r}, evaluations={m['evaluations']},"
            f" failed={m['failed']}, best_y={m['best_y']}, wall_s={m['wall_s']:.1f})"
        )


def write_history_csv(history: Iterable[Evaluation], path: Path) -> None:
    rows = history_rows(history)
    dims = max((len(r) - len(HISTORY_COLUMNS) for r in rows), default=0)
    columns = ["id", *(f"x{i}" for i in range(dims)), *HISTORY_COLUMNS[1:]]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
