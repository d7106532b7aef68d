"""The strategy's machinery: the acquisition maximizer, the compiled refit and penalizer."""

from __future__ import annotations

import numpy as np
import pytest

from dask_bo.problems import get_problem
from dask_bo.strategies import Strategy

tf = pytest.importorskip("tensorflow")


def data(problem_name: str, n: int, seed: int = 0):
    """A problem, n points in its unit cube, and its values there."""
    problem = get_problem(problem_name)
    lower, upper = np.array(problem.lower), np.array(problem.upper)
    u = np.random.default_rng(seed).random((n, problem.dim))
    return problem, u, problem.objective(lower + u * (upper - lower)).reshape(-1, 1)


def test_maximizer_finds_the_maximum_of_a_smooth_function():
    from trieste.space import Box

    from dask_bo.model.maximizer import AcquisitionMaximizer

    centre = tf.constant([1.5, 7.0], tf.float64)

    def target(x):  # [N, 1, D] -> [N, 1]
        return -tf.reduce_sum((x[:, 0, :] - centre) ** 2, axis=-1, keepdims=True)

    point = AcquisitionMaximizer()(Box([-5.0, 0.0], [10.0, 15.0]), target)
    assert point.shape == (1, 2)
    np.testing.assert_allclose(point.numpy()[0], centre.numpy(), atol=1e-3)


def test_maximizer_gives_distinct_local_maxima_best_first():
    from dask_bo.model.maximizer import AcquisitionMaximizer, EncodedCube

    def two_peaks(x):  # peaks at 0.2 (higher) and 0.8
        u = x[:, 0, 0]
        return (tf.exp(-((u - 0.2) / 0.05) ** 2) + 0.5 * tf.exp(-((u - 0.8) / 0.05) ** 2))[:, None]

    maxima = AcquisitionMaximizer().maximize(EncodedCube(1), two_peaks, k=2)
    np.testing.assert_allclose(maxima[:, 0], [0.2, 0.8], atol=0.01)


def test_maximizer_reaches_trieste_maximum_of_local_penalization():
    from trieste.acquisition import LocalPenalization
    from trieste.acquisition.optimizer import automatic_optimizer_selector

    from dask_bo.model.maximizer import AcquisitionMaximizer

    problem, x, y = data("hartmann-6", 40)
    model = Strategy(6, x, y, rule="local-penalization").model
    pending = tf.constant(np.random.default_rng(1).random((5, 6)))
    acquisition = LocalPenalization(model.search_space).prepare_acquisition_function(
        model.model, model.dataset, pending
    )

    def value(point):
        return float(acquisition(tf.constant(point)[:, None, :])[0, 0])

    maximizer = AcquisitionMaximizer()
    ours = value(maximizer(model.search_space, acquisition))
    theirs = value(automatic_optimizer_selector(model.search_space, acquisition))
    assert ours >= theirs - 0.01 * abs(theirs), (ours, theirs)
    # It stops when the maxima stop improving, not at its iteration cap.
    assert maximizer.last_result.nit < maximizer.maxiter, maximizer.last_result


def test_full_refit_fits_as_well_as_trieste():
    from trieste.models.utils import optimize_model_and_save_result

    problem, x, y = data("hartmann-6", 60)
    losses = []
    for ours in (True, False):
        strategy = Strategy(6, x[:30], y[:30], rule="thompson")
        strategy.tell(x[30:], y[30:])
        assert strategy.full_refit_due()
        if ours:
            strategy.refit()
            assert not strategy.refit_due() and not strategy.full_refit_due()
        else:
            optimize_model_and_save_result(strategy.model.model, strategy.model.dataset)
        losses.append(float(strategy.model.model.model.training_loss()))
    ours, theirs = losses
    assert ours <= theirs + 1e-3 * abs(theirs), losses


def test_refits_follow_the_data_growth():
    problem, x, y = data("scaled-branin", 30)
    strategy = Strategy(2, x[:10], y[:10], rule="thompson", refit_fraction=0.2)
    assert not strategy.refit_due()
    strategy.tell(x[10:11], y[10:11])
    assert not strategy.refit_due()  # one point: less than 20% of 10
    strategy.tell(x[11:12], y[11:12])
    assert strategy.refit_due() and not strategy.full_refit_due()
    strategy.refit()
    strategy.tell(x[11:], y[11:])
    assert strategy.full_refit_due()


def test_compiled_penalizer_penalizes_as_trieste_does():
    """The penalizer's update runs compiled: same penalization as trieste's eager one, and
    one trace serves pending sets of every size."""
    from trieste.acquisition.function.greedy_batch import soft_local_penalizer

    from dask_bo.strategies.local_penalization import compiled_penalizer

    problem, x, y = data("hartmann-6", 20)
    model = Strategy(6, x, y, rule="thompson").model.model
    rng = np.random.default_rng(1)
    lipschitz, eta = tf.constant(20.0, tf.float64), tf.constant([-2.0], tf.float64)
    first = tf.constant(rng.random((1, problem.dim)))
    ours = compiled_penalizer()(model, first, lipschitz, eta)
    theirs = soft_local_penalizer(model, first, lipschitz, eta)
    candidates = tf.constant(rng.random((50, 1, problem.dim)))
    for size in range(2, 8):
        pending = tf.constant(rng.random((size, problem.dim)))
        ours.update(pending, lipschitz, eta)
        theirs.update(pending, lipschitz, eta)
        np.testing.assert_allclose(ours(candidates).numpy(), theirs(candidates).numpy(), rtol=1e-9)
    assert ours.update.experimental_get_tracing_count() <= 2


def test_maximizer_over_a_mixed_space_returns_the_best_feasible_point():
    # Relaxed, the target peaks between the choices "a" and "b" (0.5 each), a point that
    # snaps to either of them; of the feasible points, "c" is best.
    from dask_bo.model.maximizer import AcquisitionMaximizer, EncodedCube
    from dask_bo.space import Categorical, Float, Int, Space

    space = Space({"x": Float(0.0, 1.0), "level": Int(0, 15), "variant": Categorical(["a", "b", "c"])})
    cube = EncodedCube(space.encoded_dim, space.snap, space.categorical_columns)

    def target(u):  # [N, 1, 5] -> [N, 1]
        u = u[:, 0, :]
        between = 2.0 * tf.minimum(u[:, 2], u[:, 3])
        return (-(u[:, 0] - 0.3) ** 2 - (u[:, 1] - 0.5) ** 2 + between + 0.5 * u[:, 4])[:, None]

    for point in (AcquisitionMaximizer()(cube, target).numpy()[0],
                  AcquisitionMaximizer().maximize(cube, target, k=2)[0]):
        np.testing.assert_array_equal(space.snap(point), point)  # feasible as it is
        x, level, variant = space.decode(point)
        assert space.to_params(space.decode(point))["variant"] == "c", point
        assert abs(x - 0.3) < 1e-3 and level in (7, 8), point
