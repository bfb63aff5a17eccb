"""What the derivation cache's keys cover, on small synthetic packages written to a temporary folder.

The cache may only ever serve a record computed by the same code (proofs_check/derivation_cache.py's
docstring): every edit of a module a derivation reaches, and every input the key lists (claim id, kind,
callables, engine code, versions, fields, the point), must give a new key; an unreadable record, or a
failed write, must leave a run as if there were no cache. Each test names the property it pins down;
expected values come from that specification. Every "edit" writes the file and forgets the
per-process memos, as a new run would.
"""

import importlib
import itertools
import json
import math
import os
import platform
import sys
import textwrap
import types
from pathlib import Path

import pytest

from proofs_check import derivation_cache as dc
from proofs_check.ledger import Kind

_PAD = '"""' + "padding so that an edit at the end of the file is past its first bytes. " * 3 + '"""\n'
_COUNTER = itertools.count()


class Package:
    """A package ``name`` of small modules in ``folder``, tracked by the cache in place of the real ones."""

    def __init__(self, folder: Path, monkeypatch, files: dict[str, str]):
        self.name = f"amv_keys_{os.getpid()}_{next(_COUNTER)}"
        self.folder, self.monkeypatch = folder / self.name, monkeypatch
        for rel, text in files.items():
            path = self.folder / f"{rel}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_PAD + textwrap.dedent(text).replace("PKG", self.name))
        monkeypatch.syspath_prepend(str(folder))
        monkeypatch.setattr(dc, "TRACKED", (self.name,))
        importlib.invalidate_caches()
        self.forget()

    def forget(self) -> None:
        """Drop the per-process memos: the next key is computed as by a new run."""
        for memo in ("_ORIGINS", "_SOURCE_DIGESTS", "_CLOSURES", "_IMPORTS", "_FUNCTION_SOURCES", "_IMPORTED"):
            self.monkeypatch.setattr(dc, memo, {})
        self.monkeypatch.setattr(dc, "_LOADED_HASHED", False)

    def module(self, rel: str):
        return importlib.import_module(f"{self.name}.{rel}")

    def edit(self, rel: str, between_runs: bool = True) -> None:
        """A change of code at the end of ``rel``'s file, as a developer would make between two runs (or
        during one)."""
        path = self.folder / f"{rel}.py"
        path.write_text(path.read_text() + "\nEDITED = 1\n")
        if between_runs:
            self.forget()

    def drop(self) -> None:
        for name in [m for m in sys.modules if m == self.name or m.startswith(self.name + ".")]:
            del sys.modules[name]


@pytest.fixture
def make_package(tmp_path, monkeypatch):
    made = []

    def make(files):
        made.append(Package(tmp_path, monkeypatch, files))
        return made[-1]
    yield make
    for package in made:
        package.drop()


@pytest.fixture
def store(tmp_path):
    return dc.DerivationCache(tmp_path / "cache")


def _claim(build, claim_id="demo.keys.claim", kind=Kind.IDENTITY, prediction=None, controls=(), symbol=""):
    return types.SimpleNamespace(id=claim_id, derivation=build, kind=kind, prediction=prediction,
                                 negative_controls=tuple(controls), symbol=symbol)


# --- every import edge of a derivation's module enters the key ----------------------------------

_EDGES = {
    "__init__": "from . import init_dep\n",  # a relative import in a package's __init__
    "init_dep": "",
    "entry": """
        import PKG.plain_dep
        from PKG.from_dep import THING
        from PKG import submod
        from .rel_dep import Y
        import PKG.sub.leaf

        try:
            pass
        except ImportError:
            import PKG.handler_dep


        def build():
            import PKG.lazy_dep
            return THING + Y


        def other():
            return Y
        """,
    "plain_dep": "import PKG.transitive_dep\n",
    "transitive_dep": "",
    "from_dep": "THING = 1\n",
    "submod": "",
    "rel_dep": "Y = 2\n",
    "lazy_dep": "",
    "handler_dep": "",
    "sub/__init__": "",
    "sub/leaf": "from ..up_dep import U\n",  # two levels up, from a subpackage
    "up_dep": "U = 3\n",
    "unrelated": "",
    "control": "def wrong():\n    return 0\n",
    "claims_mod": "",
}


