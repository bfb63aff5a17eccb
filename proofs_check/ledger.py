"""The claim ledger: immutable claim records and the registry that holds them.

A claim joins a symbolic side (a :class:`theory.derivation.Derivation` whose result is the
predicted value) and a numeric side (a function in :mod:`numerics` returning an
:class:`numerics.estimate.Estimate`). Claims are registered by the modules of
:mod:`proofs_check.claims`, one module per topic; :func:`all_claims` imports them all.

To correct a claim against the paper, edit its one :func:`register` call.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Mapping

__all__ = [
    "Claim",
    "Constraint",
    "DomainError",
    "Estimand",
    "Kind",
    "NegativeControl",
    "Param",
    "Provenance",
    "SECTIONS",
    "UnknownClaimError",
    "all_claims",
    "evaluate",
    "get_claim",
    "origin",
    "register",
]

SECTIONS = ("basics", "capacity", "ffn", "update", "expressivity", "context")
MODES = ("quick", "default", "full")
_ID_PATTERN = re.compile(r"^(%s)\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$" % "|".join(SECTIONS))


class Kind(str, Enum):
    """How a claim is checked (see docs/explanation.md)."""

    IDENTITY = "identity"  # exact in exact arithmetic: float tolerance
    STATISTICAL = "statistical"  # MC estimate against an exact expectation: z * SE
    ASYMPTOTIC = "asymptotic"  # sympy limit + finite-size bound + z * SE
    CITED = "cited"  # a literature fact, recorded but never reported as verified


class Provenance(str, Enum):
    """Where a claim's statement comes from (method guide, section 6)."""

    PAPER = "paper"
    RECONSTRUCTED = "reconstructed"
    SUITE = "suite"


class DomainError(ValueError):
    """Parameters outside a claim's valid domain."""


