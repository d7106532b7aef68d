"""The journal: writing, locking, refusing used folders, repairing torn lines, full disks,
and reading damaged files (with hypothesis)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dask_bo.events import Event, replay
from dask_bo.journal import JOURNAL_NAME, Journal, JournalError, check_writable, journal_state, read_journal
from dask_bo.records import Evaluation

CONFIG = {"settings": {"mode": "async"}, "problem": {"name": "p"}}


def record(i, y=1.0, status="ok", proposal="rule", **kw):
    return Evaluation(id=i, x=(0.1 * i, 0.3), y=y if status == "ok" else None, status=status,
                      proposal=proposal, **kw)


def write_run(out, n=3, run_id="run-a"):
    """A journal with a start, n submissions and n evaluations; returns its events."""
    with Journal.create(out, run_id, CONFIG) as journal:
        for i in range(n):
            journal.write(Event.SUBMITTED, id=i, x=[0.1 * i, 0.3], proposal="rule", submitted_at=float(i))
            journal.evaluated(record(i, y=float(i)))
    return read_journal(out)


# -- writing --------------------------------------------------------------------------------
def test_journal_roundtrip_and_in_flight(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write("start", config=CONFIG)
    for i in range(3):
        journal.write("submitted", id=i, x=[0.1 * i, 0.3], proposal="lp", submitted_at=0.0)
    journal.evaluated(record(0))
    journal.evaluated(record(2, status="failed", error="ValueError: x"))
    journal.close()
    config, history, in_flight = journal_state(read_journal(tmp_path))
    assert config["settings"]["mode"] == "async"
    assert [e.id for e in history] == [0, 2]
    assert history[1].status == "failed" and history[1].error == "ValueError: x"
    assert [s["id"] for s in in_flight] == [1]
    assert history[0] == record(0)


def test_every_event_carries_the_run_id_and_a_legacy_reopen_keeps_it(tmp_path):
    write_run(tmp_path, n=2, run_id="abc123")
    with Journal(tmp_path / JOURNAL_NAME) as journal:  # the old constructor, as resume used it
        journal.write(Event.RESUMED, in_flight=[], evaluations=2)
    events = read_journal(tmp_path)
    assert {e["run"] for e in events} == {"abc123"}
    assert all(isinstance(e["time"], float) for e in events)


def test_events_must_be_json_without_nan_and_of_a_known_kind(tmp_path):
    with Journal.create(tmp_path, "r", CONFIG) as journal:
        with pytest.raises(JournalError, match="'evaluated'.*NaN|'evaluated'.*Out of range"):
            journal.write(Event.EVALUATED, id=0, x=[0.1], y=float("nan"), status="ok")
        with pytest.raises(JournalError, match="'shrug'"):
            journal.write("shrug")
        journal.write(Event.SUBMITTED, id=np.int64(1), x=np.array([0.5, 0.25]), submitted_at=np.float64(2.0))
    events = read_journal(tmp_path)
    assert [e["event"] for e in events] == ["start", "submitted"]
    assert events[1]["id"] == 1 and events[1]["x"] == [0.5, 0.25]


def test_a_resumed_driver_knows_its_pause_from_what_it_read_and_wrote(tmp_path):
    with Journal.create(tmp_path, "r", CONFIG) as journal:
        journal.write(Event.DRIVER_STARTED, started_at=100.0, time=100.0)
        journal.write(Event.CAPACITY, time=100.0, threads=2)
        journal.write(Event.INTERRUPTED, reason="SIGINT", time=110.0)
        with pytest.raises(JournalError, match="'run' is the journal's own"):
            journal.write(Event.FINISHED, metrics={}, run="other")
    with Journal.reopen(tmp_path) as journal:
        resumed = journal.write(Event.RESUMED, in_flight=[], evaluations=0, time=150.0)
        state = replay(journal.events + [resumed])
    assert state.paused_s == 40.0 and state.threads == [(100.0, 2), (110.0, 0), (150.0, 2)]
    assert not state.interrupted


def test_a_write_after_close_is_refused(tmp_path):
    journal = Journal.create(tmp_path, "r", CONFIG)
    journal.close()
    journal.close()  # idempotent
    with pytest.raises(JournalError, match="closed"):
        journal.write(Event.FINISHED, metrics={})


# -- one run per folder ---------------------------------------------------------------------
def test_a_folder_holding_a_journal_is_refused_unless_overwritten(tmp_path):
    write_run(tmp_path)
    for name in ("history.csv", "result.json", "regret.png", "journal.jsonl.torn-1"):
        (tmp_path / name).write_text("old")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(JournalError) as refused:
        Journal.create(tmp_path, "run-b", CONFIG)
    message = str(refused.value)
    assert str(tmp_path) in message and "--overwrite" in message and "dask-bo resume" in message
    assert "\n" not in message
    assert len(read_journal(tmp_path)) == 7  # untouched
    Journal.create(tmp_path, "run-b", CONFIG, overwrite=True).close()
    events = read_journal(tmp_path)
    assert [(e["event"], e["run"]) for e in events] == [("start", "run-b")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.jsonl", "notes.txt"]


def test_a_second_journal_in_the_same_process_is_refused_until_the_first_closes(tmp_path):
    first = Journal.create(tmp_path, "a", CONFIG)
    with pytest.raises(JournalError, match=rf"another driver \(pid {os.getpid()} on .*\) is writing to"):
        Journal.reopen(tmp_path)
    first.close()
    assert not (tmp_path / ".lock").exists()
    Journal.reopen(tmp_path).close()


def test_a_journal_dropped_without_close_does_not_keep_the_folder(tmp_path):
    import gc

    Journal.create(tmp_path, "a", CONFIG)  # never closed
    gc.collect()
    with pytest.warns(UserWarning, match=f"taking over the lock of a driver that is gone \\(pid {os.getpid()} "):
        Journal.reopen(tmp_path).close()


HOLDER = textwrap.dedent(
    """
    import sys
    from dask_bo.journal import Journal
    journal = Journal.create(sys.argv[1], "held", {"settings": {}, "problem": {}})
    print("locked", flush=True)
    sys.stdin.read()
    """
)


def hold_lock(out):
    """A real second driver process holding ``out``'s lock (until its stdin closes)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_live_driver_in_another_process_keeps_the_folder(tmp_path):
    holder = hold_lock(tmp_path)
    try:
        for attempt in (lambda: Journal.create(tmp_path, "b", CONFIG, overwrite=True), lambda: Journal.reopen(tmp_path)):
            with pytest.raises(JournalError, match=rf"another driver \(pid {holder.pid} on .+\) is writing to {tmp_path}"):
                attempt()
    finally:
        holder.stdin.close()
        holder.wait(30)
    with pytest.warns(UserWarning, match="taking over"):  # it exited without closing its journal
        Journal.reopen(tmp_path).close()


