"""Guards found by mutation-testing the ledger, the derivation documents, the findings table and the strategies
(a fresh-eye audit, 2026-12-02): each test pins a property that a plausible one-line slip broke silently.

Expected values are written from the specification (docstrings, docs), never taken from the code under test.
Nothing here loads the ledger's claim modules: claims are built in place and registered in a private registry.
"""

import math

import pytest
import sympy as sp
from hypothesis import find, settings
from hypothesis.errors import NoSuchExample

from proofs_check import derivations, ledger
from proofs_check.derivations import DerivationDocument, render, render_index, stale_files, write_documents
from proofs_check.findings import _cell, _pct, _sizes
from proofs_check.ledger import (Claim, Constraint, DomainError, Estimand, Kind, NegativeControl, Param, Provenance,
                                 UnknownClaimError, evaluate)
from proofs_check.strategies import domain_strategy, off_typical_norms, params_strategy
from theory.derivation import Derivation, StepCheck

N_SYM, D_SYM = sp.Symbol("N", positive=True, integer=True), sp.Symbol("d_k", positive=True, integer=True)
x = sp.Symbol("x", positive=True)
PARAMS = (Param("N", 2, 10), Param("d_k", 1, 16))
GRIDS = {"quick": ({"N": 2, "d_k": 4},), "default": ({"N": 3, "d_k": 8},), "full": ({"N": 4, "d_k": 16},)}


def _derivation():
    return Derivation("ratio", N_SYM / D_SYM).step((N_SYM + 0) / D_SYM, "nothing to do")


def _claim(**changes) -> Claim:
    """A small identity claim ``N / d_k`` with ``N <= d_k``; ``changes`` override any field."""
    fields = dict(id="basics.audit.ratio", statement="a test claim", anchor="nowhere", provenance=Provenance.SUITE,
                  kind=Kind.IDENTITY, estimand=Estimand("q", "none", "none"), params=PARAMS, derivation=_derivation,
                  measure=lambda rng, **p: None, grids=GRIDS,
                  constraints=(Constraint("N <= d_k", lambda v: v["N"] <= v["d_k"]),),
                  negative_controls=(NegativeControl("off_by_one", "N + 1 for N",
                                                     prediction=lambda: (N_SYM + 1) / D_SYM),))
    fields.update(changes)
    return Claim(**fields)


@pytest.fixture
def registry(monkeypatch):
    """An empty, already 'loaded' ledger, so that register/get_claim/all_claims work on test claims only."""
    monkeypatch.setattr(ledger, "_REGISTRY", {})
    monkeypatch.setattr(ledger, "_ORIGIN", {})
    monkeypatch.setattr(ledger, "_LOADED", True)


# --- Param.coerce / describe -------------------------------------------------------------------------------

def test_coerce_accepts_both_ends_of_the_closed_range_and_returns_an_int():
    """A domain is the closed range [low, high]: both ends are valid, and an integer parameter comes back an int."""
    p = Param("N", 2, 10)
    assert p.coerce(2) == 2 and p.coerce(10) == 10
    value = p.coerce("3")
    assert value == 3 and type(value) is int
    for outside in (1, 11):
        with pytest.raises(DomainError, match=r"outside its domain \[2, 10\]"):
            p.coerce(outside)


def test_coerce_rejects_non_integers_and_infinity():
    """An integer parameter rejects 2.5 (never truncates it); any parameter rejects infinity, even an unbounded one."""
    with pytest.raises(DomainError, match="must be an integer"):
        Param("N", 2, 10).coerce(2.5)
    for p in (Param("N", 2, math.inf), Param("tau", 0.0, math.inf, integer=False)):
        with pytest.raises(DomainError, match="must be finite"):
            p.coerce("inf")


def test_describe_names_the_kind_of_number():
    """``describe`` says whether a parameter is an integer or a real."""
    assert Param("N", 2, 10).describe() == "N in [2, 10] (integer)"
    assert Param("tau", 0.5, 4, integer=False, description="temperature").describe() == \
        "tau in [0.5, 4] (real): temperature"


# --- Claim records -----------------------------------------------------------------------------------------

