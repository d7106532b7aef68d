"""The lower confidence bound (the upper one, for minimization)."""

from __future__ import annotations

from .base import SingleRule


class ConfidenceBoundRule(SingleRule):
    name = "ucb"
    description = "lower confidence bound mean - 1.96 sd, pending points ignored (a batch: its best distinct local maxima)"

    beta = 1.96

    def builder(self):
        from trieste.acquisition import NegativeLowerConfidenceBound

        return NegativeLowerConfidenceBound(beta=self.beta)
