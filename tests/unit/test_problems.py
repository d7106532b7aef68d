from __future__ import annotations

import numpy as np
import pytest

from dask_bo.problems import (
    _NAMED, PROBLEM_NAMES, Problem, as_finite_number, get_problem, load_objective, parse_bounds,
)
from dask_bo.worker import call_objective, evaluate


@pytest.mark.parametrize("name", list(_NAMED))
def test_named_problems_match_trieste(name):
    import trieste.objectives

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
    with pytest.raises(ValueError, match="has no function 'nope'"):
        load_objective("math:nope")
    with pytest.raises(ValueError, match="does not exist"):
        load_objective(f"{tmp_path}/missing.py:f")


# --- named spaces, the mixed benchmark, objective forms, descriptions -------------------------

import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402

from dask_bo.problems import problem_from_description  # noqa: E402
from dask_bo.space import Categorical, Float, Int, Space  # noqa: E402


def test_mixed_branin_has_its_stated_minimum_on_the_grid():
    from dask_bo.objectives import MIXED_BRANIN_MINIMUM, mixed_branin_array

    problem = get_problem("mixed-branin")
    assert problem.name in PROBLEM_NAMES and problem.minimum == MIXED_BRANIN_MINIMUM
    assert problem.space.names == ("x", "level", "variant")
    assert isinstance(problem.space.parameters["level"], Int)
    for x, level in [(-math.pi, 12), (math.pi, 2)]:
        index = problem.space.from_params({"x": x, "level": level, "variant": "a"})
        assert problem.value(index) == pytest.approx(MIXED_BRANIN_MINIMUM, abs=1e-12)
        shifted = problem.value(problem.space.from_params({"x": x, "level": level, "variant": "c"}))
        assert shifted == pytest.approx(MIXED_BRANIN_MINIMUM + 1.0, abs=1e-12)
    # Nothing on a fine grid of the whole space is lower (the vectorized twin).
    xs, ys, vs = np.meshgrid(np.linspace(-5, 10, 3001), np.arange(16), np.arange(3))
    grid = np.stack([xs.ravel(), ys.ravel(), vs.ravel()], axis=1)
    assert mixed_branin_array(grid).min() >= MIXED_BRANIN_MINIMUM - 1e-12


def test_a_named_objective_gets_native_values_by_name():
    seen = []

    def objective(params):
        seen.append(dict(params))
        return params["lr"] * params["layers"] + (params["solver"] == "cg")

    space = Space({"lr": Float(1e-3, 1, log=True), "layers": Int(1, 8), "solver": Categorical(["cg", "gmres"])})
    problem = Problem(objective, space=space)
    x = space.from_params({"lr": 0.5, "layers": 3, "solver": "cg"})
    assert problem.value(x) == 2.5 and problem.lower == space.lower and problem.dim == 3
    assert seen == [{"lr": 0.5, "layers": 3, "solver": "cg"}]
    assert [type(v) for v in seen[0].values()] == [float, int, str]


def test_reading_an_undeclared_parameter_fails_the_evaluation_by_name():
    problem = Problem(lambda p: p["lr"] * p["momentum"], space=Space({"lr": Float(0, 1), "n": Int(1, 3)}))
    record = evaluate(problem, [0.5, 2.0], 0, 0.0, "initial")
    assert record.status == "failed"
    assert record.error == (
        "UndeclaredParameter: the objective read parameter 'momentum', which the space does not"
        " declare; declared parameters: lr, n (add it to the space or fix the objective)"
    )


class Counted:
    """An objective in either form that counts its calls."""

    def __init__(self, form, error=None):
        self.form, self.error, self.calls = form, error, []

    def __call__(self, points):
        self.calls.append(np.shape(points))
        if self.error is not None:
            raise self.error
        if self.form == "notebook":  # the reference notebook's check, first thing
            if points.shape[1] != 2:
                raise ValueError(f"Incorrect input shape, expected (*, 2), got {points.shape}")
            return np.array([[float(np.sum(p))] for p in points])
        if self.form == "indexing":
            return points[:, :1] + points[:, 1:]
        return float(points[0] + points[1])


