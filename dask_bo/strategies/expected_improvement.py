"""Plain (log) expected improvement on the posterior updated with every result."""

from __future__ import annotations

from .base import SingleRule


class ExpectedImprovementRule(SingleRule):
    name = "expected-improvement"
    description = "log expected improvement, pending points ignored (a batch: its best distinct local maxima)"

    def builder(self):
        from trieste.acquisition import LogExpectedImprovement

        return LogExpectedImprovement()
