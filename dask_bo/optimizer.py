"""The one ask/tell core, over trieste's ask/tell optimizer.

It adds what a cluster needs and trieste leaves to its caller: the bookkeeping of pending
points (asked, not yet observed), the removal of points that will never be observed (failed,
lost, or asked and never sent), and a schedule for hyperparameter refits, so that telling a
result is cheap and the expensive refit runs when the driver chooses.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _native_stderr_silenced():
    """TensorFlow's native code announces missing CUDA plugins on file descriptor 2 while it
    loads, whatever TF_CPP_MIN_LOG_LEVEL says; on a CPU machine that is noise."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with _native_stderr_silenced():
    import gpflow
    import tensorflow as tf
    import tensorflow_probability as tfp


def _trace_without_autograph(*packages: str) -> None:
    """Let tf.function trace these packages' code as it is written.

    AutoGraph rewrites the source of every Python function a trace reaches before running it;
    for gpflow's and trieste's code that was half of a run's first model fit and first ask
    (benchmarks/README.md). Their control flow depends on Python values only, so it needs no
    rewriting: a condition on a tensor would raise in graph mode rather than change a result,
    and asked points and losses are bit-identical either way.
    """
    try:
        from tensorflow.python.autograph.core import config
    except ImportError:  # a TensorFlow without this module: keep its default
        return
    skip = tuple(config.DoNotConvert(package) for package in packages)
    config.CONVERSION_RULES = skip + tuple(config.CONVERSION_RULES)


_trace_without_autograph("gpflow", "trieste", "check_shapes", "dask_bo")

import numpy as np
import scipy.optimize
from threadpoolctl import ThreadpoolController
from trieste.acquisition import LocalPenalization
from trieste.acquisition.function.greedy_batch import soft_local_penalizer
from trieste.acquisition.rule import (
    AsynchronousGreedy,
    AsynchronousRuleState,
    EfficientGlobalOptimization,
)
from trieste.ask_tell_optimization import AskTellOptimizerABC
from trieste.data import Dataset
from gpflow.utilities import multiple_assign, read_values
from trieste.models.gpflow import GaussianProcessRegression, build_gpr
from trieste.models.gpflow.utils import randomize_hyperparameters, squeeze_hyperparameters
from trieste.space import Box

tf.get_logger().setLevel("ERROR")

# Trieste's acquisition optimizer runs many small L-BFGS-B problems at once; OpenBLAS threads
# spinning on their tiny vectors made an ask 8x slower on 2 cores (benchmarks/README.md).
_BLAS = ThreadpoolController()


class AcquisitionMaximizer:
    """Maximizes an acquisition function over a box: the best of ``num_restarts`` L-BFGS-B
    runs started from the best of ``num_samples`` uniform points.

    Trieste's own optimizer computes each gradient eagerly and runs 10 x D optimizations
    (0.4 s an ask on hartmann-6 at 200 points). Here the restarts are optimized together
    as one problem (their values summed), with the value and gradient compiled once per
    acquisition function (trieste updates those in place, so one trace serves a whole run).

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
        """The maximizer [1, D] of ``target_func`` (inputs [N, 1, D], outputs [N, 1])."""
        if isinstance(target_func, tuple):
            raise NotImplementedError("vectorized acquisition functions are not supported")
        dim = int(space.dimension)
        lower = tf.cast(space.lower, tf.float64)
        width = tf.cast(space.upper, tf.float64) - lower
        samples = tf.random.uniform([self.num_samples or max(1000, 250 * dim), dim], dtype=tf.float64)
        values = target_func((lower + samples * width)[:, None, :])[:, 0]
        values = tf.where(tf.math.is_finite(values), values, -np.inf)
        best = tf.math.top_k(values, k=min(self.num_restarts, int(values.shape[0])))
        starts = tf.gather(samples, best.indices).numpy()  # in the unit cube
        value_and_gradient = self._value_and_gradient(target_func, dim)
        # L-BFGS-B's tolerance is relative only for values above 1, and acquisition values are
        # often 1e-3, late in a run 1e-14: unscaled, it either ran to maxiter or stopped at
        # once near the best sample. On the starts' scale it stops when the maxima stop
        # improving (benchmarks/README.md).
        scale = abs(float(tf.reduce_sum(best.values)))
        scale = scale if 0.0 < scale < np.inf else 1.0

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = value_and_gradient(tf.constant(flat.reshape(-1, dim)), lower, width)
            v, g = v.numpy(), g.numpy()
            if not (np.isfinite(v).all() and np.isfinite(g).all()):
                return np.inf, np.zeros_like(flat)  # L-BFGS-B backtracks
            return -float(v.sum()) / scale, -g.ravel() / scale

        found = self.last_result = scipy.optimize.minimize(
            loss, starts.ravel(), jac=True, method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * starts.size, options={"maxiter": self.maxiter, "ftol": self.ftol},
        )
        ends = np.clip(found.x.reshape(-1, dim), 0.0, 1.0)
        end_values = value_and_gradient(tf.constant(ends), lower, width)[0].numpy()
        candidates = np.concatenate([ends, starts[:1]])  # never worse than the best sample
        scores = np.concatenate([np.where(np.isfinite(end_values), end_values, -np.inf), best.values.numpy()[:1]])
        return lower + tf.constant(candidates[[int(np.argmax(scores))]]) * width

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


class _LocalPenalizer(soft_local_penalizer):
    """Trieste's penalizer for Local Penalization, with its update compiled. The update
    predicts at the pending points, once for every point asked; eagerly that took 35 ms of a
    point's 130 ms (hartmann-6, batches of 16)."""

    @tf.function(reduce_retracing=True)
    def update(self, pending_points, lipschitz_constant, eta) -> None:
        super().update(pending_points, lipschitz_constant, eta)


