"""Plots of a run. Each is an ``*_info`` function, pure over the history, and a thin
matplotlib renderer that draws it; renderers write PNG files.

The renderers draw on :class:`matplotlib.figure.Figure` objects with the Agg canvas, never
through ``pyplot``: they change no global backend or state (a notebook keeps its own) and
may run in any thread.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .history import INITIAL, Result

REGRET_FLOOR = 1e-6
"""Regrets are clamped here for log axes (trieste's minima are rounded, so tiny negative
regrets occur)."""

STATUS_COLORS = {"ok": "tab:blue", "failed": "tab:red", "timeout": "tab:orange", "lost": "tab:gray"}

NO_WORKER = "no worker"
"""The timeline row of evaluations that never reached a worker (``lost`` ones)."""

_LINE_STYLES = ("-", "--", ":", "-.")
_DPI = 100


# -- info: pure functions over the history -------------------------------------------------


def regret_info(result: Result) -> dict[str, Any]:
    """The best value so far after each evaluation after the initial design.

    The first row (``evaluations`` 0, ``time_s`` 0) is the best of the initial design; rows
    before any successful evaluation are left out (there is no best value yet).

    :return: ``evaluations`` (0, 1, 2, ...), ``time_s`` (since the driver started), ``best``
        (best value so far, initial design included), ``regret`` (``best - minimum``, clamped
        to :data:`REGRET_FLOOR`, or ``None`` where the minimum is unknown), ``label`` (the
        quantity plotted: regret if known, else the best value) and ``minimum``.
    """
    best = min((e.y for e in result.history if e.proposal == INITIAL and e.ok), default=math.inf)
    rows = [{"evaluations": 0, "time_s": 0.0, "best": best}]
    driven = sorted(result.driven, key=lambda e: e.finished_at if e.finished_at is not None else math.inf)
    for n, e in enumerate(driven, 1):
        if e.ok and e.y < best:
            best = e.y
        finished_at = e.finished_at if e.finished_at is not None else result.started_at
        rows.append({"evaluations": n, "time_s": finished_at - result.started_at, "best": best})
    rows = [r for r in rows if math.isfinite(r["best"])]
    info: dict[str, Any] = {k: [r[k] for r in rows] for k in ("evaluations", "time_s", "best")}
    info["minimum"] = result.minimum
    if result.minimum is None:
        info["regret"] = None
        info["label"] = "best value so far"
    else:
        info["regret"] = [max(b - result.minimum, REGRET_FLOOR) for b in info["best"]]
        info["label"] = "best regret so far"
    return info


def timeline_info(result: Result) -> list[dict[str, Any]]:
    """One bar per evaluation after the initial design, in worker order then start order.

    Times are in seconds since the driver started. An evaluation that never ran on a worker
    (``lost``, with no ``started_at``) spans from its submission to its end, on the row
    :data:`NO_WORKER`; evaluations with no end time are left out.

    :return: Bars with ``id``, ``worker`` (its address, or :data:`NO_WORKER`),
        ``submitted_s``, ``start_s``, ``end_s``, ``status`` and ``proposal``; the
        :data:`NO_WORKER` row comes last.
    """
    bars = []
    for e in result.driven:
        start = e.started_at if e.started_at is not None else e.submitted_at
        if start is None or e.finished_at is None:
            continue
        submitted = e.submitted_at if e.submitted_at is not None else start
        bars.append(
            {
                "id": e.id,
                "worker": e.worker or NO_WORKER,
                "submitted_s": submitted - result.started_at,
                "start_s": start - result.started_at,
                "end_s": e.finished_at - result.started_at,
                "status": e.status,
                "proposal": e.proposal,
            }
        )
    return sorted(bars, key=lambda b: (b["worker"] == NO_WORKER, b["worker"], b["start_s"]))


def points_info(result: Result) -> dict[str, Any]:
    """The evaluated points (initial design included) in their first two coordinates.

    :return: Lists with one entry per evaluation, in history order: ``id``, ``x0``, ``x1``
        (0.0 in 1-D), ``y`` (``None`` unless ok), ``status``, ``initial`` (from the initial
        design); and ``dim`` (the points' dimension, 0 for an empty history) and ``best``
        (the index of the best successful evaluation, or ``None``).
    """
    info: dict[str, Any] = {k: [] for k in ("id", "x0", "x1", "y", "status", "initial")}
    for e in result.history:
        info["id"].append(e.id)
        info["x0"].append(e.x[0])
        info["x1"].append(e.x[1] if len(e.x) > 1 else 0.0)
        info["y"].append(e.y if e.ok else None)
        info["status"].append(e.status)
        info["initial"].append(e.proposal == INITIAL)
    info["dim"] = len(result.history[0].x) if result.history else 0
    ok = [i for i, s in enumerate(info["status"]) if s == "ok"]
    info["best"] = min(ok, key=lambda i: info["y"][i]) if ok else None
    return info


# -- renderers ------------------------------------------------------------------------------


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    return path


def _empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _format_log_axis(ax) -> None:
    """Plain numbers (``0.25``, not ``2.5x10^-1``) on a log axis; minor ticks are labelled only
    when the axis spans less than a decade (otherwise they crowd it)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:.3g}")
    ax.yaxis.set_major_formatter(plain)
    low, high = ax.get_ylim()
    ax.yaxis.set_minor_formatter(plain if high < 10 * low else NullFormatter())


