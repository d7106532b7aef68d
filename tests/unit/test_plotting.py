"""The plots: each info function on a hand-made history, each renderer writes a PNG."""

from __future__ import annotations

import dataclasses
import math
import struct
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from dask_bo import Evaluation, Result
from dask_bo.plots import parameter_axes, points_figure, regret_figure
from dask_bo.plotting import (
    NO_WORKER,
    REGRET_FLOOR,
    plot_comparison,
    plot_points,
    plot_regret,
    plot_timeline,
    points_info,
    regret_info,
    timeline_info,
)

T0 = 1_000.0  # the driver's start
W1, W2 = "tcp://127.0.0.1:40001", "tcp://127.0.0.1:40002"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def ev(i, x, y=None, status="ok", proposal="rule", worker=W1, submitted=None, started=None, finished=None):
    """An evaluation with times in seconds after the driver's start."""
    at = lambda t: None if t is None else T0 + t  # noqa: E731
    return Evaluation(
        id=i, x=tuple(x), y=y if status == "ok" else None, status=status, proposal=proposal,
        worker=worker, submitted_at=at(submitted), started_at=at(started), finished_at=at(finished),
        duration_s=None if started is None else finished - started,
        error=None if status == "ok" else f"{status}!",
    )


def history():
    """Two initial points, then on two workers: ok, failed, ok (the best), and one lost before
    reaching a worker. Listed in the order the driver received them."""
    return [
        ev(0, (0.1, 0.2), 3.0, proposal="initial", submitted=-3, started=-3, finished=-2),
        ev(1, (0.5, 0.5), 2.0, proposal="initial", worker=W2, submitted=-3, started=-3, finished=-1),
        ev(3, (0.9, 0.1), status="failed", worker=W2, submitted=1.0, started=1.2, finished=1.6),
        ev(2, (0.3, 0.7), 1.5, submitted=1.0, started=1.1, finished=2.0),
        ev(4, (0.2, 0.4), 0.5, worker=W2, submitted=1.6, started=1.7, finished=3.0),
        ev(5, (0.6, 0.6), status="lost", worker=None, submitted=2.1, finished=3.5),
    ]


def result(hist=None, minimum=0.4, mode="async", problem="toy"):
    return Result(mode, problem, 2, 0, history() if hist is None else hist, T0, minimum=minimum)


def all_failed():
    return [
        ev(0, (0.1, 0.2), status="failed", proposal="initial", submitted=-2, started=-2, finished=-1),
        ev(1, (0.4, 0.3), status="timeout", submitted=1, started=1, finished=2),
        ev(2, (0.7, 0.9), status="lost", worker=None, submitted=1, finished=2.5),
    ]


def one_d():
    return [
        ev(0, (0.1,), 2.0, proposal="initial", submitted=-1, started=-1, finished=-0.5),
        ev(1, (0.4,), -1.0, submitted=1, started=1, finished=2),
        ev(2, (0.7,), status="timeout", worker=W2, submitted=1, started=1, finished=3),
    ]


# -- info ---------------------------------------------------------------------------------


def test_regret_info_steps_through_the_evaluations_in_finishing_order():
    info = regret_info(result())
    assert info["evaluations"] == [0, 1, 2, 3, 4]
    assert info["time_s"] == pytest.approx([0.0, 1.6, 2.0, 3.0, 3.5])
    # The initial design's best (2.0) until the ok evaluation at 2.0 s; failures change nothing.
    assert info["best"] == [2.0, 2.0, 1.5, 0.5, 0.5]
    assert info["regret"] == pytest.approx([1.6, 1.6, 1.1, 0.1, 0.1])
    assert info["label"] == "best regret so far"
    assert info["minimum"] == 0.4


def test_regret_info_clamps_negative_regret_and_shows_the_best_value_without_a_minimum():
    clamped = regret_info(result(minimum=0.5000001))
    assert clamped["regret"][-2:] == [REGRET_FLOOR, REGRET_FLOOR]
    unknown = regret_info(result(minimum=None))
    assert unknown["regret"] is None
    assert unknown["label"] == "best value so far"
    assert unknown["best"] == [2.0, 2.0, 1.5, 0.5, 0.5]