def test_negative_control_needs_exactly_one_side_and_a_route_only_with_a_prediction():
    """A control is a wrong prediction or a wrong variant, not both; ``route`` pairs only with a prediction."""
    with pytest.raises(ValueError, match="exactly one of prediction, variant"):
        NegativeControl("both", "x", prediction=lambda: 1, variant="v")
    with pytest.raises(ValueError, match="a route alone is variant="):
        NegativeControl("route", "x", variant="v", route="r")


@pytest.mark.parametrize("changes, needle", [
    (dict(negative_controls=()), "needs at least one negative control"),
    (dict(measure=None), "needs a numeric side"),
    (dict(grids={**GRIDS, "default": ()}), "no regime grid for modes ['default']"),
    (dict(kind=Kind.ASYMPTOTIC), "needs a finite-size bound"),
    (dict(id="basics.audit.ratio.extra"), "must look like '<section>.<topic>.<name>'"),
    (dict(id="physics.audit.ratio"), "must look like '<section>.<topic>.<name>'"),
])
def test_an_incomplete_checked_claim_is_refused(changes, needle):
    """An identity claim without a control, a numeric side or a grid for every mode (an empty grid counts as
    none), an asymptotic claim without a bound, and a malformed id are refused when the record is built."""
    with pytest.raises(ValueError) as info:
        _claim(**changes)
    assert needle in str(info.value)


def test_validate_names_unknown_and_missing_parameters():
    """A parameter the claim does not have is an error (never silently dropped), as is a missing one."""
    claim = _claim()
    with pytest.raises(DomainError, match=r"unknown parameter\(s\) \['dk'\]"):
        claim.validate({"N": 2, "d_k": 4, "dk": 4})
    with pytest.raises(DomainError, match=r"missing parameter\(s\) \['d_k'\]"):
        claim.validate({"N": 2})


def test_constraints_are_checked_on_the_coerced_numbers():
    """Constraints see numbers, not the strings a user typed: N=3, d_k=12 holds ('3' <= '12' would not), and
    N=10, d_k=9 violates N <= d_k ('10' <= '9' would hold)."""
    claim = _claim()
    assert claim.validate({"N": "3", "d_k": "12"}) == {"N": 3, "d_k": 12}
    with pytest.raises(DomainError, match="violate the constraint N <= d_k"):
        claim.validate({"N": "10", "d_k": "9"})


def test_default_params_come_from_the_default_grid():
    """``amverify eval`` fills unset parameters from the first point of the *default* grid."""
    assert _claim().default_params() == {"N": 3, "d_k": 8}


def test_an_explicit_prediction_overrides_the_derivation_result_and_is_rendered():
    """``prediction`` replaces ``derivation().result``; an asymptotic claim reads ``lhs \\to rhs``, an identity
    ``lhs = rhs``, and a claim without a symbol is its right-hand side alone."""
    claim = _claim(prediction=lambda: 2 * N_SYM)
    assert claim.predicted_expr() == 2 * N_SYM
    assert claim.latex(cache=None) == "2 N"
    assert _claim(symbol="R").latex(cache=None) == r"R = \frac{N}{d_{k}}"
    asymptotic = _claim(kind=Kind.ASYMPTOTIC, bound=lambda p: 0.0, symbol="R")
    assert asymptotic.latex(cache=None) == r"R \to \frac{N}{d_{k}}"


# --- the registry ------------------------------------------------------------------------------------------

def test_register_refuses_a_second_claim_with_the_same_id_and_records_the_caller(registry):
    """Ids are unique (a second record under an id is an error, the same record again is not), and
    :func:`origin` names the module whose ``register`` call holds the claim."""
    claim = ledger.register(_claim())
    assert ledger.register(claim) is claim
    with pytest.raises(ValueError, match="registered twice"):
        ledger.register(_claim())
    assert ledger.origin(claim.id) == __name__
    with pytest.raises(UnknownClaimError):
        ledger.origin("basics.audit.nothing")


