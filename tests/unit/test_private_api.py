"""dask_bo uses only the public API of trieste, gpflow and TensorFlow.

The check reads dask_bo's source (no import) and flags:

- an import of a private module or name of those packages (a path component or a name with a
  leading underscore, or TensorFlow's implementation tree ``tensorflow.python``);
- an attribute with a leading underscore on a name imported from them (``tf._x``);
- ``obj._name`` on any object but ``self``/``cls`` themselves (``self._a._name`` counts) where ``_name`` is a private attribute
  name that trieste's or gpflow's own source uses (``rule._num_query_points``); and
  ``self._name`` likewise in a class that subclasses one of theirs.

Type-level knowledge of which object is whose is not available from the source alone; a
private name of theirs on a foreign object is presumed to be theirs (dask_bo's own objects
touch each other's private attributes nowhere, so this costs nothing today).
The one allowed exception: :func:`dask_bo.model.trace_without_autograph`, which uses
TensorFlow's AutoGraph rules (tests/unit/test_model.py checks it still works).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from pathlib import Path

import pytest

LIBRARIES = ("trieste", "gpflow", "tensorflow", "tensorflow_probability", "check_shapes", "tf_keras")
ALLOWED = {("dask_bo/model/__init__.py", "trace_without_autograph")}
ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def library_private_names() -> frozenset[str]:
    """Private attribute names (``obj._name``, ``def _name``) in trieste's and gpflow's source."""
    names: set[str] = set()
    for package in ("trieste", "gpflow"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for path in Path(next(iter(spec.submodule_search_locations))).rglob("*.py"):
            text = path.read_text(encoding="utf-8", errors="replace")
            names.update(re.findall(r"\.(_[a-z][A-Za-z0-9_]*)", text))
            names.update(re.findall(r"def (_[a-z][A-Za-z0-9_]*)", text))
    return frozenset(names)


def _is_library(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in LIBRARIES


def _private_module(module: str) -> bool:
    parts = module.split(".")
    return module.startswith("tensorflow.python") or any(
        p.startswith("_") and not p.startswith("__") for p in parts
    )


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def violations(source: str, filename: str) -> list[str]:
    """Lines of ``source`` that touch a private part of trieste, gpflow or TensorFlow."""
    tree = ast.parse(source, filename)
    private_names = library_private_names()
    imported: set[str] = set()  # local names bound to those libraries' modules or objects
    found: list[str] = []

    def report(node: ast.AST, what: str, scope: str) -> None:
        if (filename, scope) not in ALLOWED:
            found.append(f"{filename}:{node.lineno}: {what}")

    def visit(node: ast.AST, scope: str, library_class: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = node.name
        if isinstance(node, ast.ClassDef):
            library_class = any(
                isinstance(b, (ast.Name, ast.Attribute)) and _root(b) in imported for b in node.bases
            )
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_library(alias.name):
                    imported.add((alias.asname or alias.name).split(".")[0])
                    if _private_module(alias.name):
                        report(node, f"imports private module {alias.name}", scope)
        elif isinstance(node, ast.ImportFrom) and _is_library(node.module):
            if _private_module(node.module):
                report(node, f"imports from private module {node.module}", scope)
            for alias in node.names:
                imported.add(alias.asname or alias.name)
                if _private(alias.name):
                    report(node, f"imports private name {alias.name} from {node.module}", scope)
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            root = _root(node.value)
            own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if root in imported:
                report(node, f"private attribute {node.attr} of {root}", scope)
            elif node.attr in private_names and (not own or library_class):
                report(node, f"private attribute {node.attr} (trieste/gpflow use it) on {root}", scope)
        for child in ast.iter_child_nodes(node):
            visit(child, scope, library_class)

    visit(tree, "<module>", False)
    return found


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def test_dask_bo_uses_only_public_api_of_trieste_gpflow_and_tensorflow():
    found = []
    for path in sorted((ROOT / "dask_bo").rglob("*.py")):
        found += violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "private API of trieste/gpflow/TensorFlow:\n" + "\n".join(found)


@pytest.mark.parametrize("snippet", [
    "self._ask_tell._acquisition_state = state",
    "rule._num_query_points = n",
    "n = model._num_kernel_samples",
    "import tensorflow as tf\ntf._api.v2",
    "from tensorflow.python.autograph.core import config",
    "from trieste.models.gpflow.builders import _get_kernel",
    "from trieste.models.gpflow import GaussianProcessRegression as G\n"
    "class P(G):\n    def f(self):\n        return self._model",
])
def test_the_check_flags_private_access(snippet):
    assert violations(snippet, "snippet.py"), snippet


@pytest.mark.parametrize("snippet", [
    "self._pending = []",  # dask_bo's own state
    "class A:\n    def f(self):\n        return self._model",  # not a subclass of theirs
    "from trieste.acquisition.rule import AsynchronousRuleState\nx.__class__",
])
def test_the_check_passes_public_access(snippet):
    assert not violations(snippet, "snippet.py"), snippet