def test_regret_info_leaves_out_the_rows_before_any_successful_evaluation():
    hist = all_failed() + [ev(3, (0.5, 0.5), 4.0, submitted=2, started=2, finished=4)]
    info = regret_info(result(hist, minimum=None))
    assert info["evaluations"] == [3]
    assert info["time_s"] == pytest.approx([4.0])
    assert info["best"] == [4.0]
    assert regret_info(result(all_failed()))["regret"] == []


def test_timeline_info_has_one_bar_per_driven_evaluation_by_worker():
    bars = timeline_info(result())
    assert [(b["id"], b["worker"], b["status"]) for b in bars] == [
        (2, W1, "ok"), (3, W2, "failed"), (4, W2, "ok"), (5, NO_WORKER, "lost"),
    ]
    assert [b["start_s"] for b in bars] == pytest.approx([1.1, 1.2, 1.7, 2.1])
    assert [b["end_s"] for b in bars] == pytest.approx([2.0, 1.6, 3.0, 3.5])
    assert [b["submitted_s"] for b in bars] == pytest.approx([1.0, 1.0, 1.6, 2.1])
    # The idle gap on W2 between the failure and the next evaluation is there to see.
    assert bars[2]["start_s"] - bars[1]["end_s"] == pytest.approx(0.1)
    assert {b["proposal"] for b in bars} == {"rule"}


def test_timeline_info_leaves_out_evaluations_with_no_times():
    hist = history() + [Evaluation(id=9, x=(0.0, 0.0), y=None, status="lost", proposal="rule")]
    assert 9 not in [b["id"] for b in timeline_info(result(hist))]
    assert timeline_info(result([])) == []


def test_points_info_lists_every_evaluation_with_its_status():
    info = points_info(result())
    assert info["id"] == [0, 1, 3, 2, 4, 5]
    assert info["x_coord"] == [0.1, 0.5, 0.9, 0.3, 0.2, 0.6]
    assert info["y_coord"] == [0.2, 0.5, 0.1, 0.7, 0.4, 0.6]
    assert info["y"] == [3.0, 2.0, None, 1.5, 0.5, None]
    assert info["status"] == ["ok", "ok", "failed", "ok", "ok", "lost"]
    assert info["initial"] == [True, True, False, False, False, False]
    assert (info["dim"], info["names"], info["x_param"], info["y_param"]) == (2, ["x0", "x1"], "x0", "x1")
    assert info["best"] == 4  # the index of id 4 (y = 0.5)


def test_points_info_in_one_dimension_and_with_no_success():
    info = points_info(result(one_d()))
    assert info["dim"] == 1 and info["y_param"] is None
    assert info["y_coord"] == [0.0, 0.0, 0.0]
    assert info["best"] == 1
    failed = points_info(result(all_failed()))
    assert failed["best"] is None and failed["y"] == [None, None, None]
    empty = points_info(result([]))
    assert empty["dim"] == 0 and empty["best"] is None and empty["x_coord"] == []


@dataclasses.dataclass(frozen=True)
class Named:
    """A record of a named space (the fields plots read; ``params`` as the objective got them)."""

    id: int
    x: tuple
    y: Any
    params: dict
    status: str = "ok"
    proposal: str = "rule"
    worker: str | None = W1
    submitted_at: float | None = T0
    started_at: float | None = T0
    finished_at: float | None = T0 + 1
    duration_s: float | None = 1.0
    error: str | None = None

    @property
    def ok(self):
        return self.status == "ok"

    @property
    def driven(self):
        return self.proposal not in ("initial", "warm")


SOLVERS = ["cg", "gmres", "bicg"]


def named_history():
    """lr (log float), layers (int), solver (categorical: x holds the choice's index)."""
    rows = [(1e-4, 2, "gmres", 3.0, "initial"), (1e-2, 8, "cg", 1.0, "rule"), (3e-3, 4, "bicg", 2.0, "rule")]
    # The records' own class once it carries params, else a stand-in with the same fields.
    record = Evaluation if "params" in {f.name for f in dataclasses.fields(Evaluation)} else Named
    return [record(id=i, x=(lr, float(layers), float(SOLVERS.index(solver))), y=y, status="ok",
                   params={"lr": lr, "layers": layers, "solver": solver}, proposal=proposal,
                   worker=W1, submitted_at=T0, started_at=T0, finished_at=T0 + 1, duration_s=1.0)
            for i, (lr, layers, solver, y, proposal) in enumerate(rows)]


