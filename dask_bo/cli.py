"""The ``dask-bo`` command: run, compare, resume and report."""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import click

from .problems import PROBLEM_NAMES, Problem, get_problem, load_objective, parse_bounds


class InputError(click.ClickException):
    """Bad input: a one-line message naming the value and the fix, exit code 2."""

    exit_code = 2


class RunError(click.ClickException):
    """The run could not go on (lost scheduler, too many failures): exit code 1."""

    exit_code = 1


def _positive(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def check(ctx, param, value):
        if value is not None and value < 1:
            raise InputError(f"{name} must be at least 1, got {value}")
        return value

    return check


def run_options(f: Callable) -> Callable:
    """The options ``run`` and ``compare`` share."""
    options = [
        click.option("--scheduler", metavar="ADDRESS", help="A Dask scheduler (tcp://host:8786); default: a local cluster."),
        click.option("--workers", type=int, default=3, show_default=True, callback=_positive("--workers"), help="Workers of the local cluster."),
        click.option("--problem", default=None, metavar="NAME", help=f"A benchmark problem: {', '.join(PROBLEM_NAMES)}. Default: scaled-branin."),
        click.option("--objective", metavar="MODULE:FUNCTION", help="Your objective: MODULE:FUNCTION or path/to/file.py:FUNCTION (needs --bounds)."),
        click.option("--bounds", metavar="LO,HI[;LO,HI]...", help="The search box of --objective, one LO,HI pair per dimension."),
        click.option("--evaluations", type=int, default=30, show_default=True, callback=_positive("--evaluations"), help="Evaluations after the initial design."),
        click.option("--initial", type=int, default=3, show_default=True, callback=_positive("--initial"), help="Points in the initial design."),
        click.option("--delay-scale", type=float, default=3.0, show_default=True, help="Each evaluation sleeps S * sum(x rescaled to [0,1]) seconds first (0: none)."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--out", type=click.Path(file_okay=False), default=None, help="Folder for the journal, history, results and plots."),
        click.option("--max-failures", type=int, default=None, callback=_positive("--max-failures"), help="Stop once this many evaluations have failed."),
        click.option("--timeout", type=float, default=None, help="Seconds after which an evaluation is stopped and marked 'timeout'."),
        click.option("--tls-ca-file", type=click.Path(dir_okay=False), default=None, help="CA certificate for a tls:// scheduler."),
        click.option("--tls-cert", type=click.Path(dir_okay=False), default=None, help="Client certificate for a tls:// scheduler."),
        click.option("--tls-key", type=click.Path(dir_okay=False), default=None, help="Client key for a tls:// scheduler."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("-v", "--verbose", is_flag=True, help="Log what the driver does."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _problem(problem: str | None, objective: str | None, bounds: str | None, delay_scale: float) -> Problem:
    if delay_scale < 0:
        raise InputError(f"--delay-scale must be >= 0, got {delay_scale}")
    try:
        if objective is not None:
            if problem is not None:
                raise ValueError("give either --problem or --objective, not both")
            if bounds is None:
                raise ValueError(f"--objective {objective} needs --bounds LO,HI[;LO,HI]... for its search box")
            lower, upper = parse_bounds(bounds)
            return Problem(
                load_objective(objective), lower, upper, name=objective.rpartition(":")[2],
                delay_scale=delay_scale, spec=objective,
            )
        if bounds is not None:
            raise ValueError("--bounds goes with --objective; named problems have their own box")
        return get_problem(problem or "scaled-branin", delay_scale)
    except (ValueError, TypeError) as error:
        raise InputError(str(error)) from None


def _security(ca: str | None, cert: str | None, key: str | None):
    if not (ca or cert or key):
        return None
    if not (ca and cert and key):
        raise InputError("TLS needs all of --tls-ca-file, --tls-cert and --tls-key")
    from distributed.security import Security

    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


def _client(scheduler: str | None, workers: int, security):
    from .cluster import connect, dashboard_page_link

    try:
        client = connect(scheduler, n_workers=workers, security=security, show_link=False)
    except (OSError, ValueError) as error:
        raise InputError(str(error)) from None
    click.echo(f"Dask dashboard: {client.dashboard_link}", err=True)
    page = dashboard_page_link(client)
    if page:
        click.echo(f"dask_bo page:   {page}", err=True)
    return client


def _close(client) -> None:
    try:
        client.close()
    except Exception:  # the cluster may already be gone; there is nothing left to save
        pass


def _handle_run_errors(f: Callable) -> Callable:
    """Turn a failed run into a clear message and exit code 1; the journal stays intact."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from distributed.client import FutureCancelledError

        from .drivers import RunStopped

        try:
            return f(*args, **kwargs)
        except (RunStopped, FutureCancelledError, OSError, TimeoutError) as error:
            message = str(error) or type(error).__name__
            raise RunError(f"the run stopped: {message}; its journal is intact: 'dask-bo resume DIR' continues it") from None

    return wrapper


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    import distributed  # noqa: F401  (configures its loggers on import; quiet them after)

    # Dask logs its own view of every failure with a traceback; the command says what
    # happened in one line instead (--verbose shows Dask's view too).
    quiet = logging.INFO if verbose else logging.CRITICAL
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(quiet)


def _summary_table(rows: dict[str, dict[str, Any]]) -> str:
    fields = ["evaluations", "failed", "wall_s", "utilization", "dispatch_latency_s", "best_y", "best_regret"]
    lines = [f"{'mode':<6}" + "".join(f"{f:>20}" for f in fields)]
    for mode, m in rows.items():
        cells = []
        for f in fields:
            v = m.get(f)
            cells.append(f"{v:>20.4g}" if isinstance(v, float) else f"{str(v):>20}")
        lines.append(f"{mode:<6}" + "".join(cells))
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dask_bo")
def main() -> None:
    """Asynchronous Bayesian optimization of expensive functions on a Dask cluster."""


@main.command()
@click.option("--mode", type=click.Choice(["async", "sync"]), default="async", show_default=True)
@run_options
@_handle_run_errors
def run(mode, scheduler, workers, problem, objective, bounds, evaluations, initial, delay_scale,
        seed, out, max_failures, timeout, tls_ca_file, tls_cert, tls_key, no_progress, verbose):
    """Minimise a problem on a Dask cluster."""
    from .drivers import optimize

    _setup_logging(verbose)
    prob = _problem(problem, objective, bounds, delay_scale)
    if timeout is not None and timeout <= 0:
        raise InputError(f"--timeout must be a number of seconds > 0, got {timeout}")
    client = _client(scheduler, workers, _security(tls_ca_file, tls_cert, tls_key))
    try:
        result = optimize(
            prob, client=client, mode=mode, evaluations=evaluations, initial=initial, seed=seed,
            out=out, progress=not no_progress, max_failures=max_failures, timeout_s=timeout,
        )
    finally:
        _close(client)
    click.echo(_summary_table({mode: result.metrics()}))
    if out:
        click.echo(f"wrote {out}/journal.jsonl, history.csv, result.json, regret.png")
    if result.stopped_early:
        raise RunError(f"stopped early: {result.stopped_early}")


@main.command()
@run_options
@_handle_run_errors
def compare(scheduler, workers, problem, objective, bounds, evaluations, initial, delay_scale,
            seed, out, max_failures, timeout, tls_ca_file, tls_cert, tls_key, no_progress, verbose):
    """Run sync, then async, from the same initial data on the same cluster."""
    from .drivers import compare as compare_modes

    _setup_logging(verbose)
    prob = _problem(problem, objective, bounds, delay_scale)
    client = _client(scheduler, workers, _security(tls_ca_file, tls_cert, tls_key))
    try:
        results = compare_modes(
            prob, client=client, evaluations=evaluations, initial=initial, seed=seed, out=out,
            progress=not no_progress, max_failures=max_failures, timeout_s=timeout,
        )
    finally:
        _close(client)
    click.echo(_summary_table({mode: r.metrics() for mode, r in results.items()}))
    sync_s, async_s = results["sync"].wall_s, results["async"].wall_s
    if async_s:
        click.echo(f"async finished in {async_s:.1f} s, sync in {sync_s:.1f} s ({sync_s / async_s:.2f}x)")
    if out:
        click.echo(f"wrote {out}/sync/, {out}/async/, {out}/comparison.png, {out}/comparison.json")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--scheduler", metavar="ADDRESS", help="A Dask scheduler; default: a local cluster.")
@click.option("--workers", type=int, default=3, show_default=True, callback=_positive("--workers"))
@click.option("--tls-ca-file", type=click.Path(dir_okay=False), default=None)
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None)
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None)
@click.option("--no-progress", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
@_handle_run_errors
def resume(directory, scheduler, workers, tls_ca_file, tls_cert, tls_key, no_progress, verbose):
    """Continue an interrupted run from DIRECTORY/journal.jsonl and finish its budget."""
    from .drivers import resume as resume_run
    from .journal import journal_state, read_journal

    _setup_logging(verbose)
    try:
        journal_state(read_journal(directory))
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    client = _client(scheduler, workers, _security(tls_ca_file, tls_cert, tls_key))
    try:
        result = resume_run(directory, client=client, progress=not no_progress)
    finally:
        _close(client)
    click.echo(_summary_table({result.mode: result.metrics()}))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
def report(directory):
    """Print the summary table and redraw every plot of a run's folder (finished or not)."""
    from .report import write_report

    try:
        rows, written = write_report(Path(directory))
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    click.echo(_summary_table(rows))
    for mode, m in rows.items():
        if m.get("stopped_early"):
            click.echo(f"{mode}: {m['stopped_early']}")
    for path in written:
        click.echo(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
