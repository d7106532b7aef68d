"""What one benchmark run measured (one JSON line), and the medians and targets over runs."""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from idle import UNDRIVEN, ideal_utilization, idle_worker_s
from workloads import DEFAULT_RULE, Workload

REGRET_LEVELS = (1e-1, 1e-2, 1e-3)
REGRET_FLOOR = 1e-6
"""Trieste states minima to about 7 significant digits: regrets below this are noise."""
LAST_N = 100


def level_name(level: float) -> str:
    return f"{level:.0e}".replace("e-0", "e-")


def _ordered_ok(result) -> list:
    return sorted((e for e in result.history if e.ok), key=lambda e: (e.finished_at or 0.0))


def regret_curve(result) -> list[list[float]]:
    """``[[t_s, regret], ...]``: each improvement of the best regret, ``t_s`` from the driver's
    start (points of the initial design count at 0)."""
    if result.minimum is None:
        return []
    curve, best = [], math.inf
    for e in _ordered_ok(result):
        regret = e.y - result.minimum
        if regret < best:
            best = regret
            t_s = 0.0 if e.proposal in UNDRIVEN else max(0.0, e.finished_at - result.started_at)
            if curve and curve[-1][0] == t_s:
                curve[-1][1] = regret
            else:
                curve.append([t_s, regret])
    return curve


def regret_by_evaluation(result) -> list[list[float]]:
    """``[[n, regret], ...]``: each improvement of the best regret, ``n`` the driven evaluations
    finished so far (any status; the initial design counts at 0), in order of finishing."""
    if result.minimum is None:
        return []
    records = sorted(result.history, key=lambda e: (e.proposal not in UNDRIVEN, e.finished_at or 0.0))
    curve, best, n = [], math.inf, 0
    for e in records:
        n += e.proposal not in UNDRIVEN
        if e.ok and e.y - result.minimum < best:
            best = e.y - result.minimum
            if curve and curve[-1][0] == n:
                curve[-1][1] = best
            else:
                curve.append([n, best])
    return curve


def time_to_regret(curve: list[list[float]]) -> dict[str, float | None]:
    """The first time (or evaluation count) at which the best regret is <= each level."""
    return {level_name(level): next((t for t, r in curve if r <= level), None) for level in REGRET_LEVELS}


def proposal_regret(result) -> dict[str, float]:
    """The median regret of each proposal's evaluated points (what each kind of point is worth)."""
    if result.minimum is None:
        return {}
    by: dict[str, list[float]] = {}
    for e in result.history:
        if e.ok and e.proposal not in UNDRIVEN:
            by.setdefault(e.proposal, []).append(e.y - result.minimum)
    return {kind: round(statistics.median(values), 4) for kind, values in sorted(by.items())}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def record_line(name: str, arm: str, seed: int, result, peak_mb: float, w: Workload,
                rule: str, **extra: Any) -> dict[str, Any]:
    """The JSON line of one run: ``Result.metrics()`` and the harness's own measures."""
    metrics = result.metrics()
    curve, by_evaluation = regret_curve(result), regret_by_evaluation(result)
    driven = [e for e in result.history if e.proposal not in UNDRIVEN]
    proposals = Counter(e.proposal for e in driven)
    return {
        "workload": name, "arm": arm, **metrics, "rule": metrics.get("rule") or rule,
        "seed": seed, "initial": w.initial, "delay_scale": w.delay_scale, "delay": w.delay,
        "model": w.model, "threads_per_worker": w.threads_per_worker,
        "driver_peak_rss_mb": round(peak_mb, 1),
        "dispatch_latency_last100_s": _median(list(result.dispatch_latencies_s)[-LAST_N:]),
        "idle_worker_s": idle_worker_s(result, metrics["wall_s"], w.threads_per_worker),
        "ideal_utilization": ideal_utilization(result, metrics["workers"]),
        "proposals": dict(proposals),
        "proposal_share": {k: round(v / len(driven), 3) for k, v in proposals.items()},
        "proposal_regret": proposal_regret(result),
        "lost": sum(e.status == "lost" for e in driven),
        "time_to_regret": time_to_regret(curve),
        "evaluations_to_regret": time_to_regret(by_evaluation),
        "regret_curve": curve,
        "regret_by_evaluation": by_evaluation,
        **extra,
    }


def group_of(line: dict[str, Any]) -> str:
    """``arm/mode``, plus ``/rule`` for a rule other than the default (older lines have none)."""
    rule = line.get("rule") or DEFAULT_RULE
    base = f"{line['arm']}/{line['mode']}"
    return base if line["arm"] != "default" or rule == DEFAULT_RULE else f"{base}/{rule}"