def _draw_regret(ax_evals, ax_time, label: str, result: Result, style: str = "-") -> bool:
    """One result's line on both axes; ``False`` if it has nothing to draw."""
    info = regret_info(result)
    values = info["regret"] if info["regret"] is not None else info["best"]
    if not values:
        return False
    for ax, xs in ((ax_evals, info["evaluations"]), (ax_time, info["time_s"])):
        ax.step(xs, values, where="post", linestyle=style, marker="o", markersize=3, label=label)
    return True


def _finish_regret_axes(ax_evals, ax_time, results: dict[str, Result], drawn: bool) -> None:
    first = next(iter(results.values()))
    known = first.minimum is not None
    ylabel = "best regret so far (log scale)" if known else "best value so far"
    for ax in (ax_evals, ax_time):
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if not drawn:
            _empty_note(ax, "no successful evaluation yet")
        elif known:
            ax.set_yscale("log")
            _format_log_axis(ax)
    ax_evals.set_xlabel("evaluations after the initial design (0: initial design only)")
    ax_time.set_xlabel("wall time since the driver started (s)")
    ax_evals.set_title("against evaluations")
    ax_time.set_title("against wall time")
    from matplotlib.ticker import MaxNLocator

    ax_evals.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_evals.set_xlim(left=0)
    ax_time.set_xlim(left=0)
    if drawn:
        ax_evals.legend(loc="best")
    if known:
        note = f"regret = best value - known minimum ({first.minimum:.6g}), floored at {REGRET_FLOOR:g}"
    else:
        note = "the problem's minimum is unknown: the best value is shown, not the regret"
    ax_time.annotate(note, xy=(1.0, -0.22), xycoords="axes fraction", ha="right", va="top",
                     fontsize=8, color="0.35")


def _worker_labels(workers: list[str]) -> tuple[list[str], str]:
    """Short row labels (``:port`` when every worker is on one host) and the axis label."""
    addresses = [w.split("://", 1)[-1] for w in workers if w != NO_WORKER]
    hosts = {a.rsplit(":", 1)[0] for a in addresses if ":" in a}
    if len(hosts) == 1 and all(":" in a for a in addresses):
        host = hosts.pop()
        labels = [":" + w.rsplit(":", 1)[-1] if w != NO_WORKER else w for w in workers]
        return labels, f"worker on {host}"
    return [w.split("://", 1)[-1] for w in workers], "worker"


def _timeline_title(result: Result, label: str | None = None) -> str:
    m = result.metrics()
    title = f"{label or result.mode}: wall time {_seconds(m['wall_s'])}"
    if m["utilization"] is not None:
        title += f", workers busy {m['utilization']:.0%}"
    return title


