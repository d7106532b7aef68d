"""How many evaluations the driver keeps out: a pure function of the threads present, how the
cluster has changed, and how long evaluations take.

One evaluation per worker thread keeps a fixed cluster busy; a few more wait on the
scheduler, to start the moment a thread frees up. An adaptive cluster (``cluster.adapt``,
dask-jobqueue, the Kubernetes operator) sizes itself from the scheduler's
``adaptive_target()``: the expected seconds of the tasks it holds over
``distributed.adaptive.target-duration``. One task per thread asks for fewer threads than
there are whenever an evaluation is shorter than that duration, so on a cluster that has
grown during the run the driver holds enough work for one thread more than present.
"""

from __future__ import annotations

import math
from typing import Iterable

WAITING_SHARE = 8
"""On a fixed cluster, one evaluation per this many threads (at least one) waits on the
scheduler: enough to bridge a result and the next submission, few enough to keep points
fresh."""

GROWTH_PER_THREAD = 2
"""While a cluster grows, the driver holds at most this many evaluations per thread present:
each waiting one is a point chosen before results it could have used."""


def grown(threads_over_time: Iterable[tuple[float, int]]) -> bool:
    """Whether the thread count ever rose above its first value: the cluster can grow (it
    adapts, or workers are still joining)."""
    counts = [count for _, count in threads_over_time]
    return bool(counts) and max(counts) > counts[0]


def in_flight_limit(
    threads: int, max_in_flight: int | None, waiting: bool = True, *, growing: bool = False,
    mean_duration_s: float | None = None, target_duration_s: float = 5.0,
) -> int:
    """Evaluations to keep out, capped by ``max_in_flight``.

    :param threads: Worker threads present now.
    :param waiting: ``False`` (a synchronous batch): one per thread, none waiting.
    :param growing: The cluster has grown during the run (:func:`grown`).
    :param mean_duration_s: The recent evaluations' mean duration (``None``: none yet).
    :param target_duration_s: The adaptive scaler's target duration.
    :return: One per thread and, if ``waiting``, an eighth more (at least one); on a growing
        cluster, enough that the scheduler asks for one thread more
        (``(threads + 1) * target / mean`` evaluations), up to two per thread.
    """
    wanted = threads + max(1, threads // WAITING_SHARE) if waiting else threads
    if waiting and growing and mean_duration_s and mean_duration_s > 0:
        visible = math.ceil((threads + 1) * target_duration_s / mean_duration_s)
        wanted = max(wanted, min(visible, GROWTH_PER_THREAD * threads))
    return wanted if max_in_flight is None else min(wanted, max_in_flight)
