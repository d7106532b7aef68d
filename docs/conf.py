"""Sphinx configuration of the dask_bo documentation.

Build (warnings are errors): ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.

Why Sphinx: the code's docstrings are already Sphinx ``:param:`` fields (as trieste's and
GPflow's are), which autodoc renders as they are; sphinx-click documents the ``dask-bo``
command from its click definition, so the page never drifts from ``--help``; myst-parser lets
the prose pages be Markdown, like the README, and include ``benchmarks/README.md`` unchanged.
Nothing is fetched: no intersphinx, no remote theme or images, so the build works offline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout's dask_bo, not an installed copy
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # autodoc imports TensorFlow: keep it quiet

import dask_bo  # noqa: E402

project = "dask_bo"
author = "the dask_bo developers"
copyright = "the dask_bo developers, Apache-2.0"
release = version = dask_bo.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx_click",
    "myst_parser",
    "public_api",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]
templates_path: list[str] = []

# The builtin theme: no download, no extra dependency.
html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"dask_bo {release}"
html_theme_options = {"description": "Asynchronous Bayesian optimization on Dask", "fixed_sidebar": True}

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # the README-style "#section" links of the included pages resolve

autodoc_member_order = "bysource"
autodoc_typehints = "description"  # types next to each :param:, not in a long signature
autodoc_typehints_description_target = "documented"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
# Names of other libraries in annotations (Client, Cluster, ndarray) stay plain text: linking
# them would need intersphinx, that is, the network.
nitpicky = False

# Every parameter of a public function, class or method must have a :param: field (the
# public_api extension warns, and -W makes the warning an error), except those listed here:
# the docstrings still to complete. The list only shrinks; the build says which entries are
# documented now ("take off public_api_undocumented: ...").
public_api_require_params = True
public_api_undocumented: list[str] = []
autoclass_content = "both"  # a class's docstring and its __init__'s: dataclasses document fields in the first
