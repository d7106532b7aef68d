"""Moved to :mod:`dask_bo.worker` (and :mod:`dask_bo.problems` for the value checks); kept so
that old imports keep working."""

from __future__ import annotations

from .problems import as_finite_number
from .worker import EvaluationFailed, ProblemPlugin, call_objective, evaluate, evaluation_task

__all__ = [
    "as_finite_number", "call_objective", "evaluate", "evaluation_task", "EvaluationFailed",
    "ProblemPlugin",
]
