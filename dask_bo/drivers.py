"""Former home of the drivers; :mod:`dask_bo.api` holds them now."""

from .api import RunStopped, optimize, resume  # noqa: F401
from .comparison import compare, save_comparison  # noqa: F401
