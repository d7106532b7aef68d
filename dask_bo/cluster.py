"""Connecting to a Dask cluster: an embedded local one by default, or whatever a Dask user has
(a scheduler's address, a scheduler file, a ``Cluster`` object, a ``Client``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from distributed import Client

from .embedded import dask_setup as dask_setup  # a preload under this name too
from .embedded import embedded_client

logger = logging.getLogger("dask_bo")

DASHBOARD_PAGE = "individual-dask-bo"

ClientLike = Any  # None | str | os.PathLike | Client | distributed.deploy.Cluster


def dashboard_page_link(client: Client) -> str | None:
    """The URL of the dask_bo page on the client's dashboard, if it has a dashboard.

    Only a scheduler that preloads ``dask_bo.dashboard`` serves the page (the clusters that
    :func:`connect` starts do; ``dask scheduler --preload dask_bo.dashboard`` for others):
    the link does not check that it does.

    :param client: A connected :class:`distributed.Client`.
    :return: ``.../individual-dask-bo`` next to the dashboard's ``/status`` page, or
        ``None`` if the scheduler runs no dashboard.
    """
    if "dashboard" not in client.scheduler_info().get("services", {}):
        return None  # dashboard_link would still name the default port
    link = client.dashboard_link
    if not link:
        return None
    return link.rsplit("/status", 1)[0].rstrip("/") + "/" + DASHBOARD_PAGE


def connect(
    target: ClientLike = None,
    n_workers: int = 3,
    *,
    threads_per_worker: int = 1,
    scheduler_file: str | os.PathLike | None = None,
    security: Any = None,
    dashboard_address: str | None = "127.0.0.1:8787",
    timeout_s: float = 5,
    show_link: bool = True,
    **cluster_kwargs: Any,
) -> Client:
    """A :class:`~distributed.Client` to run evaluations on.

    :param target: What to connect to:

        - ``None``: start an embedded :class:`~distributed.LocalCluster` of ``n_workers``
          worker processes (``threads_per_worker`` threads each) whose scheduler and dashboard
          listen on 127.0.0.1 only; its workers ignore Ctrl-C (the driver handles it);
        - a scheduler's address (``tcp://host:8786``, ``tls://...``);
        - a path to a scheduler file (``*.json``, as ``dask scheduler --scheduler-file F`` writes);
        - a :class:`~distributed.deploy.Cluster` (``LocalCluster``, ``dask_jobqueue.SLURMCluster``,
          a Kubernetes cluster, ...): a client of it (closing the client leaves the cluster up);
        - a :class:`~distributed.Client`: returned as it is.
    :param n_workers: Worker processes of the embedded cluster.
    :param threads_per_worker: Threads of each worker process of the embedded cluster: how
        many evaluations one process runs at once (other targets keep their own).
    :param scheduler_file: A scheduler file, instead of ``target``.
    :param security: A :class:`distributed.security.Security` for ``tls://`` schedulers; with
        ``target=None`` the embedded cluster speaks TLS with it (``True`` or
        ``Security.temporary()``: certificates made in memory for this cluster only).
    :param dashboard_address: Where the embedded cluster's dashboard listens (``None``: no
        dashboard); if the port is taken, another is chosen.
    :param timeout_s: How long to try to reach the scheduler before giving up.
    :param show_link: Print the links to the dashboard and its dask_bo page.
    :param cluster_kwargs: More arguments for the embedded ``LocalCluster``.
    :raise OSError: If no Dask scheduler answers at the address within ``timeout_s``.
    :raise ValueError: If the address or the scheduler file is malformed.
    :return: The client; closing it also closes an embedded cluster.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    if scheduler_file is not None:
        if target is not None:
            raise ValueError(f"give either a target or scheduler_file, not both; got {target!r} and {scheduler_file!r}")
        target = Path(scheduler_file)
    if isinstance(target, Client):
        return target
    if _is_cluster(target):
        client = Client(target, timeout=timeout_s)
    elif target is None:
        client = embedded_client(n_workers, threads_per_worker, dashboard_address, security, cluster_kwargs)
    elif isinstance(target, os.PathLike) or (isinstance(target, str) and target.endswith(".json")):
        client = _client_at(_read_scheduler_file(Path(target), timeout_s), security, timeout_s)
    elif isinstance(target, str):
        client = _client_at(target, security, timeout_s)
    else:
        raise TypeError(
            f"expected None, a scheduler address, a scheduler file, a Dask Cluster or a Client,"
            f" got {type(target).__name__} {target!r}"
        )
    # Without a dashboard an embedded scheduler still serves HTTP (no pages): no link to show.
    page = dashboard_page_link(client) if target is not None or dashboard_address else None
    if page and show_link:
        print(f"Dask dashboard: {client.dashboard_link}\ndask_bo page:   {page}", file=sys.stderr)
    return client


