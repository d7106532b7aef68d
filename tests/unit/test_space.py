from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dask_bo.space import Categorical, Float, Int, Space, SpaceError

ISSUE_TOML = """
[parameters.lr]
type = "float"        # "float", "int" or "categorical"
low = 1e-4
high = 1.0
log = true            # optional, default false (float and int)

[parameters.layers]
type = "int"
low = 1
high = 8

[parameters.solver]
type = "categorical"
choices = ["cg", "gmres", "bicg"]
"""


def mixed() -> Space:
    return Space(
        {
            "lr": Float(1e-4, 1.0, log=True),
            "layers": Int(1, 8),
            "width": Int(2, 512, log=True),
            "solver": Categorical(["cg", "gmres", "bicg"]),
            "flag": Categorical([True, False]),
            "size": Categorical([0.5, 2, "auto"]),
            "momentum": Float(-1.0, 1.0),
        }
    )


def test_the_issues_toml_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(ISSUE_TOML)
    space = Space.from_toml(path)
    assert space == Space(
        {"lr": Float(1e-4, 1.0, log=True), "layers": Int(1, 8), "solver": Categorical(["cg", "gmres", "bicg"])}
    )
    assert space.names == ("lr", "layers", "solver") and space.dim == 3 and space.encoded_dim == 5
    assert space.lower == (1e-4, 1.0, 0.0) and space.upper == (1.0, 8.0, 2.0)
    assert not space.is_box


def test_dict_round_trip_through_json_is_exact():
    space = mixed()
    again = Space.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again == space and again.to_dict() == space.to_dict()
    assert type(again.parameters["flag"].choices[0]) is bool
    assert [type(c) for c in again.parameters["size"].choices] == [float, int, str]
    box = Space.box([0, -1], [1, 1])
    assert Space.from_dict(json.loads(json.dumps(box.to_dict()))) == box


def test_equality_follows_declaration_order_and_types():
    a = Space({"a": Float(0, 1), "b": Int(0, 3)})
    assert a == Space({"a": Float(0.0, 1.0), "b": Int(0, 3)})
    assert a != Space({"b": Int(0, 3), "a": Float(0, 1)})
    assert a != Space({"a": Float(0, 1), "b": Float(0, 3)})
    assert Categorical([1, "x"]) != Categorical([True, "x"])
    assert Space.box([0], [1]) != Space({"x0": Float(0, 1)})  # the box's objective gets a vector


def test_box():
    box = Space.box([0, -5], [1, 5])
    assert box.is_box and box.names == ("x0", "x1") and box.lower == (0.0, -5.0)
    np.testing.assert_allclose(box.encode([[0.5, 0.0]]), [[0.5, 0.5]])
    np.testing.assert_allclose(box.unit([1.0, 5.0]), [1.0, 1.0])


