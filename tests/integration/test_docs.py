"""The API reference's generator (docs/_ext/public_api.py): it finds undocumented parameters
and documents every public name. The build itself runs in CI (.ci/run, warnings as errors)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docs" / "_ext"))
public_api = pytest.importorskip("public_api")


def documented(a, b=1, *rest, c=None, **options):
    """Something.

    :param a: First.
    :param int b: Second, with a type.
    :param \\*rest: The rest.
    :param c: Third.
    :param \\*\\*options: Anything else.
    """


def half_documented(a, b, *, c=None):
    """Something.

    :param a: First.
    """


class Documented:
    """A class.

    :param x: [N, D] points.
    """

    def __init__(self, x):
        self.x = x

    def method(self, n: int) -> None:
        """Undocumented parameter ``n``."""

    def _private(self, anything) -> None:
        pass


def test_documented_parameters_pass():
    assert public_api.check_params("documented", documented) == []


def test_missing_parameters_are_named():
    found = public_api.check_params("half_documented", half_documented)
    assert found == ["dask_bo.half_documented: b", "dask_bo.half_documented: c"]
    assert public_api.params_report(found) == ["dask_bo.half_documented: no :param: for b, c"]


def test_public_methods_are_checked_private_ones_not():
    assert public_api.check_params("Documented", Documented) == ["dask_bo.Documented.method: n"]


def test_exceptions_need_no_params():
    assert public_api.check_params("Oops", type("Oops", (ValueError,), {})) == []


def test_every_public_name_gets_a_directive():
    import dask_bo

    groups = public_api.grouped(list(dask_bo.__all__))
    listed = [name for _, names in groups for name in names]
    assert sorted(listed) == sorted(dask_bo.__all__)
    for name in dask_bo.__all__:
        directive = public_api.directive_for(name, getattr(dask_bo, name))[0]
        assert directive.endswith(f":: dask_bo.{name}"), directive