@pytest.mark.parametrize("form", ["notebook", "indexing"])
def test_batch_form_is_detected_once(form):
    f = Counted(form)
    problem = Problem(f, [0, 0], [1, 1])
    assert problem.value([0.25, 0.5]) == 0.75
    assert f.calls == [(2,), (1, 2)]  # the 1-D call's shape complaint, then the batch call
    assert problem.value([0.5, 0.5]) == 1.0 and problem.value([0.0, 0.5]) == 0.5
    assert f.calls[2:] == [(1, 2), (1, 2)]  # remembered: no more 1-D calls


@pytest.mark.parametrize("batch", [None, False])
def test_a_plain_objective_is_called_once_per_point(batch):
    f = Counted("plain")
    problem = Problem(f, [0, 0], [1, 1], batch=batch)
    assert [problem.value([0.25, 0.5]), problem.value([0.5, 0.5])] == [0.75, 1.0]
    assert f.calls == [(2,), (2,)]
    f = Counted("notebook")
    assert Problem(f, [0, 0], [1, 1], batch=True).value([0.25, 0.5]) == 0.75 and f.calls == [(1, 2)]


@pytest.mark.parametrize(
    "error",
    [ValueError("solver diverged"), TypeError("bad mesh"), IndexError("list index out of range")],
)
def test_the_users_own_error_reaches_the_record_unchanged_after_one_call(error):
    f = Counted("plain", error)
    record = evaluate(Problem(f, [0, 0], [1, 1]), [0.1, 0.2], 3, 0.0, "initial")
    assert record.status == "failed" and f.calls == [(2,)]
    assert record.error == f"{type(error).__name__}: {error}"


def test_problem_arguments_are_checked():
    space = Space({"a": Float(0, 1)})
    with pytest.raises(ValueError, match="needs lower= and upper= .* or space=, got neither"):
        Problem(plain)
    with pytest.raises(ValueError, match="not both"):
        Problem(plain, [0], [2], space=space)
    with pytest.raises(ValueError, match="batch=True is for box objectives"):
        Problem(plain, space=space, batch=True)
    with pytest.raises(TypeError, match="space must be a dask_bo.Space"):
        Problem(plain, space={"a": Float(0, 1)})
    # The box form is a space too, and keeps its numbers.
    box = Problem(plain, [0, -1], [1, 1], name="b")
    assert box.space == Space.box([0, -1], [1, 1]) and box.with_delay(2.0).space == box.space


def test_delay_model_on_a_named_space_uses_its_unit_scale():
    space = Space({"lr": Float(1e-4, 1, log=True), "c": Categorical(["a", "b", "c"])})
    problem = Problem(lambda p: 0.0, space=space, delay_scale=2.0)
    assert problem.delay_s(space.from_params({"lr": 1e-2, "c": "c"})) == pytest.approx(2 * (0.5 + 1.0))


def write(path, text):
    path.write_text(text)
    return path


def test_descriptions_rebuild_the_problem(tmp_path):
    path = write(tmp_path / "objective.py", "def f(p):\n    return float(p['n'] + p['lr'])\n")
    space = Space({"lr": Float(1e-3, 1, log=True), "n": Int(1, 8), "c": Categorical([True, False])})
    made = Problem(load_objective(f"{path}:f"), space=space, name="f", spec=f"{path}:f", delay_scale=1.5)
    description = json.loads(json.dumps(made.describe()))
    assert description["space"] == space.to_dict()
    assert description["fingerprint"] == hashlib.sha256(path.read_bytes()).hexdigest()
    again = problem_from_description(description)
    assert again.space == space and again.delay_scale == 1.5 and again.spec == made.spec
    assert again.value(space.from_params({"lr": 0.5, "n": 2, "c": False})) == 2.5
    # Named problems come back by name; a Python function must be given again.
    mixed = problem_from_description(json.loads(json.dumps(get_problem("mixed-branin", 2.0).describe())))
    assert mixed.space == get_problem("mixed-branin").space and mixed.delay_scale == 2.0
    box = Problem(plain, [0, 0], [2, 1], name="p", minimum=0.0)
    described = json.loads(json.dumps(box.describe()))
    assert "space" not in described and described["fingerprint"] is None
    with pytest.raises(ValueError, match="pass it again"):
        problem_from_description(described)
    assert problem_from_description(described, plain) == box