@pytest.mark.parametrize("edited", ["entry", "__init__", "init_dep", "plain_dep", "transitive_dep", "from_dep",
                                    "submod", "rel_dep", "lazy_dep", "handler_dep", "sub/__init__", "sub/leaf",
                                    "up_dep"])
def test_an_edit_of_any_module_the_derivation_reaches_changes_the_key(make_package, store, edited):
    """Editing the derivation's own module, or any tracked module it reaches through ``import`` statements
    (plain, ``from P.m import x``, ``from P import m``, relative at one and two levels, in a package
    ``__init__``, inside a function or an except handler, transitively, or a parent package that runs
    on import) gives a new key, so the stale record is never read."""
    package = make_package(_EDGES)
    claim = _claim(package.module("entry").build)
    before = store.symbolic_key(claim)
    assert before is not None
    package.edit(edited)
    assert store.symbolic_key(claim) not in (before, None)


def test_an_edit_elsewhere_keeps_the_key(make_package, store):
    """Content addressing: the key is a pure function of the reached code, so recomputing it (as a new run does)
    gives the same key, and editing a module the derivation does not reach keeps it."""
    package = make_package(_EDGES)
    claim = _claim(package.module("entry").build)
    before = store.symbolic_key(claim)
    package.forget()
    assert store.symbolic_key(claim) == before
    package.edit("unrelated")
    assert store.symbolic_key(claim) == before


def test_only_the_tracked_packages_count():
    """A module is tracked when it is one of TRACKED or inside one; a name that merely begins with the same
    letters is another package."""
    assert dc._tracked("theory") and dc._tracked("theory.kernels") and dc._tracked("proofs_check.claims.ffn")
    assert not dc._tracked("theoryx") and not dc._tracked("proofs_check.claimsx") and not dc._tracked("proofs_check")


def test_a_derivation_whose_code_lives_in_another_module_than_it_names(make_package, store):
    """A derivation built in a claims module but labelled with a theory function's module and name (as
    proofs_check/claims/expressivity.py does for its cited facts) must not be keyed on the module it names
    only: editing the file that holds its code gives a new key, or none (not cached)."""
    files = dict(_EDGES, claims_mod="""
        from PKG import entry


        def _make(text):
            def derivation():
                return (entry.build(), text)
            derivation.__module__, derivation.__name__ = entry.build.__module__, entry.build.__name__
            return derivation


        DERIVATION = _make("the statement as written today")
        """)
    package = make_package(files)
    claim = _claim(package.module("claims_mod").DERIVATION)
    before = store.symbolic_key(claim)
    package.edit("claims_mod")
    after = store.symbolic_key(claim)
    assert after is None or after != before


def test_the_cited_facts_are_not_served_after_an_edit_of_their_claims_module(store, monkeypatch):
    """The ledger's instance of the case above: a cited fact's derivation is built in
    proofs_check/claims/expressivity.py (its statement and source) and labelled theory.expressivity.cited_fact;
    an edit of the claims module must give a new key, or none."""
    from proofs_check.ledger import get_claim, origin

    claim = get_claim("expressivity.circuits.transformer_tc0")
    before = store.symbolic_key(claim)
    real = dc._source_digest
    monkeypatch.setattr(dc, "_CLOSURES", {})
    monkeypatch.setattr(dc, "_source_digest", lambda name: "edited" if name == origin(claim.id) else real(name))
    after = store.symbolic_key(claim)
    assert after is None or after != before


