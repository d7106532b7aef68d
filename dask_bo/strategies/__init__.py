"""Strategies: a model and one of the rules below, over the encoded unit cube.

Registering a rule is one line in :data:`RULES`. Importing this package does not import
TensorFlow; a :class:`Strategy` does (through :func:`dask_bo.model.configure`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Rule
from .expected_improvement import ExpectedImprovementRule
from .gibbon import GibbonRule
from .kriging_believer import KrigingBelieverRule
from .local_penalization import LocalPenalizationRule
from .random import RandomRule
from .strategy import MODELS, SPARSE_THRESHOLD, Strategy
from .thompson import ThompsonRule
from .ucb import ConfidenceBoundRule

RULES: dict[str, type[Rule]] = {rule.name: rule for rule in (
    LocalPenalizationRule,
    KrigingBelieverRule,
    GibbonRule,
    ThompsonRule,
    ExpectedImprovementRule,
    ConfidenceBoundRule,
    RandomRule,
)}
"""The rules by name."""

__all__ = ["MODELS", "RULES", "SPARSE_THRESHOLD", "Rule", "Strategy", "feasible", "make_strategy"]


def make_strategy(space: Any, x: np.ndarray, y: np.ndarray, **options: Any) -> Strategy:
    """A :class:`Strategy` over a :class:`~dask_bo.space.Space`: points in the parameters' own
    coordinates are encoded, and proposals snapped to the space. Its asked points are encoded
    (``space.decode`` turns them back).

    :param space: Anything with ``encode``, ``snap``, ``categorical_columns`` and ``encoded_dim``
        (a ``Space``).
    :param x: Observed points [N, dim] in the parameters' numeric coordinates.
    :param y: Their values [N, 1], lower is better.
    :param options: :class:`Strategy`'s keyword arguments (``rule``, ``model``, ``seed``, ...).
    """
    x = np.asarray(x, dtype=np.float64)
    u = space.encode(x) if len(x) else np.zeros((0, space.encoded_dim))
    return Strategy(space.encoded_dim, u, y, **feasible(space), **options)


def feasible(space: Any) -> dict[str, Any]:
    """:class:`Strategy`'s ``snap`` and ``categorical`` for ``space`` (none for floats only:
    every point of the cube is then feasible)."""
    categorical = space.categorical_columns
    return {"snap": None if categorical is None else space.snap, "categorical": categorical}