FIELDS = ("wall_s", "utilization", "dispatch_latency_s", "dispatch_latency_last100_s",
          "best_regret", "driver_peak_rss_mb")


def _median_time(values: list[float | None]) -> float | None:
    """The median of times where ``None`` (never reached) counts as infinitely late."""
    if not values:
        return None
    m = statistics.median(math.inf if v is None else v for v in values)
    return None if math.isinf(m) or math.isnan(m) else m


def summarize(workload: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per group (:func:`group_of`), and the README's targets checked on them."""
    groups: dict[str, dict[str, Any]] = {}
    for name in sorted({group_of(l) for l in lines}):
        runs = [l for l in lines if group_of(l) == name]
        group = {"runs": len(runs), "rule": runs[0].get("rule") or DEFAULT_RULE}
        group |= {f: _median([l[f] for l in runs if l.get(f) is not None]) for f in FIELDS}
        for level in map(level_name, REGRET_LEVELS):
            group[f"time_to_{level}"] = _median_time([l["time_to_regret"][level] for l in runs])
            group[f"reached_{level}"] = sum(l["time_to_regret"][level] is not None for l in runs)
        shares = [l.get("proposal_share", {}) for l in runs]
        group["proposal_share"] = {k: _median([s.get(k, 0.0) for s in shares])
                                   for k in sorted({k for s in shares for k in s})}
        regrets = [l.get("proposal_regret", {}) for l in runs]
        group["proposal_regret"] = {k: _median([r[k] for r in regrets if k in r])
                                    for k in sorted({k for r in regrets for k in r})}
        for extra in ("max_workers", "lost", "utilization_sampled", "ideal_utilization"):
            if any(extra in l for l in runs):
                group[extra] = _median([l[extra] for l in runs if l.get(extra) is not None])
        groups[name] = group
    return {"summary": True, "workload": workload, "cpus": os.cpu_count(),
            "medians": groups, "targets": check_targets(workload, groups)}


_TARGETS: dict[str, list[tuple[str, str, str, float]]] = {  # group, field, comparison, threshold
    "reference": [("default/async", "utilization", ">=", 0.95)],
    "wide": [("default/async", "utilization", ">=", 0.90),
             ("default/async", "dispatch_latency_s", "<=", 0.1),
             ("default/async", "driver_peak_rss_mb", "<=", 2048.0)],
    "long-branin": [("default/async", "dispatch_latency_last100_s", "<=", 0.5)],
    "long": [("default/async", "utilization", ">=", 0.90),
             ("default/async", "best_regret", "<=", 1e-3),
             ("default/async", "driver_peak_rss_mb", "<=", 2048.0)],
    "wide-64": [("default/async", "utilization", ">=", 0.95),
                ("default/async", "dispatch_latency_s", "<=", 0.05),
                ("default/async", "driver_peak_rss_mb", "<=", 2048.0)],
    "huge": [("default/async", "dispatch_latency_last100_s", "<=", 0.5),
             ("default/async", "driver_peak_rss_mb", "<=", 4096.0)],
    "elastic": [("default/async", "max_workers", ">=", 8),
                ("default/async", "utilization", ">=", 0.90),
                ("default/async", "lost", "<=", 0)],
}


def check_targets(workload: str, medians: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets of benchmarks/README.md that these runs can decide."""
    a, s, n = (medians.get(k, {}) for k in ("default/async", "default/sync", "naive/async"))
    checks = [(f"{g.split('/')[1]} {f}", medians.get(g, {}).get(f), op, t)
              for g, f, op, t in _TARGETS.get(workload, [])]
    if workload == "reference":
        if n.get("wall_s"):
            checks += [("async wall / naive wall", _ratio(a.get("wall_s"), n["wall_s"]), "<=", 0.5)]
        if s.get("wall_s"):
            checks += [("async wall / sync wall", _ratio(a.get("wall_s"), s["wall_s"]), "<=", 1.0)]
    if workload == "wide-64" and a.get("time_to_1e-2") is not None:
        checks += [("async time to 1e-2 / sync's", _ratio(a["time_to_1e-2"], s.get("time_to_1e-2") or math.inf), "<", 1.0)]
    if n.get("best_regret") is not None:
        for mode, m in (("async", a), ("sync", s)):
            if m.get("best_regret") is not None:
                decades = math.log10(max(m["best_regret"], REGRET_FLOOR)) - math.log10(
                    max(n["best_regret"], REGRET_FLOOR))
                checks += [(f"{mode} regret, decades worse than naive", decades, "<=", 0.5)]
    compare = {">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t, "<": lambda v, t: v < t}
    return [{"target": name, "value": value, "threshold": f"{op} {threshold:g}",
             "ok": None if value is None else compare[op](value, threshold)}
            for name, value, op, threshold in checks]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def print_table(summary: dict[str, Any], out=sys.stderr) -> None:
    def fmt(v: Any) -> str:
        if isinstance(v, dict):
            return " ".join(f"{k}:{x:.2f}" for k, x in v.items())
        return "-" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)

    columns = ("runs", *FIELDS, "time_to_1e-1", "time_to_1e-2", "time_to_1e-3", "proposal_share")
    width = max([15, *(len(n) + 2 for n in summary["medians"])])
    print(f"\n{summary['workload']}: medians per (arm, mode)", file=out)
    print(f"{'group':<{width}}" + "".join(f" {c:>13.13}" for c in columns[:-1]) + "  proposal_share", file=out)
    for name, m in summary["medians"].items():
        cells = "".join(f"{fmt(m.get(c)):>14}" for c in columns[:-1])
        print(f"{name:<{width}}{cells}  {fmt(m.get('proposal_share', {}))}", file=out)
    for t in summary["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[t["ok"]]
        print(f"  {verdict:4}  {t['target']}: {fmt(t['value'])} (target {t['threshold']})", file=out)


def read_lines(paths: list[Path]) -> list[dict[str, Any]]:
    """The run lines of earlier ``--out`` files; a later line of the same run (workload, arm,
    mode, rule, seed) replaces an earlier one."""
    runs: dict[tuple, dict[str, Any]] = {}
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"no such file {str(path)!r}; give files written by run.py --out")
        for text in path.read_text().splitlines():
            line = json.loads(text) if text.strip() else {}
            if line and not line.get("summary"):
                key = (line["workload"], line["arm"], line["mode"], line.get("rule") or DEFAULT_RULE, line["seed"])
                runs[key] = line
    return list(runs.values())


def summarize_files(workload: str, paths: list[Path]) -> dict[str, Any]:
    """The summary of the run lines of ``workload`` in earlier ``--out`` files: seeds added by
    a later invocation count with the earlier ones, and a rerun replaces its earlier line."""
    lines = [l for l in read_lines(paths) if l["workload"] == workload]
    if not lines:
        raise SystemExit(f"--summarize: no runs of workload {workload!r} in {', '.join(map(str, paths))}")
    return summarize(workload, lines)


def markdown_table(summary: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    """The summary as a README table (medians over seeds), then each group's per-seed values."""
    def fmt(v: Any, digits: int = 3) -> str:
        return "-" if v is None else f"{v:.{digits}g}" if isinstance(v, float) else str(v)

    head = ("| group | runs | wall_s | utilization | dispatch_latency_s | best_regret | time to 1e-1 / 1e-2 / 1e-3 s"
            " (seeds reaching) | proposal share | peak RSS MB |")
    rows = [head, "|" + "---|" * 9]
    for name, m in summary["medians"].items():
        times = " / ".join(f"{fmt(m.get(f'time_to_{l}'))} ({m.get(f'reached_{l}')})"
                           for l in map(level_name, REGRET_LEVELS))
        share = ", ".join(f"{v:.2f} {k}" for k, v in m.get("proposal_share", {}).items())
        rows.append(f"| {name} | {m['runs']} | {fmt(m['wall_s'], 4)} | {fmt(m['utilization'])} |"
                    f" {fmt(m['dispatch_latency_s'], 2)} | {fmt(m['best_regret'], 2)} | {times} | {share} |"
                    f" {fmt(m['driver_peak_rss_mb'], 4)} |")
    rows.append("")
    for name in summary["medians"]:
        runs = sorted((l for l in lines if group_of(l) == name), key=lambda l: l["seed"])
        seeds = ",".join(str(l["seed"]) for l in runs)
        rows.append(f"- {name} (seeds {seeds}): utilization {', '.join(fmt(l['utilization']) for l in runs)};"
                    f" wall {', '.join(fmt(l['wall_s'], 4) for l in runs)} s;"
                    f" regret {', '.join(fmt(l['best_regret'], 2) for l in runs)}"
                    + (f"; on a driver that costs nothing {', '.join(fmt(l.get('ideal_utilization')) for l in runs)}"
                       if any("ideal_utilization" in l for l in runs) else ""))
    rows.append("")
    for t in summary["targets"]:
        verdict = {True: "met", False: "NOT met", None: "n/a"}[t["ok"]]
        rows.append(f"- {t['target']}: {fmt(t['value'])} (target {t['threshold']}): **{verdict}**")
    return "\n".join(rows)