def test_encoding_of_each_type():
    space = Space({"lr": Float(1e-4, 1.0, log=True), "n": Int(0, 4), "c": Categorical(["a", "b", "c"])})
    u = space.encode([[1e-2, 3, 2], [1e-4, 0, 0]])
    np.testing.assert_allclose(u, [[0.5, 0.75, 0, 0, 1], [0, 0, 1, 0, 0]], atol=1e-15)
    # Each integer sits exactly on its grid location; decoding rounds to the nearest one.
    np.testing.assert_array_equal(space.encode([[1.0, 1, 0]])[0, 1], 0.25)
    x = space.decode([[0.5, 0.374, 0.2, 0.7, 0.1], [-3.0, 9.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(x, [[1e-2, 1, 1], [1e-4, 4, 0]])
    assert space.to_params(x[0]) == {"lr": pytest.approx(1e-2), "n": 1, "c": "b"}
    assert [type(v) for v in space.to_params(x[0]).values()] == [float, int, str]


def test_log_integers_round_in_log_space():
    p = Space({"w": Int(1, 100, log=True)})
    # Halfway between 1 and 100 in log space is 10; just below it in log space is 9.
    assert p.decode([[0.5]])[0, 0] == 10
    assert p.decode([[math.log(9.4) / math.log(100)]])[0, 0] == 9


def unit_rows(width):
    return arrays(np.float64, st.tuples(st.integers(1, 5), st.just(width)),
                  elements=st.floats(-0.5, 1.5, allow_nan=False) | st.sampled_from([np.nan, np.inf, -np.inf]))


@settings(max_examples=200, deadline=None)
@given(unit_rows(mixed().encoded_dim))
def test_decode_is_always_feasible_and_snap_idempotent(u):
    space = mixed()
    x = space.decode(u)
    for row in x:
        params = space.to_params(row)
        np.testing.assert_array_equal(space.from_params(params), row)  # feasible, exact
    snapped = space.snap(u)
    np.testing.assert_array_equal(space.snap(snapped), snapped)
    np.testing.assert_allclose(space.encode(space.decode(u)), snapped, atol=1e-12)
    np.testing.assert_array_equal(space.decode(snapped), x)
    assert np.all((snapped >= 0) & (snapped <= 1))


def test_params_round_trip_and_native_types():
    space = mixed()
    params = {"lr": 0.01, "layers": 3, "width": 64, "solver": "gmres", "flag": False,
              "size": 2, "momentum": -0.25}
    x = space.from_params(params)
    np.testing.assert_array_equal(x, [0.01, 3, 64, 1, 1, 1, -0.25])
    back = space.to_params(x)
    assert back == params and [type(v) for v in back.values()] == [type(v) for v in params.values()]
    assert space.from_params(dict(params, size=2.0, layers=np.int64(3)))[1:3].tolist() == [3, 64]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"lr": 2.0}, r"parameter 'lr': expected a value in \[0.0001, 1.0\], got 2.0"),
        ({"layers": 2.5}, r"parameter 'layers': expected an integer in \[1, 8\], got 2.5"),
        ({"solver": "sor"}, r"parameter 'solver': expected one of \['cg', 'gmres', 'bicg'\], got 'sor'"),
        ({"flag": 1}, r"expected one of \[True, False\], got 1"),
        ({"depth": 1}, "got undeclared depth"),
    ],
)
def test_from_params_names_the_bad_value(change, message):
    params = {"lr": 0.01, "layers": 3, "width": 64, "solver": "gmres", "flag": False,
              "size": 2, "momentum": 0.0}
    with pytest.raises(SpaceError, match=message):
        mixed().from_params(dict(params, **change))
    with pytest.raises(SpaceError, match="got missing lr"):
        mixed().from_params({k: v for k, v in params.items() if k != "lr"})


def test_samples_are_seeded_feasible_and_balanced():
    space = mixed()
    x = space.sample(60, seed=3)
    np.testing.assert_array_equal(x, space.sample(60, seed=3))
    assert not np.array_equal(x, space.sample(60, seed=4))
    np.testing.assert_array_equal(space.decode(space.encode(x)), x)
    # A Latin hypercube: each choice and each integer equally often.
    assert sorted(np.unique(x[:, 3], return_counts=True)[1]) == [20, 20, 20]
    assert set(np.unique(x[:, 1], return_counts=True)[1]) <= {7, 8}
    assert np.all(x[:, 0] >= 1e-4) and np.mean(x[:, 0] < 1e-2) == pytest.approx(0.5, abs=0.05)


def test_space_filling_point_is_far_from_the_taken_ones():
    space = Space({"a": Float(0, 10), "c": Categorical(["p", "q"])})
    taken = np.array([[0.0, 0], [1.0, 0], [0.5, 1]])
    rng = np.random.default_rng(0)
    points = np.array([space.space_filling(taken, rng) for _ in range(20)])
    np.testing.assert_array_equal(space.decode(space.encode(points)), points)
    assert np.all(points[:, 0] > 7)
    assert space.space_filling(np.empty((0, 2)), rng).shape == (2,)


