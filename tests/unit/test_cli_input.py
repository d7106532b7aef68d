"""The command line's parsing and checks, in process: no cluster is ever started here."""

from __future__ import annotations

import json
import signal
import sys
import threading
import types

import pytest
from click.testing import CliRunner

from dask_bo import cli
from dask_bo.cli_options import (
    InputError, NAMED_DELAY_SCALE, build_problem, check_out, finished, resumable,
    target,
)
from dask_bo.cli_signals import Interrupts
from dask_bo.cluster import check_address


@pytest.fixture(autouse=True)
def no_logging_setup(monkeypatch):
    """The command owns the root logger of ITS process; keep pytest's as it is."""
    monkeypatch.setattr(cli, "_setup_logging", lambda verbose: None)


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a cluster was about to start")

    monkeypatch.setattr(cli, "_client", refuse)


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def one_line_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--eval-timeout", "nan"], "--eval-timeout expects a number of seconds > 0 (leave it out for no limit), got nan"),
        (["--eval-timeout", "-inf"], "got -inf"),
        (["--timeout", "nan"], "--timeout expects a number of seconds > 0"),
        (["--max-time", "-1"], "--max-time expects a number of seconds > 0"),
        (["--target", "inf"], "--target expects a finite number, got inf"),
        (["--seed", "-1"], "--seed must be an integer from 0 to 4294967295, got -1"),
        (["--seed", str(2**32)], "--seed must be an integer from 0"),
        (["--delay-scale", "nan"], "--delay-scale must be >= 0, got nan"),
        (["--max-failures", "0"], "--max-failures must be at least 1, got 0"),
        (["--max-in-flight", "-3"], "--max-in-flight must be at least 1, got -3"),
        (["--problem", "scaled-brainin"], "unknown problem 'scaled-brainin'; did you mean 'scaled-branin'?"),
        (["--problem", "zzzz"], "unknown problem 'zzzz'; choose one of scaled-branin,"),
        (["--objective", "math:pi", "--bounds", "0,1"], "pi"),
        (["--objective", "math:hypot", "--bounds", "0,1", "--space", "s.toml"], "(one of them)"),
        (["--problem", "branin", "--objective", "math:hypot"], "either --problem or --objective"),
        (["--problem", "branin", "--bounds", "0,1"], "--bounds goes with --objective"),
        (["--scheduler", "tcp://127.0.0.1:port"], "with a numeric port"),
        (["--scheduler", "tcp://127.0.0.1:99999"], "with a numeric port"),
        (["--scheduler", "tcp://h:1", "--scheduler-file", "f.json"], "either --scheduler or --scheduler-file"),
        (["--tls-cert", "c.pem"], "TLS needs all of"),
        (["--initial-from", "/no/such/run"], "--initial-from '/no/such/run' does not exist"),
        (["--model", "huge"], "huge"),
    ],
)
def test_bad_run_input_is_one_line_and_exit_2(args, message):
    result = invoke("run", *args)
    if args[0] == "--model":  # click's own choice check: a usage error, exit 2 as well
        assert result.exit_code == 2 and message in result.stderr
        return
    one_line_error(result, message)


def test_compare_checks_the_same_options():
    one_line_error(invoke("compare", "--seed", "-4"), "--seed must be an integer from 0")


def test_deprecated_timeout_warns_once_and_bad_values_say_only_the_error():
    assert "deprecated" not in invoke("run", "--timeout", "0").stderr
    result = invoke("run", "--timeout", "5", "--out", "/etc/passwd/x")
    assert "warning: --timeout is deprecated, use --eval-timeout" in result.stderr
    assert result.exit_code == 2


def test_unwritable_out_is_refused_before_the_cluster(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("")
    one_line_error(invoke("run", "--out", str(afile / "run")), str(afile / "run"))
    one_line_error(invoke("run", "--out", str(tmp_path / ("x" * 300))), "x" * 300)


def test_out_holding_a_run_needs_overwrite_or_resume(tmp_path):
    (tmp_path / "async").mkdir()
    (tmp_path / "async" / "journal.jsonl").write_text("{}\n")
    check_out(str(tmp_path), overwrite=False)  # a run's journal, but not at the top
    with pytest.raises(InputError, match=r"--overwrite replaces it") as error:
        check_out(str(tmp_path), overwrite=False, runs=("sync", "async"))
    assert f"dask-bo resume {tmp_path / 'async'}" in error.value.message
    check_out(str(tmp_path), overwrite=True, runs=("sync", "async"))


def test_delay_scale_defaults_to_the_reference_for_named_problems_only(tmp_path):
    assert build_problem(None, None, None, None, None).delay_scale == NAMED_DELAY_SCALE
    assert build_problem("branin", None, None, None, 0.5).delay_scale == 0.5
    path = tmp_path / "f.py"
    path.write_text("def f(x):\n    return float(x[0])\n")
    problem = build_problem(None, f"{path}:f", "0,1;2,3", None, None)
    assert problem.delay_scale == 0.0
    assert problem.spec == f"{path}:f"


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://sched.example.org:8786", "tcp://[::1]:8786", "inproc://x/1/2"]
)
def test_well_formed_addresses(address):
    assert check_address(address) == address


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:abc", "tcp://127.0.0.1", "tcp://:8786", "tcp://h:0", "tcp://h:-1"])
def test_malformed_addresses_name_the_address(address):
    with pytest.raises(ValueError, match="numeric port") as error:
        check_address(address)
    assert repr(address) in str(error.value)


