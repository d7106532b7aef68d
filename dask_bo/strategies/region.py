"""A trust region for the Thompson cover in several dimensions, as TuRBO keeps one.

Eriksson et al. (2019, "Scalable Global Optimization via Local Bayesian Optimization") draw
Thompson samples only in a box around the best point, whose side doubles after repeated
improvements and halves after repeated failures, and which starts over once it has shrunk to
nothing. In six dimensions a sample's minimizer over the whole cube lies mostly where the
model knows nothing (a face or a corner); in the box it refines the best basin.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

INITIAL_SIDE = 0.8
MIN_SIDE = 0.5**7
MAX_SIDE = 1.6
SUCCESSES = 3
"""Improvements (since the side last changed) that double it."""
MARGIN = 1e-3
"""An improvement beats the best value by this fraction of its magnitude (TuRBO's)."""
MIN_DIM = 3
"""In fewer dimensions the rules search the whole cube (uniform samples resolve it well)."""


class TrustRegion:
    """The side of a box around the best point, updated by each value told, in order.

    A value is an improvement if it beats the best so far by :data:`MARGIN` of its magnitude.
    :data:`SUCCESSES` improvements double the side (up to :data:`MAX_SIDE`); ``failures``
    values in a row that are not halve it; below :data:`MIN_SIDE` it starts over at
    :data:`INITIAL_SIDE`. The first values told only set the best.

    :param dim: D, the encoded dimension.
    :param batch: The points in flight at once (worker threads): TuRBO halves after
        ``ceil(max(4, D) / batch)`` failed batches, which is this many failed values.
    """

    def __init__(self, dim: int, batch: int = 1):
        batch = max(1, int(batch))
        self.dim = dim
        self.failure_tolerance = batch * math.ceil(max(4, dim) / batch)
        self.side = INITIAL_SIDE
        self.restarts = 0
        self._best = math.inf
        self._successes = self._failures = 0

    def observe(self, y: np.ndarray) -> None:
        """Count the values y [N] (or [N, 1]) told, in order."""
        values = np.asarray(y, dtype=np.float64).reshape(-1)
        values = values[np.isfinite(values)]
        if not len(values):
            return
        if not math.isfinite(self._best):
            self._best = float(values.min())
            return
        for value in values:
            if value < self._best - MARGIN * abs(self._best):
                self._successes, self._failures = self._successes + 1, 0
            else:
                self._failures += 1
            self._best = min(self._best, float(value))
            if self._successes >= SUCCESSES:
                self.side, self._successes = min(2 * self.side, MAX_SIDE), 0
            elif self._failures >= self.failure_tolerance:
                self.side, self._successes, self._failures = self.side / 2, 0, 0
                if self.side < MIN_SIDE:
                    self.side, self.restarts = INITIAL_SIDE, self.restarts + 1

    def around_best(self, model: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """The box (:meth:`box`) around the model's best observed point, with its lengthscales;
        ``None`` (the whole cube) below :data:`MIN_DIM` dimensions or on a mixed space, whose
        feasible points a box of the cube's coordinates does not respect."""
        if self.dim < MIN_DIM or model.search_space.mixed:
            return None
        z = model.dataset.observations.numpy()[:, 0]
        best = model.dataset.query_points.numpy()[int(np.argmin(z))]
        return self.box(best, model.lengthscales)

    def box(self, centre: np.ndarray, lengthscales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The box [low, high] (each [D], in the unit cube) around ``centre`` [D]: its side per
        dimension is the side times that lengthscale over their geometric mean (TuRBO's), so
        a dimension the model finds smooth gets a longer one."""
        scales = np.asarray(lengthscales, dtype=np.float64).reshape(-1)
        if scales.shape != (self.dim,) or not (np.isfinite(scales).all() and (scales > 0).all()):
            scales = np.ones(self.dim)
        weights = scales / math.exp(float(np.mean(np.log(scales))))
        half = self.side * weights / 2
        return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
