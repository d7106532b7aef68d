"""The model thread, over a fake numpy strategy whose steps take fake-clock time.

Nothing sleeps: a test waits (with a timeout) for the thread's own notifications or for a
strategy call, and steps can be held at a gate (an Event) to fix the order of events.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from dask_bo.strategies import policy
from dask_bo.strategies.prefetch import Prefetcher

DIM = 2
TIMEOUT_S = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class FakeStrategy:
    """Random points; each step advances the clock by its time, and is logged as (step, n,
    pending [P, D]) before it runs. A step in ``fail`` raises; one with a gate waits for it."""

    def __init__(self, clock: FakeClock, *, ask_s: float = 0.1, refit_s: float = 0.5):
        rng = np.random.default_rng(0)
        self.x, self.y = rng.random((5, DIM)), rng.random((5, 1))
        self.clock, self.ask_s, self.refit_s = clock, ask_s, refit_s
        self.rng = np.random.default_rng(1)
        self.calls: list[tuple[str, int | None, np.ndarray | None]] = []
        self.fail: set[str] = set()
        self.gates: dict[str, threading.Event] = {}
        self.due = self.full = False
        self.changed = threading.Condition()

    def _step(self, name: str, n: int | None = None, pending: np.ndarray | None = None) -> None:
        with self.changed:
            self.calls.append((name, n, None if pending is None else np.array(pending)))
            self.changed.notify_all()
        gate = self.gates.get(name)
        if gate is not None:
            assert gate.wait(TIMEOUT_S)
        if name in self.fail:
            raise RuntimeError(f"{name} broke")

    def wait_for(self, predicate) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.steps()), TIMEOUT_S), self.steps()

    def steps(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def ask(self, n: int, pending: np.ndarray) -> np.ndarray:
        self._step("ask", n, pending)
        self.clock.advance(self.ask_s * n)
        return self.rng.random((n, DIM))

    def ask_thompson(self, n: int, pending: np.ndarray) -> np.ndarray:
        self._step("ask_thompson", n, pending)
        return self.rng.random((n, DIM))

    def tell(self, x: np.ndarray, y: np.ndarray) -> None:
        self._step("tell", len(x))
        self.x, self.y = np.vstack([self.x, x]), np.vstack([self.y, y])

    def refit_due(self) -> bool:
        self._step("refit_due")
        return self.due

    def full_refit_due(self) -> bool:
        return self.full

    def refit(self) -> None:
        self._step("refit")
        self.clock.advance(self.refit_s)
        self.due = False

    traced_sizes = (1, 4)

    @property
    def dataset_size(self) -> int:
        return len(self.x)


def as_set(points) -> set[tuple[float, ...]]:
    return {tuple(float(v) for v in p) for p in points}


def wait(prefetcher: Prefetcher, predicate) -> None:
    """Wait for the thread to make ``predicate()`` true (it notifies on every change)."""
    with prefetcher._cond:
        assert prefetcher._cond.wait_for(predicate, TIMEOUT_S), prefetcher.state()


def idle(prefetcher: Prefetcher) -> bool:
    """Whether the thread, waiting, would stay asleep (its own wake-up test)."""
    with prefetcher._cond:
        return not policy.has_work(prefetcher._state(), bool(prefetcher._pending.arrived))


def proposals(prefetcher: Prefetcher) -> list[str]:
    return [proposal for _, proposal in prefetcher.ready]


def make(clock=None, capacity=3, max_explore=0, build_s=2.0, build_gate=None, fail=(), wake=lambda: None, **kw):
    """A started Prefetcher over a FakeStrategy (also returned) built in ``build_s``, whose
    steps in ``fail`` raise."""
    clock = clock or FakeClock()
    strategy = FakeStrategy(clock, **kw)
    strategy.fail |= set(fail)
    rng = np.random.default_rng(2)
    taken_seen: list[np.ndarray] = []

    def factory():
        if build_gate is not None:
            assert build_gate.wait(TIMEOUT_S)
        clock.advance(build_s)
        return strategy

    def space_filling(taken):
        taken_seen.append(taken)
        return rng.random(DIM)

    prefetcher = Prefetcher(factory, capacity, max_explore, space_filling, dim=DIM, clock=clock, wake=wake)
    prefetcher.space_filling_calls = taken_seen
    prefetcher.start()
    return prefetcher, strategy


def started(**kw):
    """Three threads served: the first cover's three Thompson points handed out, and the
    one rule point then ready joined by a timed ask (0.1 s a point), both on 5 observations."""
    prefetcher, strategy = make(**kw)
    wait(prefetcher, lambda: len(prefetcher.ready) == 4)
    sent = [prefetcher.next_point(key) for key in range(3)]
    assert [proposal for _, _, proposal in sent] == ["thompson"] * 3
    wait(prefetcher, lambda: len(prefetcher.ready) == 2 and prefetcher.state().steps.ask_s < 1)
    return prefetcher, strategy, sent


def observe(prefetcher, sent, duration_s, y=1.0):
    key, u, _ = sent
    prefetcher.observe(key, u, y, duration_s)


def test_the_first_ask_is_covered_for_every_thread_then_served_in_order():
    prefetcher, strategy = make()
    try:
        wait(prefetcher, lambda: len(prefetcher.ready) == 4)
        assert proposals(prefetcher) == ["thompson"] * 3 + ["rule"]
        (_, n, none), (_, one, pending) = strategy.calls[:2]
        assert strategy.steps()[:2] == ["ask_thompson", "ask"] and (n, one) == (3, 1)
        assert len(none) == 0 and as_set(pending) == as_set(u for u, _ in prefetcher.ready[:3])
        state = prefetcher.state()
        assert state.steps.build_s == 2.0 and state.steps.ask_s == float("inf")  # untimed
        served = [prefetcher.next_point()[2] for _ in range(4)]
        assert served == ["thompson"] * 3 + ["rule"]
    finally:
        prefetcher.stop()


def test_space_filling_points_serve_workers_while_the_model_is_built():
    gate = threading.Event()
    prefetcher, strategy = make(max_explore=5, build_gate=gate)
    try:
        key, u0, proposal = prefetcher.next_point()
        assert proposal == "explore" and key == ("point", 0)
        u1 = prefetcher.next_point()[1]
        first, second = prefetcher.space_filling_calls
        assert len(first) == 0 and as_set(second) == as_set([u0])
        gate.set()
        wait(prefetcher, lambda: len(prefetcher.ready) >= 1)
        # Three exploration points left for three threads: no Thompson sample to cover.
        assert strategy.steps()[:1] == ["ask"]
        assert as_set(strategy.calls[0][2]) == as_set([u0, u1])
        assert prefetcher.next_point()[2] == "rule"
    finally:
        prefetcher.stop()


def test_a_spent_exploration_budget_makes_workers_wait_for_the_model():
    gate = threading.Event()
    prefetcher, _ = make(max_explore=1, build_gate=gate)
    try:
        assert prefetcher.next_point()[2] == "explore"
        assert policy.serve(prefetcher.state()) == "wait"
        served = []
        waiter = threading.Thread(target=lambda: served.append(prefetcher.next_point()[2]))
        waiter.start()
        gate.set()
        waiter.join(TIMEOUT_S)
        assert served == ["thompson"]  # the first cover's
    finally:
        prefetcher.stop()


def test_the_pending_set_is_kept_by_key_and_failed_points_leave_it():
    prefetcher, strategy, sent = started()
    try:
        with prefetcher._cond:
            ready = [u for u, _ in prefetcher.ready]
            assert as_set(prefetcher.pending) == as_set([u for _, u, _ in sent] + ready)
        observe(prefetcher, sent[0], 0.01, y=None)  # failed: leaves at once, never told
        observe(prefetcher, sent[1], 0.01, y=0.5)
        wait(prefetcher, lambda: prefetcher.state().dataset_size == 6)
        with prefetcher._cond:
            ready = [u for u, _ in prefetcher.ready]
            assert as_set(prefetcher.pending) == as_set([sent[2][1]] + ready)
        assert as_set(strategy.x[5:]) == as_set([sent[1][1]]) and strategy.y[5, 0] == 0.5
        with pytest.raises(ValueError, match="expected a key not in flight, got 2"):
            prefetcher.next_point(2)
    finally:
        prefetcher.stop()


def test_identical_points_leave_the_pending_set_one_by_one():
    """Two points with the same coordinates are two evaluations: one failing leaves the other
    pending (keys, not float matching)."""
    prefetcher, _ = make()
    try:
        wait(prefetcher, lambda: len(prefetcher.ready) == 4)
        a, b = prefetcher.next_point("a"), prefetcher.next_point("b")
        prefetcher.observe("a", b[1], None, None)  # reported with b's coordinates
        assert any(np.array_equal(p, b[1]) for p in prefetcher.pending)
        assert not any(np.array_equal(p, a[1]) for p in prefetcher.pending)
    finally:
        prefetcher.stop()


@pytest.mark.parametrize("duration_s", [0.01, 10.0])
def test_points_are_readied_before_an_ask_only_where_results_outpace_it(duration_s):
    """Asks of 0.1 s a point: with results every few milliseconds, the workers freed during an
    ask get Thompson points readied before it; with results every few seconds none do."""
    prefetcher, strategy, sent = started()
    try:
        since = len(strategy.calls)
        observe(prefetcher, sent[0], duration_s)
        # Told; with results this slow, both ready points are also asked again.
        wait(prefetcher, lambda: prefetcher.state().dataset_size == 6 and (
            duration_s < 1 or all(seen == 6 for seen in prefetcher.state().ready_seen)))
        sent.append(prefetcher.next_point())  # one ready point left: the model asks another
        if duration_s < 1:
            wait(prefetcher, lambda: len(prefetcher.ready) == 4)
            assert proposals(prefetcher) == ["rule", "thompson", "thompson", "rule"]
        else:
            wait(prefetcher, lambda: len(prefetcher.ready) == 2)
            # Two asks at the start, two refreshes, then this one, all uncovered.
            assert strategy.steps().count("ask") == 5
            assert proposals(prefetcher) == ["rule", "rule"]
            assert "ask_thompson" not in strategy.steps()[since:]
        out = [u for _, u, _ in sent[1:]] + [u for u, _ in prefetcher.ready]
        assert as_set(prefetcher.pending) == as_set(out)
    finally:
        prefetcher.stop()


def test_ready_points_are_asked_again_with_new_results_when_there_is_time():
    prefetcher, strategy, sent = started()
    try:
        stale = [u for u, _ in prefetcher.ready]
        observe(prefetcher, sent[0], 10.0)
        wait(prefetcher, lambda: prefetcher.state().ready_seen == (6, 6))
        fresh = [u for u, _ in prefetcher.ready]
        assert proposals(prefetcher) == ["rule", "rule"] and not as_set(fresh) & as_set(stale)
        # Each refresh avoided the other ready point, not the one it replaced.
        first, second = [pending for name, n, pending in strategy.calls if name == "ask"][-2:]
        assert as_set(first) == as_set([u for _, u, _ in sent[1:]] + stale[1:])
        assert as_set(second) == as_set([u for _, u, _ in sent[1:]] + fresh[:1])
        assert as_set(prefetcher.pending) == as_set([u for _, u, _ in sent[1:]] + fresh)
    finally:
        strategy_back = prefetcher.stop()
    assert strategy_back is strategy
    assert as_set(prefetcher.pending) == as_set([u for _, u, _ in sent[1:]])


def test_ready_points_stay_when_results_come_too_fast_to_ask_them_again():
    prefetcher, strategy, sent = started()
    try:
        stale = [u for u, _ in prefetcher.ready]
        observe(prefetcher, sent[0], 0.01)
        strategy.wait_for(lambda steps: steps[-2:] == ["tell", "refit_due"])
        assert idle(prefetcher)
        assert as_set(u for u, _ in prefetcher.ready) == as_set(stale)
        assert prefetcher.state().ready_seen == (5, 5)
    finally:
        prefetcher.stop()


def test_a_stale_point_handed_out_during_its_refresh_stays_pending():
    prefetcher, strategy, sent = started()
    try:
        gate = strategy.gates["ask"] = threading.Event()
        stale = prefetcher.ready[0][0]
        asks = strategy.steps().count("ask")
        observe(prefetcher, sent[0], 10.0)
        strategy.wait_for(lambda steps: steps.count("ask") == asks + 1)  # held at the gate
        key, u, _ = prefetcher.next_point()
        assert np.array_equal(u, stale)
        gate.set()
        wait(prefetcher, lambda: len(prefetcher.ready) >= 2)  # the fresh point added
        assert not any(np.array_equal(r, stale) for r, _ in prefetcher.ready)
        assert any(np.array_equal(p, stale) for p in prefetcher.pending)  # in flight
    finally:
        strategy.gates.clear()
        gate.set()
        prefetcher.stop()


def test_a_rule_that_traces_one_size_is_asked_once_first_with_one_cover():
    """A rule whose every ask compiles the same function (expected improvement) is not
    asked a batch first, nor covered for it: the cover's four points and its one."""
    clock = FakeClock()
    prefetcher, strategy = make(clock=clock, capacity=4, build_gate=(gate := threading.Event()))
    strategy.traced_sizes = (1,)
    gate.set()
    try:
        wait(prefetcher, lambda: len(prefetcher.ready) >= 5 and idle(prefetcher))
        assert [step for step in strategy.steps() if step.startswith("ask")] == ["ask_thompson", "ask"]
        assert proposals(prefetcher) == ["thompson"] * 4 + ["rule"]
    finally:
        prefetcher.stop()


