"""Problems: an objective over a box, named benchmark problems, and the delay model.

Named problems are trieste's single-objective test problems, named in kebab case
(``ScaledBranin`` -> ``scaled-branin``). The common ones have NumPy twins here so that workers
evaluate them without importing TensorFlow; the rest call trieste's own function.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["Problem", "get_problem", "PROBLEM_NAMES", "parse_bounds", "load_objective"]


def _branin(x: np.ndarray, scale: float, translate: float) -> np.ndarray:
    x0 = x[..., :1] * 15.0 - 5.0
    x1 = x[..., 1:] * 15.0
    b, c, r, s, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return scale * ((x1 - b * x0**2 + c * x0 - r) ** 2 + s * (1 - t) * np.cos(x0) + translate)


def branin(x: np.ndarray) -> np.ndarray:
    """Branin-Hoo over [0, 1]^2. :param x: [..., 2]. :return: [..., 1]."""
    return _branin(x, 1.0, 10.0)


def scaled_branin(x: np.ndarray) -> np.ndarray:
    """Branin-Hoo rescaled to zero mean and unit variance. :param x: [..., 2]. :return: [..., 1]."""
    return _branin(x, 1 / 51.95, -44.81)


_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HARTMANN_3 = (
    np.array([[3.0, 10.0, 30.0], [0.1, 10.0, 35.0], [3.0, 10.0, 30.0], [0.1, 10.0, 35.0]]),
    np.array(
        [
            [0.3689, 0.1170, 0.2673],
            [0.4699, 0.4387, 0.7470],
            [0.1091, 0.8732, 0.5547],
            [0.0381, 0.5743, 0.8828],
        ]
    ),
)
_HARTMANN_6 = (
    np.array(
        [
            [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
            [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
            [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
            [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
        ]
    ),
    np.array(
        [
            [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
            [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
            [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
            [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
        ]
    ),
)


def _hartmann(x: np.ndarray, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    inner = -np.sum(a * (np.expand_dims(x, -2) - p) ** 2, -1)
    return -np.sum(_HARTMANN_ALPHA * np.exp(inner), -1, keepdims=True)


def hartmann_3(x: np.ndarray) -> np.ndarray:
    """Hartmann 3 over [0, 1]^3. :param x: [..., 3]. :return: [..., 1]."""
    return _hartmann(x, *_HARTMANN_3)


def hartmann_6(x: np.ndarray) -> np.ndarray:
    """Hartmann 6 over [0, 1]^6. :param x: [..., 6]. :return: [..., 1]."""
    return _hartmann(x, *_HARTMANN_6)


def ackley_5(x: np.ndarray) -> np.ndarray:
    """Ackley over [0, 1]^5 (rescaled from [-32.768, 32.768]). :param x: [..., 5]. :return: [..., 1]."""
    z = (x - 0.5) * (32.768 * 2.0)
    e1 = -0.2 * np.sqrt(np.sum(z**2, -1) / 5.0)
    e2 = np.sum(np.cos(2.0 * math.pi * z), -1) / 5.0
    return np.expand_dims(-20.0 * np.exp(e1) - np.exp(e2) + 20.0 + math.e, -1)


def michalewicz(x: np.ndarray) -> np.ndarray:
    """Michalewicz (m=10) over [0, pi]^D. :param x: [..., D]. :return: [..., 1]."""
    i = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    return -np.sum(np.sin(x) * np.sin(i * x**2 / math.pi) ** 20, -1, keepdims=True)


@dataclass(frozen=True)
class TriesteObjective:
    """One of trieste's objective functions, looked up by its attribute name on the worker."""

    attribute: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import trieste.objectives

        return np.asarray(getattr(trieste.objectives, self.attribute).objective(x))


_UNIT = (0.0, 1.0)
# name: (trieste attribute, NumPy twin or None, dimensions, (lower, upper), minimum)
_NAMED: dict[str, tuple[str, Callable | None, int, tuple[float, float], float]] = {
    "scaled-branin": ("ScaledBranin", scaled_branin, 2, _UNIT, -1.047393),
    "branin": ("Branin", branin, 2, _UNIT, 0.397887),
    "hartmann-3": ("Hartmann3", hartmann_3, 3, _UNIT, -3.86278),
    "hartmann-6": ("Hartmann6", hartmann_6, 6, _UNIT, -3.32237),
    "ackley-5": ("Ackley5", ackley_5, 5, _UNIT, 0.0),
    "michalewicz-2": ("Michalewicz2", michalewicz, 2, (0.0, math.pi), -1.8013034),
    "michalewicz-5": ("Michalewicz5", michalewicz, 5, (0.0, math.pi), -4.6876582),
    "michalewicz-10": ("Michalewicz10", michalewicz, 10, (0.0, math.pi), -9.6601517),
    "gramacy-lee": ("GramacyLee", None, 1, (0.5, 2.5), -0.869011),
    "levy-8": ("Levy8", None, 8, _UNIT, 0.0),
    "logarithmic-goldstein-price": ("LogarithmicGoldsteinPrice", None, 2, _UNIT, -3.12913),
    "rosenbrock-4": ("Rosenbrock4", None, 4, _UNIT, -1.01917),
    "shekel-4": ("Shekel4", None, 4, _UNIT, -10.5363),
    "simple-quadratic": ("SimpleQuadratic", None, 2, _UNIT, -4.0),
    "trid-10": ("Trid10", None, 10, (-100.0, 100.0), -210.0),
}
PROBLEM_NAMES: tuple[str, ...] = tuple(_NAMED)


