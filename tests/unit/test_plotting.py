"""The plots: each info function on a hand-made history, each renderer writes a PNG."""

from __future__ import annotations

import struct

import pytest

from dask_bo.history import Evaluation, Result
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


def ev(i, x, y=None, status="ok", proposal="lp", worker=W1, submitted=None, started=None, finished=None):
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
    assert {b["proposal"] for b in bars} == {"lp"}


def test_timeline_info_leaves_out_evaluations_with_no_times():
    hist = history() + [Evaluation(id=9, x=(0.0, 0.0), y=None, status="lost", proposal="lp")]
    assert 9 not in [b["id"] for b in timeline_info(result(hist))]
    assert timeline_info(result([])) == []


def test_points_info_lists_every_evaluation_with_its_status():
    info = points_info(result())
    assert info["id"] == [0, 1, 3, 2, 4, 5]
    assert info["x0"] == [0.1, 0.5, 0.9, 0.3, 0.2, 0.6]
    assert info["x1"] == [0.2, 0.5, 0.1, 0.7, 0.4, 0.6]
    assert info["y"] == [3.0, 2.0, None, 1.5, 0.5, None]
    assert info["status"] == ["ok", "ok", "failed", "ok", "ok", "lost"]
    assert info["initial"] == [True, True, False, False, False, False]
    assert info["dim"] == 2
    assert info["best"] == 4  # the index of id 4 (y = 0.5)


def test_points_info_in_one_dimension_and_with_no_success():
    info = points_info(result(one_d()))
    assert info["dim"] == 1
    assert info["x1"] == [0.0, 0.0, 0.0]
    assert info["best"] == 1
    failed = points_info(result(all_failed()))
    assert failed["best"] is None and failed["y"] == [None, None, None]
    empty = points_info(result([]))
    assert empty["dim"] == 0 and empty["best"] is None and empty["x0"] == []


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
}


@pytest.mark.parametrize("case", CASES)
def test_renderers_write_a_png_of_the_stated_size(case, tmp_path):
    r = CASES[case]()
    assert png_size(plot_regret({r.mode: r}, tmp_path / "regret.png")) == (1200, 460)
    width, height = png_size(plot_timeline(r, tmp_path / "timeline.png"))
    assert width == 1100 and height >= 250
    assert png_size(plot_points(r, tmp_path / "points.png")) == (640, 520)


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