def test_more_points_are_kept_ready_once_a_worker_found_none():
    prefetcher, strategy = make(capacity=4)
    try:
        # Four Thompson, then the first asks: a point and a batch of four.
        wait(prefetcher, lambda: len(prefetcher.ready) == 9)
        assert [n for step, n, *_ in strategy.calls if step == "ask"] == [1, 4]
        since = len(strategy.calls)
        with prefetcher._cond:  # the thread cannot refill until the tenth waits
            for _ in range(9):
                prefetcher.next_point()
            assert prefetcher.state().target == 2
            served = prefetcher.next_point()[2]  # none ready: waits, letting the thread in
        assert served == "thompson" and prefetcher.state().target == 3
        # Three wanted, none ready: two from one Thompson sample at once, then the rule's.
        assert strategy.calls[since][:2] == ("ask_thompson", 2)
        strategy.wait_for(lambda steps: len(steps) > since + 1)
        assert strategy.steps()[since + 1] == "ask"
        wait(prefetcher, lambda: len(prefetcher.ready) >= 3)
    finally:
        prefetcher.stop()


def test_a_refit_is_covered_once_timed_for_one_and_a_half_times_the_last_of_its_kind():
    prefetcher, strategy, sent = started(refit_s=2.0)
    try:
        strategy.due = strategy.full = True  # a full refit, never timed: not covered
        since = len(strategy.calls)
        observe(prefetcher, sent[0], 3.0)  # one result a second
        strategy.wait_for(lambda steps: "refit" in steps[since:])
        steps = strategy.steps()[since:]
        assert steps.index("refit") == steps.index("refit_due") + 1
        wait(prefetcher, lambda: prefetcher.state().steps.full_refit_s == 2.0)
        strategy.due = strategy.full = True
        since = len(strategy.calls)
        observe(prefetcher, sent[1], 3.0)
        strategy.wait_for(lambda steps: "refit" in steps[since:])
        # 1.5 times 2 s: 3 workers freed, 2 of them by the ready points.
        refit_at = strategy.steps().index("refit", since)
        assert strategy.calls[refit_at - 1][:2] == ("ask_thompson", 1)
    finally:
        prefetcher.stop()


