"""The benchmark harness, end to end on tiny budgets: one JSON line per (arm, mode, rule, seed)."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
TINY = ["--seeds", "1", "--evaluations", "3", "--initial", "4", "--delay-scale", "0.02", "--no-warm-up"]


def bench(*args: str, cwd: Path | None = None, script: str = "run.py", timeout: int = 420):
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, [json.loads(text) for text in done.stdout.splitlines() if text.strip().startswith("{")]


def bench_module(name: str):
    """A module of benchmarks/ (which is not a package), imported as run.py imports it."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


def workloads():
    return bench_module("workloads")


def rules_available() -> list[str]:
    from dask_bo.strategies import RULES

    return list(RULES)


def check_run_line(r: dict, workload: str) -> None:
    assert r["workload"] == workload and r["failed"] == 0 and r["lost"] == 0, r
    assert 0 < r["utilization"] <= 1.05, r
    assert 0 < r["eval_s_sum"] < r["workers"] * r["wall_s"] * 1.05, r
    assert r["driver_peak_rss_mb"] > 0, r
    # None when every point went out before any result came back (tiny budgets)
    assert r["dispatch_latency_s"] is None or r["dispatch_latency_s"] >= 0, r
    assert r["best_regret"] is not None and r["best_regret"] > -1e-5, r
    for times in (r["time_to_regret"], r["evaluations_to_regret"]):
        assert set(times) == {"1e-1", "1e-2", "1e-3"}, r
    for level, t in r["time_to_regret"].items():
        assert t is None or 0 <= t <= r["wall_s"] + 1e-6, (level, r)
    idle = r["idle_worker_s"]
    assert set(idle) == {"start", "between", "tail"} and min(idle.values()) >= 0, r
    assert 0 < r["ideal_utilization"] <= 1, r
    assert sum(r["proposals"].values()) == r["evaluations"], r
    assert math.isclose(sum(r["proposal_share"].values()), 1.0, abs_tol=0.01), r
    for curve, last in ((r["regret_curve"], r["wall_s"]), (r["regret_by_evaluation"], r["evaluations"])):
        assert curve and curve[-1][1] == r["best_regret"] and curve[-1][0] <= last + 1e-6, r
        assert all(a[0] < b[0] and a[1] > b[1] for a, b in zip(curve, curve[1:])), curve


def test_reference_smoke(tmp_path):
    out = tmp_path / "lines.jsonl"
    done, lines = bench("--workload", "reference", "--seeds", "1", "--evaluations", "4",
                        "--delay-scale", "0.05", "--out", str(out), "--no-warm-up", cwd=tmp_path)
    assert lines == [json.loads(text) for text in out.read_text().splitlines()]
    runs = [line for line in lines if not line.get("summary")]
    summaries = [line for line in lines if line.get("summary")]
    assert sorted((r["arm"], r["mode"], r["seed"]) for r in runs) == [
        ("default", "async", 0), ("default", "sync", 0), ("naive", "async", 0),
    ]
    for r in runs:
        check_run_line(r, "reference")
        assert r["problem"] == "scaled-branin" and r["workers"] == 3 and r["evaluations"] == 4, r

    (summary,) = summaries
    assert lines[-1] == summary
    assert set(summary["medians"]) == {"default/async", "default/sync", "naive/async"}
    assert summary["medians"]["naive/async"]["wall_s"] == runs_of(runs, "naive")["wall_s"]
    assert {t["target"] for t in summary["targets"]} >= {"async utilization", "async wall / naive wall"}
    assert "medians per (arm, mode)" in done.stderr

    # A later invocation's seed counts with the earlier ones; a rerun replaces its line.
    extra = dict(runs_of(runs, "naive"), seed=1, wall_s=1000.0)
    rerun = dict(runs_of(runs, "naive"), wall_s=3000.0)
    (tmp_path / "more.jsonl").write_text(json.dumps(extra) + "\n" + json.dumps(rerun) + "\n")
    done, (merged,) = bench("--workload", "reference", "--summarize", str(out), str(tmp_path / "more.jsonl"),
                            "--markdown")
    assert "| naive/async | 2 | 2000 |" in done.stderr
    assert "**met**" in done.stderr or "**NOT met**" in done.stderr
    assert merged["medians"]["naive/async"]["runs"] == 2
    assert merged["medians"]["naive/async"]["wall_s"] == 2000.0
    assert merged["medians"]["default/async"] == summary["medians"]["default/async"]


def runs_of(runs, arm):
    (run,) = [r for r in runs if r["arm"] == arm]
    return run