def test_the_lock_of_a_sigkilled_driver_is_stale_and_taken_over(tmp_path):
    holder = hold_lock(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    holder.stdin.close()
    holder.stdout.close()
    lock = json.loads((tmp_path / ".lock").read_text())
    assert lock["pid"] == holder.pid and lock["run"] == "held"
    with pytest.warns(UserWarning, match=rf"taking over the lock of a driver that is gone \(pid {holder.pid} "):
        journal = Journal.reopen(tmp_path)
    assert journal.run_id == "held" and [e["event"] for e in journal.events] == ["start"]
    journal.write(Event.RESUMED, in_flight=[], evaluations=0)
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    journal.close()
    assert [e["run"] for e in read_journal(tmp_path)] == ["held", "held"]


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    return child.pid


def test_without_flock_a_lock_file_names_a_live_or_dead_holder(tmp_path, monkeypatch):
    import socket

    from dask_bo import folder

    monkeypatch.setattr(folder, "fcntl", None)  # as on Windows
    write_run(tmp_path, n=0)
    lock = tmp_path / ".lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "time": 0}))
    with pytest.raises(JournalError, match=rf"another driver \(pid {os.getpid()} on "):
        Journal.reopen(tmp_path)
    pid = dead_pid()
    lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "time": 0}))
    with pytest.warns(UserWarning, match=rf"a driver that is gone \(pid {pid} on "):
        journal = Journal.reopen(tmp_path)
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    journal.close()
    assert not lock.exists()


# -- unusable folders -------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["a file", "under a file", "a long name"])
def test_an_unusable_folder_is_found_before_anything_starts(tmp_path, where):
    (tmp_path / "plain").write_text("x")
    out = {
        "a file": tmp_path / "plain",
        "under a file": tmp_path / "plain" / "run",  # fails even for root
        "a long name": tmp_path / ("r" * 300),
    }[where]
    with pytest.raises(JournalError) as error:
        check_writable(out)
    assert str(out) in str(error.value) and "--out" in str(error.value)
    with pytest.raises(JournalError):
        Journal.create(out, "r", CONFIG)
    assert check_writable(tmp_path / "new" / "run").is_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(JournalError, match="cannot write the run folder"):
            check_writable(tmp_path)
    finally:
        tmp_path.chmod(0o700)


