"""Problems: an objective over a search space, named benchmark problems, and the delay model.

Named problems are trieste's single-objective test problems, named in kebab case
(``ScaledBranin`` -> ``scaled-branin``), and ``mixed-branin`` (a float, an integer and a
categorical). The common ones have NumPy twins so that workers evaluate them without
importing TensorFlow; the rest call trieste's own function.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any, Callable

import numpy as np

from .objectives import (
    MIXED_BRANIN_MINIMUM, MIXED_BRANIN_VARIANTS, Params, TriesteObjective, UndeclaredParameter,
    ackley_5, as_finite_number, branin, hartmann_3, hartmann_6, is_shape_complaint,
    load_objective, michalewicz, mixed_branin, scaled_branin, source_fingerprint,
)
from .space import Categorical, Float, Int, Space

__all__ = [
    "Problem", "get_problem", "PROBLEM_NAMES", "parse_bounds", "load_objective",
    "problem_from_description", "as_finite_number", "Params", "UndeclaredParameter",
    "is_shape_complaint",
]


@dataclass(frozen=True)
class Problem:
    """An objective to minimise over a box ``[lower, upper]`` or a named ``space``.

    :param objective: For a box, a plain ``f(x [D]) -> float`` or trieste's batch form
        ``f(points [N, D]) -> [N, 1]``; for a named space, ``f(params: dict) -> float``.
    :param lower: The box's lower bounds, one per dimension (not with ``space``).
    :param upper: The box's upper bounds, one per dimension (not with ``space``).
    :param space: A :class:`~dask_bo.space.Space` of named parameters (or ``Space.box``).
    :param name: A name for reports.
    :param minimum: The known minimum, for regret; ``None`` if unknown.
    :param batch: Box objectives only: ``True`` for the batch form, ``False`` for the plain
        form, ``None`` to detect it once, on the first call (which passes the 1-D point): if
        the objective raises an error that :func:`is_shape_complaint` recognizes, it is called
        again with the ``[1, D]`` array and the batch form is kept; any other error is the
        objective's own and is recorded as it is. State ``batch=True`` for a batch-form
        objective that could fail on a 1-D point in some other way.
    :param delay_scale: Each evaluation at ``x`` first sleeps ``delay_scale * sum(u)``
        seconds, ``u`` = ``space.unit(x)`` (x rescaled to [0, 1]): the reference workload's
        uneven cost.
    :param spec: How the command line names this problem (a problem name or
        ``MODULE:FUNCTION``), so that ``resume`` can rebuild it.
    """

    objective: Callable[..., Any]
    lower: tuple[float, ...] | None = None
    upper: tuple[float, ...] | None = None
    _: KW_ONLY
    space: Space | None = None
    name: str = "objective"
    minimum: float | None = None
    batch: bool | None = None
    delay_scale: float = 0.0
    spec: str | None = None

    def __post_init__(self) -> None:
        space = self.space
        if space is None:
            if self.lower is None or self.upper is None:
                raise ValueError("a Problem needs lower= and upper= (a box) or space=, got neither")
            space = Space.box(self.lower, self.upper)
        elif not isinstance(space, Space):
            raise TypeError(f"space must be a dask_bo.Space, got {space!r}")
        elif self.lower is not None or self.upper is not None:
            # replace() passes the space's own bounds back: only other bounds conflict.
            given = [None if b is None else tuple(np.atleast_1d(b).astype(float))
                     for b in (self.lower, self.upper)]
            if given != [space.lower, space.upper]:
                raise ValueError("give either lower=/upper= (a box) or space=, not both")
        if not callable(self.objective):
            raise TypeError(f"objective must be callable, got {self.objective!r}")
        if not (self.delay_scale >= 0 and math.isfinite(self.delay_scale)):
            raise ValueError(f"delay_scale must be a finite number >= 0, got {self.delay_scale}")
        if self.batch and not space.is_box:
            raise ValueError("batch=True is for box objectives; a named space's objective gets a dict")
        object.__setattr__(self, "space", space)
        object.__setattr__(self, "lower", space.lower)
        object.__setattr__(self, "upper", space.upper)

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
        return self.space.dim

    def delay_s(self, x: np.ndarray) -> float:
        """The delay model: ``delay_scale * sum(space.unit(x))`` seconds.

        :param x: [dim] one point.
        """
        if not self.delay_scale:
            return 0.0
        return float(self.delay_scale * np.sum(self.space.unit(np.asarray(x, dtype=np.float64))))

    def params(self, x: np.ndarray) -> dict[str, Any] | None:
        """What a named-space objective gets at ``x``; ``None`` for a box.

        :param x: [dim] one point.
        """
        return None if self.space.is_box else self.space.to_params(x)

    def value(self, x: np.ndarray) -> float:
        """The objective's value at ``x``, calling the objective once (see ``batch``).

        :param x: [dim] one point.
        :raise ValueError: If the objective gives no single finite number; the objective's
            own exceptions pass unchanged.
        """
        x = np.array(x, dtype=np.float64)
        if not self.space.is_box:
            return as_finite_number(self.objective(Params(self.space.to_params(x))))
        batch = self.batch if self.batch is not None else self.__dict__.get("_detected_batch")
        if batch is not None:
            return as_finite_number(self.objective(x[None, :] if batch else x))
        try:
            value = self.objective(x.copy())
        except (IndexError, ValueError, TypeError) as error:
            if not is_shape_complaint(error, x):
                raise
            value = self.objective(x[None, :])
            object.__setattr__(self, "_detected_batch", True)
        else:
            # Remembered for this object's life (a worker's plugin keeps it for the run).
            object.__setattr__(self, "_detected_batch", False)
        return as_finite_number(value)

    def with_delay(self, delay_scale: float) -> Problem:
        """This problem with another delay model.

        :param delay_scale: Seconds per unit of ``sum(space.unit(x))``.
        """
        return replace(self, delay_scale=delay_scale)

    def fingerprint(self) -> str | None:
        """The sha256 of the objective's source file when ``spec`` names one; else ``None``."""
        return source_fingerprint(self.spec)

    def describe(self) -> dict[str, Any]:
        """What the journal keeps to rebuild this problem (:func:`problem_from_description`)."""
        description = {
            "name": self.name,
            "spec": self.spec,
            "lower": list(self.lower),
            "upper": list(self.upper),
            "minimum": self.minimum,
            "batch": self.batch,
            "delay_scale": self.delay_scale,
            "fingerprint": self.fingerprint(),
        }
        if not self.space.is_box:
            description["space"] = self.space.to_dict()
        return description


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
# Problems over named spaces: name -> (objective, space, minimum)
_MIXED: dict[str, tuple[Callable, Space, float]] = {
    "mixed-branin": (
        mixed_branin,
        Space({"x": Float(-5.0, 10.0), "level": Int(0, 15), "variant": Categorical(MIXED_BRANIN_VARIANTS)}),
        MIXED_BRANIN_MINIMUM,
    ),
}
PROBLEM_NAMES: tuple[str, ...] = tuple(_NAMED) + tuple(_MIXED)