def test_fingerprint_follows_the_objectives_file(tmp_path, monkeypatch):
    path = write(tmp_path / "my_objective_mod.py", "def f(x):\n    return 1.0\n")
    problem = Problem(load_objective(f"{path}:f"), [0], [1], spec=f"{path}:f")
    before = problem.fingerprint()
    assert before == hashlib.sha256(path.read_bytes()).hexdigest()
    write(path, "def f(x):\n    return 1000.0\n")
    assert problem.fingerprint() != before
    monkeypatch.syspath_prepend(str(tmp_path))
    by_module = Problem(load_objective("my_objective_mod:f"), [0], [1], spec="my_objective_mod:f")
    assert by_module.fingerprint() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert get_problem("branin").fingerprint() is None and Problem(plain, [0], [1]).fingerprint() is None


def test_load_objective_says_what_the_name_is(tmp_path):
    path = write(tmp_path / "values.py", "f = 3.0\nclass K:\n    @staticmethod\n    def g(x):\n        return 2.0\n")
    with pytest.raises(ValueError, match=rf"'{path}:f' is a float, not a function"):
        load_objective(f"{path}:f")
    assert load_objective(f"{path}:K.g")(0) == 2.0
    with pytest.raises(ValueError, match="'math:pi' is a float, not a function"):
        load_objective("math:pi")
    assert load_objective("os.path:join")("a", "b") == "a/b"


def test_resuming_a_changed_objective_file_needs_consent(tmp_path):
    path = write(tmp_path / "objective.py", "def f(x):\n    return float(x[0])\n")
    made = Problem(load_objective(f"{path}:f"), [0], [1], spec=f"{path}:f", batch=False)
    description = json.loads(json.dumps(made.describe()))
    assert problem_from_description(description).value([0.5]) == 0.5
    write(path, "def f(x):\n    return 1000 * float(x[0])\n")
    with pytest.raises(ValueError, match=r"objective's file \(.*objective.py:f\) changed since the run began.*--allow-changed-objective"):
        problem_from_description(description)
    assert problem_from_description(description, allow_changed_objective=True).value([0.5]) == 500.0
    # The file given again from elsewhere (same contents as recorded): accepted, spec updated.
    moved = write(tmp_path / "moved.py", "def f(x):\n    return float(x[0])\n")
    again = problem_from_description(description, f"{moved}:f")
    assert again.spec == f"{moved}:f" and again.value([0.5]) == 0.5
    # A function given again is taken as it is.
    assert problem_from_description(description, lambda x: 2.0).value([0.5]) == 2.0


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FINITE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_FINITE, _FINITE).filter(lambda p: p[0] < p[1]), min_size=1, max_size=6))
def test_parse_bounds_round_trips_any_valid_box(pairs):
    text = ";".join(f"{lo!r},{hi!r}" for lo, hi in pairs)
    assert parse_bounds(text) == (tuple(lo for lo, _ in pairs), tuple(hi for _, hi in pairs))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_parse_bounds_on_any_text_returns_a_box_or_names_the_input(text):
    try:
        lower, upper = parse_bounds(text)
    except ValueError as error:
        assert "--bounds" in str(error) and "\n" not in str(error)
    else:
        assert len(lower) == len(upper) >= 1 and all(lo < hi for lo, hi in zip(lower, upper))
