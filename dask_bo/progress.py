"""Progress reporting: a tqdm bar (a widget in notebooks, text in terminals) and the events a
run publishes for the dashboard page. A disabled reporter does nothing, so the loop never checks.
"""

from __future__ import annotations

import logging
import math
import queue
import sys
import threading
import time
from typing import Any, Callable, TextIO

from .events import Event

logger = logging.getLogger("dask_bo")

EVENT_TOPIC = "dask-bo"
"""The topic under which drivers publish to the scheduler (``Client.log_event``)."""

_OLD_KINDS = {"started": Event.DRIVER_STARTED}
"""Spellings of earlier versions (``{"kind": "started"}``), still understood."""


def event_kind(value: Any) -> Event | None:
    """The :class:`Event` an event's kind names, or ``None`` for an unknown one.

    :param value: An :class:`Event`, its value, an old spelling (``"started"``), or an event
        dict (its ``"event"`` key, or the old ``"kind"`` key).
    """
    if isinstance(value, dict):
        value = value.get("event", value.get("kind"))
    if isinstance(value, Event):
        return value
    try:
        return Event(value)
    except ValueError:
        return _OLD_KINDS.get(value) if isinstance(value, str) else None


def _console_handlers(log: logging.Logger) -> list[logging.Handler]:
    return [h for h in log.handlers
            if isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.stderr)]


def _handled_above(log: logging.Logger) -> bool:
    """Whether an ancestor of ``log`` has handlers that its records reach."""
    current = log.parent if log.propagate else None
    while current is not None:
        if current.handlers:
            return True
        current = current.parent if current.propagate else None
    return False


class Progress:
    """Shows ``done/budget`` with the evaluations in flight, the failures and the best value
    so far: a widget in notebooks, a text bar in terminals (``tqdm.auto``).

    While the bar is open, the ``dask_bo`` logger's records are written above it with
    :func:`tqdm.contrib.logging.logging_redirect_tqdm`, applied to that logger alone: its own
    console handler is swapped for the time of the bar (or, if no handler anywhere would take
    its records, a stand-in for logging's last resort is put on it). The root logger, other
    loggers and ``logging.lastResort`` are never touched: an application that routes logging
    through the root logger redirects it itself.

    :param total: The evaluations budget.
    :param enabled: ``False`` makes every method a no-op: nothing is written.
    :param description: Shown before the bar (the mode).
    :param initial: Evaluations already done (a resumed run).
    :param file: Where a text bar is written (default: ``sys.stderr``); giving one always
        makes a text bar.
    :param direction: ``"minimize"`` or ``"maximize"``: which value is the best so far.
    """

    def __init__(
        self,
        total: int,
        enabled: bool = True,
        description: str = "",
        initial: int = 0,
        file: TextIO | None = None,
        direction: str = "minimize",
    ):
        if direction not in ("minimize", "maximize"):
            raise ValueError(f"expected direction 'minimize' or 'maximize', got {direction!r}")
        self._bar = None
        self._redirect = None
        self._sign = 1.0 if direction == "minimize" else -1.0
        self.best = math.inf * self._sign
        self.failed = 0
        self.in_flight = 0
        if not enabled:
            return
        if file is None:
            from tqdm.auto import tqdm
        else:
            from tqdm.std import tqdm
        # Evaluations are expensive: redraw on every one (mininterval=0) so failures show at once.
        self._bar = tqdm(
            total=total, initial=initial, desc=description, unit="eval", dynamic_ncols=True,
            file=file, mininterval=0, miniters=1, postfix=self._postfix(),
        )
        self._redirect_logging(type(self._bar))

    def _redirect_logging(self, tqdm_class: type) -> None:
        from tqdm.contrib.logging import logging_redirect_tqdm

        own = _console_handlers(logger)
        if not own and (logger.handlers or _handled_above(logger)):
            return  # records go to handlers the application set up: its business
        before = list(logger.handlers)
        self._redirect = logging_redirect_tqdm(loggers=[logger], tqdm_class=tqdm_class)
        self._redirect.__enter__()
        # tqdm's handler takes the swapped handler's stream, formatter and filters, not its
        # level; standing in for the last resort, it takes that one's (WARNING).
        level = own[0].level if own else logging.WARNING
        for handler in set(logger.handlers) - set(before):
            handler.setLevel(level)

    def _postfix(self) -> str:
        best = f"{self.best:.4g}" if math.isfinite(self.best) else "-"
        return f"in flight {self.in_flight}, failed {self.failed}, best {best}"

    def update(self, record: Any, in_flight: int, counted: bool = True) -> None:
        """Take one finished evaluation into account.

        :param record: The evaluation (any object with ``ok`` and ``y``).
        :param in_flight: The evaluations running *now*, as the caller counts them: the bar
            shows this number as given. A loop that refills free workers after each result
            should pass the count after the refill (or call :meth:`set_in_flight` then).
        :param counted: Whether ``record`` counts against the budget (advances the bar).
        """
        if record.ok and record.y is not None and self._sign * record.y < self._sign * self.best:
            self.best = record.y
        self.failed += not record.ok
        self.in_flight = in_flight
        if self._bar is None:
            return
        self._bar.set_postfix_str(self._postfix(), refresh=False)
        if counted:
            self._bar.update(1)
        else:
            self._bar.refresh()

    def set_in_flight(self, in_flight: int) -> None:
        """Show ``in_flight`` evaluations running (e.g. after a refill), counting nothing."""
        self.in_flight = in_flight
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix())

    def close(self) -> None:
        """Close the bar (it stays on screen) and give the ``dask_bo`` logger its handlers back."""
        if self._redirect is not None:
            self._redirect.__exit__(None, None, None)
            self._redirect = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Publisher:
    """Publishes a run's events to the scheduler, where the dashboard page reads them.

    Each event is a small msgpack-able dict ``{"event": <Event value>, "run": <run id>,
    "time": <unix time>, ...fields}``, sent in order by a thread of its own: each
    ``Client.log_event`` waits for the scheduler's reply, and a driver that waited twice per
    evaluation would leave its workers idle that long. Publishing never blocks nor fails the
    run; :meth:`close` sends what is queued.

    :param client: The :class:`distributed.Client` of the run.
    :param run_id: Put on every event.
    :param enabled: ``False``: publish nothing.
    :param clock: The events' ``time`` (Unix seconds).
    """

    def __init__(self, client: Any, run_id: str, enabled: bool = True,
                 clock: Callable[[], float] = time.time):
        self._client = client if enabled else None
        self.run_id = run_id
        self._clock = clock
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def publish(self, event: Event | str, **fields: Any) -> None:
        """Queue one event.

        :param event: Its kind: an :class:`Event` or its value.
        :param fields: The event's fields (msgpack-able values).
        """
        kind = event_kind(event)
        if kind is None:
            raise ValueError(f"expected an event kind among {[e.value for e in Event]}, got {event!r}")
        if self._client is None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._send, name="dask-bo-publisher", daemon=True)
            self._thread.start()
        self._queue.put({"event": kind.value, "run": self.run_id, "time": self._clock(), **fields})

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
                logger.debug("could not publish %s: %r", event["event"], error)
                self._client = None
