"""The worker timeline, and the comparison of modes (regret and timelines together)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from . import _mpl
from .info import NO_WORKER, STATUS_COLORS, first_result, timeline_info
from .regret import draw_regret_panels


def _worker_labels(workers: list[str]) -> tuple[list[str], str]:
    """Short row labels (``:port`` when every worker is on one host) and the axis label."""
    addresses = [w.split("://", 1)[-1] for w in workers if w != NO_WORKER]
    hosts = {a.rsplit(":", 1)[0] for a in addresses if ":" in a}
    if len(hosts) == 1 and all(":" in a for a in addresses):
        host = hosts.pop()
        labels = [":" + w.rsplit(":", 1)[-1] if w != NO_WORKER else w for w in workers]
        return labels, f"worker on {host}"
    return [w.split("://", 1)[-1] for w in workers], "worker"


def _title(result: Any, label: str | None = None) -> str:
    m = result.metrics()
    title = f"{label or result.mode}: wall time {_mpl.seconds(m['wall_s'])}"
    if m.get("utilization") is not None:
        title += f", workers busy {m['utilization']:.0%}"
    return title


def _draw(ax, result: Any, x_max: float | None = None, label: str | None = None) -> None:
    from matplotlib.patches import Patch

    bars = timeline_info(result)
    workers = list(dict.fromkeys(b["worker"] for b in bars))
    for b in bars:
        ax.barh(
            workers.index(b["worker"]), b["end_s"] - b["start_s"], left=b["start_s"], height=0.6,
            color=STATUS_COLORS.get(b["status"], "black"), edgecolor="white", linewidth=0.5,
            hatch="//" if b["worker"] == NO_WORKER else None,
        )
    handles = []
    if bars:
        first_submitted = min(b["submitted_s"] for b in bars)
        if first_submitted > 0:
            ax.axvspan(0, first_submitted, color="0.92", zorder=0)
            handles.append(Patch(color="0.92", label="before the first point\n(model fit, first ask)"))
    for status, colour in STATUS_COLORS.items():
        if any(b["status"] == status for b in bars):
            handles.append(Patch(color=colour, label=status))
    labels, axis_label = _worker_labels(workers)
    ax.set_yticks(range(len(workers)), labels)
    if workers:
        ax.set_ylim(len(workers) - 0.5, -0.5)  # first worker on top
    ax.set_ylabel(axis_label)
    ax.set_xlabel("wall time since the driver started (s); gaps: idle worker")
    ends = [b["end_s"] for b in bars] + [result.wall_s]
    ax.set_xlim(0, (x_max or max(ends)) * 1.02 or 1.0)
    ax.grid(True, axis="x", alpha=0.3)
    if not bars:
        _mpl.empty_note(ax, "no evaluation after the initial design has finished")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  frameon=False)
    ax.set_title(_title(result, label))


def plot_timeline(result: Any, path: str | Path) -> Path:
    """Each evaluation as a bar on its worker's row, coloured by status: gaps show where
    workers waited (for a batch to finish, or for the driver).

    :param path: The PNG to write.
    :return: ``path``.
    """
    rows = len({b["worker"] for b in timeline_info(result)})
    fig = _mpl.figure(figsize=(11, 1.6 + 0.45 * max(rows, 2)), layout="constrained")
    ax = fig.subplots()
    _draw(ax, result)
    ax.set_title(f"{result.problem}, {_title(result)}")
    _mpl.stopped_note(fig, {result.mode: result})
    return _mpl.save(fig, path)


def plot_comparison(results: Mapping[str, Any], path: str | Path) -> Path:
    """Both modes' regret on the same axes (top) and their worker timelines side by side on
    one time scale (bottom), wall times in the titles.

    :param results: Results by mode (``sync`` and ``async``).
    :param path: The PNG to write.
    :return: ``path``.
    """
    n = len(results)
    fig = _mpl.figure(figsize=(max(12, 6 * n), 8.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, hspace=0.04)  # laid out apart: legends do not couple them
    ax_evals, ax_time = top.subplots(1, 2)
    draw_regret_panels(ax_evals, ax_time, results)
    x_max = max(max([r.wall_s] + [b["end_s"] for b in timeline_info(r)]) for r in results.values())
    for ax, (mode, result) in zip(bottom.subplots(1, n, squeeze=False)[0], results.items()):
        _draw(ax, result, x_max=x_max, label=mode)
    walls = " vs ".join(f"{mode} {_mpl.seconds(r.wall_s)}" for mode, r in results.items())
    title = f"{first_result(results).problem}: wall time {walls}"
    if "sync" in results and "async" in results and results["async"].wall_s > 0:
        title += f" (async {results['sync'].wall_s / results['async'].wall_s:.2f}x as fast)"
    fig.suptitle(title)
    _mpl.stopped_note(fig, results)
    return _mpl.save(fig, path)
