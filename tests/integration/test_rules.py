"""Every rule in both modes on a real LocalCluster, against random search; mixed spaces."""

from __future__ import annotations

import sys

import cloudpickle
import numpy as np
import pytest

import dask_bo
from dask_bo.journal import read_journal
from dask_bo.problems import Problem

cloudpickle.register_pickle_by_value(sys.modules[__name__])

RULE_NAMES = sorted(dask_bo.RULES)


def bowl(x):
    return float(np.sum((np.asarray(x) - [0.3, 0.6, 0.45]) ** 2))


BOWL = Problem(bowl, [0, 0, 0], [1, 1, 1], name="bowl", minimum=0.0, batch=False, delay_scale=0.1)


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("rule", RULE_NAMES)
def test_every_rule_runs_in_both_modes(client, rule, mode, tmp_path):
    result = dask_bo.optimize(BOWL, client=client, mode=mode, rule=rule, evaluations=12, initial=4, seed=1,
                              out=tmp_path, progress=False)
    assert len(result.driven) == 12 and all(e.ok for e in result.history)
    assert result.metrics()["rule"] == rule
    assert read_journal(tmp_path)[0]["config"]["settings"]["rule"] == rule  # resume keeps it
    proposals = {e.proposal for e in result.driven}
    assert proposals <= ({"batch", "explore"} if mode == "sync" else {"rule", "thompson", "explore"}), proposals


def test_a_mixed_space_runs_in_both_modes_and_reads_by_name(client, tmp_path):
    problem = dask_bo.get_problem("mixed-branin", delay_scale=0.1)
    for mode in ("async", "sync"):
        out = tmp_path / mode
        result = dask_bo.optimize(problem, client=client, mode=mode, evaluations=24, initial=6, seed=2,
                                  out=out, progress=False)
        best = result.best_params
        assert set(best) == set(problem.space.names)
        assert isinstance(best["level"], int) and best["variant"] in ("a", "b", "c")
        assert len(result.driven) == 24 and result.metrics()["best_regret"] >= -1e-9
        # Every point, by name and in its own type, survives the journal and the history file.
        assert dask_bo.load_result(out).history == result.history
        frame = result.to_dataframe()
        assert str(frame["variant"].dtype) == "category" and frame["level"].dtype.kind == "i"
