"""The dask_bo page of the Dask dashboard, at ``/individual-dask-bo``.

Load it on a scheduler with ``dask scheduler --preload dask_bo.dashboard``; the embedded
cluster of :func:`dask_bo.connect` loads it by itself. The page reads the events that drivers
publish under the ``dask-bo`` topic, so it shows any run on that scheduler.
"""

from __future__ import annotations

from distributed.dashboard.scheduler import applications

from .cluster import DASHBOARD_PAGE
from .progress import EVENT_TOPIC


def dask_bo_doc(scheduler, extra, doc) -> None:
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    source = ColumnDataSource({"t": [], "best": []})
    fig = figure(title="dask_bo: best value so far", x_axis_label="wall time (s)", height=300)
    fig.step("t", "best", source=source, mode="after")
    doc.title = "Dask: dask_bo"
    doc.add_root(fig)

    def update() -> None:
        events = [msg for _, msg in scheduler.get_events(EVENT_TOPIC)]
        t, best, current = [], [], float("inf")
        for e in events:
            if e.get("kind") == "evaluated" and e.get("status") == "ok":
                current = min(current, e["y"])
                t.append(e["finished_at"])
                best.append(current)
        source.data = {"t": t, "best": best}

    update()
    doc.add_periodic_callback(update, 1000)


applications["/" + DASHBOARD_PAGE] = dask_bo_doc


def dask_setup(scheduler) -> None:
    """Preload hook: the page is registered on import, before the dashboard starts."""