def test_points_info_names_the_parameters_and_learns_the_categories():
    r = result(named_history(), minimum=None)
    axes = parameter_axes(r)
    assert list(axes) == ["lr", "layers", "solver"]
    assert axes["solver"]["categories"] == SOLVERS  # index 0..2 -> its choice
    assert axes["layers"]["categories"] is None and axes["lr"]["categories"] is None
    info = points_info(r, x_param="solver", y_param="lr")
    assert (info["x_param"], info["y_param"]) == ("solver", "lr")
    assert info["x_coord"] == [1.0, 0.0, 2.0] and info["y_coord"] == [1e-4, 1e-2, 3e-3]
    assert points_info(r, x_param="layers")["y_param"] == "lr"  # the first other parameter
    with pytest.raises(ValueError, match=r"expected y_param among the parameters \['lr', 'layers', 'solver'\], got 'depth'"):
        points_info(r, y_param="depth")


def test_a_declared_space_gives_names_categories_and_log_scales():
    space = SimpleNamespace(names=["lr", "layers", "solver"], parameters={
        "lr": SimpleNamespace(low=1e-5, high=1e-1, log=True), "layers": SimpleNamespace(low=1, high=8, log=False),
        "solver": SimpleNamespace(choices=SOLVERS + ["direct"]),
    })
    r = result([dataclasses.replace(e, params=None) for e in named_history()], minimum=None)
    r.space = space
    axes = parameter_axes(r)
    assert axes["lr"]["log"] and not axes["layers"]["log"]
    assert axes["solver"]["categories"] == SOLVERS + ["direct"]  # also the choice never drawn
    ax = points_figure(r, x_param="solver", y_param="lr").axes[0]
    assert ax.get_xlabel() == "solver" and ax.get_ylabel() == "lr"
    assert [t.get_text() for t in ax.get_xticklabels()] == SOLVERS + ["direct"]
    assert ax.get_yscale() == "log"


def test_regret_info_follows_the_direction_when_maximizing():
    hist = [ev(0, (0.1,), 1.0, proposal="initial"), ev(1, (0.2,), 3.0, submitted=0, started=0, finished=1),
            ev(2, (0.3,), 2.0, submitted=1, started=1, finished=2)]
    r = result(hist, minimum=4.0)  # for a maximization: the known optimum
    r.direction = "maximize"
    info = regret_info(r)
    assert info["best"] == [1.0, 3.0, 3.0] and info["regret"] == pytest.approx([3.0, 1.0, 1.0])
    assert points_info(r)["best"] == 1


