"""Result: metrics (utilization over the threads present, pauses, direction), the data frame,
history.csv, result.json and the notebook view; records and observations."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from dask_bo.folder import write_history_csv
from dask_bo.records import Evaluation, observations
from dask_bo.result import Result


def record(i, y=1.0, status="ok", proposal="rule", **kw):
    return Evaluation(id=i, x=(0.1 * i, 0.3), y=y if status == "ok" else None, status=status,
                      proposal=proposal, **kw)


def history():
    h = [record(0, y=5.0, proposal="initial", started_at=0, finished_at=1, duration_s=1)]
    return h + [
        record(1, y=2.0, started_at=10, finished_at=12, duration_s=2),
        record(2, status="failed", started_at=10, finished_at=11, duration_s=1),
        record(3, y=3.0, started_at=12, finished_at=14, duration_s=2),
    ]


def test_metrics():
    result = Result("async", "p", workers=2, seed=0, history=history(), started_at=10.0,
                    minimum=1.5, dispatch_latencies_s=[0.1, 0.3, 0.2], rule="ucb")
    m = result.metrics()
    assert m["evaluations"] == 3 and m["failed"] == 1
    assert m["wall_s"] == 4 and m["eval_s_sum"] == 5
    assert m["utilization"] == pytest.approx(5 / 8)
    assert m["dispatch_latency_s"] == 0.2
    assert m["best_y"] == 2.0 and m["best_x"] == [0.1, 0.3] and m["best_regret"] == 0.5
    assert m["rule"] == "ucb" and m["direction"] == "minimize"
    assert m["best_params"] == {"x0": 0.1, "x1": 0.3}
    json.dumps(m, allow_nan=False)


def test_warm_records_are_data_not_budget():
    h = history() + [record(4, y=-9.0, proposal="warm", finished_at=99, duration_s=50)]
    result = Result("async", "p", workers=2, seed=0, history=h, started_at=10.0)
    assert [e.id for e in result.driven] == [1, 2, 3]
    assert result.wall_s == 4 and result.best.id == 4  # the best point is the best point


def test_utilization_integrates_the_threads_present():
    # 2 threads from 10 to 12, then 4 until the last result at 14: 12 thread-seconds.
    result = Result("async", "p", workers=2, seed=0, history=history(), started_at=10.0,
                    threads=[(10.5, 2), (12.0, 4), (30.0, 1)])
    assert result.thread_seconds() == pytest.approx(2 * 2 + 4 * 2)
    assert result.metrics()["utilization"] == pytest.approx(5 / 12)
    shrunk = Result("async", "p", workers=2, seed=0, history=history(), started_at=10.0,
                    threads=[(0.0, 8), (11.0, 1)])
    assert shrunk.thread_seconds() == pytest.approx(8 * 1 + 1 * 3)


def test_a_pause_between_drivers_is_left_out_of_wall_time_and_utilization():
    h = history() + [record(5, y=4.0, started_at=112, finished_at=114, duration_s=2)]
    # The first driver ran 10..14 and the second 110..114; replay makes the pause a 0 step.
    threads = [(10.0, 2), (14.0, 0), (110.0, 2)]
    result = Result("async", "p", workers=2, seed=0, history=h, started_at=10.0, threads=threads, paused_s=96.0)
    m = result.metrics()
    assert m["wall_s"] == pytest.approx(8.0)
    assert m["utilization"] == pytest.approx(7 / 16)
    no_threads = Result("async", "p", workers=2, seed=0, history=h, started_at=10.0, paused_s=96.0)
    assert no_threads.metrics()["utilization"] == pytest.approx(7 / 16)


def test_maximize_picks_the_largest_value_and_its_regret():
    result = Result("async", "p", workers=2, seed=0, history=history(), started_at=10.0, minimum=6.0,
                    direction="maximize")
    assert result.best.id == 0 and result.best_y == 5.0 and result.best_x == (0.0, 0.3)
    assert result.metrics()["best_regret"] == 1.0
    with pytest.raises(ValueError, match="expected direction in .*got 'up'"):
        Result("async", "p", 2, 0, [], 0.0, direction="up")


def test_an_empty_run_has_no_best_and_no_utilization():
    result = Result("sync", "p", workers=2, seed=None, history=[], started_at=10.0)
    m = result.metrics()
    assert m["best_y"] is None and m["utilization"] is None and m["wall_s"] == 0.0
    assert result.best_params is None
    assert list(result.to_dataframe().columns)[:2] == ["id", "y"]


@dataclass
class Choice:
    choices: tuple


class NamedSpace:
    """What Result uses of a Space: names, is_box, parameters (choices) and to_params."""

    names = ("lr", "layers", "kind")
    is_box = False
    parameters = {"lr": object(), "layers": object(), "kind": Choice(("adam", "sgd", "rms"))}

    def to_params(self, x):
        return {"lr": float(x[0]), "layers": int(x[1]), "kind": self.parameters["kind"].choices[int(x[2])]}


def named_history():
    return [
        Evaluation(0, (0.01, 2.0, 1.0), 0.5, "ok", "initial", worker="tcp://a", submitted_at=1e9,
                   started_at=1e9 + 1, finished_at=1e9 + 2, duration_s=1.0,
                   params={"lr": 0.01, "layers": 2, "kind": "sgd"}),
        Evaluation(1, (0.1, 3.0, 0.0), None, "failed", "rule", error="ValueError: no"),  # no params: from x
        Evaluation(2, (0.001, 1.0, 2.0), 0.25, "ok", "rule", finished_at=1e9 + 5, duration_s=2.0,
                   params={"lr": 0.001, "layers": 1, "kind": "rms"}),
    ]


def test_to_dataframe_names_the_parameters_with_their_types():
    result = Result("async", "p", workers=1, seed=0, history=named_history(), started_at=1e9, space=NamedSpace())
    df = result.to_dataframe()
    assert list(df.columns) == ["id", "lr", "layers", "kind", "y", "status", "worker", "submitted_at",
                                "started_at", "finished_at", "duration_s", "error", "proposal"]
    assert df["lr"].dtype == np.float64 and df["layers"].dtype == np.int64
    assert isinstance(df["kind"].dtype, pd.CategoricalDtype)
    assert list(df["kind"].cat.categories) == ["adam", "sgd", "rms"] and list(df["kind"]) == ["sgd", "adam", "rms"]
    assert str(df["finished_at"].dtype) == "datetime64[ns, UTC]"
    assert df["finished_at"][0] == pd.Timestamp(1e9 + 2, unit="s", tz="UTC") and pd.isna(df["finished_at"][1])
    assert df["y"].dtype == np.float64 and df["id"].dtype == np.int64
    assert result.best_params == {"lr": 0.001, "layers": 1, "kind": "rms"}
    assert result.metrics()["best_params"] == {"lr": 0.001, "layers": 1, "kind": "rms"}


def test_to_dataframe_of_a_box_has_x_columns():
    df = Result("async", "p", workers=2, seed=0, history=history(), started_at=10.0).to_dataframe()
    assert list(df.columns[:4]) == ["id", "x0", "x1", "y"] and len(df) == 4
    assert df["x0"].dtype == np.float64 and list(df["proposal"]) == ["initial", "rule", "rule", "rule"]


def test_history_csv_columns(tmp_path):
    write_history_csv(history(), tmp_path / "box.csv")
    rows = list(csv.DictReader(open(tmp_path / "box.csv")))
    assert list(rows[0]) == ["id", "x0", "x1", "y", "status", "worker", "submitted_at", "started_at",
                             "finished_at", "duration_s", "error", "proposal"]
    assert rows[2]["y"] == "" and rows[2]["status"] == "failed"
    result = Result("async", "p", workers=1, seed=0, history=named_history(), started_at=1e9, space=NamedSpace())
    result.write_history_csv(tmp_path / "named.csv")
    rows = list(csv.DictReader(open(tmp_path / "named.csv")))
    assert list(rows[0])[:5] == ["id", "lr", "layers", "kind", "y"]
    assert [r["kind"] for r in rows] == ["sgd", "adam", "rms"] and rows[1]["layers"] == "3"


def test_save_writes_history_result_and_plots(tmp_path):
    result = Result("async", "p", workers=2, seed=0, history=history(), started_at=10.0, minimum=1.5)
    written = result.save(tmp_path / "run")
    assert sorted(p.name for p in written) == ["history.csv", "points.png", "regret.png", "result.json", "timeline.png"]
    assert json.loads((tmp_path / "run" / "result.json").read_text()) == result.metrics()
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]  # no temporary left


def test_repr_html_shows_the_metrics_and_an_inline_regret_plot():
    result = Result("async", "p<b>", workers=2, seed=0, history=history(), started_at=10.0, minimum=1.5)
    page = result._repr_html_()
    assert "<th style='text-align:left'>utilization</th><td>0.625</td>" in page
    assert "p&lt;b&gt;" in page
    assert "src='data:image/png;base64,iVBORw0KGgo" in page  # a PNG's signature, base64
    assert "<img" not in Result("async", "p", 2, 0, [], 10.0)._repr_html_()


def test_records_round_trip_and_name_a_missing_key():
    e = named_history()[0]
    assert Evaluation.from_dict(json.loads(json.dumps(e.to_dict()))) == e
    assert Evaluation.from_dict({"id": 3, "x": [1, 2], "status": "lost"}) == Evaluation(3, (1.0, 2.0), None, "lost")
    for key in ("id", "x", "status"):
        d = e.to_dict()
        del d[key]
        with pytest.raises(ValueError, match=f"missing '{key}'"):
            Evaluation.from_dict(d)
    with pytest.raises(ValueError, match="expected a status in"):
        Evaluation.from_dict({**e.to_dict(), "status": "fine"})


def test_observations_are_the_ok_records():
    x, y = observations(history())
    assert x.shape == (3, 2) and y.shape == (3, 1) and y[:, 0].tolist() == [5.0, 2.0, 3.0]
    x, y = observations([record(0, status="failed")])
    assert x.shape == (0, 2) and y.shape == (0, 1)
    assert observations([])[0].shape == (0, 0)
