"""The derivation cache: a warm run gives exactly the cold run's results, and a change to the code that
builds a derivation (or the claim's predictions) is never served a stale record."""

import dataclasses
import json
import os

import pytest
import sympy as sp

from proofs_check import derivation_cache as dc
from proofs_check.cli import main
from proofs_check.engine import check_point, check_symbolic
from proofs_check.ledger import Claim, Estimand, Kind, Provenance, get_claim
from theory.derivation import Derivation

LINEAR = "capacity.linear.inverse_snr_ratio"  # derivation in theory.linear_memory
EXPRESSIVE = "expressivity.householder.spectrum"  # derivation in theory.expressivity


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The default cache switched on, in a folder of this test's own."""
    monkeypatch.setenv(dc.CACHE_DIR_VAR, str(tmp_path / "cache"))
    monkeypatch.delenv(dc.NO_CACHE_VAR, raising=False)
    return dc.default_cache()


def _timeless(result):
    extra = {"task_seconds": ()} if hasattr(result, "task_seconds") else {}
    return dataclasses.replace(result, seconds=0.0, **extra)


def _records(root) -> list:
    return sorted(p for p in (root / "derivations").rglob("*.json")) if (root / "derivations").exists() else []


def test_warm_symbolic_results_equal_cold_ones(store):
    """A second check of the same claims is read from the cache (a hit each) and equals the fresh result field
    for field (only the seconds differ)."""
    claims = [get_claim(LINEAR), get_claim(EXPRESSIVE), get_claim("capacity.linear.inverse_snr_sphere")]
    cold = [check_symbolic(c, cache=store) for c in claims]
    assert (store.hits, store.misses) == (0, 3)
    warm = [check_symbolic(c, cache=store) for c in claims]
    assert (store.hits, store.misses) == (3, 3)
    assert [_timeless(r) for r in warm] == [_timeless(r) for r in cold]
    assert [_timeless(r) for r in cold] == [_timeless(check_symbolic(c, cache=None)) for c in claims]


def _claim_with_a_failed_step():
    x = sp.Symbol("x", positive=True)
    return Claim(id="basics.demo.cached_failure", statement="demo", anchor="none", provenance=Provenance.SUITE,
                 kind=Kind.CITED, estimand=Estimand("q", "none", "none"), params=(),
                 derivation=lambda: Derivation("wrong", (x + 1) ** 2).step(x**2 + 1, "drop the cross term")
                 .assume(x**2, "x large"),
                 measure=None, grids={})


def test_a_failed_step_is_kept_as_failed(store):
    """A derivation whose step fails is a deterministic result too: the warm read says failed, with the message."""
    claim = _claim_with_a_failed_step()
    cold = check_symbolic(claim, cache=store)
    warm = check_symbolic(claim, cache=store)
    assert cold.status == "failed" and "drop the cross term" in cold.message
    assert store.hits == 1 and _timeless(warm) == _timeless(cold)


def test_a_derivation_that_cannot_be_built_is_not_kept(store):
    """An exception while building is reported each time and never stored."""
    def broken():
        raise RuntimeError("no derivation")
    claim = dataclasses.replace(_claim_with_a_failed_step(), derivation=broken)
    assert check_symbolic(claim, cache=store).status == "failed"
    assert _records(store.root) == []


def test_changing_the_building_code_invalidates(store, monkeypatch):
    """The key covers the source of every module the derivation reaches: editing theory/linear_memory.py gives a
    new key (a miss, recomputed), editing a module it does not reach (theory/updates.py) does not."""
    claim = get_claim(LINEAR)
    key = store.symbolic_key(claim)
    assert "theory.linear_memory" in dc.module_closure({"theory.linear_memory"})
    assert "theory.updates" not in dc.module_closure({"theory.linear_memory"})
    check_symbolic(claim, cache=store)
    real = dc._source_digest

    def edited(module):
        def digest(name):
            return "edited" if name == module else real(name)
        monkeypatch.setattr(dc, "_source_digest", digest)
        monkeypatch.setattr(dc, "_CLOSURES", {})

    edited("theory.updates")
    assert store.symbolic_key(claim) == key
    edited("theory.derivation")  # the step checker itself: every claim's derivation reaches it
    assert store.symbolic_key(claim) != key
    edited("theory.linear_memory")
    assert store.symbolic_key(claim) != key
    calls = []  # the claim is frozen: count the builds through a copy whose callable has the same name
    check_symbolic(dataclasses.replace(claim, derivation=_counting(claim.derivation, calls)), cache=store)
    assert calls == [1] and store.hits == 0


