"""Strategy: a model and a rule over the encoded unit cube; it owns no pending state."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Rule
from .distinct import Distinct

logger = logging.getLogger("dask_bo")

MODELS = ("auto", "exact", "sparse")
SPARSE_THRESHOLD = 1000
"""``model="auto"`` switches to the sparse model past this many observations."""

_STEP_FAILURES: tuple[type[BaseException], ...] = (ValueError, ArithmeticError, np.linalg.LinAlgError)


class Strategy:
    """Proposes points for a run: the model (exact GP, or sparse past a threshold) and a rule.

    It works on the encoded unit cube [0, 1]^D and holds the observations, not the pending
    points: the caller gives those to every :meth:`ask`. Values are "lower is better".

    :param dim: D, the encoded dimension.
    :param x: Observed points [N, D] in the unit cube (N may be 0: random points until data).
    :param y: Their values [N, 1].
    :param rule: A name in :data:`dask_bo.strategies.RULES`.
    :param asynchronous: ``True``: points for free workers, given the pending ones; ``False``:
        synchronous batches of ``n``.
    :param batch_size: The synchronous batch size (the usual ``n``).
    :param model: ``"exact"`` (GPR), ``"sparse"`` (SGPR, bounded cost) or ``"auto"`` (exact up
        to ``sparse_threshold`` observations, then sparse, for the rules that can).
    :param seed: Makes asked points reproducible (seeds TensorFlow's global generator and ours).
    :param snap: ``u [N, D] -> u``: the projection onto the feasible points (a space's
        ``snap``); default: clip to the cube.
    :param categorical: [D] booleans: the categoricals' one-hot columns (a space's
        ``categorical_columns``).
    :param refit_fraction: Refit hyperparameters once the data has grown by this fraction
        since the last fit (at least one point); 0 refits on every tell. A full fit (random
        restarts) happens once the data has doubled since the last one.
    :param sparse_threshold: See ``model``.
    :param num_inducing: The sparse model's inducing points.
    """

    def __init__(
        self,
        dim: int,
        x: np.ndarray,
        y: np.ndarray,
        *,
        rule: str = "local-penalization",
        asynchronous: bool = True,
        batch_size: int = 1,
        model: str = "auto",
        seed: int | None = None,
        snap: Callable[[np.ndarray], np.ndarray] | None = None,
        categorical: Any = None,
        refit_fraction: float = 0.1,
        sparse_threshold: int = SPARSE_THRESHOLD,
        num_inducing: int | None = None,
    ):
        from . import RULES

        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"expected a dimension dim >= 1, got {dim!r}")
        if rule not in RULES:
            raise ValueError(f"expected a rule in {sorted(RULES)}, got {rule!r}")
        if model not in MODELS:
            raise ValueError(f"expected model in {MODELS}, got {model!r}")
        rule_class: type[Rule] = RULES[rule]
        if model == "sparse" and not rule_class.supports_sparse:
            sparse_rules = sorted(name for name, r in RULES.items() if r.supports_sparse)
            raise ValueError(
                f"rule {rule!r} cannot run on the sparse model: use model='exact' (or 'auto'),"
                f" or one of {sparse_rules}"
            )
        from ..model import configure

        configure()
        if seed is not None:
            import tensorflow as tf

            tf.random.set_seed(seed)  # trieste's samplers and the maximizer draw from it
        self.dim = int(dim)
        self.rule_name = rule
        self.asynchronous = asynchronous
        self.batch_size = batch_size
        self.model_kind = model
        self.refit_fraction = refit_fraction
        self.sparse_threshold = sparse_threshold
        self.num_inducing = num_inducing
        self._snap = snap
        self._categorical = categorical
        self._rng = np.random.default_rng(seed)
        self.rule = rule_class(self.dim, self._rng)
        self._distinct = Distinct(self.dim, snap, self._rng, self._warn)
        self._x = np.zeros((0, self.dim))
        self._y = np.zeros((0, 1))
        self._warned: set[str] = set()
        self.model: Any = None  # a dask_bo.model.gp.GPModel once built
        self._fitted_size = self._full_fit_size = 0
        self.tell(x, y)
        if self.model is not None:
            self.refit()

    # -- data ------------------------------------------------------------------------------

    @property
    def traced_sizes(self) -> tuple[int, ...]:
        """The asynchronous ask sizes whose first call traces (:attr:`Rule.traced_sizes`)."""
        return self.rule.traced_sizes

    @property
    def dataset_size(self) -> int:
        return len(self._x)

    def tell(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add observations x [N, D] (unit cube), y [N, 1]. Hyperparameters stay as they are:
        :meth:`refit` when :meth:`refit_due` says so.

        The first observations of a rule that needs a model build the model; a point told is
        never proposed again (exactly).

        :param x: [N, D] the observed points, in the encoded unit cube (N may be 0: nothing
            happens).
        :param y: [N, 1] (or [N]) their values, lower is better.
        :raise ValueError: ``x`` is not [N, D], or ``y`` has not one value per point.
        """
        x = self._points(x, "x")
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        if len(y) != len(x):
            raise ValueError(f"expected one value per point in y, got {len(y)} for {len(x)} points")
        if not len(x):
            return
        self._x, self._y = np.concatenate([self._x, x]), np.concatenate([self._y, y])
        self._distinct.see(x)
        if not self.rule.needs_model:
            return
        if self.model is None:
            large = self.model_kind == "auto" and self.dataset_size > self.sparse_threshold
            self._build(sparse=self.model_kind == "sparse" or (large and self.rule.supports_sparse))
        else:
            self.model.set_data(self._x, self._y)

    def _build(self, sparse: bool) -> None:
        """A new model on all data (``None`` if it cannot be built: built again on the next
        tell; proposals are random meanwhile)."""
        import tensorflow as tf

        from ..model.gp import NUM_INDUCING, GPModel
        from ..model.maximizer import EncodedCube

        self.rule.reset()
        self._full_fit_size = self._fitted_size = 0
        try:
            self.model = GPModel(
                self._x, self._y, sparse=sparse, num_inducing=self.num_inducing or NUM_INDUCING,
                warn=self._warn, rng=self._rng,
                cube=EncodedCube(self.dim, self._snap, self._categorical),
            )
        except (tf.errors.OpError, *_STEP_FAILURES) as error:
            self.model = None
            self._warn("build-failed", f"the model cannot be built on this data ({error!r:.160});"
                       " proposals are random until it can")

    # -- refits ----------------------------------------------------------------------------

    def _sparse_due(self) -> bool:
        return (
            self.model is not None and self.model_kind == "auto" and not self.model.sparse
            and self.rule.supports_sparse and self.dataset_size > self.sparse_threshold
        )

    def refit_due(self) -> bool:
        if self.model is None:
            return False
        grown = self.dataset_size - self._fitted_size
        return self._sparse_due() or grown >= max(1, int(self.refit_fraction * self._fitted_size))

    def full_refit_due(self) -> bool:
        """Whether the next :meth:`refit` is a full fit with random restarts (seconds, not
        tenths): once the data has doubled since the last one, or the model turns sparse."""
        if self.model is None:
            return False
        return self._sparse_due() or self.dataset_size >= 2 * self._full_fit_size

    def refit(self) -> None:
        """Fit the hyperparameters on all data now (see :meth:`full_refit_due`); with
        ``model="auto"`` past the threshold, the model becomes sparse here."""
        if self.model is None:
            return
        if self._sparse_due():
            self._build(sparse=True)
        full = self.full_refit_due()
        self.model.refit(full)
        if full:
            self._full_fit_size = self.dataset_size
        self._fitted_size = self.dataset_size

    # -- proposals -------------------------------------------------------------------------

    def ask(self, n: int, pending: np.ndarray | None = None) -> np.ndarray:
        """The rule's next ``n`` points [n, D], snapped, none an exact duplicate of a pending,
        observed or another returned point.

        Without a usable model (no data yet, or a model that cannot take the data) the points
        are random; if the rule's step fails on the data, :meth:`ask_thompson`'s samples serve.

        :param n: How many points (an integer >= 0; 0 gives an empty [0, D]).
        :param pending: Points [P, D] being evaluated: taken into account by the rules that
            do (asynchronous mode; see each rule's description), never proposed again.
        :raise ValueError: ``n`` is not an integer >= 0, or ``pending`` is not [P, D].
        """
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"expected a number of points n >= 0, got {n!r}")
        pending = self._points(pending, "pending")
        if n == 0:
            return np.zeros((0, self.dim))
        points = None
        if not self.rule.needs_model:
            points = self.rule.propose(n, pending, None, self.asynchronous)
        elif self.model is not None and self.model.usable:
            points = self._guarded("ask", lambda: self.rule.propose(n, pending, self.model, self.asynchronous))
        if points is None or np.shape(points) != (n, self.dim) or not np.isfinite(points).all():
            points = self._cheap(n)
        return self._distinct(points, pending)

    def ask_thompson(self, n: int, pending: np.ndarray | None = None) -> np.ndarray:
        """``n`` points [n, D] in one go, each the minimizer of one joint posterior sample over
        the same candidates: far cheaper than :meth:`ask`, for when workers outpace the model.
        Random points when there is no usable model.

        :param n: How many points (an integer >= 0; 0 gives an empty [0, D]).
        :param pending: Points [P, D] being evaluated (unit cube), or ``None``: the samples
            do not condition on them, but none is proposed again.
        :raise ValueError: ``n`` is not an integer >= 0, or ``pending`` is not [P, D].
        """
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"expected a number of points n >= 0, got {n!r}")
        if n == 0:
            return np.zeros((0, self.dim))
        return self._distinct(self._cheap(n), self._points(pending, "pending"))

    def _cheap(self, n: int) -> np.ndarray:
        if self.model is not None and self.model.usable:
            from .thompson import joint_thompson

            points = self._guarded("thompson", lambda: joint_thompson(self.model, n, self._rng))
            if points is not None:
                return points
        return self._rng.random((n, self.dim))

    def _guarded(self, step: str, propose: Callable[[], np.ndarray]) -> np.ndarray | None:
        """``propose()``, or ``None`` (with one warning) when the model cannot take the data."""
        import tensorflow as tf

        from ..model import blas_single_thread

        try:
            with blas_single_thread():
                return propose()
        except (tf.errors.OpError, *_STEP_FAILURES) as error:
            self._warn(
                f"{step}-failed",
                f"{self.rule_name}: the model's {step} failed ({type(error).__name__}:"
                f" {str(error).strip()[:120]}); cheaper proposals serve this step",
            )
            return None

    # -- helpers ---------------------------------------------------------------------------

    def _points(self, x: np.ndarray | None, name: str) -> np.ndarray:
        if x is None:
            return np.zeros((0, self.dim))
        x = np.asarray(x, dtype=np.float64)
        if x.size == 0:
            return np.zeros((0, self.dim))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected {name} of shape [N, {self.dim}], got {x.shape}")
        return x

    def _warn(self, key: str, message: str) -> None:
        """Log ``message`` once per strategy for each ``key``."""
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

