"""The notebooks run from top to bottom: executed with nbclient in a fresh kernel, fast settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "python3"
CELL_TIMEOUT_S = 300


def ensure_kernel() -> str:
    """The ``python3`` kernel, its spec installed for this user if Jupyter lacks one."""
    from jupyter_client.kernelspec import find_kernel_specs

    if KERNEL not in find_kernel_specs():
        from ipykernel.kernelspec import install

        install(user=True, kernel_name=KERNEL)
    assert KERNEL in find_kernel_specs(), f"no {KERNEL!r} kernel, got {find_kernel_specs()}"
    return KERNEL


@pytest.fixture(scope="module")
def kernel_name() -> str:
    return ensure_kernel()


def execute(name: str, cwd: Path, kernel_name: str, monkeypatch) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>`` in ``cwd`` with a small workload; fail on the first error."""
    monkeypatch.setenv("DASK_BO_NOTEBOOK_DELAY", "0.2")
    monkeypatch.setenv("DASK_BO_NOTEBOOK_EVALUATIONS", "6")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.delenv("DASK_BO_SCHEDULER", raising=False)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, kernel_name=kernel_name, timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{name} failed:\n{error}")
    finally:
        nbformat.write(notebook, cwd / name)  # the executed copy, outputs included, to inspect
    return notebook


def errors(notebook) -> list[str]:
    return [
        f"{output.get('ename')}: {output.get('evalue')}"
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs if output.output_type == "error"
    ]


def tagged_text(notebook, tag: str) -> str:
    """The plain-text output of the code cell tagged ``tag``."""
    cells = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, got {len(cells)}"
    parts = []
    for output in cells[0].outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("display_data", "execute_result"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


# What TensorFlow's native code prints on a machine without a GPU, and a progress widget that
# a saved notebook would show frozen: neither belongs in a notebook's outputs.
NOISE = ("absl::InitializeLog", "Unable to register cu", "cuda_drivers", "cpu_feature_guard",
         "rebuild TensorFlow")
# A model step that failed (the run went on with fallback points): not what a notebook shows.
MODEL_FAILED = re.compile(r"the model's \w+ failed")
WIDGET = "application/vnd.jupyter.widget-view+json"


def noise(notebook) -> list[str]:
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            found += [f"{marker!r} in {text[:200]!r}" for marker in NOISE if marker in text]
            found += [f"{text[:300]!r}" for _ in MODEL_FAILED.findall(text)[:1]]
            if WIDGET in output.get("data", {}):
                found.append(f"a widget output in cell {cell.source[:60]!r}")
    return found


def images(notebook) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs
    )


@pytest.mark.timeout(1200)  # a whole notebook; the cells have their own limit
def test_async_vs_sync(tmp_path, kernel_name, monkeypatch):
    notebook = execute("async_vs_sync.ipynb", tmp_path, kernel_name, monkeypatch)

    assert errors(notebook) == []
    assert noise(notebook) == []
    metrics = tagged_text(notebook, "metrics")
    assert "async" in metrics and "sync" in metrics, metrics
    assert "speedup" in metrics, metrics
    assert images(notebook) >= 3, "expected the comparison and two timelines"

    out = tmp_path / "async_vs_sync"
    for path in ("comparison.png", "comparison.json", "sync_timeline.png", "async_timeline.png"):
        assert (out / path).is_file(), f"missing {path}"
    for mode in ("sync", "async"):
        for path in ("history.csv", "result.json", "journal.jsonl", "timeline.png"):
            assert (out / mode / path).is_file(), f"missing {mode}/{path}"
        result = json.loads((out / mode / "result.json").read_text())
        assert result["mode"] == mode
        assert result["evaluations"] == 6
        assert result["failed"] == 0
        assert result["best_regret"] is not None
    comparison = json.loads((out / "comparison.json").read_text())
    assert {"sync", "async", "speedup"} <= set(comparison)


@pytest.mark.timeout(1200)
def test_your_own_objective(tmp_path, kernel_name, monkeypatch):
    notebook = execute("your_own_objective.ipynb", tmp_path, kernel_name, monkeypatch)

    assert errors(notebook) == []
    assert noise(notebook) == []
    metrics = tagged_text(notebook, "metrics")
    assert "async" in metrics and "ripple-bowl-3d" in metrics, metrics
    assert images(notebook) >= 3, "expected the regret, timeline and points plots"

    out = tmp_path / "your_own_objective"
    for path in ("history.csv", "result.json", "journal.jsonl", "regret.png", "timeline.png",
                 "points.png"):
        assert (out / path).is_file(), f"missing {path}"
    result = json.loads((out / "result.json").read_text())
    assert result["evaluations"] == 6
    assert result["failed"] == 0
    assert len(result["best_x"]) == 3
    assert result["best_regret"] >= 0

    # The last cell stopped the scheduler and the workers the notebook started, cleanly.
    last = notebook.cells[-1]
    text = "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream")
    assert "exit codes: [0, 0, 0]" in text, text


@pytest.mark.timeout(1200)
def test_mixed_parameters(tmp_path, kernel_name, monkeypatch):
    notebook = execute("mixed_parameters.ipynb", tmp_path, kernel_name, monkeypatch)

    assert errors(notebook) == []
    assert noise(notebook) == []
    assert images(notebook) >= 3, "expected the regret, timeline and points plots"
    by_kernel = tagged_text(notebook, "by-kernel")
    for choice in ("rbf", "poly", "sigmoid"):
        assert choice in by_kernel, by_kernel

    out = tmp_path / "mixed_parameters"
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["id", "C", "components", "kernel"], header
    result = json.loads((out / "result.json").read_text())
    assert result["direction"] == "maximize"
    assert result["evaluations"] == 6 and result["failed"] == 0
    assert 0.5 < result["best_y"] <= 1.0, "a cross-validated accuracy"


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_committed_notebooks_are_executed(name):
    """Readers browsing the repository see the outputs: every code cell of the committed
    notebook ran, in order, without errors, noise or frozen widgets, and its plots are there."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.get("execution_count") for cell in code]
    assert None not in counts, f"{name}: cells not executed: {counts}"
    assert counts == sorted(counts), f"{name}: cells executed out of order: {counts}"
    assert errors(notebook) == []
    assert noise(notebook) == []
    assert images(notebook) >= 1, f"{name}: no plots in the saved outputs"
