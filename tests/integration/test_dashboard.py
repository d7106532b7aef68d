"""The dask_bo dashboard page: its store and data functions on synthetic events, the Bokeh
page streaming from a store, the scheduler plugin keeping more events than the scheduler's
topic log, the page's sources fed by a real run on a real scheduler, and the page rendered in
headless Chromium."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster

from dask_bo.cluster import dashboard_page_link
from dask_bo.dashboard import (
    PLUGIN_NAME, DashboardPlugin, RunStore, dask_bo_doc, install, page_update, summary, summary_html,
)
from dask_bo.plots import REGRET_FLOOR
from dask_bo.progress import EVENT_TOPIC, Event, Publisher

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 60
LOG_LENGTH = 50
"""The scheduler's topic log is set this short: the page must not depend on it."""


# -- synthetic events ----------------------------------------------------------------------
def started(run, t, minimum=0.0, dim=2, budget=3, mode="async", problem="toy", **more):
    return {"event": "driver_started", "run": run, "time": t, "mode": mode, "problem": problem,
            "budget": budget, "workers": 2, "started_at": t, "minimum": minimum, "dim": dim, **more}


def submitted(run, i, t, x=(0.5, 0.5), proposal="ei"):
    return {"event": "submitted", "run": run, "time": t, "id": i, "x": list(x), "proposal": proposal,
            "submitted_at": t}


def evaluated(run, i, t_sub, t_start, t_end, y, status="ok", x=(0.5, 0.5), worker="tcp://w:1",
              proposal="ei", **more):
    return {"event": "evaluated", "run": run, "time": t_end, "id": i, "x": list(x), "y": y,
            "status": status, "proposal": proposal, "worker": worker, "submitted_at": t_sub,
            "started_at": t_start, "finished_at": t_end,
            "duration_s": None if t_start is None else t_end - t_start,
            "error": None if status == "ok" else "ValueError: boom", **more}


def two_runs():
    """Run "a" (started at 100): one initial point before the start, three driven points, the
    second of which fails; one still in flight. Then run "b", interleaved, with a 1-D problem."""
    return [
        submitted("a", 0, 99.0, x=(0.1, 0.9), proposal="initial"),
        evaluated("a", 0, 99.0, 99.2, 99.5, 5.0, x=(0.1, 0.9), proposal="initial"),
        started("a", 100.0, minimum=1.0),
        submitted("a", 1, 100.5, x=(0.2, 0.8)),
        submitted("a", 2, 101.0, x=(0.3, 0.7)),
        started("b", 101.5, minimum=None, dim=1, mode="sync", problem="line"),
        submitted("b", 0, 101.6, x=(0.4,)),
        evaluated("a", 1, 100.5, 100.6, 102.0, 3.0, x=(0.2, 0.8), worker="tcp://w:1"),
        submitted("a", 3, 102.1, x=(0.4, 0.6)),
        evaluated("a", 2, 101.0, 101.1, 103.0, None, status="failed", x=(0.3, 0.7), worker="tcp://w:2"),
        evaluated("b", 0, 101.6, 101.7, 103.5, -2.0, x=(0.4,)),
        evaluated("a", 4, 102.5, None, 104.0, None, status="lost", worker=None),
    ]


def store_of(events, **kwargs):
    store = RunStore(**kwargs)
    for e in events:
        store.add(e)
    return store


def full(events, run_id):
    return page_update(store_of(events).runs[run_id], None)[1]


# -- the store and the page's data, pure ---------------------------------------------------------
def test_the_store_lists_each_run_once_oldest_first_with_its_label():
    store = store_of([submitted("c", 0, 1.0, proposal="initial")] + two_runs() + ["noise", {"run": "x"}])
    assert list(store.runs) == ["c", "a", "b"]
    assert [r.label for r in store.runs.values()] == ["c · ? · initial design", "a · async · toy", "b · sync · line"]
    assert store.runs["a"].minimum == 1.0 and store.runs["b"].names == ["x0"]


