"""The dask_bo page of the Dask dashboard, at ``/individual-dask-bo``.

Load it on a scheduler with ``dask scheduler --preload dask_bo.dashboard``; the embedded
cluster of :func:`dask_bo.connect` loads it by itself. The preload registers the page and
adds :class:`DashboardPlugin`, which keeps every run's events (drivers publish them under the
``dask-bo`` topic) as they arrive, so the page shows whole runs, however long.

Layers: :mod:`.store` (the runs, pure), :mod:`.data` (the page's rows, pure), :mod:`.plugin`
(the scheduler side), :mod:`.page` (Bokeh).
"""

from __future__ import annotations

from distributed.dashboard.scheduler import applications

from ..cluster import DASHBOARD_PAGE
from .data import Cursor, page_update, summary, summary_html
from .page import UPDATE_INTERVAL_MS, dask_bo_doc
from .plugin import PLUGIN_NAME, DashboardPlugin, install
from .store import MAX_ROWS, MAX_RUNS, RunLog, RunStore

__all__ = [
    "Cursor", "DashboardPlugin", "MAX_ROWS", "MAX_RUNS", "PLUGIN_NAME", "RunLog", "RunStore",
    "UPDATE_INTERVAL_MS", "dask_bo_doc", "dask_setup", "install", "page_update", "summary",
    "summary_html",
]

applications["/" + DASHBOARD_PAGE] = dask_bo_doc


def dask_setup(scheduler) -> None:
    """Preload hook: the page is registered on import, before the dashboard starts; the
    plugin that keeps whole runs is added here."""
    install(scheduler)
