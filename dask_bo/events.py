"""One vocabulary of run events (journal, dashboard, progress) and the one replay of them.

Every event is a dict ``{"event": <Event value>, "run": <run id>, "time": <unix time>, ...}``
with the fields listed on :class:`Event`. :func:`replay` turns a sequence of them into the
run's state; resume, report, :func:`~dask_bo.report.load_result` and the dashboard all call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable

from .records import UNDRIVEN, Evaluation


class Event(str, Enum):
    """The kinds of run events and their fields (besides ``event``, ``run`` and ``time``)."""

    START = "start"
    """``config``: everything needed to rebuild the run (settings, problem)."""
    DRIVER_STARTED = "driver_started"
    """``started_at``, ``mode``, ``problem``, ``rule``, ``workers``, ``budget``, ``minimum``,
    ``dim``, ``names``: a driver starts its loop (after the initial design)."""
    SUBMITTED = "submitted"
    """``id``, ``x``, ``params``, ``proposal``, ``submitted_at``: a point sent out."""
    EVALUATED = "evaluated"
    """The fields of :meth:`Evaluation.to_dict`: an evaluation finished, whatever its outcome."""
    CAPACITY = "capacity"
    """``threads``: the worker threads present from ``time`` on."""
    INTERRUPTED = "interrupted"
    """``reason``: the driver was stopped (Ctrl-C, SIGTERM); its in-flight points were cancelled."""
    RESUMED = "resumed"
    """``in_flight``, ``evaluations``: a new driver continues the run."""
    FINISHED = "finished"
    """``metrics``: the run ended; the fields of ``result.json``."""


REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    Event.START.value: ("config",),
    Event.SUBMITTED.value: ("id", "x"),
    Event.EVALUATED.value: ("id", "x", "status"),
    Event.CAPACITY.value: ("time", "threads"),
    Event.FINISHED.value: ("metrics",),
}
"""Fields an event of each kind cannot do without."""


def check_event(event: Any) -> str | None:
    """What is wrong with ``event`` (an event dict), or ``None`` if nothing is.

    Kinds this version does not know pass (a newer writer's events).
    """
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return "is not an event (a JSON object with an 'event' name)"
    kind = event["event"]
    required = REQUIRED_FIELDS.get(kind, ())
    missing = [k for k in required if k not in event]
    if missing:
        return f"is missing {missing[0]!r} (every {kind!r} event has {', '.join(map(repr, required))})"
    try:
        if kind == Event.EVALUATED:
            Evaluation.from_dict(event)
        elif kind == Event.SUBMITTED:  # the point's checks are the record's
            Evaluation.from_dict({"id": event["id"], "x": event["x"], "status": "lost"})
        elif kind == Event.CAPACITY and not (_is_number(event["time"]) and isinstance(event["threads"], int)):
            raise ValueError(f"expected a number 'time' and an integer 'threads', got {event['time']!r}, {event['threads']!r}")
    except ValueError as error:
        return f"is not a valid {kind!r} event ({error})"
    for name, expected in (("config", Event.START), ("metrics", Event.FINISHED)):
        if kind == expected and not isinstance(event[name], dict):
            return f"has a {name!r} that is not an object (in a {kind!r} event)"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class RunState:
    """A run as its events describe it.

    :param run_id: The run's id (``None`` for journals written before events carried one).
    :param config: The ``start`` event's configuration (``None`` if there was none).
    :param history: One record per evaluation id (the last one journalled), in the order
        the ids were first evaluated.
    :param in_flight: The ``submitted`` events of points never evaluated, in id order.
    :param started_at: When the first driver started its loop (``None`` if none did).
    :param paused_s: Seconds between a driver's last event and the next driver's start.
    :param threads: ``(unix_time, threads)`` steps of the worker threads present; a pause
        between drivers is a step to 0 (so integrals of it count driver time only).
    :param finished: The metrics of the last ``finished`` event, unless a driver resumed
        the run after it.
    :param interrupted: The last driver journalled an ``interrupted`` event.
    :param interrupted_reason: Its ``reason``.
    :param driver_starts: ``started_at`` of every ``driver_started`` event.
    :param driver: The fields of the last ``driver_started`` event.
    :param driven_submitted: How many distinct points the driver chose (the budget's count).
    :param driven_failed: Evaluations of such points whose status is not ``ok``.
    :param next_id: One more than the largest id seen.
    :param foreign_events: Events of another run id, left out.
    """

    run_id: str | None = None
    config: dict[str, Any] | None = None
    history: list[Evaluation] = field(default_factory=list)
    in_flight: list[dict[str, Any]] = field(default_factory=list)
    started_at: float | None = None
    paused_s: float = 0.0
    threads: list[tuple[float, int]] = field(default_factory=list)
    finished: dict[str, Any] | None = None
    interrupted: bool = False
    interrupted_reason: str | None = None
    driver_starts: list[float] = field(default_factory=list)
    driver: dict[str, Any] = field(default_factory=dict)
    driven_submitted: int = 0
    driven_failed: int = 0
    next_id: int = 0
    foreign_events: int = 0


_ENVELOPE = ("event", "run", "time")


def replay(events: Iterable[dict[str, Any]], run_id: str | None = None) -> RunState:
    """The state of the run that ``events`` describe.

    Events of kinds this version does not know are ignored; events without a ``run`` key
    (older journals) belong to any run.

    :param events: Event dicts in the order they happened.
    :param run_id: The run to follow; ``None``: the first run id seen.
    :raises ValueError: An ``evaluated`` event is not a valid record.
    """
    state = RunState(run_id=run_id)
    records: dict[int, Evaluation] = {}
    submitted: dict[int, dict[str, Any]] = {}
    driven: set[int] = set()
    last_time: float | None = None  # of the previous event of this run
    segment_started = False  # the current driver has journalled driver_started
    for e in events:
        run = e.get("run")
        if run is not None:
            if state.run_id is None:
                state.run_id = run
            elif run != state.run_id:
                state.foreign_events += 1
                continue
        kind, now = e.get("event"), e.get("time")
        now = now if _is_number(now) else None
        if kind == Event.RESUMED or (kind == Event.DRIVER_STARTED and segment_started):
            # A new driver: the time since the previous driver's last event was nobody's.
            _pause(state, last_time, now)
            segment_started = False
            state.finished, state.interrupted, state.interrupted_reason = None, False, None
        if kind == Event.START:
            if state.config is None:
                state.config = e.get("config")
        elif kind == Event.DRIVER_STARTED:
            segment_started = True
            if _is_number(e.get("started_at")):
                state.driver_starts.append(e["started_at"])
                if state.started_at is None:
                    state.started_at = e["started_at"]
            state.driver = {k: v for k, v in e.items() if k not in _ENVELOPE}
        elif kind == Event.SUBMITTED:
            submitted[e["id"]] = e
            if e.get("proposal") not in UNDRIVEN:
                driven.add(e["id"])
        elif kind == Event.EVALUATED:
            record = Evaluation.from_dict(e)
            records[record.id] = record
            if record.driven:
                driven.add(record.id)
        elif kind == Event.CAPACITY and now is not None:
            state.threads.append((float(now), int(e["threads"])))
        elif kind == Event.INTERRUPTED:
            state.interrupted, state.interrupted_reason = True, e.get("reason")
        elif kind == Event.FINISHED:
            state.finished = e.get("metrics")
        if now is not None:
            last_time = now
    state.history = list(records.values())
    state.in_flight = [submitted[i] for i in sorted(submitted) if i not in records]
    state.driven_submitted = len(driven)
    state.driven_failed = sum(not r.ok for r in state.history if r.driven)
    state.next_id = max([*records, *submitted], default=-1) + 1
    return state


def _pause(state: RunState, last_time: float | None, now: float | None) -> None:
    """Count the gap before a new driver as paused, if the run's clock had started."""
    if last_time is None or now is None or state.started_at is None:
        return
    start = max(last_time, state.started_at)
    if now <= start:
        return
    state.paused_s += now - start
    if state.threads:  # no threads while no driver ran; the new one starts with the last count
        threads = state.threads[-1][1]
        state.threads += [(float(start), 0), (float(now), threads)]
