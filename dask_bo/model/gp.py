"""The Gaussian process over the unit cube: exact (GPR) or sparse (SGPR), on standardized values,
and never raising on bad data.

Import this module after :func:`dask_bo.model.configure` (it imports TensorFlow).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import gpflow
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from gpflow.utilities import multiple_assign, read_values
from trieste.data import Dataset
from trieste.models.gpflow import (
    GaussianProcessRegression,
    SparseGaussianProcessRegression,
    build_gpr,
)
from trieste.models.gpflow.builders import KERNEL_LENGTHSCALE, KERNEL_PRIOR_SCALE
from trieste.models.gpflow.utils import randomize_hyperparameters, squeeze_hyperparameters
from . import blas_single_thread
from .maximizer import EncodedCube

NUM_KERNEL_SAMPLES = 10
"""Random hyperparameter draws per parameter with a prior, tried before a full fit (trieste's
default for ``GaussianProcessRegression``)."""

NUM_INDUCING = 128
"""Inducing points of the sparse model: its cost per step is O(N x this^2)."""

_FAILURES = (tf.errors.InvalidArgumentError, ValueError, FloatingPointError)
"""What a GP step raises on data it cannot take (a failed Cholesky, a non-finite loss)."""


def standardize(y: np.ndarray) -> np.ndarray:
    """Values [N, 1] with mean 0 and standard deviation 1 (all 0 when they are all equal).

    They are first divided by their largest magnitude, so that neither 1e200 (whose square
    overflows) nor 1e-200 (whose square underflows) breaks the moments; a value that is not
    finite counts as the worst finite one.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    finite = np.isfinite(y)
    if not finite.all():
        y = np.where(finite, y, np.max(y[finite]) if finite.any() else 0.0)
    scale = float(np.max(np.abs(y))) if len(y) else 0.0
    z = y / scale if scale > 0 else y
    mean, std = float(np.mean(z)) if len(z) else 0.0, float(np.std(z)) if len(z) else 0.0
    if not std > 1e-12 * max(1.0, abs(mean)):
        return np.zeros_like(z)
    return (z - mean) / std


CHOICE_LENGTHSCALE = math.sqrt(2.0)
"""The prior's mode of a one-hot column's lengthscale: two choices of a categorical, which
differ by 1 in two columns, are then half alike a priori (Matern 5/2 at distance 1), and the
fit can still tell them apart. At the cube's default, choices would be unrelated, and each
one's landscape learned anew."""

CHOICE_VARIANCE = 0.1
"""The prior's mode of the variance of each choice's own offset (standardized values): what
every observation teaches about a choice, wherever the other parameters are."""


