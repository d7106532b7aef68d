"""The dask_bo page of the Dask dashboard, at ``/individual-dask-bo``.

Load it on a scheduler with ``dask scheduler --preload dask_bo.dashboard``; the embedded
cluster of :func:`dask_bo.connect` loads it by itself. The page reads the events that drivers
publish under the ``dask-bo`` topic, so it shows any run on that scheduler.

The data shaping (:func:`runs`, :func:`page_data`, :func:`summary`) is pure over the events'
messages; :func:`dask_bo_doc` only renders it with Bokeh.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from distributed.dashboard.scheduler import applications

from .cluster import DASHBOARD_PAGE
from .history import INITIAL, STATUSES
from .plotting import REGRET_FLOOR
from .progress import EVENT_TOPIC

STATUS_COLORS = {"ok": "#1f77b4", "failed": "#d62728", "timeout": "#ff7f0e", "lost": "#7f7f7f"}
UPDATE_INTERVAL_MS = 1000


# -- pure data shaping ---------------------------------------------------------------------
def runs(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs seen in ``events`` (message dicts), oldest first.

    :return: One dict per run: ``run`` (its id), ``label`` (``"run id · mode · problem"``) and
        the fields of its ``started`` event, if that has arrived (a run publishes its initial
        design before it starts).
    """
    seen: dict[str, dict[str, Any]] = {}
    for e in events:
        run = seen.setdefault(e["run"], {"run": e["run"]})
        if e.get("kind") == "started":
            run.update({k: v for k, v in e.items() if k not in ("run", "kind")})
    for run in seen.values():
        run["label"] = " · ".join([run["run"], run.get("mode", "?"), run.get("problem", "initial design")])
    return list(seen.values())


def _split(events: Iterable[dict[str, Any]], run_id: str) -> tuple[dict, dict, list]:
    """The run's ``started`` fields, its submission times by id and its evaluations."""
    started: dict[str, Any] = {}
    submitted: dict[int, float] = {}
    evaluated: list[dict[str, Any]] = []
    for e in events:
        if e.get("run") != run_id:
            continue
        kind = e.get("kind")
        if kind in ("started", "finished"):
            started.update(e)
        elif kind == "submitted":
            submitted[e["id"]] = e["submitted_at"]
        elif kind == "evaluated":
            evaluated.append(e)
            if e.get("submitted_at") is not None:
                # The submission may have dropped out of the scheduler's 1000-event window.
                submitted.setdefault(e["id"], e["submitted_at"])
    return started, submitted, evaluated


def _origin(started: dict[str, Any], submitted: dict[int, float]) -> float:
    """Time zero: the driver's start; before it arrives, the first submission."""
    if started.get("started_at") is not None:
        return started["started_at"]
    return min(submitted.values(), default=0.0)


