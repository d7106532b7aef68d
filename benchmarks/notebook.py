"""The reference notebook's "Asynchronous optimization" section as it is, for scale.

``naive.py`` is this loop on Dask, inside ``run.py``'s harness. This is the notebook's own code
(``reference/trieste-async-notebook.txt``): multiprocessing worker processes started inside
the clock, a ``Manager`` queue polled in a busy loop, no warm-up, trieste's initial design
from ``search_space.sample``. Only what is needed to report on it differs: seeding, the
budget and delay as options, each evaluation's duration measured in its worker, the progress
lines on stderr, and one JSON line on stdout::

    python benchmarks/notebook.py [--seed 0] [--workers 3] [--observations 30] [--delay-scale 3]

Fields: ``seed``, ``workers``, ``observations``, ``wall_s`` (the notebook's own timer),
``eval_s_sum``, ``utilization`` (= ``eval_s_sum / (workers * wall_s)``), ``best_regret``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import timeit
from multiprocessing import Manager, Process

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
from trieste.acquisition import LocalPenalization
from trieste.acquisition.rule import AsynchronousGreedy
from trieste.ask_tell_optimization import AskTellOptimizer
from trieste.data import Dataset
from trieste.models.gpflow import GaussianProcessRegression, build_gpr
from trieste.objectives import ScaledBranin
from trieste.space import Box

DELAY_SCALE = 3.0


def objective(points, sleep=True):
    observations = []
    for point in points:
        observation = ScaledBranin.objective(point)
        if sleep:
            delay = DELAY_SCALE * np.sum(point)
            pid = os.getpid()
            print(f"Process {pid}: Objective: pretends like it's doing something for {delay:.2}s", file=sys.stderr, flush=True)
            time.sleep(delay)
        observations.append(observation)
    return np.array(observations)


def observer_proc(points_queue, observations_queue):
    pid = os.getpid()
    while True:
        point_to_observe = points_queue.get()
        if point_to_observe is None:
            return
        print(f"Process {pid}: Observer : observing data at point {point_to_observe}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        new_observation = objective(point_to_observe, sleep=True)
        new_data = (point_to_observe, new_observation, time.perf_counter() - started)
        print(f"Process {pid}: Observer : observed data {new_data}", file=sys.stderr, flush=True)
        observations_queue.put(new_data)


def create_worker_processes(n_workers, points_queue, obseverations_queue):
    observer_processes = []
    for _ in range(n_workers):
        worker_proc = Process(target=observer_proc, args=(points_queue, obseverations_queue))
        worker_proc.daemon = True
        worker_proc.start()
        observer_processes.append(worker_proc)
    return observer_processes


def terminate_processes(processes):
    for prc in processes:
        prc.terminate()
        prc.join()
        prc.close()


def main(argv: list[str] | None = None) -> None:
    global DELAY_SCALE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--observations", type=int, default=30)
    parser.add_argument("--delay-scale", type=float, default=3.0)
    args = parser.parse_args(argv)
    DELAY_SCALE = args.delay_scale  # set before the workers fork
    np.random.seed(args.seed)
    tf.random.set_seed(args.seed)

    search_space = Box([0, 0], [1, 1])
    initial_query_points = search_space.sample(3)
    initial_observations = objective(initial_query_points.numpy(), sleep=False)
    initial_data = Dataset(
        query_points=initial_query_points,
        observations=tf.constant(initial_observations, dtype=tf.float64),
    )
    model = GaussianProcessRegression(build_gpr(initial_data, search_space, likelihood_variance=1e-7))
    local_penalization_rule = AsynchronousGreedy(builder=LocalPenalization(search_space, num_samples=2000))
    async_bo = AskTellOptimizer(search_space, initial_data, model, local_penalization_rule)

    pid = os.getpid()
    m = Manager()
    pq = m.Queue()
    oq = m.Queue()
    observer_processes = []
    points_observed = 0
    eval_s_sum = 0.0
    start = timeit.default_timer()
    try:
        observer_processes = create_worker_processes(args.workers, pq, oq)
        for _ in range(args.workers):
            point = async_bo.ask()
            pq.put(np.atleast_2d(point.numpy()))
        while points_observed < args.observations:
            try:
                new_data = oq.get_nowait()
                print(f"Process {pid}: Main : received data {new_data}", file=sys.stderr, flush=True)
            except Exception:
                continue
            points_observed += 1
            eval_s_sum += new_data[2]
            new_data = Dataset(
                query_points=tf.constant(new_data[0], dtype=tf.float64),
                observations=tf.constant(new_data[1], dtype=tf.float64),
            )
            async_bo.tell(new_data)
            point = async_bo.ask()
            print(f"Process {pid}: Main : acquired point {point}", file=sys.stderr, flush=True)
            pq.put(np.atleast_2d(point))
    finally:
        terminate_processes(observer_processes)
    stop = timeit.default_timer()
    observations = async_bo.to_result().try_get_final_dataset().observations
    wall_s = stop - start
    print(json.dumps({
        "seed": args.seed, "workers": args.workers, "observations": points_observed,
        "wall_s": round(wall_s, 3), "eval_s_sum": round(eval_s_sum, 3),
        "utilization": round(eval_s_sum / (args.workers * wall_s), 4),
        "best_regret": float(tf.reduce_min(observations)) - ScaledBranin.minimum.numpy().item(),
    }))


if __name__ == "__main__":
    main()
