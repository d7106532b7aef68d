"""Warm starts: earlier evaluations as a run's initial data (a run's folder, its
``history.csv``, a :class:`~dask_bo.Result` or records). They are data only: relabelled
``warm`` unless they were an initial design, they never count against the new budget."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any

from .records import INITIAL, STATUSES, Evaluation

WARM = "warm"


def load_initial_data(data: Any, space: Any) -> list[Evaluation]:
    """Records from ``data`` (``None``, records, a Result, a folder or a CSV file), checked
    against ``space`` and relabelled as data."""
    if data is None:
        return []
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.is_dir():
            from .report import load_result

            records = load_result(path).history
        elif path.is_file():
            records = read_history_csv(path, space)
        else:
            raise ValueError(f"initial data {str(path)!r} is neither a run folder nor a history CSV file")
    else:
        records = list(getattr(data, "history", data))
    for record in records:
        if not isinstance(record, Evaluation):
            raise TypeError(f"initial_data expects Evaluation records, got {type(record).__name__}")
        if len(record.x) != space.dim:
            raise ValueError(
                f"initial data point {record.id} has {len(record.x)} values, but the problem has"
                f" {space.dim} parameters ({', '.join(space.names)})"
            )
    return [r if r.proposal in (INITIAL, WARM) else dataclasses.replace(r, proposal=WARM) for r in records]


def _number(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def _value(parameter: Any, text: str) -> Any:
    choices = getattr(parameter, "choices", None)
    if choices is None:
        return float(text)
    for choice in choices:
        if str(choice) == text:
            return choice
    raise ValueError(f"{text!r} is not one of {list(choices)}")


def read_history_csv(path: Path, space: Any) -> list[Evaluation]:
    """Records from a CSV with the history's columns (``id`` optional; one column per
    parameter, named as the space names them; ``y``; ``status`` optional, default ``ok``)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return []
    missing = [n for n in (*space.names, "y") if n not in rows[0]]
    if missing:
        raise ValueError(
            f"{path}: expected columns {', '.join((*space.names, 'y'))} (the history's), missing"
            f" {', '.join(missing)}"
        )
    records = []
    for line, row in enumerate(rows, 2):
        try:
            params = {n: _value(space.parameters[n], row[n]) for n in space.names}
            x = tuple(float(v) for v in space.from_params(params))
            y = _number(row["y"])
            status = row.get("status") or ("ok" if y is not None and math.isfinite(y) else "failed")
            if status not in STATUSES:
                raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}, line {line}: {error}") from None
        records.append(Evaluation(
            id=int(row["id"]) if row.get("id") else line - 2, x=x, y=y if status == "ok" else None,
            status=status, proposal=row.get("proposal") or WARM,
            params=None if space.is_box else space.to_params(x),
            duration_s=_number(row.get("duration_s", "")),
        ))
    return records
