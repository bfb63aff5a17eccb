"""``amverify derive``: checked derivation documents, failing steps named, docs/derivations kept current."""

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import sympy as sp

from proofs_check import ledger
from proofs_check.cli import main
from proofs_check.derivations import REGENERATE, render, stale_files, write_documents
from proofs_check.ledger import Claim, Estimand, Kind, Provenance, all_claims, get_claim
from theory.derivation import Derivation

ROOT = Path(__file__).resolve().parents[1]
x = sp.Symbol("x", positive=True)


def _fake_claim(claim_id, derivation):
    """A cited claim (no numeric side) whose derivation is given: enough for ``derive``."""
    return Claim(id=claim_id, statement="a test derivation", anchor="nowhere", provenance=Provenance.SUITE,
                 kind=Kind.CITED, estimand=Estimand("q", "none", "none"), params=(), derivation=derivation,
                 measure=None, grids={})


@pytest.fixture
def bad_claim(monkeypatch):
    claim = _fake_claim("basics.demo.bad_step", lambda: Derivation("wrong square", (x + 1) ** 2, lhs=sp.Symbol("y"))
                        .step(x**2 + 2 * x + 1, "expand").step(x**2 + 1, "drop the cross term")
                        .assume(x**2, "x large"))
    all_claims()  # load the ledger before adding to it
    monkeypatch.setitem(ledger._REGISTRY, claim.id, claim)
    return claim


def test_committed_derivations_are_current():
    """docs/derivations is exactly what the derive command writes for the current ledger."""
    stale = stale_files(all_claims(), str(ROOT / "docs" / "derivations"))
    assert not stale, (f"docs/derivations is stale ({', '.join(stale)}); regenerate every generated page with: "
                       f"python -m proofs_check docs   (or only the derivations: {REGENERATE})")


def test_failed_step_exits_1_and_is_named(bad_claim, capsys):
    """A step sympy cannot verify makes derive exit 1 and names the claim, the step and its reason."""
    assert main(["derive", bad_claim.id]) == 1
    out, err = capsys.readouterr()
    assert "basics.demo.bad_step: step 2 (drop the cross term) FAILED" in err
    assert "(2) [FAILED]" in out and "2. **FAILED**: drop the cross term" in out
    assert "1. **verified**: expand" in out and "3. **assumed**: x large" in out
    assert main(["derive", bad_claim.id, "--format", "tex"]) == 1
    assert r"\noindent(3)~\emph{assumed}: x large" in capsys.readouterr().out


def test_document_names_claim_anchor_provenance_and_marks():
    """A document carries the id, anchor, provenance, an align block and a mark on every step."""
    claim = get_claim("basics.linear.overcomplete_noise_floor")
    md = render(claim, "md").text
    assert claim.id in md and claim.anchor in md and "| provenance | suite |" in md
    assert "[cited]" in md and "[verified]" in md and r"\begin{aligned}" in md
    tex = render(claim, "tex").text
    assert r"\begin{align*}" in tex and r"\end{align*}" in tex and r"\emph{cited}" in tex
    assert r"overcomplete\char95\allowbreak noise\char95\allowbreak floor" in tex  # breakable id for LaTeX


def test_every_verified_claim_renders_without_failures():
    """All registered derivations render with every step verified, assumed or cited."""
    for claim in all_claims():
        assert render(claim).failures == (), claim.id


def test_stale_detection_and_pruning(tmp_path, bad_claim):
    """A changed, missing or orphaned generated file is reported stale; a full write prunes orphans."""
    claims = [get_claim("capacity.linear.inverse_snr_ratio"), get_claim("capacity.linear.inverse_snr_sphere")]
    docs = write_documents(claims, str(tmp_path))
    assert [d.failures for d in docs] == [(), ()]
    assert stale_files(claims, str(tmp_path)) == []
    target = tmp_path / "capacity.linear.inverse_snr_ratio.md"
    target.write_text(target.read_text().replace("d_{k} + 2", "d_{k}"))
    assert stale_files(claims, str(tmp_path)) == ["capacity.linear.inverse_snr_ratio.md"]
    write_documents(claims + [bad_claim], str(tmp_path))
    assert stale_files(claims, str(tmp_path)) == ["index.md", "basics.demo.bad_step.md"]
    write_documents(claims, str(tmp_path))
    assert not (tmp_path / "basics.demo.bad_step.md").exists()
    (tmp_path / "notes.md").write_text("hand-written, kept\n")
    write_documents(claims, str(tmp_path))
    assert (tmp_path / "notes.md").exists()


def test_check_flag_reports_stale_with_the_command(tmp_path, capsys):
    """``derive --check`` exits 1 on a stale directory and prints the regeneration command."""
    out = str(tmp_path / "d")
    assert main(["derive", "--out", out, "--section", "capacity", "--check"]) == 1
    assert "regenerate with: python -m proofs_check derive --out " + out in capsys.readouterr().err
    assert main(["derive", "--out", out]) == 0
    assert main(["derive", "--out", out, "--check"]) == 0
    assert len(os.listdir(out)) == len(all_claims()) + 1


def _rows(text):
    """The expressions of an align body, continuation lines (``&\\qquad``) joined to their row."""
    rows = []
    for line in text.split("\\\\\n"):
        if "&=" in line:
            rows.append(line.split("&=", 1)[1].split("&&")[0].split(r"\tag*")[0].strip())
        elif rows and line.lstrip().startswith(r"&\qquad"):
            rows[-1] += line.split(r"\tag*")[0]
    return rows