def as_client(client_like: ClientLike, workers: int = 3, **kwargs: Any) -> tuple[Client, bool]:
    """``(client, owned)`` for anything :func:`connect` takes; ``owned`` says the caller made
    the client here and must close it (a ``Client`` passed in is the user's to close)."""
    if isinstance(client_like, Client):
        return client_like, False
    return connect(client_like, n_workers=workers, **kwargs), True


def _is_cluster(target: Any) -> bool:
    from distributed.deploy import Cluster

    # Duck-typed too: cluster managers that do not derive from distributed's Cluster.
    return isinstance(target, Cluster) or (
        not isinstance(target, (str, os.PathLike)) and hasattr(target, "scheduler_address")
    )


def check_address(address: str) -> str:
    """``address`` if it is a well-formed scheduler address, else a ValueError saying why."""
    from distributed.comm import parse_address

    try:
        scheme, location = parse_address(address)
    except ValueError as error:
        raise ValueError(f"expected a scheduler address like tcp://HOST:8786, got {address!r} ({error})") from None
    if scheme in ("tcp", "tls", "ws", "wss"):
        host, sep, port = location.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"expected a scheduler address like {scheme}://HOST:PORT with a numeric port"
                f" (1-65535), got {address!r}"
            )
    return address


def _read_scheduler_file(path: Path, timeout_s: float) -> str:
    # A job script may start the driver right after the scheduler: give it timeout_s to write.
    deadline = time.monotonic() + timeout_s
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        address = json.loads(path.read_text(encoding="utf-8"))["address"]
    except FileNotFoundError:
        raise OSError(
            f"no scheduler file at {str(path)!r} after {timeout_s:g} s; start the scheduler with"
            f" 'dask scheduler --scheduler-file {path}' or check the path"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"expected a Dask scheduler file (JSON with an 'address'), got {str(path)!r}"
            f" ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(address, str):
        raise ValueError(f"expected a string 'address' in the scheduler file {str(path)!r}, got {address!r}")
    return address


def _client_at(address: str, security: Any, timeout_s: float) -> Client:
    check_address(address)
    if address.startswith("tls://") and security is None:
        raise ValueError(
            f"the scheduler {address!r} speaks TLS: pass security=Security(...) (from the"
            f" command line: --tls-ca-file, --tls-cert and --tls-key)"
        )
    # distributed's Client waits for the handshake without a deadline, so a port that accepts
    # connections but does not speak Dask (a web server) would hang it: ask first, with one.
    kind = _identify(address, security, timeout_s)
    if kind != "Scheduler":
        raise OSError(f"{address!r} is a Dask {kind}, not a scheduler: give the scheduler's address")
    try:
        return Client(address, security=security, timeout=timeout_s)
    except (OSError, TimeoutError) as error:
        raise _unreachable(address, timeout_s, error) from None


def _identify(address: str, security: Any, timeout_s: float) -> str:
    """The ``type`` the server at ``address`` reports (``Scheduler``, ``Worker``, ...)."""
    from distributed.core import rpc

    args = security.get_connection_args("client") if security is not None else {}

    async def identity() -> dict:
        # Connecting gets most of the time, so a refused port reports why.
        async with rpc(address, timeout=0.9 * timeout_s, connection_args=args) as server:
            return await server.identity()

    outcome: dict[str, Any] = {}

    def probe() -> None:  # a thread of its own: the caller may be inside an event loop (Jupyter)
        try:
            outcome["identity"] = asyncio.run(asyncio.wait_for(identity(), timeout_s))
        except BaseException as error:  # noqa: BLE001  (reported to the caller below)
            outcome["error"] = error

    thread = threading.Thread(target=probe, name="dask-bo-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 5)
    error = outcome.get("error")
    if "identity" not in outcome:
        raise _unreachable(address, timeout_s, error)
    reply = outcome["identity"]
    return str(reply.get("type", "server")) if isinstance(reply, dict) else "server"


def _unreachable(address: str, timeout_s: float, error: BaseException | None) -> OSError:
    if error is None or isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        why = "no Dask handshake; is it a Dask scheduler's port?"
    else:
        why = str(error).splitlines()[0] if str(error) else type(error).__name__
    return OSError(
        f"cannot reach a Dask scheduler at {address!r} within {timeout_s:g} s ({why});"
        f" check the address and that 'dask scheduler' is running there"
    )