def get_problem(name: str, delay_scale: float = 0.0) -> Problem:
    """A named benchmark problem.

    :param name: One of :data:`PROBLEM_NAMES`.
    :param delay_scale: The delay model's scale (see :class:`Problem`).
    """
    if name in _MIXED:
        objective, space, minimum = _MIXED[name]
        return Problem(
            objective, space=space, name=name, minimum=minimum, delay_scale=delay_scale, spec=name
        )
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
    """The ``--bounds`` option: ``"LO,HI;LO,HI"`` -> ``((LO, LO), (HI, HI))``.

    :param text: ``LO,HI`` pairs separated by ``;``.
    """
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


def problem_from_description(
    description: dict[str, Any], objective: Callable | str | None = None,
    allow_changed_objective: bool = False,
) -> Problem:
    """Rebuild a :class:`Problem` from :meth:`Problem.describe`.

    :param description: What :meth:`Problem.describe` returned (through the journal).
    :param objective: Replaces the recorded objective: a function (a run of a Python
        function has no ``spec`` and needs it), or ``MODULE:FUNCTION`` /
        ``path/to/file.py:FUNCTION`` (a file that moved).
    :param allow_changed_objective: Accept an objective file whose contents differ from the
        recorded fingerprint.
    :raise ValueError: No objective to rebuild, or its file changed.
    """
    spec = description.get("spec")
    delay_scale = description.get("delay_scale", 0.0)
    if objective is None and spec is not None and ":" not in spec:
        return get_problem(spec, delay_scale)
    given_function = callable(objective)
    if isinstance(objective, str):
        spec, objective = objective, load_objective(objective)
    elif objective is None:
        if spec is None:
            raise ValueError(
                "the journal's objective was a Python function: pass it again (objective=...)"
            )
        objective = load_objective(spec)
    if description.get("space"):
        where = {"space": Space.from_dict(description["space"], source="the journal's space")}
    else:
        where = {"lower": description["lower"], "upper": description["upper"]}
    problem = Problem(
        objective, **where, name=description["name"], minimum=description.get("minimum"),
        batch=description.get("batch"), delay_scale=delay_scale, spec=spec,
    )
    recorded = description.get("fingerprint")
    # A function given again is the user's word; a file is checked against the journal.
    if recorded and not (allow_changed_objective or given_function) and problem.fingerprint() != recorded:
        raise ValueError(
            f"the objective's file ({spec}) changed since the run began, so its values would"
            f" not compare with the journal's; restore it, or resume with"
            f" --allow-changed-objective (allow_changed_objective=True)"
        )
    return problem