# -- torn lines and full disks --------------------------------------------------------------
def test_torn_last_line_is_ignored_with_a_warning(tmp_path):
    write_run(tmp_path, n=1)
    with open(tmp_path / JOURNAL_NAME, "a") as f:
        f.write('{"event": "evaluated", "id": 1, "x": [0.')
    with pytest.warns(UserWarning, match="torn last line"):
        events = read_journal(tmp_path)
    assert [e["event"] for e in events] == ["start", "submitted", "evaluated"]


def test_reopen_cuts_a_torn_last_line_keeping_a_copy(tmp_path):
    write_run(tmp_path, n=2)
    path = tmp_path / JOURNAL_NAME
    intact = path.read_bytes()
    with open(path, "ab") as f:
        f.write(b'{"event": "evaluated", "id": 2, "x": [0.2, 0.')
    with pytest.warns(UserWarning, match="removed a torn last line"):
        journal = Journal.reopen(tmp_path)
    journal.write(Event.RESUMED, in_flight=[], evaluations=2)
    journal.close()
    copy = tmp_path / "journal.jsonl.torn-1"
    assert copy.read_bytes() == intact + b'{"event": "evaluated", "id": 2, "x": [0.2, 0.'
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing torn any more
        events = read_journal(tmp_path)
    assert [e["event"] for e in events][-1] == "resumed" and len(events) == 6
    # A second repair keeps a second copy.
    with open(path, "ab") as f:
        f.write(b'{"ev')
    with pytest.warns(UserWarning):
        Journal.reopen(tmp_path).close()
    assert (tmp_path / "journal.jsonl.torn-2").is_file()


def test_a_last_event_missing_only_its_newline_is_kept(tmp_path):
    write_run(tmp_path, n=1)
    path = tmp_path / JOURNAL_NAME
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_journal(tmp_path)) == 3
        Journal.reopen(tmp_path).close()
    assert path.read_bytes().endswith(b"}\n") and not list(tmp_path.glob("*.torn-*"))


class FullDisk:
    """The journal's file, failing with ENOSPC once ``room`` more bytes have been written
    (the bytes that fit are written, as a real full disk does)."""

    def __init__(self, real, room, fail_truncate=False):
        self.real, self.room, self.closed = real, room, False
        self.fail_truncate = fail_truncate

    def write(self, data):
        if self.room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = self.real.write(bytes(data[: self.room]))
        self.room -= n
        return n

    def fileno(self):
        return self.real.fileno()

    def close(self):
        self.real.close()


