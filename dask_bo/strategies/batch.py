"""Synchronous batches as a proposer of the one loop: a batch as large as the free worker
threads, offered only when the whole previous batch is back; then the model is told it and
refitted, while the workers wait (the point of the comparison)."""

from __future__ import annotations

import numpy as np

from ..loop import Proposal
from ..records import Evaluation, observations


class BatchProposer:
    """:param strategy: A :class:`~dask_bo.strategies.Strategy` (``asynchronous=False``).
    :param space: Encodes points for the model and decodes its proposals.
    :param maximize: Negate values for the model, which minimizes.
    """

    def __init__(self, strategy, space, maximize: bool = False):
        self.strategy = strategy
        self.space = space
        self.sign = -1.0 if maximize else 1.0
        self._outstanding = 0
        self._batch: list[Evaluation] = []

    def suggest(self, n: int) -> list[Proposal]:
        if self._outstanding:
            return []
        u = self.strategy.ask(n, np.zeros((0, self.space.encoded_dim)))
        self._outstanding = len(u)
        return [Proposal([float(v) for v in x], "batch") for x in self.space.decode(u)]

    def tell(self, proposal: Proposal, record: Evaluation) -> None:
        self._batch.append(record)
        self._outstanding = max(0, self._outstanding - 1)
        if self._outstanding:
            return
        batch, self._batch = self._batch, []
        if any(r.ok for r in batch):
            x, y = observations(batch)
            self.strategy.tell(self.space.encode(x), self.sign * y)
            if self.strategy.refit_due():
                self.strategy.refit()

    def stop(self):
        return self.strategy