@dataclass(frozen=True)
class Problem:
    """An objective to minimise over the box ``[lower, upper]``.

    :param objective: Either a plain ``f(x [D]) -> float`` or trieste's batch form
        ``f(points [N, D]) -> [N, 1]``.
    :param lower: The lower bounds, one per dimension.
    :param upper: The upper bounds, one per dimension.
    :param name: A name for reports.
    :param minimum: The known minimum, for regret; ``None`` if unknown.
    :param batch: ``True`` for the batch form, ``False`` for the plain form, ``None`` to
        detect it at each call (the 1-D call first, then the ``[1, D]`` call).
    :param delay_scale: Each evaluation at ``x`` first sleeps ``delay_scale * sum(u)``
        seconds, ``u`` being ``x`` rescaled to [0, 1]: the reference workload's uneven cost.
    :param spec: How the command line names this problem (a problem name or
        ``MODULE:FUNCTION``), so that ``resume`` can rebuild it.
    """

    objective: Callable[..., Any]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    name: str = "objective"
    minimum: float | None = None
    batch: bool | None = None
    delay_scale: float = 0.0
    spec: str | None = None

    def __post_init__(self) -> None:
        lower = tuple(float(v) for v in np.atleast_1d(self.lower))
        upper = tuple(float(v) for v in np.atleast_1d(self.upper))
        if len(lower) != len(upper) or not lower:
            raise ValueError(
                f"lower and upper bounds need one value per dimension each, got {len(lower)}"
                f" lower and {len(upper)} upper values"
            )
        for i, (lo, hi) in enumerate(zip(lower, upper)):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(
                    f"dimension {i} needs finite bounds with lower < upper, got [{lo}, {hi}]"
                )
        if not callable(self.objective):
            raise TypeError(f"objective must be callable, got {self.objective!r}")
        if not (self.delay_scale >= 0 and math.isfinite(self.delay_scale)):
            raise ValueError(f"delay_scale must be a finite number >= 0, got {self.delay_scale}")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    def __getstate__(self) -> dict[str, Any]:
        # Plain pickle (Dask's first choice) would ship the objective by reference, which
        # workers lacking its file cannot resolve; cloudpickle honours register_pickle_by_value.
        import cloudpickle

        state = dict(self.__dict__)
        state["objective"] = cloudpickle.dumps(self.objective)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import pickle

        state = dict(state, objective=pickle.loads(state["objective"]))
        for name, value in state.items():
            object.__setattr__(self, name, value)

    @property
    def dim(self) -> int:
        return len(self.lower)

    def delay_s(self, x: np.ndarray) -> float:
        """The delay model: ``delay_scale * sum(u)``, ``u`` = ``x`` [D] rescaled to [0, 1]."""
        if not self.delay_scale:
            return 0.0
        lower, upper = np.asarray(self.lower), np.asarray(self.upper)
        return float(self.delay_scale * np.sum((np.asarray(x) - lower) / (upper - lower)))

    def with_delay(self, delay_scale: float) -> Problem:
        from dataclasses import replace

        return replace(self, delay_scale=delay_scale)

    def describe(self) -> dict[str, Any]:
        """What the journal keeps to rebuild this problem."""
        return {
            "name": self.name,
            "spec": self.spec,
            "lower": list(self.lower),
            "upper": list(self.upper),
            "minimum": self.minimum,
            "batch": self.batch,
            "delay_scale": self.delay_scale,
        }


def get_problem(name: str, delay_scale: float = 0.0) -> Problem:
    """A named benchmark problem (see :data:`PROBLEM_NAMES`)."""
    try:
        attribute, twin, dim, (lo, hi), minimum = _NAMED[name]
    except KeyError:
        raise ValueError(
            f"unknown problem {name!r}; choose one of {', '.join(PROBLEM_NAMES)}"
        ) from None
    return Problem(
        objective=twin if twin is not None else TriesteObjective(attribute),
        lower=(lo,) * dim,
        upper=(hi,) * dim,
        name=name,
        minimum=minimum,
        batch=True,
        delay_scale=delay_scale,
        spec=name,
    )


def parse_bounds(text: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``"LO,HI;LO,HI"`` -> ``((LO, LO), (HI, HI))``."""
    lower, upper = [], []
    for part in text.split(";"):
        pair = part.split(",")
        try:
            lo, hi = (float(v) for v in pair)
        except ValueError:
            raise ValueError(
                f"--bounds expects LO,HI pairs separated by ';' (for example '0,1;-5,5'),"
                f" got {text!r}"
            ) from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"--bounds needs finite LO < HI in each pair, got {part!r}")
        lower.append(lo)
        upper.append(hi)
    return tuple(lower), tuple(upper)


def load_objective(spec: str) -> Callable[..., Any]:
    """The function named by ``MODULE:FUNCTION`` or ``path/to/file.py:FUNCTION``.

    A function loaded from a file is pickled by value, so workers that lack the file run it.
    """
    module_name, sep, function_name = spec.rpartition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(
            f"--objective expects MODULE:FUNCTION or path/to/file.py:FUNCTION, got {spec!r}"
        )
    if module_name.endswith(".py"):
        path = Path(module_name).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"--objective file {module_name!r} does not exist")
        unique = f"dask_bo_user_{path.stem}_{abs(hash(str(path))):x}"
        module_spec = importlib.util.spec_from_file_location(unique, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[unique] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[unique]
            raise ValueError(f"--objective file {module_name!r} failed to import: {error!r}") from None
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            raise ValueError(
                f"--objective module {module_name!r} cannot be imported ({error!r}); give a"
                f" module on the Python path or a path/to/file.py"
            ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"--objective: {module_name!r} has no function {function_name!r}")
    return function