@pytest.mark.parametrize("room", [0, 1, 25])
def test_a_full_disk_is_a_clear_error_and_leaves_no_half_line(tmp_path, room):
    write_run(tmp_path, n=1)
    journal = Journal.reopen(tmp_path)
    real = journal._file
    journal._file = FullDisk(real, room)
    with pytest.raises(JournalError, match=r"No space left on device \(the disk is full\).*dask-bo resume"):
        journal.evaluated(record(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torn line: the partial write was cut back
        assert len(read_journal(tmp_path)) == 3
    journal._file = real  # space freed: the next event starts on a line of its own
    journal.evaluated(record(2))
    journal.close()
    assert [e.get("id") for e in read_journal(tmp_path)] == [None, 0, 0, 2]


def test_a_full_disk_that_cannot_even_truncate_leaves_a_torn_line_reopen_repairs(tmp_path, monkeypatch):
    write_run(tmp_path, n=1)
    journal = Journal.reopen(tmp_path)
    journal._file = FullDisk(journal._file, 10)
    monkeypatch.setattr(os, "ftruncate", lambda fd, size: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(JournalError, match="disk is full"):
        journal.evaluated(record(1))
    with pytest.raises(JournalError, match="damaged"):
        journal.evaluated(record(2))
    monkeypatch.undo()
    journal.close()
    with pytest.warns(UserWarning, match="torn last line"):
        assert len(read_journal(tmp_path)) == 3
    with pytest.warns(UserWarning, match="removed a torn last line"):
        Journal.reopen(tmp_path).close()


# -- reading damaged journals -----------------------------------------------------------------
@pytest.mark.parametrize(
    "line, complaint",
    [
        (b"not json", "line 2 is not JSON"),
        (b'{"event": "evaluated", "id": 1, "x": [0.\xff5], "y": 1, "status": "ok"}', "line 2 is not UTF-8"),
        (b'{"event": "evaluated", "id": 1, "y": 1.0, "status": "ok"}', "line 2 is missing 'x' \\(every 'evaluated' event has 'id', 'x', 'status'\\)"),
        (b'{"event": "evaluated", "id": 1, "x": [0.1], "y": NaN, "status": "ok"}', "line 2 is not JSON"),
        (b'{"event": "evaluated", "id": 1, "x": ["a"], "y": 1, "status": "ok"}', "line 2 is not a valid 'evaluated' event"),
        (b'{"event": "evaluated", "id": 1, "x": [0.1], "status": "fine"}', "line 2 is not a valid 'evaluated' event"),
        (b'{"event": "submitted", "id": 1.5, "x": [0.1]}', "line 2 is not a valid 'submitted' event"),
        (b'{"event": "capacity", "time": "now", "threads": 2}', "line 2 is not a valid 'capacity' event"),
        (b'{"event": "finished", "metrics": []}', "line 2 has a 'metrics' that is not an object"),
        (b"[1, 2]", "line 2 is not an event"),
        (b'{"id": 3}', "line 2 is not an event"),
        (b'{"event": "start", "config": 3}', "line 2 has a 'config' that is not an object"),
    ],
)
def test_a_damaged_middle_line_is_an_error_naming_file_and_line(tmp_path, line, complaint):
    path = tmp_path / JOURNAL_NAME
    path.write_bytes(b'{"event": "start", "config": {}}\n' + line + b'\n{"event": "finished", "metrics": {}}\n')
    with pytest.raises(JournalError, match=complaint) as error:
        read_journal(path)
    assert str(path) in str(error.value)


def test_missing_journal_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no journal at"):
        read_journal(tmp_path)
    with pytest.raises(FileNotFoundError, match="no journal at"):
        Journal.reopen(tmp_path)


@pytest.fixture(scope="module")
def sample_journal(tmp_path_factory):
    """The bytes of a small real journal and its events, line by line."""
    out = tmp_path_factory.mktemp("sample")
    with Journal.create(out, "r", CONFIG) as journal:
        for i in range(4):
            journal.write(Event.SUBMITTED, id=i, x=[0.1 * i, 0.5], params={"a": "é"}, proposal="rule", submitted_at=1.0)
            journal.evaluated(record(i, y=i - 1.5, status="ok" if i % 2 else "failed", error="ValueError: ∅"))
        journal.write(Event.FINISHED, metrics={"evaluations": 4})
    data = (out / JOURNAL_NAME).read_bytes()
    return data, read_journal(out)


def read_bytes(tmp_path, data):
    path = tmp_path / JOURNAL_NAME
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_journal(path)


def complete_lines_before(data, position):
    """The number of lines that end (newline excluded) at or before ``position``."""
    return data[:position + 1].count(b"\n") if position < len(data) else data.count(b"\n")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_reading_a_truncated_journal_keeps_every_complete_event(tmp_path, sample_journal, cut):
    data, events = sample_journal
    cut = cut % (len(data) + 1)
    kept = read_bytes(tmp_path, data[:cut])
    # A line cut just before its newline is still whole; any shorter cut is torn and skipped.
    whole = data[:cut].count(b"\n") + (cut < len(data) and data[cut:cut + 1] == b"\n")
    assert kept == events[:whole]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    damage=st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(0, 255)), min_size=1, max_size=3),
    cut=st.none() | st.integers(min_value=0, max_value=10_000),
)
def test_reading_a_corrupted_journal_loses_nothing_before_the_damage(tmp_path, sample_journal, damage, cut):
    data, events = sample_journal
    damaged = bytearray(data)
    for position, byte in damage:
        damaged[position % len(data)] = byte
    if cut is not None:
        damaged = damaged[: cut % (len(data) + 1)]
    first = min(position % len(data) for position, _ in damage)
    intact = data[:first].count(b"\n")  # lines wholly before the first damaged byte
    try:
        kept = read_bytes(tmp_path, bytes(damaged))
    except JournalError as error:
        assert "line" in str(error) and JOURNAL_NAME in str(error)
        return
    whole = min(intact, bytes(damaged).count(b"\n"))
    assert kept[:whole] == events[:whole]
    replay(kept)  # whatever was read replays


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_reading_garbage_never_crashes(tmp_path, garbage):
    try:
        events = read_bytes(tmp_path, garbage)
    except JournalError:
        return
    replay(events)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_reopening_a_truncated_journal_appends_after_every_complete_event(tmp_path_factory, sample_journal, cut):
    data, events = sample_journal
    cut = cut % (len(data) + 1)
    out = tmp_path_factory.mktemp("reopen")
    (out / JOURNAL_NAME).write_bytes(data[:cut])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Journal.reopen(out) as journal:
            journal.write(Event.RESUMED, in_flight=[], evaluations=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: nothing torn is left
        reread = read_journal(out)
    whole = data[:cut].count(b"\n") + (cut < len(data) and data[cut:cut + 1] == b"\n")
    assert reread[:-1] == events[:whole] and reread[-1]["event"] == "resumed"
