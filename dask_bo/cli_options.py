"""The command line's options and the checks of their values, apart from the commands
(:mod:`dask_bo.cli`). Every bad value is found here, before any cluster starts."""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any, Callable

import click

from .config import MODELS
from .problems import PROBLEM_NAMES

DEFAULT_PROBLEM = "scaled-branin"
NAMED_DELAY_SCALE = 3.0  # the reference workload's uneven cost; a user's objective gets none
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding takes no more


class InputError(click.ClickException):
    """Bad input: a one-line message naming the value and the fix, exit code 2."""

    exit_code = 2


class RunError(click.ClickException):
    """The run could not go on (lost scheduler, too many failures): exit code 1."""

    exit_code = 1


Check = Callable[[click.Context, click.Parameter, Any], Any]


def at_least(minimum: int) -> Check:
    def check(ctx, param, value):
        if value is not None and value < minimum:
            raise InputError(f"{param.opts[0]} must be at least {minimum}, got {value}")
        return value

    return check


def check_seed(ctx, param, value):
    if value is not None and not 0 <= value <= MAX_SEED:
        raise InputError(f"--seed must be an integer from 0 to {MAX_SEED}, got {value}")
    return value


def seconds(ctx, param, value):
    """A duration: finite and > 0 (leaving the option out means no limit)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"{param.opts[0]} expects a number of seconds > 0 (leave it out for no limit), got {value}")
    return value


def finite(ctx, param, value):
    if value is not None and not math.isfinite(value):
        raise InputError(f"{param.opts[0]} expects a finite number, got {value}")
    return value


def non_negative(ctx, param, value):
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise InputError(f"{param.opts[0]} must be >= 0, got {value}")
    return value


def deprecated_timeout(ctx, param, value):
    value = seconds(ctx, param, value)  # a bad value is one line: the error alone
    if value is not None:
        click.echo("warning: --timeout is deprecated, use --eval-timeout (seconds per evaluation)", err=True)
    return value


def check_problem(ctx, param, value):
    if value is None or value in PROBLEM_NAMES:
        return value
    near = difflib.get_close_matches(value, PROBLEM_NAMES, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise InputError(f"unknown problem {value!r}; {hint}choose one of {', '.join(PROBLEM_NAMES)}")


def rules() -> dict[str, str]:
    """Rule name -> its one-line description (the default rule alone without the strategies)."""
    from .strategies import RULES

    return {name: getattr(rule, "description", "") for name, rule in RULES.items()}


def check_rule(ctx, param, value):
    if value is None:
        return value
    known = rules()
    if value not in known:
        near = difflib.get_close_matches(value, list(known), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise InputError(f"unknown --rule {value!r}; {hint}choose one of {', '.join(known)}")
    return value


def check_existing(ctx, param, value):
    if value is not None and not Path(value).exists():
        raise InputError(f"{param.opts[0]} {value!r} does not exist; give a run folder or a history CSV")
    return value


class RuleOption(click.Option):
    """``--rule``, whose help lists the rules with their descriptions: read only when help is
    shown (``--help``, sphinx-click), so that a run does not import the strategies for it."""

    @property
    def help(self) -> str:
        return "Acquisition rule (default local-penalization): " + "; ".join(
            f"{name}: {text}" if text else name for name, text in rules().items()
        )

    @help.setter
    def help(self, value: str | None) -> None:
        pass  # computed above


def run_options(f: Callable) -> Callable:
    """The options ``run`` and ``compare`` share."""
    path = click.Path(dir_okay=False)
    options = [
        click.option("--scheduler", metavar="ADDRESS", help="A Dask scheduler (tcp://host:8786); default: a local cluster."),
        click.option("--scheduler-file", metavar="FILE", help="A Dask scheduler file (dask scheduler --scheduler-file FILE)."),
        click.option("--workers", type=int, default=3, show_default=True, callback=at_least(1), help="Workers of the local cluster."),
        click.option("--problem", metavar="NAME", callback=check_problem, help=f"A benchmark problem: {', '.join(PROBLEM_NAMES)}. Default: {DEFAULT_PROBLEM}."),
        click.option("--objective", metavar="MODULE:FUNCTION", help="Your objective: MODULE:FUNCTION or path/to/file.py:FUNCTION (with --bounds or --space)."),
        click.option("--bounds", metavar="LO,HI[;LO,HI]...", help="The search box of --objective, one LO,HI pair per dimension."),
        click.option("--space", "space_file", metavar="FILE.toml", help="The named parameters of --objective (float, int, categorical)."),
        click.option("--rule", cls=RuleOption, metavar="NAME", callback=check_rule),
        click.option("--model", type=click.Choice(MODELS), default="auto", show_default=True, help="Exact GP, sparse GP, or sparse past a size threshold."),
        click.option("--maximize", is_flag=True, help="Maximize the objective instead of minimizing it."),
        click.option("--evaluations", type=int, default=30, show_default=True, callback=at_least(1), help="Evaluations after the initial design."),
        click.option("--initial", type=int, default=3, show_default=True, callback=at_least(1), help="Points in the initial design."),
        click.option("--initial-from", metavar="DIR_OR_CSV", callback=check_existing, help="Start from an earlier run's folder or history CSV (counted as data only)."),
        click.option("--delay-scale", type=float, default=None, callback=non_negative, help=f"Each evaluation sleeps S * sum(x rescaled to [0,1]) s first. Default: {NAMED_DELAY_SCALE:g} for --problem, 0 for --objective."),
        click.option("--seed", type=int, default=0, show_default=True, callback=check_seed),
        click.option("--max-failures", type=int, default=None, callback=at_least(1), help="Stop once this many evaluations have failed."),
        click.option("--eval-timeout", type=float, default=None, callback=seconds, help="Seconds an evaluation may run before it is marked 'timeout' (its worker restarted)."),
        click.option("--timeout", type=float, default=None, callback=deprecated_timeout, hidden=True),
        click.option("--max-time", type=float, default=None, callback=seconds, help="Stop the run after this many seconds (in-flight results are kept)."),
        click.option("--target", type=float, default=None, callback=finite, help="Stop once the best value reaches this one."),
        click.option("--max-in-flight", type=int, default=None, callback=at_least(1), help="At most this many evaluations at once (default: what the cluster can run)."),
        click.option("--tls-ca-file", type=path, default=None, help="CA certificate for a tls:// scheduler."),
        click.option("--tls-cert", type=path, default=None, help="Client certificate for a tls:// scheduler."),
        click.option("--tls-key", type=path, default=None, help="Client key for a tls:// scheduler."),
        click.option("--out", type=click.Path(file_okay=False), default=None, help="Folder for the journal, history, results and plots."),
        click.option("--overwrite", is_flag=True, help="Replace the run already in --out (default: refuse it)."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("-v", "--verbose", is_flag=True, help="Log what the driver does, and Dask's own messages."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def connection_options(f: Callable) -> Callable:
    """The options ``resume`` shares with ``run`` to reach a cluster."""
    path = click.Path(dir_okay=False)
    options = [
        click.option("--scheduler", metavar="ADDRESS", help="A Dask scheduler; default: a local cluster."),
        click.option("--scheduler-file", metavar="FILE", help="A Dask scheduler file."),
        click.option("--workers", type=int, default=3, show_default=True, callback=at_least(1)),
        click.option("--tls-ca-file", type=path, default=None),
        click.option("--tls-cert", type=path, default=None),
        click.option("--tls-key", type=path, default=None),
        click.option("--no-progress", is_flag=True),
        click.option("-v", "--verbose", is_flag=True),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_problem(problem: str | None, objective: str | None, bounds: str | None,
                  space_file: str | None, delay_scale: float | None):
    """The :class:`~dask_bo.problems.Problem` the options describe."""
    from .problems import Problem, get_problem, load_objective, parse_bounds

    try:
        if objective is None:
            for given, name in ((bounds, "--bounds"), (space_file, "--space")):
                if given is not None:
                    raise ValueError(f"{name} goes with --objective; named problems have their own box")
            scale = NAMED_DELAY_SCALE if delay_scale is None else delay_scale
            return get_problem(problem or DEFAULT_PROBLEM, scale)
        if problem is not None:
            raise ValueError("give either --problem or --objective, not both")
        if (bounds is None) == (space_file is None):
            raise ValueError(f"--objective {objective} needs its search space: --bounds LO,HI[;LO,HI]... or --space FILE.toml (one of them)")
        function = load_objective(objective)
        name = objective.rpartition(":")[2]
        scale = 0.0 if delay_scale is None else delay_scale
        if bounds is not None:
            lower, upper = parse_bounds(bounds)
            return Problem(function, lower, upper, name=name, delay_scale=scale, spec=objective)
        return Problem(function, space=load_space(space_file), name=name, delay_scale=scale, spec=objective)
    except (ValueError, TypeError) as error:
        raise InputError(str(error)) from None


def load_space(space_file: str):
    if not Path(space_file).is_file():
        raise InputError(f"--space {space_file!r} is not a file; give a TOML file of [parameters.NAME] tables")
    from .space import Space

    return Space.from_toml(space_file)


def security(ca: str | None, cert: str | None, key: str | None):
    if not (ca or cert or key):
        return None
    if not (ca and cert and key):
        raise InputError("TLS needs all of --tls-ca-file, --tls-cert and --tls-key")
    from distributed.security import Security

    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


def target(scheduler: str | None, scheduler_file: str | None) -> dict[str, str | None]:
    """What to connect to (:func:`~dask_bo.cluster.connect`'s ``target`` and
    ``scheduler_file``); a malformed address is bad input, found before anything starts."""
    if scheduler and scheduler_file:
        raise InputError("give either --scheduler or --scheduler-file, not both")
    if scheduler:
        from .cluster import check_address

        try:
            check_address(scheduler)
        except ValueError as error:
            raise InputError(f"--scheduler: {error}") from None
    return {"scheduler": scheduler, "scheduler_file": scheduler_file}


def check_out(out: str | None, overwrite: bool, runs: tuple[str, ...] = ("",)) -> None:
    """Refuse an unusable ``--out`` (or one holding a run, without ``--overwrite``) before
    any cluster starts."""
    if out is None:
        return
    from .journal import check_writable

    try:
        check_writable(out)
    except (OSError, ValueError) as error:
        raise InputError(str(error)) from None
    for run in runs:
        if not overwrite and (Path(out) / run / "journal.jsonl").exists():
            raise InputError(
                f"--out {out} already holds a run: 'dask-bo resume {Path(out) / run}' continues it,"
                f" --overwrite replaces it"
            )


def resumable(out: str | None) -> str | None:
    """The folder ``dask-bo resume`` can continue in ``out`` (a run's, or a comparison's
    ``sync``/``async``), if any: a journal of an unfinished run whose evaluations are not all
    failures (resume never re-runs an initial design that failed entirely)."""
    if out is None:
        return None
    for folder in (Path(out), Path(out) / "sync", Path(out) / "async"):
        events = _events(folder / "journal.jsonl")
        statuses = [e.get("status") for e in events if e.get("event") == "evaluated"]
        if events and not finished(events) and (not statuses or "ok" in statuses):
            return str(folder)
    return None


def _events(path: Path) -> list[dict]:
    """A journal's readable events, skipping damaged lines (only to give advice)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def finished(events: list[dict]) -> bool:
    """Whether a journal's run spent its budget: its last ``finished`` event (no driver went
    on after it) says it did not stop early (a run that did may go on: max time, failures)."""
    kinds = [e.get("event") for e in events]
    if "finished" not in kinds:
        return False
    last = len(kinds) - 1 - kinds[::-1].index("finished")
    metrics = events[last].get("metrics")
    stopped_early = metrics.get("stopped_early") if isinstance(metrics, dict) else None
    return "resumed" not in kinds[last:] and not stopped_early
