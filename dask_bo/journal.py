"""The append-only journal: one JSON event per line, each on the disk before ``write`` returns.

One driver at a time writes a run's folder: :class:`Journal` holds ``.lock`` there (an
``flock``, so the kernel frees it when its process dies, even by SIGKILL). A line cut short
(a kill mid-write, a full disk) is only ever the last one: reading skips it, reopening for
resume truncates it (keeping a copy), and a failed write truncates the file back to its last
complete line.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from .events import Event, check_event, replay
from .folder import (  # noqa: F401  (JournalError, check_writable: part of this module's API)
    JOURNAL_NAME, JournalError, Lock, check_writable, clear_run_files, fsync_folder, lock_folder,
)
from .records import Evaluation


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]


class Journal:
    """Appends events to a journal file; each write reaches the disk before it returns.

    Use :meth:`create` for a new run and :meth:`reopen` to continue one; both hold the
    folder's lock until :meth:`close`. ``Journal(path)`` appends without a lock (older callers).

    :param path: The journal file.
    :param run_id: Written on every event; ``None``: the journal's own (its first line's),
        or a new one.
    """

    def __init__(self, path: str | Path, run_id: str | None = None, *, lock: Lock | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_torn_line(self.path)
        self.run_id = run_id or _first_run_id(self.path) or new_run_id()
        self.events: list[dict[str, Any]] = []  # what reopen read
        self._lock = lock
        self._guard = threading.Lock()
        self._broken = False
        self._file = open(self.path, "ab", buffering=0)
        self._size = os.fstat(self._file.fileno()).st_size  # the end of the last complete line

    @classmethod
    def create(cls, out: str | Path, run_id: str, config: dict[str, Any], overwrite: bool = False) -> Journal:
        """Start the journal of a new run in ``out`` and write its ``start`` event.

        :param overwrite: Replace a journal already there (and the run files next to it).
        :raises JournalError: ``out`` is unusable, another driver holds it, or it holds a
            journal and ``overwrite`` is false.
        """
        out = check_writable(out)
        lock = lock_folder(out, run_id)
        try:
            path = out / JOURNAL_NAME
            if path.is_file() and path.stat().st_size > 0:
                if not overwrite:
                    raise JournalError(
                        f"{out} already holds a run's journal: continue it with 'dask-bo resume {out}',"
                        f" or replace it with --overwrite (overwrite=True)"
                    )
                clear_run_files(out)
            journal = cls(path, run_id, lock=lock)
        except BaseException:
            lock.release()
            raise
        try:
            fsync_folder(out)
            journal.write(Event.START, config=config)
        except BaseException:
            journal.close()
            raise
        return journal

    @classmethod
    def reopen(cls, out: str | Path) -> Journal:
        """Continue the journal in ``out`` (for resume): take the lock, repair a torn last
        line (keeping a copy), read the events (in :attr:`events`) and append after them.

        :raises FileNotFoundError: There is no journal in ``out``.
        :raises JournalError: Another driver holds it, or it cannot be read.
        """
        out = Path(out)
        path = out / JOURNAL_NAME
        if not path.is_file():
            raise FileNotFoundError(f"no journal at {str(path)!r}: is this the --out folder of a run?")
        lock = lock_folder(out, _first_run_id(path))
        try:
            repair_torn_line(path)
            events = read_journal(path)
            journal = cls(path, replay(events).run_id or new_run_id(), lock=lock)
        except BaseException:
            lock.release()
            raise
        journal.events = events
        return journal

    def write(self, event: Event | str, **fields: Any) -> dict[str, Any]:
        """Append one event ``{"event", "run", "time", **fields}`` and fsync it (``time``:
        now, unless given).

        :return: The event (for :func:`~dask_bo.events.replay`, e.g. of :attr:`events` and
            the ``resumed`` event just written).
        :raises JournalError: The event cannot be written (a NaN, an unknown kind, a full disk).
        """
        try:
            kind = Event(event).value
            if "run" in fields:
                raise ValueError(f"'run' is the journal's own ({self.run_id!r}), got run={fields['run']!r}")
            written = {"event": kind, "run": self.run_id, "time": time.time(), **fields}
            data = json.dumps(written, allow_nan=False, default=_plain).encode("utf-8") + b"\n"
        except (TypeError, ValueError) as error:
            raise JournalError(f"cannot journal a {getattr(event, 'value', event)!r} event: {error}") from None
        with self._guard:
            if self._broken or self._file.closed:
                raise JournalError(f"{self.path} is {'closed' if self._file.closed else 'damaged'}: reopen it")
            try:
                view = memoryview(data)
                while view:
                    view = view[self._file.write(view) :]
                os.fsync(self._file.fileno())
            except OSError as error:
                self._rollback()
                full = error.errno in (errno.ENOSPC, errno.EDQUOT)
                raise JournalError(
                    f"cannot write to {self.path}: {error.strerror or error}{' (the disk is full)' if full else ''};"
                    f" the events before this one are intact: {'free some space, then ' if full else ''}"
                    f"'dask-bo resume {self.path.parent}' continues the run"
                ) from None
            self._size += len(data)
        return written

    def evaluated(self, record: Evaluation) -> dict[str, Any]:
        return self.write(Event.EVALUATED, **record.to_dict())

    def _rollback(self) -> None:
        """Cut a partly written line, so the next write starts on a line of its own."""
        try:
            os.ftruncate(self._file.fileno(), self._size)
        except OSError:
            self._broken = True  # reopen repairs the torn line

    def close(self) -> None:
        """Close the file and release the folder's lock (idempotent)."""
        with self._guard:
            self._file.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _first_run_id(path: Path) -> str | None:
    """The run id on the journal's first line, if it has one."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.readline()).get("run")
    except (OSError, ValueError, AttributeError):
        return None


def repair_torn_line(path: str | Path) -> Path | None:
    """Truncate a torn last line of the journal at ``path``, keeping a copy of the whole file
    as ``journal.jsonl.torn-<n>``; a complete last event missing only its newline gets one.

    :return: The copy, or ``None`` if the file was intact.
    :raises JournalError: The copy cannot be written (the journal is left as it was).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with open(path, "rb") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return None
        f.seek(0)
        data = f.read()
    cut = data.rfind(b"\n") + 1
    if _complete(data[cut:]):
        with open(path, "ab") as f:
            f.write(b"\n")
            os.fsync(f.fileno())
        return None
    n = 1
    while (copy := path.with_name(f"{path.name}.torn-{n}")).exists():
        n += 1
    try:
        shutil.copyfile(path, copy)
    except OSError as error:
        raise JournalError(f"cannot keep a copy of {path} before repairing its torn last line: {error}") from None
    with open(path, "r+b") as f:
        f.truncate(cut)
        os.fsync(f.fileno())
    warnings.warn(f"{path}: removed a torn last line ({data[cut:][:40]!r}...); the file as it was is in {copy}", stacklevel=2)
    return copy


