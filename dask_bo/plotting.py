"""Plots of a run. Each is an ``*_info`` function, pure over the history, and a thin
matplotlib renderer that draws it; renderers write PNG files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .history import INITIAL, Result

REGRET_FLOOR = 1e-6
"""Regrets are clamped here for log axes (trieste's minima are rounded, so tiny negative
regrets occur)."""

STATUS_COLORS = {"ok": "tab:blue", "failed": "tab:red", "timeout": "tab:orange", "lost": "tab:gray"}


def regret_info(result: Result) -> dict[str, Any]:
    """The best value so far after each evaluation after the initial design.

    :return: ``evaluations`` (1, 2, ...), ``time_s`` (since the driver started), ``best``
        (best value so far, initial design included), ``regret`` (``best - minimum``, clamped
        to :data:`REGRET_FLOOR`, or ``None`` values where the minimum is unknown) and ``label``.
    """
    best = min((e.y for e in result.history if e.proposal == INITIAL and e.ok), default=math.inf)
    start = {"evaluations": 0, "time_s": 0.0, "best": best}
    rows = [start]
    driven = sorted(result.driven, key=lambda e: e.finished_at or math.inf)
    for n, e in enumerate(driven, 1):
        if e.ok and e.y < best:
            best = e.y
        rows.append(
            {"evaluations": n, "time_s": (e.finished_at or result.started_at) - result.started_at, "best": best}
        )
    rows = [r for r in rows if math.isfinite(r["best"])]
    info = {k: [r[k] for r in rows] for k in ("evaluations", "time_s", "best")}
    if result.minimum is None:
        info["regret"] = None
        info["label"] = "best value so far"
    else:
        info["regret"] = [max(b - result.minimum, REGRET_FLOOR) for b in info["best"]]
        info["label"] = "best regret so far"
    return info


def timeline_info(result: Result) -> list[dict[str, Any]]:
    """One bar per evaluation after the initial design: ``worker``, ``start_s``, ``end_s``
    (since the driver started), ``status`` and ``proposal``; workers are in address order."""
    bars = []
    for e in result.driven:
        if e.started_at is None or e.finished_at is None:
            continue
        bars.append(
            {
                "worker": e.worker or "?",
                "start_s": e.started_at - result.started_at,
                "end_s": e.finished_at - result.started_at,
                "status": e.status,
                "proposal": e.proposal,
            }
        )
    return sorted(bars, key=lambda b: (b["worker"], b["start_s"]))


def points_info(result: Result) -> dict[str, list]:
    """The evaluated points' first two coordinates (the second is 0 in 1-D), value, status."""
    xs, ys, values, statuses = [], [], [], []
    for e in result.history:
        xs.append(e.x[0])
        ys.append(e.x[1] if len(e.x) > 1 else 0.0)
        values.append(e.y)
        statuses.append(e.status)
    return {"x0": xs, "x1": ys, "y": values, "status": statuses}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _draw_regret(ax_evals, ax_time, label: str, result: Result) -> None:
    info = regret_info(result)
    values = info["regret"] if info["regret"] is not None else info["best"]
    ax_evals.step(info["evaluations"], values, where="post", label=label)
    ax_time.step(info["time_s"], values, where="post", label=label)
    for ax in (ax_evals, ax_time):
        if info["regret"] is not None:
            ax.set_yscale("log")
        ax.set_ylabel(info["label"])
        ax.grid(True, alpha=0.3)
    ax_evals.set_xlabel("evaluations after the initial design")
    ax_time.set_xlabel("wall time (s)")


def _draw_timeline(ax, result: Result) -> None:
    bars = timeline_info(result)
    workers = sorted({b["worker"] for b in bars})
    for b in bars:
        row = workers.index(b["worker"])
        ax.barh(row, b["end_s"] - b["start_s"], left=b["start_s"], height=0.6,
                color=STATUS_COLORS.get(b["status"], "black"), edgecolor="white")
    ax.set_yticks(range(len(workers)), [w.rsplit(":", 1)[-1] for w in workers])
    ax.set_ylabel("worker (port)")
    ax.set_xlabel("wall time (s)")
    ax.set_xlim(left=0)  # the driver's start: the wait for its first ask is part of wall_s
    m = result.metrics()
    util = m["utilization"]
    ax.set_title(f"{result.mode}: wall {m['wall_s']:.1f} s, utilization "
                 f"{util:.0%}" if util is not None else f"{result.mode}")


def plot_regret(results: dict[str, Result], path: str | Path) -> Path:
    """Best regret so far against evaluations and against wall time, one line per result."""
    plt = _pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for label, result in results.items():
        _draw_regret(a, b, label, result)
    a.legend()
    walls = ", ".join(f"{k} {r.wall_s:.1f} s" for k, r in results.items())
    fig.suptitle(f"{next(iter(results.values())).problem}: {walls}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_timeline(result: Result, path: str | Path) -> Path:
    """Each evaluation as a bar on its worker's row: idle gaps show where workers waited."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3))
    _draw_timeline(ax, result)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_points(result: Result, path: str | Path) -> Path:
    """The evaluated points in their first two dimensions, coloured by value."""
    plt = _pyplot()
    info = points_info(result)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ok = [i for i, s in enumerate(info["status"]) if s == "ok"]
    bad = [i for i, s in enumerate(info["status"]) if s != "ok"]
    scatter = ax.scatter([info["x0"][i] for i in ok], [info["x1"][i] for i in ok],
                         c=[info["y"][i] for i in ok], cmap="viridis", s=25)
    if bad:
        ax.scatter([info["x0"][i] for i in bad], [info["x1"][i] for i in bad], marker="x",
                   color="tab:red", label="not ok")
        ax.legend()
    fig.colorbar(scatter, ax=ax, label="value")
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.set_title(f"{result.problem} ({result.mode}): evaluated points")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_comparison(results: dict[str, Result], path: str | Path) -> Path:
    """Both modes' regret on the same axes (top) and their worker timelines side by side."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
    for mode, result in results.items():
        _draw_regret(axes[0][0], axes[0][1], f"{mode} ({result.wall_s:.1f} s)", result)
    axes[0][0].legend()
    axes[0][0].set_title("regret against evaluations")
    axes[0][1].set_title("regret against wall time")
    for ax, (mode, result) in zip(axes[1], results.items()):
        _draw_timeline(ax, result)
    walls = " vs ".join(f"{k} {r.wall_s:.1f} s" for k, r in results.items())
    fig.suptitle(f"{next(iter(results.values())).problem}: {walls}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
