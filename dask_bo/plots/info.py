"""The series the plots show, as pure functions over a run's history: shared by the
matplotlib renderers and the dashboard page, tested on their own (as optuna's ``_get_*_info``).

Results and records are taken duck-typed (``history``, ``driven``, ``started_at``,
``minimum``, optional ``direction`` and ``space``; records with ``id``, ``x``, ``y``,
``status``, ``ok``, ``proposal``, times and optional ``params``): this module imports no
other module of dask_bo, so nothing it is imported by can form a cycle with it.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

REGRET_FLOOR = 1e-6
"""Regrets are clamped here for log axes (trieste's minima are rounded, so tiny negative
regrets occur)."""

STATUS_COLORS = {"ok": "#1f77b4", "failed": "#d62728", "timeout": "#ff7f0e", "lost": "#7f7f7f"}
"""One colour per status (matplotlib's tab:blue, tab:red, tab:orange, tab:gray)."""

NO_WORKER = "no worker"
"""The timeline row of evaluations that never reached a worker (``lost`` ones)."""


def direction_sign(direction: str | None) -> float:
    """``1.0`` when lower is better (``"minimize"``, or ``None``), ``-1.0`` for ``"maximize"``."""
    if direction in (None, "minimize"):
        return 1.0
    if direction == "maximize":
        return -1.0
    raise ValueError(f"expected direction 'minimize' or 'maximize', got {direction!r}")


def regret(best: float, optimum: float | None, sign: float = 1.0) -> float | None:
    """How far ``best`` is from the known ``optimum`` (``None`` if unknown), clamped to
    :data:`REGRET_FLOOR`; ``sign`` is :func:`direction_sign`."""
    return None if optimum is None else max(sign * (best - optimum), REGRET_FLOOR)


def regret_info(result: Any) -> dict[str, Any]:
    """The best value so far after each evaluation after the initial design.

    The first row (``evaluations`` 0, ``time_s`` 0) is the best of the data the driver started
    with (initial design, warm-start records); rows before any successful evaluation are left
    out (there is no best value yet).

    :return: ``evaluations`` (0, 1, 2, ...), ``time_s`` (since the driver started), ``best``
        (best value so far), ``regret`` (see :func:`regret`, or ``None`` where the optimum is
        unknown), ``label`` (the quantity plotted: regret if known, else the best value) and
        ``minimum`` (the known optimum).
    """
    sign = direction_sign(getattr(result, "direction", None))
    driven = list(result.driven)
    driven_ids = {id(e) for e in driven}
    before = [sign * e.y for e in result.history if id(e) not in driven_ids and e.ok]
    best = min(before, default=math.inf)
    rows = [(0, 0.0, best)]
    driven.sort(key=lambda e: e.finished_at if e.finished_at is not None else math.inf)
    for n, e in enumerate(driven, 1):
        if e.ok and sign * e.y < best:
            best = sign * e.y
        finished_at = e.finished_at if e.finished_at is not None else result.started_at
        rows.append((n, finished_at - result.started_at, best))
    rows = [r for r in rows if math.isfinite(r[2])]
    info: dict[str, Any] = {
        "evaluations": [r[0] for r in rows],
        "time_s": [r[1] for r in rows],
        "best": [sign * r[2] for r in rows],
        "minimum": result.minimum,
    }
    if result.minimum is None:
        info["regret"], info["label"] = None, "best value so far"
    else:
        info["regret"] = [regret(b, result.minimum, sign) for b in info["best"]]
        info["label"] = "best regret so far"
    return info


def timeline_info(result: Any) -> list[dict[str, Any]]:
    """One bar per evaluation after the initial design, in worker order then start order.

    Times are in seconds since the driver started. An evaluation that never ran on a worker
    (``lost``, with no ``started_at``) spans from its submission to its end, on the row
    :data:`NO_WORKER`; evaluations with no end time are left out.

    :return: Bars with ``id``, ``worker`` (its address, or :data:`NO_WORKER`),
        ``submitted_s``, ``start_s``, ``end_s``, ``status`` and ``proposal``; the
        :data:`NO_WORKER` row comes last.
    """
    bars = []
    for e in result.driven:
        start = e.started_at if e.started_at is not None else e.submitted_at
        if start is None or e.finished_at is None:
            continue
        submitted = e.submitted_at if e.submitted_at is not None else start
        bars.append({
            "id": e.id, "worker": e.worker or NO_WORKER, "submitted_s": submitted - result.started_at,
            "start_s": start - result.started_at, "end_s": e.finished_at - result.started_at,
            "status": e.status, "proposal": e.proposal,
        })
    return sorted(bars, key=lambda b: (b["worker"] == NO_WORKER, b["worker"], b["start_s"]))


# -- parameters: names, categories, scales ---------------------------------------------------


def learn_categories(categories: dict[str, dict[int, str]], names: Sequence[str],
                     x: Sequence[float], params: Mapping[str, Any] | None) -> None:
    """Learn, from one point, which parameters are categorical and the labels of their indices.

    ``x`` holds a categorical parameter as the index of its choice and ``params`` the choice
    itself; a parameter whose native value is not a number, or differs from its coordinate,
    is categorical. Updates ``categories`` (name -> {index: label}) in place, so the dashboard
    can learn as events arrive.
    """
    if not params:
        return
    for name, coordinate in zip(names, x):
        if name not in params:
            continue
        value = params[name]
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if numeric and float(value) == float(coordinate) and name not in categories:
            continue
        categories.setdefault(name, {})[int(round(coordinate))] = str(value)


def parameter_names(result: Any) -> list[str]:
    """The parameters' names: the space's, else those of the records' ``params``, else
    ``x0..x{D-1}``."""
    space = getattr(result, "space", None)
    if space is not None and getattr(space, "names", None):
        return list(space.names)
    for e in result.history:
        params = getattr(e, "params", None)
        if params and len(params) == len(e.x):
            return list(params)
    dim = len(result.history[0].x) if result.history else 0
    return [f"x{i}" for i in range(dim)]


def parameter_axes(result: Any) -> dict[str, dict[str, Any]]:
    """How to draw each parameter on an axis.

    :return: By name: ``index`` (its coordinate in ``x``), ``categories`` (labels by index
        for a categorical parameter, else ``None``) and ``log`` (a log-scale parameter).
    """
    names = parameter_names(result)
    space = getattr(result, "space", None)
    declared = getattr(space, "parameters", None) or {}
    learned: dict[str, dict[int, str]] = {}
    if not declared:
        for e in result.history:
            learn_categories(learned, names, e.x, getattr(e, "params", None))
    axes = {}
    for i, name in enumerate(names):
        p = declared.get(name)
        if p is not None and getattr(p, "choices", None) is not None:
            categories = [str(c) for c in p.choices]
        elif name in learned:
            labels = learned[name]
            categories = [labels.get(k, str(k)) for k in range(max(labels) + 1)]
        else:
            categories = None
        axes[name] = {"index": i, "categories": categories, "log": bool(getattr(p, "log", False))}
    return axes


def points_info(result: Any, x_param: str | None = None, y_param: str | None = None) -> dict[str, Any]:
    """The evaluated points (initial design included) in two of their parameters.

    :param x_param: The parameter on the horizontal axis (default: the first).
    :param y_param: The one on the vertical axis (default: the second; ``None`` in 1-D, where
        the vertical axis is the objective's value).
    :return: Lists with one entry per evaluation, in history order: ``id``, ``x_coord`` and
        ``y_coord`` (the two parameters' coordinates, a categorical's as its index; ``y_coord``
        is 0.0 without a ``y_param``), ``y`` (``None`` unless ok), ``status``, ``initial``
        (not chosen by this run's driver); and ``dim``, ``names``, ``x_param``, ``y_param``,
        ``axes`` (:func:`parameter_axes`) and ``best`` (the index of the best successful
        evaluation, or ``None``).
    """
    names = parameter_names(result)
    axes = parameter_axes(result)
    x_param = names[0] if x_param is None and names else x_param
    if y_param is None and x_param is not None and len(names) > 1:
        y_param = next(n for n in names if n != x_param)
    for which, value in (("x_param", x_param), ("y_param", y_param)):
        if value is not None and value not in axes:
            raise ValueError(f"expected {which} among the parameters {names}, got {value!r}")
    driven_ids = {id(e) for e in result.driven}
    info: dict[str, Any] = {k: [] for k in ("id", "x_coord", "y_coord", "y", "status", "initial")}
    for e in result.history:
        info["id"].append(e.id)
        info["x_coord"].append(e.x[axes[x_param]["index"]])
        info["y_coord"].append(e.x[axes[y_param]["index"]] if y_param is not None else 0.0)
        info["y"].append(e.y if e.ok else None)
        info["status"].append(e.status)
        info["initial"].append(id(e) not in driven_ids)
    sign = direction_sign(getattr(result, "direction", None))
    ok = [i for i, s in enumerate(info["status"]) if s == "ok"]
    info.update(dim=len(names), names=names, x_param=x_param, y_param=y_param, axes=axes,
                best=min(ok, key=lambda i: sign * info["y"][i]) if ok else None)
    return info


def count(n: int, noun: str) -> str:
    """``"1 point"``, ``"3 points"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def first_result(results: Mapping[str, Any] | Iterable[Any]) -> Any:
    """The first of several results (they share a problem)."""
    return next(iter(results.values() if isinstance(results, Mapping) else results))