@pytest.mark.parametrize(
    "table, message",
    [
        ('type = "double"', r"parameter 'p': unknown type 'double'; use type = \"float\", \"int\" or \"categorical\""),
        ('type = "float"\nlow = 1\nhigh = 0', r"parameter 'p': Float expects low < high, got low=1.0, high=0.0; swap"),
        ('type = "float"\nlow = 0\nhigh = 1\nlog = true', r"parameter 'p': Float on a log scale needs low > 0, got low=0.0"),
        ('type = "int"\nlow = 1.5\nhigh = 4', r"parameter 'p': Int expects an integer low, got 1.5; round it"),
        ('type = "int"\nlow = 0\nhigh = 8\nlog = true', r"Int on a log scale needs low > 0, got low=0"),
        ('type = "categorical"\nchoices = []', r"parameter 'p': Categorical expects at least one choice"),
        ('type = "categorical"\nchoices = ["a", "b", "a"]', r"parameter 'p': Categorical expects distinct choices, got 'a' twice"),
        ('type = "categorical"\nchoices = "abc"', r"Categorical expects a list of choices, got 'abc'"),
        ('type = "float"\nlow = 0', r"parameter 'p': a float needs high, got keys type, low"),
        ('type = "float"\nlow = 0\nhigh = 1\nhgih = 2', r"unknown key 'hgih' for a float; its keys are type, low, high, log"),
        ('type = "float"\nlow = "0"\nhigh = 1', r"expected a finite number for low, got '0'"),
        ('low = 0\nhigh = 1', r"parameter 'p': unknown type None"),
    ],
)
def test_bad_parameters_are_one_line_errors(tmp_path, table, message):
    path = tmp_path / "space.toml"
    path.write_text(f"[parameters.p]\n{table}\n")
    with pytest.raises(SpaceError, match=message) as info:
        Space.from_toml(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_bad_files(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text("[parameters.lr\ntype = 'float'\n")
    with pytest.raises(SpaceError, match=r"space.toml: not valid TOML \(.*line 1.*\); fix"):
        Space.from_toml(path)
    with pytest.raises(SpaceError, match="cannot read space file .*missing.toml"):
        Space.from_toml(tmp_path / "missing.toml")
    path.write_text('[parameters."1st"]\ntype = "int"\nlow = 0\nhigh = 1\n')
    with pytest.raises(SpaceError, match="parameter name '1st' is not an identifier"):
        Space.from_toml(path)
    path.write_text("[params.lr]\n")
    with pytest.raises(SpaceError, match=r"expected a \[parameters.NAME\] table per parameter"):
        Space.from_toml(path)


def test_python_construction_errors():
    with pytest.raises(SpaceError, match="not an identifier"):
        Space({"my-lr": Float(0, 1)})
    with pytest.raises(SpaceError, match="parameter 'a': expected Float, Int or Categorical, got 0.5"):
        Space({"a": 0.5})
    with pytest.raises(SpaceError, match="expected a dict of named parameters"):
        Space({})
    with pytest.raises(SpaceError, match=r"dimension 1 needs finite bounds with lower < upper, got \[1.0, 1.0\]"):
        Space.box([0, 1], [1, 1])
    with pytest.raises(SpaceError, match=r"expected x of shape \[N, 2\] or \[2\], got shape \(3,\)"):
        Space.box([0, 0], [1, 1]).encode([0.1, 0.2, 0.3])
    assert isinstance(SpaceError("x"), ValueError)


def test_to_params_refuses_an_infeasible_point():
    space = Space({"a": Float(0, 1), "n": Int(1, 8), "c": Categorical(["p", "q"])})
    with pytest.raises(SpaceError, match=r"parameter 'n': expected an integer in \[1, 8\], got 2.5"):
        space.to_params([0.5, 2.5, 0])
    with pytest.raises(SpaceError, match=r"parameter 'c': expected a choice index 0..1, got 2.0"):
        space.to_params([0.5, 2, 2])
    with pytest.raises(SpaceError, match=r"parameter 'a': expected a value in \[0.0, 1.0\], got 1.5"):
        space.to_params([1.5, 2, 0])
    with pytest.raises(SpaceError, match=r"expected one point x \[3\], got shape \(2, 3\)"):
        space.to_params([[0.5, 2, 0]] * 2)


@st.composite
def spaces(draw):
    parameters = {}
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["float", "int", "categorical"]))
        log = draw(st.booleans())
        if kind == "float":
            low = draw(st.floats(1e-6 if log else -1e6, 1e6, allow_nan=False))
            high = draw(st.floats(low, 2e6, allow_nan=False).filter(lambda h: h > low))
            parameters[f"p{i}"] = Float(low, high, log)
        elif kind == "int":
            low = draw(st.integers(1 if log else -1000, 1000))
            parameters[f"p{i}"] = Int(low, draw(st.integers(low + 1, 2000)), log)
        else:
            choice = st.one_of(st.text(max_size=5), st.booleans(), st.integers(-5, 5),
                               st.floats(-10, 10, allow_nan=False))
            choices = draw(st.lists(choice, min_size=1, max_size=4, unique_by=lambda c: str(type(c) is bool) + repr(float(c)) if not isinstance(c, str) else c))
            parameters[f"p{i}"] = Categorical(choices)
    return Space(parameters)


@settings(max_examples=60, deadline=None)
@given(spaces(), st.integers(0, 2**32 - 1))
def test_every_space_and_point_round_trips_through_json_exactly(space, seed):
    again = Space.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again == space
    for x in space.sample(4, seed):
        params = json.loads(json.dumps(space.to_params(x)))
        np.testing.assert_array_equal(again.from_params(params), x)
        back = space.decode(space.encode(x))
        discrete = [not isinstance(p, Float) for p in space.parameters.values()]
        np.testing.assert_array_equal(back[discrete], x[discrete])  # floats: to rounding
        width = np.subtract(space.upper, space.lower)
        assert np.all(np.abs(back - x) <= 1e-12 * (width + np.abs(x)))
        assert [type(v) for v in again.to_params(x).values()] == [type(v) for v in space.to_params(x).values()]
