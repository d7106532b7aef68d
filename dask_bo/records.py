"""Evaluation records: one frozen record per evaluation, whatever its outcome.

Workers import this module to return their records, so it imports nothing heavier than NumPy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

STATUSES = ("ok", "failed", "timeout", "lost")
"""``ok``: a finite value; ``failed``: the objective raised or returned no finite number;
``timeout``: still running after the evaluation timeout; ``lost``: Dask gave up on the task
(its worker died too often, or the task was cancelled)."""

INITIAL = "initial"
"""The ``proposal`` of the points of the initial design."""

WARM = "warm"
"""The ``proposal`` of records given as initial data (earlier runs, a CSV): data only."""

PROPOSALS = (INITIAL, "rule", "thompson", "explore", "batch", WARM)
"""Where a point came from: the initial design; the run's acquisition rule; the cheap joint
Thompson cover; a space-filling point while the model is not ready; a synchronous batch;
records given as initial data."""

UNDRIVEN = (INITIAL, WARM)
"""Proposals that are not the driver's choices: they are not counted in the budget."""

_REQUIRED = ("id", "x", "status")


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the objective, whatever its outcome.

    Times ending in ``_at`` are Unix timestamps (seconds); ``duration_s`` is measured on the
    worker around the objective call alone.

    :param id: The evaluation's number, unique in its run: the driver numbers the points it
        submits 0, 1, 2, ... in submission order, after the largest id of any initial data
        (which keeps its own); a point that ``resume`` sends again keeps its id.
    :param x: The point [D] in the parameters' own numeric coordinates (for a named space,
        one value per parameter in declaration order: an int as a float, a categorical as
        the index of its choice).
    :param y: The objective's value as the user returned it (``None`` unless ``ok``).
    :param status: One of :data:`~dask_bo.STATUSES`: ``"ok"``, ``"failed"``, ``"timeout"``
        or ``"lost"``; only an ``ok`` record has a (finite) ``y``.
    :param proposal: Where the point came from, one of :data:`~dask_bo.PROPOSALS`
        (default ``"initial"``, the initial design); ``"initial"`` and ``"warm"`` records do
        not count against the run's ``evaluations``.
    :param worker: The address of the Dask worker that ran it (``tcp://...``), or ``None``
        where no worker reported one (a ``lost`` evaluation, a row of a history CSV).
    :param submitted_at: When the driver submitted it (Unix time, the driver's clock), or
        ``None`` (initial data read from a CSV).
    :param started_at: When the worker began the evaluation (Unix time, the worker's clock),
        or ``None`` if it never began (``lost``, or the worker could not find the problem).
    :param finished_at: When it ended: ``started_at + duration_s`` on the worker; for a
        ``lost`` evaluation, when the driver learned of the loss.
    :param duration_s: Seconds the objective call took on the worker (a benchmark problem's
        simulated delay included, Dask's overhead not); for a ``timeout``, the time waited
        (about ``eval_timeout_s``); ``None`` if it never ran.
    :param error: Why it is not ``ok``, or ``None``: ``"ExceptionType: message"`` of what
        the objective raised (a value that is not a single finite number raises
        ``ValueError``), a sentence for a ``timeout``, or Dask's failure for a ``lost`` one
        (``KilledWorker: ...``, ``"cancelled by Dask"``).
    :param traceback: The objective's formatted traceback for a ``failed`` evaluation, else
        ``None``. It is kept in the journal, not in ``history.csv``.
    :param params: The native values the objective got, by name (named spaces); ``None``
        for a box.
    """

    id: int
    x: tuple[float, ...]
    y: float | None
    status: str
    proposal: str = INITIAL
    worker: str | None = None
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float | None = None
    error: str | None = None
    traceback: str | None = None
    params: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def driven(self) -> bool:
        """Whether the driver chose this point (it counts in the budget)."""
        return self.proposal not in UNDRIVEN

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["x"] = list(self.x)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        """The record of :meth:`to_dict` (extra keys are ignored, missing optional ones take
        their defaults).

        :param d: A record as :meth:`to_dict` gives it (an ``evaluated`` event of the
            journal): ``id``, ``x`` (a list) and ``status`` required, the other fields
            optional.
        :raises ValueError: A required key (``id``, ``x``, ``status``) is missing or a value
            has the wrong type.
        """
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise ValueError(f"an evaluation record needs {', '.join(map(repr, _REQUIRED))}: missing {missing[0]!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in names}
        values.setdefault("y", None)
        try:
            values["id"] = _integer(values["id"])
            values["x"] = tuple(_number(v) for v in values["x"])
            if values["y"] is not None:
                values["y"] = _number(values["y"])
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"an evaluation record has a bad 'id', 'x' or 'y' ({error}): got {_short(d)}") from None
        if values["status"] not in STATUSES:
            raise ValueError(f"expected a status in {STATUSES}, got {values['status']!r}")
        if values["status"] == "ok" and (values["y"] is None or not math.isfinite(values["y"])):
            raise ValueError(f"an 'ok' record needs a finite y, got {values['y']!r}")
        if values.get("params") is not None and not isinstance(values["params"], dict):
            raise ValueError(f"expected 'params' to be a dict or null, got {values['params']!r}")
        return cls(**values)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValueError(f"expected an integer id, got {value!r}")
    return int(value)


def _number(value: Any) -> float:
    if isinstance(value, (bool, str)) or value is None:
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _short(d: dict[str, Any]) -> str:
    text = repr(d)
    return text if len(text) <= 120 else text[:117] + "..."


HISTORY_COLUMNS = ("id", "y", "status", "worker", "submitted_at", "started_at", "finished_at", "duration_s", "error", "proposal")
"""The columns of ``history.csv`` besides the parameters, which follow ``id``."""


def _named(space: Any) -> bool:
    """Whether ``space`` names its parameters (a box, or no space, has ``x0..``)."""
    return space is not None and not getattr(space, "is_box", False) and hasattr(space, "names")


def parameter_names(history: Iterable[Evaluation], space: Any = None) -> list[str]:
    """The parameter columns: the space's names, or ``x0..x{D-1}`` for a box (or no space)."""
    if _named(space):
        return list(space.names)
    dim = max((len(e.x) for e in history), default=0)
    return [f"x{i}" for i in range(dim)]


def point_values(e: Evaluation, space: Any) -> dict[str, Any]:
    """The record's parameter values by column name (native values for a named space)."""
    if not _named(space):
        return {f"x{i}": v for i, v in enumerate(e.x)}
    if e.params is not None:
        return {n: e.params.get(n) for n in space.names}
    return dict(space.to_params(list(e.x)))


def history_rows(history: Iterable[Evaluation], space: Any = None) -> list[dict[str, Any]]:
    """Flat rows, one per evaluation: ``id``, one column per parameter, then the others."""
    rows = []
    for e in history:
        row: dict[str, Any] = {"id": e.id}
        row.update(point_values(e, space))
        row.update({k: getattr(e, k) for k in HISTORY_COLUMNS[1:]})
        rows.append(row)
    return rows


def observations(records: Iterable[Evaluation]) -> tuple[np.ndarray, np.ndarray]:
    """The successful records' points and values, for the model.

    :return: ``x`` [N, D] and ``y`` [N, 1] (float64; N = 0 if none succeeded, with D taken
        from the records, or 0 if there are none).
    """
    records = list(records)
    ok = [r for r in records if r.ok]
    dim = len(records[0].x) if records else 0
    x = np.array([r.x for r in ok], dtype=np.float64).reshape(len(ok), dim)
    y = np.array([r.y for r in ok], dtype=np.float64).reshape(len(ok), 1)
    return x, y