def _complete(line: bytes) -> bool:
    """Whether ``line`` is a whole event (a torn one never parses: its braces are open)."""
    try:
        return isinstance(json.loads(line.decode("utf-8"), parse_constant=_no_constant), dict)
    except ValueError:
        return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a journal")


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """The events of a journal (a file, or the run folder that holds ``journal.jsonl``).

    A torn last line (a driver killed mid-write) is skipped with a warning.

    :raises FileNotFoundError: There is no journal.
    :raises JournalError: A line before the last is not a JSON event (bad UTF-8, not JSON,
        missing fields); the message names the file and the line.
    """
    path = Path(path)
    if path.is_dir():
        path = path / JOURNAL_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no journal at {str(path)!r}: is this the --out folder of a run?")
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    if tail and _complete(tail):
        lines.append(tail)
    elif tail:
        warnings.warn(f"{path}: ignoring a torn last line ({tail[:40]!r}...)", stacklevel=2)
    return [e for number, line in enumerate(lines, 1) if (e := _event(path, number, line)) is not None]


def _event(path: Path, number: int, line: bytes) -> dict[str, Any] | None:
    def bad(what: str) -> JournalError:
        return JournalError(
            f"{path}: line {number} {what}: {line[:80]!r}; the journal is damaged there"
            f" (remove that line to keep the events around it)"
        )

    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("is not UTF-8 text") from None
    try:
        event = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        raise bad("is not JSON") from None
    complaint = check_event(event)
    if complaint is not None:
        raise bad(complaint)
    return event


def journal_state(events: list[dict[str, Any]]) -> tuple[dict, list[Evaluation], list[dict]]:
    """The run's configuration, its evaluations and the submissions never evaluated
    (older callers; see :func:`~dask_bo.events.replay`).

    :raises ValueError: There is no ``start`` event.
    """
    state = replay(events)
    if state.config is None:
        raise ValueError("the journal has no 'start' event: it does not describe a run")
    return state.config, state.history, state.in_flight
