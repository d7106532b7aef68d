"""The regret plot: best regret (or value) so far against evaluations and wall time."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from . import _mpl
from .info import REGRET_FLOOR, count, first_result, regret_info


def _draw(ax_evals, ax_time, label: str, result: Any, style: str = "-") -> bool:
    """One result's line on both axes; ``False`` if it has nothing to draw."""
    info = regret_info(result)
    values = info["regret"] if info["regret"] is not None else info["best"]
    if not values:
        return False
    quantity = "regret" if info["regret"] is not None else "best"
    label = f"{label} (wall time {_mpl.seconds(result.wall_s)}, final {quantity} {values[-1]:.3g})"
    for ax, xs in ((ax_evals, info["evaluations"]), (ax_time, info["time_s"])):
        ax.step(xs, values, where="post", linestyle=style, marker="o", markersize=3, label=label)
    return True


def _finish(ax_evals, ax_time, results: Mapping[str, Any], drawn: bool) -> None:
    from matplotlib.ticker import MaxNLocator

    first = first_result(results)
    known = first.minimum is not None
    for ax in (ax_evals, ax_time):
        ax.set_ylabel("best regret so far (log scale)" if known else "best value so far")
        ax.grid(True, alpha=0.3)
        if not drawn:
            _mpl.empty_note(ax, "no successful evaluation yet")
        elif known:
            ax.set_yscale("log")
            _mpl.format_log_axis(ax)
    ax_evals.set_xlabel("evaluations after the initial design (0: initial design only)")
    ax_time.set_xlabel("wall time since the driver started (s)")
    ax_evals.set_title("against evaluations")
    ax_time.set_title("against wall time")
    ax_evals.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_evals.set_xlim(left=0)
    ax_time.set_xlim(left=0)
    if drawn:
        ax_evals.legend(loc="best")
    if known:
        note = f"regret = distance of the best value from the known optimum ({first.minimum:.6g}), floored at {REGRET_FLOOR:g}"
    else:
        note = "the problem's optimum is unknown: the best value is shown, not the regret"
    ax_time.annotate(note, xy=(1.0, -0.22), xycoords="axes fraction", ha="right", va="top",
                     fontsize=8, color="0.35")


def draw_regret_panels(ax_evals, ax_time, results: Mapping[str, Any]) -> None:
    """Every result's regret curve on the same two axes, labelled with its wall time."""
    drawn = False
    for i, (label, result) in enumerate(results.items()):
        drawn |= _draw(ax_evals, ax_time, label, result, _mpl.LINE_STYLES[i % len(_mpl.LINE_STYLES)])
    _finish(ax_evals, ax_time, results, drawn)


def regret_figure(results: Mapping[str, Any]):
    """The figure of :func:`plot_regret`, not written (e.g. for a notebook)."""
    fig = _mpl.figure(figsize=(12, 4.6), layout="constrained")
    ax_evals, ax_time = fig.subplots(1, 2)
    draw_regret_panels(ax_evals, ax_time, results)
    first = first_result(results)
    initial = len(first.history) - len(first.driven)
    fig.suptitle(
        f"{first.problem}: {'best regret' if first.minimum is not None else 'best value'} so far"
        f" ({count(len(first.driven), 'evaluation')} after {count(initial, 'initial point')})"
    )
    _mpl.stopped_note(fig, results)
    return fig


def plot_regret(results: Mapping[str, Any], path: str | Path) -> Path:
    """Best regret so far (or best value, if the optimum is unknown) against evaluations and
    against wall time, one line per result.

    :param results: Results by label (the mode, usually); they share the axes.
    :param path: The PNG to write.
    :return: ``path``.
    """
    return _mpl.save(regret_figure(results), path)


def regret_png(results: Mapping[str, Any]) -> bytes:
    """:func:`regret_figure` as PNG bytes."""
    return _mpl.png_bytes(regret_figure(results))
