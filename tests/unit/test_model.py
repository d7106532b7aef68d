"""The model on its own: TensorFlow's set-up, standardization, recovery from bad data, the
sparse switch."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dask_bo import model as model_package
from dask_bo.strategies import Strategy

tf = pytest.importorskip("tensorflow")


def _probe(x):
    if x > 0:  # a Python condition on a tensor: only AutoGraph can trace it
        return x
    return -x


def test_configure_is_idempotent_and_its_autograph_rule_still_works():
    """Fails when a TensorFlow upgrade breaks the private AutoGraph seam: then
    trace_without_autograph falls back (slower first traces) and should be looked at."""
    first = model_package.configure()
    assert model_package.configure() == first
    assert first["autograph_rule"], "the AutoGraph rule no longer applies on this TensorFlow"
    assert tf.function(_probe)(tf.constant(-2.0)).numpy() == 2.0  # the top level is converted
    assert model_package.trace_without_autograph(__name__)
    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError):
        tf.function(lambda x: _probe(x))(tf.constant(-3.0))  # called from there: not converted


def test_autograph_rule_falls_back_when_tensorflow_changes(monkeypatch, caplog):
    from tensorflow.python.autograph.core import config

    monkeypatch.delattr(config, "DoNotConvert")
    with caplog.at_level(logging.DEBUG, logger="dask_bo"):
        assert model_package.trace_without_autograph("nothing") is False


@pytest.mark.parametrize("values", [
    [3.0, 3.0, 3.0], [5.0], [1e200, -1e200, 3e199], [1e-200, 3e-200, -2e-200],
    [1e200, 1e-200, 0.0], [1.0, np.inf, np.nan, 2.0],
])
def test_standardize_gives_finite_unit_scale_values(values):
    from dask_bo.model.gp import standardize

    z = standardize(np.array(values)[:, None])
    assert z.shape == (len(values), 1) and np.isfinite(z).all()
    assert abs(z.mean()) < 1e-9 and (np.allclose(z, 0) or abs(z.std() - 1) < 1e-9)


def _ask_all(strategy, dim):
    """tell, refit and ask; every proposal must be a feasible point."""
    rng = np.random.default_rng(0)
    pending = rng.random((2, dim))
    for points in (strategy.ask(2, pending), strategy.ask_thompson(2, pending)):
        assert points.shape == (2, dim) and np.isfinite(points).all()
        assert ((points >= 0) & (points <= 1)).all()
    return points


@pytest.mark.parametrize("values, rule", [
    ([0.5, 0.5, 0.5, 0.5], "local-penalization"),  # all equal: a Lipschitz constant of 0
    ([0.5], "thompson"),  # one point
    ([1e200, 2e200, -1e200, 5e199], "thompson"),  # huge
    ([1e-200, 3e-200, 2e-200, 4e-200], "thompson"),  # tiny
    ([1e200, 1.0, 2.0, 1e-200], "local-penalization"),  # both at once
])
def test_no_model_step_raises_on_bad_values(values, rule, caplog):
    """Thompson's ask needs no acquisition function traced: it keeps the model's steps (build,
    fit, update, joint prediction) the test's subject, in a fraction of the time."""
    rng = np.random.default_rng(1)
    x = rng.random((len(values), 2))
    y = np.array(values)[:, None]
    with caplog.at_level(logging.WARNING, logger="dask_bo"):
        strategy = Strategy(2, x, y, rule=rule, seed=0)
        points = _ask_all(strategy, 2)
        strategy.tell(points, np.full((2, 1), values[0]))
        strategy.refit()
        _ask_all(strategy, 2)
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1


