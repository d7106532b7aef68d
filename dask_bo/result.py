"""The result of a run: its history, its metrics, and the files written from them.

Pure data: pandas and matplotlib are imported inside the methods that need them, and the
plots only through :func:`_plot_functions`.
"""

from __future__ import annotations

import base64
import html
import json
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .folder import atomic_write, write_history_csv
from .records import HISTORY_COLUMNS, Evaluation, history_rows, parameter_names, point_values

DIRECTIONS = ("minimize", "maximize")


def _plot_functions():
    """The renderers (the only import of the plotting module here)."""
    from .plots import plot_points, plot_regret, plot_timeline

    return plot_regret, plot_timeline, plot_points


@dataclass
class Result:
    """What a run produced: its history (initial design included) and its metrics.

    :param mode: ``"async"`` or ``"sync"``.
    :param problem: The problem's name.
    :param workers: Worker threads the run kept busy (at its start).
    :param seed: The run's seed (of its initial design and its model), or ``None`` (not
        reproducible).
    :param history: Every evaluation, in the order the driver received them.
    :param started_at: When the first driver started, before its first ask (Unix time).
    :param minimum: The problem's known optimum (its minimum; its maximum when maximizing),
        or ``None``.
    :param dispatch_latencies_s: For each result that let a new point go out, the time from
        the result reaching the driver to that submission.
    :param stopped_early: Why the run stopped before its budget, or ``None``.
    :param rule: The acquisition rule's name.
    :param direction: ``"minimize"`` or ``"maximize"``; ``y`` is always the objective's own value.
    :param space: The :class:`~dask_bo.space.Space` of the parameters, or ``None`` (a box).
    :param threads: ``(unix_time, threads)`` steps: the worker threads present from that time
        on (a pause between drivers is a step to 0).
    :param paused_s: Time between the drivers of a resumed run, left out of ``wall_s``.
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
    rule: str | None = None
    direction: str = "minimize"
    space: Any = None
    threads: list[tuple[float, int]] = field(default_factory=list)
    paused_s: float = 0.0

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"expected direction in {DIRECTIONS}, got {self.direction!r}")

    @property
    def driven(self) -> list[Evaluation]:
        """The evaluations the driver chose (not the initial design nor initial data)."""
        return [e for e in self.history if e.driven]

    @property
    def best(self) -> Evaluation | None:
        """The successful evaluation with the best value (per ``direction``), or ``None``."""
        ok = [e for e in self.history if e.ok]
        if not ok:
            return None
        pick = max if self.direction == "maximize" else min
        return pick(ok, key=lambda e: e.y)

    @property
    def best_x(self) -> tuple[float, ...] | None:
        best = self.best
        return best.x if best else None

    @property
    def best_y(self) -> float | None:
        best = self.best
        return best.y if best else None

    @property
    def best_params(self) -> dict[str, Any] | None:
        """The best point's values by parameter name (``x0..`` for a box), or ``None``."""
        best = self.best
        if best is None:
            return None
        return point_values(best, self.space)

    @property
    def wall_s(self) -> float:
        """From the first driver's start to the last driven result, pauses left out."""
        end = self._end()
        return max(end - self.started_at - self.paused_s, 0.0) if end is not None else 0.0

    def _end(self) -> float | None:
        ends = [e.finished_at for e in self.driven if e.finished_at is not None]
        return max(ends) if ends else None

    def thread_seconds(self) -> float:
        """Worker-thread seconds present from ``started_at`` to the last driven result: the
        integral of ``threads`` (``workers * wall_s`` when it is empty)."""
        end = self._end()
        if not self.threads or end is None:
            return self.workers * self.wall_s
        steps = sorted(self.threads)
        total, t, level = 0.0, self.started_at, steps[0][1]  # before the first step: its count
        for when, threads in steps:
            if when >= end:
                break
            if when > t:
                total += level * (when - t)
                t = when
            level = threads
        return total + level * max(end - t, 0.0)

    def metrics(self) -> dict[str, Any]:
        """The fields of ``result.json`` (see DESIGN.md), plus ``stopped_early``, ``rule``,
        ``direction`` and ``best_params``."""
        driven = self.driven
        eval_s_sum = sum(e.duration_s or 0.0 for e in driven)
        capacity_s = self.thread_seconds()
        best = self.best
        regret = None
        if best is not None and self.minimum is not None:
            regret = self.minimum - best.y if self.direction == "maximize" else best.y - self.minimum
        latencies = self.dispatch_latencies_s
        return {
            "mode": self.mode,
            "problem": self.problem,
            "workers": self.workers,
            "seed": self.seed,
            "evaluations": len(driven),
            "failed": sum(not e.ok for e in driven),
            "wall_s": self.wall_s,
            "eval_s_sum": eval_s_sum,
            "utilization": eval_s_sum / capacity_s if capacity_s > 0 else None,
            "dispatch_latency_s": statistics.median(latencies) if latencies else None,
            "best_x": list(best.x) if best else None,
            "best_y": best.y if best else None,
            "best_regret": regret,
            "stopped_early": self.stopped_early,
            "rule": self.rule,
            "direction": self.direction,
            "best_params": self.best_params,
        }

    def to_dataframe(self):
        """The history as a :class:`pandas.DataFrame`, one row per evaluation: ``id``, one
        column per parameter (named by the space; ints as integers, categoricals as
        :class:`pandas.Categorical`), ``y`` ... ``proposal``; ``*_at`` columns as UTC datetimes."""
        import pandas as pd

        names = parameter_names(self.history, self.space)
        columns = ["id", *names, *HISTORY_COLUMNS[1:]]
        df = pd.DataFrame(history_rows(self.history, self.space), columns=columns)
        for name in names:
            choices = _choices(self.space, name)
            if choices is not None:
                df[name] = pd.Categorical(df[name], categories=list(choices))
        for column in ("submitted_at", "started_at", "finished_at"):
            # one resolution whatever the values (pandas picks seconds for whole numbers)
            df[column] = pd.to_datetime(df[column].astype("float64"), unit="s", utc=True).astype("datetime64[ns, UTC]")
        df["y"] = df["y"].astype("float64")
        df["duration_s"] = df["duration_s"].astype("float64")
        df["id"] = df["id"].astype("int64")
        return df

    def write_history_csv(self, path: str | Path) -> Path:
        """Write the history as ``history.csv`` at ``path``.

        :param path: The file to write (its folder must exist); an existing file is replaced
            once the new one is complete.
        :return: ``path``.
        """
        return write_history_csv(self.history, path, self.space)

    def write_plots(self, out: str | Path) -> list[Path]:
        """Draw ``regret.png``, ``timeline.png`` and ``points.png`` into ``out`` (needs
        matplotlib).

        :param out: The folder to draw into, created if missing; files there of the same
            names are replaced.
        :return: The three files written.
        """
        out = Path(out)
        plot_regret, plot_timeline, plot_points = _plot_functions()
        return [
            plot_regret({self.mode: self}, out / "regret.png"),
            plot_timeline(self, out / "timeline.png"),
            plot_points(self, out / "points.png"),
        ]

    def save(self, out: str | Path) -> list[Path]:
        """Write ``history.csv``, ``result.json`` and the plots into ``out``.

        :param out: The folder to write into (a run's ``--out`` folder), created if missing;
            files there of the same names are replaced, others (``journal.jsonl``) are left.
        :return: The files written.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = [self.write_history_csv(out / "history.csv")]
        with atomic_write(out / "result.json") as f:
            f.write(json.dumps(self.metrics(), indent=2, allow_nan=False) + "\n")
        written.append(out / "result.json")
        return written + self.write_plots(out)

    def _regret_png(self) -> bytes | None:
        """The regret plot as PNG bytes, or ``None`` if there is nothing to draw or no
        matplotlib."""
        if not self.history:
            return None
        try:
            plot_regret = _plot_functions()[0]
        except ImportError:
            return None
        with tempfile.TemporaryDirectory() as folder:
            path = plot_regret({self.mode: self}, Path(folder) / "regret.png")
            return Path(path).read_bytes()

    def _repr_html_(self) -> str:
        """A notebook's view: the metrics as a table and the regret plot."""
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(_cell(v))}</td></tr>"
            for k, v in self.metrics().items()
        )
        png = self._regret_png()
        image = (
            f"<img alt='best regret so far' style='max-width:100%' src='data:image/png;base64,"
            f"{base64.b64encode(png).decode('ascii')}'/>"
            if png else ""
        )
        return f"<div><table>{rows}</table>{image}</div>"

    def __repr__(self) -> str:
        m = self.metrics()
        return (
            f"Result(mode={self.mode!r}, problem={self.problem!r}, evaluations={m['evaluations']},"
            f" failed={m['failed']}, best_y={m['best_y']}, wall_s={m['wall_s']:.1f})"
        )


def _choices(space: Any, name: str) -> list | None:
    parameters = getattr(space, "parameters", None) or {}
    return getattr(parameters.get(name), "choices", None)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return "—" if value is None else str(value)