def test_page_data_shows_one_run_on_its_own_clock():
    data = full(two_runs(), "a")
    # Times are seconds since run a's driver started; its initial design came before.
    assert data["points"]["t"] == [-0.5, 2.0]
    assert data["points"]["y"] == [5.0, 3.0]
    assert data["points"]["id"] == [0, 1]  # run b's point 0 is not mixed in
    assert (data["points"]["p0"], data["points"]["p1"]) == ([0.1, 0.2], [0.9, 0.8])
    assert data["points"]["params"] == ["x0=0.1, x1=0.9", "x0=0.2, x1=0.8"]
    assert data["best"] == {"t": [-0.5, 2.0], "best": [5.0, 3.0], "regret": [4.0, 2.0]}
    # The best value carries on to the last evaluation, so the line ends where the run is.
    assert data["best_tail"] == {"t": [2.0, 4.0], "best": [3.0, 3.0], "regret": [2.0, 2.0]}


def test_page_data_counts_statuses_and_marks_failures():
    data = full(two_runs(), "a")
    assert data["status"] == {"t": [-0.5, 2.0, 3.0, 4.0], "ok": [1, 2, 2, 2], "failed": [0, 0, 1, 1],
                              "timeout": [0, 0, 0, 0], "lost": [0, 0, 0, 1]}
    assert data["failures"]["id"] == [2, 4]
    assert data["failures"]["status"] == ["failed", "lost"]
    assert data["failures"]["error"] == ["ValueError: boom"] * 2
    assert data["failures"]["p0"] == [0.3, 0.5]


def test_page_data_counts_evaluations_in_flight():
    data = full(two_runs(), "a")
    # +1 at each submission, -1 at each result of a submission seen (id 4's was not).
    assert data["in_flight"]["t"] == pytest.approx([-1.0, -0.5, 0.5, 1.0, 2.0, 2.1, 3.0])
    assert data["in_flight"]["n"] == [1, 0, 1, 2, 1, 2, 1]
    assert summary(store_of(two_runs()).runs["a"])["in_flight"] == 1  # id 3 is still out


def test_series_over_time_never_go_back_when_results_reach_the_driver_late():
    """The driver noticed a result (finished at 0.4) only after its next submission (at 13,
    while it fitted its model): in flight counts at the times the driver published, and the
    cumulative series never step back in time."""
    late = [started("l", 0.0, minimum=None), submitted("l", 0, 0.0), submitted("l", 1, 0.1),
            dict(submitted("l", 2, 13.0), time=13.0),
            dict(evaluated("l", 0, 0.0, 0.0, 0.4, 2.0), time=13.1),
            dict(evaluated("l", 1, 0.1, 0.1, 14.0, 1.0), time=14.1),
            dict(evaluated("l", 2, 13.0, 13.0, 13.5, 0.5), time=14.2)]
    data = full(late, "l")
    assert data["in_flight"] == {"t": [0.0, 0.1, 13.0, 13.1, 14.1, 14.2], "n": [1, 2, 3, 2, 1, 0]}
    assert data["status"]["t"] == [0.4, 14.0, 14.0]
    assert data["best"]["t"] == [0.4, 14.0, 14.0]
    assert data["points"]["t"] == [0.4, 14.0, 13.5]  # the points keep their own finish times


def test_page_data_timeline_has_a_bar_per_evaluation_that_reached_a_worker():
    bars = full(two_runs(), "a")["timeline"]
    # The lost evaluation never started on a worker: no bar.
    assert bars["id"] == [0, 1, 2]
    assert bars["worker"] == ["tcp://w:1", "tcp://w:1", "tcp://w:2"]
    assert bars["start"] == pytest.approx([-0.8, 0.6, 1.1])
    assert bars["end"] == pytest.approx([-0.5, 2.0, 3.0])
    assert bars["status"] == ["ok", "ok", "failed"]
    assert bars["color"][0] != bars["color"][2]


def test_page_data_without_minimum_and_in_one_dimension():
    data = full(two_runs(), "b")
    assert data["best"]["regret"] == [None]
    assert data["points"]["regret"] == [None]
    assert data["points"]["p0"] == [0.4] and "p1" not in data["points"]
    assert data["points"]["t"] == pytest.approx([2.0])


