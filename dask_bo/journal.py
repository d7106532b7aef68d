"""The append-only journal: one JSON object per line, flushed and fsynced per event.

It is enough to rebuild a run: a ``start`` event holds the configuration, ``submitted`` events
the points sent out, ``evaluated`` events every finished evaluation, ``finished`` the end.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from .history import Evaluation

JOURNAL_NAME = "journal.jsonl"


class Journal:
    """Appends events to ``path``; each write reaches the disk before it returns."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "time": time.time(), **fields}, allow_nan=False)
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def evaluated(self, record: Evaluation) -> None:
        self.write("evaluated", **record.to_dict())

    def close(self) -> None:
        self._file.close()


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """The events of a journal; a torn last line (a driver killed mid-write) is dropped."""
    path = Path(path)
    if path.is_dir():
        path = path / JOURNAL_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no journal at {str(path)!r}: is this the --out folder of a run?")
    lines = path.read_text(encoding="utf-8").splitlines()
    events = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(f"{path}: ignoring a torn last line ({line[:40]!r}...)", stacklevel=2)
            else:
                raise ValueError(f"{path}: line {number} is not JSON: {line[:80]!r}") from None
    return events


def journal_state(events: list[dict[str, Any]]) -> tuple[dict, list[Evaluation], list[dict]]:
    """From a journal's events: the run's configuration, its evaluations (in order) and the
    submissions that never finished (the points in flight when the driver stopped)."""
    starts = [e for e in events if e["event"] == "start"]
    if not starts:
        raise ValueError("the journal has no 'start' event: it does not describe a run")
    config = starts[0]["config"]
    records: dict[int, Evaluation] = {}
    submitted: dict[int, dict] = {}
    for e in events:
        if e["event"] == "submitted":
            submitted[e["id"]] = e
        elif e["event"] == "evaluated":
            records[e["id"]] = Evaluation.from_dict(e)
    in_flight = [s for i, s in submitted.items() if i not in records]
    return config, list(records.values()), in_flight
