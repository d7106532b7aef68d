"""The model thread's decisions, as pure functions: no thread, no clock, no TensorFlow."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dask_bo.strategies import policy
from dask_bo.strategies.policy import PolicyState, Refill, StepTimes


def state(**fields) -> PolicyState:
    fields.setdefault("capacity", 3)
    return PolicyState(**fields)


def test_busy_rate_is_threads_over_the_mean_duration():
    assert policy.busy_rate(state()) is None
    assert policy.busy_rate(state(durations_s=(1.0, 3.0))) == pytest.approx(3 / 2.0)
    # No threads (all workers gone) still counts as one.
    assert policy.busy_rate(state(capacity=0, durations_s=(2.0,))) == pytest.approx(0.5)


def test_demand_is_the_workers_freed_within_a_time_at_most_one_per_thread():
    assert policy.demand(state(), 0.5) == 3  # nothing measured: every thread
    fast = state(durations_s=(1.0,))  # 3 results a second
    assert policy.demand(fast, 0.5) == 2  # ceil(1.5)
    assert policy.demand(fast, 0.01) == 1
    assert policy.demand(fast, 0.0) == 0
    assert policy.demand(fast, 10.0) == 3


def test_cover_counts_out_ready_and_space_filling_points():
    fast = state(durations_s=(1.0,))
    assert policy.cover(fast, 10.0) == 6  # two per thread: a step can outlast an evaluation
    assert policy.cover(fast, 1.0) == 3
    assert policy.cover(replace_ready(fast, 2), 10.0) == 4
    assert policy.cover(fast, 10.0, explore=2) == 4
    assert policy.cover(fast, 10.0, explore=7) == 0  # never negative


def replace_ready(s: PolicyState, n: int, seen: int = 0) -> PolicyState:
    return replace(s, ready_seen=(seen,) * n)


@pytest.mark.parametrize(
    "build_s, explore_left, expected",
    [(1.0, 0, 6), (1.0, 1, 5), (1.0, -1, 6), (0.1, 0, 1), (1.0, 7, 0)],
)
def test_the_first_ask_is_covered_for_two_and_a_half_builds(build_s, explore_left, expected):
    """At 3 results a second, 2.5 builds of 1 s want 6 points (two per thread), 2.5 builds
    of 0.1 s ceil(0.75) = 1, less those exploration serves (a negative budget counts as
    none)."""
    s = state(durations_s=(1.0,), steps=StepTimes(build_s=build_s), explore_left=explore_left)
    assert policy.first_cover(s) == expected


def test_a_batch_is_asked_first_only_where_the_ready_points_can_grow_to_one():
    traced = (1, policy.ASK_BATCH)
    assert policy.first_asks(state(capacity=3), traced) == (1,)
    assert policy.first_asks(state(capacity=4), traced) == traced


def test_only_the_sizes_that_trace_are_asked_first():
    assert policy.first_asks(state(capacity=16), (1,)) == (1,)
    assert policy.first_asks(state(capacity=16), ()) == ()


def test_later_first_asks_are_covered_for_one_and_a_half_of_the_last_trace():
    """At 16 results a second, 2.5 builds of 0.1 s want ceil(4) = 4 points; once a trace
    took 0.5 s, the next is covered for 0.75 s: 12 points, less those still ready."""
    s = state(capacity=16, durations_s=(1.0,), steps=StepTimes(build_s=0.1))
    assert policy.first_cover(s) == 4
    traced = replace(s, steps=StepTimes(build_s=0.1, trace_s=0.5))
    assert policy.first_cover(traced) == 12
    assert policy.first_cover(replace_ready(traced, 3)) == 9


def test_the_first_ask_before_any_result_is_covered_for_every_thread():
    assert policy.first_cover(state(steps=StepTimes(build_s=0.001))) == 3


def test_each_kind_of_refit_is_covered_at_its_own_last_duration():
    steps = StepTimes(build_s=2.0, warm_refit_s=1.0)
    s = state(capacity=8, durations_s=(4.0,), steps=steps)  # 2 results a second
    assert policy.refit_cover(s, full=True) == 6  # 1.5 * 2 warm refits of 1 s * 2 a second
    assert policy.refit_cover(s, full=False) == 3  # 1.5 * 1 s * 2 a second
    later = state(capacity=8, durations_s=(4.0,), steps=StepTimes(build_s=2.0, full_refit_s=0.5))
    assert policy.refit_cover(later, full=True) == 2  # ceil(1.5 * 0.5 * 2)
    # A refit before one was measured takes no time: nothing to cover (the build, which
    # traces the fit, says nothing of a refit's time).
    assert policy.refit_cover(state(durations_s=(1.0,)), full=False) == 0
    assert policy.refit_cover(state(durations_s=(1.0,), steps=StepTimes(build_s=9.0)), full=True) == 0


def test_refill_asks_the_missing_points_at_most_a_batch_at_a_time():
    s = replace_ready(state(capacity=16, durations_s=(100.0,)), 1)
    assert policy.refill(s, 1) == Refill(thompson=0, ask=1)
    assert policy.refill(s, 9) == Refill(thompson=0, ask=policy.ASK_BATCH)
    assert policy.refill(s, 0) == Refill()
    assert policy.refill(s, -2) == Refill()  # more ready than the target: nothing to ask


def test_refill_gives_waiting_workers_thompson_points_and_one_rule_point():
    s = state(capacity=8, durations_s=(100.0,))  # none ready: workers are waiting
    assert policy.refill(s, 5) == Refill(thompson=4, ask=1)
    assert policy.refill(s, 1) == Refill(thompson=0, ask=1)


@pytest.mark.parametrize("duration_s, thompson", [(0.01, 3), (10.0, 0)])
def test_an_ask_is_covered_only_where_results_outpace_it(duration_s, thompson):
    """Asks of 0.1 s a point: with results every few milliseconds the workers freed during a
    four-point ask get Thompson points first; with results every few seconds none do."""
    s = replace_ready(state(durations_s=(duration_s,), steps=StepTimes(ask_s=0.1)), 0)
    assert policy.refill(replace_ready(s, 1), 4) == Refill(thompson=max(0, thompson - 1), ask=4)
    # None ready: four of five from a Thompson sample (the cover counts them), unless the
    # ask is quick against an evaluation.
    waiting = Refill(thompson=4, ask=1) if thompson else Refill(thompson=1, ask=4)
    assert policy.refill(s, 5) == waiting
    # An ask never timed is not covered.
    untimed = replace_ready(state(durations_s=(duration_s,)), 1)
    assert policy.refill(untimed, 4) == Refill(thompson=0, ask=4)


@pytest.mark.parametrize("duration_s, expected", [(1.0, Refill(thompson=4, ask=1)), (10.0, Refill(thompson=1, ask=4))])
def test_waiting_workers_wait_for_a_quick_ask_of_rule_points(duration_s, expected):
    """Four points at 0.1 s each: 4% of a 10 s evaluation, worth the wait for four of five
    waiting workers (the fifth gets a Thompson point); 40% of a 1 s one, not."""
    s = state(capacity=8, durations_s=(duration_s,), steps=StepTimes(ask_s=0.1))
    assert policy.refill(s, 5) == expected


def test_waiting_workers_beyond_a_quick_batch_get_thompson_points():
    s = state(capacity=16, durations_s=(10.0,), steps=StepTimes(ask_s=0.1))
    assert policy.refill(s, 8) == Refill(thompson=4, ask=policy.ASK_BATCH)


def test_the_cover_adds_to_the_points_for_waiting_workers():
    s = state(capacity=16, durations_s=(0.01,), steps=StepTimes(ask_s=0.1))
    assert policy.refill(s, 3) == Refill(thompson=16, ask=1)  # every thread frees up


def test_the_target_grows_when_a_worker_finds_none_ready_up_to_one_per_thread():
    s = state(capacity=4, model=True)
    assert policy.grown_target(s) == 3
    assert policy.grown_target(replace(s, target=4)) == 4
    assert policy.grown_target(replace_ready(s, 1)) == 2  # one was ready
    assert policy.grown_target(replace(s, model=False)) == 2  # no model yet: explore serves
    # Two ready points are kept even with a single thread.
    assert policy.grown_target(state(capacity=1, model=True)) == 2


def test_a_free_worker_gets_a_ready_point_else_explores_while_the_budget_lasts():
    assert policy.serve(replace_ready(state(explore_left=0), 1)) == "ready"
    assert policy.serve(replace_ready(state(explore_left=4), 1)) == "ready"
    assert policy.serve(state(explore_left=1)) == "explore"
    assert policy.serve(state(explore_left=0, model=True)) == "wait"
    assert policy.serve(state(explore_left=0)) == "wait"  # the model is being built
    assert policy.serve(state(explore_left=0, failed=True)) == "explore"


def slow_results(**fields) -> PolicyState:
    """Results every 10 s per thread of 3 (one every 3.3 s), asks of 0.1 s a point."""
    defaults = dict(durations_s=(10.0,), model=True, steps=StepTimes(ask_s=0.1), dataset_size=6)
    return state(**{**defaults, **fields})


def test_a_stale_point_is_asked_again_only_with_time_to_spare():
    assert policy.time_to_spare(slow_results())
    assert policy.stale_index(slow_results(ready_seen=(6, 5))) == 1
    assert policy.stale_index(slow_results(ready_seen=(5, 5))) == 0
    assert policy.stale_index(slow_results(ready_seen=(6, 6))) is None
    # Only the next two ready points: those further back wait for their turn.
    assert policy.stale_index(slow_results(ready_seen=(6, 6, 5))) is None
    # Results every 10 ms: no time for it.
    fast = slow_results(durations_s=(0.03,), ready_seen=(5, 5))
    assert not policy.time_to_spare(fast)
    assert policy.stale_index(fast) is None


def test_no_stale_point_is_asked_again_before_anything_was_measured():
    no_durations = state(model=True, dataset_size=6, ready_seen=(5,))
    assert policy.stale_index(no_durations) is None
    no_ask = state(model=True, dataset_size=6, ready_seen=(5,), durations_s=(10.0,))
    assert not policy.time_to_spare(no_ask)  # asks never timed: inf
    assert policy.stale_index(slow_results(ready_seen=(5,), model=False)) is None


def test_time_to_spare_means_three_asks_between_two_results():
    # 3 threads at 0.6 s: a result every 0.2 s, less than three asks of 0.1 s; at 1.2 s, more.
    assert not policy.time_to_spare(slow_results(durations_s=(0.6,)))
    assert policy.time_to_spare(slow_results(durations_s=(1.2,)))


def test_the_thread_has_work_for_results_missing_points_or_stale_ones():
    assert policy.has_work(state(), arrived=True)
    assert not policy.has_work(state(), arrived=False)  # no model yet
    assert not policy.has_work(state(failed=True), arrived=False)
    full = slow_results(ready_seen=(6, 6))
    assert not policy.has_work(full, arrived=False)
    assert policy.has_work(slow_results(ready_seen=(6,)), arrived=False)
    assert policy.has_work(slow_results(ready_seen=(6, 5)), arrived=False)
    assert not policy.has_work(slow_results(ready_seen=(6, 5), durations_s=(0.03,)), arrived=False)


def test_the_explore_budget_covers_every_slot_once():
    from dask_bo.strategies.policy import explore_budget

    assert explore_budget(30, 0.1, 4) == 4
    assert explore_budget(200, 0.1, 17) == 20
    assert explore_budget(3, 0.1, 17) == 3