class GPModel:
    """A GP over the unit cube whose steps recover from bad data instead of raising.

    On a failed step (a Cholesky that fails, a fit that diverges) it resets the hyperparameters
    to their initial values, then adds jitter (raises the noise variance) until the posterior
    can be computed; if nothing helps it is marked not :attr:`usable` (the strategy then falls
    back to cheap proposals) until data it can take arrives.

    :param x: Points [N, D] in the unit cube, N >= 1.
    :param y: Values [N, 1], lower is better (standardized here).
    :param sparse: An SGPR with ``num_inducing`` inducing points instead of the exact GPR.
    :param warn: ``warn(key, message)``: reports a recovery (the strategy logs each key once).
    :param rng: Chooses the sparse model's inducing points.
    :param cube: The encoded space's cube (its feasible points and one-hot columns); default:
        the plain unit cube.
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, *, sparse: bool = False, num_inducing: int = NUM_INDUCING,
        warn: Callable[[str, str], None] = lambda key, message: None,
        rng: np.random.Generator | None = None, cube: EncodedCube | None = None,
    ):
        self.dim = int(x.shape[1])
        self.sparse = sparse
        self.num_inducing = num_inducing
        self.search_space = cube or EncodedCube(self.dim)
        self.usable = True
        self._warn = warn
        self._rng = rng or np.random.default_rng()
        self.dataset = self._dataset(x, y)
        with blas_single_thread():
            for noise in ((1e-4,) if sparse else (1e-7,)) + (1e-4, 1e-2):
                try:  # the posterior is computed at once: more noise if its Cholesky fails
                    self.model = self._build(self.dataset, noise)
                    break
                except tf.errors.InvalidArgumentError:
                    if noise == 1e-2:
                        raise
        gp = self.model.model
        self._initial = read_values(gp)
        self._noise = float(gp.likelihood.variance.numpy())
        self._scipy = gpflow.optimizers.Scipy()  # keeps the compiled loss between refits
        # Trieste's full fit traces a new sampler and a new loss every time (1 s of a 1.5 s fit
        # at 100 points); these are traced once per model.
        self._random_loss = tf.function(lambda: (randomize_hyperparameters(gp), gp.training_loss())[1])
        with_prior = sum(
            int(tf.size(p)) for p in gp.trainable_parameters
            if p.prior is not None or isinstance(p.bijector, tfp.bijectors.Sigmoid)
        )
        # A sparse loss costs far more per draw, and its fit starts from the exact one's.
        self._num_random_starts = min(NUM_KERNEL_SAMPLES * with_prior, 10 if sparse else 10**6)

    @property
    def size(self) -> int:
        return int(self.dataset.query_points.shape[0])

    def _dataset(self, x: np.ndarray, y: np.ndarray) -> Dataset:
        return Dataset(tf.constant(x, tf.float64), tf.constant(standardize(y)))

    def _kernel(self) -> gpflow.kernels.Kernel:
        """Trieste's default kernel for the unit cube (a Matern 5/2 with log-normal priors), of
        variance 1 since the values are standardized (so also for one value, or equal ones);
        one-hot columns' lengthscales start at :data:`CHOICE_LENGTHSCALE`, or more, and each
        choice adds an offset of its own (:data:`CHOICE_VARIANCE`)."""
        lengthscales = np.full(self.dim, float(KERNEL_LENGTHSCALE) * math.sqrt(self.dim))
        choice = self.search_space.categorical
        lengthscales[choice] = np.maximum(lengthscales[choice], CHOICE_LENGTHSCALE)
        kernel = gpflow.kernels.Matern52(variance=1.0, lengthscales=lengthscales)
        kernel.lengthscales.prior = tfp.distributions.LogNormal(
            tf.math.log(tf.constant(lengthscales)), KERNEL_PRIOR_SCALE
        )
        kernel.variance.prior = tfp.distributions.LogNormal(
            tf.constant(0.0, tf.float64), KERNEL_PRIOR_SCALE
        )
        if not choice.any():
            return kernel
        # On one-hot columns a linear kernel is one independent offset per choice.
        offsets = gpflow.kernels.Linear(variance=CHOICE_VARIANCE, active_dims=np.flatnonzero(choice).tolist())
        offsets.variance.prior = tfp.distributions.LogNormal(
            tf.math.log(tf.constant(CHOICE_VARIANCE, tf.float64)), KERNEL_PRIOR_SCALE
        )
        return kernel + offsets

    def _build(self, data: Dataset, noise: float):
        if not self.sparse:
            gpr = build_gpr(data, self.search_space, kernel=self._kernel(), likelihood_variance=noise)
            return GaussianProcessRegression(gpr, num_kernel_samples=NUM_KERNEL_SAMPLES)
        sgpr = gpflow.models.SGPR(
            data.astuple(), self._kernel(),
            gpflow.inducing_variables.InducingPoints(self._inducing_points(data)),
            mean_function=gpflow.mean_functions.Constant(tf.zeros([1], tf.float64)),
            noise_variance=noise,
        )
        gpflow.set_trainable(sgpr.inducing_variable, False)  # chosen from the data at refits
        return SparseGaussianProcessRegression(sgpr)

    def _inducing_points(self, data: Dataset) -> np.ndarray:
        """``num_inducing`` points [M, D]: half the best observed points (where the optimum
        is), half a random subset of the others (the rest of the landscape); uniform points fill
        in while there is less data."""
        x, z = data.query_points.numpy(), data.observations.numpy()[:, 0]
        m = self.num_inducing
        order = np.argsort(z, kind="stable")
        best, rest = order[: m // 2], order[m // 2:]
        rest = self._rng.permutation(rest)[: m - len(best)]
        chosen = x[np.concatenate([best, rest])]
        fill = self._rng.random((m - len(chosen), self.dim))
        return np.concatenate([chosen, fill])

    def set_data(self, x: np.ndarray, y: np.ndarray) -> None:
        """Replace the data by x [N, D], y [N, 1] (re-standardized) and update the posterior;
        the hyperparameters stay as they are."""
        self.dataset = self._dataset(x, y)
        try:
            with blas_single_thread():
                self.model.update(self.dataset)
            self.usable = True
        except _FAILURES as error:
            self._recover("update", error)

    def refit(self, full: bool) -> None:
        """Fit the hyperparameters: from the current ones, or (``full``) from the best of random
        draws from their priors and the current ones."""
        gp = self.model.model
        try:
            with blas_single_thread():
                if self.sparse:
                    gp.inducing_variable.Z.assign(self._inducing_points(self.dataset))
                if full:
                    self._best_random_start()
                self._scipy.minimize(gp.training_loss, gp.trainable_variables, options={"maxiter": 200})
                loss = float(gp.training_loss())
                if not math.isfinite(loss):
                    raise FloatingPointError(f"the fitted model's loss is {loss}")
                self.model.update_posterior_cache()
            self.usable = True
        except _FAILURES as error:
            self._recover("fit", error)

    def _best_random_start(self) -> None:
        """Set the hyperparameters to the best (lowest training loss) of the current ones and
        random draws from their priors, as trieste's ``find_best_model_initialization`` does."""
        gp = self.model.model
        squeeze_hyperparameters(gp)
        best, best_loss = read_values(gp), float(gp.training_loss())
        if not math.isfinite(best_loss):
            best_loss = math.inf
        for _ in range(self._num_random_starts):
            try:
                loss = float(self._random_loss())
            except tf.errors.InvalidArgumentError:  # a draw the Cholesky cannot take
                continue
            if loss < best_loss:
                best, best_loss = read_values(gp), loss
        multiple_assign(gp, best)

    def _recover(self, step: str, error: BaseException) -> None:
        """Reset the hyperparameters, then add jitter, until the posterior can be computed."""
        gp = self.model.model
        multiple_assign(gp, self._initial)
        for noise in (self._noise, 1e-6, 1e-4, 1e-2):
            if noise < self._noise:
                continue
            gp.likelihood.variance.assign(noise)
            try:
                with blas_single_thread():
                    self.model.update(self.dataset)
                    mean, var = self.model.predict(self.dataset.query_points[:1])
                if np.isfinite(mean.numpy()).all() and np.isfinite(var.numpy()).all():
                    self.usable = True
                    self._warn(
                        f"model-{step}",
                        f"the model's {step} failed on this data ({_short(error)}); it goes on with"
                        f" its initial hyperparameters and noise variance {noise:g}",
                    )
                    return
            except _FAILURES as retry_error:
                error = retry_error
        self.usable = False
        self._warn(
            f"model-{step}-unusable",
            f"the model cannot take this data ({_short(error)}); proposals are random until"
            " it can",
        )


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:120] if text else ''}"
