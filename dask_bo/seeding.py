"""What ``compare`` does before its two runs: one initial design for both, and the model's
one-off tracing untimed, so that neither mode's clock includes it."""

from __future__ import annotations

import uuid
from typing import Any

from .backend import Backend
from .config import Settings
from .design import Design, fittable
from .loop import Loop
from .progress import Progress
from .records import Evaluation
from .result import Result


class _DesignOnly:
    """A proposer with nothing to propose: the loop gathers the initial design and stops."""

    def suggest(self, n: int) -> list:
        return []

    def tell(self, proposal, record) -> None:
        pass


def initial_design(client, problem, n: int, seed: int | None, eval_timeout_s: float | None) -> list[Evaluation]:
    """Evaluate ``n`` initial points of ``problem`` on ``client``; :return: their records."""
    settings = Settings(initial=n, seed=seed, eval_timeout_s=eval_timeout_s)
    backend = Backend(client, problem, uuid.uuid4().hex[:8], eval_timeout_s)
    result = Result(mode="sync", problem=problem.name, workers=1, seed=seed, history=[],
                    started_at=backend.clock(), space=problem.space)
    design = Design(problem.space, settings, [], None, backend.threads)
    loop = Loop(backend, _DesignOnly(), settings, result, write=lambda *a, **k: None,
                publish=lambda *a, **k: None, progress=Progress(0, enabled=False))
    try:
        loop.run(design.initial(n))
    finally:
        backend.close()
    return result.history


def warm_up(problem, history: list[Evaluation], options: dict[str, Any]) -> None:
    """Build and ask each mode's model once, untimed (TensorFlow's first traces)."""
    from .api import _strategy_factory

    if not fittable(history):
        return  # each run draws more points first, and says so
    for mode in ("sync", "async"):
        settings = Settings(mode=mode, rule=options.get("rule", Settings.rule), model=options.get("model", "auto"))
        design = Design(problem.space, settings, history, None, lambda: 1)
        u, y = design.data()
        strategy = _strategy_factory(problem.space, settings, lambda: 1)(u, y)
        strategy.ask(1, u[:0])
