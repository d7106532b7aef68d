"""The trust region's side, as a pure function of the values told: no model, no TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from dask_bo.strategies.region import INITIAL_SIDE, MAX_SIDE, MIN_SIDE, SUCCESSES, TrustRegion


def test_the_first_values_only_set_the_best():
    region = TrustRegion(6, batch=16)
    region.observe(np.array([[3.0], [1.0], [2.0]]))
    assert region.side == INITIAL_SIDE
    region.observe([0.5] * (SUCCESSES - 1))  # one improvement, then equal values: failures
    assert region.side == INITIAL_SIDE


def test_repeated_improvements_double_the_side_up_to_its_maximum():
    region = TrustRegion(2)
    region.observe([10.0])
    region.observe([9.0, 8.0, 7.0])
    assert region.side == pytest.approx(2 * INITIAL_SIDE)
    region.observe([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    assert region.side == MAX_SIDE


def test_an_improvement_must_beat_the_best_by_a_margin():
    region = TrustRegion(2)
    region.observe([-3.0])
    region.observe([-3.0001] * 3)  # less than 0.1% of |best| each
    assert region.side == INITIAL_SIDE and region.restarts == 0


def test_failures_in_a_row_halve_the_side_and_an_improvement_resets_them():
    region = TrustRegion(6, batch=16)
    assert region.failure_tolerance == 16  # ceil(max(4, 6) / 16) batches of 16
    assert TrustRegion(6, batch=1).failure_tolerance == 6
    region.observe([0.0])
    region.observe([1.0] * 15 + [-1.0] + [1.0] * 15)
    assert region.side == INITIAL_SIDE
    region.observe([1.0])
    assert region.side == pytest.approx(INITIAL_SIDE / 2)


def test_a_region_shrunk_to_nothing_starts_over():
    region = TrustRegion(4, batch=4)
    region.observe([0.0])
    halvings = int(np.ceil(np.log2(INITIAL_SIDE / MIN_SIDE)))
    region.observe([1.0] * (4 * halvings - 1))
    assert region.side < 2 * MIN_SIDE and region.restarts == 0
    region.observe([1.0])
    assert region.side == INITIAL_SIDE and region.restarts == 1


def test_values_that_are_not_finite_are_not_counted():
    region = TrustRegion(2)
    region.observe([np.nan, np.inf])
    region.observe([1.0])  # still the first finite value: only sets the best
    region.observe([np.nan] * 10)
    assert region.side == INITIAL_SIDE


def test_the_box_is_longer_along_smoother_dimensions_and_stays_in_the_cube():
    region = TrustRegion(2)
    region.side = 0.2
    low, high = region.box(np.array([0.5, 0.5]), np.array([0.1, 0.4]))
    widths = high - low
    assert widths[1] == pytest.approx(4 * widths[0])
    assert np.prod(widths) == pytest.approx(0.2**2)  # the geometric mean is the side
    region.side = INITIAL_SIDE
    low, high = region.box(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(low, [0.0, 1.0 - INITIAL_SIDE / 2])
    np.testing.assert_allclose(high, [INITIAL_SIDE / 2, 1.0])


def test_lengthscales_that_make_no_sense_give_a_cube():
    low, high = TrustRegion(2).box(np.array([0.5, 0.5]), np.array([np.nan, 1.0]))
    np.testing.assert_allclose(high - low, [INITIAL_SIDE, INITIAL_SIDE])
