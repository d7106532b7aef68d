"""The ``dask-bo`` command: run, compare, resume and report."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import click

from .cli_options import (
    InputError, RunError, at_least, build_problem, check_out, connection_options, finished, resumable,
    run_options, security, target,
)
from .cli_signals import EXIT_INTERRUPTED, Interrupts


def _set(**kwargs: Any) -> dict[str, Any]:
    """The options the user set: for the others the api's defaults stand."""
    return {name: value for name, value in kwargs.items() if value is not None}


def _command(f: Callable) -> Callable:
    """Set up logging and signals; turn an interruption into one line and exit code 130, and
    a run that could not go on into one line and exit code 1."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        from distributed.client import FutureCancelledError

        from . import api
        from .journal import JournalError

        out = kwargs.get("out") or kwargs.get("directory")
        _own_stderr()
        _setup_logging(kwargs.get("verbose", False))
        try:
            with Interrupts() as interrupts:
                return f(api, interrupts, *args, **kwargs)
        except (KeyboardInterrupt, api.RunInterrupted):
            _interrupted(out)
        except JournalError as error:  # a folder the run may not use (another driver's)
            raise InputError(str(error).splitlines()[0]) from None
        except (api.RunStopped, FutureCancelledError, OSError, TimeoutError) as error:
            message = (str(error) or type(error).__name__).splitlines()[0]
            folder = resumable(out)
            if folder:
                message += f"; its journal is intact: 'dask-bo resume {folder}' continues it"
            raise RunError(f"the run stopped: {message}") from None

    return wrapper


def _interrupted(out: str | None) -> None:
    folder = resumable(out)
    if folder:
        click.echo(f"interrupted: 'dask-bo resume {folder}' continues the run", err=True)
    else:
        click.echo("interrupted", err=True)
    raise click.exceptions.Exit(EXIT_INTERRUPTED)


def _own_stderr() -> None:
    """The command writes to its own copy of file descriptor 2: native output silenced by
    pointing descriptor 2 elsewhere (TensorFlow's import, for seconds, from another thread)
    must not swallow its messages."""
    try:
        if sys.stderr.fileno() == 2:
            sys.stderr = os.fdopen(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    except (AttributeError, OSError, ValueError):  # not a real descriptor (a test's capture)
        pass


def _setup_logging(verbose: bool) -> None:
    """The command owns the root logger: one line per message on stderr. Dask's loggers
    are quiet unless -v: the driver reports each failed evaluation in one line itself."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("dask_bo").setLevel(logging.INFO if verbose else logging.WARNING)
    # A warning (a torn journal line, a deprecation) is one line too, not file:line + source.
    warnings.showwarning = lambda message, category, *args, **kwargs: logging.getLogger(
        "dask_bo").warning("%s: %s", category.__name__, message)
    import distributed  # noqa: F401  (configures its loggers on import; quiet them after)

    quiet = logging.WARNING if verbose else logging.CRITICAL
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(quiet)


@contextlib.contextmanager
def _above_the_bar():
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm(loggers=[logging.root, logging.getLogger("distributed")]):
        yield


def _client(where: dict[str, str | None], workers: int, tls: Any, verbose: bool):
    from .cluster import connect, dashboard_page_link

    remote = where["scheduler"] or where["scheduler_file"]
    # The embedded cluster's workers log on this terminal: with -v, Dask's view of failures too.
    local = {} if remote else {"silence_logs": logging.WARNING if verbose else logging.CRITICAL}
    try:
        client = connect(
            where["scheduler"], n_workers=workers, scheduler_file=where["scheduler_file"],
            security=tls, show_link=False, **local,
        )
    except (OSError, ValueError) as error:
        raise InputError(str(error).splitlines()[0]) from None
    page = dashboard_page_link(client)
    if page:  # None: the scheduler has no dashboard
        click.echo(f"Dask dashboard: {client.dashboard_link}\ndask_bo page:   {page}", err=True)
    return client


def _close(client) -> None:
    try:
        client.close()
    except Exception:  # the cluster may already be gone; there is nothing left to save
        pass


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


def _driver_kwargs(o: dict[str, Any]) -> dict[str, Any]:
    """The api's keywords from the options ``run`` and ``compare`` share."""
    return dict(
        rule=o["rule"], model=o["model"], evaluations=o["evaluations"], initial=o["initial"],
        initial_data=o["initial_from"], seed=o["seed"], out=o["out"], overwrite=o["overwrite"],
        progress=not o["no_progress"], max_failures=o["max_failures"],
        eval_timeout_s=o["eval_timeout"] if o["eval_timeout"] is not None else o["timeout"],
        max_time_s=o["max_time"], target=o["target"],
        direction="maximize" if o["maximize"] else "minimize", max_in_flight=o["max_in_flight"],
    )


def _start(o: dict[str, Any], runs: tuple[str, ...], **more: Any):
    """Check every input, then connect: (the api's keywords, client)."""
    from .config import Settings, settings_from_options
    from .warm import load_initial_data

    kwargs = _set(**_driver_kwargs(o), **more)
    problem = build_problem(o["problem"], o["objective"], o["bounds"], o["space_file"], o["delay_scale"])
    fields = {f.name for f in dataclasses.fields(Settings)}
    try:  # the api checks them again; here they are found before any cluster starts
        settings_from_options({k: v for k, v in kwargs.items() if k in fields})
        if "initial_data" in kwargs:
            kwargs["initial_data"] = load_initial_data(kwargs["initial_data"], problem.space)
    except (ValueError, TypeError) as error:
        raise InputError(str(error).splitlines()[0]) from None
    where = target(o["scheduler"], o["scheduler_file"])
    tls = security(o["tls_ca_file"], o["tls_cert"], o["tls_key"])
    check_out(o["out"], o["overwrite"], runs)
    return dict(kwargs, problem=problem), _client(where, o["workers"], tls, o["verbose"])


@main.command()
@click.option("--mode", type=click.Choice(["async", "sync"]), default="async", show_default=True)
@run_options
@_command
def run(api, interrupts, mode, **o):
    """Minimise (or --maximize) a problem on a Dask cluster."""
    kwargs, client = _start(o, ("",), mode=mode)
    try:
        with _above_the_bar():
            result = api.optimize(client=client, stop=interrupts.stop, **kwargs)
    finally:
        _close(client)
    interrupts.check()
    click.echo(_summary_table({mode: result.metrics()}))
    if o["out"]:
        click.echo(f"wrote {o['out']}/journal.jsonl, history.csv, result.json, regret.png")
    if result.stopped_early:
        raise RunError(f"stopped early: {result.stopped_early}")


@main.command()
@run_options
@_command
def compare(api, interrupts, **o):
    """Run sync, then async, from the same initial data on the same cluster."""
    if o["initial_from"] is not None:
        raise InputError("--initial-from goes with 'dask-bo run': compare draws one initial design for both modes")
    from .comparison import compare as compare_modes

    kwargs, client = _start(o, ("sync", "async"))
    try:
        with _above_the_bar():
            results = compare_modes(client=client, stop=interrupts.stop, **kwargs)
    finally:
        _close(client)
    interrupts.check()
    click.echo(_summary_table({mode: r.metrics() for mode, r in results.items()}))
    sync_s, async_s = results["sync"].wall_s, results["async"].wall_s
    if async_s:
        click.echo(f"async finished in {async_s:.1f} s, sync in {sync_s:.1f} s ({sync_s / async_s:.2f}x)")
    if o["out"]:
        click.echo(f"wrote {o['out']}/sync/, {o['out']}/async/, {o['out']}/comparison.png, {o['out']}/comparison.json")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--objective", metavar="MODULE:FUNCTION", help="The run's objective again (e.g. a file.py:FUNCTION moved or run from elsewhere).")
@click.option("--allow-changed-objective", is_flag=True, help="Go on although the objective's file changed since the run started.")
@click.option("--evaluations", type=int, default=None, callback=at_least(1), help="A new total budget of evaluations after the initial design (extends a finished run).")
@connection_options
@_command
def resume(api, interrupts, directory, objective, allow_changed_objective, evaluations, scheduler, scheduler_file,
           workers, tls_ca_file, tls_cert, tls_key, no_progress, verbose):
    """Continue an interrupted run from DIRECTORY/journal.jsonl and finish its budget."""
    from .journal import read_journal

    where = target(scheduler, scheduler_file)
    tls = security(tls_ca_file, tls_cert, tls_key)
    try:
        events = read_journal(directory)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    if finished(events) and evaluations is None:
        click.echo(f"the run in {directory} is finished; 'dask-bo resume {directory} --evaluations N' extends its budget to N", err=True)
        return
    _check_objective(events, objective, allow_changed_objective)
    kwargs = _set(
        out=directory, objective=objective, progress=not no_progress,
        allow_changed_objective=allow_changed_objective, evaluations=evaluations,
    )
    client = _client(where, workers, tls, verbose)
    try:
        with _above_the_bar():
            result = api.resume(client=client, stop=interrupts.stop, **kwargs)
    finally:
        _close(client)
    interrupts.check()
    click.echo(_summary_table({result.mode: result.metrics()}))
    if result.stopped_early:
        raise RunError(f"stopped early: {result.stopped_early}")


def _check_objective(events: list[dict], objective: str | None, allow_changed: bool) -> None:
    """A run's objective that cannot be rebuilt (moved, edited) is bad input, found before any
    cluster starts."""
    from .events import replay
    from .problems import problem_from_description

    description = (replay(events).config or {}).get("problem")
    if description is not None:  # else resume itself says what the journal lacks
        try:
            problem_from_description(description, objective, allow_changed)
        except (ValueError, TypeError, KeyError, ImportError, OSError) as error:
            message = str(error).splitlines()[0] if str(error) else repr(error)
            if objective is None and "allow-changed-objective" not in message:
                message += "; give it again with --objective PATH:FUNCTION"
            raise InputError(message) from None


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
