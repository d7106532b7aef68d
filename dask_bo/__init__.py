"""dask_bo: asynchronous Bayesian optimization of expensive functions on a Dask cluster.

Workers import this package to evaluate objectives, so the names that need TensorFlow are
imported on first use, not here.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "connect": "cluster",
    "dashboard_page_link": "cluster",
    "Problem": "problems",
    "get_problem": "problems",
    "PROBLEM_NAMES": "problems",
    "Space": "space",
    "Float": "space",
    "Int": "space",
    "Categorical": "space",
    "Evaluation": "records",
    "Result": "result",
    "load_result": "report",
    "optimize": "api",
    "compare": "comparison",
    "resume": "api",
    "start": "handle",
    "RunHandle": "handle",
    "RunStopped": "api",
    "RunInterrupted": "api",
    "StopSignal": "stop",
    "Settings": "config",
    "SchedulerLost": "backend",
    "JournalError": "journal",
    "SpaceError": "space",
    "STATUSES": "records",
    "PROPOSALS": "records",
    "DEFAULT_RULE": "config",
    "RULES": "strategies",
    "Strategy": "strategies",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dask_bo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