def test_regret_is_clamped_for_the_log_axis_and_follows_the_direction():
    events = [started("r", 0.0, minimum=1.0), evaluated("r", 0, 0.0, 0.1, 0.2, 1.0 - 1e-9)]
    assert full(events, "r")["best"]["regret"] == [REGRET_FLOOR]
    maximizing = [{"event": "start", "run": "m", "time": 0.0, "config": {"direction": "maximize"}},
                  started("m", 0.0, minimum=10.0), evaluated("m", 0, 0, 0, 1, 4.0),
                  evaluated("m", 1, 0, 0, 2, 7.0), evaluated("m", 2, 0, 0, 3, 5.0)]
    data = full(maximizing, "m")
    described = [{"event": "start", "run": "m", "time": 0.0, "direction": "maximize", "mode": "async",
                  "problem": "p", "names": ["a", "b"]}] + maximizing[1:]
    assert full(described, "m")["best"] == data["best"]  # the description may come unwrapped
    assert store_of(described).runs["m"].label == "m · async · toy"  # the driver's own word last
    assert data["best"] == {"t": [1.0, 2.0], "best": [4.0, 7.0], "regret": [6.0, 3.0]}
    assert summary(store_of(maximizing).runs["m"])["best_regret"] == 3.0


def test_the_old_vocabulary_is_understood():
    old = [{"run": "o", "kind": "started", "mode": "sync", "problem": "p", "budget": 1, "workers": 1,
            "started_at": 10.0, "minimum": None, "dim": 1},
           {"run": "o", "kind": "submitted", "id": 0, "x": [0.5], "proposal": "batch", "submitted_at": 10.5},
           {"run": "o", "kind": "evaluated", "id": 0, "x": [0.5], "y": 2.0, "status": "ok",
            "proposal": "batch", "worker": "tcp://w:1", "submitted_at": 10.5, "started_at": 10.6,
            "finished_at": 11.0},
           {"run": "o", "kind": "finished", "wall_s": 1.0}]
    s = summary(store_of(old).runs["o"])
    assert (s["mode"], s["done"], s["in_flight"], s["best_y"], s["wall_s"]) == ("sync", 1, 0, 2.0, 1.0)


def test_streaming_sends_only_new_rows_and_adds_up_to_the_whole_run():
    events = two_runs()
    store = RunStore()
    cursor, streamed = None, None
    for e in events:
        store.add(e)
        if e["run"] != "a":
            continue
        replace, data, cursor = page_update(store.runs["a"], cursor)
        if replace:
            streamed = data
        else:
            for name, columns in data.items():
                for k, v in columns.items():
                    streamed[name][k] = v if name == "best_tail" else streamed[name][k] + v
    whole = page_update(store.runs["a"], None)[1]
    assert streamed == whole
    # Nothing new: nothing to send.
    replace, data, _ = page_update(store.runs["a"], cursor)
    assert not replace and not any(data[name]["id"] for name in ("points", "failures", "timeline"))


def test_time_zero_moving_redraws_the_whole_run():
    store = store_of(two_runs()[:2])  # run a's initial design: time zero is its first event
    replace, data, cursor = page_update(store.runs["a"], None)
    assert data["points"]["t"] == [0.5]
    store.add(started("a", 100.0, minimum=1.0))
    replace, data, cursor = page_update(store.runs["a"], cursor)
    assert replace and data["points"]["t"] == [-0.5] and data["points"]["regret"] == [4.0]


def test_named_parameters_and_categories():
    solvers = ["cg", "gmres", "bicg"]
    events = [started("n", 0.0, minimum=None, dim=3, names=["lr", "layers", "solver"])]
    for i, (lr, layers, solver) in enumerate([(1e-3, 2, "gmres"), (1e-2, 4, "bicg"), (1e-4, 8, "cg")]):
        x = (lr, float(layers), float(solvers.index(solver)))
        events.append(evaluated("n", i, 0, 0, i + 1, float(i), x=x,
                                params={"lr": lr, "layers": layers, "solver": solver}))
    from dask_bo.dashboard.data import axes

    log = store_of(events).runs["n"]
    assert log.names == ["lr", "layers", "solver"]
    assert axes(log) == {"lr": {"column": "p0", "categories": None},
                         "layers": {"column": "p1", "categories": None},
                         "solver": {"column": "p2", "categories": solvers}}
    data = page_update(log, None)[1]
    assert data["points"]["p2"] == [1.0, 2.0, 0.0]
    # Names may also come with the evaluations alone (a run whose start was not seen).
    unannounced = [dict(e, names=["lr", "layers", "solver"]) for e in events[1:]]
    assert store_of(unannounced).runs["n"].names == ["lr", "layers", "solver"]
    assert data["points"]["params"][0] == "lr=0.001, layers=2, solver=gmres"