def test_plan_of_every_workload():
    """The issues' settings, the suite's expansion and the rule/mode options, without a cluster."""
    _, plans = bench("--workload", "rules", "--plan", "--seeds", "2", "--modes", "async,sync")
    assert [p["workload"] for p in plans] == ["reference", "heavy-tail", "wide"]
    expected = rules_available()
    for p in plans:
        assert sorted(map(tuple, p["runs"])) == sorted(
            ("default", m, r) for r in expected for m in ("async", "sync")), p
        assert p["seeds"] == [0, 1]
    _, plans = bench("--workload", "long,long-branin,wide-64,huge,elastic,mixed", "--plan", "--modes", "async")
    settings = {p["workload"]: p["settings"] for p in plans}
    assert list(settings) == ["long", "long-branin", "wide-64", "huge", "elastic", "mixed"]
    assert all(mode == "async" for p in plans for _, mode, _ in p["runs"]), plans
    long = settings["long"]
    assert (long["problem"], long["workers"], long["initial"], long["evaluations"],
            long["delay_scale"]) == ("hartmann-6", 16, 12, 2000, 0.5)
    assert settings["long-branin"]["problem"] == "scaled-branin"
    assert (settings["wide-64"]["workers"], settings["wide-64"]["threads_per_worker"],
            settings["wide-64"]["evaluations"], settings["wide-64"]["delay_scale"]) == (8, 8, 640, 2.0)
    assert settings["huge"]["model"] == "sparse" and settings["huge"]["evaluations"] == 10_000
    assert settings["elastic"]["adaptive"] and settings["elastic"]["workers"] == 8
    _, (p,) = bench("--workload", "mixed", "--plan", "--rule", "local-penalization")
    assert {rule for _, _, rule in p["runs"]} == {"local-penalization"}
    _, (p,) = bench("--workload", "reference", "--plan", "--rule", "random")  # no naive arm then
    assert {arm for arm, _, _ in p["runs"]} == {"default"}
    bad = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--workload", "wide", "--rule",
                          "no-such-rule", "--plan"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--rule expects a comma-separated list of" in bad.stderr


def test_heavy_tailed_delay_is_lognormal_and_fixed_per_point():
    w = workloads()
    heavy = w.HeavyTailed(lambda x: 0.0, scale=2.0, sigma=1.0, batch=True)
    points = np.random.default_rng(0).random((4000, 6))
    delays = np.array([heavy.delay_s(p) for p in points])
    assert heavy.delay_s(points[0]) == heavy.delay_s(points[0].copy())
    assert 1.8 < np.median(delays) < 2.2 and 0.9 < np.std(np.log(delays)) < 1.1
    assert delays.max() <= 2.0 * math.exp(w.Z_CLIP) + 1e-9
    problem = w.make_problem(w.WORKLOADS["heavy-tail"].overridden(delay_scale=0.5))
    assert problem.delay_scale == 0 and problem.objective.scale == 0.5
    assert w.without_delay(problem).objective.scale == 0.0


def test_rules_modes_workloads_and_plot_smoke(tmp_path):
    """In one process: two rules, both modes, on the heavy-tailed workload; the mixed problem;
    the adaptive cluster; then the plot of those lines."""
    rules = rules_available()
    out = tmp_path / "lines.jsonl"
    _, lines = bench("--workload", "heavy-tail,mixed,elastic", "--rule", f"{rules[0]},random", "--modes",
                     "async,sync", "--workers", "2", "--out", str(out), *TINY, cwd=tmp_path, timeout=600)
    runs = [line for line in lines if not line.get("summary")]
    expected = sorted((m, r) for m in ("async", "sync") for r in (rules[0], "random"))
    for workload in ("heavy-tail", "mixed", "elastic"):
        assert sorted((r["mode"], r["rule"]) for r in runs if r["workload"] == workload) == expected
    for r in runs:
        check_run_line(r, r["workload"])
        assert r["workers"] == 2 or r["workload"] == "elastic", r
    heavy, mixed, elastic = ([r for r in runs if r["workload"] == w] for w in ("heavy-tail", "mixed", "elastic"))
    assert all(r["delay"] == "lognormal" for r in heavy) and all(r["problem"] == "mixed-branin" for r in mixed)
    for r in elastic:  # an adaptive cluster from one worker: how many it reached, none lost
        assert r["workers_at_start"] == 1 and 1 <= r["max_workers"] <= 2, r
        assert 0 < r["utilization_sampled"] <= 1.05, r
    summaries = {line["workload"]: line for line in lines if line.get("summary")}
    assert set(summaries) == {"heavy-tail", "mixed", "elastic"}
    assert {"default/async/random", "default/sync/random"} <= set(summaries["heavy-tail"]["medians"])
    done, _ = bench(str(out), "--out-dir", str(tmp_path), "--workload", "heavy-tail", script="plot.py")
    png = tmp_path / "regret-heavy-tail.png"
    assert done.stdout.strip() == str(png) and png.read_bytes()[:4] == b"\x89PNG"