def test_stop_tells_every_result_and_drops_the_ready_points():
    prefetcher, strategy, sent = started()
    gate = strategy.gates["tell"] = threading.Event()
    observe(prefetcher, sent[0], 1.0, y=0.1)
    strategy.wait_for(lambda steps: steps[-1] == "tell")  # the thread holds the first result
    observe(prefetcher, sent[1], 1.0, y=0.2)
    gate.set()
    del strategy.gates["tell"]
    assert prefetcher.stop() is strategy
    assert sorted(strategy.y[5:, 0]) == [0.1, 0.2]
    assert as_set(strategy.x[5:]) == as_set([sent[0][1], sent[1][1]])
    assert as_set(prefetcher.pending) == as_set([sent[2][1]]) and prefetcher.ready == []


def warnings_of(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records
        if r.name == "dask_bo" and r.levelno == logging.WARNING
    ]


def test_a_model_that_cannot_be_built_leaves_space_filling_points(caplog):
    clock = FakeClock()
    prefetcher = Prefetcher(
        lambda: 1 / 0, 3, 0, lambda taken: np.full(DIM, 0.5), dim=DIM, clock=clock,
    )
    prefetcher.start()
    wait(prefetcher, lambda: prefetcher.state().failed)
    assert [prefetcher.next_point()[2] for _ in range(3)] == ["explore"] * 3
    prefetcher.observe(("point", 0), np.full(DIM, 0.5), 1.0, 1.0)
    assert prefetcher.stop() is None
    (message,) = warnings_of(caplog)
    assert "build failed" in message and "ZeroDivisionError" in message


