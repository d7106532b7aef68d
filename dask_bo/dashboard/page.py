"""The Bokeh page: draws what :func:`~dask_bo.dashboard.data.page_update` computes. Each
periodic update streams only the rows the page has not drawn, so it stays cheap however long
the run (a whole redraw happens only when another run is picked, or time zero moves)."""

from __future__ import annotations

from typing import Any

from ..plots.info import STATUS_COLORS
from .data import SOURCES, VALUE, axes, empty_data, page_update, summary, summary_html
from .plugin import install
from .store import STATUSES, RunStore

UPDATE_INTERVAL_MS = 1000


def _figures(sources: dict[str, Any]) -> dict[str, Any]:
    from bokeh.models import ColorBar, DataRange1d, FactorRange, HoverTool, LinearColorMapper, Span
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure

    size = {"height": 300, "sizing_mode": "stretch_width"}
    # The plots over time share their time axis, so they line up and pan together.
    clock = {"x_range": DataRange1d(),
             "x_axis_label": "seconds since the driver started (initial design < 0)"}
    figs: dict[str, Any] = {}
    figs["best"] = figure(title="best value so far", **clock, y_axis_label="y", **size)
    figs["regret"] = figure(title="best regret so far (log)", **clock, y_axis_type="log",
                            y_axis_label="distance from the optimum", visible=False, **size)
    for name, column in (("best", "y"), ("regret", "regret")):
        fig = figs[name]
        dots = fig.scatter("t", column, source=sources["points"], size=6, alpha=0.35,
                           legend_label="evaluation")
        value = "best" if name == "best" else "regret"
        fig.step("t", value, source=sources["best"], mode="after", line_width=2, legend_label="best")
        fig.line("t", value, source=sources["best_tail"], line_width=2)
        fig.legend.location = "bottom_left"  # the best value falls: this corner stays empty
        fig.add_tools(HoverTool(tooltips=[("id", "@id"), ("y", "@y"), ("proposal", "@proposal"),
                                          ("point", "@params")], renderers=[dots]))
    figs["status"] = figure(title="evaluations by status (cumulative)", **clock,
                            y_axis_label="evaluations", **size)
    for s in STATUSES:
        figs["status"].step("t", s, source=sources["status"], mode="after", line_width=2,
                            color=STATUS_COLORS[s], legend_label=s)
    figs["status"].legend.location = "top_left"
    figs["flight"] = figure(title="evaluations in flight", **clock,
                            y_axis_label="submitted − evaluated", **size)
    figs["flight"].step("t", "n", source=sources["in_flight"], mode="after", line_width=2)
    figs["timeline"] = figure(title="worker timeline (one bar per evaluation)", **clock,
                              y_range=FactorRange(), height=260, sizing_mode="stretch_width")
    figs["timeline"].hbar(y="worker", left="start", right="end", height=0.7, color="color",
                          line_color="white", source=sources["timeline"])
    figs["timeline"].add_tools(HoverTool(tooltips=[("id", "@id"), ("status", "@status"), ("y", "@y"),
                                                   ("proposal", "@proposal")]))
    for name in ("best", "regret", "status", "flight", "timeline"):
        # Time zero: the driver's start; the initial design runs before it.
        figs[name].add_layout(Span(location=0, dimension="height", line_dash="dashed", line_color="gray"))
    for name in ("status", "flight"):
        figs[name].yaxis.ticker.min_interval = 1  # counts

    mapper = LinearColorMapper(palette=Viridis256)
    points = figure(title="evaluated points (× no value)", **size)
    figs["points_ok"] = points.scatter("p0", "y", source=sources["points"], size=9, line_color="black",
                                       color={"field": "y", "transform": mapper})
    figs["points_bad"] = points.scatter("p0", "y", source=sources["failures"], marker="x", size=12,
                                        line_width=3, color=STATUS_COLORS["failed"])
    points.add_layout(ColorBar(color_mapper=mapper, title="y"), "right")
    points.add_tools(HoverTool(tooltips=[("id", "@id"), ("point", "@params"), ("y", "@y"),
                                         ("status", "@status"), ("error", "@error")]))
    figs["points"], figs["mapper"] = points, mapper
    return figs


def _show_parameter(fig, renderers: list, which: str, name: str, spec: dict[str, Any] | None) -> None:
    """Put parameter ``name`` (or the objective's value) on the ``which`` axis of the points plot;
    a categorical one is labelled with its choices (integer ticks, relabelled: changing only
    values, not models, spares Bokeh a walk over every model and its data)."""
    for renderer in renderers:
        setattr(renderer.glyph, which, "y" if spec is None else spec["column"])
    (axis,) = fig.xaxis if which == "x" else fig.yaxis
    axis.axis_label = name
    categories = (spec or {}).get("categories") or []
    axis.ticker.min_interval = 1 if categories else 0
    axis.ticker.num_minor_ticks = 0 if categories else 5
    axis.major_label_overrides = {i: label for i, label in enumerate(categories)}


