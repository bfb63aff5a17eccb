"""Symbolic results and predicted values kept between runs, addressed by the code that computes them.

Verifying a claim's derivation in sympy, and evaluating its prediction (and its controls' wrong
predictions) at a regime point, are pure functions of source code and versions: the same code gives
the same result, bit for bit. So, in the manner of hypothesis's example database, a directory of small
files keyed by hashes keeps them:

* a **key** is a SHA-256 over the claim id (and kind, or the regime point), the qualified names of
  the callables that build the result, the source text of every module those callables can reach
  through ``import`` statements inside the tracked packages (:data:`TRACKED`: ``theory``,
  ``numerics``, ``proofs_check.claims``; the callables' own modules always count), the source of the
  engine functions that turn a derivation into a result, and the versions of amverify, sympy, mpmath
  and Python. Editing any of that code gives new keys, so stale entries are never read (they are
  left to age out; delete the folder at any time);
* a **record** is JSON of the result's fields (status, steps, message; or the predicted floats, which
  JSON writes with ``repr`` and reads back exactly). JSON rather than pickle: the results hold only
  strings and floats, so nothing is lost, and reading a cache file never runs code;
* writes are atomic (a temporary file renamed into place), so concurrent workers never see half a
  record; an unreadable or malformed record is a miss, and a folder that cannot be written turns the
  cache into a no-op: the cache can make a run faster, never change or fail it.

The folder is ``$AMVERIFY_CACHE_DIR`` if set, else the user cache folder (``$XDG_CACHE_HOME/amverify``,
``~/.cache/amverify``; ``~/Library/Caches/amverify`` on macOS, ``%LOCALAPPDATA%\\amverify`` on
Windows), never the repository. ``AMVERIFY_NO_CACHE=1`` (``amverify check --no-cache``) turns it off;
the variable reaches worker processes through their environment.

What the key cannot see: code changed in memory (a monkeypatched theory function), code a
derivation reaches other than through ``import`` statements of the tracked packages, data a claims
module passes into a closure built in ``theory/`` (no claim does today). A module's source is hashed when
it is imported (:func:`watch_imports`, turned on by the ledger before it imports the claims; modules
imported earlier are hashed at the first key), so a file edited during a run keys nothing of the code the
run executes. A callable relabelled to another module than the file holding its code (the cited facts'
derivations) is never cached. Pass
``cache=None`` to :func:`proofs_check.engine.check_symbolic` (or set ``AMVERIFY_NO_CACHE``) there; the
test suite runs with the cache off except in the tests of this module.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import os
import platform
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

__all__ = ["CACHE_DIR_VAR", "DerivationCache", "FORMAT", "NO_CACHE_VAR", "PointPredictions", "TRACKED",
           "default_cache", "disabled", "module_closure", "user_cache_dir"]

FORMAT = "amverify.derivation-cache/1"  # bump when a record's layout changes
CACHE_DIR_VAR = "AMVERIFY_CACHE_DIR"
NO_CACHE_VAR = "AMVERIFY_NO_CACHE"
TRACKED = ("theory", "numerics", "proofs_check.claims")

_ORIGINS: dict[str, str | None] = {}
_SOURCE_DIGESTS: dict[str, str | None] = {}
_CLOSURES: dict[frozenset, dict[str, str | None]] = {}
_IMPORTS: dict[str, tuple[str, ...]] = {}
_FUNCTION_SOURCES: dict[Any, str] = {}
_LOADED_HASHED = False  # _hash_loaded_modules has run in this process
_IMPORTED: dict[str, tuple[str, str]] = {}  # module -> (source file, its sha256 when imported): watch_imports


# --- where ---------------------------------------------------------------------------------------

def user_cache_dir() -> Path:
    """The per-user cache folder of amverify (not created here)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "amverify"


def default_cache() -> "DerivationCache | None":
    """The cache this process uses: None when ``AMVERIFY_NO_CACHE`` is set (to anything but ``""``/``0``)."""
    if os.environ.get(NO_CACHE_VAR, "") not in ("", "0"):
        return None
    root = os.environ.get(CACHE_DIR_VAR) or str(user_cache_dir())
    return DerivationCache(root)


@contextmanager
def disabled() -> Iterator[None]:
    """Turn the default cache off in this process and in the worker processes it starts, then restore."""
    saved = os.environ.get(NO_CACHE_VAR)
    os.environ[NO_CACHE_VAR] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(NO_CACHE_VAR, None)
        else:
            os.environ[NO_CACHE_VAR] = saved


# --- what the key covers -------------------------------------------------------------------------

def _source_file(spec) -> str | None:
    """The ``.py`` file a module spec loads (None: no spec, or a module without one)."""
    origin = getattr(spec, "origin", None)
    return origin if origin and origin.endswith(".py") and os.path.isfile(origin) else None


