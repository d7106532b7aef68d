"""Nothing lost: failing and hanging objectives, killed workers, drivers and schedulers.
(TLS: test_tls.py.)

Faults are injected for real: objectives that raise, return NaN or hang; SIGKILL of worker,
driver and scheduler processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
from distributed import Client, LocalCluster

from dask_bo import optimize, resume
from dask_bo.journal import read_journal
from dask_bo.problems import Problem
from dask_bo.records import Evaluation

from .test_cli import dask_bo

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def flaky(x):
    """Raises in one corner, NaN in another, fine elsewhere."""
    if x[0] > 0.7:
        raise RuntimeError(f"solver diverged at {x[0]:.3f}")
    if x[1] > 0.8:
        return float("nan")
    return float((x[0] - 0.3) ** 2 + (x[1] - 0.3) ** 2)


def seed_records(points, f):
    return [Evaluation(id=i, x=tuple(p), y=f(np.array(p)), status="ok") for i, p in enumerate(points)]


def test_failures_are_recorded_and_the_run_goes_on(client, tmp_path):
    from distributed import get_task_stream

    problem = Problem(flaky, [0, 0], [1, 1], name="flaky", batch=False)
    # The initial data straddles the failing corners, and the run goes on past its failures.
    initial = seed_records([[0.2, 0.2], [0.5, 0.5], [0.1, 0.6]], flaky)
    with get_task_stream(client) as stream:
        result = optimize(problem, client=client, evaluations=16, initial_data=initial, out=tmp_path,
                          progress=False, seed=3)
    assert len(result.driven) == 16
    failed = [e for e in result.driven if not e.ok]
    for e in failed:
        assert e.error in (f"RuntimeError: solver diverged at {e.x[0]:.3f}",
                           "ValueError: objective returned nan, expected a finite number"), e.error
        assert "Traceback" in e.traceback
    # Failures show in the dashboard's task stream as failed "objective" tasks.
    outcomes = [t["status"] for t in stream.data if t["key"].startswith("objective-")]
    assert outcomes.count("error") == len(failed)
    # A failed point left the pending set: nothing is asked twice.
    assert len({e.x for e in result.history}) == len(result.history)


def counted_calls(x, folder):
    """Counts its calls in files, then raises the user's own ValueError."""
    import uuid

    (Path(folder) / uuid.uuid4().hex).touch()
    raise ValueError("the user's own message")


def test_a_failing_objective_is_called_once_with_its_message_intact(client, tmp_path):
    import functools

    problem = Problem(functools.partial(counted_calls, folder=str(tmp_path)), [0, 0], [1, 1], name="c")
    initial = seed_records([[0.1, 0.2], [0.5, 0.5], [0.8, 0.3]], lambda x: float(x.sum()))
    result = optimize(problem, client=client, evaluations=3, initial_data=initial, progress=False)
    assert [e.error for e in result.driven] == ["ValueError: the user's own message"] * 3
    assert len(list(tmp_path.iterdir())) == 3


def big_closure(data):
    def f(x):
        return float(np.sum((np.asarray(x) - 0.5) ** 2) + data[0])

    return f