def dask_bo_doc(scheduler: Any, extra: dict[str, Any], doc: Any, store: RunStore | None = None) -> None:
    """Builds the page for one browser session; the Dask dashboard calls it.

    :param scheduler: The :class:`distributed.Scheduler` whose runs are shown (its
        :class:`~dask_bo.dashboard.plugin.DashboardPlugin` is added if missing).
    :param extra: The dashboard's template variables (unused).
    :param doc: The session's :class:`bokeh.document.Document`.
    :param store: The runs to show instead of the scheduler's (tests).
    """
    from bokeh.layouts import column, row
    from bokeh.models import ColumnDataSource, Div, Select
    from distributed.dashboard.components.scheduler import BOKEH_THEME

    store = store if store is not None else install(scheduler).store
    sources = {name: ColumnDataSource(columns, name=name) for name, columns in empty_data(2).items()}
    select = Select(title="run", options=[], value="", width=420, name="run_select")
    x_select = Select(title="horizontal axis", options=[], value="", width=200, name="x_param")
    y_select = Select(title="vertical axis", options=[], value="", width=200, name="y_param")
    info = Div(text="no dask_bo run on this scheduler yet", name="summary",
               sizing_mode="stretch_width", styles={"font-size": "14px", "padding-top": "22px"})
    figs = _figures(sources)
    points_renderers = [figs["points_ok"], figs["points_bad"]]

    doc.title = "Dask: dask_bo"
    doc.theme = BOKEH_THEME
    doc.add_root(column(
        row(select, info, sizing_mode="stretch_width"),
        row(column(figs["best"], figs["regret"], sizing_mode="stretch_width"), figs["status"],
            sizing_mode="stretch_width"),
        row(figs["flight"], column(row(x_select, y_select), figs["points"], sizing_mode="stretch_width"),
            sizing_mode="stretch_width"),
        figs["timeline"],
        sizing_mode="stretch_width",
    ))

    seen: dict[str, Any] = {"version": None, "cursor": None, "latest": None, "workers": [],
                            "y_range": None}

    def show_parameters() -> None:
        log = store.runs.get(select.value)
        specs = axes(log) if log is not None else {}
        if x_select.value in specs:
            _show_parameter(figs["points"], points_renderers, "x", x_select.value, specs[x_select.value])
        if y_select.value in specs or y_select.value == VALUE:
            _show_parameter(figs["points"], points_renderers, "y", y_select.value, specs.get(y_select.value))

    def reset_parameters(log) -> None:
        names = log.names
        x_select.options, y_select.options = names, names + [VALUE]
        if x_select.value not in names:
            x_select.value = names[0] if names else ""
        if y_select.value not in y_select.options:
            y_select.value = names[1] if len(names) > 1 else VALUE
        if not names:  # no point seen yet: the columns every run has
            for renderer in points_renderers:
                renderer.glyph.x, renderer.glyph.y = "p0", "y"
        show_parameters()

    def draw(log) -> None:
        replace, data, cursor = page_update(log, seen["cursor"])
        seen["cursor"] = cursor
        if replace:
            for name in SOURCES:
                sources[name].data = data[name]
            seen["workers"], seen["y_range"] = [], None
            reset_parameters(log)
        else:
            for name in SOURCES:
                if name == "best_tail":
                    sources[name].data = data[name]
                elif data[name]["t" if "t" in data[name] else "id"]:
                    sources[name].stream(data[name])
        new_workers = [w for w in dict.fromkeys(data["timeline"]["worker"]) if w not in seen["workers"]]
        if new_workers:
            seen["workers"] = sorted(seen["workers"] + new_workers)
            figs["timeline"].y_range.factors = seen["workers"]
        ys = data["points"]["y"]
        if ys:
            low, high = seen["y_range"] or (min(ys), max(ys))
            seen["y_range"] = min(low, *ys), max(high, *ys)
            figs["mapper"].low, figs["mapper"].high = seen["y_range"]
        has_minimum = log.minimum is not None
        figs["best"].visible, figs["regret"].visible = not has_minimum, has_minimum
        info.text = summary_html(summary(log))

    def update() -> None:
        if not store.runs:
            return
        if (store.version, select.value) == seen["version"]:
            return  # nothing new
        options = [(log.run_id, log.label) for log in reversed(store.runs.values())]
        if select.options != options:
            select.options = options
        latest, run_id = store.latest().run_id, select.value
        # Follow new runs unless the user has picked an earlier one.
        if run_id in ("", seen["latest"]) or run_id not in store.runs:
            run_id = latest
        seen["latest"] = latest
        seen["version"] = (store.version, run_id)
        if select.value != run_id:
            select.value = run_id  # its on_change calls update again, which finds nothing new
        draw(store.runs[run_id])

    select.on_change("value", lambda attr, old, new: update())
    x_select.on_change("value", lambda attr, old, new: show_parameters())
    y_select.on_change("value", lambda attr, old, new: show_parameters())
    update()
    doc.add_periodic_callback(update, UPDATE_INTERVAL_MS)