def _draw_timeline(ax, result: Result, x_max: float | None = None, label: str | None = None) -> None:
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
    for status in STATUS_COLORS:
        if any(b["status"] == status for b in bars):
            handles.append(Patch(color=STATUS_COLORS[status], label=status))
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
        _empty_note(ax, "no evaluation after the initial design has finished")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  frameon=False)
    ax.set_title(_timeline_title(result, label))


def _stopped_note(fig, results: dict[str, Result]) -> None:
    """Say under the figure which runs stopped early or were interrupted, and why."""
    notes = []
    for mode, r in results.items():
        if r.stopped_early:
            why = r.stopped_early if r.stopped_early.startswith("interrupted") else f"stopped early: {r.stopped_early}"
            notes.append(f"{mode} {why}")
    if notes:
        fig.supxlabel("; ".join(notes), fontsize=8, color="tab:red")


def _draw_regret_panels(ax_evals, ax_time, results: dict[str, Result]) -> None:
    """Every result's regret curve on the same two axes, labelled with its wall time."""
    drawn = False
    for i, (label, result) in enumerate(results.items()):
        line_label = f"{label} (wall time {_seconds(result.wall_s)})"
        drawn |= _draw_regret(ax_evals, ax_time, line_label, result, _LINE_STYLES[i % len(_LINE_STYLES)])
    _finish_regret_axes(ax_evals, ax_time, results, drawn)


def plot_regret(results: dict[str, Result], path: str | Path) -> Path:
    """Best regret so far (or best value, if the minimum is unknown) against evaluations and
    against wall time, one line per result.

    :param results: Results by label (the mode, usually); they share the axes.
    :param path: The PNG to write.
    :return: ``path``.
    """
    fig = _figure(figsize=(12, 4.6), layout="constrained")
    ax_evals, ax_time = fig.subplots(1, 2)
    _draw_regret_panels(ax_evals, ax_time, results)
    first = next(iter(results.values()))
    initial = sum(e.proposal == INITIAL for e in first.history)
    fig.suptitle(
        f"{first.problem}: {'best regret' if first.minimum is not None else 'best value'} so far"
        f" ({_count(len(first.driven), 'evaluation')} after {_count(initial, 'initial point')})"
    )
    _stopped_note(fig, results)
    return _save(fig, path)


def plot_timeline(result: Result, path: str | Path) -> Path:
    """Each evaluation as a bar on its worker's row, coloured by status: gaps show where
    workers waited (for a batch to finish, or for the driver).

    :param path: The PNG to write.
    :return: ``path``.
    """
    rows = len({b["worker"] for b in timeline_info(result)})
    fig = _figure(figsize=(11, 1.6 + 0.45 * max(rows, 2)), layout="constrained")
    ax = fig.subplots()
    _draw_timeline(ax, result)
    ax.set_title(f"{result.problem}, {_timeline_title(result)}")
    _stopped_note(fig, {result.mode: result})
    return _save(fig, path)


