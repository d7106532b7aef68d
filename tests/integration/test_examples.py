"""Every example of the README and the docs runs as written: as a script and in a notebook.

The code blocks are read from the pages when the tests are collected, so a new example is
tested without editing this file. Markdown fences (```` ```python ````, MyST's
```` ```{code-block} python ````) and reStructuredText ``.. code-block:: python`` count:

- a ``python`` block runs as ``python example.py`` in a fresh folder, and all of them run
  once more as the cells of one notebook in a fresh kernel (nbclient, as the notebooks' own
  test does);
- a ``bash`` block runs only when the line before it is ``<!-- example: run -->``;
- a block after ``<!-- example: skip (why) -->`` (it needs SLURM, Kubernetes, several
  machines) is only compiled (``python``) or syntax-checked (``bash -n``).

The examples read their budget from ``DASK_BO_EXAMPLE_EVALUATIONS``, set small here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUDGET_VARIABLE = "DASK_BO_EXAMPLE_EVALUATIONS"
BUDGET = "4"
EXAMPLE_TIMEOUT_S = 300
PYTHON = ("python", "py", "python3")
SHELL = ("bash", "sh", "shell")
_MARKER = re.compile(r"^\s*(?:<!--|%|\.\.)\s*example:\s*(run|skip)\b")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(.*)$")
_RST_BLOCK = re.compile(r"^(\s*)\.\. code-block::\s*(\w+)\s*$")


@dataclass(frozen=True)
class Example:
    source: Path
    line: int  # 1-based line of the opening fence
    language: str  # "python", "bash", or whatever the fence says
    code: str
    marker: str | None  # "run", "skip" or None

    @property
    def name(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        if self.marker == "skip":
            return False
        return self.language == "python" or (self.language == "bash" and self.marker == "run")


def _language(info: str) -> str:
    """The language of a fence's info string: ``python``, ``{code-block} python``, ..."""
    words = info.replace("{", " {").split()
    if words and words[0] in ("{code-block}", "{code}", "{code-cell}"):
        words = words[1:]
    word = words[0].lower() if words else ""
    if word in PYTHON:
        return "python"
    if word in SHELL:
        return "bash"
    return word


def _marker(lines: list[str], index: int) -> str | None:
    """The ``example:`` marker on the last non-blank line before ``lines[index]``."""
    for previous in reversed(lines[:index]):
        if previous.strip():
            match = _MARKER.match(previous)
            return match.group(1) if match else None
    return None


def _strip_options(body: list[str]) -> list[str]:
    """Drop a MyST directive's leading ``:option:`` lines (or its ``---`` block)."""
    if body and body[0].strip() == "---":
        end = next((i for i, line in enumerate(body[1:], 1) if line.strip() == "---"), 0)
        return body[end + 1:]
    while body and re.match(r"^\s*:\w[\w-]*:", body[0]):
        body = body[1:]
    return body


def markdown_examples(path: Path) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    examples, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match.groups()
        end = i + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence[0] * len(fence))
            and not lines[end].strip().lstrip(fence[0])
        ):
            end += 1
        body = [line[len(indent):] if line.startswith(indent) else line for line in lines[i + 1:end]]
        language = _language(info)
        if info.startswith("{") and language in ("python", "bash"):
            body = _strip_options(body)
        examples.append(Example(path, i + 1, language, "\n".join(body) + "\n", _marker(lines, i)))
        i = end + 1
    return examples


def rst_examples(path: Path) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    examples = []
    for i, line in enumerate(lines):
        match = _RST_BLOCK.match(line)
        if not match:
            continue
        body, j = [], i + 1
        while j < len(lines) and (not lines[j].strip() or re.match(r"^\s*:\w", lines[j])):
            j += 1  # options and the blank line after the directive
        indent = None
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith(" ")):
            if lines[j].strip():
                indent = indent if indent is not None else len(lines[j]) - len(lines[j].lstrip())
                if len(lines[j]) - len(lines[j].lstrip()) < indent:
                    break
            body.append(lines[j][indent or 0:])
            j += 1
        language = _language(match.group(2))
        examples.append(Example(path, i + 1, language, "\n".join(body).strip() + "\n", _marker(lines, i)))
    return examples


def sources() -> list[Path]:
    docs = ROOT / "docs"
    pages = sorted(docs.glob("*.md")) + sorted(docs.glob("*.rst"))
    return [ROOT / "README.md", *pages]


def all_examples() -> list[Example]:
    examples = []
    for path in sources():
        read = rst_examples if path.suffix == ".rst" else markdown_examples
        examples += read(path)
    return examples