class _PendingPoints(AsynchronousRuleState):
    """The pending points the Optimizer keeps. It removes observed points on tell, so the
    rule's own search of the whole dataset for them (an O(N x P) graph per ask) is skipped."""

    def remove_points(self, points_to_remove) -> AsynchronousRuleState:
        return self


class _AskTell(AskTellOptimizerABC):
    """Trieste's ask/tell optimizer whose tell leaves the hyperparameters alone: the
    Optimizer refits them when :meth:`Optimizer.refit_due` says so."""

    def update_model(self, model, dataset: Dataset) -> None:
        model.update(dataset)


class Optimizer:
    """Gaussian-process BO with Local Penalization, asynchronous or in synchronous batches.

    :param lower: Lower bounds [D].
    :param upper: Upper bounds [D].
    :param x: Initial points [N, D], N >= 1.
    :param y: Their values [N, 1].
    :param asynchronous: ``True``: :class:`AsynchronousGreedy` asks ``ask_size`` points at a
        time, taking pending points into account; ``False``: :class:`EfficientGlobalOptimization`
        asks batches of ``batch_size``.
    :param batch_size: The synchronous batch size.
    :param refit_fraction: Refit hyperparameters once the data has grown by this fraction
        since the last fit (at least one point); 0 refits on every tell. A refit starts from
        the current hyperparameters with a compiled loss; once the data has doubled since the
        last full fit, it starts from the best of trieste's random draws instead.
    :param num_samples: Samples Local Penalization uses to estimate the Lipschitz constant.
    """

    def __init__(
        self,
        lower,
        upper,
        x: np.ndarray,
        y: np.ndarray,
        *,
        asynchronous: bool = True,
        batch_size: int = 1,
        refit_fraction: float = 0.1,
        num_samples: int = 2000,
    ):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        if x.ndim != 2 or len(x) < 1 or len(x) != len(y):
            raise ValueError(
                f"initial data needs x [N, D] and y [N, 1] with N >= 1, got x {x.shape}"
                f" and y {y.shape}"
            )
        self.search_space = Box(list(lower), list(upper))
        self.asynchronous = asynchronous
        self.refit_fraction = refit_fraction
        data = Dataset(tf.constant(x), tf.constant(y))
        model = GaussianProcessRegression(
            build_gpr(data, self.search_space, likelihood_variance=1e-7)
        )
        penalization = LocalPenalization(
            self.search_space, num_samples=num_samples, penalizer=_LocalPenalizer
        )
        maximizer = AcquisitionMaximizer()
        if asynchronous:
            rule = AsynchronousGreedy(builder=penalization, optimizer=maximizer)
        else:
            rule = EfficientGlobalOptimization(
                num_query_points=batch_size, builder=penalization, optimizer=maximizer
            )
        # The model is fitted below by refit(), whose compiled functions then serve the run.
        self._ask_tell = _AskTell(self.search_space, data, model, rule, fit_model=False)
        self._scipy = gpflow.optimizers.Scipy()  # keeps the compiled loss between refits
        gp = model.model
        # Trieste's full fit traces a new sampler and a new loss every time (1 s of a 1.5 s fit
        # at 100 points); these are traced once per run.
        self._random_loss = tf.function(lambda: (randomize_hyperparameters(gp), gp.training_loss())[1])
        self._num_random_starts = model._num_kernel_samples * sum(
            int(tf.size(p)) for p in gp.trainable_parameters
            if p.prior is not None or isinstance(p.bijector, tfp.bijectors.Sigmoid)
        )
        self._pending: list[np.ndarray] = []
        # Drivers add and drop pending points from the thread that runs the loop while another
        # thread asks: the list is the only state they share.
        self._lock = threading.Lock()
        self._fitted_size = self._full_fit_size = 0
        self.refit()

    @property
    def dataset_size(self) -> int:
        return int(self._ask_tell.dataset.query_points.shape[0])

    @property
    def pending_points(self) -> np.ndarray:
        """Points asked for and not yet observed or forgotten [P, D]."""
        with self._lock:
            return np.array(self._pending).reshape(-1, self.search_space.dimension)

    def ask(self, n: int = 1) -> np.ndarray:
        """The next ``n`` points [n, D], which become pending (asynchronous mode): chosen
        greedily, each penalizing the pending points and those chosen before it, with one
        Lipschitz estimate for all ``n``.

        In synchronous mode the rule's batch is asked and its first ``n`` points returned.
        """
        if self.asynchronous:
            with self._lock:
                pending = list(self._pending)
            # Pending points are ours to keep (trieste cannot know of points that failed),
            # so the rule starts every ask from our set.
            self._ask_tell._acquisition_state = _PendingPoints(
                tf.constant(np.array(pending)) if pending else None
            )
            self._ask_tell._acquisition_rule._num_query_points = n
            with _BLAS.limit(limits=1, user_api="blas"):
                points = self._ask_tell.ask().numpy().reshape(n, -1)
            with self._lock:
                self._pending.extend(points)
            return points
        with _BLAS.limit(limits=1, user_api="blas"):
            return self._ask_tell.ask().numpy()[:n]

    def ask_thompson(self, n: int, num_candidates: int = 1000) -> np.ndarray:
        """``n`` points [n, D] in one go, each the minimiser of one joint posterior sample over
        the same random candidates: far cheaper than ``n`` asks, for when the workers outpace
        the model. They become pending like asked points."""
        with _BLAS.limit(limits=1, user_api="blas"):
            candidates = tf.concat([
                self.search_space.sample(num_candidates - num_candidates // 2),
                self._near_best(num_candidates // 2),
            ], axis=0)
            mean, cov = self._ask_tell.model.predict_joint(candidates)  # [M, 1], [1, M, M]
            jitter = 1e-6 * tf.eye(num_candidates, dtype=cov.dtype)
            chol = tf.linalg.cholesky(cov[0] + jitter)
            draws = mean + chol @ tf.random.normal([num_candidates, n], dtype=mean.dtype)
            points = tf.gather(candidates, tf.argmin(draws, axis=0)).numpy()
        self.add_pending(points)
        return points

    def _near_best(self, n: int) -> tf.Tensor:
        """``n`` candidates scattered around the ten best observed points (within about 5% of
        the box): uniform candidates alone are too sparse to exploit in several dimensions."""
        data = self._ask_tell.dataset
        k = min(10, int(data.query_points.shape[0]))
        best = tf.gather(data.query_points, tf.argsort(data.observations[:, 0])[:k])
        width = self.search_space.upper - self.search_space.lower
        centres = tf.gather(best, tf.random.uniform([n], 0, k, dtype=tf.int32))
        points = centres + 0.05 * width * tf.random.normal(centres.shape, dtype=centres.dtype)
        return tf.clip_by_value(points, self.search_space.lower, self.search_space.upper)

    def add_pending(self, x: np.ndarray) -> None:
        """Mark points [N, D] proposed elsewhere as pending, so the rule avoids them."""
        with self._lock:
            self._pending.extend(np.asarray(x, dtype=np.float64).reshape(len(x), -1))

    def forget(self, x: np.ndarray) -> None:
        """Drop points [N, D] that will never be observed from the pending set."""
        with self._lock:
            for point in np.asarray(x, dtype=np.float64).reshape(len(x), -1):
                for i, p in enumerate(self._pending):
                    if np.array_equal(p, point):
                        del self._pending[i]
                        break

    def tell(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add observations x [N, D], y [N, 1] to the model's data; they leave the pending set.

        The hyperparameters stay as they are: :meth:`refit` when :meth:`refit_due` says so.
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.search_space.dimension)
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        self.forget(x)
        self._ask_tell.tell(Dataset(tf.constant(x), tf.constant(y)))

    def refit_due(self) -> bool:
        grown = self.dataset_size - self._fitted_size
        return grown >= max(1, int(self.refit_fraction * self._fitted_size))

    def full_refit_due(self) -> bool:
        """Whether the next :meth:`refit` is a full fit with random restarts (seconds, not
        tenths), which happens once the data has doubled since the last one."""
        return self.dataset_size >= 2 * self._full_fit_size

    def refit(self) -> None:
        """Refit the hyperparameters on all data now: from the current ones, or once the data
        has doubled, from the best of trieste's random starts and the current ones."""
        model = self._ask_tell.model
        gp = model.model
        size = self.dataset_size
        with _BLAS.limit(limits=1, user_api="blas"):
            if self.full_refit_due():
                self._best_random_start()
                self._full_fit_size = size
            self._scipy.minimize(gp.training_loss, gp.trainable_variables, options={"maxiter": 200})
            model.update_posterior_cache()
        self._fitted_size = size

    def _best_random_start(self) -> None:
        """Set the hyperparameters to the best (lowest training loss) of the current ones and
        random draws from their priors, as trieste's ``find_best_model_initialization`` does."""
        gp = self._ask_tell.model.model
        squeeze_hyperparameters(gp)
        best, best_loss = read_values(gp), gp.training_loss()
        for _ in range(self._num_random_starts):
            try:
                loss = self._random_loss()
            except tf.errors.InvalidArgumentError:  # a draw the Cholesky cannot take
                continue
            if loss < best_loss:
                best, best_loss = read_values(gp), loss
        multiple_assign(gp, best)
