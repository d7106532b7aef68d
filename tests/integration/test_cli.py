"""The dask-bo command line, as a user runs it: real processes, real clusters."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import free_port

RESULT_FIELDS = {
    "mode", "problem", "workers", "seed", "evaluations", "failed", "wall_s", "eval_s_sum",
    "utilization", "dispatch_latency_s", "best_x", "best_y", "best_regret",
}
HISTORY_COLUMNS = [
    "id", "x0", "x1", "y", "status", "worker", "submitted_at", "started_at", "finished_at",
    "duration_s", "error",
]


def dask_bo(*args, timeout=600, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "dask_bo.cli", *args], capture_output=True, text=True,
        timeout=timeout, **kwargs,
    )


def check_run_folder(folder: Path, mode: str, evaluations: int, workers: int) -> dict:
    result = json.loads((folder / "result.json").read_text())
    assert RESULT_FIELDS <= set(result)
    assert result["mode"] == mode and result["evaluations"] == evaluations
    assert result["workers"] == workers and result["failed"] == 0
    assert result["utilization"] == pytest.approx(result["eval_s_sum"] / (workers * result["wall_s"]))
    history = pd.read_csv(folder / "history.csv")
    assert list(history.columns[: len(HISTORY_COLUMNS)]) == HISTORY_COLUMNS
    assert set(history.status) == {"ok"}
    events = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    evaluated = [e for e in events if e["event"] == "evaluated"]
    assert len(evaluated) == len(history)
    assert {"id", "x", "y", "status"} <= set(evaluated[0])
    assert (folder / "regret.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return result


def test_compare_writes_every_file(tmp_path):
    out = tmp_path / "cmp"
    proc = dask_bo("compare", "--delay-scale", "0.1", "--evaluations", "6", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    sync = check_run_folder(out / "sync", "sync", 6, 3)
    asyn = check_run_folder(out / "async", "async", 6, 3)
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["sync"] == sync and comparison["async"] == asyn
    assert (out / "comparison.png").stat().st_size > 10_000
    assert "async" in proc.stdout and "sync" in proc.stdout and "wall_s" in proc.stdout
    # Both modes start from the same initial design.
    first = [pd.read_csv(out / m / "history.csv").query("proposal == 'initial'") for m in ("sync", "async")]
    assert first[0][["x0", "x1", "y"]].equals(first[1][["x0", "x1", "y"]])


def test_objective_file_from_the_command_line(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text("def loss(x):\n    return (x[0] - 1.0) ** 2 + abs(x[1])\n")
    out = tmp_path / "run"
    proc = dask_bo(
        "run", "--objective", f"{path}:loss", "--bounds", "-2,2;-1,1", "--evaluations", "4",
        "--workers", "2", "--delay-scale", "0", "--out", str(out), "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    check_run_folder(out, "async", 4, 2)


def test_named_space_from_the_command_line(tmp_path):
    (tmp_path / "space.toml").write_text(
        '[parameters.lr]\ntype = "float"\nlow = 1e-4\nhigh = 1e-1\nlog = true\n'
        '[parameters.layers]\ntype = "int"\nlow = 1\nhigh = 4\n'
        '[parameters.act]\ntype = "categorical"\nchoices = ["relu", "tanh"]\n'
    )
    (tmp_path / "model.py").write_text(
        "import math\n\ndef loss(params):\n"
        "    return (math.log10(params['lr']) + 2) ** 2 + params['layers'] + (params['act'] == 'tanh')\n"
    )
    out = tmp_path / "run"
    proc = dask_bo(
        "run", "--objective", f"{tmp_path / 'model.py'}:loss", "--space", str(tmp_path / "space.toml"),
        "--evaluations", "3", "--workers", "2", "--out", str(out), "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    history = pd.read_csv(out / "history.csv")
    assert {"lr", "layers", "act"} <= set(history.columns) and set(history.status) == {"ok"}
    assert set(history.act) <= {"relu", "tanh"} and history.layers.between(1, 4).all()
    assert (history.duration_s < 1).all()  # a user's objective gets no delay by default


@pytest.mark.parametrize(
    "args, message",
    [
        (["--problem", "brannin"], "unknown problem 'brannin'; did you mean 'branin'?"),
        (["--problem", "hartman-6"], "did you mean 'hartmann-6'?"),
        (["--objective", "math:hypot", "--bounds", "0;1"], "--bounds expects LO,HI pairs separated by ';'"),
        (["--objective", "math:hypot"], "needs its search space"),
        (["--objective", "no_such_module_xyz:f", "--bounds", "0,1"], "no_such_module_xyz"),
        (["--objective", "math:pi", "--bounds", "0,1"], "pi"),  # a float, not a function
        (["--evaluations", "0"], "--evaluations must be at least 1, got 0"),
        (["--workers", "0"], "--workers must be at least 1, got 0"),
        (["--initial", "-1"], "--initial must be at least 1, got -1"),
        (["--delay-scale", "-1"], "--delay-scale must be >= 0"),
        (["--eval-timeout", "nan"], "--eval-timeout expects a number of seconds > 0"),
        (["--eval-timeout", "inf"], "--eval-timeout expects a number of seconds > 0"),
        (["--eval-timeout", "0"], "--eval-timeout expects a number of seconds > 0"),
        (["--timeout", "nan"], "--timeout expects a number of seconds > 0"),
        (["--timeout", "-2"], "--timeout expects a number of seconds > 0"),
        (["--seed", "-1"], "--seed must be an integer from 0"),
        (["--max-time", "0"], "--max-time expects a number of seconds > 0"),
        (["--target", "nan"], "--target expects a finite number, got nan"),
        (["--max-in-flight", "0"], "--max-in-flight must be at least 1"),
        (["--scheduler", "tcp://127.0.0.1:abc"], "'tcp://127.0.0.1:abc'"),
        (["--scheduler", "tcp://127.0.0.1:1", "--scheduler-file", "s.json"], "not both"),
        (["--out", "/etc/passwd/x"], "/etc/passwd/x"),
        (["--out", "x" * 300], "x" * 300),
        (["--initial-from", "/no/such/run"], "'/no/such/run' does not exist"),
        (["--rule", "no-such-rule"], "unknown --rule 'no-such-rule'"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    start = time.monotonic()
    proc = dask_bo("run", *args, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "resume" not in proc.stderr  # nothing ran, so there is nothing to resume
    assert "dashboard" not in proc.stderr  # found before any cluster started
    assert time.monotonic() - start < 30


def test_deprecated_timeout_still_works_with_a_warning(tmp_path):
    proc = dask_bo("run", "--timeout", "5", "--out", "/etc/passwd/x", timeout=60)
    assert proc.returncode == 2  # the bad --out stops it; --timeout itself was accepted
    assert "--timeout is deprecated, use --eval-timeout" in proc.stderr


def test_a_folder_holding_a_run_is_refused_before_the_cluster_starts(tmp_path):
    (tmp_path / "journal.jsonl").write_text('{"event": "start", "run": "r0", "time": 0, "config": {}}\n')
    proc = dask_bo("run", "--out", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert "--overwrite" in proc.stderr and f"dask-bo resume {tmp_path}" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_unreachable_scheduler_fails_fast():
    start = time.monotonic()
    proc = dask_bo("run", "--scheduler", "tcp://127.0.0.1:9", timeout=60)
    assert proc.returncode == 2
    assert "tcp://127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - start < 20


@pytest.fixture
def web_server():
    """A port that accepts connections but does not speak Dask: ``python -m http.server``."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # wait until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "http.server did not start"
                time.sleep(0.1)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def journal_of_one_point(folder: Path) -> Path:
    folder.mkdir()
    (folder / "journal.jsonl").write_text(
        '{"event": "start", "run": "r0", "time": 0, "config": {}}\n'
        '{"event": "evaluated", "run": "r0", "time": 1, "id": 0, "x": [0.5, 0.5], "y": 1.0,'
        ' "status": "ok", "proposal": "initial"}\n'
    )
    return folder


