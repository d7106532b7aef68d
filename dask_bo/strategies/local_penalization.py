"""Local Penalization: each point penalizes the acquisition around the pending ones."""

from __future__ import annotations

import functools

from .base import TriesteRule


@functools.cache
def compiled_penalizer():
    """Trieste's soft local penalizer with its update compiled. The update predicts at the
    pending points, once for every point asked; eagerly that took 35 ms of a point's 130 ms
    (hartmann-6, batches of 16)."""
    import tensorflow as tf
    from trieste.acquisition.function.greedy_batch import soft_local_penalizer

    class CompiledLocalPenalizer(soft_local_penalizer):
        @tf.function(reduce_retracing=True)
        def update(self, pending_points, lipschitz_constant, eta) -> None:
            super().update(pending_points, lipschitz_constant, eta)

    return CompiledLocalPenalizer


class LocalPenalizationRule(TriesteRule):
    name = "local-penalization"
    description = "expected improvement, penalized around pending points (trieste's LocalPenalization)"

    num_samples = 2000
    """Samples for the Lipschitz constant's estimate."""

    def builder(self, model):
        from trieste.acquisition import LocalPenalization

        return LocalPenalization(
            model.search_space, num_samples=self.num_samples, penalizer=compiled_penalizer()
        )
