"""Every rule in both modes, snapping, duplicates, the registry."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dask_bo.strategies import RULES, Strategy, make_strategy


def f(u: np.ndarray) -> np.ndarray:
    return np.sum((u - 0.3) ** 2, axis=1, keepdims=True)


def test_registry_names_each_rule_with_a_one_line_description():
    assert list(RULES) == [
        "local-penalization", "kriging-believer", "gibbon", "thompson", "expected-improvement",
        "ucb", "random",
    ]
    for name, rule in RULES.items():
        assert rule.name == name and rule.description and "\n" not in rule.description


def test_importing_the_registry_does_not_import_tensorflow():
    code = "import sys, dask_bo.strategies; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("rule", list(RULES))
def test_rule_proposes_new_feasible_points_in_both_modes(rule):
    rng = np.random.default_rng(0)
    x = rng.random((6, 2))
    grid = lambda u: np.round(u * 4) / 4  # noqa: E731  (a snap: a 5 x 5 grid)
    strategy = Strategy(2, grid(x), f(grid(x)), rule=rule, seed=0, snap=grid)
    pending = grid(rng.random((2, 2)))
    for asynchronous in (True, False):
        strategy.asynchronous = asynchronous
        points = strategy.ask(2, pending if asynchronous else None)
        assert points.shape == (2, 2) and np.array_equal(points, grid(points))
        seen = {tuple(p) for p in np.concatenate([strategy._x, pending])}
        assert len({tuple(p) for p in points}) == 2 and not seen & {tuple(p) for p in points}
        strategy.tell(points, f(points))
        strategy.refit()


def test_local_penalization_ask_avoids_pending_points():
    rng = np.random.default_rng(1)
    x = rng.random((10, 2))
    strategy = Strategy(2, x, f(x), rule="local-penalization", seed=1)
    alone = strategy.ask(1)
    penalized = strategy.ask(1, alone)
    assert np.max(np.abs(penalized - alone)) > 0.01


def test_a_discrete_space_gets_an_unseen_point_or_a_warning(caplog):
    binary = lambda u: np.round(u)  # noqa: E731  (4 feasible points)
    seen = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    strategy = Strategy(2, seen, f(seen), rule="random", seed=0, snap=binary)
    np.testing.assert_array_equal(strategy.ask(1), [[1.0, 1.0]])
    strategy.tell([[1.0, 1.0]], [[0.5]])
    strategy.ask(1)
    assert "already evaluated or pending" in caplog.text


def test_strategy_refuses_unknown_rule_model_and_shapes():
    x = np.zeros((1, 2))
    with pytest.raises(ValueError, match="expected a rule in .*got 'nope'"):
        Strategy(2, x, [[0.0]], rule="nope")
    with pytest.raises(ValueError, match="expected model in .*got 'big'"):
        Strategy(2, x, [[0.0]], model="big")
    strategy = Strategy(2, x, [[0.0]], rule="random")
    with pytest.raises(ValueError, match=r"expected pending of shape \[N, 2\], got \(3,\)"):
        strategy.ask(1, np.zeros(3))
    with pytest.raises(ValueError, match="expected a number of points n >= 0, got -1"):
        strategy.ask(-1)
    assert strategy.ask(0).shape == (0, 2)


def test_make_strategy_encodes_a_space_and_snaps_to_it():
    class Halves:  # the part of a Space that make_strategy uses
        encoded_dim = 1
        categorical_columns = np.array([False])
        encode = staticmethod(lambda x: x / 10.0)
        snap = staticmethod(lambda u: np.round(u * 2) / 2)

    strategy = make_strategy(Halves(), np.array([[0.0], [5.0]]), [[1.0], [0.0]], rule="random", seed=0)
    np.testing.assert_array_equal(strategy.ask(1), [[1.0]])


SEEDED = textwrap.dedent("""
    import numpy as np
    from dask_bo.strategies import Strategy
    x = np.random.default_rng(0).random((6, 2)); y = np.sum((x - 0.3) ** 2, axis=1, keepdims=True)
    s = Strategy(2, x, y, rule="expected-improvement", seed=3)
    a = s.ask(2, x[:1]); s.tell(a, np.sum(a, axis=1, keepdims=True)); s.refit()
    print(np.concatenate([a, s.ask(1), s.ask_thompson(1)]).tolist())
""")


def test_a_seed_makes_asked_points_reproducible_in_fresh_processes():
    """TensorFlow's random ops (the maximizer's samples) and numpy's (Thompson) both follow it."""
    runs = [
        subprocess.Popen([sys.executable, "-c", SEEDED], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert outputs[0] == outputs[1] and len(eval(outputs[0])) == 4


def test_different_seeds_give_different_points():
    x = np.zeros((1, 2))
    first, second = (Strategy(2, x, [[0.0]], rule="random", seed=seed).ask(3) for seed in (3, 4))
    assert not np.array_equal(first, second)


def test_a_strategy_without_data_proposes_random_points_until_told():
    strategy = Strategy(2, np.zeros((0, 2)), np.zeros((0, 1)), rule="thompson", seed=0)
    assert strategy.model is None and not strategy.refit_due()
    points = strategy.ask(2)
    assert points.shape == (2, 2)
    strategy.tell(points, f(points))
    assert strategy.dataset_size == 2 and strategy.refit_due()


def test_thompson_candidates_go_near_the_best_points_where_uniform_ones_are_sparse():
    from dask_bo.strategies.thompson import DENSE, SPARSE, layout

    assert layout(2, 1000) is DENSE  # 1,000 uniform points about 3% apart
    assert layout(6, 1000) is SPARSE  # about 32% apart
    x = np.random.default_rng(0).random((20, 6))
    points = Strategy(6, x, f(x), rule="thompson", seed=0).ask_thompson(8)
    best = x[np.argsort(f(x)[:, 0])[:SPARSE.centres]]

    def distance(u):  # the median distance to the nearest of the best points
        return np.median(np.min(np.linalg.norm(u[:, None] - best[None], axis=2), axis=1))

    uniform = np.random.default_rng(1).random((1000, 6))
    assert distance(points) < 0.6 * distance(uniform)  # 0.30 against 0.70
