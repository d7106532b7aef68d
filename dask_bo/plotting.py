"""Kept so that ``dask_bo.plotting`` still imports: the plots live in :mod:`dask_bo.plots`."""

from __future__ import annotations

from .plots import (  # noqa: F401
    NO_WORKER,
    REGRET_FLOOR,
    STATUS_COLORS,
    plot_comparison,
    plot_points,
    plot_regret,
    plot_timeline,
    points_info,
    regret_info,
    timeline_info,
)
