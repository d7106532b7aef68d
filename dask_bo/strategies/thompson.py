"""Thompson sampling: each point the minimizer of one posterior sample over random candidates.

The same joint sample is the cheap cover (:meth:`Strategy.ask_thompson`) every rule uses when
the workers outpace the model: ``n`` points cost one joint prediction and one Cholesky.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .base import Rule

if TYPE_CHECKING:
    from ..model.gp import GPModel

NUM_CANDIDATES = 1000
DENSE_SPACING = 0.05
"""Uniform candidates this close together (1,000 in two dimensions) resolve the cube well
enough for half of them to be uniform; sparser ones do not."""


@dataclass(frozen=True)
class Layout:
    """Where the candidates are: ``uniform`` (a share) in the whole cube, the rest scattered
    around the ``centres`` best observed points at standard deviations log-uniform in
    ``scales`` (units of the cube)."""

    uniform: float
    centres: int
    scales: tuple[float, float]


DENSE = Layout(uniform=0.5, centres=10, scales=(0.05, 0.05))
SPARSE = Layout(uniform=0.1, centres=5, scales=(0.005, 0.2))


def layout(dim: int, num_candidates: int) -> Layout:
    """:data:`DENSE` where uniform candidates are :data:`DENSE_SPACING` apart or closer, else
    :data:`SPARSE`: in several dimensions a sample's minimum over uniform candidates lies
    mostly where the model knows nothing, so most candidates go near the best points."""
    return DENSE if num_candidates ** (-1 / dim) <= DENSE_SPACING else SPARSE


def joint_thompson(
    model: GPModel, n: int, rng: np.random.Generator, num_candidates: int = NUM_CANDIDATES
) -> np.ndarray:
    """``n`` distinct points [n, D]: the minimizers of ``n`` joint posterior samples over the same
    candidates (:func:`layout`).

    :raise tf.errors.InvalidArgumentError: The candidates' covariance has no Cholesky even
        with jitter.
    """
    import tensorflow as tf

    from ..model import blas_single_thread

    num_candidates = max(num_candidates, 2 * n)
    where = layout(model.dim, num_candidates)

    x = model.dataset.query_points.numpy()
    z = model.dataset.observations.numpy()[:, 0]
    best = x[np.argsort(z, kind="stable")[:where.centres]]
    near = num_candidates - int(where.uniform * num_candidates)
    centres = best[rng.integers(0, len(best), near)]
    scales = np.exp(rng.uniform(np.log(where.scales[0]), np.log(where.scales[1]), (near, 1)))
    candidates = model.search_space.snap(np.concatenate([
        rng.random((num_candidates - near, model.dim)),
        np.clip(centres + scales * rng.standard_normal(centres.shape), 0.0, 1.0),
    ]))
    if model.search_space.mixed:  # snapped candidates repeat: the same point twice is singular
        candidates = np.unique(candidates, axis=0)
        num_candidates = len(candidates)
    with blas_single_thread():
        mean, cov = model.model.predict_joint(tf.constant(candidates))  # [M, 1], [1, M, M]
        for jitter in (1e-6, 1e-4, 1e-2):
            try:
                chol = tf.linalg.cholesky(cov[0] + jitter * tf.eye(num_candidates, dtype=cov.dtype))
                break
            except tf.errors.InvalidArgumentError:
                if jitter == 1e-2:
                    raise
        normal = tf.constant(rng.standard_normal((num_candidates, n)))
        draws = (mean + chol @ normal).numpy()  # [M, n]
    # Samples that agree on their minimizer take their next best candidate: the same point
    # twice would teach the model nothing new.
    chosen: list[int] = []
    for column in draws.T:
        chosen.append(next(int(i) for i in np.argsort(column) if int(i) not in chosen))
    return candidates[chosen]


class ThompsonRule(Rule):
    name = "thompson"
    description = "Thompson sampling: one joint posterior sample per point, pending points ignored"

    def propose(self, n, pending, model, asynchronous) -> np.ndarray:
        assert model is not None
        return joint_thompson(model, n, self.rng)
