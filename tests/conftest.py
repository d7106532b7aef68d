"""Shared fixtures: real Dask clusters on 127.0.0.1, small fast problems."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest
from distributed import Client, LocalCluster

from dask_bo.problems import get_problem


@pytest.fixture(scope="session")
def cluster():
    """Three single-threaded worker processes, shared by the tests that only submit work."""
    with LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with Client(cluster) as client:
        yield client
        # No futures may leak from a run.
        assert not client.futures, f"leaked futures: {list(client.futures)}"


@pytest.fixture
def branin_fast():
    """Scaled Branin with delays of at most 0.2 s."""
    return get_problem("scaled-branin", delay_scale=0.1)
