"""The default run with each rule ask covered for twice its expected time (policy.refill's
cover of an ask uses 2 x n x ask_s): are the waits between evaluations covers sized too small?"""
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

if __name__ == "__main__":
    import dask_bo.strategies.policy as policy

    def refill(state, wanted):
        thompson = 0
        if wanted > 1 and state.ready == 0:
            batch = min(wanted, policy.ASK_BATCH)
            thompson = wanted - batch if policy.quick_ask(state, batch) else wanted - 1
        n = min(wanted - thompson, policy.ASK_BATCH)
        if n <= 0:
            return policy.Refill()
        if math.isfinite(state.steps.ask_s):
            short = policy.demand(state, 2 * n * state.steps.ask_s) - state.ready - thompson
            thompson += max(0, short)
        return policy.Refill(thompson=thompson, ask=n)

    policy.refill = refill
    import run
    sys.exit(run.main(sys.argv[1:]))
