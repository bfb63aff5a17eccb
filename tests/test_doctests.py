"""The doctests of theory/, numerics/ and proofs_check/ run as part of the test suite."""

import doctest
import importlib
import pkgutil

import pytest

import numerics
import proofs_check
import theory


def _modules(package):
    yield package.__name__
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not info.name.endswith("__main__"):
            yield info.name


MODULES = [name for pkg in (theory, numerics, proofs_check) for name in _modules(pkg)]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    """Every example in the module's docstrings gives the output it shows."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest(s) failed in {name}"


def test_theory_has_doctests():
    """The theory modules state closed forms as doctests (so the test above is not vacuous)."""
    attempted = sum(doctest.testmod(importlib.import_module(n)).attempted for n in _modules(theory))
    assert attempted >= 5
