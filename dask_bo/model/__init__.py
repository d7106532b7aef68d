"""The Gaussian-process model, its acquisition maximizer, and TensorFlow's set-up.

Importing this package imports neither TensorFlow nor trieste: :func:`configure` does, once,
when a model is first needed (:class:`~dask_bo.strategies.Strategy` calls it), so that the
command line's ``--help``, the workers and the rule registry stay free of TensorFlow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator

logger = logging.getLogger("dask_bo")

AUTOGRAPH_PACKAGES = ("gpflow", "dask_bo")
"""Packages whose code tf.function traces as written, without AutoGraph's rewriting. Not
trieste (nor check_shapes, whose wrappers sit between trieste's calls): some of its Python
conditions test tensors (``len(tf.shape(K))`` in the exact model's covariance between points,
which Kriging believer and GIBBON trace) and need AutoGraph's rewriting."""

_lock = threading.Lock()
_configured: dict[str, bool] = {}


def configure() -> dict[str, bool]:
    """Import and set up TensorFlow for the model, once per process (later calls do nothing).

    It quietens TensorFlow's C++ and Python logs, silences the CUDA-plugin noise its native
    code writes on file descriptor 2 while it loads, and lets tf.function trace
    :data:`AUTOGRAPH_PACKAGES` without AutoGraph (see :func:`trace_without_autograph`).

    :return: ``{"autograph_rule": bool}``: whether the AutoGraph rule could be applied.
    """
    with _lock:
        if _configured:
            return dict(_configured)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _native_stderr_silenced():
            import tensorflow as tf
            import gpflow  # noqa: F401  (its import also loads native code)
        tf.get_logger().setLevel("ERROR")
        _configured["autograph_rule"] = trace_without_autograph(*AUTOGRAPH_PACKAGES)
        return dict(_configured)


def trace_without_autograph(*packages: str) -> bool:
    """Let tf.function trace these packages' code as it is written.

    AutoGraph rewrites the source of every Python function a trace reaches before running it;
    for gpflow's code that was half of a run's first model fit (benchmarks/README.md). Its
    control flow depends on Python values only, so it needs no rewriting: a condition on a
    tensor would raise in graph mode rather than change a result.

    TensorFlow offers no public switch for this: the rule list lives in a private module. This
    is the one place dask_bo touches a private part of TensorFlow; tests/unit/test_model.py
    fails when an upgrade removes or changes it, and here it falls back to TensorFlow's
    default (everything converted: slower first traces, same results).

    :return: Whether the rule was applied.
    """
    try:
        from tensorflow.python.autograph.core import config

        skip = tuple(config.DoNotConvert(package) for package in packages)
        config.CONVERSION_RULES = skip + tuple(config.CONVERSION_RULES)
    except (ImportError, AttributeError, TypeError) as error:
        logger.debug("AutoGraph stays on for %s: %r", packages, error)
        return False
    return True


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """TensorFlow's native code announces missing CUDA plugins on file descriptor 2 while it
    loads, whatever TF_CPP_MIN_LOG_LEVEL says; on a CPU machine that is noise."""
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_blas = None


def blas_single_thread() -> contextlib.AbstractContextManager:
    """A context in which BLAS runs on one thread.

    Trieste's acquisition optimizer and the model's small linear algebra run many tiny
    problems; OpenBLAS threads spinning on their tiny vectors made an ask 8x slower on 2 cores
    (benchmarks/README.md).
    """
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")
