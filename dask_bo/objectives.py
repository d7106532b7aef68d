"""Objective functions: what they get (:class:`Params`) and return (:func:`as_finite_number`),
NumPy twins of trieste's test functions, the mixed Branin, and the user's
``MODULE:FUNCTION`` / ``path/to/file.py:FUNCTION`` loaded by name.

The twins let workers evaluate the common benchmarks without importing TensorFlow.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = [
    "branin", "scaled_branin", "hartmann_3", "hartmann_6", "ackley_5", "michalewicz",
    "mixed_branin", "mixed_branin_array", "MIXED_BRANIN_MINIMUM", "TriesteObjective",
    "load_objective", "source_fingerprint", "as_finite_number", "is_shape_complaint", "Params",
    "UndeclaredParameter",
]


class UndeclaredParameter(KeyError):
    """An objective read a parameter its space does not declare."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0])


class Params(dict):
    """The dict a named-space objective receives: a key it lacks names the declared ones."""

    def __missing__(self, key: Any) -> Any:
        raise UndeclaredParameter(
            f"the objective read parameter {key!r}, which the space does not declare; declared"
            f" parameters: {', '.join(self)} (add it to the space or fix the objective)"
        )


def as_finite_number(value: Any) -> float:
    """``value`` as a float if it holds one finite real number, else a ValueError naming it."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.dtype.kind not in "iuf":  # bools, strings, None and objects are no numbers
        raise ValueError(f"objective returned {value!r}, expected a number")
    if array.size != 1:
        raise ValueError(
            f"objective returned shape {array.shape}, expected one number (a float or [1, 1])"
        )
    number = float(array.reshape(()).astype(np.float64))
    if not math.isfinite(number):
        raise ValueError(f"objective returned {number}, expected a finite number")
    return number


_SHAPE_COMPLAINTS = (
    "too many indices for array",  # points[:, 0] on a 1-D point
    "tuple index out of range",  # points.shape[1]
    "out of bounds for array of dimension 1",  # np.sum(points, axis=1)
    "not enough values to unpack (expected 2, got 1)",  # n, d = points.shape
)


def is_shape_complaint(error: Exception, x: np.ndarray) -> bool:
    """Whether ``error``, raised by an objective called with the 1-D point ``x``, says it
    wanted a 2-D array: an IndexError, ValueError or TypeError whose message holds one of
    :data:`_SHAPE_COMPLAINTS` or the point's shape (``(2,)``, as a shape check prints it)."""
    if not isinstance(error, (IndexError, ValueError, TypeError)):
        return False
    message = str(error)
    return str(x.shape) in message or any(text in message for text in _SHAPE_COMPLAINTS)


def _branin_raw(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    b, c, r, s, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return (x1 - b * x0**2 + c * x0 - r) ** 2 + s * (1 - t) * np.cos(x0) + s


def branin(x: np.ndarray) -> np.ndarray:
    """Branin-Hoo over [0, 1]^2. :param x: [..., 2]. :return: [..., 1]."""
    return _branin_raw(x[..., :1] * 15.0 - 5.0, x[..., 1:] * 15.0)


def scaled_branin(x: np.ndarray) -> np.ndarray:
    """Branin-Hoo rescaled to zero mean and unit variance. :param x: [..., 2]. :return: [..., 1]."""
    return (branin(x) - 54.81) / 51.95


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


MIXED_BRANIN_VARIANTS = ("a", "b", "c")
_MIXED_BRANIN_SHIFTS = np.array([0.0, 0.5, 1.0])
_MIXED_BRANIN_OFFSET = 0.275
MIXED_BRANIN_MINIMUM = 5 / (4 * math.pi)
"""Branin's minimum, reached at x = -pi, y = 12 and x = pi, y = 2 with variant "a"."""


def mixed_branin_array(x: np.ndarray) -> np.ndarray:
    """Branin on a mixed space: ``x`` in [-5, 10], the integer ``level`` in 0..15 standing
    for Branin's second coordinate ``level + 0.275`` (so that two of its three minima lie on the
    integer grid), and a variant index 0, 1, 2 adding 0, 0.5, 1.

    :param x: [..., 3] columns x, level, variant index. :return: [..., 1].
    """
    shift = _MIXED_BRANIN_SHIFTS[np.asarray(x[..., 2:], dtype=int)]
    return _branin_raw(x[..., :1], x[..., 1:2] + _MIXED_BRANIN_OFFSET) + shift


def mixed_branin(params: dict[str, Any]) -> float:
    """:func:`mixed_branin_array` on ``{"x": float, "level": int, "variant": "a" | "b" | "c"}``."""
    point = [params["x"], params["level"], MIXED_BRANIN_VARIANTS.index(params["variant"])]
    return float(mixed_branin_array(np.array(point, dtype=np.float64))[0])


@dataclass(frozen=True)
class TriesteObjective:
    """One of trieste's objective functions, looked up by its attribute name on the worker."""

    attribute: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import trieste.objectives

        return np.asarray(getattr(trieste.objectives, self.attribute).objective(x))


def _load_file(module_name: str) -> Any:
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

    # Workers lack the user's file: ship its functions by value.
    cloudpickle.register_pickle_by_value(module)
    return module


def load_objective(spec: str) -> Callable[..., Any]:
    """The function named by ``MODULE:FUNCTION`` or ``path/to/file.py:FUNCTION``.

    A function loaded from a file is pickled by value, so workers that lack the file run it.

    :param spec: ``MODULE:FUNCTION`` (``FUNCTION`` may be dotted) or ``path/to/file.py:FUNCTION``.
    :raise ValueError: The module or file cannot be loaded, or the name is not a function.
    """
    module_name, sep, function_name = spec.rpartition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(
            f"--objective expects MODULE:FUNCTION or path/to/file.py:FUNCTION, got {spec!r}"
        )
    try:
        if module_name.endswith(".py"):
            function = _load_file(module_name)
            for part in function_name.split("."):
                function = getattr(function, part)
        else:
            function = pkgutil.resolve_name(spec)
    except ImportError as error:
        raise ValueError(
            f"--objective module {module_name!r} cannot be imported ({error!r}); give a"
            f" module on the Python path or a path/to/file.py"
        ) from None
    except AttributeError:
        raise ValueError(
            f"--objective: {module_name!r} has no function {function_name!r}; check the name"
        ) from None
    if not callable(function):
        raise ValueError(
            f"--objective {spec!r} is a {type(function).__name__}, not a function; name a function"
        )
    return function


def source_fingerprint(spec: str | None) -> str | None:
    """The sha256 of the file that defines ``spec``'s objective (``file.py:f`` or a module's
    ``.py`` file for ``MODULE:f``); ``None`` for a named problem, a Python function or a
    module without a source file."""
    if spec is None or ":" not in spec:
        return None
    module_name = spec.rpartition(":")[0]
    if module_name.endswith(".py"):
        path = Path(module_name).expanduser()
    else:
        try:
            found = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            return None
        if found is None or not found.origin or not found.origin.endswith(".py"):
            return None
        path = Path(found.origin)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
