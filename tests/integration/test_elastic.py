"""Clusters that grow and shrink: an adaptive LocalCluster under a real run."""

from __future__ import annotations

import sys
import time

import cloudpickle
import dask
import numpy as np
from distributed import Client, LocalCluster

import dask_bo
from dask_bo.problems import Problem

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def two_seconds(x):
    time.sleep(2.0)
    return float(np.sum((np.asarray(x) - 0.4) ** 2))


def test_an_adaptive_cluster_grows_to_the_work_and_loses_nothing(tmp_path):
    problem = Problem(two_seconds, [0, 0], [1, 1], name="two-seconds", batch=False)
    # Dask asks for a worker per target-duration of queued and running work; with its default
    # of 5 s, two-second evaluations would never justify a second worker.
    with dask.config.set({"distributed.adaptive.target-duration": "1s"}), \
            LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        cluster.adapt(minimum=1, maximum=4, interval="200ms", wait_count=3)
        with Client(cluster) as client:
            result = dask_bo.optimize(problem, client=client, evaluations=24, initial=2, out=tmp_path,
                                      progress=False)
            deadline = time.monotonic() + 60
            while len(client.nthreads()) > 1 and time.monotonic() < deadline:
                time.sleep(0.2)  # the budget is spent: the cluster shrinks back
            assert len(client.nthreads()) == 1
    assert len(result.driven) == 24 and all(e.ok for e in result.history)
    assert max(threads for _, threads in result.threads) >= 3, result.threads
    m = result.metrics()
    # Utilization counts the threads present over time: it cannot exceed what they could give.
    assert 0 < m["utilization"] <= 1.0
    assert m["utilization"] < m["eval_s_sum"] / (m["workers"] * m["wall_s"])
