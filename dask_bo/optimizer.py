"""The former ask/tell core, kept as a shim over :class:`dask_bo.strategies.Strategy` until the
drivers use strategies directly: the old API in the problem's own box, with the pending points
kept here (a :class:`Strategy` keeps none).
"""

from __future__ import annotations

import threading

import numpy as np

from .strategies import Strategy

__all__ = ["AcquisitionMaximizer", "Optimizer"]


def __getattr__(name: str):
    if name == "AcquisitionMaximizer":  # its old home; importing it imports TensorFlow
        from .model import configure

        configure()
        from .model.maximizer import AcquisitionMaximizer

        return AcquisitionMaximizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Optimizer:
    """Gaussian-process BO with Local Penalization over a box, asynchronous or in batches.

    :param lower: Lower bounds [D].
    :param upper: Upper bounds [D].
    :param x: Initial points [N, D], N >= 1.
    :param y: Their values [N, 1].
    :param asynchronous: ``True``: asks take the pending points into account; ``False``:
        synchronous batches of ``batch_size``.
    :param batch_size: The synchronous batch size.
    :param refit_fraction: See :class:`~dask_bo.strategies.Strategy`.
    :param num_samples: Unused (Local Penalization's Lipschitz samples are the rule's own).
    :param rule: The strategy's rule (see :data:`dask_bo.strategies.RULES`).
    """

    def __init__(
        self, lower, upper, x: np.ndarray, y: np.ndarray, *, asynchronous: bool = True,
        batch_size: int = 1, refit_fraction: float = 0.1, num_samples: int = 2000,
        rule: str = "local-penalization", seed: int | None = None,
    ):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        if x.ndim != 2 or len(x) < 1 or len(x) != len(y):
            raise ValueError(
                f"initial data needs x [N, D] and y [N, 1] with N >= 1, got x {x.shape}"
                f" and y {y.shape}"
            )
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        self.asynchronous = asynchronous
        self.strategy = Strategy(
            x.shape[1], self._unit(x), y, rule=rule, asynchronous=asynchronous,
            batch_size=batch_size, refit_fraction=refit_fraction, seed=seed,
        )
        self._pending: list[np.ndarray] = []
        # Drivers add and drop pending points from the thread that runs the loop while another
        # thread asks: the list is the only state they share.
        self._lock = threading.Lock()

    def _unit(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.lower) / (self.upper - self.lower)

    def _box(self, u: np.ndarray) -> np.ndarray:
        return self.lower + u * (self.upper - self.lower)

    @property
    def dataset_size(self) -> int:
        return self.strategy.dataset_size

    @property
    def pending_points(self) -> np.ndarray:
        """Points asked for and not yet observed or forgotten [P, D]."""
        with self._lock:
            return np.array(self._pending).reshape(-1, len(self.lower))

    def ask(self, n: int = 1) -> np.ndarray:
        """The next ``n`` points [n, D], which become pending (asynchronous mode); in
        synchronous mode a batch of ``n``."""
        if not self.asynchronous:
            return self._box(self.strategy.ask(n))
        points = self._box(self.strategy.ask(n, self._unit(self.pending_points)))
        self.add_pending(points)
        return points

    def ask_thompson(self, n: int, num_candidates: int = 1000) -> np.ndarray:
        """``n`` points [n, D] from one joint posterior sample (see
        :meth:`Strategy.ask_thompson`); they become pending like asked points."""
        points = self._box(self.strategy.ask_thompson(n, self._unit(self.pending_points)))
        self.add_pending(points)
        return points

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
        """Add observations x [N, D], y [N, 1]; they leave the pending set."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, len(self.lower))
        self.forget(x)
        self.strategy.tell(self._unit(x), y)

    def refit_due(self) -> bool:
        return self.strategy.refit_due()

    def full_refit_due(self) -> bool:
        return self.strategy.full_refit_due()

    def refit(self) -> None:
        self.strategy.refit()
