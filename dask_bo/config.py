"""How a run is driven: its settings and stopping rules, validated once.

The command line and the Python API build the same :class:`Settings`; the journal's ``start``
event keeps them, so ``resume`` drives on exactly as the run began.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any

MODES = ("async", "sync")
DIRECTIONS = ("minimize", "maximize")
MODELS = ("auto", "exact", "sparse")
DEFAULT_RULE = "local-penalization"


def _check_seconds(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")


def _check_count(name: str, value: int | None, least: int, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}{' or None' if optional else ''}, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """How a run is driven.

    :param mode: ``"async"`` (refill each worker at once) or ``"sync"`` (whole batches).
    :param rule: The acquisition rule (see ``dask_bo.strategies.RULES``).
    :param model: ``"exact"`` GP, ``"sparse"`` GP, or ``"auto"`` (sparse past a size).
    :param evaluations: Evaluations after the initial design, whatever their outcome.
    :param initial: Points of the initial design.
    :param seed: Seeds the initial design and the model (``None``: not reproducible).
    :param max_failures: Stop once this many evaluations have failed (``None``: never).
    :param eval_timeout_s: Stop an evaluation that has run this long on its worker, record it
        as ``timeout`` and restart the worker (``None``: wait for ever).
    :param max_time_s: Send no new point once the driver has run this long; what is in
        flight is still gathered.
    :param target: Send no new point once the best value reaches this (``<=`` when
        minimizing, ``>=`` when maximizing).
    :param direction: ``"minimize"`` or ``"maximize"``.
    :param max_in_flight: At most this many evaluations at once (``None``: one per worker
        thread present).
    :param refit_fraction: Refit hyperparameters once the data has grown by this fraction.
    :param explore_fraction: At most this fraction of the budget goes to space-filling points
        given to workers the model cannot serve in time (asynchronous mode).
    """

    mode: str = "async"
    rule: str = DEFAULT_RULE
    model: str = "auto"
    evaluations: int = 30
    initial: int = 3
    seed: int | None = 0
    max_failures: int | None = None
    eval_timeout_s: float | None = None
    max_time_s: float | None = None
    target: float | None = None
    direction: str = "minimize"
    max_in_flight: int | None = None
    refit_fraction: float = 0.1
    explore_fraction: float = 0.1

    def __post_init__(self) -> None:
        for name, allowed in (("mode", MODES), ("direction", DIRECTIONS), ("model", MODELS)):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        from .strategies import RULES  # no TensorFlow: a bad rule fails before any evaluation

        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        _check_count("evaluations", self.evaluations, 1, optional=False)
        _check_count("initial", self.initial, 1, optional=False)
        _check_count("seed", self.seed, 0)
        _check_count("max_failures", self.max_failures, 1)
        _check_count("max_in_flight", self.max_in_flight, 1)
        _check_seconds("eval_timeout_s", self.eval_timeout_s)
        _check_seconds("max_time_s", self.max_time_s)
        if self.target is not None and not (
            isinstance(self.target, (int, float)) and math.isfinite(self.target)
        ):
            raise ValueError(f"target must be a finite number or None, got {self.target!r}")
        for name in ("refit_fraction", "explore_fraction"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def reached(self, best_y: float | None) -> bool:
        """Whether ``best_y`` meets :attr:`target` (``<=`` it when minimizing, ``>=`` when
        maximizing); ``False`` without a target.

        :param best_y: The best value so far, as the objective returned it, or ``None`` (no
            evaluation has succeeded yet: ``False``).
        """
        if self.target is None or best_y is None:
            return False
        return best_y >= self.target if self.maximize else best_y <= self.target

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Settings:
        """Settings from :meth:`to_dict`, also of journals written before a setting existed.

        :param values: The settings by name (as :meth:`to_dict` gives them, or the journal's
            ``start`` event holds them): names that are not settings are ignored, missing
            ones take their defaults, and ``timeout_s`` is read as ``eval_timeout_s``.
        :raise ValueError: A value is out of range (as the constructor checks).
        """
        values = dict(values)
        if "timeout_s" in values:  # its name before eval_timeout_s
            values.setdefault("eval_timeout_s", values.pop("timeout_s"))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def settings_from_options(options: dict[str, Any]) -> Settings:
    """:class:`Settings` from ``optimize``'s keyword arguments, accepting ``timeout_s`` (the
    per-evaluation limit's old name) with a :class:`DeprecationWarning`."""
    options = dict(options)
    if "timeout_s" in options:
        old = options.pop("timeout_s")
        if old is not None:
            warnings.warn(
                "timeout_s is now eval_timeout_s (a limit per evaluation; max_time_s limits"
                " the whole run)", DeprecationWarning, stacklevel=3,
            )
            options.setdefault("eval_timeout_s", old)
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(f"unexpected option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    return Settings(**options)
