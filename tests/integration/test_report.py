"""``dask-bo report DIR`` on real run folders: finished, interrupted, a comparison, none."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from dask_bo.drivers import compare, optimize
from dask_bo.problems import get_problem
from dask_bo.report import load_result

PLOTS = ("regret.png", "timeline.png", "points.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def report(directory):
    return subprocess.run(
        [sys.executable, "-m", "dask_bo.cli", "report", str(directory)],
        capture_output=True, text=True, timeout=300,
    )


def clear_plots(folder):
    for name in PLOTS:
        (folder / name).unlink(missing_ok=True)


def assert_plots(folder):
    for name in PLOTS:
        data = (folder / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 5_000, f"{folder / name} is not a plot"


def table_rows(stdout):
    """The summary table's rows by mode (its first line is the header)."""
    lines = stdout.splitlines()
    assert lines[0].split()[:3] == ["mode", "evaluations", "failed"], stdout
    rows = {}
    for line in lines[1:]:
        if line.startswith("wrote "):
            break
        mode, *cells = line.split()
        rows[mode] = cells
    return rows


def test_report_redraws_a_finished_run_and_an_interrupted_copy(client, tmp_path):
    run = tmp_path / "run"
    result = optimize(get_problem("scaled-branin", delay_scale=0.05), client=client, evaluations=5,
                      initial=3, out=run, progress=False)
    clear_plots(run)

    done = report(run)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert list(rows) == ["async"]
    assert rows["async"][:2] == ["5", "0"]  # evaluations, failed
    assert float(rows["async"][5]) == pytest.approx(result.best.y, rel=1e-3)  # best_y, 4 digits
    assert_plots(run)
    for name in PLOTS:
        assert f"wrote {run / name}" in done.stdout
    assert load_result(run).metrics() == json.loads((run / "result.json").read_text())

    # Interrupted: keep the journal up to the second driven submission after the first
    # driven result, so points are in flight, drop "finished", and tear the last line.
    lines = (run / "journal.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    first_driven = next(i for i, e in enumerate(events) if e["event"] == "evaluated" and e["proposal"] != "initial")
    cut = first_driven + 2
    kept = events[:cut]
    assert all(e["event"] != "finished" for e in kept)
    submitted = {e["id"] for e in kept if e["event"] == "submitted"}
    evaluated = {e["id"] for e in kept if e["event"] == "evaluated"}
    assert submitted - evaluated, "the cut should leave points in flight"
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    (interrupted / "journal.jsonl").write_text("\n".join(lines[:cut]) + "\n" + lines[cut][: len(lines[cut]) // 2])

    partial = report(interrupted)
    assert partial.returncode == 0, partial.stderr
    assert "torn last line" in partial.stderr
    assert "Traceback" not in partial.stderr
    rows = table_rows(partial.stdout)
    driven_done = sum(1 for e in kept if e["event"] == "evaluated" and e["proposal"] != "initial")
    assert rows["async"][:2] == [str(driven_done), "0"]
    assert_plots(interrupted)
    with pytest.warns(UserWarning, match="torn last line"):
        loaded = load_result(interrupted)
    assert loaded.stopped_early.startswith("interrupted:")
    assert f"{len(submitted - evaluated)} submitted point" in loaded.stopped_early


def test_report_redraws_a_comparison(client, tmp_path):
    out = tmp_path / "cmp"
    compare(get_problem("scaled-branin", delay_scale=0.05), client=client, evaluations=3, initial=3,
            out=out, progress=False)
    for mode in ("sync", "async"):
        clear_plots(out / mode)
    (out / "comparison.png").unlink()
    (out / "comparison.json").unlink()

    done = report(out)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert sorted(rows) == ["async", "sync"]
    assert all(cells[:2] == ["3", "0"] for cells in rows.values())
    for mode in ("sync", "async"):
        assert_plots(out / mode)
    assert (out / "comparison.png").read_bytes()[:8] == PNG_SIGNATURE
    summary = json.loads((out / "comparison.json").read_text())
    assert summary["sync"]["evaluations"] == summary["async"]["evaluations"] == 3
    assert summary["speedup"] > 0
    assert f"wrote {out / 'comparison.png'}" in done.stdout

    # A comparison interrupted before its async half started reports its sync half.
    shutil.rmtree(out / "async")
    half = report(out)
    assert half.returncode == 0, half.stderr
    assert list(table_rows(half.stdout)) == ["sync"]


def test_report_on_a_folder_without_a_journal_fails_in_one_line(tmp_path):
    empty = tmp_path / "nothing here"
    empty.mkdir()
    for folder in (empty, tmp_path / "missing"):
        failed = report(folder)
        assert failed.returncode == 2
        assert failed.stdout == ""
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1, failed.stderr
        assert str(folder) in lines[0] and "journal.jsonl" in lines[0]
        assert "Traceback" not in failed.stderr


def test_report_on_a_journal_that_is_not_a_run_fails_in_one_line(tmp_path):
    (tmp_path / "journal.jsonl").write_text('{"event": "submitted", "id": 0, "x": [0.5]}\n')
    failed = report(tmp_path)
    assert failed.returncode == 2
    assert "start" in failed.stderr and "Traceback" not in failed.stderr


def test_report_on_a_damaged_journal_names_the_file_and_line(tmp_path):
    (tmp_path / "journal.jsonl").write_bytes(
        b'{"event": "start", "config": {"settings": {"mode": "async"}, "problem": {"name": "p"}}}\n'
        b'{"event": "evaluated", "id": 0, "x": [0.\xff], "y": 1.0, "status": "ok"}\n'
        b'{"event": "finished", "metrics": {}}\n'
    )
    failed = report(tmp_path)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert f"{tmp_path / 'journal.jsonl'}: line 2 is not UTF-8" in failed.stderr


def journal_line(kind, t, **fields):
    return json.dumps({"event": kind, "run": "r", "time": t, **fields})


def evaluated_line(i, t, proposal="rule"):
    return journal_line("evaluated", t, id=i, x=[0.1 * i, 0.2], y=float(i), status="ok", proposal=proposal,
                        worker="tcp://w", submitted_at=t - 2, started_at=t - 2, finished_at=t, duration_s=2.0)


def test_a_resumed_interrupted_run_loads_with_its_pause_left_out(tmp_path):
    config = {"settings": {"mode": "async", "seed": 1, "rule": "ucb"}, "problem": {"name": "p", "minimum": -1.0}}
    lines = [
        journal_line("start", 0, config=config), evaluated_line(0, 5, "initial"),
        journal_line("driver_started", 10, started_at=10.0, workers=2),
        journal_line("capacity", 10, threads=2),
        evaluated_line(1, 12), evaluated_line(2, 14),
        journal_line("interrupted", 15, reason="SIGINT"),
        journal_line("resumed", 115, in_flight=[3], evaluations=2),
        journal_line("submitted", 115, id=3, x=[0.3, 0.2], proposal="rule", submitted_at=115.0),
        journal_line("driver_started", 115, started_at=10.0, workers=2),
        evaluated_line(3, 117),
        journal_line("submitted", 117, id=4, x=[0.4, 0.2], proposal="rule", submitted_at=117.0),
        journal_line("interrupted", 118, reason="SIGTERM"),
    ]
    (tmp_path / "journal.jsonl").write_text("\n".join(lines) + "\n")
    result = load_result(tmp_path)
    assert result.paused_s == 100.0 and result.wall_s == pytest.approx(117 - 10 - 100)
    assert result.threads == [(10.0, 2), (15.0, 0), (115.0, 2)]
    m = result.metrics()
    assert m["evaluations"] == 3 and m["utilization"] == pytest.approx(6 / (2 * 7))
    assert m["rule"] == "ucb" and m["best_regret"] == 1.0 and result.workers == 2
    assert result.stopped_early == (
        "interrupted (SIGTERM): the journal has no 'finished' event; 1 submitted point never evaluated"
    )
