"""The dask-bo command line, as a user runs it: real processes, real clusters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

RESULT_FIELDS = {
    "mode", "problem", "workers", "seed", "evaluations", "failed", "wall_s", "eval_s_sum",
    "utilization", "dispatch_latency_s", "best_x", "best_y", "best_regret",
}
HISTORY_COLUMNS = [
    "id", "x0", "x1", "y", "status", "worker", "submitted_at", "started_at", "finished_at",
    "duration_s", "error",
]


def dask_bo(*args, timeout=600, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "dask_bo.cli", *args], capture_output=True, text=True,
        timeout=timeout, **kwargs,
    )


def check_run_folder(folder: Path, mode: str, evaluations: int, workers: int) -> dict:
    result = json.loads((folder / "result.json").read_text())
    assert RESULT_FIELDS <= set(result)
    assert result["mode"] == mode and result["evaluations"] == evaluations
    assert result["workers"] == workers and result["failed"] == 0
    assert result["utilization"] == pytest.approx(result["eval_s_sum"] / (workers * result["wall_s"]))
    history = pd.read_csv(folder / "history.csv")
    assert list(history.columns[: len(HISTORY_COLUMNS)]) == HISTORY_COLUMNS
    assert set(history.status) == {"ok"}
    events = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    evaluated = [e for e in events if e["event"] == "evaluated"]
    assert len(evaluated) == len(history)
    assert {"id", "x", "y", "status"} <= set(evaluated[0])
    assert (folder / "regret.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return result


def test_compare_writes_every_file(tmp_path):
    out = tmp_path / "cmp"
    proc = dask_bo("compare", "--delay-scale", "0.1", "--evaluations", "6", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    sync = check_run_folder(out / "sync", "sync", 6, 3)
    asyn = check_run_folder(out / "async", "async", 6, 3)
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["sync"] == sync and comparison["async"] == asyn
    assert (out / "comparison.png").stat().st_size > 10_000
    assert "async" in proc.stdout and "sync" in proc.stdout and "wall_s" in proc.stdout
    # Both modes start from the same initial design.
    first = [pd.read_csv(out / m / "history.csv").query("proposal == 'initial'") for m in ("sync", "async")]
    assert first[0][["x0", "x1", "y"]].equals(first[1][["x0", "x1", "y"]])


def test_objective_file_from_the_command_line(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text("def loss(x):\n    return (x[0] - 1.0) ** 2 + abs(x[1])\n")
    out = tmp_path / "run"
    proc = dask_bo(
        "run", "--objective", f"{path}:loss", "--bounds", "-2,2;-1,1", "--evaluations", "4",
        "--workers", "2", "--delay-scale", "0", "--out", str(out), "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    check_run_folder(out, "async", 4, 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--problem", "brannin"], "unknown problem 'brannin'"),
        (["--objective", "math:hypot", "--bounds", "0;1"], "--bounds expects LO,HI pairs separated by ';'"),
        (["--objective", "math:hypot"], "needs --bounds"),
        (["--objective", "no_such_module_xyz:f", "--bounds", "0,1"], "no_such_module_xyz"),
        (["--evaluations", "0"], "--evaluations must be at least 1, got 0"),
        (["--workers", "0"], "--workers must be at least 1, got 0"),
        (["--initial", "-1"], "--initial must be at least 1, got -1"),
        (["--delay-scale", "-1"], "--delay-scale must be >= 0"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    proc = dask_bo("run", *args, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_unreachable_scheduler_fails_fast():
    start = time.monotonic()
    proc = dask_bo("run", "--scheduler", "tcp://127.0.0.1:9", timeout=60)
    assert proc.returncode == 2
    assert "tcp://127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - start < 20


def test_run_against_a_remote_scheduler(remote_cluster, tmp_path):
    out = tmp_path / "remote"
    proc = dask_bo("run", "--scheduler", remote_cluster.address, "--delay-scale", "0.1", "--evaluations", "5",
                   "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    check_run_folder(out, "async", 5, 2)
    assert "individual-dask-bo" in proc.stderr  # the page's link is shown
