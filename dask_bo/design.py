"""What a run evaluates before its model exists, and the hand-over to the model.

The initial design goes out at once. In asynchronous mode a worker that frees up before the
whole design is back gets a space-filling point (``explore``), within the exploration budget;
once the design is back, the model's prefetcher takes over (:mod:`dask_bo.strategies.prefetch`).
In synchronous mode the first batch waits for the whole design (:mod:`dask_bo.strategies.batch`).
Either way the model is built only from data it can fit: while the successful values hold
fewer than two distinct numbers, more space-filling points go out, within the budget.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Callable

import numpy as np

from .config import Settings
from .capacity import in_flight_limit
from .loop import Proposal
from .strategies.policy import explore_budget
from .records import INITIAL, Evaluation, observations

logger = logging.getLogger("dask_bo")

MIN_DISTINCT_VALUES = 2
"""Successful values a GP needs to fit a variance."""


def fittable(records: list[Evaluation]) -> bool:
    """Whether the successful values hold at least two distinct numbers."""
    return len({r.y for r in records if r.ok}) >= MIN_DISTINCT_VALUES


class Design:
    """The loop's proposer: the initial design, then the model's.

    :param space: The search space (encoding and decoding, sampling).
    :param settings: Mode, rule, model, seed, budget.
    :param records: What the run knows already (initial data, a resumed run's history).
    :param make_strategy: ``(u [N, E], y [N, 1]) -> Strategy``; values lower-is-better.
    :param threads: Worker threads now (for the prefetcher's capacity).
    :param in_flight: Submissions a stopped driver left in flight (``id``, ``x``,
        ``proposal``): pending for the model, sent again by the loop.
    :param wake: Called from another thread once the model has a point for a :meth:`suggest`
        that stopped short (:attr:`waiting`), so that the loop, which went on collecting
        results meanwhile, fills the free slot.
    """

    def __init__(
        self, space: Any, settings: Settings, records: list[Evaluation],
        make_strategy: Callable[[np.ndarray, np.ndarray], Any], threads: Callable[[], int],
        in_flight: list[dict] = (), wake: Callable[[], None] = lambda: None,
    ):
        self.space, self.settings = space, settings
        self._wake = wake
        self.waiting = False
        """Whether the last :meth:`suggest` stopped short for a point the model is readying."""
        self.records = list(records)
        self._make_strategy = make_strategy
        self._threads = threads
        self._sign = -1.0 if settings.maximize else 1.0
        self._rng = np.random.default_rng(None if settings.seed is None else settings.seed + 1)
        self._in_flight: dict[Any, np.ndarray] = {("id", s["id"]): self._encode(s["x"]) for s in in_flight}
        self._initial_out = sum(s["proposal"] == INITIAL for s in in_flight)
        self._tokens = itertools.count()
        self._explore_left = explore_budget(settings.evaluations, settings.explore_fraction,
                                            in_flight_limit(threads(), settings.max_in_flight))
        self._model: Any = None  # a Prefetcher (async) or a BatchProposer (sync)
        self._warned = False

    def _encode(self, x) -> np.ndarray:
        return self.space.encode(np.asarray([x], dtype=np.float64))[0]

    def _decode(self, u: np.ndarray) -> list[float]:
        return [float(v) for v in self.space.decode(np.asarray(u)[None, :])[0]]

    def initial(self, n: int) -> list[Proposal]:
        """The initial design: ``n`` space-filling points (seeded), out at once."""
        points = self.space.sample(n, self.settings.seed)
        proposals = [Proposal([float(v) for v in x], INITIAL) for x in points]
        for p in proposals:
            p.token = ("initial", next(self._tokens))
            self._in_flight[p.token] = self._encode(p.x)
        self._initial_out += len(proposals)
        return proposals

    def resumed(self, pending: list[dict]) -> list[Proposal]:
        """Proposals for the points a stopped driver left in flight, under their own ids."""
        return [Proposal(list(s["x"]), s["proposal"], token=("id", s["id"]), id=s["id"]) for s in pending]

    # -- the loop's side ----------------------------------------------------------------
    def suggest(self, n: int, wait: bool = False) -> list[Proposal]:
        """Up to ``n`` points; fewer (:attr:`waiting`) if the model's next point is not ready,
        unless ``wait``: then wait for it."""
        if self._model is None and not self._start_model():
            return self._explore(n)
        if self.settings.mode == "sync":
            return self._model.suggest(n)
        self._model.capacity = self._threads()
        out = []
        self.waiting = False
        for _ in range(n):
            point = self._model.next_point(block=wait)
            if point is None:  # the model's next point is not ready: collect results meanwhile
                self.waiting = True
                break
            key, u, proposal = point
            out.append(Proposal(self._decode(u), proposal, token=key))
        return out

    def interrupt(self) -> None:
        """From any thread: the run is stopping, so :meth:`suggest` must not wait for the model."""
        interrupt = getattr(self._model, "interrupt", None)
        if interrupt is not None:
            interrupt()

    def tell(self, proposal: Proposal, record: Evaluation) -> None:
        self.records.append(record)
        if proposal.proposal == INITIAL and proposal.token in self._in_flight:
            self._initial_out = max(0, self._initial_out - 1)
        u = self._in_flight.pop(proposal.token, None)
        if self._model is None:
            return
        if self.settings.mode == "sync":
            self._model.tell(proposal, record)
            return
        y = self._sign * record.y if record.ok else None
        self._model.observe(proposal.token, self._encode(record.x) if u is None else u, y, record.duration_s)

    def stop(self) -> Any:
        """Stop the model's thread; :return: the strategy (``None`` if never built)."""
        return None if self._model is None else self._model.stop()

    # -- before the model ---------------------------------------------------------------
    def _start_model(self) -> bool:
        if self._initial_out or not fittable(self.records):
            return False
        u, y = self.data()
        if self.settings.mode == "sync":
            if self._in_flight:
                return False  # a batch begins with everything back
            from .strategies.batch import BatchProposer

            self._model = BatchProposer(self._make_strategy(u, y), self.space, self.settings.maximize)
            return True
        from .strategies.prefetch import Prefetcher

        self._model = Prefetcher(
            lambda: self._make_strategy(u, y), capacity=self._threads(),
            max_explore=self._explore_left,
            space_filling=self._space_filling,
            dim=self.space.encoded_dim, in_flight=dict(self._in_flight), taken=self._taken(),
            wake=self._wake,
        )
        self._model.start()
        return True

    def _space_filling(self, taken_u: np.ndarray) -> np.ndarray:
        """A feasible point far from those taken [T, E]. :return: u [E]."""
        taken_x = self.space.decode(taken_u) if len(taken_u) else np.zeros((0, self.space.dim))
        return self._encode(self.space.space_filling(taken_x, self._rng))

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = observations(self.records)
        return self.space.encode(x), self._sign * y

    def _taken(self) -> np.ndarray:
        known = [self._encode(r.x) for r in self.records] + list(self._in_flight.values())
        return np.array(known).reshape(-1, self.space.encoded_dim)

    def _explore(self, n: int) -> list[Proposal]:
        """Space-filling points for free workers before the model exists: in asynchronous
        mode while the initial design is out (within the exploration budget), in both modes
        while the data cannot be fitted (within the evaluation budget)."""
        unfittable = not self._initial_out and not fittable(self.records)
        if unfittable and not self._warned:
            self._warned = True
            ok = len([r for r in self.records if r.ok])
            logger.warning(
                "the initial design gave %d successful evaluation%s with fewer than %d distinct"
                " values: drawing space-filling points (from the evaluations budget) until the"
                " model can be fitted", ok, "" if ok == 1 else "s", MIN_DISTINCT_VALUES,
            )
        if self.settings.mode == "sync" and (self._in_flight or not unfittable):
            return []  # a batch begins with everything back
        if not unfittable:
            n = min(n, self._explore_left)
            self._explore_left -= n
        out = []
        for _ in range(max(n, 0)):
            x = self._decode(self._space_filling(self._taken()))
            p = Proposal(x, "explore", token=("explore", next(self._tokens)))
            self._in_flight[p.token] = self._encode(x)
            out.append(p)
        return out


_importing = threading.Lock()


def import_model_stack() -> None:
    """Import TensorFlow, GPflow and trieste (seconds), in one thread at a time: trieste's
    packages import each other, and two threads importing them at once can see one
    half-initialized."""
    with _importing:
        from .model import configure

        configure()
        import trieste.acquisition.rule  # noqa: F401
        import trieste.models.gpflow  # noqa: F401


def strategy_factory(space, settings: Settings, threads: Callable[[], int]):
    """``(u [N, E], y [N, 1]) -> Strategy`` for ``settings`` over ``space``; ``threads``
    sizes a synchronous batch."""

    def make(u, y):
        import_model_stack()
        from .strategies import Strategy, feasible

        return Strategy(
            space.encoded_dim, u, y, rule=settings.rule, asynchronous=settings.mode == "async",
            batch_size=threads(), model=settings.model, seed=settings.seed,
            refit_fraction=settings.refit_fraction, **feasible(space),
        )

    return make
