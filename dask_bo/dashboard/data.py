"""The page's data sources, computed from a :class:`~dask_bo.dashboard.store.RunLog`: in full
when the page shows a run for the first time (or something moved every row), else only the
rows it has not seen, which the page streams. Pure: no Bokeh."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..plots.info import STATUS_COLORS, regret
from .store import STATUSES, RunLog

VALUE = "objective value"
"""The choice of the points plot's vertical axis that shows the objective's value."""

SOURCES = ("points", "failures", "timeline", "status", "best", "best_tail", "in_flight")


def point_columns(dim: int) -> list[str]:
    """The points' coordinate columns, one per parameter (by index: names may be anything)."""
    return [f"p{i}" for i in range(dim)]


def empty_data(dim: int = 0) -> dict[str, dict[str, list]]:
    """Every source's columns, with no rows."""
    coordinates = point_columns(dim)
    columns = {
        "points": ["t", "id", "y", "regret", "proposal", "params", *coordinates],
        "failures": ["t", "id", "y", "status", "error", "proposal", "params", *coordinates],
        "timeline": ["worker", "start", "end", "status", "color", "id", "y", "proposal"],
        "status": ["t", *STATUSES],
        "best": ["t", "best", "regret"],
        "best_tail": ["t", "best", "regret"],
        "in_flight": ["t", "n"],
    }
    return {name: {k: [] for k in columns[name]} for name in SOURCES}


@dataclass(frozen=True)
class Cursor:
    """How much of a run a page has drawn."""

    run_id: str
    version: int
    names: tuple[str, ...]
    evaluations: int
    best: int
    in_flight: int


def axes(log: RunLog) -> dict[str, dict[str, Any]]:
    """By parameter name: ``column`` (in the points sources) and ``categories`` (labels by
    index for a categorical parameter, else ``None``)."""
    out = {}
    for i, name in enumerate(log.names):
        labels = log.categories.get(name)
        categories = [labels.get(k, str(k)) for k in range(max(labels) + 1)] if labels else None
        out[name] = {"column": f"p{i}", "categories": categories}
    return out


def _params_text(names: list[str], x: tuple, categories: dict[str, dict[int, str]]) -> str:
    parts = []
    for name, v in zip(names, x):
        labels = categories.get(name)
        parts.append(f"{name}={labels.get(int(round(v)), v) if labels else format(v, '.4g')}")
    return ", ".join(parts)


