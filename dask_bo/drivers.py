"""Former home of the drivers; :mod:`dask_bo.api` holds them now."""

from .api import RunStopped, compare, optimize, resume, save_comparison  # noqa: F401
