"""What the matplotlib renderers share. They draw on :class:`matplotlib.figure.Figure`
objects with the Agg canvas, never through ``pyplot``: they change no global backend or state
(a notebook keeps its own) and may run in any thread."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Mapping

DPI = 100
LINE_STYLES = ("-", "--", ":", "-.")

_MANTISSAS = ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9))
MIN_LOG_LABELS = 3
"""A log axis labels at least this many ticks, so a value on it can be read (issue 16)."""


def figure(**kwargs: Any):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (for a notebook's ``_repr_html_``)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def seconds(value: float) -> str:
    return f"{value:.1f} s"


def log_ticks(low: float, high: float) -> list[float]:
    """Ticks for a log axis over ``[low, high]``: decades when it spans many, else 1-2-5 or
    every mantissa, so that at least :data:`MIN_LOG_LABELS` fall inside; plus the nearest
    tick below and above, so every value drawn lies between two labelled ticks (the caller
    widens the axis to them)."""
    lo_exp, hi_exp = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for mantissas in _MANTISSAS:
        candidates = [m * 10.0 ** k for k in range(lo_exp - 1, hi_exp + 1) for m in mantissas]
        inside = [t for t in candidates if low < t < high]
        if len(inside) >= MIN_LOG_LABELS:
            break
    below = [t for t in candidates if t <= low]
    above = [t for t in candidates if t >= high]
    return below[-1:] + inside + above[:1]


def format_log_axis(ax) -> None:
    """Plain numbers (``0.25``, not ``2.5x10^-1``) on the y log axis, with enough labelled
    ticks to read the values drawn (an axis spanning a decade or less would otherwise label
    one tick, or none)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    low, high = ax.get_ylim()
    ticks = log_ticks(low, high)
    ax.set_ylim(ticks[0], ticks[-1])
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def stopped_note(fig, results: Mapping[str, Any]) -> None:
    """Say under the figure which runs stopped early or were interrupted, and why."""
    notes = []
    for mode, r in results.items():
        reason = getattr(r, "stopped_early", None)
        if reason:
            notes.append(f"{mode} {reason if reason.startswith('interrupted') else 'stopped early: ' + reason}")
    if notes:
        fig.supxlabel("; ".join(notes), fontsize=8, color="tab:red")
