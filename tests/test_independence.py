"""The two sides of every cross-check stay independent: theory/ never imports numerics/ and vice versa."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "theory": {"sympy", "theory", "__future__", "functools", "dataclasses", "typing", "math", "fractions",
               "itertools", "collections", "enum", "abc", "operator", "textwrap", "re", "mpmath"},
    "numerics": {"numpy", "scipy", "numerics", "__future__", "functools", "dataclasses", "typing", "math",
                 "itertools", "collections", "enum", "abc", "operator", "time", "warnings", "concurrent", "os",
                 "threading", "heapq",  # the chunked DeltaFormer's task queue (numerics/updates/chunked.py)
                 "threadpoolctl"},  # the chunked forms pin BLAS to one thread while they run (no tie to theory/)
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_its_own_stack(package):
    """theory/ uses sympy only and numerics/ numpy/scipy only (plus the standard library)."""
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_roots(path) - ALLOWED[package]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert not offenders, f"{package}/ imports outside its allowed stack: {offenders}"


def test_sides_never_import_each_other():
    """The guard itself would catch a cross import (a negative control for the test above)."""
    assert "numerics" not in ALLOWED["theory"] and "theory" not in ALLOWED["numerics"]
    for path in (ROOT / "theory").rglob("*.py"):
        assert "numerics" not in imported_roots(path), path
    for path in (ROOT / "numerics").rglob("*.py"):
        assert "theory" not in imported_roots(path), path