def distinct(examples: list[Example]) -> list[Example]:
    """The first of each set of identical examples (the README repeats the docs' first one)."""
    seen, kept = set(), []
    for example in examples:
        if example.code not in seen:
            seen.add(example.code)
            kept.append(example)
    return kept


EXAMPLES = all_examples()
PYTHON_RUNS = distinct([e for e in EXAMPLES if e.runs and e.language == "python"])
BASH_RUNS = distinct([e for e in EXAMPLES if e.runs and e.language == "bash"])
SKIPPED = [e for e in EXAMPLES if e.marker == "skip" and e.language in ("python", "bash")]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env[BUDGET_VARIABLE] = BUDGET
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("DASK_BO_SCHEDULER", None)
    return env


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def test_the_pages_have_examples():
    names = {e.source.name for e in EXAMPLES if e.language == "python" and e.runs}
    assert {"README.md", "getting-started.md"} <= names, [e.name for e in EXAMPLES]
    assert BASH_RUNS, "expected at least one bash example marked <!-- example: run -->"


def test_markers_are_spelled_right():
    """A misspelt marker would silently run (or skip) a block: every 'example:' comment is
    one of the two markers and stands right before a fence."""
    for path in sources():
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if "example:" in line and line.lstrip().startswith(("<!--", "%")):
                assert _MARKER.match(line), f"{path.name}:{i + 1}: unknown marker {line!r}"
                following = next((x for x in lines[i + 1:] if x.strip()), "")
                assert _FENCE.match(following), f"{path.name}:{i + 1}: marker not before a fence"


@pytest.mark.parametrize("example", PYTHON_RUNS, ids=lambda e: e.name)
def test_runnable_examples_guard_their_cluster_and_budget(example):
    """A script that starts a LocalCluster without ``if __name__ == "__main__":`` dies as its
    spawned workers import it again; a budget from the variable keeps the suite quick."""
    starts_cluster = re.search(r"\b(connect|LocalCluster|optimize|compare|resume)\(", example.code)
    if starts_cluster:
        assert 'if __name__ == "__main__":' in example.code, f"{example.name}: no __main__ guard"
    if re.search(r"\b(optimize|compare)\(", example.code):
        assert BUDGET_VARIABLE in example.code, f"{example.name}: budget not from {BUDGET_VARIABLE}"


@pytest.mark.timeout(EXAMPLE_TIMEOUT_S + 60)
@pytest.mark.parametrize("example", PYTHON_RUNS, ids=lambda e: e.name)
def test_python_example_as_script(example, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(example.code)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=_environment(), capture_output=True,
        text=True, timeout=EXAMPLE_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"{example.name} exited {done.returncode}\n--- stdout\n{_tail(done.stdout)}"
        f"\n--- stderr\n{_tail(done.stderr)}"
    )
    assert "Traceback" not in done.stderr, f"{example.name}:\n{_tail(done.stderr)}"


@pytest.mark.timeout(EXAMPLE_TIMEOUT_S + 60)
@pytest.mark.parametrize("example", BASH_RUNS, ids=lambda e: e.name)
def test_bash_example(example, tmp_path):
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", example.code], cwd=tmp_path, env=_environment(),
        capture_output=True, text=True, timeout=EXAMPLE_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"{example.name} exited {done.returncode}\n--- stdout\n{_tail(done.stdout)}"
        f"\n--- stderr\n{_tail(done.stderr)}"
    )


@pytest.mark.parametrize("example", SKIPPED, ids=lambda e: e.name)
def test_skipped_examples_are_valid_code(example):
    if example.language == "python":
        compile(example.code, example.name, "exec")
    else:
        done = subprocess.run(["bash", "-n", "-c", example.code], capture_output=True, text=True)
        assert done.returncode == 0, f"{example.name}: {done.stderr}"


@pytest.mark.timeout(EXAMPLE_TIMEOUT_S * 3)
def test_python_examples_in_a_notebook(tmp_path, monkeypatch):
    """The same examples, one cell each, in one fresh kernel: what pasting them into a
    notebook does."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from .test_notebooks import KERNEL, ensure_kernel

    ensure_kernel()
    for name, value in _environment().items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"# {example.name}\n{example.code}") for example in PYTHON_RUNS
    ]
    client = nbclient.NotebookClient(
        notebook, kernel_name=KERNEL, timeout=EXAMPLE_TIMEOUT_S,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"an example failed in a notebook:\n{error}")
    finally:
        nbformat.write(notebook, tmp_path / "examples.ipynb")
