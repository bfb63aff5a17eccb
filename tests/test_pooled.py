"""A statistical claim's points judged together (engine.pooled): a bias of one sign at every point, below each
point's resolution, fails the claim; a true claim passes, with as many points as a claim may have."""

import math

import numpy as np
import pytest
import sympy as sp

from numerics.estimate import mean_of, monte_carlo
from proofs_check.engine import (FAIL, PASS, SEPARATION, Z, ClaimResult, PointResult, SymbolicResult, check_point,
                                 final_verdict, pooled)
from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
from proofs_check.report import summary, table_rows, to_json_dict
from theory.derivation import Derivation


def _claim(k: int, *, bias: float = 0.0, kind=Kind.STATISTICAL, atol: float = 0.0):
    """A Monte Carlo claim with ``k`` points n = 1..k whose prediction is 10 n and whose trials are
    N(10 n (1 + bias), n^2): every point's relative SE is the same, and so is its relative bias."""

    @monte_carlo(mean_of("y", "normal trials"))
    def measure(rng, *, n, trials, variant=None):
        return {"y": 10.0 * n * (1.0 + bias) + n * rng.standard_normal(trials)}

    n = sp.Symbol("n", positive=True)
    return Claim(
        id="basics.fake.pooled", statement="a test double", anchor="-", provenance=Provenance.SUITE, kind=kind,
        estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 100),),
        derivation=lambda: Derivation("fake", 10 * n), measure=measure,
        grids={m: tuple({"n": i} for i in range(1, k + 1)) for m in ("quick", "default", "full")},
        trials={m: 100 for m in ("quick", "default", "full")}, max_batches=400, atol=atol,
        negative_controls=(NegativeControl("near", "+2 %", prediction=lambda: sp.Float(10.2) * n, near_miss=True),),
        bound=(lambda params: 0.0) if kind is Kind.ASYMPTOTIC else None,
    )


def _run(claim, seed=0) -> ClaimResult:
    points = [final_verdict(claim, check_point(claim, params, seed=seed, mode="default"), "default")
              for params in claim.grids["default"]]
    return ClaimResult(claim, SymbolicResult(claim.id, "verified"), points)


def test_a_bias_below_every_points_resolution_fails_the_claim_when_pooled():
    """A 0.4 % bias at each of 11 points (the m - 1 divisor in a mean of 256 draws): each point's 2 % target
    lets it pass, pooled it is about 9 SEs off. Slips: no pooled check, the points' z averaged (divided by
    k, not sqrt(k): 2.8 SEs, passes)."""
    result = _run(_claim(11, bias=0.004))
    assert all(p.verdict == PASS for p in result.points)
    together = result.pooled
    assert together.verdict == FAIL and together.z > Z and "above the prediction" in together.message
    assert result.verdict == FAIL
    assert 0.004 < min(p.resolution for p in result.points)
    assert together.resolution < min(p.resolution for p in result.points) / 2.5  # about sqrt(11) finer


@pytest.mark.parametrize("seed", range(3))
def test_a_true_claim_with_many_points_passes_when_pooled(seed):
    """Sixty unbiased points: the pooled z is a standard normal. Slip: the points' |z| summed (about 6.2 SEs
    with 60 points, a false failure)."""
    result = _run(_claim(60), seed=seed)
    assert result.pooled.verdict == PASS and abs(result.pooled.z) < 4 and result.verdict == PASS


def test_the_pooled_resolution_is_the_bias_it_surely_detects():
    """(SEPARATION sqrt(k) + allowance) / sum(|predicted| / SE): the relative bias that moves the pooled z by
    SEPARATION beyond its tolerance. Computed here by hand from the points; a bias of 1.3 times it fails."""
    result = _run(_claim(11))
    points = result.points
    expected = SEPARATION * math.sqrt(11) / sum(abs(p.predicted) / p.standard_error for p in points)
    assert result.pooled.resolution == pytest.approx(expected, rel=1e-12)
    assert result.pooled.tolerance == pytest.approx(Z, rel=1e-12)
    assert _run(_claim(11, bias=1.3 * expected)).pooled.verdict == FAIL


def test_the_points_fixed_tolerances_widen_the_pooled_tolerance():
    """A point whose atol covers a known bias passes; pooled, the same bias is covered by the points' atol in
    SE units. Slip: the pooled z held to Z alone (the claim then fails on the bias its atol allows)."""
    result = _run(_claim(11, bias=0.004, atol=0.005))
    allowance = sum((p.tolerance - Z * p.standard_error) / p.standard_error for p in result.points)
    assert result.pooled.tolerance == pytest.approx(Z + allowance / math.sqrt(11), rel=1e-12)
    assert result.pooled.verdict == PASS and result.pooled.z > Z


