"""Thompson sampling: each point the minimizer of one posterior sample over random candidates.

The same joint sample is the cheap cover (:meth:`Strategy.ask_thompson`) every rule uses when
the workers outpace the model: ``n`` points cost one joint prediction and one Cholesky.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import Rule

if TYPE_CHECKING:
    from ..model.gp import GPModel

NUM_CANDIDATES = 1000
UNIFORM_SHARE = 0.1
"""The share of candidates drawn uniformly from the cube."""
NUM_CENTRES = 5
"""The other candidates are scattered around this many best observed points."""
SCALES = (0.005, 0.2)
"""The range of the scatter's standard deviation, in units of the cube."""


def joint_thompson(
    model: GPModel, n: int, rng: np.random.Generator, num_candidates: int = NUM_CANDIDATES
) -> np.ndarray:
    """``n`` distinct points [n, D]: the minimizers of ``n`` joint posterior samples over the same
    candidates, a tenth uniform, the rest scattered around the five best observed points at
    scales from 0.5% to 20% of the cube (log-uniform). Uniform candidates alone are too sparse
    in several dimensions: a sample's minimum over them is mostly where the model knows nothing.

    :raise tf.errors.InvalidArgumentError: The candidates' covariance has no Cholesky even
        with jitter.
    """
    import tensorflow as tf

    from ..model import blas_single_thread

    num_candidates = max(num_candidates, 2 * n)

    x = model.dataset.query_points.numpy()
    z = model.dataset.observations.numpy()[:, 0]
    best = x[np.argsort(z, kind="stable")[:NUM_CENTRES]]
    near = num_candidates - int(UNIFORM_SHARE * num_candidates)
    centres = best[rng.integers(0, len(best), near)]
    scales = np.exp(rng.uniform(np.log(SCALES[0]), np.log(SCALES[1]), (near, 1)))
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