def page_data(events: Iterable[dict[str, Any]], run_id: str) -> dict[str, dict[str, list]]:
    """The columns of the page's data sources for one run; times are seconds since the driver
    started (the initial design runs before it, at negative times).

    :param events: Event messages (dicts with ``run`` and ``kind``) in publication order.
    :param run_id: The run to show.
    :return: Column dicts:
        ``best`` (``t``, ``best``, ``regret``: best value so far, after each ``ok`` evaluation);
        ``status`` (``t`` and the cumulative count of each status, after each evaluation);
        ``in_flight`` (``t``, ``n``: evaluations submitted and not yet evaluated);
        ``timeline`` (one bar per evaluation that reached a worker: ``worker``, ``start``,
        ``end``, ``status``, ``color``, ``id``, ``y``, ``proposal``);
        ``points`` (``ok`` evaluations: ``x0``, ``x1`` (0 in 1-D), ``y``, ``regret``, ``t``, ``id``,
        ``proposal``); ``failures`` (the others: ``x0``, ``x1``, ``status``, ``id``, ``error``).
        ``regret`` columns hold ``best - minimum`` clamped to :data:`REGRET_FLOOR`, or ``None``
        where the minimum is unknown.
    """
    started, submitted, evaluated = _split(events, run_id)
    t0 = _origin(started, submitted)
    minimum = started.get("minimum")

    def regret(y: float) -> float | None:
        return None if minimum is None else max(y - minimum, REGRET_FLOOR)

    def finished_s(e: dict[str, Any]) -> float:
        return (e.get("finished_at") or t0) - t0

    evaluated = sorted(evaluated, key=finished_s)
    best = {"t": [], "best": [], "regret": []}
    status = {"t": [], **{s: [] for s in STATUSES}}
    points = {"x0": [], "x1": [], "y": [], "regret": [], "t": [], "id": [], "proposal": []}
    failures = {"x0": [], "x1": [], "status": [], "id": [], "error": []}
    timeline = {k: [] for k in ("worker", "start", "end", "status", "color", "id", "y", "proposal")}
    counts = dict.fromkeys(STATUSES, 0)
    best_y = math.inf
    for e in evaluated:
        t = finished_s(e)
        x = list(e["x"]) + [0.0]  # a 1-D point is drawn on the line x1 = 0
        counts[e["status"]] = counts.get(e["status"], 0) + 1
        status["t"].append(t)
        for s in STATUSES:
            status[s].append(counts[s])
        if e["status"] == "ok" and e.get("y") is not None:
            if e["y"] < best_y:
                best_y = e["y"]
                best["t"].append(t)
                best["best"].append(best_y)
                best["regret"].append(regret(best_y))
            for k, v in zip(points, (x[0], x[1], e["y"], regret(e["y"]), t, e["id"], e.get("proposal"))):
                points[k].append(v)
        else:
            for k, v in zip(failures, (x[0], x[1], e["status"], e["id"], e.get("error") or "")):
                failures[k].append(v)
        if e.get("worker") and e.get("started_at") is not None and e.get("finished_at") is not None:
            bar = (e["worker"], e["started_at"] - t0, e["finished_at"] - t0, e["status"],
                   STATUS_COLORS.get(e["status"], "black"), e["id"], e.get("y"), e.get("proposal"))
            for k, v in zip(timeline, bar):
                timeline[k].append(v)
    if best["t"] and evaluated:
        # Carry the best value on to the last evaluation, so the line ends where the run is.
        best["t"].append(finished_s(evaluated[-1]))
        best["best"].append(best["best"][-1])
        best["regret"].append(best["regret"][-1])

    # In flight: +1 at each submission, -1 at each result (ties: results first).
    changes = sorted(
        [(at - t0, 1) for at in submitted.values()]
        + [(finished_s(e), -1) for e in evaluated if e["id"] in submitted]
    )
    in_flight = {"t": [], "n": []}
    n = 0
    for t, delta in changes:
        n += delta
        in_flight["t"].append(t)
        in_flight["n"].append(n)
    return {"best": best, "status": status, "in_flight": in_flight, "timeline": timeline,
            "points": points, "failures": failures}


