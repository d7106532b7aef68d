"""What the dashboard page shows, kept as events arrive: each run's evaluations in full
(compactly, in columns), however long the run, while the scheduler's own topic log keeps only
the last ``distributed.admin.low-level-log-length`` events.

Pure: no Dask, no Bokeh. The scheduler plugin feeds a :class:`RunStore`; the page reads it.
Memory is bounded: at most ``max_runs`` runs (the oldest is dropped), at most ``max_rows``
evaluations drawn per run (past that the counts and the best value stay exact, the rows stop).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

from ..plots.info import direction_sign, learn_categories
from ..progress import Event, event_kind

MAX_RUNS = 20
MAX_ROWS = 200_000
ERROR_CHARS = 300
"""Errors are cut to this length: the page shows one line, the journal keeps them whole."""

EVALUATION_COLUMNS = ("id", "x", "y", "status", "proposal", "worker", "submitted_at",
                      "started_at", "finished_at", "error", "at")
"""``at``: the finish time, made non-decreasing over the rows (results reach the driver
nearly, not exactly, in the order they finish): the time of the cumulative series."""
from ..records import STATUSES, UNDRIVEN


class RunLog:
    """One run as the page sees it.

    ``evaluations`` (columns of :data:`EVALUATION_COLUMNS`, one row per evaluated event, in
    arrival order; Unix times), ``counts`` (the cumulative count of each status after each
    row), ``best`` (``t``, ``y`` at each improvement), ``in_flight`` (``t``, ``n`` after each
    submission or result the driver published, at the time it published it) grow by
    appending only, so a reader streams what it has not seen.
    ``version`` changes when something that moves every row changes (time zero, the optimum,
    the direction, the parameters' names or categories): a reader then redraws from scratch.
    """

    def __init__(self, run_id: str, max_rows: int = MAX_ROWS):
        self.run_id = run_id
        self.max_rows = max_rows
        self.meta: dict[str, Any] = {}
        self.finished: dict[str, Any] | None = None
        self.interrupted: str | None = None
        self.version = 0
        self.evaluations: dict[str, list] = {k: [] for k in EVALUATION_COLUMNS}
        self.counts: dict[str, list[int]] = {s: [] for s in STATUSES}
        self.best: dict[str, list] = {"t": [], "y": []}
        self.in_flight: dict[str, list] = {"t": [], "n": []}
        self.totals = dict.fromkeys(STATUSES, 0)
        self.driven = 0
        self.best_y: float | None = None
        self.first_at: float | None = None
        self.last_finished_at: float | None = None
        self.categories: dict[str, dict[int, str]] = {}
        self._at: float | None = None
        self._submitted_dim = 0
        self._pending: dict[int, float] = {}

    # -- what readers need ------------------------------------------------------------------
    @property
    def origin(self) -> float:
        """Time zero: the driver's (first) start; before it arrives, the run's first event."""
        started = self.meta.get("started_at")
        return started if started is not None else (self.first_at or 0.0)

    @property
    def sign(self) -> float:
        return direction_sign(self.meta.get("direction"))

    @property
    def minimum(self) -> float | None:
        return self.meta.get("minimum")

    @property
    def names(self) -> list[str]:
        """The parameters' names: announced by the run, else ``x0..x{D-1}``."""
        names = self.meta.get("names")
        if names:
            return list(names)
        xs = self.evaluations["x"]
        dim = len(xs[0]) if xs else int(self.meta.get("dim") or self._submitted_dim)
        return [f"x{i}" for i in range(dim)]

    @property
    def in_flight_now(self) -> int:
        return len(self._pending)

    @property
    def label(self) -> str:
        return " · ".join([self.run_id, self.meta.get("mode", "?"),
                           self.meta.get("problem", "initial design")])

    # -- taking events ----------------------------------------------------------------------
    def add(self, kind: Event, msg: dict[str, Any]) -> None:
        """Take one event of this run (``kind`` as :func:`~dask_bo.progress.event_kind` read it)."""
        at = msg.get("time", msg.get("submitted_at", msg.get("finished_at", msg.get("started_at"))))
        if self.first_at is None and at is not None:
            self.first_at = at
        if kind in (Event.START, Event.DRIVER_STARTED):
            # START may carry the run's description itself or in its "config"; only a driver's
            # start sets time zero, and a resumed run keeps its first.
            config = msg.get("config") if isinstance(msg.get("config"), dict) else {}
            fields = {k: config[k] for k in ("direction", "names") if config.get(k) is not None}
            fields.update((k, v) for k, v in msg.items() if k not in ("event", "kind", "run", "time", "config"))
            if kind is Event.START or "started_at" in self.meta:
                fields.pop("started_at", None)
            self._set_meta(fields)
        elif kind is Event.SUBMITTED and msg.get("id") is not None:
            self._pending[msg["id"]] = msg.get("submitted_at", at)
            self._submitted_dim = self._submitted_dim or len(msg.get("x") or ())
            self._flight(msg.get("time", msg.get("submitted_at")))
        elif kind is Event.EVALUATED:
            self._evaluated(msg)
        elif kind is Event.CAPACITY:
            self.meta["threads"] = msg.get("threads")
        elif kind is Event.INTERRUPTED:
            self.interrupted = str(msg.get("reason") or "interrupted")
        elif kind is Event.RESUMED:
            self.interrupted = None
        elif kind is Event.FINISHED:
            self.finished = dict(msg.get("metrics") or {}, **{k: v for k, v in msg.items() if k == "wall_s"})

    def _set_meta(self, fields: dict[str, Any]) -> None:
        moving = ("started_at", "minimum", "direction", "names")
        changed = any(k in fields and fields[k] != self.meta.get(k) for k in moving)
        sign_before = self.sign
        self.meta.update(fields)
        if changed:
            self.version += 1
        if self.sign != sign_before:
            self._rebuild_best()

    def _flight(self, t: float | None) -> None:
        times = self.in_flight["t"]
        if len(times) < 2 * self.max_rows and t is not None:
            times.append(max(t, times[-1]) if times else t)
            self.in_flight["n"].append(len(self._pending))

    def _evaluated(self, msg: dict[str, Any]) -> None:
        if msg.get("names") and not self.meta.get("names"):
            self._set_meta({"names": list(msg["names"])})
        status = msg.get("status") if msg.get("status") in STATUSES else "lost"
        y = msg.get("y") if status == "ok" else None
        self.totals[status] += 1
        self.driven += msg.get("proposal") not in UNDRIVEN
        finished_at = msg.get("finished_at", msg.get("time"))
        if finished_at is not None:
            self.last_finished_at = max(finished_at, self.last_finished_at or finished_at)
        if self._pending.pop(msg.get("id"), None) is not None:
            self._flight(msg.get("time", finished_at))
        if finished_at is not None:
            self._at = finished_at if self._at is None else max(finished_at, self._at)
        at = self._at
        self._improve(at, y)
        if len(self.evaluations["id"]) >= self.max_rows:
            return
        names = self.names
        known = {n: dict(c) for n, c in self.categories.items()}
        learn_categories(self.categories, names, msg.get("x") or (), msg.get("params"))
        if self.categories != known:
            self.version += 1  # new labels for a categorical axis
        error = msg.get("error")
        row = dict(msg, x=tuple(msg.get("x") or ()), y=y, status=status, finished_at=finished_at, at=at,
                   error=None if error is None else str(error)[:ERROR_CHARS])
        for k in EVALUATION_COLUMNS:
            self.evaluations[k].append(row.get(k))
        for s in STATUSES:
            self.counts[s].append(self.totals[s])

    def _improve(self, t: float | None, y: float | None) -> None:
        """A step of the best value so far, if ``y`` beats it."""
        if y is not None and is_better(y, self.best_y, self.sign):
            self.best_y = y
            if len(self.best["t"]) < self.max_rows:
                self.best["t"].append(t)
                self.best["y"].append(y)

    def _rebuild_best(self) -> None:
        """The best values again, in a new direction (rows past ``max_rows`` are not kept)."""
        self.best, self.best_y = {"t": [], "y": []}, None
        for t, y in zip(self.evaluations["at"], self.evaluations["y"]):
            self._improve(t, y)


class RunStore:
    """The runs seen on a scheduler, oldest first, at most ``max_runs`` of them.

    :param max_runs: Runs kept; the oldest is dropped when a new one appears.
    :param max_rows: Evaluations drawn per run (see :class:`RunLog`).
    """

    def __init__(self, max_runs: int = MAX_RUNS, max_rows: int = MAX_ROWS):
        if max_runs < 1 or max_rows < 1:
            raise ValueError(f"expected max_runs and max_rows >= 1, got {max_runs} and {max_rows}")
        self.max_runs = max_runs
        self.max_rows = max_rows
        self.runs: OrderedDict[str, RunLog] = OrderedDict()
        self.version = 0
        """Changes with every event taken: a reader with nothing new to draw returns at once."""

    def add(self, msg: Any) -> bool:
        """Take one published event; anything that is not a dask_bo event is ignored.

        :return: Whether it was taken.
        """
        if not isinstance(msg, dict) or not isinstance(msg.get("run"), str):
            return False
        kind = event_kind(msg)
        if kind is None:
            return False
        if kind is Event.EVALUATED and not isinstance(msg.get("id"), int):
            return False
        run = self.runs.get(msg["run"])
        if run is None:
            run = self.runs[msg["run"]] = RunLog(msg["run"], self.max_rows)
            while len(self.runs) > self.max_runs:
                self.runs.popitem(last=False)
        run.add(kind, msg)
        self.version += 1
        return True

    def latest(self) -> RunLog | None:
        return next(reversed(self.runs.values()), None)


def is_better(y: float, best: float | None, sign: float) -> bool:
    """Whether ``y`` beats ``best`` (``None``: nothing yet) in the direction ``sign``."""
    return best is None or (math.isfinite(y) and sign * y < sign * best)
