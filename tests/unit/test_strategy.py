"""The ask/tell core on its own: the acquisition maximizer, greedy asks, pending points, refits."""

from __future__ import annotations

import numpy as np
import pytest

from dask_bo.problems import get_problem

tf = pytest.importorskip("tensorflow")
optimizer_module = pytest.importorskip("dask_bo.optimizer")
AcquisitionMaximizer, Optimizer = optimizer_module.AcquisitionMaximizer, optimizer_module.Optimizer


def data(problem_name: str, n: int, seed: int = 0):
    problem = get_problem(problem_name)
    rng = np.random.default_rng(seed)
    lower, upper = np.array(problem.lower), np.array(problem.upper)
    x = lower + rng.random((n, problem.dim)) * (upper - lower)
    return problem, x, problem.objective(x).reshape(-1, 1)


def test_maximizer_finds_the_maximum_of_a_smooth_function():
    from trieste.space import Box

    centre = tf.constant([1.5, 7.0], tf.float64)

    def target(x):  # [N, 1, D] -> [N, 1]
        return -tf.reduce_sum((x[:, 0, :] - centre) ** 2, axis=-1, keepdims=True)

    point = AcquisitionMaximizer()(Box([-5.0, 0.0], [10.0, 15.0]), target)
    assert point.shape == (1, 2)
    np.testing.assert_allclose(point.numpy()[0], centre.numpy(), atol=1e-3)


def test_maximizer_reaches_trieste_maximum_of_local_penalization():
    from trieste.acquisition.optimizer import automatic_optimizer_selector

    problem, x, y = data("hartmann-6", 60)
    optimizer = Optimizer(problem.lower, problem.upper, x, y)
    optimizer.add_pending(np.random.default_rng(1).random((5, 6)))
    optimizer.ask(1)
    acquisition = optimizer._ask_tell._acquisition_rule._acquisition_function

    def value(point):
        return float(acquisition(tf.constant(point)[:, None, :])[0, 0])

    maximizer = AcquisitionMaximizer()
    ours = value(maximizer(optimizer.search_space, acquisition))
    theirs = value(automatic_optimizer_selector(optimizer.search_space, acquisition))
    assert ours >= theirs - 0.01 * abs(theirs), (ours, theirs)
    # It stops when the maxima stop improving, not at its iteration cap.
    assert maximizer.last_result.nit < maximizer.maxiter, maximizer.last_result


def test_asynchronous_ask_is_a_greedy_batch_of_pending_points():
    problem, x, y = data("scaled-branin", 8)
    optimizer = Optimizer(problem.lower, problem.upper, x, y)
    points = optimizer.ask(3)
    assert points.shape == (3, 2)
    assert len({tuple(p) for p in points}) == 3
    assert np.array_equal(optimizer.pending_points, points)  # bit-exact, in order
    optimizer.forget(points[1:2])
    assert np.array_equal(optimizer.pending_points, points[[0, 2]])
    optimizer.tell(points[[0, 2]], problem.objective(points[[0, 2]]))
    assert optimizer.pending_points.shape == (0, 2) and optimizer.dataset_size == 10


def test_full_refit_fits_as_well_as_trieste():
    from trieste.models.utils import optimize_model_and_save_result

    problem, x, y = data("hartmann-6", 80)
    losses = []
    for ours in (True, False):
        optimizer = Optimizer(problem.lower, problem.upper, x[:40], y[:40])
        optimizer.tell(x[40:], y[40:])
        assert optimizer.full_refit_due()
        if ours:
            optimizer.refit()
            assert not optimizer.refit_due() and not optimizer.full_refit_due()
        else:
            optimize_model_and_save_result(optimizer._ask_tell.model, optimizer._ask_tell.dataset)
        losses.append(float(optimizer._ask_tell.model.model.training_loss()))
    ours, theirs = losses
    assert ours <= theirs + 1e-3 * abs(theirs), losses


def test_compiled_penalizer_penalizes_as_trieste_does():
    """The penalizer's update runs compiled: same penalization as trieste's eager one, and
    one trace serves pending sets of every size."""
    from trieste.acquisition.function.greedy_batch import soft_local_penalizer

    problem, x, y = data("hartmann-6", 30)
    model = Optimizer(problem.lower, problem.upper, x, y)._ask_tell.model
    rng = np.random.default_rng(1)
    lipschitz, eta = tf.constant(20.0, tf.float64), tf.constant([-2.0], tf.float64)
    first = tf.constant(rng.random((1, problem.dim)))
    ours = optimizer_module._LocalPenalizer(model, first, lipschitz, eta)
    theirs = soft_local_penalizer(model, first, lipschitz, eta)
    candidates = tf.constant(rng.random((50, 1, problem.dim)))
    for size in range(2, 8):
        pending = tf.constant(rng.random((size, problem.dim)))
        ours.update(pending, lipschitz, eta)
        theirs.update(pending, lipschitz, eta)
        np.testing.assert_allclose(ours(candidates).numpy(), theirs(candidates).numpy(), rtol=1e-9)
    assert ours.update.experimental_get_tracing_count() <= 2