def test_all_claims_orders_by_section_then_registration_and_refuses_unknown_sections(registry):
    """Claims come by section (in SECTIONS order), then in registration order (not alphabetically); an unknown
    section is an error, not an empty list."""
    for cid in ("capacity.audit.zeta", "basics.audit.beta", "capacity.audit.alpha"):
        ledger.register(_claim(id=cid))
    assert [c.id for c in ledger.all_claims()] == ["basics.audit.beta", "capacity.audit.zeta", "capacity.audit.alpha"]
    assert [c.id for c in ledger.all_claims("capacity")] == ["capacity.audit.zeta", "capacity.audit.alpha"]
    with pytest.raises(DomainError, match="unknown section 'physics'"):
        ledger.all_claims("physics")


def test_an_unknown_id_suggests_close_matches_in_a_plain_message(registry):
    """A mistyped id names the close matches, and the message is printed as written (not quoted like a KeyError)."""
    ledger.register(_claim())
    with pytest.raises(UnknownClaimError) as info:
        ledger.get_claim("basics.audit.ratios")
    assert str(info.value) == "unknown claim id 'basics.audit.ratios'; did you mean basics.audit.ratio?"


def test_evaluate_reads_a_float_as_the_decimal_it_prints():
    """A float parameter is the decimal it prints (0.1 is 1/10), so an exact cancellation stays exactly zero:
    (1/10)^2 - 1/100 = 0 (the binary double 0.1 would leave about 5.6e-19)."""
    tau = sp.Symbol("tau", positive=True)
    assert evaluate(tau**2 - sp.Rational(1, 100), {"tau": 0.1}) == 0.0


# --- derivation documents ----------------------------------------------------------------------------------

def _cited(claim_id, derivation):
    """A cited claim (no numeric side) with the given derivation: enough to render."""
    return _claim(id=claim_id, kind=Kind.CITED, derivation=derivation, params=(), constraints=(), measure=None,
                  grids={}, negative_controls=())


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(derivations, "_CACHE", {})


def _square():
    return Derivation("a square", (x + 1) ** 2).step(x**2 + 2 * x + 1, "expand")


def _assumed():
    return Derivation("a limit", x + 1).assume(x, "x large").assume(x, "x larger still")


def test_checked_derivation_is_cached_per_claim(fresh_cache):
    """Each claim gets its own derivation from the cache, not the first one verified."""
    first, second = _cited("basics.audit.square", _square), _cited("basics.audit.limit", _assumed)
    assert derivations.checked_derivation(first)[0].title == "a square"
    assert derivations.checked_derivation(second)[0].title == "a limit"


def test_status_counts_count_each_status_in_order_of_appearance():
    """``3 verified, 1 cited``: the count first, every step counted; no steps at all reads ``no steps``."""
    checks = [StepCheck(i, "w", s) for i, s in enumerate(["verified", "verified", "cited", "verified"], 1)]
    assert derivations.status_counts(checks) == "3 verified, 1 cited"
    assert derivations.status_counts([]) == "no steps"


def test_render_refuses_an_unknown_format_and_marks_cited_facts(fresh_cache):
    """Only md and tex are formats; a cited claim's kind says it is recorded, not verified; assumed steps are
    not failures."""
    claim = _cited("basics.audit.limit", _assumed)
    with pytest.raises(ValueError, match="format 'pdf' is not one of"):
        render(claim, "pdf")
    doc = render(claim, "md")
    assert doc.failures == ()
    assert "| kind | cited fact (recorded, not verified) |" in doc.text


def test_a_failed_step_is_spelled_out_in_both_formats_with_its_detail_escaped(fresh_cache, monkeypatch):
    """The md page ends with ``**FAILED step k** (why): detail``; the tex page escapes the detail like any prose
    (a bare % would comment out the rest of the LaTeX line)."""
    claim = _cited("basics.audit.square", _square)
    checks = [StepCheck(1, "expand", "failed", "off by 90% of x")]
    monkeypatch.setitem(derivations._CACHE, claim.derivation, (_square(), checks))
    assert "**FAILED step 1** (expand): off by 90% of x" in render(claim, "md").text
    tex = render(claim, "tex").text
    assert r"\textbf{FAILED step 1} (expand): off by 90\% of x\par" in tex


