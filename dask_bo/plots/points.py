"""The evaluated points in two of their parameters, coloured by value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _mpl
from .info import STATUS_COLORS, count, points_info


def _parameter_axis(ax, which: str, spec: dict[str, Any] | None, name: str, values: list[float]) -> None:
    """Name the ``which`` ("x" or "y") axis after its parameter; a categorical one shows its
    choices, a log-scale one is drawn on a log scale."""
    getattr(ax, f"set_{which}label")(name)
    if spec is None:
        return
    if spec["categories"] is not None:
        n = len(spec["categories"])
        getattr(ax, f"set_{which}ticks")(range(n), spec["categories"])
        getattr(ax, f"set_{which}lim")(-0.5, n - 0.5)
    elif spec["log"] and values and min(values) > 0:
        getattr(ax, f"set_{which}scale")("log")


def points_figure(result: Any, x_param: str | None = None, y_param: str | None = None):
    """The figure of :func:`plot_points`, not written."""
    from matplotlib.lines import Line2D

    info = points_info(result, x_param, y_param)
    fig = _mpl.figure(figsize=(6.4, 5.2), layout="constrained")
    ax = fig.subplots()
    ok = [i for i, s in enumerate(info["status"]) if s == "ok"]
    bad = [i for i, s in enumerate(info["status"]) if s != "ok"]
    one_d = info["y_param"] is None

    def pick(key: str, indices: list[int]) -> list:
        return [info[key][i] for i in indices]

    handles = []
    neutral = {"markerfacecolor": "white", "markeredgecolor": "black", "linestyle": "none"}
    for initial, marker, name in ((True, "s", "initial design"), (False, "o", "proposed")):
        chosen = [i for i in ok if info["initial"][i] == initial]
        if not chosen:
            continue
        ys = pick("y", chosen) if one_d else pick("y_coord", chosen)
        colours = {"color": STATUS_COLORS["ok"]} if one_d else {
            "c": pick("y", chosen), "cmap": "viridis", "vmin": min(pick("y", ok)), "vmax": max(pick("y", ok)),
        }
        scatter = ax.scatter(pick("x_coord", chosen), ys, marker=marker, s=30, edgecolor="black",
                             linewidth=0.4, **colours)
        handles.append(Line2D([], [], marker=marker, label=f"{name}: {len(chosen)}", **neutral))
    if ok and not one_d:
        fig.colorbar(scatter, ax=ax, label="objective value")
    best = info["best"]
    if best is not None:
        ax.scatter([info["x_coord"][best]], [info["y"][best] if one_d else info["y_coord"][best]],
                   marker="*", s=260, facecolor="none", edgecolor=STATUS_COLORS["failed"], linewidth=1.5)
        handles.append(Line2D([], [], marker="*", markersize=12, markerfacecolor="none",
                              markeredgecolor=STATUS_COLORS["failed"], linestyle="none",
                              label=f"best: {info['y'][best]:.4g}"))
    if bad:
        if one_d:  # no value to place them at: crosses along the bottom edge
            ax.scatter(pick("x_coord", bad), [0.03] * len(bad), marker="x", color=STATUS_COLORS["failed"],
                       s=40, transform=ax.get_xaxis_transform())
            low, high = min(info["x_coord"]), max(info["x_coord"])
            margin = 0.05 * (high - low) or 0.05
            ax.set_xlim(low - margin, high + margin)
        else:
            ax.scatter(pick("x_coord", bad), pick("y_coord", bad), marker="x",
                       color=STATUS_COLORS["failed"], s=40)
        statuses = ", ".join(s for s in STATUS_COLORS if s in pick("status", bad))
        handles.append(Line2D([], [], marker="x", color=STATUS_COLORS["failed"], linestyle="none",
                              label=f"no value ({statuses}): {len(bad)}"))
    if not info["status"]:
        _mpl.empty_note(ax, "no evaluation yet")
    elif not ok:
        _mpl.empty_note(ax, "no successful evaluation")
        if one_d:
            ax.set_yticks([])
    axes = info["axes"]
    _parameter_axis(ax, "x", axes.get(info["x_param"]), info["x_param"] or "x0", info["x_coord"])
    if one_d:
        ax.set_ylabel("objective value")
    else:
        _parameter_axis(ax, "y", axes[info["y_param"]], info["y_param"], info["y_coord"])
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.8)
    shown = "" if info["dim"] <= 2 else f", {info['x_param']} and {info['y_param']} of {info['dim']} parameters"
    ax.set_title(f"{result.problem} ({result.mode}): {count(len(info['status']), 'evaluated point')}{shown}")
    _mpl.stopped_note(fig, {result.mode: result})
    return fig


def plot_points(result: Any, path: str | Path, x_param: str | None = None,
                y_param: str | None = None) -> Path:
    """The evaluated points in two parameters, coloured by value (in 1-D: value against the
    point); points with no value marked with a red cross, the best with a star. Axes are
    named after the parameters; a categorical one shows its choices.

    :param path: The PNG to write.
    :param x_param: The parameter on the horizontal axis (default: the first).
    :param y_param: The parameter on the vertical axis (default: the next one).
    :return: ``path``.
    """
    return _mpl.save(points_figure(result, x_param, y_param), path)
