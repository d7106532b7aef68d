from __future__ import annotations

import json

import pytest

from dask_bo.history import Evaluation, Result
from dask_bo.journal import Journal, journal_state, read_journal


def record(i, y=1.0, status="ok", proposal="lp", **kw):
    return Evaluation(id=i, x=(0.1 * i, 0.3), y=y if status == "ok" else None, status=status,
                      proposal=proposal, **kw)


def test_journal_roundtrip_and_in_flight(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write("start", config={"settings": {"mode": "async"}, "problem": {"name": "p"}})
    for i in range(3):
        journal.write("submitted", id=i, x=[0.1 * i, 0.3], proposal="lp", submitted_at=0.0)
    journal.evaluated(record(0))
    journal.evaluated(record(2, status="failed", error="ValueError: x"))
    journal.close()
    config, history, in_flight = journal_state(read_journal(tmp_path))
    assert config["settings"]["mode"] == "async"
    assert [e.id for e in history] == [0, 2]
    assert history[1].status == "failed" and history[1].error == "ValueError: x"
    assert [s["id"] for s in in_flight] == [1]
    assert history[0] == record(0)


def test_torn_last_line_is_ignored_with_a_warning(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.write("start", config={})
    journal.evaluated(record(0))
    journal.close()
    with open(path, "a") as f:
        f.write('{"event": "evaluated", "id": 1, "x": [0.')
    with pytest.warns(UserWarning, match="torn last line"):
        events = read_journal(path)
    assert [e["event"] for e in events] == ["start", "evaluated"]


def test_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"event": "start", "config": {}}\nnot json\n{"event": "finished"}\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        read_journal(path)


def test_missing_journal_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no journal at"):
        read_journal(tmp_path)


def test_metrics():
    history = [record(0, y=5.0, proposal="initial", started_at=0, finished_at=1, duration_s=1)]
    history += [
        record(1, y=2.0, started_at=10, finished_at=12, duration_s=2),
        record(2, status="failed", started_at=10, finished_at=11, duration_s=1),
        record(3, y=3.0, started_at=12, finished_at=14, duration_s=2),
    ]
    result = Result("async", "p", workers=2, seed=0, history=history, started_at=10.0,
                    minimum=1.5, dispatch_latencies_s=[0.1, 0.3, 0.2])
    m = result.metrics()
    assert m["evaluations"] == 3 and m["failed"] == 1
    assert m["wall_s"] == 4 and m["eval_s_sum"] == 5
    assert m["utilization"] == pytest.approx(5 / 8)
    assert m["dispatch_latency_s"] == 0.2
    assert m["best_y"] == 2.0 and m["best_x"] == [0.1, 0.3] and m["best_regret"] == 0.5
    json.dumps(m)
    df = result.to_dataframe()
    assert list(df.columns[:4]) == ["id", "x0", "x1", "y"] and len(df) == 4