def test_memory_is_bounded_runs_and_rows():
    store = RunStore(max_runs=3, max_rows=5)
    for r in range(5):
        store.add(started(f"r{r}", 0.0))
    assert list(store.runs) == ["r2", "r3", "r4"]
    for i in range(8):
        store.add(evaluated("r4", i, 0, 0, i + 1, 10.0 - i))
    log = store.runs["r4"]
    assert len(log.evaluations["id"]) == 5  # rows stop...
    s = summary(log)
    assert s["done"] == 8 and s["best_y"] == 3.0  # ...the numbers stay exact
    with pytest.raises(ValueError, match="expected max_runs and max_rows >= 1, got 0 and 5"):
        RunStore(max_runs=0, max_rows=5)


def test_summary():
    s = summary(store_of(two_runs()).runs["a"])
    assert s == {"run": "a", "mode": "async", "problem": "toy", "workers": 2, "budget": 3,
                 "done": 3, "in_flight": 1, "failed": 2, "best_y": 3.0, "best_regret": 2.0,
                 "wall_s": None, "interrupted": None}
    text = summary_html(s)
    for part in ("3/3", "in flight <b>1</b>", "failed <b>2</b>", "best y <b>3</b>", "running"):
        assert part in text
    done = two_runs() + [{"event": "finished", "run": "b", "time": 104.0, "metrics": {"wall_s": 2.5}}]
    finished = summary(store_of(done).runs["b"])
    assert finished["wall_s"] == 2.5 and finished["best_regret"] is None
    assert "finished in 2.5 s" in summary_html(finished)
    stopped = summary(store_of(two_runs() + [{"event": "interrupted", "run": "a", "reason": "SIGTERM"}]).runs["a"])
    assert "interrupted (SIGTERM)" in summary_html(stopped)


# -- the Bokeh page on a store (no scheduler) ------------------------------------------------------
SOLVERS = ["cg", "gmres", "bicg"]


def named_events(run="n", start=0, count=3):
    rows = [(1e-3, 2, "gmres"), (1e-2, 4, "bicg"), (1e-4, 8, "cg")]
    events = [started(run, 0.0, minimum=None, dim=3, names=["lr", "layers", "solver"])] if start == 0 else []
    for i in range(start, start + count):
        lr, layers, solver = rows[i % 3]
        x = (lr, float(layers), float(SOLVERS.index(solver)))
        events.append(evaluated(run, i, i, i, i + 1, float(i), x=x,
                                params={"lr": lr, "layers": layers, "solver": solver}))
    return events