class UnknownClaimError(KeyError):
    """No claim has the requested id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Param:
    """One parameter of a claim with its valid closed range ``[low, high]``."""

    name: str
    low: float
    high: float
    integer: bool = True
    description: str = ""

    def __post_init__(self):
        # an empty or NaN range would refuse every value, and a strategy over it draw nothing
        if not (self.low <= self.high):
            raise ValueError(f"parameter {self.name!r}: empty domain [{self.low!r}, {self.high!r}] (need low <= high)")

    def coerce(self, raw: Any) -> int | float:
        """Parse and validate a value (string or number); raise :class:`DomainError` naming the range."""
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise DomainError(f"{self.name}={raw!r} is not a number") from None
        if not math.isfinite(value):
            raise DomainError(f"{self.name}={raw!r} must be finite")
        if self.integer:
            if value != int(value):
                raise DomainError(f"{self.name}={raw!r} must be an integer")
            value = int(value)
        if not (self.low <= value <= self.high):
            raise DomainError(f"{self.name}={value:g} is outside its domain [{self.low:g}, {self.high:g}]"
                              + (f" ({self.description})" if self.description else ""))
        return value

    def describe(self) -> str:
        kind = "integer" if self.integer else "real"
        return f"{self.name} in [{self.low:g}, {self.high:g}] ({kind}){': ' + self.description if self.description else ''}"


@dataclass(frozen=True)
class Constraint:
    """A joint condition on the parameters, e.g. ``N <= d_k``; ``text`` names it in errors."""

    text: str
    holds: Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Estimand:
    """What exactly is estimated: quantity, distributions and conditioning."""

    quantity: str
    distributions: str
    conditioning: str
    notes: str = ""


@dataclass(frozen=True)
class NegativeControl:
    """A deliberately wrong version of a claim that the engine must reject.

    Either ``prediction`` (a theory-side callable returning a wrong sympy expression in the
    claim's parameters, compared with the same measurement) or ``variant`` (a wrong numeric
    route, passed to the measure function and compared with the true prediction).

    A prediction control may also name the ``route`` that realises the same slip numerically
    (e.g. the capacity counted with the queried pair, computed from the simulated crosstalk). The
    route's estimate must then *agree* with the wrong prediction: that checks the control's own
    formula, which would otherwise be used only as a wrong value and never checked itself.
    """

    name: str
    description: str
    prediction: Callable[[], Any] | None = None
    variant: str | None = None
    applies_when: "Constraint | None" = None  # where the control is resolvable (e.g. N - 1 vs N at small N)
    near_miss: bool = False  # a plausible slip a few percent from the truth (d_k + 1 for d_k + 2, N for N - 1)
    route: str | None = None  # with ``prediction``: the numeric route realising the same slip

    def __post_init__(self):
        if (self.prediction is None) == (self.variant is None):
            raise ValueError(f"negative control {self.name!r} needs exactly one of prediction, variant")
        if self.route is not None and self.prediction is None:
            raise ValueError(f"negative control {self.name!r}: route= pairs a wrong prediction with its route; "
                             "a route alone is variant=")


@dataclass(frozen=True)
class Claim:
    """One registered, immutable claim. See the module docstring and docs/how-to/add-a-claim.md."""

    id: str
    statement: str
    anchor: str
    provenance: Provenance
    kind: Kind
    estimand: Estimand
    params: tuple[Param, ...]
    derivation: Callable[[], Any]  # -> theory.derivation.Derivation (checked symbolically)
    measure: Callable[..., Any] | None  # numerics function: measure(rng, **params[, trials, variant])
    grids: Mapping[str, tuple[Mapping[str, Any], ...]]
    # Monte Carlo claims: trials per batch in each mode. The first batch is the pilot that plans the
    # point (proofs_check.engine); at most ``max_batches`` batches run.
    trials: Mapping[str, int] | None = None
    max_batches: int = 64
    prediction: Callable[[], Any] | None = None  # defaults to derivation().result
    symbol: str = ""  # LaTeX of the left-hand side; the right-hand side is rendered from sympy
    constraints: tuple[Constraint, ...] = ()
    negative_controls: tuple[NegativeControl, ...] = ()
    atol: float = 1e-12
    rtol: float = 0.0
    bound: Callable[[Mapping[str, Any]], float] | None = None  # asymptotic: finite-size bound at params
    fixed: Mapping[str, Any] = field(default_factory=dict)  # numeric-only settings passed to measure
    # Hypothesis search space for tests: None (whole domain), a mapping of caps {name: (low, high)}
    # that narrows the domain to what a test can afford, or a callable claim -> strategy.
    strategy: Mapping[str, tuple[float, float]] | Callable[["Claim"], Any] | None = None
    citation: str = ""
    notes: str = ""

    def __post_init__(self):
        if not _ID_PATTERN.match(self.id):
            raise ValueError(f"claim id {self.id!r} must look like '<section>.<topic>.<name>' "
                             f"with section one of {SECTIONS!r}")
        if self.kind is not Kind.CITED:
            if not self.negative_controls:
                raise ValueError(f"claim {self.id!r} needs at least one negative control")
            if self.measure is None:
                raise ValueError(f"claim {self.id!r} needs a numeric side")
            missing = [m for m in MODES if m not in self.grids or not self.grids[m]]
            if missing:
                raise ValueError(f"claim {self.id!r} has no regime grid for modes {missing!r}")
        if self.kind is Kind.ASYMPTOTIC and self.bound is None:
            raise ValueError(f"asymptotic claim {self.id!r} needs a finite-size bound")

    @property
    def section(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def validate(self, values: Mapping[str, Any]) -> dict[str, int | float]:
        """Coerce and check a full parameter set; raise :class:`DomainError` naming the constraint."""
        unknown = sorted(set(values) - set(self.param_names))
        if unknown:
            raise DomainError(f"{self.id}: unknown parameter(s) {unknown!r}; expected {list(self.param_names)!r}")
        missing = [n for n in self.param_names if n not in values]
        if missing:
            raise DomainError(f"{self.id}: missing parameter(s) {missing!r}")
        out = {p.name: p.coerce(values[p.name]) for p in self.params}
        for c in self.constraints:
            if not c.holds(out):
                raise DomainError(f"{self.id}: parameters {out!r} violate the constraint {c.text}")
        return out

    def default_params(self) -> dict[str, Any]:
        """The first point of the default grid (used by ``amverify eval`` to fill unset parameters)."""
        return dict(self.grids["default"][0]) if self.grids else {}

    def predicted_expr(self):
        return self.prediction() if self.prediction is not None else self.derivation().result

    def latex(self, cache="default") -> str:
        """The statement in LaTeX, rendered from the sympy expression (never typed twice); kept between runs
        by the derivation cache (:mod:`proofs_check.derivation_cache`) like the prediction it renders
        (``cache``: ``"default"`` for :func:`~proofs_check.derivation_cache.default_cache`, a
        :class:`~proofs_check.derivation_cache.DerivationCache`, or None for none)."""
        from proofs_check.derivation_cache import default_cache

        store = default_cache() if cache == "default" else cache
        if store is None:
            return self._latex()
        return store.latex(self, self._latex, code=(Claim.latex, Claim._latex, Claim.predicted_expr))

    def _latex(self) -> str:
        from theory.symbols import latex

        rhs = latex(self.predicted_expr())
        relation = r"\to" if self.kind is Kind.ASYMPTOTIC else "="
        return f"{self.symbol} {relation} {rhs}" if self.symbol else rhs


_REGISTRY: dict[str, Claim] = {}
_ORIGIN: dict[str, str] = {}
_LOADED = False


def register(claim: Claim) -> Claim:
    """Add a claim to the ledger; ids are unique. The registering module is recorded (:func:`origin`)."""
    import sys

    if claim.id in _REGISTRY and _REGISTRY[claim.id] is not claim:
        raise ValueError(f"claim id {claim.id!r} is registered twice")
    _REGISTRY[claim.id] = claim
    _ORIGIN[claim.id] = sys._getframe(1).f_globals.get("__name__", "?")
    return claim


def origin(claim_id: str) -> str:
    """The module whose :func:`register` call holds the claim (the one place to edit it)."""
    get_claim(claim_id)
    return _ORIGIN[claim_id]


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    from proofs_check.derivation_cache import watch_imports

    watch_imports()  # the derivation cache keys the source of the code imported now, not of later edits
    import proofs_check.claims as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"{pkg.__name__}.{info.name}")
    _LOADED = True


def all_claims(section: str | None = None) -> list[Claim]:
    """Every registered claim (optionally of one section), by section, then in registration order."""
    _load()
    if section is not None and section not in SECTIONS:
        raise DomainError(f"unknown section {section!r}; expected one of {', '.join(SECTIONS)}")
    claims = [c for c in _REGISTRY.values() if section is None or c.section == section]
    order = {cid: i for i, cid in enumerate(_REGISTRY)}
    return sorted(claims, key=lambda c: (SECTIONS.index(c.section), order[c.id]))


def get_claim(claim_id: str) -> Claim:
    """The claim with this id; :class:`UnknownClaimError` lists close matches."""
    _load()
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(claim_id, list(_REGISTRY), n=3)
        if claim_id in SECTIONS:
            hint = f"; {claim_id!r} is a section: select it with --section {claim_id}"
        else:
            hint = f"; did you mean {', '.join(close)}?" if close else "; run 'amverify list' to see all ids"
        raise UnknownClaimError(f"unknown claim id {claim_id!r}{hint}") from None


def evaluate(expr, params: Mapping[str, Any]) -> float:
    """Float value of a sympy expression at ``params`` (symbols matched by name).

    >>> import sympy as sp
    >>> evaluate(sp.Symbol("N") / sp.Symbol("d_k"), {"N": 3, "d_k": 4})
    0.75
    """
    import sympy as sp

    expr = sp.sympify(expr)
    subs = {}
    for s in expr.free_symbols:
        if s.name not in params:
            raise KeyError(f"expression {expr} needs parameter {s.name!r}, got {sorted(params)!r}")
        value = params[s.name]
        subs[s] = sp.nsimplify(value) if isinstance(value, float) else value
    # all at once (xreplace) rather than one symbol after another (subs): sympy re-simplifies every partly
    # substituted Max or Piecewise, which took 0.6 s of a claim's 0.64 s (expressivity.heads.four_exp_accuracy,
    # quick grid); the 2,379 predictions and control values of the three grids came out the same bits either way.
    # An expression that binds variables (an integral, a sum) keeps subs, which leaves bound variables alone.
    at_once = not expr.has(sp.Integral, sp.Sum, sp.Product, sp.Subs, sp.Lambda, sp.Derivative)
    return float(sp.N(expr.xreplace(subs) if at_once else expr.subs(subs), 30))