def test_only_statistical_claims_with_two_or_more_finite_points_are_pooled():
    """An asymptotic claim's estimate may sit anywhere within its finite-size bound (its z is not centred),
    so it is not pooled; nor is one point, nor a point without a finite z."""
    assert pooled(_claim(3, kind=Kind.ASYMPTOTIC), _run(_claim(3)).points) is None
    assert _run(_claim(1)).pooled is None
    points = _run(_claim(3)).points
    broken = [points[0], points[1], PointResult(**{**points[2].__dict__, "z": math.nan})]
    assert pooled(_claim(3), broken) is None


def test_a_pooled_failure_is_in_the_table_the_json_and_the_summary():
    result = _run(_claim(11, bias=0.004))
    rows = table_rows([result])
    assert rows[-1][1] == "pooled, 11 points" and rows[-1][6].startswith("fail (its 11 points together")
    report = to_json_dict([result], seed=0, mode="default")
    assert report["claims"][0]["pooled"]["verdict"] == "fail" and report["claims"][0]["verdict"] == "fail"
    assert summary([result])["pooled"] == {"pass": 0, "fail": 1}
    assert np.isfinite(report["claims"][0]["pooled"]["z"])


def test_calibration_lists_a_pooled_failure_the_pooled_z_and_the_points_planned_again():
    """calibrate's report names a pooled failure as such (not as the symbolic check), summarises the pooled z
    over claims and runs, and lists the points a later look planned again."""
    from dataclasses import replace

    from proofs_check.calibration import markdown, summarise

    biased, true = _run(_claim(11, bias=0.004)), _run(_claim(11), seed=1)
    true.points[3] = replace(true.points[3], looks=2)
    report = summarise({0: [biased], 1: [true]}, mode="default")
    (failure,) = report["spurious_failures"]
    assert failure["seed"] == 0 and failure["regime"] == "pooled, 11 points" and "together" in failure["message"]
    assert report["pooled_overall"]["n"] == 2
    assert report["pooled_overall"]["max_abs"] == pytest.approx(abs(biased.pooled.z))
    assert report["points_planned_again"] == [{"seed": 1, "claim": true.claim.id, "regime": "n=4", "looks": 2}]
    assert "| pooled z per claim and run" in markdown(report)


def test_a_bias_below_the_prediction_fails_too():
    """The pooled test is two-sided. Slip: only a pooled z above the tolerance fails."""
    result = _run(_claim(11, bias=-0.004))
    assert result.pooled.verdict == FAIL and result.pooled.z < -Z and "below the prediction" in result.pooled.message


def test_a_pooled_failure_outranks_an_underpowered_point():
    """A claim that fails pooled is 'fail', whatever else its points say (underpowered is a weaker verdict).
    Slip: the underpowered points ranked first."""
    from dataclasses import replace

    result = _run(_claim(11, bias=0.004))
    result.points[0] = replace(result.points[0], verdict="underpowered")
    assert result.pooled.verdict == FAIL and result.verdict == FAIL


def test_the_summary_counts_pooled_verdicts_not_claim_verdicts():
    """A claim with a failing point whose points pool well: one pooled pass, the claim a fail. Slip: the
    pooled counts read the claims' verdicts."""
    from dataclasses import replace

    result = _run(_claim(11))
    result.points[0] = replace(result.points[0], verdict=FAIL)
    assert result.verdict == FAIL and summary([result])["pooled"] == {"pass": 1, "fail": 0}


def test_predictions_of_both_signs_are_pooled_by_their_sign():
    """Predictions -50..50: a formula 3 % off everywhere moves each z away from zero on its own side, so the
    points pool with the signs of their predictions, and the pooled z catches what plain summing cancels.
    Slip: the z summed without their signs."""
    claim = _claim(11, bias=0.03)
    points = [PointResult(**{**p.__dict__, "predicted": p.predicted * (1 if i % 2 else -1),
                             "measured": p.measured * (1 if i % 2 else -1), "z": p.z * (1 if i % 2 else -1)})
              for i, p in enumerate(_run(claim).points)]
    together = pooled(claim, points)
    assert together.verdict == FAIL and together.z > Z and "further from zero" in together.message