def page_update(log: RunLog, cursor: Cursor | None) -> tuple[bool, dict[str, dict[str, list]], Cursor]:
    """What the page must draw of ``log`` after having drawn up to ``cursor``.

    :param cursor: What the page has drawn (``None``: nothing yet).
    :return: ``replace`` (the data is the whole run: set the sources to it; else stream it),
        the columns of each source in :data:`SOURCES` (times in seconds since the driver
        started, the initial design before it at negative times; ``best_tail`` always whole:
        the best value carried on to the last result), and the new cursor.
    """
    version, names = log.version, log.names  # read first: a change after this makes the next update replace
    replace = (cursor is None or cursor.run_id != log.run_id or cursor.version != version
               or cursor.names != tuple(names))
    ev, counts = log.evaluations, log.counts
    n = min(len(ev["id"]), len(counts["ok"]))  # the plugin may be appending (another thread)
    n_best = min(len(log.best["t"]), len(log.best["y"]))
    n_flight = min(len(log.in_flight["t"]), len(log.in_flight["n"]))
    e0, b0, f0 = (0, 0, 0) if replace else (cursor.evaluations, cursor.best, cursor.in_flight)
    t0, minimum, sign = log.origin, log.minimum, log.sign
    coordinates = point_columns(max(len(names), 1))  # p0 always: the glyphs' default field
    data = empty_data(len(coordinates))

    def append(source: str, **values: Any) -> None:
        for k, v in values.items():
            data[source][k].append(v)

    for i in range(e0, n):
        t = (ev["finished_at"][i] if ev["finished_at"][i] is not None else t0) - t0
        x = tuple(ev["x"][i]) + (0.0,) * max(0, len(coordinates) - len(ev["x"][i]))
        point = dict(zip(coordinates, x), t=t, id=ev["id"][i], proposal=ev["proposal"][i],
                     params=_params_text(names, x, log.categories))
        status, y = ev["status"][i], ev["y"][i]
        if status == "ok":
            append("points", y=y, regret=regret(y, minimum, sign), **point)
        else:
            append("failures", y=None, status=status, error=ev["error"][i] or "", **point)
        if ev["worker"][i] and ev["started_at"][i] is not None and ev["finished_at"][i] is not None:
            append("timeline", worker=ev["worker"][i], start=ev["started_at"][i] - t0,
                   end=ev["finished_at"][i] - t0, status=status,
                   color=STATUS_COLORS.get(status, "black"), id=ev["id"][i], y=y,
                   proposal=ev["proposal"][i])
        at = (ev["at"][i] if ev["at"][i] is not None else t0) - t0
        append("status", t=at, **{s: counts[s][i] for s in STATUSES})
    for i in range(b0, n_best):
        y = log.best["y"][i]
        append("best", t=(log.best["t"][i] or t0) - t0, best=y, regret=regret(y, minimum, sign))
    if n_best and log.last_finished_at is not None:
        y = log.best["y"][n_best - 1]
        for t in ((log.best["t"][n_best - 1] or t0) - t0, log.last_finished_at - t0):
            append("best_tail", t=t, best=y, regret=regret(y, minimum, sign))
    for i in range(f0, n_flight):
        append("in_flight", t=log.in_flight["t"][i] - t0, n=log.in_flight["n"][i])
    return replace, data, Cursor(log.run_id, version, tuple(names), n, n_best, n_flight)


def summary(log: RunLog) -> dict[str, Any]:
    """The run's state in numbers (exact, also past the rows the page draws).

    :return: ``run``, ``mode``, ``problem``, ``workers``, ``budget`` (``None`` before the run
        starts), ``done`` (evaluations after the initial design, whatever their status),
        ``in_flight``, ``failed`` (evaluations whose status is not ``ok``), ``best_y`` and
        ``best_regret`` (``None`` while unknown), ``wall_s`` (``None`` until it finishes),
        ``interrupted`` (the reason, or ``None``).
    """
    meta, best_y, minimum = log.meta, log.best_y, log.minimum
    return {
        "run": log.run_id,
        "mode": meta.get("mode"),
        "problem": meta.get("problem"),
        "workers": meta.get("threads") or meta.get("workers"),
        "budget": meta.get("budget"),
        "done": log.driven,
        "in_flight": log.in_flight_now,
        "failed": sum(v for s, v in log.totals.items() if s != "ok"),
        "best_y": best_y,
        "best_regret": None if best_y is None or minimum is None else log.sign * (best_y - minimum),
        "wall_s": (log.finished or {}).get("wall_s"),
        "interrupted": log.interrupted,
    }


def summary_html(s: dict[str, Any]) -> str:
    """:func:`summary` as one line of HTML."""
    budget = "?" if s["budget"] is None else s["budget"]
    parts = [
        f"<b>{s['run']}</b> · {s['mode'] or 'initial design'} · {s['problem'] or '?'}"
        + (f" · {s['workers']} workers" if s["workers"] else ""),
        f"done <b>{s['done']}/{budget}</b>",
        f"in flight <b>{s['in_flight']}</b>",
        f"failed <b>{s['failed']}</b>",
        "best y <b>" + ("–" if s["best_y"] is None else f"{s['best_y']:.5g}") + "</b>",
    ]
    if s["best_regret"] is not None:
        parts.append(f"regret <b>{s['best_regret']:.3g}</b>")
    if s.get("interrupted"):
        parts.append(f"interrupted ({s['interrupted']})")
    elif s["wall_s"] is None:
        parts.append("running")
    else:
        parts.append(f"finished in {s['wall_s']:.1f} s")
    return " &nbsp;|&nbsp; ".join(parts)