def test_target_passes_the_scheduler_or_its_file():
    assert target(None, None) == {"scheduler": None, "scheduler_file": None}
    assert target(None, "s.json") == {"scheduler": None, "scheduler_file": "s.json"}
    with pytest.raises(InputError, match="--scheduler: expected"):
        target("tcp://h:x", None)


def test_rule_help_lists_each_rule_with_its_description(monkeypatch):
    fake = types.ModuleType("dask_bo.strategies")
    fake.RULES = {
        "kriging-believer": type("KB", (), {"description": "believes the model's mean at pending points"}),
        "ucb": type("UCB", (), {"description": "lower confidence bound"}),
    }
    monkeypatch.setitem(sys.modules, "dask_bo.strategies", fake)
    text = " ".join(invoke("run", "--help").output.split())
    assert "kriging-believer: believes the model's mean at pending points" in text
    assert "ucb: lower confidence bound" in text
    one_line_error(invoke("run", "--rule", "kriging-beleiver"), "did you mean 'kriging-believer'?")


def test_only_the_options_set_reach_the_api():
    assert cli._set(evaluations=4, rule=None, target=None, overwrite=False) == {"evaluations": 4, "overwrite": False}


def journal(folder, *events):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return folder


START = {"event": "start", "run": "r", "time": 0.0, "config": {}}


def evaluated(i, status="ok"):
    return {"event": "evaluated", "run": "r", "time": 1.0, "id": i, "x": [0.5], "y": 1.0 if status == "ok" else None,
            "status": status, "proposal": "initial"}


def test_resume_is_advised_only_when_it_can_help(tmp_path):
    assert resumable(None) is None
    assert resumable(str(tmp_path / "none")) is None  # no journal
    assert resumable(str(journal(tmp_path / "failed", START, evaluated(0, "failed")))) is None
    done = {"event": "finished", "run": "r", "time": 2.0, "metrics": {}}
    assert resumable(str(journal(tmp_path / "done", START, evaluated(0), done))) is None
    ok = str(journal(tmp_path / "ok", START, evaluated(0, "failed"), evaluated(1)))
    assert resumable(ok) == ok
    starting = str(journal(tmp_path / "starting", START))  # interrupted in the initial design
    assert resumable(starting) == starting


def test_a_comparison_names_the_run_to_resume(tmp_path):
    done = {"event": "finished", "run": "r", "time": 2.0, "metrics": {}}
    journal(tmp_path / "sync", START, evaluated(0), done)
    journal(tmp_path / "async", START, evaluated(0))
    assert resumable(str(tmp_path)) == str(tmp_path / "async")


def test_finished_means_no_driver_went_on_after():
    done = {"event": "finished", "metrics": {}}
    assert not finished([START])
    assert finished([START, done])
    assert not finished([START, done, {"event": "resumed"}])
    assert finished([START, done, {"event": "resumed"}, done])
    early = {"event": "finished", "metrics": {"stopped_early": "reached max_time_s=60"}}
    assert not finished([START, early])  # resume may go on


def test_resume_input_errors(tmp_path):
    one_line_error(invoke("resume", str(tmp_path / "nothing")), "no journal at")
    one_line_error(invoke("resume", str(tmp_path), "--evaluations", "0"), "--evaluations must be at least 1, got 0")
    one_line_error(invoke("resume", str(tmp_path), "--scheduler", "tcp://h:p"), "numeric port")


def test_resuming_a_finished_run_says_so_without_a_cluster(tmp_path):
    folder = journal(tmp_path / "run", START, evaluated(0), {"event": "finished", "run": "r", "time": 2.0, "metrics": {}})
    result = invoke("resume", str(folder))
    assert result.exit_code == 0
    assert f"'dask-bo resume {folder} --evaluations N' extends its budget" in result.stderr


def test_a_signal_inside_a_command_is_a_keyboard_interrupt_then_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM), sys.unraisablehook
    with pytest.raises(KeyboardInterrupt):
        with Interrupts() as interrupts:
            signal.raise_signal(signal.SIGTERM)
    assert interrupts.received.is_set()
    assert (signal.getsignal(signal.SIGTERM), sys.unraisablehook) == before
    assert not interrupts.stop.is_set()  # the interrupt got through: no need to stop the run


def test_an_interrupt_python_dropped_still_stops_the_run(monkeypatch):
    class Dropping:
        def __del__(self):  # where Python prints an exception instead of raising it
            signal.raise_signal(signal.SIGINT)

    stopped = threading.Event()
    monkeypatch.setattr(Interrupts, "grace_s", 0.0)
    with Interrupts() as interrupts:
        interrupts.stop.listen(stopped.set)
        Dropping()  # collected at once: the KeyboardInterrupt is dropped
        assert stopped.wait(10), "the run's stop signal was not set"
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()  # the command then ends as interrupted


def test_initial_data_is_read_and_checked_before_the_cluster(tmp_path):
    csv = tmp_path / "history.csv"
    csv.write_text("id,x0,y,status\n0,0.5,1.0,ok\n")
    one_line_error(invoke("run", "--problem", "branin", "--initial-from", str(csv)), "missing x1")
    one_line_error(invoke("compare", "--initial-from", str(csv)), "--initial-from goes with 'dask-bo run'")
