"""Progress reporting: a tqdm bar (a widget in notebooks, text in terminals) and events for the
dashboard page. A disabled reporter does nothing, so the drivers never check."""

from __future__ import annotations

import logging
import math
import queue
import sys
import threading
from typing import Any, TextIO

from .history import Evaluation

logger = logging.getLogger("dask_bo")

EVENT_TOPIC = "dask-bo"
"""The topic under which drivers publish to the scheduler (``Client.log_event``)."""


class _AboveTheBar:
    """A stream for a logging handler: each write goes through ``tqdm_class.write``, which
    clears the bars sharing the stream, writes the text above them and redraws them."""

    def __init__(self, stream: TextIO, tqdm_class: type):
        self.stream = stream
        self._tqdm_class = tqdm_class

    def write(self, text: str) -> None:
        self._tqdm_class.write(text, file=self.stream, end="")

    def flush(self) -> None:
        self.stream.flush()


class _LogsAboveTheBar:
    """While active, the console handlers that records of the ``dask_bo`` logger reach (its
    own and its ancestors', or logging's last resort) write above the bar instead of through
    it. A console handler is a :class:`logging.StreamHandler` writing to ``sys.stdout``,
    ``sys.stderr`` or the bar's own file; other handlers (log files) are left alone."""

    def __init__(self, tqdm_class: type, bar_file: TextIO | None):
        self._tqdm_class = tqdm_class
        self._consoles = {id(s) for s in (sys.stdout, sys.stderr, bar_file) if s is not None}
        self._swapped: list[tuple[logging.StreamHandler, TextIO]] = []
        self._last_resort: logging.Handler | None = None

    def __enter__(self) -> _LogsAboveTheBar:
        handlers: list[logging.Handler] = []
        current: logging.Logger | None = logger
        while current is not None:
            handlers += current.handlers
            current = current.parent if current.propagate else None
        for handler in handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and id(stream) in self._consoles:
                handler.setStream(_AboveTheBar(stream, self._tqdm_class))
                self._swapped.append((handler, stream))
        if not handlers and logging.lastResort is not None:
            self._last_resort = logging.lastResort
            above = logging.StreamHandler(_AboveTheBar(sys.stderr, self._tqdm_class))
            above.setLevel(self._last_resort.level)
            logging.lastResort = above
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for handler, stream in reversed(self._swapped):
            handler.setStream(stream)
        self._swapped.clear()
        if self._last_resort is not None:
            logging.lastResort, self._last_resort = self._last_resort, None


class Progress:
    """Shows ``done/budget`` with the evaluations in flight, the failures and the best value
    so far: a widget in notebooks, a text bar in terminals (``tqdm.auto``).

    While the bar is open, log records of the ``dask_bo`` logger that would be printed to the
    console go through ``tqdm.write`` (above the bar) so they do not break it.

    :param total: The evaluations budget.
    :param enabled: ``False`` makes every method a no-op: nothing is written.
    :param description: Shown before the bar (the mode).
    :param initial: Evaluations already done (a resumed run).
    :param file: Where a text bar is written (default: ``sys.stderr``); giving one always
        makes a text bar.
    """

    def __init__(
        self,
        total: int,
        enabled: bool = True,
        description: str = "",
        initial: int = 0,
        file: TextIO | None = None,
    ):
        self._bar = None
        self._logs: _LogsAboveTheBar | None = None
        self.best = math.inf
        self.failed = 0
        if not enabled:
            return
        if file is None:
            from tqdm.auto import tqdm
        else:
            from tqdm.std import tqdm
        # Evaluations are expensive: redraw on every one (mininterval=0) so failures show at once.
        self._bar = tqdm(
            total=total, initial=initial, desc=description, unit="eval", dynamic_ncols=True,
            file=file, mininterval=0, miniters=1, postfix=self._postfix(0),
        )
        self._logs = _LogsAboveTheBar(type(self._bar), file).__enter__()

    def _postfix(self, in_flight: int) -> str:
        best = f"{self.best:.4g}" if math.isfinite(self.best) else "-"
        return f"in flight {in_flight}, failed {self.failed}, best {best}"

    def update(self, record: Evaluation, in_flight: int, counted: bool = True) -> None:
        """Count ``record`` (if ``counted``) and show ``in_flight`` evaluations still running."""
        if record.ok and record.y < self.best:
            self.best = record.y
        self.failed += not record.ok
        if self._bar is None:
            return
        self._bar.set_postfix_str(self._postfix(in_flight), refresh=False)
        if counted:
            self._bar.update(1)
        else:
            self._bar.refresh()

    def close(self) -> None:
        """Close the bar (it stays on screen) and give logging its console back."""
        if self._logs is not None:
            self._logs.__exit__(None, None, None)
            self._logs = None
        if self._bar is not None:
            self._bar.close()


class Publisher:
    """Publishes a run's events to the scheduler, where the dashboard page reads them.

    Events are small dicts (msgpack-able), sent in order by a thread of its own: each
    ``Client.log_event`` waits for the scheduler's reply (about 4 ms with the model busy on a
    small machine), and a driver that waited twice per evaluation would leave its workers idle
    that long. Publishing never blocks nor fails the run; :meth:`close` sends what is queued.
    """

    def __init__(self, client: Any, run_id: str, enabled: bool = True):
        self._client = client if enabled else None
        self.run_id = run_id
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def publish(self, kind: str, **fields: Any) -> None:
        if self._client is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._send, name="dask-bo-publisher", daemon=True)
            self._thread.start()
        self._queue.put({"run": self.run_id, "kind": kind, **fields})

    def close(self, timeout_s: float = 5.0) -> None:
        """Send the events queued so far (waiting at most ``timeout_s``) and stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout_s)
            self._thread = None

    def _send(self) -> None:
        while (event := self._queue.get()) is not None:
            if self._client is None:
                continue  # publishing failed once: drop the rest
            try:
                self._client.log_event(EVENT_TOPIC, event)
            except Exception as error:  # the dashboard is a view: the run goes on without it
                logger.debug("could not publish %s: %r", event["kind"], error)
                self._client = None