def plot_points(result: Result, path: str | Path) -> Path:
    """The evaluated points in their first two dimensions, coloured by value (in 1-D: value
    against the point); points with no value marked with a red cross, the best with a star.

    :param path: The PNG to write.
    :return: ``path``.
    """
    from matplotlib.lines import Line2D

    info = points_info(result)
    fig = _figure(figsize=(6.4, 5.2), layout="constrained")
    ax = fig.subplots()
    ok = [i for i, s in enumerate(info["status"]) if s == "ok"]
    bad = [i for i, s in enumerate(info["status"]) if s != "ok"]
    one_d = info["dim"] == 1

    def pick(key: str, indices: list[int]) -> list:
        return [info[key][i] for i in indices]

    handles = []
    neutral = {"markerfacecolor": "white", "markeredgecolor": "black", "linestyle": "none"}
    for initial, marker, name in ((True, "s", "initial design"), (False, "o", "proposed")):
        chosen = [i for i in ok if info["initial"][i] == initial]
        if not chosen:
            continue
        ys = pick("y", chosen) if one_d else pick("x1", chosen)
        colours = {"color": "tab:blue"} if one_d else {
            "c": pick("y", chosen), "cmap": "viridis", "vmin": min(pick("y", ok)), "vmax": max(pick("y", ok)),
        }
        scatter = ax.scatter(pick("x0", chosen), ys, marker=marker, s=30, edgecolor="black",
                             linewidth=0.4, **colours)
        handles.append(Line2D([], [], marker=marker, label=f"{name}: {len(chosen)}", **neutral))
    if ok and not one_d:
        fig.colorbar(scatter, ax=ax, label="objective value")
    best = info["best"]
    if best is not None:
        ax.scatter([info["x0"][best]], [info["y"][best] if one_d else info["x1"][best]], marker="*",
                   s=260, facecolor="none", edgecolor="tab:red", linewidth=1.5)
        handles.append(Line2D([], [], marker="*", markersize=12, markerfacecolor="none",
                              markeredgecolor="tab:red", linestyle="none",
                              label=f"best: {info['y'][best]:.4g}"))
    if bad:
        if one_d:  # no value to place them at: crosses along the bottom edge
            ax.scatter(pick("x0", bad), [0.03] * len(bad), marker="x", color="tab:red", s=40,
                       transform=ax.get_xaxis_transform())
            low, high = min(info["x0"]), max(info["x0"])
            margin = 0.05 * (high - low) or 0.05
            ax.set_xlim(low - margin, high + margin)
        else:
            ax.scatter(pick("x0", bad), pick("x1", bad), marker="x", color="tab:red", s=40)
        statuses = ", ".join(s for s in STATUS_COLORS if s in pick("status", bad))
        handles.append(Line2D([], [], marker="x", color="tab:red", linestyle="none",
                              label=f"no value ({statuses}): {len(bad)}"))
    if not info["status"]:
        _empty_note(ax, "no evaluation yet")
    elif not ok:
        _empty_note(ax, "no successful evaluation")
        if one_d:
            ax.set_yticks([])
    ax.set_xlabel("x0")
    ax.set_ylabel("objective value" if one_d else "x1")
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.8)
    dims = "" if info["dim"] <= 2 else f", first 2 of {info['dim']} dimensions"
    ax.set_title(f"{result.problem} ({result.mode}): {_count(len(info['status']), 'evaluated point')}{dims}")
    _stopped_note(fig, {result.mode: result})
    return _save(fig, path)


def plot_comparison(results: dict[str, Result], path: str | Path) -> Path:
    """Both modes' regret on the same axes (top) and their worker timelines side by side on
    one time scale (bottom), wall times in the titles.

    :param results: Results by mode (``sync`` and ``async``).
    :param path: The PNG to write.
    :return: ``path``.
    """
    n = len(results)
    fig = _figure(figsize=(max(12, 6 * n), 8.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, hspace=0.04)  # laid out apart: legends do not couple them
    ax_evals, ax_time = top.subplots(1, 2)
    _draw_regret_panels(ax_evals, ax_time, results)
    x_max = max(max([r.wall_s] + [b["end_s"] for b in timeline_info(r)]) for r in results.values())
    timeline_axes = bottom.subplots(1, n, squeeze=False)[0]
    for ax, (mode, result) in zip(timeline_axes, results.items()):
        _draw_timeline(ax, result, x_max=x_max, label=mode)
    first = next(iter(results.values()))
    walls = " vs ".join(f"{mode} {_seconds(r.wall_s)}" for mode, r in results.items())
    title = f"{first.problem}: wall time {walls}"
    if "sync" in results and "async" in results and results["async"].wall_s > 0:
        title += f" (async {results['sync'].wall_s / results['async'].wall_s:.2f}x as fast)"
    fig.suptitle(title)
    _stopped_note(fig, results)
    return _save(fig, path)
