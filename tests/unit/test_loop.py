"""The one loop with a fake backend and a fake clock: budget, slots, stopping rules, latency."""

from __future__ import annotations

from collections import deque

import pytest

from dask_bo.config import Settings
from dask_bo.events import Event
from dask_bo.capacity import in_flight_limit
from dask_bo.loop import Loop, Proposal, StopSignal
from dask_bo.records import Evaluation
from dask_bo.result import Result


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeFuture:
    status = "finished"

    def __init__(self, key):
        self.key = key

    def release(self):
        pass


class Completed:
    """Yields the oldest future still out, as if it had just finished (FIFO)."""

    def __init__(self, backend):
        self.backend = backend
        self.queue = deque()

    def add(self, future):
        self.queue.append(future)

    def __iter__(self):
        while self.queue:
            future = self.queue.popleft()
            self.backend.clock.now += self.backend.duration_s
            yield future, self.backend.results[future.key]


class FakeBackend:
    def __init__(self, clock, threads=3, duration_s=1.0, y=lambda x: sum(x)):
        self.clock, self.duration_s, self.y = clock, duration_s, y
        self._threads = threads
        self.threads_over_time = [(clock(), threads)]
        self.results = {}
        self.submitted = []
        self.cancelled = []

    def threads(self):
        return self._threads

    def follow_workers(self, wake):
        self.wake = wake

    def unfollow_workers(self, completed=None):
        pass

    def completed(self, futures=()):
        return Completed(self)

    def submit(self, x, eval_id, proposal, submitted_at):
        future = FakeFuture(eval_id)
        self.submitted.append((eval_id, proposal))
        y = self.y(x)
        self.results[eval_id] = Evaluation(
            id=eval_id, x=tuple(x), y=y, status="ok" if y is not None else "failed", proposal=proposal,
            submitted_at=submitted_at, started_at=submitted_at, finished_at=submitted_at + self.duration_s,
            duration_s=self.duration_s, error=None if y is not None else "ValueError: no",
        )
        return future

    def record(self, future, value, fields):
        return value

    def cancel(self, futures):
        self.cancelled += futures


class Counter:
    """Proposes 0.1, 0.2, ... and remembers what it was told."""

    waiting = False

    def __init__(self):
        self.n = 0
        self.told = []

    def suggest(self, n, wait=False):
        out = []
        for _ in range(n):
            self.n += 1
            out.append(Proposal([self.n / 10], "rule"))
        return out

    def tell(self, proposal, record):
        self.told.append(record.id)

    def interrupt(self):
        pass


class NullBar:
    def update(self, *a, **k):
        pass


def make(settings, backend=None, clock=None, **kwargs):
    clock = clock or Clock()
    backend = backend or FakeBackend(clock)
    result = Result(mode=settings.mode, problem="p", workers=3, seed=0, history=[], started_at=clock())
    events = []
    loop = Loop(backend, kwargs.pop("proposer", Counter()), settings, result,
                write=lambda kind, **f: events.append((kind, f)), publish=lambda *a, **k: None,
                progress=NullBar(), clock=clock, **kwargs)
    return loop, backend, result, events


def test_the_budget_is_spent_exactly_with_every_slot_busy():
    loop, backend, result, events = make(Settings(evaluations=10))
    loop.run()
    assert len(result.history) == 10 and loop.remaining == 0
    assert loop.proposer.told == [e.id for e in result.history]
    submitted = [k for k, _ in events if k == Event.SUBMITTED]
    assert len(submitted) == 10
    assert [k for k, _ in events].count(Event.DRIVER_STARTED) == 1
    # Results arrive one at a time: each lets exactly one point out, at once.
    assert len(result.dispatch_latencies_s) == 10 - in_flight_limit(3, None)
    assert max(result.dispatch_latencies_s) == 0


def test_on_a_cluster_that_grew_the_loop_holds_work_for_one_thread_more():
    """4 threads (grown from 1), evaluations of 1 s, a 5 s target: (4 + 1) * 5 / 1 = 25
    evaluations would be wanted, two per thread are held (8); a fixed cluster holds 4 + 1."""
    for history, most in (([(0.0, 4)], 5), ([(0.0, 1), (1.0, 4)], 8)):
        clock = Clock()
        backend = FakeBackend(clock, threads=4)
        backend.threads_over_time = history
        loop, backend, result, _ = make(Settings(evaluations=30), backend=backend, clock=clock)
        peaks = []
        submit = backend.submit
        backend.submit = lambda *a: (peaks.append(len(loop.in_flight) + 1), submit(*a))[1]
        loop.run()
        assert len(result.history) == 30 and max(peaks) == most


def test_max_in_flight_caps_the_slots():
    loop, backend, result, _ = make(Settings(evaluations=6, max_in_flight=1))
    first = backend.submitted
    loop.run()
    assert len(result.history) == 6 and first[0][0] == 0
    # With one slot, every submission follows the previous result.
    assert len(result.dispatch_latencies_s) == 5


