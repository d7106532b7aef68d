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


SLOW = (
    # End-to-end runs of a minute or so, and smoke runs of the benchmarks: `-m slow` runs them
    # (.ci/run does, after the README's command); the rest of the suite stays under 15 minutes.
    "tests/integration/test_benchmarks.py::test_rules_modes_workloads_and_plot_smoke",
    "tests/integration/test_benchmarks.py::test_reference_smoke",
    "tests/integration/test_benchmarks.py::test_notebook_smoke",
    "tests/integration/test_benchmarks.py::test_model_cost_smoke",
    "tests/integration/test_benchmarks.py::test_startup_smoke",
    "tests/integration/test_benchmarks.py::test_naive_arm_runs_without_dask_bos_tensorflow_setup",
    "tests/integration/test_cli.py::test_compare_writes_every_file",
    "tests/integration/test_cli.py::test_scheduler_file",
    "tests/integration/test_cli.py::test_named_space_from_the_command_line",
    "tests/integration/test_examples.py::test_python_examples_in_a_notebook",
    "tests/integration/test_examples.py::test_python_example_as_script[docs/concepts.md",
    "tests/integration/test_examples.py::test_bash_example[docs/getting-started.md",
    "tests/integration/test_examples.py::test_python_example_as_script[docs/deploying.md",
    "tests/integration/test_faults.py::test_lost_scheduler_is_a_clear_error_and_resume_finishes",
    "tests/integration/test_tls.py::test_whole_run_over_tls",
    "tests/integration/test_faults.py::test_killed_worker_loses_no_evaluation_and_new_workers_are_used",
    "tests/integration/test_notebooks.py::test_your_own_objective",
    "tests/integration/test_notebooks.py::test_mixed_parameters",
    "tests/integration/test_notebooks.py::test_async_vs_sync",
    "tests/integration/test_report.py::test_report_redraws_a_comparison",
    "tests/integration/test_rules.py::test_a_mixed_space_runs_in_both_modes_and_reads_by_name",
    "tests/integration/test_elastic.py",
    "tests/integration/test_mixed_quality.py",
    "tests/integration/test_rules.py::test_every_rule_runs_in_both_modes[gibbon",
    "tests/integration/test_rules.py::test_every_rule_runs_in_both_modes[kriging",
    "tests/integration/test_rules.py::test_every_rule_runs_in_both_modes[thompson",
    "tests/integration/test_rules.py::test_every_rule_runs_in_both_modes[ucb",
    "tests/integration/test_rules.py::test_every_rule_runs_in_both_modes[expected",
    "tests/integration/test_rules.py::test_every_model_rule_beats_the_bar_random_misses[gibbon]",
    "tests/integration/test_rules.py::test_every_model_rule_beats_the_bar_random_misses[kriging-believer]",
    "tests/integration/test_rules.py::test_every_model_rule_beats_the_bar_random_misses[thompson]",
    "tests/integration/test_rules.py::test_every_model_rule_beats_the_bar_random_misses[expected-improvement]",
    "tests/integration/test_rules.py::test_every_model_rule_beats_the_bar_random_misses[ucb]",
    "tests/unit/test_rules.py::test_rule_proposes_new_feasible_points_in_both_modes[kriging-believer]",
    "tests/unit/test_rules.py::test_rule_proposes_new_feasible_points_in_both_modes[gibbon]",
)


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
