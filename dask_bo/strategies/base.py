"""What a rule is: a class that turns the model, its data and the pending points into proposals.

Rules work on the encoded unit cube [0, 1]^D. Their modules import trieste only inside their
methods, so the registry (names, descriptions) loads without TensorFlow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .policy import ASK_BATCH

if TYPE_CHECKING:
    from ..model.gp import GPModel


class Rule(ABC):
    """An acquisition rule. Subclasses set the class attributes and :meth:`propose`.

    :param dim: Dimension D of the unit cube.
    :param rng: The strategy's seeded generator, for any randomness of the rule's own.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    """One line, for ``dask-bo run --help`` and the README."""
    supports_mixed: ClassVar[bool] = True
    """Works on a space with integers and categoricals (its points are snapped to it)."""
    supports_sparse: ClassVar[bool] = True
    """Runs on the sparse model (``model="sparse"``, or ``"auto"`` past the threshold)."""
    needs_model: ClassVar[bool] = True
    """Proposes from the model (``False``: no model is built for it)."""
    traced_sizes: ClassVar[tuple[int, ...]] = ()
    """The sizes of asynchronous asks whose first call traces the acquisition function: the
    model's thread asks each once, covered, before serving the rule's points."""

    def __init__(self, dim: int, rng: np.random.Generator):
        self.dim = dim
        self.rng = rng

    @abstractmethod
    def propose(self, n: int, pending: np.ndarray, model: GPModel | None, asynchronous: bool) -> np.ndarray:
        """``n`` points [n, D] in the unit cube (the strategy snaps them and removes duplicates).

        :param pending: Points [P, D] being evaluated (asynchronous mode) or [0, D].
        :param model: The fitted model (``None`` when :attr:`needs_model` is false).
        :param asynchronous: ``True``: points for free workers while ``pending`` are evaluated;
            ``False``: one synchronous batch of ``n``.
        """

    def reset(self) -> None:
        """Forget anything built for the previous model (the strategy has built a new one)."""


class TriesteRule(Rule):
    """A rule driven through trieste's public acquisition rules, one object per batch size.

    Asynchronous mode: :class:`~trieste.acquisition.rule.AsynchronousGreedy`, whose ``acquire``
    returns a function of an :class:`~trieste.acquisition.rule.AsynchronousRuleState` that the
    strategy builds from the pending points it is given; synchronous mode:
    :class:`~trieste.acquisition.rule.EfficientGlobalOptimization` with a greedy batch.
    Subclasses give the (greedy) acquisition builder.
    """

    def __init__(self, dim: int, rng: np.random.Generator):
        super().__init__(dim, rng)
        self._rules: dict[tuple[bool, int], Any] = {}

    @abstractmethod
    def builder(self, model: GPModel) -> Any:
        """A new greedy acquisition function builder (trieste's), one per rule object."""

    def reset(self) -> None:
        self._rules.clear()

    def propose(self, n: int, pending: np.ndarray, model: GPModel | None, asynchronous: bool) -> np.ndarray:
        from .acquire import acquire_greedy

        assert model is not None
        if not asynchronous:  # one batch (its size is the worker count: few sizes per run)
            return acquire_greedy(self._rule(model, n, False), model, None)
        # Each rule object traces its acquisition function anew on its first ask (about 3 s
        # on hartmann-6), so ``n`` points are asked in chunks of two sizes only, each pending
        # for the next: a chunk of ``batch_chunk`` shares one update of the acquisition's
        # landscape (Local Penalization's Lipschitz constant), single points fill the rest.
        points = np.zeros((0, self.dim))
        while (left := n - len(points)) > 0:
            size = self.batch_chunk if left >= self.batch_chunk else 1
            chunk = acquire_greedy(self._rule(model, size, True), model, np.concatenate([pending, points]))
            points = np.concatenate([points, chunk])
        return points

    batch_chunk = ASK_BATCH
    """The larger of the two chunk sizes of an asynchronous ask."""
    traced_sizes = (1, ASK_BATCH)

    def _rule(self, model: GPModel, n: int, asynchronous: bool):
        key = (asynchronous, n)
        if key not in self._rules:
            from .acquire import greedy_rule

            self._rules[key] = greedy_rule(self.builder(model), n, asynchronous)
        return self._rules[key]


class SingleRule(Rule):
    """A rule over one non-batch acquisition function (expected improvement, a confidence
    bound), maximized afresh for every ask; pending points are not taken into account.

    A batch of ``n`` (or ``n`` points asked at once) is the ``n`` best distinct local maxima
    that one maximization of the acquisition function finds: no fantasized values, no
    penalization (:meth:`dask_bo.model.maximizer.AcquisitionMaximizer.maximize`).
    """

    traced_sizes = (1,)  # the maximizer compiles one function, whatever the number of points

    def __init__(self, dim: int, rng: np.random.Generator):
        super().__init__(dim, rng)
        self._builder: Any = None
        self._function: Any = None

    @abstractmethod
    def builder(self) -> Any:
        """Trieste's single-model acquisition builder."""

    def reset(self) -> None:
        self._function = None

    def propose(self, n: int, pending: np.ndarray, model: GPModel | None, asynchronous: bool) -> np.ndarray:
        from .acquire import maximizer

        assert model is not None
        if self._function is None:
            self._builder = self.builder()
            self._function = self._builder.prepare_acquisition_function(model.model, dataset=model.dataset)
        else:
            self._function = self._builder.update_acquisition_function(
                self._function, model.model, dataset=model.dataset
            )
        return maximizer().maximize(model.search_space, self._function, n)