def test_plots_import_no_other_module_of_dask_bo():
    """No cycle can pass through the plots: importing them loads neither the history nor
    matplotlib (workers and light callers import dask_bo without it)."""
    code = ("import sys, dask_bo.plots, dask_bo.plotting; "
            "print(sorted(m for m in sys.modules if m.startswith('dask_bo') or m == 'matplotlib'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)
    assert "matplotlib" not in loaded
    assert {m for m in loaded if not m.startswith("dask_bo.plots")} <= {"dask_bo", "dask_bo.plotting"}


def labelled_ticks(ax):
    """The y ticks inside the view with a visible label, after drawing."""
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    ticks = []
    for minor in (False, True):
        for loc, label in zip(ax.get_yticks(minor=minor), ax.get_yticklabels(minor=minor)):
            if low <= loc <= high and label.get_visible() and label.get_text():
                ticks.append((loc, label.get_text()))
    return ticks


@pytest.mark.parametrize("final", [0.02, 0.12, 0.045])
def test_a_log_regret_axis_over_about_a_decade_labels_enough_ticks_to_read_the_final_regret(final):
    """From 0.3 to ``final``: a decade or less. Every labelled tick reads as a plain number,
    and two labelled ticks close around the final regret (issue 16)."""
    ys = [0.3 + 0.4, 0.2 + 0.4, final + 0.4]  # minimum 0.4
    hist = [ev(0, (0.1,), ys[0], proposal="initial")] + [
        ev(i, (0.1 * i,), y, submitted=i, started=i, finished=i + 0.5) for i, y in enumerate(ys[1:], 1)]
    fig = regret_figure({"async": result(hist, minimum=0.4)})
    for ax in fig.axes[:2]:
        assert ax.get_yscale() == "log"
        ticks = labelled_ticks(ax)
        assert len(ticks) >= 3, ticks
        for loc, text in ticks:
            assert float(text) == pytest.approx(loc, rel=1e-3), (loc, text)
        below = max(loc for loc, _ in ticks if loc <= final * (1 + 1e-9))
        above = min(loc for loc, _ in ticks if loc >= final * (1 - 1e-9))
        assert above / below <= 2.5, (below, final, above)
    assert f"final regret {final:.3g}" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_a_log_regret_axis_over_many_decades_labels_decades():
    hist = [ev(0, (0.1,), 1.0, proposal="initial"), ev(1, (0.2,), 1e-5, submitted=0, started=0, finished=1)]
    ax = regret_figure({"async": result(hist, minimum=0.0)}).axes[0]
    locs = [loc for loc, _ in labelled_ticks(ax)]
    assert len(locs) >= 3
    assert all(math.log10(loc) == pytest.approx(round(math.log10(loc))) for loc in locs)


# -- renderers ----------------------------------------------------------------------------


def png_size(path):
    """(width, height) of a PNG, after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    assert len(data) > 5_000, f"{path} is suspiciously small: {len(data)} bytes"
    return struct.unpack(">II", data[16:24])


CASES = {
    "mixed": lambda: result(),
    "all-failed": lambda: result(all_failed()),
    "one-d": lambda: result(one_d(), minimum=None),
    "unknown-minimum": lambda: result(minimum=None),
    "empty": lambda: result([]),
    "three-d": lambda: result([ev(0, (0.1, 0.2, 0.3), 1.0, proposal="initial"),
                               ev(1, (0.4, 0.5, 0.6), 0.5, submitted=0, started=0.1, finished=1)]),
    "named-mixed": lambda: result(named_history(), minimum=None),
}


@pytest.mark.parametrize("case", CASES)
def test_renderers_write_a_png_of_the_stated_size(case, tmp_path):
    r = CASES[case]()
    assert png_size(plot_regret({r.mode: r}, tmp_path / "regret.png")) == (1200, 460)
    width, height = png_size(plot_timeline(r, tmp_path / "timeline.png"))
    assert width == 1100 and height >= 250
    assert png_size(plot_points(r, tmp_path / "points.png")) == (640, 520)
    if case == "named-mixed":
        assert png_size(plot_points(r, tmp_path / "p.png", x_param="solver", y_param="layers")) == (640, 520)


def test_renderers_create_missing_folders(tmp_path):
    path = plot_points(result(), tmp_path / "a" / "b" / "points.png")
    assert path == tmp_path / "a" / "b" / "points.png"
    png_size(path)


def test_timeline_height_grows_with_the_workers(tmp_path):
    hist = [ev(i, (0.1 * i, 0.1), 1.0, worker=f"tcp://10.0.0.{i}:1", submitted=0, started=0, finished=1)
            for i in range(6)]
    _, two = png_size(plot_timeline(result(), tmp_path / "two.png"))
    _, six = png_size(plot_timeline(result(hist), tmp_path / "six.png"))
    assert six > two


def test_plot_comparison_draws_both_modes(tmp_path):
    results = {"sync": result(mode="sync"), "async": result(one_d(), mode="async")}
    assert png_size(plot_comparison(results, tmp_path / "comparison.png")) == (1200, 850)
    failed = {"sync": result(all_failed(), mode="sync"), "async": result([], mode="async")}
    assert png_size(plot_comparison(failed, tmp_path / "failed.png")) == (1200, 850)


def test_renderers_leave_pyplot_alone(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    plot_regret({"async": result()}, tmp_path / "regret.png")
    assert matplotlib.get_backend() == backend
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # no figure left open
