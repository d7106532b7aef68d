"""The acquisition maximizer: joint L-BFGS-B restarts from the best of many uniform samples,
over the model's unit cube and, on a mixed space, its feasible points only."""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
import scipy.optimize
import tensorflow as tf
from trieste.space import Box


class EncodedCube(Box):
    """The model's unit cube [0, 1]^D, knowing the encoded space's feasible points.

    :param dim: D, the encoded dimension.
    :param snap: ``u [N, D] -> u``: the nearest feasible points (a space's ``snap``); default:
        clip to the cube.
    :param categorical: [D] booleans: the one-hot columns of categoricals. The maximizer keeps
        them at a start's choice and tries every choice among its starts, since a relaxed
        one-hot point says nothing about the choice it snaps to.
    """

    def __init__(self, dim: int, snap: Callable[[np.ndarray], np.ndarray] | None = None,
                 categorical: np.ndarray | None = None):
        super().__init__([0.0] * dim, [1.0] * dim)
        self.snap = snap or (lambda u: np.clip(u, 0.0, 1.0))
        self.categorical = np.zeros(dim, bool) if categorical is None else np.asarray(categorical, bool)
        self.mixed = snap is not None

    def sample(self, num_samples: int, seed: int | None = None) -> tf.Tensor:
        """Uniform points, snapped: trieste's grids (GIBBON's, Local Penalization's Lipschitz
        estimate) then hold only points that can be proposed."""
        samples = super().sample(num_samples, seed)
        return tf.cast(self.snap(samples.numpy()), samples.dtype) if self.mixed else samples


