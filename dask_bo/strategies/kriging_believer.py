"""Kriging believer: expected improvement with the pending points fantasized at the mean."""

from __future__ import annotations

from .base import TriesteRule


class KrigingBelieverRule(TriesteRule):
    name = "kriging-believer"
    description = "log expected improvement with pending points fantasized at the posterior mean (trieste's Fantasizer)"
    # Fantasizing conditions the model on new data in closed form, which trieste does for the
    # exact GPR only.
    supports_sparse = False

    def builder(self, model):
        from trieste.acquisition import LogExpectedImprovement
        from trieste.acquisition.function import Fantasizer

        return Fantasizer(LogExpectedImprovement(), fantasize_method="KB")