def test_file_names_and_the_index_follow_the_format(tmp_path, fresh_cache):
    """A tex document is ``<id>.tex`` and the tex index ``derivations.tex``; the md index links ``<id>.md``;
    ``index=False`` writes no index; a missing output folder is created."""
    claim = _cited("basics.audit.square", _square)
    assert DerivationDocument("a.b.c", "", ()).filename("tex") == "a.b.c.tex"
    assert "| [`basics.audit.square`](basics.audit.square.md) |" in render_index([claim])
    out = tmp_path / "new" / "dir"
    write_documents([claim], str(out), "tex")
    assert sorted(p.name for p in out.iterdir()) == ["basics.audit.square.tex", "derivations.tex"]
    bare = tmp_path / "bare"
    write_documents([claim], str(bare), index=False)
    assert [p.name for p in bare.iterdir()] == ["basics.audit.square.md"]


def test_pruning_touches_only_generated_files_of_the_same_format(tmp_path, fresh_cache):
    """Writing tex never deletes the md pages beside it; ``prune=False`` keeps an orphaned page."""
    square, limit = _cited("basics.audit.square", _square), _cited("basics.audit.limit", _assumed)
    write_documents([square, limit], str(tmp_path), "md")
    write_documents([square], str(tmp_path), "tex")
    assert (tmp_path / "basics.audit.limit.md").exists() and (tmp_path / "index.md").exists()
    write_documents([square], str(tmp_path), "md", prune=False)
    assert (tmp_path / "basics.audit.limit.md").exists()


def test_stale_files_sees_a_missing_file_and_a_whitespace_change(tmp_path, fresh_cache):
    """Staleness is byte-for-byte: a trailing blank line makes a page stale, and a deleted page is stale."""
    claims = [_cited("basics.audit.square", _square), _cited("basics.audit.limit", _assumed)]
    write_documents(claims, str(tmp_path))
    with open(tmp_path / "basics.audit.square.md", "a", encoding="utf-8") as fh:
        fh.write("\n")
    (tmp_path / "basics.audit.limit.md").unlink()
    assert stale_files(claims, str(tmp_path)) == ["basics.audit.square.md", "basics.audit.limit.md"]


def test_symbol_families_and_matrix_summaries():
    """A lone ``k_0`` is itself, two or more ``k_0, k_1`` are the family ``k_{i}``; a matrix too wide to print is
    described as 'of polynomials' only when every entry is one."""
    k = sp.symbols("k_0:8")
    assert derivations._families({k[0]}) == "k_{0}"
    assert derivations._families({k[0], k[1]}) == "k_{i}"
    poly = sp.Matrix(1, 8, [s**2 + 3 * s + 1 for s in k])  # about 53 em wide
    assert "matrix of polynomials in" in derivations.math_latex(poly)
    mixed = poly.copy()
    mixed[0, 0] = sp.exp(k[0])
    assert "matrix of expressions in" in derivations.math_latex(mixed)



def test_a_piecewise_case_that_cannot_be_cut_to_the_width_is_not_printed_case_by_case():
    """Cases are printed one after another only when every line fits the room; a case whose fraction cannot be
    cut (about 26 em here) in a 12 em room gives None, so the caller summarises the expression instead."""
    k = sp.symbols("k_0:12", positive=True)
    assert derivations._piecewise_lines(sp.Piecewise((1 / sum(k), x > 1), (0, True)), 12.0) is None

# --- the findings table ------------------------------------------------------------------------------------

@pytest.mark.parametrize("gap, text", [
    (0.0123, "+1.23 %"), (-0.0123, "-1.23 %"), (0.5, "paper/exact = 1.5"), (-0.6, "paper/exact = 0.4"),
    (1.0, "paper/exact = 2"), (math.inf, "inf"), (-math.inf, "-inf"), (math.nan, "undefined"),
])
def test_a_relative_gap_is_a_signed_percentage_or_a_ratio_from_half_on(gap, text):
    """``paper / exact - 1`` reads as a signed percentage; off by half or more (either way) as the ratio
    paper/exact; an infinite gap keeps its sign and an undefined one (nan) says so, never 'inf' or 'nan %'."""
    assert _pct(gap) == text


