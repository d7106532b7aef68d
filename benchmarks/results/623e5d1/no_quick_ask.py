"""reference, EI, with the quick-ask path off (WAIT_SHARE = 0): is it why EI lost regret?"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

if __name__ == "__main__":
    import dask_bo.strategies.policy as policy
    policy.WAIT_SHARE = 0.0
    import run
    sys.exit(run.main(sys.argv[1:]))