def test_the_page_streams_new_rows_and_shows_the_chosen_parameters():
    from bokeh.document import Document
    from bokeh.document.events import ColumnDataChangedEvent, ColumnsStreamedEvent

    store = store_of(named_events())
    doc = Document()
    dask_bo_doc(None, {}, doc, store=store)
    (callback,) = doc.session_callbacks
    points = doc.get_model_by_name("points")
    x_select, y_select = doc.get_model_by_name("x_param"), doc.get_model_by_name("y_param")
    assert (x_select.options, x_select.value) == (["lr", "layers", "solver"], "lr")
    assert (y_select.options, y_select.value) == (["lr", "layers", "solver", "objective value"], "layers")
    assert len(points.data["id"]) == 3

    changes = []
    doc.on_change(lambda event: changes.append(event))
    for e in named_events(start=3, count=2):
        store.add(e)
    callback.callback()
    assert points.data["id"] == [0, 1, 2, 3, 4]
    streamed = {e.model.name for e in changes if isinstance(e, ColumnsStreamedEvent)}
    assert "points" in streamed and "status" in streamed
    replaced = {e.model.name for e in changes if not isinstance(e, ColumnsStreamedEvent)
                and (isinstance(e, ColumnDataChangedEvent) or getattr(e, "attr", None) == "data")}
    assert replaced <= {"best_tail"}, replaced  # two rows, always whole
    changes.clear()
    callback.callback()  # nothing new: nothing sent
    assert changes == []

    # The second axis shows the categorical parameter, labelled with its choices.
    y_select.value = "solver"
    plot = next(m for m in doc.roots[0].references() if getattr(m, "title", None) is not None
                and getattr(m.title, "text", "").startswith("evaluated points"))
    glyphs = [r.glyph for r in plot.renderers]
    assert {g.y for g in glyphs} == {"p2"} and {g.x for g in glyphs} == {"p0"}
    assert plot.yaxis[0].axis_label == "solver"
    assert plot.yaxis[0].ticker.min_interval == 1  # integer ticks: one per choice
    assert dict(plot.yaxis[0].major_label_overrides) == {0: "cg", 1: "gmres", 2: "bicg"}
    y_select.value = "objective value"
    assert {g.y for g in glyphs} == {"y"} and plot.yaxis[0].major_label_overrides == {}


# -- a real scheduler --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dashboard_cluster():
    """A cluster whose scheduler preloads the page, as ``dask_bo.connect()`` makes one, with a
    scheduler topic log far shorter than the runs it shows."""
    with dask.config.set({"distributed.admin.low-level-log-length": LOG_LENGTH}), LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", scheduler_kwargs={"preload": ["dask_bo.dashboard"]},
    ) as cluster, Client(cluster) as client:
        yield cluster, client


def _optimize(client, evaluations: int, initial: int):
    from dask_bo import get_problem, optimize  # the public API, wherever it lives

    return optimize(get_problem("scaled-branin", delay_scale=0.3), client=client,
                    evaluations=evaluations, initial=initial, progress=False)


def _store(cluster):
    return cluster.scheduler.plugins[PLUGIN_NAME].store


def _latest_started_run(cluster) -> str:
    return [log.run_id for log in _store(cluster).runs.values() if "started_at" in log.meta][-1]


def _page(cluster):
    from bokeh.document import Document

    doc = Document()
    dask_bo_doc(cluster.scheduler, {}, doc)  # the scheduler runs in this process
    (callback,) = doc.session_callbacks
    return doc, callback


