"""The trieste side of the rules: building trieste's rules and calling their public
``acquire``. Imported by rules when they first propose (it imports TensorFlow and trieste)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import tensorflow as tf
from trieste.acquisition.rule import (
    AsynchronousGreedy,
    AsynchronousRuleState,
    EfficientGlobalOptimization,
)
from trieste.observer import OBJECTIVE

from ..model.gp import GPModel
from ..model.maximizer import AcquisitionMaximizer


@functools.cache
def maximizer() -> AcquisitionMaximizer:
    """The one maximizer: it keeps each acquisition function's compiled value and gradient."""
    return AcquisitionMaximizer()


class PendingPoints(AsynchronousRuleState):
    """The pending points the caller gives, as they are. The rule's own removal of observed
    points (an O(N x P) graph per ask) is skipped: the caller's list holds no observed point."""

    def remove_points(self, points_to_remove) -> AsynchronousRuleState:
        return self


def greedy_rule(builder: Any, n: int, asynchronous: bool):
    """Trieste's rule asking ``n`` points greedily with ``builder``."""
    if asynchronous:
        return AsynchronousGreedy(builder=builder, optimizer=maximizer(), num_query_points=n)
    return EfficientGlobalOptimization(builder=builder, optimizer=maximizer(), num_query_points=n)


def acquire_greedy(rule, model: GPModel, pending: np.ndarray | None) -> np.ndarray:
    """The rule's points [n, D] over the model's unit box, given ``pending`` [P, D] (async)."""
    models, datasets = {OBJECTIVE: model.model}, {OBJECTIVE: model.dataset}
    if pending is None:  # a synchronous batch
        return rule.acquire(model.search_space, models, datasets).numpy()
    state = PendingPoints(tf.constant(pending, tf.float64) if len(pending) else None)
    _, points = rule.acquire(model.search_space, models, datasets)(state)
    return points.numpy()