def test_an_edit_saved_during_a_run_does_not_key_the_old_code(make_package, store):
    """A run imports its code when it starts and may key a claim minutes later. An edit saved in between must
    not key the results of the code that was loaded (else the next run, with the new code, reads the old
    code's results): the later claim's key is the loaded code's, or none."""
    package = make_package(_EDGES)
    late = _claim(package.module("entry").build)  # loaded with all it imports
    early = _claim(package.module("control").wrong, claim_id="demo.keys.early")  # reaches none of it
    loaded = store.symbolic_key(late)
    package.forget()  # a new run of the same code ...
    assert store.symbolic_key(early) is not None  # ... keys its first claim ...
    package.edit("from_dep", between_runs=False)  # ... a developer saves an edit ...
    assert store.symbolic_key(late) in (loaded, None)  # ... and the run keys the late claim


def test_an_edit_saved_before_the_first_key_does_not_key_the_old_code(make_package, store):
    """The same before a process's first key: between the import of the code (in a fork server, well before a
    worker's first task) and the first key. Each tracked module is hashed as it is imported (watch_imports,
    which the ledger turns on before it imports the claims), so the key is the imported code's."""
    dc.watch_imports()
    package = make_package(_EDGES)
    loaded = store.symbolic_key(_claim(package.module("entry").build))
    package.forget()
    package.drop()  # a new run, or worker, that has computed no key yet ...
    claim = _claim(package.module("entry").build)  # ... imports the code ...
    package.edit("from_dep", between_runs=False)  # ... and a developer saves an edit before its first key
    assert store.symbolic_key(claim) == loaded
    package.forget()
    package.drop()  # the next run imports the edited code: a new key
    assert store.symbolic_key(_claim(package.module("entry").build)) not in (loaded, None)


