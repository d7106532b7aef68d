"""The ``dask-bo`` command: run, compare, resume and report."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import click

from .cli_options import (
    InputError, RunError, at_least, build_problem, check_out, connection_options, finished, resumable,
    run_options, security, target,
)

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C

# Option -> the api's keyword, to name the option when the installed driver lacks it.
_OPTION_OF = {
    "rule": "--rule", "model": "--model", "direction": "--maximize", "initial_data": "--initial-from",
    "eval_timeout_s": "--eval-timeout", "max_time_s": "--max-time", "target": "--target",
    "max_in_flight": "--max-in-flight", "overwrite": "--overwrite", "objective": "--objective",
    "allow_changed_objective": "--allow-changed-objective", "evaluations": "--evaluations",
}
_NEUTRAL = {"model": "auto", "direction": "minimize", "overwrite": False, "allow_changed_objective": False}


def _api() -> SimpleNamespace:
    """The driver's entry points (imported when a command runs: ``--help`` stays quick)."""
    from . import api
    from .comparison import compare

    return SimpleNamespace(
        optimize=api.optimize, compare=compare, resume=api.resume, RunStopped=api.RunStopped,
        RunInterrupted=api.RunInterrupted,
    )


def _accepted(accepted_by: Callable, **kwargs: Any) -> dict[str, Any]:
    """``kwargs`` without the unset options (the api's defaults stand) and without what
    ``accepted_by``'s signature lacks when it is neutral; an option the installed driver
    cannot honour is refused (before any cluster starts)."""
    kwargs = {name: value for name, value in kwargs.items() if value is not None}
    params = inspect.signature(accepted_by).parameters
    if "eval_timeout_s" in kwargs and "eval_timeout_s" not in params and "timeout_s" in params:
        kwargs["timeout_s"] = kwargs.pop("eval_timeout_s")
    for name in [n for n in kwargs if n not in params]:
        value = kwargs.pop(name)
        if value != _NEUTRAL.get(name):
            raise InputError(f"{_OPTION_OF.get(name, name)} needs a newer dask_bo driver than the one installed")
    return kwargs


@contextlib.contextmanager
def _interrupts():
    """Ctrl-C or SIGTERM: the first stops the run cleanly (a KeyboardInterrupt the driver
    turns into a journalled stop), a second quits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals
        return
    received = []

    def handler(signum, frame):
        if received:
            os.write(2, b"interrupted again: quitting now\n")
            os._exit(EXIT_INTERRUPTED)
        received.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _command(f: Callable) -> Callable:
    """Set up logging and signals; turn an interruption into one line and exit code 130, and
    a failed run into one line and exit code 1."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        out = kwargs.get("out") or kwargs.get("directory")
        _setup_logging(kwargs.get("verbose", False))
        api = _api()
        try:
            with _interrupts():
                return f(api, *args, **kwargs)
        except (KeyboardInterrupt, api.RunInterrupted):
            _interrupted(out)
        except _journal_error() as error:
            raise InputError(str(error).splitlines()[0]) from None
        except _run_errors(api) as error:
            message = (str(error) or type(error).__name__).splitlines()[0]
            folder = resumable(out)
            if folder:
                message += f"; its journal is intact: 'dask-bo resume {folder}' continues it"
            raise RunError(f"the run stopped: {message}") from None

    return wrapper


def _run_errors(api: SimpleNamespace) -> tuple[type, ...]:
    from distributed.client import FutureCancelledError

    return (api.RunStopped, FutureCancelledError, OSError, TimeoutError)


def _journal_error() -> tuple[type, ...]:
    """A journal the run may not use (a folder another driver holds): bad input."""
    try:
        from .journal import JournalError
    except ImportError:
        return ()
    return (JournalError,)


def _interrupted(out: str | None) -> None:
    folder = resumable(out)
    if folder:
        click.echo(f"interrupted: 'dask-bo resume {folder}' continues the run", err=True)
    else:
        click.echo("interrupted", err=True)
    raise click.exceptions.Exit(EXIT_INTERRUPTED)


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


def _start(api: SimpleNamespace, o: dict[str, Any], runs: tuple[str, ...], **more: Any):
    """Check every input, then connect: (the api's keywords, client)."""
    kwargs = _accepted(api.optimize, **_driver_kwargs(o), **more)
    problem = build_problem(o["problem"], o["objective"], o["bounds"], o["space_file"], o["delay_scale"])
    where = target(o["scheduler"], o["scheduler_file"])
    tls = security(o["tls_ca_file"], o["tls_cert"], o["tls_key"])
    check_out(o["out"], o["overwrite"], runs)
    return dict(kwargs, problem=problem), _client(where, o["workers"], tls, o["verbose"])


@main.command()
@click.option("--mode", type=click.Choice(["async", "sync"]), default="async", show_default=True)
@run_options
@_command
def run(api, mode, **o):
    """Minimise (or --maximize) a problem on a Dask cluster."""
    kwargs, client = _start(api, o, ("",), mode=mode)
    try:
        with _above_the_bar():
            result = api.optimize(client=client, **kwargs)
    finally:
        _close(client)
    click.echo(_summary_table({mode: result.metrics()}))
    if o["out"]:
        click.echo(f"wrote {o['out']}/journal.jsonl, history.csv, result.json, regret.png")
    if result.stopped_early:
        raise RunError(f"stopped early: {result.stopped_early}")


@main.command()
@run_options
@_command
def compare(api, **o):
    """Run sync, then async, from the same initial data on the same cluster."""
    kwargs, client = _start(api, o, ("sync", "async"))
    try:
        with _above_the_bar():
            results = api.compare(client=client, **kwargs)
    finally:
        _close(client)
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
def resume(api, directory, objective, allow_changed_objective, evaluations, scheduler, scheduler_file,
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
    kwargs = _accepted(
        api.resume, out=directory, objective=objective, progress=not no_progress,
        allow_changed_objective=allow_changed_objective, evaluations=evaluations,
    )
    client = _client(where, workers, tls, verbose)
    try:
        with _above_the_bar():
            result = api.resume(client=client, **kwargs)
    finally:
        _close(client)
    click.echo(_summary_table({result.mode: result.metrics()}))
    if result.stopped_early:
        raise RunError(f"stopped early: {result.stopped_early}")


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