class _stored:
    """``wait(timeout_s)`` until the scheduler holds the event ``count`` of ``run_id`` (the
    publisher's last). It asks the scheduler's log: a subscription, sent on the client's batched
    stream, can reach the scheduler after an event published on a comm of its own."""

    def __init__(self, client, run_id, count):
        self.client, self.run_id, self.count = client, run_id, count

    def wait(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(e.get("run") == self.run_id and e.get("n") == self.count
                   for _, e in self.client.get_events(EVENT_TOPIC)):
                return True
            time.sleep(0.05)
        return False


def test_the_preload_adds_the_plugin_once(dashboard_cluster):
    cluster, _ = dashboard_cluster
    plugin = cluster.scheduler.plugins[PLUGIN_NAME]
    assert isinstance(plugin, DashboardPlugin)
    assert install(cluster.scheduler) is plugin


def test_the_page_holds_more_events_than_the_scheduler_keeps(dashboard_cluster):
    cluster, client = dashboard_cluster
    doc, callback = _page(cluster)
    run_id, n = "long-run", 4 * LOG_LENGTH  # 2 events each: 8 times the scheduler's log
    publisher = Publisher(client, run_id)
    publisher.publish(Event.DRIVER_STARTED, mode="async", problem="long", budget=n, workers=2,
                      started_at=0.0, minimum=0.0, dim=2)
    for i in range(n):
        publisher.publish(Event.SUBMITTED, id=i, x=[0.1, 0.2], proposal="rule", submitted_at=float(i))
        publisher.publish(Event.EVALUATED, id=i, x=[0.1, 0.2], y=float(n - i), status="ok",
                          proposal="rule", worker="tcp://w:1", submitted_at=float(i),
                          started_at=i + 0.1, finished_at=i + 0.5, n=i)
    publisher.close()
    assert _stored(client, run_id, n - 1).wait(WAIT_S), "the scheduler did not take the events"
    assert len(client.get_events(EVENT_TOPIC)) <= LOG_LENGTH  # the scheduler forgot most of them
    callback.callback()
    points = doc.get_model_by_name("points").data
    assert doc.get_model_by_name("run_select").value == run_id
    assert sorted(points["id"]) == list(range(n))  # the page did not
    assert doc.get_model_by_name("status").data["ok"][-1] == n
    assert f"done <b>{n}/{n}</b>" in doc.get_model_by_name("summary").text


# Every <canvas> in the page, looking inside Bokeh's shadow roots.
_CANVASES_JS = """
function walk(root, out) {
  for (const el of root.querySelectorAll('*')) {
    if (el.tagName === 'CANVAS') out.push(el);
    if (el.shadowRoot) walk(el.shadowRoot, out);
  }
  return out;
}
const canvases = walk(document, []);
"""

# Pixels painted in the colour of "ok" (the timeline's bars, the status plot's ok line).
_OK_PIXELS_JS = _CANVASES_JS + """
let hits = 0;
for (const c of canvases) {
  if (!c.width || !c.height) continue;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4)
    if (d[i] === 0x1f && d[i + 1] === 0x77 && d[i + 2] === 0xb4 && d[i + 3] === 255) hits++;
}
return hits;
"""

_SOURCE_LENGTH_JS = """
if (!window.Bokeh || !Bokeh.documents || !Bokeh.documents.length) return -1;
const source = Bokeh.documents[0].get_model_by_name(arguments[0]);
if (!source) return -1;
const data = source.data instanceof Map ? Object.fromEntries(source.data) : source.data;
const columns = Object.values(data);
return columns.length ? columns[0].length : 0;
"""

_MODEL_TEXT_JS = """
const model = Bokeh.documents[0].get_model_by_name(arguments[0]);
return model ? String(model[arguments[1]]) : null;
"""


def _chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1500,1300",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Chromium at {CHROMIUM} (apt install chromium chromium-driver)")
def test_page_renders_a_live_run_in_chromium(dashboard_cluster, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    cluster, client = dashboard_cluster
    url = dashboard_page_link(client)
    assert url and url.endswith("/individual-dask-bo"), url

    outcome = {}

    def run():
        try:
            outcome["result"] = _optimize(client, evaluations=8, initial=3)
        except BaseException as error:  # reported by the test thread
            outcome["error"] = error

    runner = threading.Thread(target=run, daemon=True)
    driver = _chromium(tmp_path)
    try:
        runner.start()
        driver.get(url)
        wait = WebDriverWait(driver, WAIT_S)
        # The plots are drawn: Bokeh made canvases for them (five plots are visible).
        wait.until(lambda d: d.execute_script(_CANVASES_JS + "return canvases.filter(c => c.width > 100).length;") >= 5)
        # Evaluations reach the browser while the run is going on.
        wait.until(lambda d: d.execute_script(_SOURCE_LENGTH_JS, "timeline") > 0)
        runner.join(timeout=180)
        assert not runner.is_alive(), "the optimization did not finish within 180 s"
        assert "error" not in outcome, outcome.get("error")
        run_id = _latest_started_run(cluster)
        # The page follows the run to its end: 3 initial + 8 evaluations, all on the 2 workers.
        wait.until(lambda d: d.execute_script(_SOURCE_LENGTH_JS, "timeline") == 11)
        wait.until(lambda d: "finished" in (d.execute_script(_MODEL_TEXT_JS, "summary", "text") or ""))
        text = driver.execute_script(_MODEL_TEXT_JS, "summary", "text")
        assert run_id in text and "done <b>8/8</b>" in text and "in flight <b>0</b>" in text, text
        assert driver.execute_script(_MODEL_TEXT_JS, "run_select", "value") == run_id
        # The points plot's axes are chosen by parameter name.
        assert driver.execute_script(_MODEL_TEXT_JS, "x_param", "value") == "x0"
        assert driver.execute_script(_MODEL_TEXT_JS, "y_param", "value") == "x1"
        points = driver.execute_script(_SOURCE_LENGTH_JS, "points")
        failures = driver.execute_script(_SOURCE_LENGTH_JS, "failures")
        assert points + failures == 11
        assert driver.execute_script(_SOURCE_LENGTH_JS, "best") >= 2
        workers = driver.execute_script(
            "const data = Bokeh.documents[0].get_model_by_name('timeline').data;"
            "return new Set(data instanceof Map ? data.get('worker') : data.worker).size;")
        assert workers == 2
        # The data became pixels: bars and lines in the "ok" colour are on the canvases.
        wait.until(lambda d: d.execute_script(_OK_PIXELS_JS) > 500)
        errors = [e for e in driver.get_log("browser")
                  if e["level"] == "SEVERE" and "favicon" not in e["message"]]
        assert not errors, errors
        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(artifacts / "dashboard.png"))
    finally:
        driver.quit()
        runner.join(timeout=180)


