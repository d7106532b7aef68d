"""Execute notebooks in place, so that the committed copies carry their outputs.

    python notebooks/execute.py                      # every notebook of this folder
    python notebooks/execute.py async_vs_sync.ipynb  # some of them

Each runs top to bottom in a fresh ``python3`` kernel, in a scratch folder (its result
folders stay out of the repository), with the notebook's own default parameters (unset
``DASK_BO_NOTEBOOK_*`` for the full workload); the executed notebook replaces the committed
one only if every cell ran without error. Run it on a quiet machine: the outputs show wall
times and worker utilization, which other load on the machine distorts.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent


def execute(path: Path, timeout_s: int = 1800) -> None:
    notebook = nbformat.read(path, as_version=4)
    scratch = tempfile.mkdtemp(prefix=f"{path.stem}-")
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=timeout_s, resources={"metadata": {"path": scratch}}
    )
    client.execute()  # raises CellExecutionError: the committed copy stays as it was
    nbformat.write(notebook, path)
    print(f"executed {path.name} (its results are in {scratch})")


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.name for p in HERE.glob("*.ipynb"))
    for name in names:
        execute(HERE / name)
