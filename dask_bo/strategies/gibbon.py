"""GIBBON: a batch-aware information-theoretic rule."""

from __future__ import annotations

from .base import TriesteRule


class GibbonRule(TriesteRule):
    name = "gibbon"
    description = "information gained about the minimum's value, with repulsion from pending points (trieste's GIBBON)"

    def builder(self, model):
        from trieste.acquisition import GIBBON

        return GIBBON(model.search_space, grid_size=max(1000, 100 * model.dim))