def test_events_published_by_the_driver_reach_the_page_sources(dashboard_cluster):
    cluster, client = dashboard_cluster
    doc, callback = _page(cluster)
    points, timeline = doc.get_model_by_name("points"), doc.get_model_by_name("timeline")
    select, info = doc.get_model_by_name("run_select"), doc.get_model_by_name("summary")
    runs_before = len(select.options)

    result = _optimize(client, evaluations=3, initial=2)
    run_id = _latest_started_run(cluster)
    callback.callback()  # the page's periodic update

    # The page moved on to the new run and shows all of it.
    assert select.value == run_id
    assert len(select.options) == runs_before + 1
    assert select.options[0][1] == f"{run_id} · async · scaled-branin"
    ok = [e for e in result.history if e.ok]
    assert sorted(points.data["y"]) == sorted(e.y for e in ok)
    assert len(doc.get_model_by_name("failures").data["id"]) == len(result.history) - len(ok)
    assert sorted(timeline.data["id"]) == sorted(e.id for e in result.history)
    assert set(timeline.data["worker"]) <= set(client.scheduler_info()["workers"])
    assert doc.get_model_by_name("status").data["ok"][-1] == len(ok)
    assert doc.get_model_by_name("in_flight").data["n"][-1] == 0
    assert "done <b>3/3</b>" in info.text and "finished" in info.text
    assert doc.get_model_by_name("x_param").options == ["x0", "x1"]

    # Another run starts (its events published by hand): the page follows it...
    publisher = Publisher(client, "manual")
    publisher.publish(Event.DRIVER_STARTED, started_at=time.time(), problem="by-hand", n=0)
    publisher.close()
    assert _stored(client, "manual", 0).wait(WAIT_S), "the scheduler did not receive the event"
    callback.callback()
    assert select.value == "manual" and points.data["y"] == []
    # ...until the user picks the earlier run, which then stays shown.
    select.value = run_id
    assert sorted(points.data["y"]) == sorted(e.y for e in ok)
    callback.callback()
    assert select.value == run_id and "done <b>3/3</b>" in info.text


def test_publisher_sends_in_order_and_close_flushes(dashboard_cluster):
    """Events go out from the publisher's own thread, in order; close() sends what is queued;
    an event the scheduler cannot take stops publishing without failing the run."""
    cluster, client = dashboard_cluster
    publisher = Publisher(client, "ordered")
    for i in range(40):
        publisher.publish(Event.SUBMITTED, id=i)
    publisher.close()

    def ids():
        return [msg["id"] for _, msg in client.get_events(EVENT_TOPIC) if msg.get("run") == "ordered"]

    assert ids() == list(range(40))
    assert all(msg["event"] == "submitted" for _, msg in client.get_events(EVENT_TOPIC)
               if msg.get("run") == "ordered")
    publisher.publish(Event.EVALUATED, id=40, x=object())  # not msgpack-able
    publisher.publish(Event.EVALUATED, id=41)
    publisher.close()
    assert ids() == list(range(40))
    publisher.publish(Event.EVALUATED, id=42)  # stays off
    publisher.close()
    assert ids() == list(range(40))
    assert _store(cluster).runs["ordered"].in_flight_now == 40
