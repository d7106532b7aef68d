"""A run's folder: usable (checked before any cluster starts), held by one driver at a time
(a lock file that says who holds it), cleared when a run is overwritten; its files written
whole or not at all.

Where ``fcntl`` exists the lock is an ``flock`` on the file, which the kernel drops when its
process dies (even by SIGKILL), so a dead driver's lock is never mistaken for a live one; the
file's content (pid, host, time) only names the holder. Elsewhere the file's existence is the
lock, and a lock whose pid is gone on this host is stale.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import tempfile
import time
import warnings
import weakref
from pathlib import Path
from typing import Any, Iterable

from .records import HISTORY_COLUMNS, Evaluation, history_rows, parameter_names

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

JOURNAL_NAME = "journal.jsonl"
RUN_FILES = ("history.csv", "result.json")
"""Files a run writes next to its journal (and its ``*.png`` plots); ``overwrite`` removes them."""


class JournalError(ValueError):
    """A journal cannot be written or read: the message names the file and the fix."""


def check_writable(out: str | Path) -> Path:
    """Make sure a run can write its folder ``out`` (created if missing), before any cluster
    starts.

    :raises JournalError: ``out`` is a file, cannot be created, is read-only, or its name is
        too long.
    """
    out = Path(out)
    try:
        if out.is_file():
            raise JournalError(f"the run folder {str(out)!r} is a file: expected a folder, give another --out")
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".dask-bo-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise JournalError(
            f"cannot write the run folder {str(out)!r}: {error.strerror or error}; give a writable --out"
        ) from None
    return out


def lock_folder(out: Path, run_id: str | None) -> Lock:
    """Take ``out/.lock`` for this process (a dead holder's is taken over, with a warning).

    :raises JournalError: Another live driver holds it, or it cannot be created.
    """
    try:
        lock = Lock.acquire(out / ".lock", run_id)
    except LockHeld as held:
        raise JournalError(
            f"another driver (pid {held.pid} on {held.host}) is writing to {out}: wait for it to"
            f" finish or stop it, or choose another --out"
        ) from None
    except OSError as error:
        raise JournalError(f"cannot lock {out}: {error.strerror or error}; give a writable --out") from None
    if lock.stale is not None:
        warnings.warn(f"{out}: taking over the lock of a driver that is gone ({lock.stale})", stacklevel=3)
    return lock


def fsync_folder(folder: Path) -> None:
    """Make a new file's name durable too (a crash right after must not lose the journal)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a folder; the file's own fsync still holds
    finally:
        os.close(fd)


def clear_run_files(out: Path) -> None:
    """Remove an earlier run's files from ``out`` (asked for with ``overwrite``)."""
    names = [JOURNAL_NAME, *RUN_FILES]
    doomed = [out / n for n in names] + list(out.glob(f"{JOURNAL_NAME}.torn-*")) + list(out.glob("*.png"))
    for path in doomed:
        path.unlink(missing_ok=True)


class LockHeld(Exception):
    """Another live process holds the lock."""

    def __init__(self, holder: dict[str, Any]):
        self.pid = holder.get("pid", "?")
        self.host = holder.get("host", "?")
        super().__init__(f"held by pid {self.pid} on {self.host}")


class Lock:
    """A held lock file; :meth:`release` removes it.

    :param stale: Who held the lock before, if a dead holder left it (``None`` otherwise).
    """

    def __init__(self, path: Path, fd: int, stale: str | None):
        self.path, self.stale = path, stale
        # A lock dropped without release (a notebook's lost journal) must not hold the folder
        # for the life of the process: closing the descriptor frees the flock.
        self._close = weakref.finalize(self, os.close, fd)

    @classmethod
    def acquire(cls, path: str | Path, run_id: str | None = None) -> Lock:
        """Take the lock at ``path`` at once, or raise.

        :raises LockHeld: A live process holds it.
        :raises OSError: The lock file cannot be created.
        """
        path = Path(path)
        stale = None
        for _ in range(10):  # the holder may remove the file between our open and our flock
            fd, removed = _open(path)
            if fd is None:
                stale = removed  # without fcntl: a dead holder's file, removed
                continue
            if fcntl is not None:
                previous = _holder(fd)
                if not _flock(fd):
                    os.close(fd)
                    raise LockHeld(previous or {})
                if not _same_file(fd, path):
                    os.close(fd)
                    continue
                stale = previous  # whoever wrote it let go of it without removing it: gone
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time(), "run": run_id}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(holder).encode())
            os.fsync(fd)
            return cls(path, fd, _describe(stale) if stale is not None else None)
        raise OSError(f"could not take the lock {path}: its file keeps changing")

    def release(self) -> None:
        if not self._close.alive:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still holding it: nobody takes a doomed file
        finally:
            self._close()


def _open(path: Path) -> tuple[int | None, dict[str, Any] | None]:
    """The lock file, opened; without fcntl, created (or ``None`` and the stale holder whose
    file was removed)."""
    if fcntl is not None:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644), None
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), None
    except FileExistsError:
        holder = _read(path)
        if _alive(holder, path):
            raise LockHeld(holder or {}) from None
        path.unlink(missing_ok=True)  # stale: its holder is gone
        return None, holder or {}


def _flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _holder(fd: int) -> dict[str, Any] | None:
    """What the lock file says about its holder (``{}`` if it says nothing readable)."""
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 4096)
    if not data:
        return None
    try:
        holder = json.loads(data)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _holder(fd)
    finally:
        os.close(fd)


def _alive(holder: dict[str, Any] | None, path: Path) -> bool:
    """Whether the holder may still run (another host's process cannot be checked: it may)."""
    if holder is None:  # created, not written yet, unless that was long ago
        try:
            return time.time() - path.stat().st_mtime < 10.0
        except FileNotFoundError:
            return False
    if holder.get("host") != socket.gethostname():
        return True
    import psutil

    return isinstance(holder.get("pid"), int) and psutil.pid_exists(holder["pid"])


def _describe(holder: dict[str, Any]) -> str:
    if "pid" not in holder:
        return "its lock file named no process"
    since = holder.get("time")
    since = f", since {time.ctime(since)}" if isinstance(since, (int, float)) else ""
    return f"pid {holder['pid']} on {holder.get('host', '?')}{since}"


def write_history_csv(history: Iterable[Evaluation], path: str | Path, space: Any = None) -> Path:
    """Write ``history.csv`` (see DESIGN.md): ``id``, the parameters, ``y`` ... ``proposal``."""
    history = list(history)
    columns = ["id", *parameter_names(history, space), *HISTORY_COLUMNS[1:]]
    rows = history_rows(history, space)
    path = Path(path)
    with atomic_write(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return path


class atomic_write:
    """A text file written next to ``path`` and moved over it once complete (a full disk
    leaves the previous file, not half of a new one)."""

    def __init__(self, path: Path, newline: str | None = None):
        self.path, self.newline = path, newline

    def __enter__(self):
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        os.chmod(self.tmp, 0o644)  # mkstemp's 0600 would make the run's files private
        self.file = os.fdopen(fd, "w", newline=self.newline, encoding="utf-8")
        return self.file

    def __exit__(self, kind, *_):
        self.file.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)