class AcquisitionMaximizer:
    """Maximizes an acquisition function over a box: the best of ``num_restarts`` L-BFGS-B
    runs started from the best of ``num_samples`` uniform points.

    Trieste's own optimizer computes each gradient eagerly and runs 10 x D optimizations
    (0.4 s an ask on hartmann-6 at 200 points). Here the restarts are optimized together
    as one problem (their values summed), with the value and gradient compiled once per
    acquisition function (trieste updates those in place, so one trace serves a whole run).
    It is a trieste ``AcquisitionOptimizer`` (``maximizer(space, target) -> [1, D]``), and
    :meth:`maximize` also gives the best ``k`` distinct local maxima.

    :param num_samples: Uniform points to start from (default ``max(1000, 250 * D)``).
    :param num_restarts: L-BFGS-B starts: the best of the samples.
    :param maxiter: L-BFGS-B iterations (of the joint problem), at most.
    :param ftol: Stop once an iteration raises the restarts' summed value by less than this
        fraction of it.
    """

    def __init__(
        self, num_samples: int | None = None, num_restarts: int = 10, maxiter: int = 60,
        ftol: float = 1e-4,
    ):
        self.num_samples = num_samples
        self.num_restarts = num_restarts
        self.maxiter = maxiter
        self.ftol = ftol
        self.last_result: scipy.optimize.OptimizeResult | None = None
        """The latest L-BFGS-B result, for diagnostics."""
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __call__(self, space: Box, target_func) -> tf.Tensor:
        """The maximizer [1, D] of ``target_func`` (inputs [N, 1, D], outputs [N, 1]); over an
        :class:`EncodedCube`, a feasible point."""
        lower = tf.cast(space.lower, tf.float64)
        width = tf.cast(space.upper, tf.float64) - lower
        cube = space if isinstance(space, EncodedCube) else EncodedCube(int(lower.shape[0]))
        u = self._maximize(target_func, cube, lower, width, 1, 0.0)
        return lower + tf.constant(u) * width

    def maximize(self, space: EncodedCube, target_func, k: int = 1, min_distance: float = 0.02) -> np.ndarray:
        """The best ``k`` local maxima [k, D] of ``target_func`` over the unit cube, best first,
        each at least ``min_distance`` (in every coordinate's max) from those before it; when
        the restarts find fewer, the best remaining samples fill the rest.

        :param space: The model's unit cube (its feasible points, on a mixed space).
        :param target_func: Inputs [N, 1, D] in the unit cube, outputs [N, 1].
        """
        dim = int(space.dimension)
        return self._maximize(
            target_func, space, tf.zeros([dim], tf.float64), tf.ones([dim], tf.float64), k, min_distance
        )

    def _maximize(self, target_func, cube: EncodedCube, lower, width, k: int, min_distance: float) -> np.ndarray:
        """The best ``k`` maxima [k, D] in the unit cube of ``target_func(lower + u * width)``."""
        if isinstance(target_func, tuple):
            raise NotImplementedError("vectorized acquisition functions are not supported")
        dim = int(lower.shape[0])
        num_samples = max(self.num_samples or max(1000, 250 * dim), 2 * k)
        samples = tf.random.uniform([num_samples, dim], dtype=tf.float64)
        if cube.mixed:
            samples = tf.constant(cube.snap(samples.numpy()), tf.float64)
        values = target_func((lower + samples * width)[:, None, :])[:, 0]
        values = tf.where(tf.math.is_finite(values), values, -np.inf)
        order = tf.argsort(values, direction="DESCENDING")
        samples, values = tf.gather(samples, order).numpy(), tf.gather(values, order).numpy()
        restarts = min(max(self.num_restarts, 2 * k), num_samples)
        if k == 1:
            starts = _best_per_choice(samples, cube.categorical, restarts)
        else:  # starts spread out, so that the restarts can find k different maxima
            starts = _distinct_best(samples, values, restarts, 2.5 * min_distance)
        # A categorical's columns stay at the start's choice: bounds [v, v].
        fixed = np.broadcast_to(cube.categorical, starts.shape).ravel()
        bounds = [(v, v) if f else (0.0, 1.0) for v, f in zip(starts.ravel(), fixed)]
        value_and_gradient = self._value_and_gradient(target_func, dim)
        # L-BFGS-B's tolerance is relative only for values above 1, and acquisition values are
        # often 1e-3, late in a run 1e-14: unscaled, it either ran to maxiter or stopped at
        # once near the best sample. On the starts' scale it stops when the maxima stop
        # improving (benchmarks/README.md).
        scale = abs(float(np.sum(values[:restarts])))
        scale = scale if 0.0 < scale < np.inf else 1.0

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = value_and_gradient(tf.constant(flat.reshape(-1, dim)), lower, width)
            v, g = v.numpy(), g.numpy()
            if not (np.isfinite(v).all() and np.isfinite(g).all()):
                return np.inf, np.zeros_like(flat)  # L-BFGS-B backtracks
            return -float(v.sum()) / scale, -g.ravel() / scale

        found = self.last_result = scipy.optimize.minimize(
            loss, starts.ravel(), jac=True, method="L-BFGS-B",
            bounds=bounds, options={"maxiter": self.maxiter, "ftol": self.ftol},
        )
        ends = cube.snap(np.clip(found.x.reshape(-1, dim), 0.0, 1.0))
        end_values = value_and_gradient(tf.constant(ends), lower, width)[0].numpy()
        end_values = np.where(np.isfinite(end_values), end_values, -np.inf)
        if k == 1:  # never worse than the best sample
            return _distinct_best(np.concatenate([ends, samples[:1]]), np.append(end_values, values[0]), 1, 0.0)
        # The maxima first, then samples away from them, then any samples (k may exceed the
        # points min_distance apart that the cube holds).
        candidates = np.concatenate([_distinct_best(ends, end_values, k, min_distance), samples])
        scores = np.concatenate([np.full(len(candidates) - len(samples), np.inf), values])
        chosen = _distinct_best(candidates, scores, k, min_distance)
        if len(chosen) < k:
            chosen = np.concatenate([chosen, samples[: k - len(chosen)]])
        return chosen

    def _value_and_gradient(self, target_func, dim: int):
        """The compiled ``u [K, D] -> (values [K], d sum(values) / du [K, D])``, u in the unit cube.

        It is a concrete function, called without tf.function's search of its traces for a
        match (half a millisecond a call, and L-BFGS-B calls it about 60 times a point).
        """
        compiled = self._compiled.get(target_func)
        if compiled is None:

            def value_and_gradient(u, lower, width):
                with tf.GradientTape() as tape:
                    tape.watch(u)
                    values = target_func((lower + u * width)[:, None, :])[:, 0]
                    total = tf.reduce_sum(values)
                return values, tape.gradient(total, u)

            vector = tf.TensorSpec([dim], tf.float64)
            compiled = tf.function(value_and_gradient).get_concrete_function(
                tf.TensorSpec([None, dim], tf.float64), vector, vector
            )
            self._compiled[target_func] = compiled
        return compiled


def _best_per_choice(samples: np.ndarray, categorical: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` first ``samples`` (best first), but first the best sample of each choice of the
    categoricals, so that every choice in reach gets a start (up to half the starts)."""
    if not categorical.any():
        return samples[:n]
    _, first = np.unique(samples[:, categorical], axis=0, return_index=True)
    per_choice = np.sort(first)[: n // 2]
    rest = np.setdiff1d(np.arange(len(samples)), per_choice)[: n - len(per_choice)]
    return samples[np.concatenate([per_choice, rest])]


def _distinct_best(points: np.ndarray, scores: np.ndarray, k: int, min_distance: float) -> np.ndarray:
    """Up to ``k`` best-scoring points [<=k, D], each ``min_distance`` from those chosen before
    it (in the largest coordinate difference)."""
    order = np.argsort(-scores, kind="stable")
    chosen: list[int] = []
    for i in order:
        if all(np.max(np.abs(points[i] - points[j])) >= min_distance for j in chosen):
            chosen.append(int(i))
            if len(chosen) == k:
                break
    return points[chosen]
