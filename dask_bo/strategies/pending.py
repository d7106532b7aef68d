"""The pending set of an asynchronous run: the points the model must avoid, kept by plain
bookkeeping (a failed or lost point leaves it when it is observed)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Hashable

import numpy as np


@dataclass(eq=False)  # compared by identity: a refresh finds its point by it
class ReadyPoint:
    u: np.ndarray  # [D]
    proposal: str
    seen: int  # observations the model had when it asked for the point


class PendingSet:
    """Ready points (asked, not yet sent), points in flight by the caller's key, and results
    observed but not yet told, in the unit cube [0, 1]^D. Not thread-safe: the prefetcher
    holds its lock around every call.

    :param dim: The points' dimension D.
    :param in_flight: Points already out (resumed runs) by key.
    :param taken: Points evaluated before [T, D] (space-filling points avoid them).
    """

    def __init__(self, dim: int, in_flight: dict[Hashable, Any] | None = None, taken: Any = None):
        self.dim = dim
        self.ready: deque[ReadyPoint] = deque()
        self.in_flight = {k: vector(u, dim) for k, u in (in_flight or {}).items()}
        self.arrived: list[tuple[np.ndarray, float]] = []
        self._taken = [vector(u, dim) for u in (() if taken is None else taken)]
        self._taken += self.in_flight.values()

    def points(self, without: ReadyPoint | None = None) -> np.ndarray:
        """Every pending point [P, D]: in flight, ready (but ``without``), observed not told."""
        points = [*self.in_flight.values(), *(e.u for e in self.ready if e is not without)]
        points += [u for u, _ in self.arrived]
        return np.array(points, dtype=np.float64).reshape(-1, self.dim)

    def taken(self) -> np.ndarray:
        """Every point evaluated or handed out [T, D]."""
        return np.array(self._taken, dtype=np.float64).reshape(-1, self.dim)

    def add_ready(self, points: Any, proposal: str, seen: int) -> None:
        self.ready.extend(ReadyPoint(vector(u, self.dim), proposal, seen) for u in points)

    def send(self, key: Hashable, u: Any) -> np.ndarray:
        """``u`` goes out under ``key`` (not in flight already): in flight until observed."""
        u = vector(u, self.dim)
        self.in_flight[key] = u
        self._taken.append(u)
        return u

    def observe(self, key: Hashable, u: Any, y: float | None) -> None:
        """The point under ``key`` is back: its value ``y`` waits to be told (``None``: none)."""
        self.in_flight.pop(key, None)
        if y is not None:
            self.arrived.append((vector(u, self.dim), float(y)))

    def take_arrived(self) -> list[tuple[np.ndarray, float]]:
        arrived, self.arrived = self.arrived, []
        return arrived

    def replace(self, stale: ReadyPoint, fresh: ReadyPoint) -> None:
        """``fresh`` takes ``stale``'s place in the serving order; if ``stale`` was handed out
        meanwhile (it is in flight now), ``fresh`` joins the end."""
        if stale in self.ready:
            self.ready[self.ready.index(stale)] = fresh
        else:
            self.ready.append(fresh)


def vector(u: Any, dim: int) -> np.ndarray:
    """``u`` as a float64 point [D]."""
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    if u.shape != (dim,):
        raise ValueError(f"expected a point of {dim} coordinates, got shape {u.shape}")
    return u