def test_table_cells_escape_pipes_and_join_lines_and_sizes_name_tau():
    """A cell never breaks the Markdown table (a ``|`` is escaped, a newline becomes a space); the sizes shown
    include the temperature but not the norms."""
    assert _cell("||k||\nnext") == r"\|\|k\|\| next"
    assert _sizes({"N": 256, "d_k": 64, "key_norm2": 64, "tau": 2}) == "N = 256, d_k = 64, tau = 2"


# --- hypothesis strategies ---------------------------------------------------------------------------------

NORM_PARAMS = (Param("N", 2, 10), Param("d_k", 1, 16), Param("d_v", 1, 16), Param("d_ff", 1, 64),
               Param("key_norm2", 0.0, 1e3, integer=False), Param("value_norm2", 0.0, 1e3, integer=False))
FIND = settings(max_examples=80, database=None)


def _never(strategy, condition) -> bool:
    try:
        find(strategy, condition, settings=FIND)
    except NoSuchExample:
        return True
    return False


def test_caps_narrow_the_domain_and_never_widen_it():
    """Caps narrow a parameter's range (both ends reachable); caps wider than the domain stay inside it; the
    claim's constraints filter every draw; a claim's registered caps are used by ``params_strategy``."""
    claim = _claim()
    narrow = domain_strategy(claim, {"N": (3, 5)})
    assert _never(narrow, lambda v: not 3 <= v["N"] <= 5)
    assert find(narrow, lambda v: v["N"] == 5, settings=FIND)["N"] == 5
    wide = domain_strategy(claim, {"N": (0, 100), "d_k": (0, 100)})
    assert _never(wide, lambda v: not (2 <= v["N"] <= 10 and 1 <= v["d_k"] <= 16))
    assert _never(wide, lambda v: v["N"] > v["d_k"])
    assert _never(params_strategy(_claim(strategy={"N": (3, 4)})), lambda v: not 3 <= v["N"] <= 4)


def test_caps_naming_no_parameter_or_an_empty_range_are_refused():
    """A cap or derived parameter the claim does not have (a typo such as ``dk``) is an error naming it, and a
    cap that leaves no value of the domain is an error naming the parameter; neither is silently ignored."""
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['dk'\]"):
        domain_strategy(_claim(), {"dk": (1, 4)})
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['key_norm2'\]"):
        domain_strategy(_claim(), derived={"key_norm2": lambda v: v["d_k"]})
    with pytest.raises(ValueError, match=r"N: caps \(11, 20\) leave nothing of \[2, 10\]"):
        domain_strategy(_claim(), {"N": (11, 20)})


def test_off_typical_norms_derives_the_norms_off_their_typical_values():
    """The derived norms follow ``key_fraction * key_dim`` and ``value_fraction * d_v`` and are off the typical
    ||k||^2 = d_k, ||v||^2 = d_v by default (so a formula blind to the realised norms fails)."""
    claim = _claim(params=NORM_PARAMS, constraints=())
    default = off_typical_norms({})(claim)
    assert _never(default, lambda v: v["key_norm2"] == v["d_k"] or v["value_norm2"] == v["d_v"])
    custom = off_typical_norms({}, key_dim="d_ff", key_fraction=0.25, value_fraction=2.0)(claim)
    assert _never(custom, lambda v: v["key_norm2"] != 0.25 * v["d_ff"] or v["value_norm2"] != 2.0 * v["d_v"])


@pytest.mark.parametrize(("low", "high"), [(5, 4), (1.0, float("nan")), (float("nan"), 2)])
def test_a_parameter_with_an_empty_domain_is_refused(low, high):
    """Param(low > high) (or a NaN end) would refuse every value and give a strategy nothing to draw: it is
    refused at construction, naming the parameter and the range."""
    with pytest.raises(ValueError, match=r"parameter 'n': empty domain"):
        Param("n", low, high)


def test_a_one_point_domain_is_allowed():
    """low == high is a fixed value, not an empty domain."""
    assert Param("n", 3, 3).coerce("3") == 3
