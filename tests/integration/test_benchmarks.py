"""The benchmark harness, end to end on a tiny budget: one JSON line per (arm, mode, seed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_reference_smoke(tmp_path):
    out = tmp_path / "lines.jsonl"
    command = [
        sys.executable, str(BENCHMARKS / "run.py"), "--workload", "reference", "--seeds", "1",
        "--evaluations", "4", "--delay-scale", "0.05", "--out", str(out),
        "--no-warm-up",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    lines = [json.loads(text) for text in done.stdout.splitlines() if text.strip()]
    assert lines == [json.loads(text) for text in out.read_text().splitlines()]
    runs = [line for line in lines if not line.get("summary")]
    summaries = [line for line in lines if line.get("summary")]
    assert sorted((r["arm"], r["mode"], r["seed"]) for r in runs) == [
        ("default", "async", 0), ("default", "sync", 0), ("naive", "async", 0),
    ]
    for r in runs:
        assert r["workload"] == "reference" and r["problem"] == "scaled-branin", r
        assert r["workers"] == 3 and r["evaluations"] == 4 and r["failed"] == 0, r
        assert 0 < r["utilization"] <= 1.05, r
        assert 0 < r["eval_s_sum"] < r["workers"] * r["wall_s"] * 1.05, r
        assert r["driver_peak_rss_mb"] > 0, r
        assert r["dispatch_latency_s"] >= 0 and r["dispatch_latency_last100_s"] >= 0, r
        assert r["best_regret"] is not None and r["best_regret"] > -1e-5, r
        assert set(r["time_to_regret"]) == {"1e-1", "1e-2", "1e-3"}, r
        for level, t in r["time_to_regret"].items():
            assert t is None or 0 <= t <= r["wall_s"] + 1e-6, (level, r)
        idle = r["idle_worker_s"]
        assert set(idle) == {"start", "between", "tail"} and min(idle.values()) >= 0, r
        assert sum(r["proposals"].values()) == r["evaluations"], r
        curve = r["regret_curve"]
        assert curve and curve[-1][1] == r["best_regret"], r
        assert all(a[0] <= b[0] and a[1] > b[1] for a, b in zip(curve, curve[1:])), curve

    (summary,) = summaries
    assert lines[-1] is summary or lines[-1] == summary
    assert set(summary["medians"]) == {"default/async", "default/sync", "naive/async"}
    assert summary["medians"]["naive/async"]["wall_s"] == runs_of(runs, "naive")["wall_s"]
    assert {t["target"] for t in summary["targets"]} >= {"async utilization", "async wall / naive wall"}
    assert "medians per (arm, mode)" in done.stderr

    # A later invocation's seed counts with the earlier ones; a rerun replaces its line.
    extra = dict(runs_of(runs, "naive"), seed=1, wall_s=1000.0)
    rerun = dict(runs_of(runs, "naive"), wall_s=3000.0)
    (tmp_path / "more.jsonl").write_text(json.dumps(extra) + "\n" + json.dumps(rerun) + "\n")
    again = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--workload", "reference",
         "--summarize", str(out), str(tmp_path / "more.jsonl")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    merged = json.loads(again.stdout)
    assert merged["medians"]["naive/async"]["runs"] == 2
    assert merged["medians"]["naive/async"]["wall_s"] == 2000.0
    assert merged["medians"]["default/async"] == summary["medians"]["default/async"]


def runs_of(runs, arm):
    (run,) = [r for r in runs if r["arm"] == arm]
    return run


def test_startup_smoke():
    command = [sys.executable, str(BENCHMARKS / "startup.py"), "--problem", "scaled-branin",
               "--initial", "5", "--pending", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    line = json.loads(done.stdout)
    assert line["problem"] == "scaled-branin" and line["pending"] == 2
    seconds = line["seconds"]
    assert {"import", "build", "ask_1_#0", "first_refit", "first_fit_and_ask"} <= set(seconds)
    assert all(s > 0 for s in seconds.values()), seconds
    assert seconds["first_fit_and_ask"] == round(seconds["build"] + seconds["ask_1_#0"], 3)


def test_naive_arm_runs_without_dask_bos_tensorflow_setup():
    """The notebook's loop must trace trieste as the notebook does: its process never imports
    dask_bo's optimizer, which changes how TensorFlow traces trieste's code."""
    probe = "import sys, naive; print('dask_bo.optimizer' in sys.modules, callable(naive.main))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=BENCHMARKS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "True"]


def test_notebook_smoke():
    """The reference notebook's own loop (multiprocessing queues), on a tiny budget."""
    command = [sys.executable, str(BENCHMARKS / "notebook.py"), "--seed", "1",
               "--observations", "4", "--delay-scale", "0.05"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["seed"] == 1 and line["workers"] == 3 and line["observations"] == 4, line
    assert 0 < line["eval_s_sum"] < 4 * 0.05 * 2 + 0.5, line
    assert 0 < line["utilization"] <= 1.05 and line["wall_s"] > 0, line
    assert -1e-5 < line["best_regret"] < 10, line
    assert "Main : received data" in done.stderr
