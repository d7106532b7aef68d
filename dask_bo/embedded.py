"""The embedded cluster: a :class:`~distributed.LocalCluster` on 127.0.0.1 whose scheduler
serves the dask_bo page, whose workers ignore Ctrl-C (the driver handles it) and whose whole
cluster speaks TLS with the certificates given, closed with its client."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import sys
import threading
import warnings
from typing import Any

from distributed import Client


def embedded_client(
    n_workers: int, threads_per_worker: int, dashboard_address: str | None, security: Any,
    cluster_kwargs: dict[str, Any],
) -> Client:
    """A client of a new embedded cluster (:func:`dask_bo.cluster.connect` with no target
    documents the parameters); closing the client closes the cluster."""
    from distributed import LocalCluster

    options = dict(
        n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
        host="127.0.0.1", dashboard_address=dashboard_address,
        scheduler_kwargs={"preload": ["dask_bo.dashboard"]},
        # Failed evaluations are the driver's to report in one line each: the workers' own
        # "Compute Failed" blocks are errors, so only critical messages get through.
        silence_logs=logging.CRITICAL,
    )
    security = _for_every_role(security)
    if security is not None:
        options.update(security=security, protocol="tls://")
    options.update(cluster_kwargs)
    if options["processes"]:
        # Workers restarted later (a late evaluation) ignore Ctrl-C through this preload.
        options["preload"] = [*options.get("preload", []), __name__]
    # Processes started while SIGINT is ignored keep ignoring it: Ctrl-C in the terminal
    # reaches the whole process group, and the driver alone decides what it means.
    with _sigint_ignored(), warnings.catch_warnings():
        # "Port 8787 is already in use": another one is chosen, and its link is shown.
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        # Built apart from its client: Client(security=...) keeps a Security object to itself
        # (only security=True reaches the LocalCluster it starts).
        cluster = LocalCluster(**options)
    try:
        return _EmbeddedClient(cluster)  # the client takes the cluster's security
    except BaseException:
        cluster.close()
        raise


class _EmbeddedClient(Client):
    """A client that closes its embedded cluster with itself, as a ``Client()`` that started
    the cluster would."""

    def close(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().close(*args, **kwargs)
        finally:
            if not sys.is_finalizing():  # at exit the cluster's own finalizer closes it
                self.cluster.close()


def _for_every_role(security: Any) -> Any:
    """``security`` for a whole cluster, or None for no TLS (as ``Security()`` without
    certificates means to Dask). ``True`` makes temporary certificates; a Security with only a
    client's certificate and key (as ``--tls-*`` gives) lends them to the scheduler and the
    workers, so that the whole embedded cluster trusts the same CA."""
    import copy

    from distributed.security import Security

    if security is None or security is False:
        return None
    if security is True:
        return Security.temporary()
    if not isinstance(security, Security):
        raise TypeError(f"expected security to be a distributed.security.Security, got {type(security).__name__}")
    if not (security.tls_ca_file and security.tls_client_cert):
        if not security.require_encryption:
            return None
        raise ValueError(
            "an embedded TLS cluster needs a CA file and a certificate: give Security(tls_ca_file=...,"
            " tls_client_cert=..., tls_client_key=...), or Security.temporary()"
        )
    whole = copy.copy(security)  # the caller's object stays as it was
    for role in ("scheduler", "worker"):
        if getattr(whole, f"tls_{role}_cert") is None:
            setattr(whole, f"tls_{role}_cert", security.tls_client_cert)
            setattr(whole, f"tls_{role}_key", security.tls_client_key)
    whole.require_encryption = True
    return whole


@contextlib.contextmanager
def _sigint_ignored():
    """Processes started in here ignore SIGINT for their whole life (Python keeps a SIGINT
    ignored at its start ignored); a Ctrl-C while the cluster starts is lost, a few seconds.
    (Blocking it instead does not reach them: the spawn resets the signal mask.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the workers' preload still covers it
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def dask_setup(worker: Any) -> None:
    """Worker preload of the embedded cluster: its worker processes ignore Ctrl-C."""
    in_child = multiprocessing.parent_process() is not None
    if in_child and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
