"""TLS: a whole command-line run against a TLS ``dask scheduler``, and the embedded cluster:
``connect(None, security=...)`` starts a LocalCluster whose scheduler and workers speak only
TLS, with the caller's certificates or temporary ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cloudpickle
import pytest
from distributed import Client
from distributed.core import Status
from distributed.security import Security

import dask_bo
from dask_bo.problems import Problem

from ..conftest import RemoteCluster
from .test_cli import dask_bo as dask_bo_cli

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def make_certificates(folder: Path) -> dict[str, str]:
    """A CA and a certificate for 127.0.0.1 signed by it, made with openssl."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=dask-bo-test-ca",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "node.key", "-out", "node.csr")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "node.pem")
    return {"ca-file": str(folder / "ca.pem"), "cert": str(folder / "node.pem"), "key": str(folder / "node.key")}


def test_whole_run_over_tls(tmp_path):
    tls = make_certificates(tmp_path)
    cluster = RemoteCluster(tmp_path, workers=2, tls=tls)
    cluster.start()
    try:
        assert cluster.address.startswith("tls://")
        out = tmp_path / "run"
        proc = dask_bo_cli("run", "--scheduler", cluster.address, "--tls-ca-file", tls["ca-file"],
                       "--tls-cert", tls["cert"], "--tls-key", tls["key"], "--delay-scale", "0.1",
                       "--evaluations", "4", "--out", str(out), "--no-progress")
        assert proc.returncode == 0, proc.stderr
        assert json.loads((out / "result.json").read_text())["evaluations"] == 4
        # Without the certificates the scheduler cannot be used.
        refused = dask_bo_cli("run", "--scheduler", cluster.address, "--evaluations", "1", timeout=60)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
    finally:
        cluster.stop()


def test_embedded_cluster_listens_on_loopback_only():
    from dask_bo.cluster import connect

    with connect(n_workers=1, dashboard_address="127.0.0.1:0") as client:
        scheduler = client.cluster.scheduler
        assert scheduler.address.startswith("tcp://127.0.0.1:")
        assert all(w.startswith("tcp://127.0.0.1:") for w in client.nthreads())
        bound = {sock.getsockname()[0] for server in scheduler.http_server._sockets.values()
                 for sock in [server]}
        assert bound == {"127.0.0.1"}, bound


def squares(x):
    return float(sum((v - 0.5) ** 2 for v in x))


def refused(address: str, security) -> bool:
    try:
        with Client(address, security=security, timeout=3):
            return False
    except (OSError, TimeoutError):
        return True


def test_embedded_cluster_with_temporary_certificates_speaks_only_tls():
    with dask_bo.connect(None, n_workers=1, security=Security.temporary(), dashboard_address=None) as client:
        cluster = client.cluster
        address = client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        assert list(client.nthreads()) and all(w.startswith("tls://127.0.0.1:") for w in client.nthreads())
        assert client.submit(squares, [0.5, 1.5], pure=False).result() == 1.0
        # Neither plain TCP nor another CA's certificate gets in.
        assert refused(address.replace("tls://", "tcp://"), None)
        assert refused(address, Security.temporary())
    assert cluster.status == Status.closed  # closing the client closed its cluster


def test_embedded_tls_cluster_from_client_certificates_runs_an_optimization(tmp_path):
    tls = make_certificates(tmp_path)
    # What --tls-ca-file/--tls-cert/--tls-key build: a client's certificate only.
    security = Security(tls_ca_file=tls["ca-file"], tls_client_cert=tls["cert"], tls_client_key=tls["key"],
                        require_encryption=True)
    with dask_bo.connect(None, n_workers=1, security=security, dashboard_address=None) as client:
        assert client.scheduler.address.startswith("tls://")
        result = dask_bo.optimize(Problem(squares, [0, 0], [1, 1], name="squares", batch=False),
                                  client=client, rule="random", evaluations=2, initial=2, progress=False)
        assert [e.status for e in result.history] == ["ok"] * 4
    assert security.tls_scheduler_cert is None  # the caller's object is left as it was


def test_embedded_cluster_security_without_certificates():
    # Security() is Dask's "no TLS": a plain cluster; demanding encryption without certificates
    # is an error that says what to give, before anything starts.
    with pytest.raises(ValueError, match="CA file and a certificate"):
        dask_bo.connect(None, n_workers=1, security=Security(require_encryption=True))
    with pytest.raises(TypeError, match="Security"):
        dask_bo.connect(None, n_workers=1, security={"tls_ca_file": "ca.pem"})
    with dask_bo.connect(None, n_workers=1, security=Security(require_encryption=False),
                         dashboard_address=None) as client:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