def test_a_failing_fit_resets_the_model_and_warns_once(monkeypatch, caplog):
    rng = np.random.default_rng(2)
    x = rng.random((6, 2))
    strategy = Strategy(2, x, np.sum(x, axis=1, keepdims=True), rule="thompson")

    def failing_minimize(*args, **kwargs):
        raise tf.errors.InvalidArgumentError(None, None, "Cholesky decomposition was not successful")

    monkeypatch.setattr(strategy.model._scipy, "minimize", failing_minimize)
    with caplog.at_level(logging.WARNING, logger="dask_bo"):
        for _ in range(2):
            strategy.tell(rng.random((1, 2)), [[0.3]])
            strategy.refit()
            _ask_all(strategy, 2)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "fit failed" in warnings[0].getMessage()
    assert strategy.model.usable


def test_a_model_that_cannot_take_the_data_gives_random_points(monkeypatch, caplog):
    rng = np.random.default_rng(3)
    x = rng.random((5, 2))
    strategy = Strategy(2, x, np.sum(x, axis=1, keepdims=True), rule="thompson")

    def failing_update(dataset):
        raise tf.errors.InvalidArgumentError(None, None, "Cholesky decomposition was not successful")

    monkeypatch.setattr(strategy.model.model, "update", failing_update)
    with caplog.at_level(logging.WARNING, logger="dask_bo"):
        strategy.tell(rng.random((1, 2)), [[0.3]])
        assert not strategy.model.usable
        _ask_all(strategy, 2)
        strategy.tell(rng.random((1, 2)), [[0.2]])
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "random" in warnings[0], warnings


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    exponent=st.integers(-300, 300),
    pattern=st.lists(st.sampled_from([0.0, 1.0, -1.0, 1e-9, 1e9]), min_size=1, max_size=5),
)
def test_tell_refit_and_ask_never_raise_on_random_value_patterns(exponent, pattern):
    y = np.array(pattern)[:, None] * 10.0**exponent
    x = np.random.default_rng(len(pattern)).random((len(pattern), 2))
    strategy = Strategy(2, x[:1], y[:1], rule="thompson", seed=0)
    strategy.tell(x[1:], y[1:])
    strategy.refit()
    _ask_all(strategy, 2)


def test_auto_model_turns_sparse_past_the_threshold():
    rng = np.random.default_rng(4)
    x = rng.random((25, 2))
    f = lambda u: np.sum((u - 0.4) ** 2, axis=1, keepdims=True)  # noqa: E731
    strategy = Strategy(2, x, f(x), rule="local-penalization", sparse_threshold=30, num_inducing=16)
    assert not strategy.model.sparse
    more = rng.random((10, 2))
    strategy.tell(more, f(more))
    assert strategy.refit_due() and strategy.full_refit_due()
    strategy.refit()
    assert strategy.model.sparse and strategy.model.model.model.inducing_variable.Z.shape == (16, 2)
    assert not strategy.refit_due()
    _ask_all(strategy, 2)


def test_a_rule_that_cannot_run_sparse_says_so():
    x = np.random.default_rng(5).random((4, 2))
    with pytest.raises(ValueError, match="kriging-believer.*cannot run on the sparse model"):
        Strategy(2, x, np.sum(x, axis=1, keepdims=True), rule="kriging-believer", model="sparse")
    auto = Strategy(2, x, np.sum(x, axis=1, keepdims=True), rule="kriging-believer", sparse_threshold=3)
    auto.refit()
    assert not auto.model.sparse  # "auto" keeps the exact model for it


def test_a_model_that_cannot_be_built_leaves_random_points(monkeypatch, caplog):
    from dask_bo.model.gp import GPModel

    def failing_build(self, data, noise):
        raise tf.errors.InvalidArgumentError(None, None, "Cholesky decomposition was not successful")

    monkeypatch.setattr(GPModel, "_build", failing_build)
    x = np.random.default_rng(6).random((3, 2))
    with caplog.at_level(logging.WARNING, logger="dask_bo"):
        strategy = Strategy(2, x, np.sum(x, axis=1, keepdims=True), rule="local-penalization")
        assert strategy.model is None
        _ask_all(strategy, 2)
        strategy.tell(x[:1] / 2, [[0.1]])  # tries again, fails again
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "cannot be built" in warnings[0], warnings