def test_no_rendered_step_repeats_its_predecessor():
    """Every row of every rendered derivation (Markdown and LaTeX) shows a new expression: a step that leaves
    the expression as it is (a side condition) is marked on the row it checks, not printed again."""
    for claim in all_claims():
        for fmt in ("md", "tex"):
            text = render(claim, fmt).text
            body = text.split(r"\begin{aligned}" if fmt == "md" else r"\begin{align*}")[1:]
            rows = _rows(body[0].split(r"\end")[0]) if body else []
            assert all(a != b for a, b in zip(rows, rows[1:])), (claim.id, fmt, rows)


@pytest.mark.parametrize("claim_id", ["basics.linear.crosstalk_decomposition", "capacity.linear.inverse_snr_ratio",
                                      "capacity.linear.inverse_snr_conditional", "context.delta.bounded_error"])
def test_derivation_steps_change_the_expression(claim_id):
    """The steps the issue found repeating now each change the expression, and the crosstalk step is derived."""
    derivation = get_claim(claim_id).derivation()
    exprs = [derivation.start] + [s.expr for s in derivation.steps]
    assert all(a != b for a, b in zip(exprs, exprs[1:])), claim_id
    if claim_id == "basics.linear.crosstalk_decomposition":
        assert len(derivation.steps) >= 3 and all(c.status == "verified" for c in derivation.verify())


# first steps that still restate their start (sympy evaluates the start to the step's expression on
# construction); each should start from an unevaluated form, as capacity.linear.capacity_slope now does
FIRST_STEP_RESTATES_START = {"ffn.memory.slot_identity",
    "basics.linear.memory_accumulation", "update.objective.linear_attention", "update.fixed_point.additive_growth",
    "update.deltaformer.reduces_to_deltanet", "expressivity.householder.permutation_tracking",
    "context.additive.linear_snr_finite", "context.least_squares.self_influence"}


def test_no_step_repeats_its_predecessor():
    """Every step without a side condition changes the expression (a step sympy had already made when
    building the previous expression is folded into it, see ``Derivation.step``); the first steps listed
    above are the known exceptions, and the list may only shrink."""
    repeats, first = [], set()
    for claim in all_claims():
        derivation = claim.derivation()
        exprs = [derivation.start] + [s.expr for s in derivation.steps]
        for k, (a, st) in enumerate(zip(exprs, derivation.steps), start=1):
            if st.expr == a and st.check is None:
                (first.add(claim.id) if k == 1 else repeats.append((claim.id, k, st.why)))
    assert not repeats, repeats
    assert first <= FIRST_STEP_RESTATES_START, sorted(first - FIRST_STEP_RESTATES_START)
    assert first == FIRST_STEP_RESTATES_START, f"fixed, remove from the list: {sorted(FIRST_STEP_RESTATES_START - first)}"


def test_a_repeated_step_is_folded_into_its_predecessor():
    """``step`` with an unchanged expression joins its reason to the previous step instead of adding a row."""
    d = Derivation("t", (x + 1) ** 2).step(x**2 + 2 * x + 1, "expand").step(x**2 + 2 * x + 1, "collect")
    assert [s.why for s in d.steps] == ["expand; collect"] and [c.status for c in d.verify()] == ["verified"]


_x = sp.Symbol("x", real=True)
_y = sp.Symbol("y", positive=True)


@pytest.mark.parametrize("expr, zero", [
    ((_x**2 - 1) / (_x - 1) - (_x + 1), True),  # the rational normal form proves it
    (sp.exp(_x) * (sp.exp(_x) + 1) - sp.exp(2 * _x) - sp.exp(_x), True),  # needs simplify (exp(2x) = exp(x)^2)
    (sp.sqrt(_y) ** 2 / _y - 1, True),
    (sp.cosh(_x) - (sp.exp(_x) + sp.exp(-_x)) / 2, True),
    ((_x**2 - 1) / (_x - 1) - _x, False),
    (sp.exp(_x) ** 2 - sp.exp(2 * _x) + sp.Rational(1, 10**12), False),
    (sp.expand((_x + 1) ** 5) - (_x + 1) ** 5 + _x**3, False),  # one coefficient off
    (sp.sqrt(_y) - _y / sp.sqrt(_y) + sp.exp(-_y) / 10**9, False),
])
def test_is_zero_proves_identities_and_rejects_near_misses(expr, zero):
    from theory.derivation import is_zero

    assert is_zero(expr) is zero


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=2, max_size=4), st.lists(st.integers(-5, 5), min_size=2, max_size=4),
       st.integers(-3, 3).filter(bool))
def test_is_zero_on_products_of_polynomials_in_exp(p, q, slip):
    """A product and its expansion are one expression; the same with a constant slipped in is not."""
    from theory.derivation import is_zero

    u = sp.exp(_x)
    P = sum(c * u**i for i, c in enumerate(p)) + _y
    Q = sum(c * _x**i for i, c in enumerate(q)) + 1 / (_y + 1)
    assert is_zero(P * Q - sp.expand(P * Q))
    assert not is_zero(P * Q - sp.expand(P * Q) + sp.Rational(slip, 7))
