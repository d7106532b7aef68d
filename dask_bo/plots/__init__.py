"""Plots of a run. Each is an ``*_info`` function in :mod:`dask_bo.plots.info`, pure over the
history (the dashboard page draws the same series), and a thin matplotlib renderer that draws
it; renderers write PNG files. matplotlib is imported only when something is drawn."""

from __future__ import annotations

from .info import (
    NO_WORKER,
    REGRET_FLOOR,
    STATUS_COLORS,
    parameter_axes,
    parameter_names,
    points_info,
    regret_info,
    timeline_info,
)
from .points import plot_points, points_figure
from .regret import plot_regret, regret_figure, regret_png
from .timeline import plot_comparison, plot_timeline

__all__ = [
    "NO_WORKER", "REGRET_FLOOR", "STATUS_COLORS", "parameter_axes", "parameter_names",
    "points_info", "regret_info", "timeline_info", "plot_points", "points_figure", "plot_regret",
    "regret_figure", "regret_png", "plot_comparison", "plot_timeline",
]
