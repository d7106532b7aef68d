"""The baseline: the reference notebook's asynchronous loop, one point at a time, on Dask.

This is ``reference/trieste-async-notebook.txt`` ("Asynchronous optimization") with its
multiprocessing queues replaced by the same Dask cluster and worker function
(:func:`dask_bo.worker.evaluate`) that dask_bo's drivers use, so that only the driver
differs. Everything else is the notebook's: a GPR from ``build_gpr(..., likelihood_variance=1e-7)``,
``AsynchronousGreedy(LocalPenalization(search_space, num_samples=2000))``, trieste's own
``AskTellOptimizer``, and on each result ``tell`` that one point (trieste's ``tell`` always
refits the hyperparameters), then ``ask`` one point and send it.

Keep it small and faithful: every gain of dask_bo is measured against it. ``run.py`` runs it
in a process of its own (``python naive.py JOB RESULT``), as the notebook runs: importing
dask_bo's optimizer changes how TensorFlow traces trieste's code, which no notebook does.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
from distributed import Client, Future, as_completed
from trieste.acquisition import LocalPenalization
from trieste.acquisition.rule import AsynchronousGreedy
from trieste.ask_tell_optimization import AskTellOptimizer
from trieste.data import Dataset
from trieste.models.gpflow import GaussianProcessRegression, build_gpr
from trieste.space import Box

from dask_bo.problems import Problem

from dask_bo.records import Evaluation
from dask_bo.result import Result
from dask_bo.worker import evaluate

tf.get_logger().setLevel("ERROR")


def run_naive(
    client: Client, problem: Problem, initial_data: list[Evaluation], evaluations: int,
    seed: int | None = None,
) -> Result:
    """Run the notebook's loop for ``evaluations`` evaluations after ``initial_data``.

    :return: A :class:`~dask_bo.Result` (mode ``"async"``) whose history starts with
        ``initial_data``, so that its metrics are computed as dask_bo's own.
    """
    history = list(initial_data)
    ok = [e for e in initial_data if e.ok]
    workers = max(sum(client.nthreads().values()), 1)
    run_id = uuid.uuid4().hex[:8]
    next_id = max((e.id for e in history), default=-1) + 1
    in_flight: dict[Future, tuple[int, np.ndarray, float]] = {}
    latencies_s: list[float] = []

    def submit(point: tf.Tensor) -> Future:
        nonlocal next_id
        x = point.numpy()[0]  # the exact float64 point trieste keeps pending
        eval_id, next_id = next_id, next_id + 1
        submitted_at = time.time()
        future = client.submit(
            evaluate, problem, x, eval_id, submitted_at, "rule",
            key=f"objective-{eval_id}-naive-{run_id}", pure=False,
        )
        in_flight[future] = (eval_id, x, submitted_at)
        return future

    # The clock starts before the model is built and fitted, as dask_bo's drivers' does.
    started_at = time.time()
    search_space = Box(list(problem.lower), list(problem.upper))
    initial = Dataset(
        query_points=tf.constant(np.array([e.x for e in ok]), dtype=tf.float64),
        observations=tf.constant(np.array([[e.y] for e in ok]), dtype=tf.float64),
    )
    model = GaussianProcessRegression(build_gpr(initial, search_space, likelihood_variance=1e-7))
    rule = AsynchronousGreedy(builder=LocalPenalization(search_space, num_samples=2000))
    async_bo = AskTellOptimizer(search_space, initial, model, rule)

    ac = as_completed()
    for _ in range(min(workers, evaluations)):
        ac.add(submit(async_bo.ask()))
    submitted = len(in_flight)
    try:
        for future in ac:
            received = time.time()
            eval_id, x, submitted_at = in_flight.pop(future)
            if future.status == "finished":
                record = future.result()
            else:  # Dask gave up on the task; the notebook has no such case
                record = Evaluation(
                    id=eval_id, x=tuple(float(v) for v in x), y=None, status="lost",
                    proposal="rule", submitted_at=submitted_at, finished_at=received,
                    error=repr(future.exception()) if future.status == "error" else "cancelled",
                )
            future.release()
            history.append(record)
            if record.ok:
                async_bo.tell(
                    Dataset(
                        query_points=tf.constant([record.x], dtype=tf.float64),
                        observations=tf.constant([[record.y]], dtype=tf.float64),
                    )
                )
            if submitted < evaluations:
                ac.add(submit(async_bo.ask()))
                submitted += 1
                latencies_s.append(time.time() - received)
    finally:
        if in_flight:
            client.cancel(list(in_flight))
    return Result(
        mode="async", problem=problem.name, workers=workers, seed=seed, history=history,
        started_at=started_at, minimum=problem.minimum, dispatch_latencies_s=latencies_s,
    )


def warm_up(problem: Problem, initial_data: list[Evaluation]) -> float:
    """One untimed fit, ask and tell, so that no run pays for TensorFlow's first calls."""
    start = time.perf_counter()
    space = Box(list(problem.lower), list(problem.upper))
    data = Dataset(
        tf.constant([e.x for e in initial_data], tf.float64),
        tf.constant([[e.y] for e in initial_data], tf.float64),
    )
    model = GaussianProcessRegression(build_gpr(data, space, likelihood_variance=1e-7))
    rule = AsynchronousGreedy(builder=LocalPenalization(space, num_samples=2000))
    bo = AskTellOptimizer(space, data, model, rule)
    x = bo.ask().numpy()
    bo.tell(Dataset(tf.constant(x), tf.constant(problem.objective(x), tf.float64)))
    return time.perf_counter() - start


def main(job_path: str, result_path: str) -> None:
    """Run the job ``run.py`` pickled (the cluster's address, the problem, the initial data,
    the budget, the seed) and pickle its :class:`~dask_bo.Result`."""
    job = pickle.loads(Path(job_path).read_bytes())
    with Client(job["address"]) as client:
        if job["warm_up"]:
            warm_up(job["problem"], job["initial_data"])
        np.random.seed(job["seed"])
        tf.random.set_seed(job["seed"])
        result = run_naive(
            client, job["problem"], job["initial_data"], job["evaluations"], seed=job["seed"]
        )
    Path(result_path).write_bytes(pickle.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
