"""Where the rule's points go once the data sits in one basin of hartmann-6.

60 uniform points and 60 around the local minimum (regret 0.12), 15 pending there; three
asks of 4 points each for three rules. Prints each point's regret and how many of its six
coordinates lie within 0.01 of the cube's faces, and the fitted kernel; then Local
Penalization again with the GP's constant mean fixed at 2 and at 3 (standardized values).

    python benchmarks/results/7de9565/rule_points_at_edges.py
"""

import gpflow
import numpy as np

from dask_bo.objectives import hartmann_6
from dask_bo.problems import get_problem
from dask_bo.strategies.strategy import Strategy

MINIMUM = get_problem("hartmann-6").minimum
LOCAL = np.array([0.4047, 0.8824, 0.8461, 0.5740, 0.1389, 0.0385])

rng = np.random.default_rng(2)
x = np.concatenate([rng.random((60, 6)), np.clip(LOCAL + 0.05 * rng.standard_normal((60, 6)), 0, 1)])
y = hartmann_6(x).reshape(-1, 1)
pending = np.clip(LOCAL + 0.03 * rng.standard_normal((15, 6)), 0, 1)


def show(strategy: Strategy, label: str) -> None:
    for _ in range(3):
        points = strategy.ask(4, pending)
        regret = hartmann_6(points).ravel() - MINIMUM
        at_faces = (np.minimum(points, 1 - points) < 0.01).sum(axis=1)
        print(f"{label}: regret {np.round(regret, 3)}, coordinates at a face {at_faces}")
    gp = strategy.model.model.model
    print(f"  lengthscales {np.round(gp.kernel.lengthscales.numpy(), 2)},"
          f" variance {float(gp.kernel.variance.numpy()):.3f}, mean {float(gp.mean_function.c.numpy()):.2f}")


for rule in ("local-penalization", "expected-improvement", "kriging-believer"):
    show(Strategy(6, x, y, rule=rule, seed=0), rule)
for mean in (2.0, 3.0):
    strategy = Strategy(6, x, y, seed=0)
    gp = strategy.model.model.model
    gp.mean_function.c.assign(mean)
    gpflow.set_trainable(gp.mean_function, False)
    strategy.model.refit(full=True)
    strategy.model.set_data(x, y)
    show(strategy, f"local-penalization, mean fixed at {mean}")
