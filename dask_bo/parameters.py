"""The parameter types of a search space: Float, Int, Categorical.

Each parameter maps its values (one float per point: a number, or a choice's index) to its
columns of the model's unit box and back through its underscore methods, the protocol that
:class:`dask_bo.space.Space`, which puts them side by side, calls. Imported on workers: NumPy
and the standard library only.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Union

import numpy as np

__all__ = [
    "Float", "Int", "Categorical", "Parameter", "SpaceError", "parameter_from_dict",
    "parameters_from_tables", "read_toml",
]


class SpaceError(ValueError):
    """A search space or a value that does not fit it; the message names the fix."""


def _number(what: str, value: Any) -> float:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpaceError(f"expected a finite number for {what}, got {value!r}")
    return value


@dataclass(frozen=True)
class _Numeric:
    low: float
    high: float
    log: bool = False

    def _check(self) -> None:
        if not isinstance(self.log, bool):
            raise SpaceError(f"{type(self).__name__} expects log = true or false, got {self.log!r}")
        if not self.low < self.high:
            raise SpaceError(
                f"{type(self).__name__} expects low < high, got low={self.low!r},"
                f" high={self.high!r}; swap or widen them"
            )
        if self.log and self.low <= 0:
            raise SpaceError(
                f"{type(self).__name__} on a log scale needs low > 0, got low={self.low!r};"
                " raise low or drop log"
            )

    @property
    def width(self) -> int:
        return 1

    @property
    def bounds(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    def _t(self, v: np.ndarray) -> np.ndarray:
        return np.log(v) if self.log else v

    def _unit(self, v: np.ndarray) -> np.ndarray:
        """Values [N] -> [N] in [0, 1] (log scale in log space)."""
        lo, hi = self._t(np.array(self.bounds))
        return (self._t(np.asarray(v, dtype=np.float64)) - lo) / (hi - lo)

    def _from_unit(self, t: np.ndarray) -> np.ndarray:
        lo, hi = self._t(np.array(self.bounds))
        v = lo + np.clip(t, 0.0, 1.0) * (hi - lo)
        return np.clip(np.exp(v) if self.log else v, self.low, self.high)

    def _encode_column(self, v: np.ndarray) -> np.ndarray:
        return self._unit(v)[:, None]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Float(_Numeric):
    """A real number in ``[low, high]``.

    :param low: The smallest value.
    :param high: The largest value, above ``low``.
    :param log: Model it on a log scale (``low > 0``): for a learning rate, a tolerance.
    """

    kind = "float"

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", float(_number("low", self.low)))
        object.__setattr__(self, "high", float(_number("high", self.high)))
        self._check()

    def _decode_column(self, u: np.ndarray) -> np.ndarray:
        return self._from_unit(u[:, 0])

    _sample_column = _Numeric._from_unit

    def _native(self, v: float) -> float:
        """The value of the coordinate ``v``, checked."""
        return self._number_of(v)

    def _number_of(self, value: Any) -> float:
        v = float(_number("a float", value))
        if not self.low <= v <= self.high:
            raise SpaceError(f"expected a value in [{self.low!r}, {self.high!r}], got {value!r}")
        return v


@dataclass(frozen=True)
class Int(_Numeric):
    """An integer in ``[low, high]``, both included.

    :param low: The smallest value (an integer).
    :param high: The largest value (an integer above ``low``).
    :param log: Model it on a log scale (``low >= 1``): for a width, a number of samples.
    """

    kind = "int"

    def __post_init__(self) -> None:
        for side in ("low", "high"):
            v = _number(side, getattr(self, side))
            if not float(v).is_integer():
                raise SpaceError(f"Int expects an integer {side}, got {v!r}; round it")
            object.__setattr__(self, side, int(v))
        self._check()

    def _decode_column(self, u: np.ndarray) -> np.ndarray:
        # The integer whose grid location is nearest to u (in log space for a log scale).
        u = np.clip(u[:, 0], 0.0, 1.0)
        below = np.clip(np.floor(self._from_unit(u)), self.low, self.high)
        above = np.minimum(below + 1, self.high)
        nearer = np.abs(self._unit(above) - u) < np.abs(self._unit(below) - u)
        return np.where(nearer, above, below)

    def _sample_column(self, t: np.ndarray) -> np.ndarray:
        # Each integer owns an equal share of [0, 1] (of log space for a log scale).
        wide = Float(self.low - 0.5, self.high + 0.5, self.log)
        return np.clip(np.round(wide._from_unit(t)), self.low, self.high)

    def _native(self, v: float) -> int:
        return int(self._number_of(v))

    def _number_of(self, value: Any) -> float:
        v = _number("an integer", value)
        if not float(v).is_integer() or not self.low <= v <= self.high:
            raise SpaceError(f"expected an integer in [{self.low}, {self.high}], got {value!r}")
        return float(v)


Choice = Union[str, int, float, bool]


def _key(choice: Any) -> tuple[str, Any]:
    # 1 and 1.0 are one choice, True and 1 are two (as a user reads them).
    return ("bool" if isinstance(choice, bool) else "str" if isinstance(choice, str) else "num", choice)


@dataclass(frozen=True, eq=False)
class Categorical:
    """One of a list of choices, encoded one-hot; the objective gets the choice itself.

    :param choices: Distinct strings, numbers or booleans.
    """

    choices: tuple[Choice, ...]
    kind = "categorical"

    def __post_init__(self) -> None:
        if isinstance(self.choices, (str, bytes)) or not hasattr(self.choices, "__iter__"):
            raise SpaceError(f"Categorical expects a list of choices, got {self.choices!r}")
        choices = tuple(c.item() if isinstance(c, np.generic) else c for c in self.choices)
        if not choices:
            raise SpaceError("Categorical expects at least one choice, got []; list the choices")
        keys = []
        for c in choices:
            if not isinstance(c, (str, bool)):
                _number("a choice (a string, number or boolean)", c)
            if _key(c) in keys:
                raise SpaceError(f"Categorical expects distinct choices, got {c!r} twice; drop one")
            keys.append(_key(c))
        object.__setattr__(self, "choices", choices)

    def __eq__(self, other: object) -> bool:
        return type(other) is Categorical and [_key(c) for c in self.choices] == [
            _key(c) for c in other.choices
        ]

    def __hash__(self) -> int:
        return hash(tuple(_key(c) for c in self.choices))

    @property
    def width(self) -> int:
        return len(self.choices)

    @property
    def bounds(self) -> tuple[float, float]:
        return 0.0, float(len(self.choices) - 1)

    def _unit(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(v, dtype=np.float64) / max(len(self.choices) - 1, 1)

    def _encode_column(self, v: np.ndarray) -> np.ndarray:
        index = np.asarray(v, dtype=np.float64)
        if not np.all((index == np.round(index)) & (index >= 0) & (index < len(self.choices))):
            raise SpaceError(f"expected choice indices 0..{len(self.choices) - 1}, got {index}")
        return np.eye(len(self.choices))[index.astype(int)]

    def _decode_column(self, u: np.ndarray) -> np.ndarray:
        return np.argmax(u, axis=1).astype(np.float64)

    def _sample_column(self, t: np.ndarray) -> np.ndarray:
        return np.minimum(np.floor(t * len(self.choices)), len(self.choices) - 1)

    def _native(self, v: float) -> Choice:
        if not (float(v).is_integer() and 0 <= v < len(self.choices)):
            raise SpaceError(f"expected a choice index 0..{len(self.choices) - 1}, got {v!r}")
        return self.choices[int(v)]

    def _number_of(self, value: Any) -> float:
        if isinstance(value, np.generic):
            value = value.item()
        keys = [_key(c) for c in self.choices]
        if _key(value) not in keys:
            raise SpaceError(f"expected one of {list(self.choices)!r}, got {value!r}")
        return float(keys.index(_key(value)))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


Parameter = Union[Float, Int, Categorical]
_TYPES = {"float": Float, "int": Int, "categorical": Categorical}
_KEYS = {"float": ("low", "high", "log"), "int": ("low", "high", "log"), "categorical": ("choices",)}


def parameter_from_dict(table: Any) -> Parameter:
    """A parameter from its TOML/JSON table (``{"type": "int", "low": 1, "high": 8}``)."""
    if not isinstance(table, Mapping):
        raise SpaceError(f"expected a table with a type, got {table!r}")
    kind = table.get("type")
    if kind not in _TYPES:
        raise SpaceError(f'unknown type {kind!r}; use type = "float", "int" or "categorical"')
    allowed = ("type",) + _KEYS[kind]
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise SpaceError(f"unknown key {unknown[0]!r} for a {kind}; its keys are {', '.join(allowed)}")
    missing = [k for k in _KEYS[kind] if k != "log" and k not in table]
    if missing:
        raise SpaceError(f"a {kind} needs {' and '.join(missing)}, got keys {', '.join(table)}")
    return _TYPES[kind](**{k: v for k, v in table.items() if k != "type"})


def parameters_from_tables(d: Any, source: str) -> dict[str, Parameter]:
    """The parameters of a space's TOML/JSON layout (``{"parameters": {name: table}}``, and
    optionally ``"box"``), each checked; ``source`` begins the error messages."""
    if not isinstance(d, Mapping) or not isinstance(d.get("parameters"), Mapping):
        raise SpaceError(f"{source}: expected a [parameters.NAME] table per parameter, got {d!r}")
    unknown = [k for k in d if k not in ("parameters", "box")]
    if unknown:
        raise SpaceError(f"{source}: unknown key {unknown[0]!r}; the keys are parameters, box")
    parameters = {}
    for name, table in d["parameters"].items():
        try:
            parameters[name] = parameter_from_dict(table)
        except (SpaceError, TypeError) as error:
            raise SpaceError(f"{source}: parameter {name!r}: {error}") from None
    return parameters


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file's tables; :class:`SpaceError` naming the file if unreadable or not TOML."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpaceError(f"cannot read space file {str(path)!r} ({error}); give a UTF-8 .toml file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpaceError(f"{path}: not valid TOML ({error}); fix the file's syntax") from None
