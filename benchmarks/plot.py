"""Regret against evaluations and against wall time, one line per rule and mode, from run.py's
JSON lines.

    python benchmarks/plot.py FILE [FILE ...] [--out-dir benchmarks] [--workload NAME]

For each workload in the files, ``<out-dir>/regret-<workload>.png``: left, the median over
seeds of the best regret after n evaluations; right, the median over seeds of the best regret
at time t (seconds from the driver's start). Regrets are floored at 1e-6 (trieste's minima are
rounded). A later line of the same run replaces an earlier one, as in ``run.py --summarize``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import DEFAULT_RULE, REGRET_FLOOR, group_of, read_lines  # noqa: E402


def step_values(curve: list[list[float]], grid: np.ndarray) -> np.ndarray:
    """The best regret of a ``[[t, regret], ...]`` improvement curve at each grid point
    (``nan`` before its first point)."""
    values = np.full(len(grid), np.nan)
    for t, regret in curve:
        values[grid >= t] = max(regret, REGRET_FLOOR)
    return values


def median_curve(curves: list[list[list[float]]], grid: np.ndarray) -> np.ndarray:
    stacked = np.array([step_values(c, grid) for c in curves if c])
    if not len(stacked):
        return np.full(len(grid), np.nan)
    with np.errstate(all="ignore"):
        return np.nanmedian(stacked, axis=0) if np.isfinite(stacked).any() else stacked[0]


def kind_of(line: dict) -> str:
    """The rule a run used (the naive arm: ``naive``)."""
    return "naive" if line["arm"] == "naive" else line.get("rule") or DEFAULT_RULE


def plot_workload(workload: str, lines: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[dict]] = {}
    for line in lines:
        groups.setdefault(group_of(line), []).append(line)
    evaluations = max(l["evaluations"] for l in lines)
    wall = max(l["wall_s"] for l in lines)
    by_n, by_t = np.arange(0, evaluations + 1), np.linspace(0, wall, 400)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    # One colour per rule (and arm), solid for async, dashed for sync.
    kinds = sorted({kind_of(runs[0]) for runs in groups.values()})
    colours = dict(zip(kinds, plt.get_cmap("tab10").colors))
    for name, runs in sorted(groups.items(), key=lambda g: (kind_of(g[1][0]), g[0])):
        kind, mode = kind_of(runs[0]), runs[0]["mode"]
        style = dict(color=colours.get(kind), linestyle="--" if mode == "sync" else "-")
        label = f"{kind}, {mode} ({len(runs)} seeds)"
        left.step(by_n, median_curve([r.get("regret_by_evaluation", []) for r in runs], by_n),
                  where="post", label=label, **style)
        in_run = by_t <= max(r["wall_s"] for r in runs)  # a curve ends with its slowest run
        right.step(by_t[in_run], median_curve([r.get("regret_curve", []) for r in runs], by_t)[in_run],
                   where="post", label=label, **style)
    left.set(xlabel="evaluations after the initial design", ylabel="best regret (median over seeds)",
             yscale="log", title=f"{workload}: regret vs evaluations")
    right.set(xlabel="seconds from the driver's start", yscale="log",
              title=f"{workload}: regret vs wall time")
    right.legend(fontsize="x-small", loc="upper right", ncol=2)
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--workload", help="only this workload")
    args = parser.parse_args(argv)
    lines = [l for l in read_lines(args.files) if l.get("best_regret") is not None]
    workloads = sorted({l["workload"] for l in lines if args.workload in (None, l["workload"])})
    if not workloads:
        parser.error(f"no runs{' of ' + args.workload if args.workload else ''} with a regret in the files")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for workload in workloads:
        path = plot_workload(workload, [l for l in lines if l["workload"] == workload],
                             args.out_dir / f"regret-{workload}.png")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