def _counting(fn, calls):
    def wrapper():
        calls.append(1)
        return fn()
    wrapper.__module__, wrapper.__qualname__ = fn.__module__, fn.__qualname__
    return wrapper


def test_versions_and_engine_code_enter_the_key(store, monkeypatch):
    """A new sympy (or amverify) version, or a change in the engine's symbolic check, changes the key."""
    claim = get_claim(LINEAR)
    key = store.symbolic_key(claim)
    import sympy

    monkeypatch.setattr(sympy, "__version__", sympy.__version__ + ".post1")
    assert store.symbolic_key(claim) != key
    monkeypatch.undo()
    assert store.symbolic_key(claim) == key
    assert store.symbolic_key(claim, code=(check_symbolic,)) != key


def test_warm_point_equals_cold_point(store):
    """A point's predictions (and where its controls apply) are read back exactly: the warm point result is the
    cold one in every field but the time."""
    claim = get_claim("capacity.kernel.relu_conditional")
    params = dict(claim.grids["quick"][0])
    cold = check_point(claim, params, seed=7, mode="quick")
    files = _records(store.root)
    assert len(files) == 1
    record = json.loads(files[0].read_text())["value"]
    assert record[""] == cold.predicted  # the float round-trips exactly through JSON
    warm = check_point(claim, params, seed=7, mode="quick")
    assert _timeless(warm) == _timeless(cold)
    os.environ[dc.NO_CACHE_VAR] = "1"
    try:
        fresh = check_point(claim, params, seed=7, mode="quick")
    finally:
        del os.environ[dc.NO_CACHE_VAR]
    assert _timeless(fresh) == _timeless(cold)


def test_a_malformed_record_is_a_miss(store):
    """A record that does not parse, or belongs to another key or format, is ignored and rewritten."""
    claim = get_claim(LINEAR)
    check_symbolic(claim, cache=store)
    (path,) = _records(store.root)
    path.write_text("{not json")
    assert check_symbolic(claim, cache=store).status == "verified"
    assert store.hits == 0
    record = json.loads(path.read_text())
    record["key"] = "0" * 64
    path.write_text(json.dumps(record))
    check_symbolic(claim, cache=store)
    assert store.hits == 0
    check_symbolic(claim, cache=store)
    assert store.hits == 1


def test_an_unwritable_folder_is_a_no_op(tmp_path):
    """A cache that cannot write changes nothing: the result is computed and returned."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = dc.DerivationCache(blocker / "cache")  # a folder under a file cannot be made
    assert check_symbolic(get_claim(LINEAR), cache=store).status == "verified"
    assert check_symbolic(get_claim(LINEAR), cache=store).status == "verified"
    assert store.hits == 0


def _table(text: str) -> list[str]:
    """The result rows of a check's table without the seconds column and the timed summary."""
    return [line.rsplit(None, 1)[0] for line in text.splitlines() if line.strip() and "claim(s)" not in line]


def test_worker_processes_use_the_drivers_cache_decision(store, capsys):
    """With `--jobs 2` the workers follow this process's cache, not the environment their fork server
    started with (it starts before `--no-cache` takes effect, and lives on): `--no-cache` writes nothing,
    and a run without it writes its records into this test's folder."""
    from proofs_check.executors import start_pool_server

    start_pool_server()  # as the command line does, before --no-cache is applied
    assert main(["check", LINEAR, "--quick", "-q", "--jobs", "2", "--no-cache"]) == 0
    assert _records(store.root) == []
    assert main(["check", LINEAR, "--quick", "-q", "--jobs", "2"]) == 0
    assert len(_records(store.root)) >= 2  # the symbolic result and the points' predictions
    capsys.readouterr()