def test_a_failing_ask_is_replaced_by_thompson_points_with_one_warning(caplog):
    prefetcher, strategy = make(fail={"ask"})
    try:
        wait(prefetcher, lambda: len(prefetcher.ready) == 4)
        assert proposals(prefetcher) == ["thompson"] * 4
        for _ in range(4):
            prefetcher.next_point()
        wait(prefetcher, lambda: len(prefetcher.ready) >= 2)
        assert set(proposals(prefetcher)) == {"thompson"}
    finally:
        prefetcher.stop()
    (message,) = warnings_of(caplog)
    assert "ask failed" in message and "ask broke" in message


@pytest.mark.parametrize("broken", [{"tell"}, {"refit"}, {"refit_due"}])
def test_a_failing_tell_or_refit_does_not_stop_the_thread(caplog, broken):
    prefetcher, strategy, sent = started()
    strategy.fail |= broken
    strategy.due = True
    try:
        observe(prefetcher, sent[0], 1.0)
        observe(prefetcher, sent[1], 1.0)
        prefetcher.next_point()
        prefetcher.next_point()
        wait(prefetcher, lambda: len(prefetcher.ready) >= 2)
        assert not prefetcher.state().failed
    finally:
        assert prefetcher.stop() is strategy
    (message,) = warnings_of(caplog)
    assert f"{next(iter(broken))} failed" in message


