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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RemoteCluster:
    """A real `dask scheduler` and `dask worker` processes on 127.0.0.1, restartable on the
    same address (to test losing the scheduler)."""

    def __init__(self, folder, workers: int = 2, tls: dict[str, str] | None = None):
        self.folder = folder
        self.workers = workers
        self.tls = tls or {}
        self.protocol = "tls" if tls else "tcp"
        self.address = f"{self.protocol}://127.0.0.1:{free_port()}"
        self.procs = []

    def _tls_args(self) -> list[str]:
        return [a for k, v in self.tls.items() for a in (f"--tls-{k}", v)]

    def start(self) -> None:
        import subprocess

        port = self.address.rsplit(":", 1)[1]
        log = open(self.folder / "cluster.log", "a")
        self.scheduler = subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", port, "--protocol", self.protocol,
             "--dashboard-address", "127.0.0.1:0", "--preload", "dask_bo.dashboard", *self._tls_args()],
            stdout=log, stderr=log,
        )
        self.procs = [self.scheduler] + [
            subprocess.Popen(
                ["dask", "worker", self.address, "--nthreads", "1", "--host", "127.0.0.1",
                 "--no-dashboard", *self._tls_args()],
                stdout=log, stderr=log,
            )
            for _ in range(self.workers)
        ]
        with Client(self.address, security=self.security(), timeout=60) as client:
            client.wait_for_workers(self.workers, timeout=60)

    def security(self):
        if not self.tls:
            return None
        from distributed.security import Security

        return Security(tls_ca_file=self.tls["ca-file"], tls_client_cert=self.tls["cert"],
                        tls_client_key=self.tls["key"], require_encryption=True)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except Exception:
                proc.kill()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def remote_cluster(tmp_path):
    cluster = RemoteCluster(tmp_path)
    cluster.start()
    yield cluster
    cluster.stop()