def summary(events: Iterable[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """The run's state in numbers.

    :return: ``run``, ``mode``, ``problem``, ``workers``, ``budget`` (``None`` before the run
        starts), ``done`` (evaluations after the initial design, whatever their status),
        ``in_flight``, ``failed`` (evaluations whose status is not ``ok``), ``best_y`` and
        ``best_regret`` (``None`` while unknown), ``wall_s`` (``None`` until it finishes).
    """
    started, submitted, evaluated = _split(events, run_id)
    ok = [e["y"] for e in evaluated if e["status"] == "ok" and e.get("y") is not None]
    best_y = min(ok, default=None)
    minimum = started.get("minimum")
    return {
        "run": run_id,
        "mode": started.get("mode"),
        "problem": started.get("problem"),
        "workers": started.get("workers"),
        "budget": started.get("budget"),
        "done": sum(e.get("proposal") != INITIAL for e in evaluated),
        "in_flight": len(set(submitted) - {e["id"] for e in evaluated}),
        "failed": sum(e["status"] != "ok" for e in evaluated),
        "best_y": best_y,
        "best_regret": None if best_y is None or minimum is None else best_y - minimum,
        "wall_s": started.get("wall_s"),
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
    parts.append("running" if s["wall_s"] is None else f"finished in {s['wall_s']:.1f} s")
    return " &nbsp;|&nbsp; ".join(parts)


# -- rendering -------------------------------------------------------------------------------
def _push(source: Any, data: dict[str, list]) -> None:
    """Set ``source`` to ``data``, streaming only the new rows when ``data`` extends it."""
    old = source.data
    n = len(next(iter(old.values()), []))
    if n and set(old) == set(data) and all(list(old[k]) == v[:n] for k, v in data.items()):
        if len(next(iter(data.values()))) > n:
            source.stream({k: v[n:] for k, v in data.items()})
    elif dict(old) != data:
        source.data = data


def dask_bo_doc(scheduler: Any, extra: dict[str, Any], doc: Any) -> None:
    """Builds the page for one browser session; the Dask dashboard calls it.

    :param scheduler: The :class:`distributed.Scheduler` whose events are shown.
    :param extra: The dashboard's template variables (unused).
    :param doc: The session's :class:`bokeh.document.Document`.
    """
    from bokeh.layouts import column, row
    from bokeh.models import (
        ColorBar, ColumnDataSource, DataRange1d, Div, FactorRange, HoverTool, LinearColorMapper, Select, Span,
    )
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure
    from distributed.dashboard.components.scheduler import BOKEH_THEME

    empty = page_data([], "")
    sources = {name: ColumnDataSource(columns, name=name) for name, columns in empty.items()}
    select = Select(title="run", options=[], value="", width=420, name="run_select")
    info = Div(text="no dask_bo run on this scheduler yet", name="summary",
               sizing_mode="stretch_width", styles={"font-size": "14px", "padding-top": "22px"})
    size = {"height": 300, "sizing_mode": "stretch_width"}
    # The plots over time share their time axis, so they line up and pan together.
    clock = {"x_range": DataRange1d(),
             "x_axis_label": "seconds since the driver started (initial design < 0)"}

    best_fig = figure(title="best value so far", **clock, y_axis_label="y", **size)
    best_fig.scatter("t", "y", source=sources["points"], size=6, alpha=0.35, legend_label="evaluation")
    best_fig.step("t", "best", source=sources["best"], mode="after", line_width=2, legend_label="best")
    regret_fig = figure(title="best regret so far (log)", **clock,
                        y_axis_label="y − minimum", y_axis_type="log", visible=False, **size)
    regret_fig.scatter("t", "regret", source=sources["points"], size=6, alpha=0.35, legend_label="evaluation")
    regret_fig.step("t", "regret", source=sources["best"], mode="after", line_width=2, legend_label="best")
    for fig in (best_fig, regret_fig):
        fig.legend.location = "bottom_left"  # the best value falls: this corner stays empty
        fig.add_tools(HoverTool(tooltips=[("id", "@id"), ("y", "@y"), ("proposal", "@proposal")],
                                renderers=[fig.renderers[0]]))

    status_fig = figure(title="evaluations by status (cumulative)", **clock,
                        y_axis_label="evaluations", **size)
    for s in STATUSES:
        status_fig.step("t", s, source=sources["status"], mode="after", line_width=2,
                        color=STATUS_COLORS[s], legend_label=s)
    status_fig.legend.location = "top_left"

    flight_fig = figure(title="evaluations in flight", **clock,
                        y_axis_label="submitted − evaluated", **size)
    flight_fig.step("t", "n", source=sources["in_flight"], mode="after", line_width=2)

    timeline_fig = figure(title="worker timeline (one bar per evaluation)", **clock,
                          y_range=FactorRange(), height=260, sizing_mode="stretch_width")
    timeline_fig.hbar(y="worker", left="start", right="end", height=0.7, color="color",
                      line_color="white", source=sources["timeline"])
    timeline_fig.add_tools(HoverTool(tooltips=[("id", "@id"), ("status", "@status"), ("y", "@y"),
                                               ("proposal", "@proposal")]))

    for fig in (best_fig, regret_fig, status_fig, flight_fig, timeline_fig):
        # Time zero: the driver's start; the initial design runs before it.
        fig.add_layout(Span(location=0, dimension="height", line_dash="dashed", line_color="gray"))
    for fig in (status_fig, flight_fig):
        fig.yaxis.ticker.min_interval = 1  # counts

    mapper = LinearColorMapper(palette=Viridis256)
    points_fig = figure(title="evaluated points (first two dimensions; × failed)",
                        x_axis_label="x0", y_axis_label="x1", **size)
    points_fig.scatter("x0", "x1", source=sources["points"], size=9, line_color="black",
                       color={"field": "y", "transform": mapper})
    points_fig.scatter("x0", "x1", source=sources["failures"], marker="x", size=12, line_width=3,
                       color=STATUS_COLORS["failed"])
    points_fig.add_layout(ColorBar(color_mapper=mapper, title="y"), "right")
    points_fig.add_tools(HoverTool(tooltips=[("id", "@id"), ("x", "(@x0, @x1)"), ("y", "@y"),
                                             ("status", "@status"), ("error", "@error")]))

    doc.title = "Dask: dask_bo"
    doc.theme = BOKEH_THEME
    doc.add_root(column(
        row(select, info, sizing_mode="stretch_width"),
        row(column(best_fig, regret_fig, sizing_mode="stretch_width"), status_fig,
            sizing_mode="stretch_width"),
        row(flight_fig, points_fig, sizing_mode="stretch_width"),
        timeline_fig,
        sizing_mode="stretch_width",
    ))

    seen: dict[str, Any] = {"key": None, "run": None, "latest": None}

    def update() -> None:
        raw = scheduler.get_events(EVENT_TOPIC)
        # Nothing new and the same run: nothing to redraw.
        key = (len(raw), raw[-1][0] if raw else None, select.value)
        if key == seen["key"]:
            return
        seen["key"] = key
        events = [msg for _, msg in raw if isinstance(msg, dict) and "run" in msg]
        known = runs(events)
        if not known:
            return
        options = [(r["run"], r["label"]) for r in reversed(known)]
        if select.options != options:
            select.options = options
        latest, run_id = known[-1]["run"], select.value
        # Follow new runs unless the user has picked an earlier one.
        if run_id in ("", seen["latest"]) or run_id not in dict(options):
            run_id = latest
        seen.update(latest=latest, key=key[:2] + (run_id,))
        data = page_data(events, run_id)
        for name, columns in data.items():
            if run_id != seen["run"]:
                sources[name].data = columns
            else:
                _push(sources[name], columns)
        seen["run"] = run_id
        select.value = run_id  # when following a new run, its on_change finds nothing new
        workers = sorted(set(data["timeline"]["worker"]))
        if list(timeline_fig.y_range.factors) != workers:
            timeline_fig.y_range.factors = workers
        ys = data["points"]["y"]
        if ys:
            mapper.low, mapper.high = min(ys), max(ys)
        has_minimum = next((r for r in known if r["run"] == run_id), {}).get("minimum") is not None
        best_fig.visible, regret_fig.visible = not has_minimum, has_minimum
        info.text = summary_html(summary(events, run_id))

    select.on_change("value", lambda attr, old, new: update())
    update()
    doc.add_periodic_callback(update, UPDATE_INTERVAL_MS)


applications["/" + DASHBOARD_PAGE] = dask_bo_doc


def dask_setup(scheduler) -> None:
    """Preload hook: the page is registered on import, before the dashboard starts."""
