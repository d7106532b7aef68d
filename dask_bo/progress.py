"""Progress reporting: a tqdm bar (a widget in notebooks, text in terminals) and events for the
dashboard page. A disabled reporter does nothing, so the drivers never check."""

from __future__ import annotations

import logging
import math
from typing import Any

from .history import Evaluation

logger = logging.getLogger("dask_bo")

EVENT_TOPIC = "dask-bo"
"""The topic under which drivers publish to the scheduler (``Client.log_event``)."""


class Progress:
    """Shows ``done/budget`` with in-flight, failures and the best value so far.

    :param total: The evaluations budget.
    :param enabled: ``False`` makes every method a no-op.
    :param description: Shown before the bar (the mode).
    """

    def __init__(self, total: int, enabled: bool = True, description: str = "", initial: int = 0):
        self._bar = None
        self.best = math.inf
        self.failed = 0
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=description, unit="eval", dynamic_ncols=True)

    def update(self, record: Evaluation, in_flight: int, counted: bool = True) -> None:
        if record.ok and record.y < self.best:
            self.best = record.y
        self.failed += not record.ok
        if self._bar is None:
            return
        self._bar.set_postfix(in_flight=in_flight, failed=self.failed, best=f"{self.best:.4g}", refresh=False)
        self._bar.update(1 if counted else 0)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class Publisher:
    """Publishes a run's events to the scheduler, where the dashboard page reads them.

    Events are small dicts (msgpack-able); publishing never blocks nor fails the run.
    """

    def __init__(self, client: Any, run_id: str, enabled: bool = True):
        self._client = client if enabled else None
        self.run_id = run_id

    def publish(self, kind: str, **fields: Any) -> None:
        if self._client is None:
            return
        try:
            self._client.log_event(EVENT_TOPIC, {"run": self.run_id, "kind": kind, **fields})
        except Exception as error:  # the dashboard is a view: the run goes on without it
            logger.debug("could not publish %s: %r", kind, error)
            self._client = None
