"""Search spaces of named parameters, and their encoding into the model's unit box.

A point ``x`` [dim] holds one float per parameter, in the parameter's own units: a float as
itself (also on a log scale), an integer as a float, a categorical as the index of its choice.
The model works on ``u`` [encoded_dim] in the unit cube: numbers rescaled to [0, 1] (log ones
in log space, each integer at an exact grid location), categoricals one-hot.

Imported on workers: NumPy and the standard library only at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .records import HISTORY_COLUMNS
from .parameters import Categorical, Float, Int, Parameter, SpaceError, parameters_from_tables, read_toml

__all__ = ["Float", "Int", "Categorical", "Space", "SpaceError"]


RESERVED_NAMES = HISTORY_COLUMNS
"""The history's own columns, which no parameter may be named after."""


class Space:
    """Named parameters, in declaration order.

    :param parameters: ``{name: Float | Int | Categorical}``; names are Python identifiers.
    """

    def __init__(self, parameters: Mapping[str, Parameter]) -> None:
        if not isinstance(parameters, Mapping) or not parameters:
            raise SpaceError(f"expected a dict of named parameters, got {parameters!r}")
        for name, parameter in parameters.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise SpaceError(
                    f"parameter name {name!r} is not an identifier; use letters, digits and"
                    " underscores, not starting with a digit"
                )
            if name in RESERVED_NAMES:
                raise SpaceError(
                    f"parameter name {name!r} is taken by a column of history.csv"
                    f" ({', '.join(RESERVED_NAMES)}); rename the parameter"
                )
            if not isinstance(parameter, (Float, Int, Categorical)):
                raise SpaceError(f"parameter {name!r}: expected Float, Int or Categorical, got {parameter!r}")
        self._parameters = dict(parameters)
        self._is_box = False
        edges = np.cumsum([0] + [p.width for p in self._parameters.values()])
        self._slices = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    @classmethod
    def box(cls, lower: Any, upper: Any) -> Space:
        """The box ``[lower, upper]`` as floats named ``x0..x{D-1}``; objectives get the vector.

        :param lower: [D] lower bounds.
        :param upper: [D] upper bounds, each above its lower bound.
        """
        lower, upper = np.atleast_1d(lower).tolist(), np.atleast_1d(upper).tolist()
        if len(lower) != len(upper) or not lower:
            raise SpaceError(
                f"lower and upper bounds need one value per dimension each, got {len(lower)}"
                f" lower and {len(upper)} upper values"
            )
        parameters = {}
        for i, (lo, hi) in enumerate(zip(lower, upper)):
            try:
                lo, hi = float(lo), float(hi)
                parameters[f"x{i}"] = Float(lo, hi)
            except (SpaceError, TypeError, ValueError):
                raise SpaceError(
                    f"dimension {i} needs finite bounds with lower < upper, got [{lo}, {hi}]"
                ) from None
        space = cls(parameters)
        space._is_box = True
        return space

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "space") -> Space:
        """The inverse of :meth:`to_dict` (the TOML file's layout).

        :param d: ``{"parameters": {name: {"type": ..., ...}}}`` (and ``"box": true`` for a box).
        :param source: Where ``d`` came from, to begin error messages with.
        :raise SpaceError: A parameter is malformed (the message names it, the value and the fix).
        """
        parameters = parameters_from_tables(d, source)
        if d.get("box", False):
            if not all(type(p) is Float and not p.log for p in parameters.values()):
                raise SpaceError(f"{source}: box = true needs linear floats only; drop box")
            return cls.box([p.low for p in parameters.values()], [p.high for p in parameters.values()])
        try:
            return cls(parameters)
        except SpaceError as error:
            raise SpaceError(f"{source}: {error}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Space:
        """Read a TOML file of ``[parameters.NAME]`` tables (``type = "float"``, ``"int"`` or
        ``"categorical"``; ``low``, ``high`` and optionally ``log``, or ``choices``).

        :param path: The ``.toml`` file.
        :raise SpaceError: The file is unreadable, not TOML, or describes a bad parameter.
        """
        return cls.from_dict(read_toml(path), source=str(path))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"parameters": {n: p.to_dict() for n, p in self._parameters.items()}}
        if self._is_box:
            d["box"] = True
        return d

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Space)
            and list(self._parameters.items()) == list(other.parameters.items())
            and self._is_box == other._is_box
        )

    def __hash__(self) -> int:
        return hash((tuple(self._parameters.items()), self._is_box))

    def __repr__(self) -> str:
        if self._is_box:
            return f"Space.box({list(self.lower)}, {list(self.upper)})"
        return f"Space({self._parameters!r})"

    @property
    def parameters(self) -> dict[str, Parameter]:
        return dict(self._parameters)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._parameters)

    @property
    def dim(self) -> int:
        return len(self._parameters)

    @property
    def encoded_dim(self) -> int:
        return self._slices[-1].stop

    @property
    def categorical_columns(self) -> np.ndarray | None:
        """[encoded_dim] booleans: the one-hot columns; ``None`` if every parameter is a float
        (then any point of the cube is feasible)."""
        if all(isinstance(p, Float) for p in self._parameters.values()):
            return None
        mask = np.zeros(self.encoded_dim, bool)
        for p, s in zip(self._parameters.values(), self._slices):
            mask[s] = isinstance(p, Categorical)
        return mask

    @property
    def is_box(self) -> bool:
        """Made by :meth:`box`: the objective takes the vector, not a dict."""
        return self._is_box

    @property
    def lower(self) -> tuple[float, ...]:
        return tuple(p.bounds[0] for p in self._parameters.values())

    @property
    def upper(self) -> tuple[float, ...]:
        return tuple(p.bounds[1] for p in self._parameters.values())

    def _rows(self, a: Any, width: int, what: str) -> tuple[np.ndarray, bool]:
        a = np.asarray(a, dtype=np.float64)
        if a.ndim not in (1, 2) or a.shape[-1] != width:
            raise SpaceError(f"expected {what} of shape [N, {width}] or [{width}], got shape {a.shape}")
        return np.atleast_2d(a), a.ndim == 1

    def encode(self, x: Any) -> np.ndarray:
        """Points in the parameters' own units -> the model's unit box.

        :param x: [N, dim] (or [dim]) points.
        :return: u [N, encoded_dim] (or [encoded_dim]).
        """
        x, flat = self._rows(x, self.dim, "x")
        u = np.hstack([p._encode_column(x[:, i]) for i, p in enumerate(self._parameters.values())])
        return u[0] if flat else u

    def decode(self, u: Any) -> np.ndarray:
        """Unit-box coordinates, anywhere (even NaN) -> feasible points: integers rounded to the
        nearest grid location, a categorical's largest one-hot column chosen.

        :param u: [N, encoded_dim] (or [encoded_dim]).
        :return: x [N, dim] (or [dim]).
        """
        u, flat = self._rows(u, self.encoded_dim, "u")
        u = np.nan_to_num(u, nan=0.0)  # feasible whatever a model step produced
        x = np.stack([p._decode_column(u[:, s]) for p, s in zip(self._parameters.values(), self._slices)], 1)
        return x[0] if flat else x

    def snap(self, u: Any) -> np.ndarray:
        """The nearest feasible encoding: ``encode(decode(u))``, with float columns only clipped
        (so that ``snap`` is exactly idempotent).

        :param u: [N, encoded_dim] (or [encoded_dim]).
        :return: The same shape.
        """
        v, flat = self._rows(u, self.encoded_dim, "u")
        v = np.nan_to_num(v, nan=0.0)
        snapped = self.encode(self.decode(v))
        for p, s in zip(self._parameters.values(), self._slices):
            if isinstance(p, Float):
                snapped[:, s] = np.clip(v[:, s], 0.0, 1.0)
        return snapped[0] if flat else snapped

    def unit(self, x: Any) -> np.ndarray:
        """Each coordinate rescaled to [0, 1] (log scales in log space, a categorical's index
        over its count - 1): the delay model's and the plots' scale.

        :param x: [N, dim] (or [dim]) points.
        :return: The same shape.
        """
        x, flat = self._rows(x, self.dim, "x")
        t = np.stack([p._unit(x[:, i]) for i, p in enumerate(self._parameters.values())], 1)
        return t[0] if flat else t

    def to_params(self, x: Any) -> dict[str, Any]:
        """What the objective gets: ``{name: value}`` in native types (an ``int``, the choice
        itself, a ``float`` in its own units).

        :param x: [dim] one point.
        :raise SpaceError: ``x`` is not a feasible point (see :meth:`decode`).
        """
        x, flat = self._rows(x, self.dim, "x")
        if not flat:
            raise SpaceError(f"expected one point x [{self.dim}], got shape {x.shape}")
        params = {}
        for (name, p), v in zip(self._parameters.items(), x[0]):
            try:
                params[name] = p._native(float(v))
            except SpaceError as error:
                raise SpaceError(f"parameter {name!r}: {error}") from None
        return params

    def from_params(self, params: Mapping[str, Any]) -> np.ndarray:
        """The inverse of :meth:`to_params`.

        :param params: A value for every declared parameter and no other.
        :return: x [dim].
        :raise SpaceError: A parameter is missing or undeclared, or a value does not fit.
        """
        missing = [n for n in self._parameters if n not in params]
        extra = [str(n) for n in params if n not in self._parameters]
        if missing or extra:
            raise SpaceError(
                f"expected the parameters {', '.join(self._parameters)}, got"
                f" {'missing ' + ', '.join(missing) if missing else ''}"
                f"{'; ' if missing and extra else ''}{'undeclared ' + ', '.join(extra) if extra else ''}"
            )
        x = []
        for name, p in self._parameters.items():
            try:
                x.append(p._number_of(params[name]))
            except SpaceError as error:
                raise SpaceError(f"parameter {name!r}: {error}") from None
        return np.array(x)

    def _from_unit(self, t: np.ndarray) -> np.ndarray:
        return np.stack([p._sample_column(t[:, i]) for i, p in enumerate(self._parameters.values())], 1)

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Feasible points from a Latin hypercube (each integer and each choice of a parameter
        equally likely).

        :param n: How many points.
        :param seed: A seed or a NumPy generator, for reproducible points.
        :return: x [n, dim].
        """
        from scipy.stats import qmc

        return self._from_unit(qmc.LatinHypercube(d=self.dim, rng=seed).random(n))

    def space_filling(self, taken_x: Any, rng: np.random.Generator, n_candidates: int = 256) -> np.ndarray:
        """A cheap proposal that still explores: of ``n_candidates`` random feasible points,
        the one farthest (in the encoded space) from every point taken.

        :param taken_x: [M, dim] points evaluated or in flight (M may be 0).
        :param rng: The source of the candidates.
        :param n_candidates: How many candidates to draw.
        :return: x [dim].
        """
        candidates = self._from_unit(rng.random((n_candidates, self.dim)))
        taken = np.asarray(taken_x, dtype=np.float64).reshape(-1, self.dim)
        if len(taken):
            u, known = self.encode(candidates), self.encode(taken)
            distances = np.linalg.norm(u[:, None, :] - known[None, :, :], axis=-1).min(axis=1)
            return candidates[int(np.argmax(distances))]
        return candidates[0]
