"""The scheduler plugin that keeps whole runs for the page: it sees every event published
under the ``dask-bo`` topic as it arrives (the scheduler's own log of a topic keeps only the
last ``distributed.admin.low-level-log-length`` of them)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from ..progress import EVENT_TOPIC
from .store import MAX_ROWS, MAX_RUNS, RunStore

PLUGIN_NAME = "dask-bo-dashboard"


class DashboardPlugin(SchedulerPlugin):
    """Accumulates the runs' events in a :class:`~dask_bo.dashboard.store.RunStore`.

    Added to a scheduler with :func:`install` (which the preload ``dask_bo.dashboard`` runs),
    or from a client: ``client.register_plugin(DashboardPlugin())``. Events already in the
    scheduler's topic log when it is added are taken first.

    :param max_runs: Runs kept (the oldest is dropped).
    :param max_rows: Evaluations drawn per run.
    """

    name = PLUGIN_NAME

    def __init__(self, max_runs: int = MAX_RUNS, max_rows: int = MAX_ROWS):
        self.store = RunStore(max_runs=max_runs, max_rows=max_rows)
        self._backfilled = False

    def backfill(self, scheduler: Any) -> None:
        """Take the events the scheduler logged before this plugin was added (once)."""
        if self._backfilled:
            return
        self._backfilled = True
        for _, msg in scheduler.get_events(EVENT_TOPIC):
            self.store.add(msg)

    async def start(self, scheduler: Any) -> None:
        self.backfill(scheduler)

    def log_event(self, topic: str, msg: Any) -> None:
        if topic == EVENT_TOPIC:
            self.store.add(msg)


def install(scheduler: Any, **kwargs: Any) -> DashboardPlugin:
    """The scheduler's :class:`DashboardPlugin`, added (and back-filled) if it has none.

    :param kwargs: For a new plugin: ``max_runs``, ``max_rows``.
    """
    plugin = scheduler.plugins.get(PLUGIN_NAME)
    if not isinstance(plugin, DashboardPlugin):
        plugin = DashboardPlugin(**kwargs)
        plugin.backfill(scheduler)
        scheduler.add_plugin(plugin, name=PLUGIN_NAME)
    return plugin
