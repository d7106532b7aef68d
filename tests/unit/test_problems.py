from __future__ import annotations

import numpy as np
import pytest

from dask_bo.evaluation import as_finite_number, call_objective, evaluate
from dask_bo.problems import PROBLEM_NAMES, Problem, get_problem, load_objective, parse_bounds


@pytest.mark.parametrize("name", PROBLEM_NAMES)
def test_named_problems_match_trieste(name):
    import trieste.objectives
    from dask_bo.problems import _NAMED

    attribute = _NAMED[name][0]
    reference = getattr(trieste.objectives, attribute)
    problem = get_problem(name)
    assert problem.lower == tuple(reference.search_space.lower.numpy())
    assert problem.upper == tuple(reference.search_space.upper.numpy())
    assert problem.minimum == pytest.approx(float(reference.minimum.numpy()[0]))
    x = reference.search_space.sample(5).numpy()
    expected = reference.objective(x).numpy()
    got = np.array([[call_objective(problem, point)] for point in x])
    # rtol: trieste computes e in float32 for Ackley
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-12)


def test_unknown_problem_names_the_choices():
    with pytest.raises(ValueError, match="unknown problem 'brannin'.*scaled-branin"):
        get_problem("brannin")


def test_delay_model_is_scaled_sum_of_unit_coordinates():
    problem = Problem(lambda x: 0.0, lower=[0, -10], upper=[2, 10], delay_scale=3)
    assert problem.delay_s(np.array([1.0, 10.0])) == pytest.approx(3 * (0.5 + 1.0))
    assert get_problem("scaled-branin", 3).delay_s(np.array([0.1, 0.5])) == pytest.approx(1.8)


@pytest.mark.parametrize(
    "lower, upper, message",
    [([0, 1], [1], "one value per dimension"), ([1], [0], r"lower < upper, got \[1.0, 0.0\]")],
)
def test_bad_bounds(lower, upper, message):
    with pytest.raises(ValueError, match=message):
        Problem(lambda x: 0.0, lower, upper)


def test_parse_bounds():
    assert parse_bounds("0,1;-5,5") == ((0.0, -5.0), (1.0, 5.0))
    with pytest.raises(ValueError, match="--bounds expects LO,HI pairs separated by ';'.*got '0;1'"):
        parse_bounds("0;1")
    with pytest.raises(ValueError, match="LO < HI"):
        parse_bounds("1,0")


def plain(x):
    return float(x[0] ** 2 + x[1])


def batch(points):
    if points.shape[1] != 2:
        raise ValueError(f"expected (*, 2), got {points.shape}")
    return (points[:, :1] ** 2 + points[:, 1:]).copy()


@pytest.mark.parametrize("objective", [plain, batch])
@pytest.mark.parametrize("form", [None, "explicit"])
def test_both_objective_forms(objective, form):
    flag = None if form is None else objective is batch
    problem = Problem(objective, [0, 0], [1, 1], batch=flag)
    assert call_objective(problem, np.array([0.5, 0.25])) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "value, message",
    [
        (float("nan"), "returned nan, expected a finite number"),
        (float("inf"), "returned inf"),
        (np.ones((2, 1)), r"shape \(2, 1\), expected one number"),
        ("abc", "returned 'abc', expected a number"),
        (None, "returned None"),
    ],
)
def test_bad_values_are_named(value, message):
    with pytest.raises(ValueError, match=message):
        as_finite_number(value)


def test_evaluate_never_raises_and_keeps_x_exact():
    def broken(x):
        raise RuntimeError("solver diverged")

    x = np.array([0.1 + 0.2, 1 / 3])
    record = evaluate(Problem(broken, [0, 0], [1, 1], batch=False), x, 7, 1.0, "lp")
    assert record.status == "failed" and record.y is None
    assert record.error == "RuntimeError: solver diverged"
    assert "solver diverged" in record.traceback
    assert record.x == (x[0], x[1]) and record.id == 7
    ok = evaluate(Problem(plain, [0, 0], [1, 1]), x, 8, 1.0, "lp")
    assert ok.status == "ok" and ok.y == pytest.approx(plain(x)) and ok.duration_s >= 0


def test_load_objective_from_module_and_file(tmp_path):
    assert load_objective("math:hypot")(3, 4) == 5
    path = tmp_path / "my_objective.py"
    path.write_text("def f(x):\n    return float(sum(x))\n")
    assert load_objective(f"{path}:f")([1.0, 2.0]) == 3.0
    with pytest.raises(ValueError, match="MODULE:FUNCTION"):
        load_objective("nocolon")
    with pytest.raises(ValueError, match="cannot be imported"):
        load_objective("no_such_module_xyz:f")
    with pytest.raises(ValueError, match="has no function 'g'"):
        load_objective(f"{path}:g")
    with pytest.raises(ValueError, match="does not exist"):
        load_objective(f"{tmp_path}/missing.py:f")


def test_pending_points_bookkeeping():
    from dask_bo.optimizer import Optimizer

    x = np.array([[0.1, 0.2], [0.7, 0.4], [0.4, 0.9]])
    optimizer = Optimizer([0, 0], [1, 1], x, np.array([[1.0], [0.5], [2.0]]), num_samples=200)
    asked = optimizer.ask(2)
    assert asked.shape == (2, 2) and np.all((asked >= 0) & (asked <= 1))
    np.testing.assert_array_equal(optimizer.pending_points, asked)
    # A point that failed leaves the pending set, bit for bit, without touching the others.
    optimizer.forget(asked[:1])
    np.testing.assert_array_equal(optimizer.pending_points, asked[1:])
    optimizer.add_pending(np.array([[0.5, 0.5]]))
    optimizer.tell(asked[1:], np.array([[0.3]]))
    np.testing.assert_array_equal(optimizer.pending_points, [[0.5, 0.5]])
    assert optimizer.dataset_size == 4
    assert optimizer.refit_due()
    optimizer.refit()
    assert not optimizer.refit_due()


def test_thompson_batch_is_pending_and_in_the_box():
    from dask_bo.optimizer import Optimizer

    rng = np.random.default_rng(3)
    x = rng.random((8, 2))
    optimizer = Optimizer([0, 0], [1, 1], x, np.sum(x, axis=1, keepdims=True), num_samples=200)
    points = optimizer.ask_thompson(4, num_candidates=300)
    assert points.shape == (4, 2) and np.all((points >= 0) & (points <= 1))
    np.testing.assert_array_equal(optimizer.pending_points, points)
    # The objective increases with x: samples of its posterior prefer the lower corner.
    assert np.mean(points.sum(axis=1)) < 1.0
