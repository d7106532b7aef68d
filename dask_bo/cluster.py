"""Connecting to a Dask cluster: an embedded local one by default, or a scheduler's address."""

from __future__ import annotations

import logging
import sys
from typing import Any

from distributed import Client

logger = logging.getLogger("dask_bo")

DASHBOARD_PAGE = "individual-dask-bo"


def dashboard_page_link(client: Client) -> str | None:
    """The URL of the dask_bo page on the client's dashboard, if it has a dashboard."""
    link = client.dashboard_link
    if not link:
        return None
    return link.rsplit("/status", 1)[0].rstrip("/") + "/" + DASHBOARD_PAGE


def connect(
    address: str | None = None,
    n_workers: int = 3,
    *,
    threads_per_worker: int = 1,
    security: Any = None,
    dashboard_address: str = "127.0.0.1:8787",
    timeout_s: float = 5,
    show_link: bool = True,
    **cluster_kwargs: Any,
) -> Client:
    """A :class:`~distributed.Client` to run evaluations on.

    :param address: A scheduler's address (``tcp://host:8786``, ``tls://...``); ``None``
        starts an embedded :class:`~distributed.LocalCluster` of ``n_workers`` single-threaded
        worker processes whose scheduler and dashboard listen on 127.0.0.1 only.
    :param security: A :class:`distributed.security.Security` for ``tls://`` schedulers.
    :param dashboard_address: Where the embedded cluster's dashboard listens (``None``: no
        dashboard); if the port is taken, another is chosen.
    :param timeout_s: How long to try to reach the scheduler before giving up.
    :param show_link: Print the links to the dashboard and its dask_bo page.
    :raise OSError: If the scheduler cannot be reached within ``timeout_s``.
    :return: The client; closing it also closes the embedded cluster.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    if address is None:
        # A Client that starts its own LocalCluster also closes it with itself.
        client = Client(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            host="127.0.0.1",
            dashboard_address=dashboard_address,
            scheduler_kwargs={"preload": ["dask_bo.dashboard"]},
            # Failed evaluations are the driver's to report; workers need not log each one.
            silence_logs=logging.ERROR,
            security=security,
            **cluster_kwargs,
        )
    else:
        if address.startswith("tls://") and security is None:
            raise ValueError(
                f"the scheduler {address!r} speaks TLS: pass security=Security(...) (from the"
                f" command line: --tls-ca-file, --tls-cert and --tls-key)"
            )
        try:
            client = Client(address, security=security, timeout=timeout_s)
        except (OSError, TimeoutError) as error:
            raise OSError(
                f"cannot reach the Dask scheduler at {address!r} within {timeout_s:g} s ({error});"
                f" check the address and that 'dask scheduler' is running there"
            ) from None
    page = dashboard_page_link(client)
    if page and show_link:
        print(f"Dask dashboard: {client.dashboard_link}\ndask_bo page:   {page}", file=sys.stderr)
    return client