def test_a_stale_point_whose_refresh_fails_stays_ready(caplog):
    prefetcher, strategy, sent = started()
    try:
        stale = [u for u, _ in prefetcher.ready]
        strategy.fail.add("ask")
        observe(prefetcher, sent[0], 10.0)
        wait(prefetcher, lambda: prefetcher.state().ready_seen == (6, 6))  # not asked again
        assert as_set(u for u, _ in prefetcher.ready) == as_set(stale)
        assert idle(prefetcher)  # nothing left to do: no busy loop
    finally:
        prefetcher.stop()
    assert len(warnings_of(caplog)) == 1


def test_a_model_whose_asks_all_fail_leaves_space_filling_points_beyond_the_budget(caplog):
    prefetcher, strategy = make(fail={"ask", "ask_thompson"})
    try:
        wait(prefetcher, lambda: prefetcher.state().failed)
        assert [prefetcher.next_point()[2] for _ in range(3)] == ["explore"] * 3
        prefetcher.observe(("point", 0), np.zeros(DIM), 0.3, 1.0)
        strategy.wait_for(lambda steps: "tell" in steps)  # the thread still tells
        wait(prefetcher, lambda: prefetcher.state().dataset_size == 6)
    finally:
        assert prefetcher.stop() is strategy
    assert len(strategy.x) == 6  # told even so
    assert len(warnings_of(caplog)) == 2