def test_no_cache_flag_reads_and_writes_nothing(store, capsys):
    """`check --no-cache` leaves the folder empty and restores the environment; without it a run fills the
    cache, and a warm run prints the same table (times aside)."""
    assert main(["check", LINEAR, "--quick", "-q", "--no-cache"]) == 0
    assert _records(store.root) == [] and dc.NO_CACHE_VAR not in os.environ
    fresh = capsys.readouterr().out
    assert main(["check", LINEAR, "--quick", "-q"]) == 0
    assert len(_records(store.root)) >= 2  # the symbolic result and the points' predictions
    cold = capsys.readouterr().out
    assert main(["check", LINEAR, "--quick", "-q"]) == 0
    warm = capsys.readouterr().out
    assert _table(fresh) == _table(cold) == _table(warm)


def test_user_cache_dir_is_outside_the_repository(monkeypatch, tmp_path):
    """Without $AMVERIFY_CACHE_DIR the cache lives in the user cache folder ($XDG_CACHE_HOME on Linux)."""
    monkeypatch.delenv(dc.CACHE_DIR_VAR, raising=False)
    monkeypatch.delenv(dc.NO_CACHE_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if os.name == "posix" and not os.uname().sysname == "Darwin":
        assert dc.default_cache().root == tmp_path / "amverify"
    monkeypatch.setenv(dc.NO_CACHE_VAR, "1")
    assert dc.default_cache() is None


_NESTED_IMPORTS = '''
"""import amv_scan.in_docstring (text, not an import)"""
import amv_scan.top
from . import sibling
from .sub import deep
from amv_scan import helper, not_a_module
import os, json


def f():
    import amv_scan.in_function
    def g():
        from amv_scan.in_nested import x


class C:
    import amv_scan.in_class_body


if True:
    import amv_scan.in_if
else:
    import amv_scan.in_else
try:
    import amv_scan.in_try
except ImportError:
    import amv_scan.in_handler
finally:
    import amv_scan.in_finally
with open(__file__):
    import amv_scan.in_with
for _ in ():
    pass
else:
    import amv_scan.in_for_else
match 1:
    case 1:
        import amv_scan.in_case
'''


def test_imports_are_found_wherever_a_module_writes_them(tmp_path, monkeypatch):
    """Import statements count at any depth (functions, class bodies, branches, handlers, with, loops'
    else, match cases), relative ones resolved; a submodule named in ``from P import name`` counts when
    it is a file; text that only looks like an import does not; untracked modules never count."""
    package = tmp_path / "amv_scan"
    (package / "sub").mkdir(parents=True)
    for name in ("__init__", "helper", "sibling", "scanned", "sub/__init__", "sub/deep"):
        (package / f"{name}.py").write_text("")
    (package / "scanned.py").write_text(_NESTED_IMPORTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(dc, "TRACKED", ("amv_scan",))
    for memo in ("_IMPORTS", "_ORIGINS"):
        monkeypatch.setattr(dc, memo, {})
    found = set(dc._imports("amv_scan.scanned"))
    nested = {f"amv_scan.{m}" for m in ("in_function", "in_nested", "in_class_body", "in_if", "in_else",
                                        "in_try", "in_handler", "in_finally", "in_with", "in_for_else",
                                        "in_case")}
    assert found == {"amv_scan", "amv_scan.top", "amv_scan.sibling", "amv_scan.sub", "amv_scan.sub.deep",
                     "amv_scan.helper"} | nested


def test_the_import_scan_visits_every_import_node_of_every_tracked_module():
    """The scan walks only the nodes that can hold statements: on every tracked module of the ledger it
    finds exactly the import nodes a walk over every node finds."""
    import ast
    import sys

    from proofs_check.ledger import all_claims

    all_claims()
    modules = sorted(m for m in sys.modules if dc._tracked(m) and dc._origin(m))
    assert len(modules) > 30
    for name in modules:
        with open(dc._origin(name), "rb") as fh:
            tree = ast.parse(fh.read())
        every = {id(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))}
        assert {id(n) for n in dc._import_statements(tree)} == every, name


def test_keys_import_no_module_the_ledger_did_not():
    """Computing the closure of every tracked module loads nothing new: asking whether ``from P import name``
    names a submodule imports P, so it is asked of tracked names only (it used to import 472 modules,
    hypothesis among them, into every worker)."""
    import subprocess
    import sys

    code = ("import sys\nfrom proofs_check.ledger import all_claims\nfrom proofs_check import derivation_cache as dc\n"
            "all_claims()\nbefore = set(sys.modules)\n"
            "dc.module_closure(m for m in list(sys.modules) if dc._tracked(m))\n"
            "print(sorted(set(sys.modules) - before))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
