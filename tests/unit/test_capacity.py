"""How many evaluations the driver keeps out: a pure function, no cluster."""

from __future__ import annotations

import pytest

from dask_bo.capacity import grown, in_flight_limit


def test_a_few_points_wait_on_the_scheduler_beyond_the_threads():
    assert in_flight_limit(3, None) == 4 and in_flight_limit(64, None) == 72
    assert in_flight_limit(64, 10) == 10 and in_flight_limit(1, 1) == 1
    assert in_flight_limit(8, None, waiting=False) == 8  # a synchronous batch: one per thread


def test_a_cluster_has_grown_once_its_threads_rose_above_the_first_count():
    assert not grown([])
    assert not grown([(0.0, 8)])
    assert not grown([(0.0, 8), (5.0, 6)])  # shrinking alone: nothing to grow for
    assert grown([(0.0, 1), (2.0, 3), (9.0, 2)])


@pytest.mark.parametrize(
    "threads, mean_s, expected",
    [
        (7, 3.0, 14),  # ceil(8 * 5 / 3) = 14: the scheduler asks for ceil(14 * 3 / 5) = 9 > 7
        (4, 3.0, 8),  # ceil(5 * 5 / 3) = 9, at most two per thread
        (8, 30.0, 9),  # long evaluations: the fixed cluster's slack already asks for more
        (1, 3.0, 2),
    ],
)
def test_on_a_grown_cluster_enough_work_waits_for_one_thread_more(threads, mean_s, expected):
    limit = in_flight_limit(threads, None, growing=True, mean_duration_s=mean_s, target_duration_s=5.0)
    assert limit == expected
    # Dask's adaptive target for that much work (each task's expected duration over 5 s):
    assert -(-limit * mean_s // 5.0) > threads or limit == 2 * threads or limit == threads + 1


def test_growth_waits_for_a_duration_and_respects_the_cap_and_the_mode():
    assert in_flight_limit(7, None, growing=True, mean_duration_s=None) == 8
    assert in_flight_limit(7, 10, growing=True, mean_duration_s=3.0) == 10
    assert in_flight_limit(7, None, waiting=False, growing=True, mean_duration_s=3.0) == 7