def test_model_cost_smoke():
    _, lines = bench("--sizes", "20", "--models", "exact,sparse", "--repeats", "1", "--no-warm-up",
                     script="model_cost.py")
    assert [(l["model"], l["points"], l["sparse"]) for l in lines] == [("exact", 20, False), ("sparse", 20, True)]
    for line in lines:
        assert line["pending"] == 15 and set(line["seconds"]) >= {"build", "ask", "tell", "warm_refit", "full_refit"}
        assert all(v is None or v > 0 for v in line["seconds"].values()), line


def test_model_cost_skips_what_would_take_too_long():
    model_cost = bench_module("model_cost")
    last = {"points": 1000, "seconds": {"build": 2.0, "ask_first": 50.0, "ask": 0.5, "full_refit": None}}
    assert model_cost.predicted_step_s(last, "exact", 2000) == pytest.approx(16.0)  # cubic from 1,000
    assert model_cost.predicted_step_s(last, "sparse", 2000) == pytest.approx(4.0)
    assert model_cost.predicted_step_s(dict(last, points=100), "exact", 500) == pytest.approx(10.0)
    assert model_cost.predicted_step_s(None, "exact", 100) is None


def test_startup_smoke():
    _, (line,) = bench("--problem", "scaled-branin", "--initial", "5", "--pending", "2", script="startup.py")
    assert line["problem"] == "scaled-branin" and line["pending"] == 2
    seconds = line["seconds"]
    assert {"import", "build", "ask_1_#0", "first_refit", "first_fit_and_ask"} <= set(seconds)
    assert all(s >= 0 for s in seconds.values()), seconds
    assert seconds["first_fit_and_ask"] == round(seconds["build"] + seconds["ask_1_#0"], 3)


def test_mixed_basin_smoke():
    _, lines = bench("--modes", "sync", "--seeds", "2", "--rule", "random", "--evaluations", "6",
                     "--initial", "3", "--delay-scale", "0", script="mixed_basin.py")
    *runs, summary = lines
    assert [r["seed"] for r in runs] == [0, 1] and all(r["rule"] == "random" for r in runs)
    assert all(set(r["best"]) == {"x", "level", "variant"} and r["regret"] >= 0 for r in runs)
    assert summary["in_basin"] == {"sync": sum(r["in_basin"] for r in runs)}


def test_naive_arm_runs_without_dask_bos_tensorflow_setup():
    """The notebook's loop must trace trieste as the notebook does: its process never imports
    dask_bo's model code, which changes how TensorFlow traces trieste's code."""
    probe = ("import sys, naive; print(any(m in sys.modules for m in ('dask_bo.optimizer',"
             " 'dask_bo.strategies', 'dask_bo.model')), callable(naive.main))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=BENCHMARKS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "True"]


def test_notebook_smoke():
    """The reference notebook's own loop (multiprocessing queues), on a tiny budget."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / "notebook.py"), "--seed", "1",
                           "--observations", "4", "--delay-scale", "0.05"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["seed"] == 1 and line["workers"] == 3 and line["observations"] == 4, line
    assert 0 < line["eval_s_sum"] < 4 * 0.05 * 2 + 0.5, line
    assert 0 < line["utilization"] <= 1.05 and line["wall_s"] > 0, line
    assert -1e-5 < line["best_regret"] < 10, line
    assert "Main : received data" in done.stderr


def test_idle_time_is_split_by_thread_and_the_ideal_is_the_tails_limit():
    idle = bench_module("idle")
    # One process of two threads: [0, 1] and [1.5, 3] on one thread, [0, 2] on the other; the
    # last point goes out at 1.5 and the run ends at 3.
    spans = [(0, 1), (0, 2), (1.5, 3)]
    history = [SimpleNamespace(proposal="rule", worker="w", started_at=10 + a, finished_at=10 + b,
                               submitted_at=10 + a) for a, b in spans]
    run = SimpleNamespace(history=history, started_at=10.0)
    assert idle.idle_worker_s(run, 3.0, threads_per_worker=2) == {"start": 0.0, "between": 0.5, "tail": 1.0}
    # Sent at once to two free threads: 1 and 2, then 1.5 from 1 to 2.5: 4.5 s of 2 x 2.5.
    assert idle.ideal_utilization(run, workers=2) == 0.9
