from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from distributed import Client, LocalCluster

from dask_bo.problems import Problem, get_problem
from dask_bo.space import Categorical, Float, Space
from dask_bo.worker import Evaluation, EvaluationFailed, ProblemPlugin, evaluate, evaluation_task

HAS_PARAMS = "params" in {f.name for f in dataclasses.fields(Evaluation)}


def total(x):
    return float(np.sum(x))


def test_a_finished_evaluation_is_never_a_timeout():
    record = evaluate(Problem(total, [0, 0], [1, 1]), [0.25, 0.5], 1, 10.0, "rule", timeout_s=5.0)
    assert record.status == "ok" and record.y == 0.75 and record.submitted_at == 10.0
    assert record.duration_s < 5.0 and record.proposal == "rule"


def test_a_failure_on_the_timeout_thread_keeps_its_message_and_traceback():
    def broken(x):
        raise RuntimeError("solver diverged")

    record = evaluate(Problem(broken, [0], [1], batch=False), [0.5], 2, 0.0, "initial", timeout_s=5.0)
    assert record.status == "failed" and record.error == "RuntimeError: solver diverged"
    assert "in broken" in record.traceback


def test_a_late_evaluation_returns_a_timeout_record_at_its_limit():
    release, finished = threading.Event(), threading.Event()

    def hangs(x):
        release.wait(30)
        finished.set()
        return 1.0

    start = time.perf_counter()
    record = evaluate(Problem(hangs, [0], [1], batch=False), [0.5], 3, 0.0, "initial", timeout_s=0.2)
    took = time.perf_counter() - start
    assert record.status == "timeout" and record.y is None and not finished.is_set()
    assert record.error == (
        "the objective was still running after 0.2 s (the evaluation timeout); its worker will"
        " be restarted"
    )
    assert 0.2 <= record.duration_s <= took and record.x == (0.5,)
    release.set()
    assert finished.wait(5)


def test_the_timeout_counts_the_evaluations_own_time_from_its_start():
    # Submitted long ago (queued on a busy worker): the clock starts when it starts.
    record = evaluate(Problem(total, [0], [1], delay_scale=0.1), [1.0], 4, time.time() - 100, "initial", timeout_s=2.0)
    assert record.status == "ok" and record.duration_s >= 0.1


@pytest.mark.skipif(not HAS_PARAMS, reason="Evaluation has no params field yet (records.py)")
def test_records_carry_the_params_of_a_named_space():
    space = Space({"a": Float(0, 1), "c": Categorical(["p", "q"])})
    record = evaluate(Problem(lambda p: p["a"], space=space), [0.5, 1.0], 5, 0.0, "initial")
    assert record.params == {"a": 0.5, "c": "q"} and record.x == (0.5, 1.0)
    assert evaluate(Problem(total, [0], [1]), [0.5], 6, 0.0, "initial").params is None


def test_an_infeasible_named_point_fails_by_name_without_calling_the_objective():
    calls = []
    space = Space({"a": Float(0, 1), "c": Categorical(["p", "q"])})
    record = evaluate(Problem(calls.append, space=space), [0.5, 3.0], 5, 0.0, "initial")
    assert record.status == "failed" and not calls
    assert record.error == "SpaceError: parameter 'c': expected a choice index 0..1, got 3.0"
    assert getattr(record, "params", None) is None


def test_evaluation_task_raises_the_record_of_a_failure():
    with pytest.raises(EvaluationFailed) as info:
        evaluation_task(Problem(lambda x: float("nan"), [0], [1]), [0.5], 7, 0.0, "initial")
    assert info.value.record.status == "failed" and "returned nan" in info.value.record.error
    assert pickle.loads(pickle.dumps(info.value)).record == info.value.record
    assert evaluation_task(Problem(total, [0], [1]), [0.5], 8, 0.0, "initial").y == 0.5


def test_worker_modules_do_not_import_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "import dask_bo.worker, dask_bo.space, dask_bo.problems\n"
        "from dask_bo.problems import get_problem\n"
        "p = get_problem('mixed-branin')\n"
        "dask_bo.worker.evaluate(p, [0.0, 1.0, 2.0], 0, 0.0, 'initial')\n"
        "dask_bo.worker.evaluate(get_problem('branin'), [0.1, 0.2], 0, 0.0, 'initial')\n"
        "heavy = [m for m in ('tensorflow', 'trieste', 'gpflow', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- the problem plugin on a real cluster -----------------------------------------------------