@pytest.mark.parametrize("command", ["run", "resume"])
def test_a_port_that_is_not_a_scheduler_fails_within_the_timeout(command, web_server, tmp_path):
    args = ["run"] if command == "run" else ["resume", str(journal_of_one_point(tmp_path / "run"))]
    start = time.monotonic()
    proc = dask_bo(*args, "--scheduler", web_server, timeout=60)
    assert time.monotonic() - start < 30
    assert proc.returncode == 2, proc.stderr
    assert web_server in proc.stderr and "within 5 s" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_scheduler_file(remote_cluster, tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text(json.dumps({"type": "Scheduler", "address": remote_cluster.address}))
    out = tmp_path / "run"
    proc = dask_bo("run", "--scheduler-file", str(scheduler_file), "--delay-scale", "0.1",
                   "--evaluations", "4", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    check_run_folder(out, "async", 4, 2)


def test_failed_evaluations_are_one_line_each_and_no_resume_advice_without_data(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def f(x):\n    raise RuntimeError('the simulator crashed')\n")
    out = tmp_path / "run"
    proc = dask_bo("run", "--objective", f"{path}:f", "--bounds", "0,1;0,1", "--workers", "2",
                   "--evaluations", "2", "--out", str(out), "--no-progress", timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    failures = [line for line in lines if "the simulator crashed" in line and not line.startswith("Error:")]
    evaluated = [e for e in map(json.loads, (out / "journal.jsonl").read_text().splitlines()) if e["event"] == "evaluated"]
    assert len(evaluated) >= 3 and len(failures) == len(evaluated), proc.stderr  # one line each
    assert "Compute Failed" not in proc.stderr and "Traceback" not in proc.stderr
    # Every initial point failed: resume could not help, so it is not offered.
    assert "resume" not in proc.stderr
    assert lines[-1].startswith("Error: ") and "succeeded" in lines[-1]


def start_slow_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    path = tmp_path / "slow.py"
    path.write_text("import time\n\ndef f(x):\n    time.sleep(3)\n    return float(x[0] ** 2 + x[1])\n")
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dask_bo.cli", "run", "--objective", f"{path}:f", "--bounds", "0,1;0,1",
         "--workers", "2", "--evaluations", "20", "--out", str(out), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 180
    journal = out / "journal.jsonl"
    while not (journal.exists() and '"evaluated"' in journal.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no evaluation finished"
        time.sleep(0.2)
    return proc, out


def end_group(proc: subprocess.Popen) -> None:
    """Whatever the run left behind in its process group (the test started all of it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_cleanly_and_says_how_to_resume(signum, tmp_path):
    proc, out = start_slow_run(tmp_path)
    try:
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)  # Ctrl-C reaches every process of the terminal's job
        else:
            proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        end_group(proc)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "Aborted" not in stderr
    lines = [line for line in stderr.strip().splitlines() if not line.startswith(("Dask dashboard", "dask_bo page"))]
    assert lines == [f"interrupted: 'dask-bo resume {out}' continues the run"], stderr
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert any(e["event"] == "interrupted" for e in events), "the driver journals the interruption"


def test_a_second_interrupt_quits_at_once(tmp_path):
    proc, out = start_slow_run(tmp_path)
    try:
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.2)  # the first must be handled before the second comes
        os.killpg(proc.pid, signal.SIGINT)
        start = time.monotonic()
        _, stderr = proc.communicate(timeout=60)
        quit_s = time.monotonic() - start
    finally:
        end_group(proc)
    assert proc.returncode == 130, stderr
    assert quit_s < 5 and "Traceback" not in stderr, stderr


def test_run_against_a_remote_scheduler(remote_cluster, tmp_path):
    out = tmp_path / "remote"
    proc = dask_bo("run", "--scheduler", remote_cluster.address, "--delay-scale", "0.1", "--evaluations", "5",
                   "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    check_run_folder(out, "async", 5, 2)
    assert "individual-dask-bo" in proc.stderr  # the page's link is shown


def test_connect_takes_what_a_dask_user_has(cluster, tmp_path):
    from dask_bo.cluster import as_client, connect

    with connect(cluster, show_link=False) as client:  # a Cluster object
        assert client.scheduler.address == cluster.scheduler_address
        assert client.submit(sum, [1, 2]).result() == 3
    assert cluster.status.name == "running"  # closing our client leaves the user's cluster up
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text(json.dumps({"type": "Scheduler", "address": cluster.scheduler_address}))
    for target in (str(scheduler_file), scheduler_file):
        with connect(target, show_link=False) as client:
            assert client.scheduler.address == cluster.scheduler_address
    with connect(scheduler_file=str(scheduler_file), show_link=False) as client:
        assert as_client(client) == (client, False)  # a Client is the user's: returned, not owned
    with connect(cluster, show_link=False) as client:
        worker = next(iter(client.scheduler_info()["workers"]))
    with pytest.raises(OSError, match="is a Dask Worker, not a scheduler"):
        connect(worker, show_link=False)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="expected a Dask scheduler file"):
        connect(str(tmp_path / "bad.json"))
    with pytest.raises(TypeError, match="expected None, a scheduler address"):
        connect(3.5)


def test_connect_fails_within_its_timeout_on_a_port_that_is_not_a_scheduler(web_server):
    from dask_bo.cluster import connect

    start = time.monotonic()
    with pytest.raises(OSError, match=f"cannot reach a Dask scheduler at '{web_server}' within 2 s"):
        connect(web_server, timeout_s=2)
    assert time.monotonic() - start < 5


def test_the_embedded_cluster_listens_on_localhost_and_its_workers_ignore_ctrl_c():
    from dask_bo.cluster import connect

    def sigint_ignored() -> bool:
        import signal

        return signal.getsignal(signal.SIGINT) == signal.SIG_IGN

    before = signal.getsignal(signal.SIGINT)
    with connect(n_workers=1, show_link=False, dashboard_address="127.0.0.1:0") as client:
        assert signal.getsignal(signal.SIGINT) is before  # the driver's own handler is back
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        assert all(client.run(sigint_ignored).values())
        client.restart_workers(list(client.scheduler_info()["workers"]))  # as after a late evaluation
        assert all(client.run(sigint_ignored).values())


def test_resume_of_an_objective_it_cannot_rebuild_is_one_line_before_any_cluster(tmp_path):
    (tmp_path / "obj.py").write_text("def f(x):\n    return float(x[0] ** 2)\n")
    ran = dask_bo("run", "--objective", "obj.py:f", "--bounds", "0,1", "--workers", "1", "--initial", "2",
                  "--evaluations", "1", "--out", "run", "--no-progress", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The relative path does not resolve from another directory: say how to give it again.
    moved = dask_bo("resume", str(tmp_path / "run"), "--evaluations", "3", "--no-progress", cwd=elsewhere)
    assert moved.returncode == 2 and "Traceback" not in moved.stderr, moved.stderr
    assert "--objective" in moved.stderr.strip().splitlines()[-1]
    # An edited objective would change values mid-history: refused unless the user allows it.
    (tmp_path / "obj.py").write_text("def f(x):\n    return 1000.0 + float(x[0])\n")
    edited = dask_bo("resume", "run", "--evaluations", "3", "--no-progress", cwd=tmp_path)
    assert edited.returncode == 2 and "Traceback" not in edited.stderr, edited.stderr
    assert "--allow-changed-objective" in edited.stderr.strip().splitlines()[-1]
    assert "Dask dashboard" not in moved.stderr + edited.stderr  # no cluster was started