def _file_digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _origin(name: str) -> str | None:
    """The source file of module ``name`` (None: no such module, or no ``.py`` file)."""
    if name not in _ORIGINS:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        _ORIGINS[name] = _source_file(spec)
    return _ORIGINS[name]


def _source_digest(name: str) -> str | None:
    """SHA-256 of a module's source file (None when it has none: a built-in or an interactive module), as it
    was when this process imported it where :func:`watch_imports` saw the import."""
    if name not in _SOURCE_DIGESTS:
        path = _origin(name)
        if path is None:
            _SOURCE_DIGESTS[name] = None
        elif name in _IMPORTED and _IMPORTED[name][0] == path:
            _SOURCE_DIGESTS[name] = _IMPORTED[name][1]
        else:
            _SOURCE_DIGESTS[name] = _file_digest(path)
    return _SOURCE_DIGESTS[name]


def _tracked(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in TRACKED)


def _import_statements(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of a parsed module, nested ones too: the nodes that can hold statements are
    walked (statements, handlers, match cases), never the expressions (no statement is found in one),
    which are most of a module's nodes."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.mod, ast.stmt, ast.excepthandler, ast.match_case)):
            todo.extend(ast.iter_child_nodes(node))


def _imports(name: str) -> tuple[str, ...]:
    """The tracked modules that module ``name`` imports anywhere in its text (function bodies too)."""
    if name in _IMPORTS:
        return _IMPORTS[name]
    path = _origin(name)
    found: set[str] = set()
    if path is not None:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), filename=path)
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        for node in _import_statements(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                found.add(base)
                # "from theory import kernels" names a submodule: count it when it is one (asked only of
                # tracked names: finding a submodule imports its package, and the rest are dropped below)
                found.update(sub for sub in (f"{base}.{alias.name}" for alias in node.names)
                             if _tracked(sub) and _origin(sub))
    out = set()
    for module in found:
        parts = module.split(".")
        # a module counts with its parent packages (their __init__ runs on import)
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    _IMPORTS[name] = tuple(sorted(m for m in out if _tracked(m) and m != name))
    return _IMPORTS[name]


def _hash_loaded_modules() -> None:
    """Hash every tracked module this process has imported, once, at its first key: a run imports its code
    when it starts but may need a module's key only minutes later, and an edit saved in between would key
    the loaded (old) code's results with the new source (read by the next run, which runs the new code).
    Modules imported after :func:`watch_imports` were hashed as they were imported; this covers the rest."""
    global _LOADED_HASHED
    if not _LOADED_HASHED:
        _LOADED_HASHED = True
        for name in [m for m in list(sys.modules) if _tracked(m)]:
            _source_digest(name)


class _HashOnImport:
    """A meta-path finder that finds nothing: asked first for every module being imported, it hashes a
    tracked module's source file right then, just before the loader reads it, so the key holds the source
    of the code this process runs even when the file is edited later. A reload is hashed anew."""

    def find_spec(self, name, path=None, target=None):
        if _tracked(name):
            for finder in sys.meta_path:  # the finders after this one, as the import itself asks them
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    source = _source_file(spec)
                    if source is not None:
                        _IMPORTED[name] = (source, _file_digest(source))
                    break
        return None  # the import goes on through the other finders


def watch_imports() -> None:
    """Hash each tracked module as it is imported from now on (idempotent). The ledger calls this before it
    imports the claim modules, and with them ``theory/`` and ``numerics/``."""
    if not any(isinstance(finder, _HashOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _HashOnImport())


def module_closure(start: Iterable[str]) -> dict[str, str | None]:
    """``{module: sha256 of its source}`` for the ``start`` modules and every tracked module they reach.

    Read once per process (the files of a running program are taken as fixed while it runs)."""
    start = frozenset(start)
    if start in _CLOSURES:
        return _CLOSURES[start]
    seen: dict[str, str | None] = {}
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name] = _source_digest(name)
        todo.extend(_imports(name))
    _CLOSURES[start] = dict(sorted(seen.items()))
    return _CLOSURES[start]


def _function_source(fn) -> str:
    if fn not in _FUNCTION_SOURCES:
        _FUNCTION_SOURCES[fn] = inspect.getsource(fn)
    return _FUNCTION_SOURCES[fn]


def _versions() -> dict[str, str]:
    import mpmath
    import sympy

    from proofs_check import __version__

    return {"amverify": __version__, "sympy": sympy.__version__, "mpmath": mpmath.__version__,
            "python": platform.python_version()}


def _callable_name(fn) -> tuple[str, str] | None:
    """``(module, qualified name)`` of a callable; None when its code cannot be located: no module, or (a
    function relabelled, as the cited facts' derivations are) code in another file than its module's,
    which the key would not see change."""
    module = getattr(fn, "__module__", None)
    if module is None:
        return None
    try:
        code = getattr(inspect.unwrap(fn), "__code__", None)
    except ValueError:  # a cycle of __wrapped__
        return None
    if code is not None:
        origin = _origin(module)
        if origin is None or os.path.realpath(code.co_filename) != os.path.realpath(origin):
            return None
    return module, getattr(fn, "__qualname__", getattr(fn, "__name__", repr(type(fn))))


def _digest(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --- the store -----------------------------------------------------------------------------------

class DerivationCache:
    """A folder of JSON records keyed by content hashes (module docstring).

    ``hits`` and ``misses`` count the lookups of this object.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"DerivationCache({str(self.root)!r})"

    def key(self, kind: str, claim, callables: Iterable[Callable], code: Iterable[Callable] = (),
            extra_modules: Iterable[str] = (), **fields: Any) -> str | None:
        """The key of one record, or None when a callable's code cannot be located (then nothing is cached).

        ``callables`` build the result (their modules start the closure), ``code`` are further functions
        whose source enters the key (the engine's), ``extra_modules`` further closure starts and
        ``fields`` anything else the result depends on (JSON values)."""
        _hash_loaded_modules()
        names = []
        for fn in callables:
            name = _callable_name(fn)
            if name is None:
                return None
            names.append(name)
        sources = module_closure({m for m, _ in names} | set(extra_modules))
        if any(digest is None for digest in sources.values()):
            return None
        return _digest({"format": FORMAT, "kind": kind, "claim": claim.id, "callables": sorted(names),
                        "sources": sources, "code": [_function_source(fn) for fn in code],
                        "versions": _versions(), "fields": fields})

    def _path(self, key: str) -> Path:
        return self.root / "derivations" / key[:2] / f"{key}.json"

    def load(self, key: str | None) -> dict | None:
        """The record stored under ``key``, or None (missing, unreadable or not this format)."""
        if key is None:
            return None
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                record = json.load(fh)
        except (OSError, ValueError):
            self.misses += 1
            return None
        if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("key") != key \
                or not isinstance(record.get("value"), dict):
            self.misses += 1
            return None
        self.hits += 1
        return record["value"]

    def save(self, key: str | None, value: Mapping[str, Any]) -> None:
        """Store ``value`` under ``key`` atomically; any failure to write is ignored (the cache is optional)."""
        if key is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"format": FORMAT, "key": key, "value": value}, fh, sort_keys=True)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except (OSError, TypeError, ValueError):
            return

    # --- the two kinds of record

    def symbolic_key(self, claim, code: Iterable[Callable] = ()) -> str | None:
        """The key of a claim's symbolic result: its derivation's code, its kind, ``code`` (the engine's)."""
        return self.key("symbolic", claim, [claim.derivation], code, claim_kind=claim.kind.value)

    def predictions(self, claim, params: Mapping[str, Any], code: Iterable[Callable] = ()) -> "PointPredictions":
        """The predicted values of one regime point (the claim's and its controls'), read and written lazily."""
        from proofs_check.ledger import origin
        from proofs_check.seeds import canonical_params

        callables = [claim.derivation] + ([claim.prediction] if claim.prediction is not None else [])
        callables += [c.prediction for c in claim.negative_controls if c.prediction is not None]
        try:
            registered = [origin(claim.id)]
        except Exception:  # noqa: BLE001 - a claim outside the ledger (a test's): its callables' modules only
            registered = []
        key = self.key("predictions", claim, callables, code, extra_modules=registered,
                       params=canonical_params(params),
                       controls=[c.name for c in claim.negative_controls])
        return PointPredictions(self, key)


    def latex(self, claim, compute: Callable[[], str], code: Iterable[Callable] = ()) -> str:
        """A claim's statement in LaTeX (rendered from its prediction, which builds its derivation), kept likewise."""
        callables = [claim.derivation] + ([claim.prediction] if claim.prediction is not None else [])
        key = self.key("latex", claim, callables, code, extra_modules=["theory.symbols"], symbol=claim.symbol,
                       claim_kind=claim.kind.value)
        record = self.load(key)
        if record is not None:
            return record["latex"]
        text = compute()
        self.save(key, {"latex": text})
        return text


class PointPredictions:
    """The predicted floats of one point: ``value(name, compute)`` reads the stored value or computes it;
    :meth:`save` writes what was computed. Without a store it only computes."""

    def __init__(self, store: DerivationCache | None, key: str | None):
        self.store, self.key = store, key
        self.values: dict[str, float] = {}
        self.dirty = False
        if store is not None and key is not None:
            self.values = dict(store.load(key) or {})

    def value(self, name: str, compute: Callable[[], float]) -> float:
        if name not in self.values:
            self.values[name] = float(compute())
            self.dirty = True
        return self.values[name]

    def save(self) -> None:
        if self.dirty and self.store is not None:
            self.store.save(self.key, self.values)
            self.dirty = False
