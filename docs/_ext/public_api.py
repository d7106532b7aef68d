"""A Sphinx directive that documents every name of ``dask_bo.__all__``, read at build time.

The public API grows as its parts land, so the reference page lists no names itself:
``.. public-api::`` emits one autodoc directive per name of ``dask_bo.__all__`` (grouped by the
``GROUPS`` below; a name no group claims goes to "Other names"), and ``.. public-modules::``
documents the modules of ``public_api_modules`` that exist in this checkout. With
``public_api_require_params`` it warns about every parameter of a public function, class or
method that has no ``:param:`` field and is not on the ``public_api_undocumented`` list (a
ratchet for the docstrings still to write); ``-W`` turns those warnings into errors.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

PACKAGE = "dask_bo"
logger = logging.getLogger(__name__)

# (title, names): the order of the reference page; a name not in __all__ is skipped.
GROUPS: list[tuple[str, list[str]]] = [
    ("Running an optimization", ["optimize", "compare", "resume", "start", "RunHandle", "StopSignal"]),
    ("Clusters", ["connect", "dashboard_page_link"]),
    ("Problems and search spaces",
     ["Problem", "get_problem", "PROBLEM_NAMES", "Space", "Float", "Int", "Categorical"]),
    ("Rules and models", ["RULES", "DEFAULT_RULE", "Strategy", "Settings"]),
    ("Results", ["Result", "Evaluation", "load_result", "STATUSES", "PROPOSALS"]),
    ("Errors", ["RunStopped", "RunInterrupted", "SchedulerLost", "JournalError", "SpaceError"]),
]

# Modules whose functions are public without being in __all__ (first existing one of a tuple).
DEFAULT_MODULES: list[tuple[str, ...]] = [("dask_bo.plots",)]

_PARAM = re.compile(r":param\s+([^:]+):")


def optional_module(name: str) -> Any | None:
    """The module ``name`` of this checkout, or ``None`` where it does not exist (yet).

    ``find_spec`` alone is not enough: an editable install elsewhere can make a missing
    subpackage look like an empty namespace package."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return module if getattr(module, "__file__", None) else None


def documented_params(doc: str | None) -> set[str]:
    """The parameter names that ``:param [type] name:`` fields of ``doc`` document."""
    names = set()
    for field in _PARAM.findall(doc or ""):
        names.add(field.split()[-1].replace("\\", "").lstrip("*"))
    return names


