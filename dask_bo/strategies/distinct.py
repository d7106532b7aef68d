"""No exact repeats: proposals snapped to the space, and re-drawn while they repeat a point
seen or pending (a repeated point would teach the model nothing)."""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

logger = logging.getLogger("dask_bo")


class Distinct:
    """The points seen so far, and proposals made distinct from them.

    :param dim: D, the encoded dimension.
    :param snap: ``u [N, D] -> u``: the nearest feasible points; ``None``: the cube's.
    :param rng: Draws the perturbations.
    :param warn: ``warn(key, message)``: reports a space with nothing left to try.
    """

    def __init__(self, dim: int, snap: Callable[[np.ndarray], np.ndarray] | None,
                 rng: np.random.Generator, warn: Callable[[str, str], None]):
        self.dim = dim
        self._snap = snap
        self._rng = rng
        self._warn = warn
        self._seen: set[bytes] = set()

    def see(self, x: np.ndarray) -> None:
        """Points [N, D] observed: never proposed again, as they are or snapped."""
        self._seen.update(_key(p) for p in np.concatenate([x, self.snapped(x)]))

    def snapped(self, u: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        return u if self._snap is None else np.asarray(self._snap(u), dtype=np.float64)

    def __call__(self, points: np.ndarray, pending: np.ndarray) -> np.ndarray:
        """Snapped ``points`` [n, D], each re-drawn near itself (then anywhere) while it exactly
        repeats a seen, pending or earlier point."""
        taken = self._seen | {_key(p) for p in pending}
        out = self.snapped(points)
        for i, point in enumerate(out):
            candidate = point
            for attempt in range(60):
                if _key(candidate) not in taken:
                    break
                if attempt < 20:  # perturb, then anywhere: a discrete space may need that
                    scale = 1e-6 * 10 ** (attempt // 4)
                    candidate = point + scale * self._rng.standard_normal(self.dim)
                else:
                    candidate = self._rng.random(self.dim)
                candidate = self.snapped(candidate[None, :])[0]
            else:
                self._warn("exhausted", "every point tried was already evaluated or pending")
            out[i] = candidate
            taken.add(_key(candidate))
        return out


def _key(point: np.ndarray) -> bytes:
    return (np.asarray(point, dtype=np.float64) + 0.0).tobytes()  # + 0.0: -0.0 is 0.0