class WrongShape(FakeStrategy):
    def ask(self, n: int, pending: np.ndarray) -> np.ndarray:
        return np.zeros((n, DIM + 1))  # not a point of the space


def test_a_bug_in_the_thread_surfaces_in_the_driver(caplog):
    strategy = WrongShape(FakeClock())
    prefetcher = Prefetcher(lambda: strategy, 3, 0, lambda taken: np.zeros(DIM), dim=DIM)
    prefetcher.start()
    wait(prefetcher, lambda: prefetcher._error is not None)
    with pytest.raises(RuntimeError, match="the model thread failed"):
        prefetcher.next_point()
    with pytest.raises(RuntimeError, match="expected a point of 2 coordinates, got shape"):
        prefetcher.stop()


def test_points_in_flight_at_the_start_are_pending_until_observed():
    taken_seen = []
    prefetcher = Prefetcher(
        lambda: None, 3, 1, lambda taken: taken_seen.append(taken) or np.zeros(DIM), dim=DIM,
        in_flight={7: np.array([0.1, 0.2])}, taken=np.array([[0.3, 0.4]]),
    )
    assert as_set(prefetcher.pending) == {(0.1, 0.2)}
    prefetcher.observe(7, np.array([0.1, 0.2]), None, None)
    assert len(prefetcher.pending) == 0
    # Not started, so no model: the one exploration point, far from everything known.
    assert prefetcher.next_point(8)[2] == "explore"
    assert as_set(taken_seen[0]) == {(0.3, 0.4), (0.1, 0.2)}
    assert prefetcher.stop() is None


def test_an_interrupt_ends_a_wait_for_the_model_with_no_point():
    gate = threading.Event()  # the build never finishes: a free worker would wait for it
    prefetcher, _ = make(build_gate=gate)
    served = []
    waiter = threading.Thread(target=lambda: served.append(prefetcher.next_point("a")))
    try:
        waiter.start()
        prefetcher.interrupt()
        waiter.join(TIMEOUT_S)
        assert not waiter.is_alive() and served == [None]
        assert "a" not in prefetcher._pending.in_flight
        assert prefetcher.stop() is None  # without waiting for the build
    finally:
        gate.set()
        prefetcher._thread.join(TIMEOUT_S)
    assert not prefetcher._thread.is_alive() and prefetcher.strategy is None


def test_a_caller_that_does_not_wait_gets_no_point_and_a_wake_up_once_one_is_ready():
    gate, woken = threading.Event(), threading.Event()
    prefetcher, _ = make(build_gate=gate, wake=woken.set)
    try:
        assert prefetcher.next_point("a", block=False) is None  # the model is still building
        assert "a" not in prefetcher._pending.in_flight and not woken.is_set()
        gate.set()
        assert woken.wait(TIMEOUT_S)
        key, _, proposal = prefetcher.next_point("a", block=False)
        assert key == "a" and proposal == "thompson"
    finally:
        prefetcher.stop()