_LOADS: list[int] = []


class Heavy:
    """A large payload that counts, in each process, how often it was unpickled."""

    def __init__(self, nbytes: int):
        self.data = np.ones(nbytes // 8)

    def __reduce__(self):
        return _load_heavy, (self.data,)


def _load_heavy(data):
    _LOADS.append(1)
    heavy = Heavy.__new__(Heavy)
    heavy.data = data
    return heavy


def loads_here() -> int:
    return len(_LOADS)


def closure_over(heavy: Heavy):
    def objective(x):
        # The value says how many times this process has received the payload.
        return float(loads_here()) + 0.0 * heavy.data[0]

    return objective


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster:
        with Client(cluster) as client:
            yield cluster, client


@pytest.mark.filterwarnings("ignore:Sending large graph")  # the control, on purpose
def test_the_plugin_ships_a_large_closure_once_per_worker(cluster):
    cluster, client = cluster
    problem = Problem(closure_over(Heavy(50_000_000)), [0, 0], [1, 1], name="heavy", batch=False)
    plugin = ProblemPlugin("dask-bo-problem-heavy", problem)
    assert len(pickle.dumps(plugin)) > 50_000_000
    client.register_plugin(plugin)
    first = set(client.scheduler_info()["workers"])

    def run(target, ids, **options):
        futures = [
            client.submit(evaluation_task, target, [0.1, 0.2], i, time.time(), "initial", pure=False, **options)
            for i in ids
        ]
        return client.gather(futures)

    records = run(plugin.name, range(4))
    assert [r.y for r in records] == [1.0] * 4 and all(r.worker in first for r in records)
    # The worker keeps the problem, not also its 50 MB of bytes.
    assert client.run(lambda dask_worker: dask_worker.plugins[plugin.name]._payload) == {w: None for w in first}
    # A task names the plugin: it carries a few hundred bytes, not the closure.
    assert len(pickle.dumps((plugin.name, [0.1, 0.2], 0, time.time(), "initial"))) < 1000
    # The control: the problem itself as the argument arrives with every task.
    assert [run(problem, [i])[0].y for i in (4, 5)] == [2.0, 3.0]

    # A worker that joins later gets the plugin too, and unpickles the payload once.
    cluster.scale(2)
    client.wait_for_workers(2, timeout=120)
    (late,) = set(client.scheduler_info()["workers"]) - first
    records = run(plugin.name, range(6, 9), workers=[late])
    assert [r.y for r in records] == [1.0] * 3 and {r.worker for r in records} == {late}


def test_a_missing_plugin_fails_the_evaluation_by_name(cluster):
    _, client = cluster
    future = client.submit(evaluation_task, "no-such-problem", [0.5], 0, 0.0, "initial", pure=False)
    with pytest.raises(EvaluationFailed) as info:
        future.result()
    assert info.value.record.status == "failed" and info.value.record.worker is not None
    assert "no dask_bo problem plugin 'no-such-problem' on this worker" in info.value.record.error


def test_a_late_evaluation_on_a_worker_names_its_worker(cluster):
    _, client = cluster
    plugin = ProblemPlugin("slow-branin", get_problem("branin", delay_scale=20.0))
    client.register_plugin(plugin)
    future = client.submit(evaluation_task, "slow-branin", [0.5, 0.5], 0, time.time(), "initial", 0.3, pure=False)
    with pytest.raises(EvaluationFailed) as info:
        future.result(timeout=60)
    record = info.value.record
    assert record.status == "timeout" and record.worker in client.scheduler_info()["workers"]
    assert "still running after 0.3 s" in record.error


def test_a_problem_the_workers_cannot_load_fails_registration_by_name(cluster, tmp_path, monkeypatch):
    _, client = cluster
    (tmp_path / "client_only_objective.py").write_text("def f(x):\n    return 0.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the client's path only: workers lack it
    from client_only_objective import f

    with pytest.raises(ImportError, match=(
        r"worker tcp://.* cannot load the problem \(ModuleNotFoundError: No module named"
        r" 'client_only_objective'\); install the objective's module on the workers"
    )):
        client.register_plugin(ProblemPlugin("unloadable", Problem(f, [0], [1])))