def test_max_failures_stops_and_gathers_what_is_out():
    clock = Clock()
    backend = FakeBackend(clock, y=lambda x: None)
    loop, backend, result, _ = make(Settings(evaluations=20, max_failures=2), backend=backend, clock=clock)
    loop.run()
    assert "max_failures=2" in loop.stopped_early
    assert len(result.history) == 5  # the two failures, and the three points already out


def test_target_and_max_time():
    loop, _, result, _ = make(Settings(evaluations=50, target=0.25))
    loop.run()
    assert "target" in loop.stopped_early and min(e.y for e in result.history) <= 0.25
    loop, _, result, _ = make(Settings(evaluations=50, max_time_s=5.0))
    loop.run()
    assert "max_time_s" in loop.stopped_early
    assert len(result.history) < 50 and result.wall_s >= 5.0


def test_a_target_when_maximizing_and_one_the_earlier_history_meets():
    settings = Settings(evaluations=50, target=0.35, direction="maximize")
    clock = Clock()
    result = Result(mode="async", problem="p", workers=3, seed=0, history=[], started_at=clock(),
                    direction="maximize")
    loop = Loop(FakeBackend(clock), Counter(), settings, result, write=lambda *a, **k: None,
                publish=lambda *a, **k: None, progress=NullBar(), clock=clock)
    loop.run()
    assert "target" in loop.stopped_early and max(e.y for e in result.history) >= 0.35
    assert min(e.y for e in result.history) < 0.35  # the smaller values before it did not stop it
    backend = FakeBackend(clock)
    resumed = Loop(backend, Counter(), settings, result, write=lambda *a, **k: None,
                   publish=lambda *a, **k: None, progress=NullBar(), clock=clock)
    resumed.run()
    assert "target" in resumed.stopped_early and backend.submitted == []


def test_a_callback_stops_the_run_and_one_that_raises_does_too():
    loop, _, result, _ = make(Settings(evaluations=50), callbacks=(lambda r, res: len(res.history) >= 4,))
    loop.run()
    assert "callback" in loop.stopped_early and 4 <= len(result.history) <= 7

    def broken(record, result):
        raise KeyError("oops")

    loop, _, result, _ = make(Settings(evaluations=50), callbacks=(broken,))
    loop.run()
    assert "broken raised" in loop.stopped_early and len(result.history) == in_flight_limit(3, None)


def test_a_stop_signal_cancels_what_is_out():
    stop = StopSignal()
    loop, backend, result, _ = make(Settings(evaluations=50), stop_requested=stop)
    loop.proposer.suggest = lambda n, wait=False, s=loop.proposer.suggest: (stop.set() if loop.submitted >= 5 else None) or s(n)
    loop.run()
    assert loop.stopped_early == "stopped on request"
    assert backend.cancelled and len(result.history) < 50


def test_interrupt_journals_and_raises():
    from dask_bo.loop import RunInterrupted

    loop, backend, result, events = make(Settings(evaluations=50))

    def interrupt(proposal, record):
        if len(result.history) == 4:
            raise KeyboardInterrupt

    loop.proposer.tell = interrupt
    with pytest.raises(RunInterrupted):
        loop.run()
    kinds = [k for k, _ in events]
    assert kinds[-1] == Event.INTERRUPTED and backend.cancelled


class WaitsEveryOtherTime(Counter):
    """Once the loop follows the workers, every other suggest has no point yet: it returns
    none, says it is waiting, and wakes the loop (as the prefetcher does once a point is
    ready)."""

    def __init__(self, backend):
        super().__init__()
        self.backend, self.calls, self.wakes = backend, 0, 0

    def suggest(self, n, wait=False):
        self.calls += 1
        self.waiting = hasattr(self.backend, "wake") and self.calls % 2 == 0 and not wait
        if not self.waiting:
            return super().suggest(n)
        self.wakes += 1
        wake = FakeFuture(f"wake-{self.wakes}")
        self.backend.results[wake.key] = None
        self.backend.wake(wake)
        return []


def test_a_proposer_without_a_point_lets_results_in_and_fills_the_slot_at_its_wake_up():
    clock = Clock()
    backend = FakeBackend(clock)
    loop, _, result, _ = make(Settings(evaluations=10), backend=backend, clock=clock,
                              proposer=WaitsEveryOtherTime(backend))
    loop.run()
    assert len(result.history) == 10 and loop.proposer.wakes >= 2
    assert loop.proposer.told == [e.id for e in result.history]
    # A slot left free is timed from its result to the submission at the wake-up, one clock
    # tick (a yielded future) or more later; no result is timed twice.
    latencies = result.dispatch_latencies_s
    assert max(latencies) >= 1.0 and 1 <= len(latencies) <= 10 - in_flight_limit(3, None)
