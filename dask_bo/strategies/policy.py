"""What the model thread does next, as pure functions of what it has measured.

The thread (:class:`~dask_bo.strategies.prefetch.Prefetcher`) keeps points ready for the next
free worker. Each decision here reads a frozen :class:`PolicyState` (the workers' recent
evaluation durations, the model's step times, the worker threads, the ready points) and
returns a number or a small action; nothing here calls the model, takes a lock or reads a
clock, so the decisions are tested in simulated time.

- Two ready points absorb results that arrive together; when a worker finds none ready, one
  more is kept ready from then on, up to one per worker thread (:func:`grown_target`).
- A model step that workers would wait for (each first ask of a size that traces, an ask of
  several points, a refit) is covered beforehand by points from one cheap Thompson sample, as
  many as busy workers will want during the step's expected time (:func:`cover`), once a
  step of its kind has been timed (a first ask: from the build's time).
- Workers waiting for points wait for the rule's ask when it is quick against an evaluation
  (:func:`quick_ask`); else all but one get Thompson points (:func:`refill`).
- A ready point was asked before the latest results; when the model has time to spare, the
  first of the next two such points is asked again (:func:`stale_index`).
- A free worker with no point ready gets a space-filling point while the exploration budget
  lasts, else waits for the model (:func:`serve`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

ASK_BATCH = 4
"""The most rule points asked at once: a greedy batch shares one estimate of the
acquisition's landscape (Local Penalization's Lipschitz constant), and a small one keeps the
next tell close."""

INITIAL_TARGET = 2
"""Ready points kept at first: two absorb results that arrive together."""

FIRST_ASK_FACTOR = 2.5
"""A first ask traces the acquisition function: before one was timed, it is covered for this
many times the build."""

TRACE_FACTOR = 1.5
"""Later first asks (other sizes) are covered for this many times the latest one."""

COVER_PER_THREAD = 2
"""A cover readies at most this many points per worker thread: a step (a first ask's trace)
can outlast one evaluation, and a longer one is better served by the model's next point than
by ever more points from one old sample."""

REFIT_FACTOR = 1.5
"""A refit is covered for this many times its kind's last measured duration."""

FULL_OVER_WARM = 2.0
"""A full refit not yet timed takes this many warm refits: its random starts cost a few
loss evaluations before the same minimization. (The build is no guide: it traces the fit.)"""

WAIT_SHARE = 0.1
"""Waiting workers wait for the rule's ask if it takes at most this share of an evaluation:
a rule point is worth more than a Thompson point."""

SPARE_ASKS = 3
"""A stale point is asked again only if this many asks fit between two results."""

STALE_WINDOW = 2
"""Only this many of the next ready points are asked again: with many ready, refreshing them
all after every result would keep the model busy."""

RECENT_DURATIONS = 32
"""The busy rate averages this many of the latest evaluation durations."""

MIN_DURATION_S = 1e-3
"""Shorter evaluation durations count as this (a zero would make the busy rate infinite)."""


@dataclass(frozen=True)
class StepTimes:
    """The model's latest measured step times, s.

    :param build_s: Building the model (its first, full, fit).
    :param ask_s: One point of the latest timed ask (``inf`` before one: asks are not
        covered until measured).
    :param warm_refit_s: The latest refit from the current hyperparameters (0 before one:
        not covered until measured).
    :param full_refit_s: The latest full refit (random restarts); ``None`` before one:
        :data:`FULL_OVER_WARM` warm refits.
    :param trace_s: The latest first ask (one that traced), whole; ``None`` before one.
    """

    build_s: float = 1.0
    ask_s: float = math.inf
    warm_refit_s: float = 0.0
    full_refit_s: float | None = None
    trace_s: float | None = None

    def first_ask_s(self) -> float:
        """What a first ask is covered for: 1.5 times the last one, else 2.5 builds."""
        if self.trace_s is None:
            return FIRST_ASK_FACTOR * self.build_s
        return TRACE_FACTOR * self.trace_s

    def refit_s(self, full: bool) -> float:
        if not full:
            return self.warm_refit_s
        return FULL_OVER_WARM * self.warm_refit_s if self.full_refit_s is None else self.full_refit_s


@dataclass(frozen=True)
class PolicyState:
    """A snapshot of what the model thread knows.

    :param capacity: Worker threads in the cluster now.
    :param durations_s: The latest evaluations' durations, s (any status), oldest first.
    :param steps: The model's step times.
    :param ready_seen: For each ready point, in serving order, the number of observations the
        model had when it asked for it.
    :param dataset_size: Observations the model has now.
    :param target: Ready points to keep.
    :param model: Whether the model exists (is built and has not failed for good).
    :param failed: Whether the model failed for good (its build, or an ask and the Thompson
        sample standing in for it, raised): workers get space-filling points from then on.
    :param explore_left: Space-filling points the budget still allows.
    """

    capacity: int
    durations_s: tuple[float, ...] = ()
    steps: StepTimes = field(default_factory=StepTimes)
    ready_seen: tuple[int, ...] = ()
    dataset_size: int = 0
    target: int = INITIAL_TARGET
    model: bool = False
    failed: bool = False
    explore_left: int = 0

    @property
    def ready(self) -> int:
        return len(self.ready_seen)


@dataclass(frozen=True)
class Refill:
    """Points to ready now: ``thompson`` from one Thompson sample first (for workers that are
    waiting or will free up during the ask), then ``ask`` from the rule."""

    thompson: int = 0
    ask: int = 0


def explore_budget(evaluations: int, fraction: float, slots: int) -> int:
    """Space-filling points a run may hand out while its model is not ready: ``fraction`` of
    the budget, but at least one per slot, so that no worker waits for the first build (the
    cap keeps a run of cheap evaluations from being all exploration)."""
    return min(evaluations, max(int(fraction * evaluations), slots))


def busy_rate(state: PolicyState) -> float | None:
    """Results a second while every worker thread is busy: threads over the mean recent
    duration (``None`` before any). The rate of arrivals would undercount exactly when the
    model has starved the workers."""
    if not state.durations_s:
        return None
    return max(state.capacity, 1) / statistics.fmean(state.durations_s)


def demand(state: PolicyState, seconds: float, per_thread: int = 1) -> int:
    """How many points busy workers will want within ``seconds``, at most ``per_thread``
    per thread (one per thread before any duration is known)."""
    rate = busy_rate(state)
    if rate is None:
        return state.capacity
    return min(per_thread * state.capacity, math.ceil(rate * seconds))


def cover(state: PolicyState, seconds: float, explore: int = 0) -> int:
    """Thompson points to ready before a model step of ``seconds``: the points workers will
    want meanwhile (up to :data:`COVER_PER_THREAD` per thread), less the ready points and
    ``explore`` space-filling ones."""
    return max(0, demand(state, seconds, COVER_PER_THREAD) - state.ready - explore)


def first_asks(state: PolicyState, traced: tuple[int, ...]) -> tuple[int, ...]:
    """The sizes of the first asks, made untimed right after the build: each of the rule's
    ``traced`` sizes traces its acquisition function once (a greedy rule asks in chunks of
    one point and of :data:`ASK_BATCH`), and a batch is asked only where the ready points can
    grow to one (four worker threads)."""
    most = max(INITIAL_TARGET, state.capacity)
    return tuple(n for n in traced if n <= most)


def first_cover(state: PolicyState) -> int:
    """Thompson points before each first ask (:meth:`StepTimes.first_ask_s`); exploration
    serves workers while its budget lasts. Each ask is covered on its own, when the one
    before has shown how long a trace takes."""
    return cover(state, state.steps.first_ask_s(), max(state.explore_left, 0))


def refit_cover(state: PolicyState, full: bool) -> int:
    """Thompson points before a refit (``full``: with random restarts), at 1.5 times the last
    one of its kind."""
    return cover(state, REFIT_FACTOR * state.steps.refit_s(full))


def quick_ask(state: PolicyState, n: int) -> bool:
    """Whether the rule's ask of ``n`` points, timed, takes at most :data:`WAIT_SHARE` of a
    recent evaluation."""
    if not state.durations_s or not math.isfinite(state.steps.ask_s):
        return False
    return n * state.steps.ask_s <= WAIT_SHARE * statistics.fmean(state.durations_s)


def refill(state: PolicyState, wanted: int) -> Refill:
    """What to ready when ``wanted`` points are missing (the target less the ready points,
    when the thread woke). If workers are waiting (none ready), all but one come from one
    Thompson sample at once, unless the rule's ask is quick (:func:`quick_ask`); the rule
    asks at most :data:`ASK_BATCH`, covered by Thompson points for the workers that free up
    during the ask (once an ask has been timed)."""
    thompson = 0
    if wanted > 1 and state.ready == 0:
        batch = min(wanted, ASK_BATCH)
        thompson = wanted - batch if quick_ask(state, batch) else wanted - 1
    n = min(wanted - thompson, ASK_BATCH)
    if n <= 0:
        return Refill()
    if math.isfinite(state.steps.ask_s):
        short = demand(state, n * state.steps.ask_s) - state.ready - thompson
        thompson += max(0, short)
    return Refill(thompson=thompson, ask=n)


def grown_target(state: PolicyState) -> int:
    """The ready points to keep after a worker asked for one: one more if none was ready
    while the model exists (it has fallen behind), up to one per worker thread."""
    if state.ready == 0 and state.model:
        return min(state.target + 1, max(INITIAL_TARGET, state.capacity))
    return state.target


def serve(state: PolicyState) -> str:
    """How to serve a free worker: ``"ready"`` (a ready point), ``"explore"`` (a
    space-filling point, while the budget lasts or for good once the model has failed), or
    ``"wait"`` (for the model's next point: a run of cheap evaluations would otherwise be all
    exploration)."""
    if state.ready:
        return "ready"
    if state.explore_left > 0 or state.failed:
        return "explore"
    return "wait"


def time_to_spare(state: PolicyState) -> bool:
    """Whether results arrive slowly enough that the model could ask three points between
    two of them. Otherwise asking again takes time that telling results and refilling
    workers need."""
    rate = busy_rate(state)
    return rate is not None and 1 / rate > SPARE_ASKS * state.steps.ask_s


def stale_index(state: PolicyState) -> int | None:
    """The index of the first of the next two ready points asked before the latest results,
    if the model has time to ask it again; else ``None``."""
    if not state.model or not time_to_spare(state):
        return None
    window = state.ready_seen[:STALE_WINDOW]
    return next((i for i, seen in enumerate(window) if seen < state.dataset_size), None)


def has_work(state: PolicyState, arrived: bool) -> bool:
    """Whether the thread has something to do: results to tell, or (with a model) ready
    points to add or to ask again."""
    if arrived:
        return True
    if not state.model:
        return False
    return state.ready < state.target or stale_index(state) is not None