def test_a_run_hashes_each_tracked_module_as_it_imports_it(tmp_path):
    """In a fresh process, loading the ledger hashes every tracked module it imports at its import, from the
    file the import system found (the hook asks the finders after it, as the import does)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    script = ("import sys\n"
              "from proofs_check.ledger import all_claims\n"
              "from proofs_check import derivation_cache as dc\n"
              "all_claims()\n"
              "loaded = sorted(m for m in sys.modules if dc._tracked(m) and dc._origin(m))\n"
              "missed = [m for m in loaded if dc._IMPORTED.get(m, (None,))[0] != dc._origin(m)]\n"
              "print(len(loaded), missed)\n")
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout.split(maxsplit=1)
    assert int(out[0]) >= 40 and out[1].strip() == "[]"


# --- the other inputs of a key ---------------------------------------------------------------------

def test_every_listed_input_enters_the_key(make_package, store, monkeypatch):
    """The key covers the record's format and kind, the claim id, which callables build the result, the engine
    code, the fields, and the amverify, sympy, mpmath and Python versions: changing any one gives a new key."""
    package = make_package(_EDGES)
    entry = package.module("entry")
    claim = _claim(entry.build)

    def key(kind="symbolic", c=claim, callables=(entry.build,), code=(dc.user_cache_dir,), **fields):
        return store.key(kind, c, list(callables), code, **(fields or {"claim_kind": "identity"}))

    base = key()
    variants = {
        "kind": key(kind="latex"),
        "claim id": key(c=_claim(entry.build, claim_id="demo.keys.other")),
        "callables": key(callables=(entry.other,)),
        "engine code": key(code=(dc.default_cache,)),
        "fields": key(claim_kind="statistical"),
    }
    import mpmath
    import sympy

    import proofs_check

    for label, (owner, attribute, value) in {
            "format": (dc, "FORMAT", dc.FORMAT + "-next"),
            "amverify version": (proofs_check, "__version__", proofs_check.__version__ + ".post1"),
            "sympy version": (sympy, "__version__", sympy.__version__ + ".post1"),
            "mpmath version": (mpmath, "__version__", mpmath.__version__ + ".post1"),
            "python version": (platform, "python_version", lambda: "2.7.18")}.items():
        with monkeypatch.context() as patch:
            patch.setattr(owner, attribute, value)
            variants[label] = key()
    assert key() == base
    assert {label: k for label, k in variants.items() if k in (base, None)} == {}
    assert len(set(variants.values())) == len(variants)


def test_the_key_does_not_depend_on_the_order_fields_are_given(make_package, store):
    """The same content gives the same key: fields are hashed in a canonical order."""
    package = make_package(_EDGES)
    claim = _claim(package.module("entry").build)
    build = package.module("entry").build
    assert store.key("k", claim, [build], a=1, b=[2, 3]) == store.key("k", claim, [build], b=[2, 3], a=1)


def test_the_claim_kind_enters_the_symbolic_key(make_package, store):
    """A symbolic result's status depends on the claim's kind (a cited fact is never 'verified'), so the same
    derivation under another kind has another key."""
    build = make_package(_EDGES).module("entry").build
    assert store.symbolic_key(_claim(build, kind=Kind.IDENTITY)) != store.symbolic_key(_claim(build, kind=Kind.CITED))


def test_callables_whose_code_cannot_be_read_are_not_cached(store):
    """No key (nothing cached) when a callable has no module, or its module has no source file: the key could not
    see its code change."""
    nameless = lambda: 0  # noqa: E731
    nameless.__module__ = None
    assert store.key("k", _claim(nameless), [nameless]) is None
    assert store.key("k", _claim(math.floor), [math.floor]) is None  # a built-in module
    assert store.symbolic_key(_claim(math.floor)) is None


# --- predictions and LaTeX -------------------------------------------------------------------------

def test_the_prediction_key_covers_point_controls_and_the_claims_module(make_package, store, monkeypatch):
    """A point's prediction record is keyed on the point, on the code of the controls' wrong predictions and on
    the module that registers the claim (its bounds and constraints): each change gives new (empty) values."""
    from proofs_check import ledger

    package = make_package(_EDGES)
    monkeypatch.setattr(ledger, "origin", lambda claim_id: f"{package.name}.claims_mod")
    control = types.SimpleNamespace(name="wrong", prediction=package.module("control").wrong)
    claim = _claim(package.module("entry").build, controls=[control])
    for edited in ("control", "claims_mod"):
        memo = store.predictions(claim, {"N": 4})
        assert memo.value("", lambda: 1.5) == 1.5
        memo.save()
        assert store.predictions(claim, {"N": 4}).values == {"": 1.5}  # the positive control: a hit
        assert store.predictions(claim, {"N": 5}).values == {}
        package.edit(edited)
        assert store.predictions(claim, {"N": 4}).values == {}, edited


def test_the_latex_key_covers_the_symbol_and_the_renderer(make_package, store, monkeypatch):
    """A claim's LaTeX is kept under a key that covers its symbol and theory.symbols (which renders it):
    either changing makes the statement render afresh."""
    package = make_package(_EDGES)
    claim = _claim(package.module("entry").build, symbol="S")
    assert store.latex(claim, lambda: "old") == "old"
    assert store.latex(claim, lambda: "new") == "old"  # the positive control: a hit
    assert store.latex(_claim(claim.derivation, symbol="T"), lambda: "new") == "new"
    real = dc._source_digest
    package.forget()
    monkeypatch.setattr(dc, "_source_digest", lambda name: "edited" if name == "theory.symbols" else real(name))
    assert store.latex(claim, lambda: "new") == "new"


@pytest.mark.parametrize("edited", ["Claim.predicted_expr", "_prepare", "evaluate"])
def test_the_prediction_key_covers_the_code_that_computes_the_values(make_package, store, monkeypatch, edited):
    """A point's predicted values are computed by the engine (``_prepare``: the prediction, bound and controls'
    values) from ``Claim.predicted_expr`` through ``evaluate``: editing any of them makes the values be computed
    afresh, not read from a record the old code wrote."""
    import sympy as sp

    from proofs_check import engine, ledger

    package = make_package(_EDGES)
    monkeypatch.setattr(ledger, "origin", lambda claim_id: f"{package.name}.claims_mod")
    calls = []
    claim = _claim(package.module("entry").build)
    claim.bound = None
    claim.predicted_expr = lambda: calls.append(1) or sp.Integer(6)
    assert engine._prepare(claim, {"N": 3}, cache=store).predicted == 6.0
    assert engine._prepare(claim, {"N": 3}, cache=store).predicted == 6.0
    assert len(calls) == 1  # the positive control: the second point was read back
    real = dc._function_source
    monkeypatch.setattr(dc, "_function_source",
                        lambda fn: "edited" if getattr(fn, "__qualname__", "") == edited else real(fn))
    assert engine._prepare(claim, {"N": 3}, cache=store).predicted == 6.0
    assert len(calls) == 2


# --- records ---------------------------------------------------------------------------------------

_KEY = "ab" + "0" * 62


@pytest.mark.parametrize("record", [
    {"format": "amverify.derivation-cache/0", "key": _KEY, "value": {"status": "verified"}},
    {"format": dc.FORMAT, "key": "cd" + "0" * 62, "value": {"status": "verified"}},
    {"format": dc.FORMAT, "key": _KEY},
    {"format": dc.FORMAT, "key": _KEY, "value": ["verified"]},
    ["not", "an", "object"],
], ids=["other format", "other key", "no value", "value not an object", "not an object"])
def test_a_malformed_record_is_a_miss(store, record):
    """A record of another format or key, or without an object as its value, is a miss (never an error)."""
    path = store._path(_KEY)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    assert store.load(_KEY) is None
    assert (store.hits, store.misses) == (0, 1)


def test_a_record_appears_only_whole(store, monkeypatch):
    """Writes are atomic: the record is written to another file in the same folder and renamed into place, so
    a concurrent reader finds either no record or the whole one."""
    renames = []
    real = os.replace

    def replace(src, dst):
        renames.append((Path(src), Path(dst), store.load(_KEY), json.loads(Path(src).read_text())["value"]))
        real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    store.save(_KEY, {"x": 1.0})
    ((src, dst, seen, written),) = renames
    assert dst == store._path(_KEY) and src != dst and src.parent == dst.parent
    assert seen is None and written == {"x": 1.0}
    assert store.load(_KEY) == {"x": 1.0}


def test_a_failed_write_changes_nothing(store):
    """A value that cannot be written is not an error and leaves no file behind (not even a temporary one)."""
    store.save(_KEY, {"x": object()})
    assert [p for p in store.root.rglob("*") if p.is_file()] == []
    assert store.load(_KEY) is None


# --- turning it off --------------------------------------------------------------------------------

@pytest.mark.parametrize("value, on", [("1", False), ("yes", False), ("true", False), ("0", True), ("", True)])
def test_no_cache_variable(monkeypatch, tmp_path, value, on):
    """AMVERIFY_NO_CACHE set to anything but "" or "0" turns the cache off; otherwise it lives in
    $AMVERIFY_CACHE_DIR."""
    monkeypatch.setenv(dc.CACHE_DIR_VAR, str(tmp_path))
    monkeypatch.setenv(dc.NO_CACHE_VAR, value)
    cache = dc.default_cache()
    assert (cache is not None) == on
    if on:
        assert cache.root == tmp_path


@pytest.mark.parametrize("saved", [None, "0"])
def test_disabled_turns_off_then_restores(monkeypatch, tmp_path, saved):
    """Inside ``disabled()`` there is no cache (also for worker processes, through the environment); after it
    the variable is as it was."""
    monkeypatch.setenv(dc.CACHE_DIR_VAR, str(tmp_path))
    if saved is None:
        monkeypatch.delenv(dc.NO_CACHE_VAR, raising=False)
    else:
        monkeypatch.setenv(dc.NO_CACHE_VAR, saved)
    with dc.disabled():
        assert dc.default_cache() is None and os.environ[dc.NO_CACHE_VAR] not in ("", "0")
    assert os.environ.get(dc.NO_CACHE_VAR) == saved
    assert dc.default_cache() is not None