def missing_params(obj: Any, extra_doc: str = "") -> list[str]:
    """The parameters of the callable ``obj`` that its docstring (plus ``extra_doc``) omits."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []  # a builtin or C function: nothing to check
    documented = documented_params((inspect.getdoc(obj) or "") + "\n" + extra_doc)
    return [
        name for name in signature.parameters
        if name not in ("self", "cls") and name not in documented
    ]


def _public_methods(cls: type) -> list[tuple[str, Any]]:
    own = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value):
            own.append((name, value))
    return own


def check_params(name: str, obj: Any) -> list[str]:
    """``"dask_bo.<name>[.<method>]: <parameter>"`` for each parameter of ``obj`` (a function,
    or a class: its constructor and public methods) that no ``:param:`` field documents."""
    entries = []
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return []  # an exception's arguments are its message
        init_doc = inspect.getdoc(obj.__init__) if "__init__" in vars(obj) else ""
        missing = [p for p in missing_params(obj, init_doc or "") if p not in ("args", "kwargs")]
        entries += [f"{PACKAGE}.{name}: {p}" for p in missing]
        for method_name, method in _public_methods(obj):
            entries += [f"{PACKAGE}.{name}.{method_name}: {p}" for p in missing_params(method)]
    elif callable(obj):
        entries += [f"{PACKAGE}.{name}: {p}" for p in missing_params(obj)]
    return entries


def params_report(entries: list[str]) -> list[str]:
    """One line per callable: ``dask_bo.optimize: no :param: for mode, seed``."""
    by_callable: dict[str, list[str]] = {}
    for entry in entries:
        qualified, parameter = entry.split(": ", 1)
        by_callable.setdefault(qualified, []).append(parameter)
    return [f"{q}: no :param: for {', '.join(ps)}" for q, ps in by_callable.items()]


def directive_for(name: str, obj: Any) -> list[str]:
    """The autodoc directive that documents ``dask_bo.<name>``."""
    target = f"{PACKAGE}.{name}"
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return [f".. autoexception:: {target}", ""]
    if inspect.isclass(obj):
        return [f".. autoclass:: {target}", "   :members:", ""]
    if callable(obj):
        return [f".. autofunction:: {target}", ""]
    # autodata would show the docstring of the value's type (dict's, tuple's): say what the
    # defining module's ``#:`` comment or attribute docstring says, and what the value holds.
    lines = [f".. py:data:: {target}", ""]
    lines += [f"   {line}" for line in attribute_doc(name)] + [""]
    values = list(obj) if isinstance(obj, (dict, tuple, list, set, frozenset)) else None
    if values is not None and all(isinstance(v, str) for v in values):
        lines += ["   " + ", ".join(f"``{v}``" for v in values), ""]
    else:
        lines += [f"   ``{obj!r}``", ""]
    return lines


def attribute_doc(name: str) -> list[str]:
    """The documentation of the module attribute that ``dask_bo.<name>`` re-exports."""
    from sphinx.pycode import ModuleAnalyzer

    package = importlib.import_module(PACKAGE)
    module = getattr(package, "_EXPORTS", {}).get(name)
    if module is None:
        return []
    try:
        docs = ModuleAnalyzer.for_module(f"{PACKAGE}.{module}").find_attr_docs()
    except Exception:  # no source to read: no description
        return []
    return [line for line in docs.get(("", name), []) if line.strip()]


def grouped(names: list[str]) -> list[tuple[str, list[str]]]:
    """``names`` in the order of ``GROUPS``, the rest (sorted) under "Other names"."""
    claimed: set[str] = set()
    groups = []
    for title, members in GROUPS:
        present = [n for n in members if n in names]
        claimed.update(present)
        if present:
            groups.append((title, present))
    rest = sorted(n for n in names if n not in claimed)
    if rest:
        groups.append(("Other names", rest))
    return groups


class PublicAPI(SphinxDirective):
    """``.. public-api::``: a section per group of ``dask_bo.__all__``, autodoc for each name."""

    def run(self) -> list[nodes.Node]:
        package = importlib.import_module(PACKAGE)
        names = list(package.__all__)
        lines: list[str] = []
        found: list[str] = []
        for title, members in grouped(names):
            lines += [title, "-" * len(title), ""]
            for name in members:
                obj = getattr(package, name)
                lines += directive_for(name, obj)
                found += check_params(name, obj)
        if self.config.public_api_require_params:
            self.report(found)
        self.depend_on_package(package)
        return self.parse(lines)

    def depend_on_package(self, package: Any) -> None:
        """Re-read this page whenever a module of the package changes: a name added to
        ``__all__`` in another module must not wait for this page's source to change."""
        from pathlib import Path

        for path in Path(package.__file__).parent.rglob("*.py"):
            self.env.note_dependency(str(path))

    def report(self, found: list[str]) -> None:
        """Warn about each undocumented parameter that is not on the known list (the list
        only shrinks: an entry that is documented now is reported, to be taken off)."""
        known = set(self.config.public_api_undocumented)
        for problem in params_report([e for e in found if e not in known]):
            logger.warning(problem, type="dask_bo", subtype="params", location=self.get_location())
        fixed = sorted(known - set(found))
        if fixed:
            logger.info("documented now, take off public_api_undocumented: %s", ", ".join(fixed))

    def parse(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="public-api"), container)
        return container.children


class PublicModules(PublicAPI):
    """``.. public-modules::``: automodule for each module of ``public_api_modules`` present."""

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        for candidates in self.config.public_api_modules:
            present = [m for m in candidates if optional_module(m) is not None]
            if not present:
                continue
            module = present[0]
            # :no-index: keeps the names that dask_bo re-exports from having two targets.
            lines += [f".. automodule:: {module}", "   :members:", "   :no-index:", ""]
        return self.parse(lines)


class RulesTable(PublicAPI):
    """``.. rules-table::``: the registered acquisition rules, from ``dask_bo.strategies.RULES``
    (each rule's own one-line ``description``), so the page never drifts from the code."""

    def run(self) -> list[nodes.Node]:
        strategies = optional_module("dask_bo.strategies")
        if strategies is None or not hasattr(strategies, "RULES"):
            return self.parse([
                "This version has one rule, ``local-penalization``: trieste's"
                " ``AsynchronousGreedy(LocalPenalization)`` in asynchronous mode and"
                " ``EfficientGlobalOptimization`` with Local Penalization in batches.", "",
            ])
        RULES = strategies.RULES
        config = optional_module(f"{PACKAGE}.config")
        default = getattr(config, "DEFAULT_RULE", None)
        lines = [".. list-table::", "   :header-rows: 1", "", "   * - rule", "     - what it does",
                 "     - mixed spaces"]
        for name, rule in RULES.items():
            label = f"``{name}`` (default)" if name == default else f"``{name}``"
            mixed = "yes" if getattr(rule, "supports_mixed", False) else "no"
            lines += [f"   * - {label}", f"     - {rule.description}", f"     - {mixed}"]
        self.depend_on_package(importlib.import_module(PACKAGE))
        return self.parse(lines + [""])


def setup(app) -> dict[str, Any]:
    app.add_config_value("public_api_require_params", True, "env")
    app.add_config_value("public_api_modules", DEFAULT_MODULES, "env")
    app.add_config_value("public_api_undocumented", [], "env")
    app.add_directive("public-api", PublicAPI)
    app.add_directive("public-modules", PublicModules)
    app.add_directive("rules-table", RulesTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