def test_a_large_closure_travels_once(client):
    problem = Problem(big_closure(np.zeros(50_000_000 // 8)), [0, 0], [1, 1], name="big", batch=False)
    result = optimize(problem, client=client, mode="sync", evaluations=9, initial=3, progress=False)
    assert all(e.ok for e in result.history)
    # Sent with each evaluation, 50 MB took 0.5-1.7 s per evaluation to arrive.
    waits = sorted(e.started_at - e.submitted_at for e in result.driven)
    assert waits[len(waits) // 2] < 0.3, waits


def always_fails(x):
    raise ValueError(f"no convergence at {list(x)}")


def test_max_failures_stops_with_results_intact(client, tmp_path):
    problem = Problem(always_fails, [0, 0], [1, 1], name="broken", batch=False)
    initial = seed_records([[0.1, 0.2], [0.5, 0.5], [0.8, 0.3]], lambda x: float(x.sum()))
    result = optimize(problem, client=client, evaluations=20, initial_data=initial, max_failures=4,
                      out=tmp_path, progress=False)
    m = result.metrics()
    assert m["failed"] >= 4 and m["evaluations"] < 20 and m["failed"] == m["evaluations"]
    assert "max_failures=4" in result.stopped_early
    evaluated = [e for e in read_journal(tmp_path) if e["event"] == "evaluated"]
    assert len(evaluated) == 3 + m["evaluations"]
    assert json.loads((tmp_path / "result.json").read_text())["failed"] == m["failed"]


def hangs_once(x, marker):
    """The first call anywhere hangs (for an hour); later calls return at once."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return float(np.sum(x))
    os.close(fd)
    time.sleep(3600)


def test_hung_evaluation_times_out_and_its_worker_is_freed(tmp_path):
    import functools

    marker = tmp_path / "hung"
    problem = Problem(functools.partial(hangs_once, marker=str(marker)), [0, 0], [1, 1], batch=False)
    initial = seed_records([[0.1, 0.2], [0.5, 0.5], [0.8, 0.3]], lambda x: float(x.sum()))
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        start = time.monotonic()
        result = optimize(problem, client=client, evaluations=6, initial_data=initial, eval_timeout_s=3,
                          progress=False)
        statuses = [e.status for e in result.driven]
        assert statuses.count("timeout") == 1 and statuses.count("ok") == 5
        timed_out = next(e for e in result.driven if e.status == "timeout")
        assert "3 s" in timed_out.error and "restart" in timed_out.error
        assert time.monotonic() - start < 120
        # The hung thread is gone: both workers serve again.
        client.wait_for_workers(2, timeout=60)
        assert sum(client.run(lambda: 1).values()) == 2


def one_second(x):
    time.sleep(1.0)
    return float(np.sum(x))


def test_timeouts_count_from_the_start_on_the_worker(tmp_path):
    # Six initial points on two workers queue for up to three seconds: not late.
    problem = Problem(one_second, [0, 0], [1, 1], name="second", batch=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        result = optimize(problem, client=client, mode="sync", evaluations=2, initial=6, eval_timeout_s=2.5,
                          progress=False)
    assert [e.status for e in result.history] == ["ok"] * 8


def slow_sum(x):
    time.sleep(0.6)
    return float(np.sum((np.asarray(x) - 0.4) ** 2))


def test_killed_worker_loses_no_evaluation_and_new_workers_are_used(tmp_path):
    problem = Problem(slow_sum, [0, 0], [1, 1], batch=False)
    initial = seed_records([[0.1, 0.2], [0.5, 0.5], [0.8, 0.3]], lambda x: float(x.sum()))
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        import threading

        def sabotage():
            # Once evaluations run, SIGKILL one worker process mid-evaluation, then add two.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not client.processing().get(next(iter(client.nthreads()))):
                time.sleep(0.05)
            victim = next(iter(client.nthreads()))
            pid = client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
            cluster.scale(4)

        killer = threading.Thread(target=sabotage)
        killer.start()
        result = optimize(problem, client=client, evaluations=16, initial_data=initial, out=tmp_path, progress=False)
        killer.join()
        assert len(result.driven) == 16
        assert {e.status for e in result.driven} <= {"ok", "lost"}
        assert len({e.id for e in result.history}) == len(result.history)
        # The in-flight count followed the cluster up to its new thread count.
        counts, n = [], 0
        for e in read_journal(tmp_path):
            if e.get("proposal") not in (None, "initial"):
                n += 1 if e["event"] == "submitted" else -1 if e["event"] == "evaluated" else 0
                counts.append(n)
        assert max(counts) >= 3, counts


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def driven_evaluated(folder: Path) -> list[dict]:
    path = folder / "journal.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return [e for e in events if e["event"] == "evaluated" and e["proposal"] != "initial"]


def test_killed_driver_resumes_with_nothing_lost(tmp_path):
    out = tmp_path / "run"
    driver = subprocess.Popen(
        [sys.executable, "-m", "dask_bo.cli", "run", "--delay-scale", "0.6", "--evaluations", "12",
         "--workers", "2", "--out", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_for(lambda: len(driven_evaluated(out)) >= 4, what="4 evaluations")
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    before = {e["id"]: e for e in driven_evaluated(out)}
    with open(out / "journal.jsonl", "a") as f:
        f.write('{"event": "evaluated", "id": 99, "x": [0.1')  # a write torn by the kill
    proc = dask_bo("resume", str(out), "--workers", "2", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "torn last line" in proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["evaluations"] == 12
    import pandas as pd

    history = pd.read_csv(out / "history.csv", float_precision="round_trip")
    assert history.id.is_unique and len(history) == 3 + 12
    for i, e in before.items():
        row = history[history.id == i].iloc[0]
        assert row.y == e["y"] and [row.x0, row.x1] == e["x"]


def test_lost_scheduler_is_a_clear_error_and_resume_finishes(tmp_path, remote_cluster):
    out = tmp_path / "run"
    driver = subprocess.Popen(
        [sys.executable, "-m", "dask_bo.cli", "run", "--scheduler", remote_cluster.address,
         "--delay-scale", "0.6", "--evaluations", "10", "--out", str(out), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_for(lambda: len(driven_evaluated(out)) >= 3, what="3 evaluations")
    remote_cluster.scheduler.send_signal(signal.SIGKILL)
    stdout, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 1, stderr
    assert remote_cluster.address in stderr and "Traceback" not in stderr and "resume" in stderr
    before = {e["id"]: e for e in driven_evaluated(out)}
    # A new scheduler on the same address, with new workers: resume finishes the budget.
    remote_cluster.restart()
    proc = dask_bo("resume", str(out), "--scheduler", remote_cluster.address, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["evaluations"] == 10
    after = {e["id"]: e for e in driven_evaluated(out)}
    assert all(after[i]["y"] == e["y"] for i, e in before.items())


def test_resume_knows_what_it_resumes(client, tmp_path):
    from dask_bo import RunStopped, start

    problem = Problem(slow_sum, [0, 0], [1, 1], name="slow", batch=False)
    finished = tmp_path / "finished"
    optimize(problem, client=client, evaluations=3, initial=2, out=finished, progress=False)
    with pytest.raises(RunStopped, match="finished"):
        resume(finished, client=client, objective=slow_sum, progress=False)
    extended = resume(finished, client=client, objective=slow_sum, evaluations=5, progress=False)
    assert len(extended.driven) == 5
    # A new run in a folder that holds one is refused (resume it, or --overwrite).
    with pytest.raises(ValueError, match="--overwrite|resume"):
        optimize(problem, client=client, evaluations=3, out=finished, progress=False)
    # The time between two drivers is nobody's: wall_s counts the drivers' time only.
    paused = tmp_path / "paused"
    handle = start(problem, client=client, evaluations=12, initial=2, out=paused, progress=False)
    wait_for(lambda: len(driven_evaluated(paused)) >= 3, what="3 evaluations")
    handle.stop()
    first = handle.result(timeout_s=60)
    time.sleep(3)  # the downtime between the drivers, which must not count
    second = resume(paused, client=client, objective=slow_sum, progress=False)
    assert len(second.driven) == 12
    span = max(e.finished_at for e in second.driven) - second.started_at
    assert second.wall_s < span - 2.5, (second.wall_s, span)
    assert first.history == second.history[:len(first.history)]


def test_max_failures_holds_across_resumes(client, tmp_path):
    problem = Problem(always_fails, [0, 0], [1, 1], name="broken", batch=False)
    initial = seed_records([[0.1, 0.2], [0.5, 0.5], [0.8, 0.3]], lambda x: float(x.sum()))
    first = optimize(problem, client=client, evaluations=20, initial_data=initial, max_failures=2,
                     out=tmp_path, progress=False)
    again = resume(tmp_path, client=client, objective=always_fails, progress=False)
    assert len(again.driven) == len(first.driven)
    assert "max_failures=2" in again.stopped_early


def constant(x):
    return 1.0


def succeeds_once(x, marker):
    """The first call anywhere returns a value; every later one raises."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        raise ValueError("diverged") from None
    return float(np.sum(x))


def tiny(x):
    return float(1e-200 * (1 + np.sum(x)))


@pytest.mark.parametrize("pattern", [
    "constant", "one success",
    pytest.param("1e-200", marks=pytest.mark.slow),  # the model is built: TensorFlow's traces
])
def test_compare_keeps_its_initial_design_whatever_the_model_makes_of_it(client, tmp_path, caplog, pattern):
    import functools

    import pandas as pd

    from dask_bo import compare

    f = {"constant": constant, "1e-200": tiny,
         "one success": functools.partial(succeeds_once, marker=str(tmp_path / "once"))}[pattern]
    problem = Problem(f, [0, 0], [1, 1], name="bad-values", batch=False)
    out = tmp_path / "cmp"
    results = compare(problem, client=client, out=out, initial=3, evaluations=3, progress=False, seed=1)
    design = {e.id: e for e in results["sync"].history if e.proposal == "initial"}
    assert len(design) == 3 and sum(e.ok for e in design.values()) == (1 if pattern == "one success" else 3)
    for mode, result in results.items():
        assert {e.id: e for e in result.history if e.proposal == "initial"} == design, mode
        assert len(result.driven) == 3, mode
        history = pd.read_csv(out / mode / "history.csv", float_precision="round_trip")
        saved = history[history.proposal == "initial"].set_index("id")
        assert sorted(saved.index) == sorted(design)
        for i, e in design.items():
            assert saved.status[i] == e.status and [saved.x0[i], saved.x1[i]] == list(e.x)
            assert (pd.isna(saved.y[i]) and e.y is None) or saved.y[i] == e.y
        assert json.loads((out / mode / "result.json").read_text())["evaluations"] == 3
    assert set(json.loads((out / "comparison.json").read_text())) >= {"sync", "async"}
    assert "Traceback" not in caplog.text


def test_compare_refuses_bad_options_and_used_folders_before_evaluating(client, tmp_path):
    from dask_bo import compare
    from dask_bo.journal import JournalError

    problem = Problem(constant, [0, 0], [1, 1], name="c", batch=False)
    (tmp_path / "sync").mkdir()
    (tmp_path / "sync" / "journal.jsonl").write_text('{"event": "start"}\n')
    with pytest.raises(JournalError, match="already holds a run"):
        compare(problem, client=client, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="rule"):
        compare(problem, client=client, rule="no-such-rule", progress=False)
    with pytest.raises(TypeError, match="evalutions"):
        compare(problem, client=client, evalutions=3, progress=False)
    assert not client.futures and not any(k.startswith("objective-") for k in client.who_has())
