"""A declared negative control that applies at no point of a claim's grid cannot fail: ``check`` calls the
claim underpowered (engine.idle_controls). A fresh-eye audit found six slips that left a control n/a at
every point (a control's prediction made the claim's own, an ``applies_when`` threshold moved, a grid moved
off the control's domain) and passed, because nothing asked that a control apply anywhere."""

import json

import sympy as sp

from numerics.estimate import exact_value
from proofs_check.engine import PASS, UNDERPOWERED, ClaimResult, SymbolicResult, check_claims, idle_controls
from proofs_check import ledger
from proofs_check.ledger import Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance
from proofs_check.report import summary, table_rows, to_json_dict
from theory.derivation import Derivation

x = sp.Symbol("x", positive=True)


def _claim(*controls):
    return Claim(
        id="basics.fake.idle", statement="a test double: the measurement equals x", anchor="-",
        provenance=Provenance.SUITE, kind=Kind.IDENTITY, estimand=Estimand("x", "none", "none"),
        params=(Param("x", 1, 10),), derivation=lambda: Derivation("x", x),
        measure=lambda rng, x: exact_value(float(x), method="exact"),
        grids={m: ({"x": 3}, {"x": 5}) for m in ("quick", "default", "full")},
        negative_controls=(NegativeControl("zero", "0", prediction=lambda: 0 * x),) + controls, atol=1e-9)


def _registered(monkeypatch, claim):
    monkeypatch.setitem(ledger._REGISTRY, claim.id, claim)
    return claim


def test_a_control_equal_to_the_prediction_everywhere_makes_the_claim_underpowered(monkeypatch):
    """Slip: the one-term-short control written with t for t - 1, so it is the prediction itself (n/a)."""
    claim = _registered(monkeypatch, _claim(NegativeControl("short", "x by a slip", prediction=lambda: x)))
    (result,) = check_claims([claim], mode="default", seed=1)
    assert all(p.verdict == PASS for p in result.points)
    assert result.idle_controls == ["short"] and result.verdict == UNDERPOWERED
    rows = [r for r in table_rows([result]) if r[1] == "controls"]
    assert rows and "short applied at no point of the default grid" in rows[0][6]
    assert summary([result])["underpowered"] == 1
    doc = json.loads(json.dumps(to_json_dict([result], seed=1, mode="default")))
    assert doc["claims"][0]["idle_controls"] == ["short"] and doc["claims"][0]["verdict"] == "underpowered"


def test_a_control_that_applies_at_one_point_is_enough(monkeypatch):
    """Slip the other way: a control counted idle where it is n/a at some points (as near misses are)."""
    claim = _registered(monkeypatch, _claim(NegativeControl("big_x", "2x", prediction=lambda: 2 * x,
                                                            applies_when=Constraint("x >= 5", lambda p: p["x"] >= 5))))
    (result,) = check_claims([claim], mode="quick", seed=1)
    assert result.idle_controls == [] and result.verdict == PASS
    never = _registered(monkeypatch, _claim(NegativeControl("huge_x", "2x", prediction=lambda: 2 * x,
                                                            applies_when=Constraint("x >= 7", lambda p: p["x"] >= 7))))
    (result,) = check_claims([never], mode="quick", seed=1)
    assert result.idle_controls == ["huge_x"] and result.verdict == UNDERPOWERED


def test_only_a_whole_grid_is_judged(monkeypatch):
    """Points that are not a mode's whole grid (eval's own parameters, a ClaimResult built by hand) are not
    judged for idle controls: a control may rightly not apply at the one point a user picked."""
    claim = _registered(monkeypatch, _claim(NegativeControl("big_x", "2x", prediction=lambda: 2 * x,
                                                            applies_when=Constraint("x >= 5", lambda p: p["x"] >= 5))))
    (whole,) = check_claims([claim], mode="default", seed=1)
    by_hand = ClaimResult(claim, SymbolicResult(claim.id, "verified"), whole.points[:1])
    assert by_hand.idle_controls == [] and by_hand.verdict == PASS
    assert idle_controls(claim, whole.points[:1]) == ["big_x"]  # the rule itself, on the first point alone
