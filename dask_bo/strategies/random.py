"""Uniform random points: the baseline every BO result is judged against."""

from __future__ import annotations

import numpy as np

from .base import Rule


class RandomRule(Rule):
    name = "random"
    description = "uniform random points (the baseline)"
    needs_model = False

    def propose(self, n, pending, model, asynchronous) -> np.ndarray:
        return self.rng.random((n, self.dim))
