"""Deprecated: the records live in :mod:`dask_bo.records`, the result in :mod:`dask_bo.result`.

Kept so that older imports (``from dask_bo.history import Evaluation, Result``) go on working.
"""

from __future__ import annotations

from .records import HISTORY_COLUMNS, INITIAL, PROPOSALS, STATUSES, UNDRIVEN, WARM, Evaluation, history_rows, observations
from .result import Result, write_history_csv

__all__ = [
    "HISTORY_COLUMNS", "INITIAL", "PROPOSALS", "STATUSES", "UNDRIVEN", "WARM", "Evaluation", "Result",
    "history_rows", "observations", "write_history_csv",
]
