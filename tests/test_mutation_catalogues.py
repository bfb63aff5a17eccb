"""bench/mutants.py: every mutant of the three catalogues still applies to the tree (its snippet occurs
exactly once in a file of theory/ or numerics/), so `bench/mutation.py` measures the bugs it names. A
mutant whose snippet no longer matches would otherwise only show when someone runs the catalogue."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def _load(name: str):
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # a dataclass looks its module up while it is being defined
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path[:] = saved  # mutation.py puts bench/ on the path for its own imports


@pytest.fixture(scope="module")
def mutation():
    return _load("mutation")


@pytest.fixture(scope="module")
def catalogues():
    return _load("mutants")


@pytest.mark.parametrize("name", ["MUTANTS", "SECTION_MUTANTS", "AUDIT_MUTANTS"])
def test_every_mutant_of_each_catalogue_applies(mutation, catalogues, name):
    mutants = getattr(catalogues, name)
    assert mutants and mutation.validate(mutants, ROOT) == []


def test_a_mutant_that_no_longer_applies_is_named(mutation, catalogues):
    """The check bites: a snippet missing from its file, one that occurs twice, a file outside theory/ and
    numerics/, a mutant that changes nothing and a duplicate id are each reported."""
    M = catalogues.Mutant
    real = catalogues.AUDIT_MUTANTS[0]
    bad = [M("x.gone", "shared", real.file, real.old + "#not there", real.new, "k", "d"),
           M("x.twice", "shared", real.file, "\n", "\n\n", "k", "d"),
           M("x.outside", "shared", "proofs_check/engine.py", "import", "import", "k", "d"),
           M("x.same", "shared", real.file, real.old, real.old, "k", "d"),
           real, real]
    problems = mutation.validate(bad, ROOT)
    expected_starts = ("x.gone: snippet occurs 0 times", "x.twice: snippet occurs", "x.outside:",
                       "x.same: the mutant changes nothing", f"duplicate id {real.id}")
    for expected in expected_starts:
        assert any(p.startswith(expected) for p in problems), (expected, problems)
