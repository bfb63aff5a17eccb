"""The comparison engine: NaN and low ESS are failures, tolerances follow the method guide, seeds are stable."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from numerics.estimate import Estimate, mean_estimate, ratio_of_means
from proofs_check.engine import ERROR, FAIL, FALSE_FAILURE_BUDGET, MAX_CHECKS, MIN_ESS, PASS, Z, check_point
from proofs_check.ledger import (Claim, DomainError, Estimand, Kind, NegativeControl, Param, Provenance,
                                 get_claim)
from proofs_check.seeds import point_rng
from theory.derivation import Derivation


def _fake_claim(measure, kind=Kind.STATISTICAL, prediction=1.0):
    import sympy as sp

    return Claim(
        id="basics.fake.claim", statement="a test double", anchor="-", provenance=Provenance.SUITE, kind=kind,
        estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
        derivation=lambda: Derivation("fake", sp.Float(prediction)), measure=measure,
        grids={m: ({"n": 1},) for m in ("quick", "default", "full")},
        negative_controls=(NegativeControl("wrong", "2", prediction=lambda: sp.Integer(2)),),
    )


@pytest.mark.parametrize("bad", [
    Estimate(math.nan, 0.1, 10), Estimate(1.0, math.nan, 10), Estimate(math.inf, 0.1, 10),
    Estimate(1.0, 0.1, 10, ess=math.nan),
])
def test_non_finite_estimate_is_an_error_not_a_pass(bad):
    """NaN or inf anywhere in an estimate fails the check (verdict 'error')."""
    claim = _fake_claim(lambda rng, n: bad)
    assert check_point(claim, {"n": 1}, seed=0).verdict == ERROR


def test_low_effective_sample_size_is_an_error():
    """An estimate that agrees with theory but has ESS below MIN_ESS is an error, not a pass."""
    claim = _fake_claim(lambda rng, n: Estimate(1.0, 0.01, 10_000, ess=MIN_ESS / 2))
    assert check_point(claim, {"n": 1}, seed=0).verdict == ERROR
    ok = _fake_claim(lambda rng, n: Estimate(1.0, 0.01, 10_000, ess=MIN_ESS * 2))
    assert check_point(ok, {"n": 1}, seed=0).verdict == PASS


def test_statistical_rule_is_z_times_se():
    """Pass iff |estimate - exact| <= z SE (plus float atol)."""
    inside = _fake_claim(lambda rng, n: Estimate(1.0 + 0.99 * Z * 0.01, 0.01, 100))
    outside = _fake_claim(lambda rng, n: Estimate(1.0 + 1.01 * Z * 0.01, 0.01, 100))
    assert check_point(inside, {"n": 1}, seed=0).verdict == PASS
    assert check_point(outside, {"n": 1}, seed=0).verdict == FAIL


def test_z_comes_from_the_false_failure_budget():
    """z is the two-sided Bonferroni quantile of the family-wise budget."""
    assert Z == pytest.approx(norm.isf(FALSE_FAILURE_BUDGET / (2 * MAX_CHECKS)))
    assert 5.0 < Z < 6.0


def test_negative_control_verdicts_are_reported():
    """A wrong prediction far from the measurement is reported rejected."""
    claim = _fake_claim(lambda rng, n: Estimate(1.0, 0.01, 100))
    (control,) = check_point(claim, {"n": 1}, seed=0).controls
    assert control.verdict == "rejected"


def test_domain_errors_name_the_constraint():
    """Out-of-domain parameters raise DomainError naming the parameter and its range."""
    claim = get_claim("capacity.linear.inverse_snr_mean")
    with pytest.raises(DomainError, match=r"d_k=3 is outside its domain \[5, 1024\]"):
        claim.validate({"N": 10, "d_k": 3, "d_v": 8})
    with pytest.raises(DomainError, match="N <= d_k"):
        get_claim("basics.linear.orthonormal_noise_free").validate({"N": 9, "d_k": 4, "d_v": 2})


def test_point_reproduces_alone_and_independent_of_order():
    """A point's random stream depends only on (seed, claim, params, replicate)."""
    a = point_rng(7, "x.y.z", {"N": 3, "d": 2}).standard_normal(4)
    b = point_rng(7, "x.y.z", {"d": 2, "N": 3}).standard_normal(4)
    c = point_rng(7, "x.y.z", {"N": 3, "d": 2}, replicate=1).standard_normal(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_mean_estimate_standard_error():
    """mean_estimate's SE is the sample std / sqrt(n)."""
    x = np.arange(10.0)
    est = mean_estimate(x, method="t")
    assert est.estimate == 4.5 and est.standard_error == pytest.approx(x.std(ddof=1) / np.sqrt(10))


def test_ratio_of_means_delta_method_matches_repeated_sampling():
    """The delta-method SE of a ratio of means agrees with the spread over independent repetitions."""
    rng = np.random.default_rng(0)
    ratios, ses = [], []
    for _ in range(400):
        a = rng.exponential(2.0, 200)
        b = a + rng.exponential(1.0, 200)
        est = ratio_of_means(a, b, method="t")
        ratios.append(est.estimate)
        ses.append(est.standard_error)
    assert np.mean(ses) == pytest.approx(np.std(ratios, ddof=1), rel=0.15)


# --- planned power -----------------------------------------------------------------------------

def _mc_claim(sigma=1.0, *, controls=None, batch=100, max_batches=64, kind=Kind.STATISTICAL, prediction=10.0):
    """A Monte Carlo claim whose trials are N(prediction, sigma^2): the SE after n trials is sigma/sqrt(n)."""
    import sympy as sp

    from numerics.estimate import mean_of, monte_carlo

    @monte_carlo(mean_of("y", "normal trials"))
    def measure(rng, *, n, trials, variant=None):
        shift = 0.5 if variant == "shifted" else 0.0
        return {"y": prediction + shift + sigma * rng.standard_normal(trials)}

    if controls is None:
        controls = (NegativeControl("near", "prediction + 0.1", prediction=lambda: sp.Float(prediction + 0.1),
                                    near_miss=True),)
    return Claim(
        id="basics.fake.planned", statement="a test double", anchor="-", provenance=Provenance.SUITE, kind=kind,
        estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
        derivation=lambda: Derivation("fake", sp.Float(prediction)), measure=measure,
        grids={m: ({"n": 1},) for m in ("quick", "default", "full")}, trials={m: batch for m in ("quick", "default", "full")},
        max_batches=max_batches, negative_controls=controls,
    )


def test_plan_puts_every_control_the_separation_away():
    """A control 0.1 from the prediction with sigma = 1 needs (10.53 * 1.25 / 0.1)^2 ~ 17,300 trials: the plan
    runs about that many (whole batches), and the control ends at least SEPARATION SEs away."""
    from proofs_check.engine import PLAN_INFLATION, SEPARATION

    result = check_point(_mc_claim(max_batches=400), {"n": 1}, seed=0, mode="quick")
    (control,) = result.controls
    expected = (SEPARATION * PLAN_INFLATION / 0.1) ** 2
    assert result.verdict == PASS and control.verdict == "rejected"
    assert 0.7 * expected <= result.trials <= 1.5 * expected
    assert result.trials == 100 * result.batches
    assert control.separation >= SEPARATION


def test_resolution_target_sets_the_trials_when_no_control_needs_more():
    """Without a near control the plan stops at the mode's resolution target (default 2 %)."""
    import sympy as sp

    from proofs_check.engine import RESOLUTION_TARGET

    far = (NegativeControl("far", "twice", prediction=lambda: sp.Float(20.0)),)
    result = check_point(_mc_claim(sigma=1.0, controls=far, max_batches=400), {"n": 1}, seed=0, mode="default")
    assert result.resolution <= RESOLUTION_TARGET["default"]
    assert result.resolution > RESOLUTION_TARGET["default"] / 2  # not wastefully more trials than needed
    quick = check_point(_mc_claim(sigma=1.0, controls=far), {"n": 1}, seed=0, mode="quick")
    assert quick.trials < result.trials


def test_resolution_is_separation_times_se_over_the_prediction():
    """resolution = SEPARATION * SE / |predicted| for a statistical point (no bound, atol negligible)."""
    from proofs_check.engine import SEPARATION

    r = check_point(_mc_claim(max_batches=400), {"n": 1}, seed=1, mode="quick")
    assert r.resolution == pytest.approx(SEPARATION * r.standard_error / 10.0, rel=1e-9)


def test_a_control_beyond_the_cap_makes_the_point_underpowered():
    """With a cap of 2 batches the near control cannot be separated: verdict 'underpowered', naming it."""
    from proofs_check.engine import UNDERPOWERED

    result = check_point(_mc_claim(max_batches=2), {"n": 1}, seed=0, mode="quick")
    assert result.verdict == UNDERPOWERED
    assert "near" in result.message and "needs" in result.message


def test_underpowered_fails_the_claim_and_the_run():
    """An underpowered point makes its claim 'underpowered', which is not a pass, and the run exits 1."""
    from proofs_check.engine import ClaimResult, SymbolicResult, point_passes_with_power

    claim = _mc_claim(max_batches=2)
    point = point_passes_with_power(check_point(claim, {"n": 1}, seed=0, mode="quick"))
    cr = ClaimResult(claim, SymbolicResult(claim.id, "verified"), [point])
    assert cr.verdict == "underpowered"


def test_route_control_is_planned_from_its_pilot():
    """A wrong numeric route 0.5 above the truth (sigma = 1) is separated by the plan and rejected."""
    controls = (NegativeControl("shifted", "route off by 0.5", variant="shifted"),)
    result = check_point(_mc_claim(controls=controls, max_batches=400), {"n": 1}, seed=2, mode="quick")
    (control,) = result.controls
    assert result.verdict == PASS and control.verdict == "rejected"
    assert control.separation >= 10


def test_control_equal_to_the_prediction_is_not_applicable():
    """A slip that changes nothing at this point (wrong value == prediction) is 'n/a', not 'accepted'."""
    import sympy as sp

    same = (NegativeControl("same", "equal here", prediction=lambda: sp.Float(10.0)),
            NegativeControl("far", "twice", prediction=lambda: sp.Float(20.0)))
    result = check_point(_mc_claim(controls=same, max_batches=400), {"n": 1}, seed=0, mode="quick")
    assert [c.verdict for c in result.controls] == ["n/a", "rejected"]
    assert result.verdict == PASS


def test_batches_merge_exactly_and_reproduce():
    """The planned estimate is the reducer applied to the concatenated batches, each from its own stream."""
    import numpy as np

    from numerics.estimate import merge_columns
    from proofs_check.seeds import batch_rng

    claim = _mc_claim(max_batches=400)
    result = check_point(claim, {"n": 1}, seed=5, mode="quick")
    assert result.batches > 1
    batches = [claim.measure.simulate(batch_rng(5, claim.id, {"n": 1}, b), n=1, trials=100)
               for b in range(result.batches)]
    expected = claim.measure.reduce(merge_columns(batches))
    assert result.measured == expected.estimate and result.standard_error == expected.standard_error
    again = check_point(claim, {"n": 1}, seed=5, mode="quick")
    assert (again.measured, again.trials) == (result.measured, result.trials)
    assert np.isfinite(result.measured)


def test_fixed_trials_skip_the_plan_and_judge_power():
    """With trials fixed (amverify eval --trials) one batch runs, and a control it cannot separate makes the
    point underpowered rather than a pass."""
    from proofs_check.engine import UNDERPOWERED

    result = check_point(_mc_claim(), {"n": 1}, seed=0, mode="quick", trials=200)
    assert result.trials == 200 and result.batches == 1
    assert result.verdict == UNDERPOWERED


def test_a_wrong_claim_still_fails_under_the_plan():
    """A claim whose prediction is off by 5 % (beyond the 2 % default resolution) surely fails: the plan does
    not blunt the check."""
    import sympy as sp

    claim = _mc_claim(controls=(NegativeControl("far", "x", prediction=lambda: sp.Float(20.0)),))
    wrong = replace_prediction(claim, 10.5)
    assert check_point(wrong, {"n": 1}, seed=0, mode="default").verdict == FAIL


def replace_prediction(claim, value):
    import dataclasses

    import sympy as sp

    return dataclasses.replace(claim, derivation=lambda: Derivation("wrong", sp.Float(value)))


def test_a_point_that_cannot_reach_its_resolution_target_is_underpowered():
    """A finite-size bound of 5 % of the prediction can never give the default 2 % resolution: the point is
    underpowered (a bound or tolerance too wide to catch a wrong constant does not pass)."""
    import dataclasses

    import sympy as sp

    from proofs_check.engine import UNDERPOWERED

    far = (NegativeControl("far", "x", prediction=lambda: sp.Float(20.0)),)
    claim = dataclasses.replace(_mc_claim(controls=far, max_batches=400), kind=Kind.ASYMPTOTIC,
                                bound=lambda p: 0.5)
    result = check_point(claim, {"n": 1}, seed=0, mode="default")
    assert result.verdict == UNDERPOWERED and "misses the 2% target" in result.message
    narrow = dataclasses.replace(claim, bound=lambda p: 0.01)
    assert check_point(narrow, {"n": 1}, seed=0, mode="default").verdict == PASS


def test_a_statistical_estimate_with_zero_standard_error_is_an_error():
    """A statistical 'simulation' with no sampling variance (e.g. the zero-variance importance proposal, which
    returns the closed form) is an error, not a pass: the check would put nothing at risk."""
    claim = _fake_claim(lambda rng, n: Estimate(1.0, 0.0, 100))
    result = check_point(claim, {"n": 1}, seed=0)
    assert result.verdict == ERROR and "0 to rounding" in result.message
    # every trial the closed form up to rounding (a tilt of 1 in the multi-head exp estimator gave SE 1e-17)
    rounding = check_point(_fake_claim(lambda rng, n: Estimate(1.0, 1e-16, 100)), {"n": 1}, seed=0)
    assert rounding.verdict == ERROR and "0 to rounding" in rounding.message
    assert check_point(_fake_claim(lambda rng, n: Estimate(1.0, 1e-11, 100)), {"n": 1}, seed=0).verdict == PASS


def test_a_measure_that_raises_is_the_points_error_not_a_crash():
    """An exception inside a numeric side becomes the point's 'error' verdict naming it; the run goes on."""
    def broken(rng, n):
        raise ValueError("shapes (3,4) and (5,) not aligned")

    result = check_point(_fake_claim(broken), {"n": 1}, seed=0)
    assert result.verdict == ERROR and "ValueError: shapes" in result.message


def _paired(wrong_value):
    import sympy as sp

    return (NegativeControl("slip", "the slip, as a formula and as a route", prediction=lambda: sp.Float(wrong_value),
                            route="shifted", near_miss=True),)


def test_a_paired_control_whose_formula_matches_its_route_is_rejected():
    """The slip's formula (prediction + 0.5) agrees with its route (trials shifted by 0.5) and is rejected."""
    result = point_passes_with_power(check_point(_mc_claim(controls=_paired(10.5), max_batches=400), {"n": 1},
                                                 seed=0, mode="quick"))
    assert result.verdict == PASS and result.controls[0].verdict == "rejected"


def test_a_paired_control_whose_formula_is_wrong_fails_the_point():
    """A wrong formula for the slip (10.8 where its route measures 10.5: 3 %, beyond the default 2 % resolution,
    which the route shares with the main check) fails the point, naming it: the control's own formula is
    checked, not only used as a wrong value."""
    result = point_passes_with_power(check_point(_mc_claim(controls=_paired(10.8), max_batches=400), {"n": 1},
                                                 seed=0, mode="default"))
    assert result.verdict == FAIL and result.controls[0].verdict == "inconsistent"
    assert "disagree with their routes" in result.message


def test_a_paired_control_formula_collapsing_onto_the_prediction_still_fails():
    """A formula bug that makes the slip equal the prediction (so the control would be n/a) is caught by the
    route, which still measures the slip."""
    result = point_passes_with_power(check_point(_mc_claim(controls=_paired(10.0), max_batches=400), {"n": 1},
                                                 seed=0, mode="quick"))
    assert result.verdict == FAIL and result.controls[0].verdict == "inconsistent"


def point_passes_with_power(result):
    from proofs_check.engine import point_passes_with_power as rule

    return rule(result)


def test_a_default_point_with_no_near_miss_in_play_is_underpowered():
    """In a default run, a passing statistical point whose near-miss controls are all n/a is underpowered (the
    check cannot tell the claim from its most plausible slip); quick runs do not require it."""
    import sympy as sp

    from proofs_check.engine import UNDERPOWERED, near_miss_required

    collapsed = (NegativeControl("near", "equal here", prediction=lambda: sp.Float(10.0), near_miss=True),
                 NegativeControl("far", "x", prediction=lambda: sp.Float(20.0)))
    claim = _mc_claim(controls=collapsed, max_batches=400)
    point = check_point(claim, {"n": 1}, seed=0, mode="default")
    assert point.verdict == PASS
    assert near_miss_required(claim, point, "default").verdict == UNDERPOWERED
    assert near_miss_required(claim, point, "quick").verdict == PASS


# --- a fifth fresh-eye audit (2026-12-01): 50 mutants of the engine, 8 survived the suite; each test below
# --- kills one (the mutant is named)

def _with(claim, **changes):
    import dataclasses

    return dataclasses.replace(claim, **changes)


def test_identity_relative_tolerance_scales_with_the_prediction():
    """An identity's tolerance is atol + rtol |prediction|: 1e-10 relative passes at 1e6 and an absolute 1e-10
    fails at 1e-3 with rtol 1e-9 (kills: rtol used as an absolute tolerance)."""
    big = _with(_fake_claim(lambda rng, n: Estimate(1e6 * (1 + 1e-10), 0.0, 1), kind=Kind.IDENTITY, prediction=1e6),
                atol=0.0, rtol=1e-9)
    small = _with(_fake_claim(lambda rng, n: Estimate(1e-3 + 1e-10, 0.0, 1), kind=Kind.IDENTITY, prediction=1e-3),
                  atol=0.0, rtol=1e-9)
    assert check_point(big, {"n": 1}, seed=0).verdict == PASS
    assert check_point(small, {"n": 1}, seed=0).verdict == FAIL


def test_a_nan_prediction_is_an_error_for_the_claim_and_for_a_control():
    """A prediction that evaluates to NaN decides nothing: as the claim's own it is the point's error, as a
    control's wrong value the control's error, which fails the point (kills: the prediction's finiteness
    left unchecked, when a NaN control then reads as rejected)."""
    import sympy as sp

    from proofs_check.engine import final_verdict

    own = _fake_claim(lambda rng, n: Estimate(1.0, 0.01, 100), prediction=math.nan)
    assert check_point(own, {"n": 1}, seed=0).verdict == ERROR
    claim = _with(_fake_claim(lambda rng, n: Estimate(1.0, 0.01, 100)),
                  negative_controls=(NegativeControl("wrong", "2", prediction=lambda: sp.Integer(2)),
                                     NegativeControl("undefined", "0/0", prediction=lambda: sp.nan)))
    point = check_point(claim, {"n": 1}, seed=0)
    assert {c.name: c.verdict for c in point.controls}["undefined"] == ERROR
    assert final_verdict(claim, point, "quick").verdict != PASS


def test_a_zero_estimate_with_zero_standard_error_is_an_error():
    """A statistical claim predicting 0 whose simulation returns exactly 0 with SE 0 re-evaluates a closed
    form: an error, as at any other value (kills: the rounding test written with '<', which 0 < 0 escapes)."""
    claim = _fake_claim(lambda rng, n: Estimate(0.0, 0.0, 100), prediction=0.0)
    result = check_point(claim, {"n": 1}, seed=0)
    assert result.verdict == ERROR and "0 to rounding" in result.message


def test_an_unplanned_point_needs_the_full_separation_from_each_control():
    """An unplanned statistical point (a plain function as numeric side) whose control is 7 SE from the
    prediction, above z (about 5.3) but below the planned separation (about 10.5), is underpowered naming the
    control (kills: unplanned power judged at z)."""
    import sympy as sp

    from proofs_check.engine import SEPARATION, UNDERPOWERED

    assert Z < 7 < SEPARATION
    claim = _with(_fake_claim(lambda rng, n: Estimate(1.0, 0.01, 100)),
                  negative_controls=(NegativeControl("close", "1.07", prediction=lambda: sp.Float(1.07)),))
    point = check_point(claim, {"n": 1}, seed=0)
    assert point.verdict == UNDERPOWERED and "cannot separate close" in point.message


def test_a_claim_with_an_error_point_and_a_failing_point_is_an_error():
    """The claim's verdict ranks error above fail: a check that could not be computed is reported as such
    even when another point fails (kills: fail tested first)."""
    from types import SimpleNamespace

    from proofs_check.engine import ClaimResult

    values = {1: Estimate(math.nan, 0.01, 100), 2: Estimate(5.0, 0.01, 100)}
    claim = _fake_claim(lambda rng, n: values[n])
    points = [check_point(claim, {"n": n}, seed=0) for n in (1, 2)]
    assert [p.verdict for p in points] == [ERROR, FAIL]
    for order in (points, points[::-1]):
        assert ClaimResult(claim, SimpleNamespace(status="verified", seconds=0.0), list(order)).verdict == ERROR


def test_an_accepted_control_fails_a_point_even_without_a_near_miss_in_play():
    """At a default point whose near-miss control is n/a, a control accepted by the measurement makes the
    point fail (no power), not merely underpowered: the power rules run in that order (kills: the near-miss
    rule applied first)."""
    import sympy as sp

    from proofs_check.engine import final_verdict

    import dataclasses

    from proofs_check.engine import ACCEPTED, NOT_APPLICABLE, ControlResult

    claim = _with(_fake_claim(lambda rng, n: Estimate(1.0, 0.01, 100)),
                  negative_controls=(NegativeControl("near", "n/a here", prediction=lambda: sp.Float(1.0),
                                                     near_miss=True),
                                     NegativeControl("accepted", "x", prediction=lambda: sp.Float(2.0))))
    passing = check_point(claim, {"n": 1}, seed=0, mode="default")
    assert passing.verdict == PASS
    # the same point had the measurement accepted the far control (a route, say, that measures the truth)
    point = dataclasses.replace(passing, controls=(
        ControlResult("near", 1.0, math.nan, NOT_APPLICABLE, near_miss=True),
        ControlResult("accepted", 2.0, 1.0, ACCEPTED, separation=100.0)))
    assert final_verdict(claim, point, "default").verdict == FAIL


def test_a_controls_separation_is_counted_beyond_the_fixed_tolerance():
    """With a fixed tolerance (atol) on top of z SE, a control is separated only by what lies beyond it: 0.12
    from the prediction with atol 0.05 and SE 0.01 is 7 SE, short of the planned separation (kills: the
    separation counted from the prediction, 12 SE)."""
    import sympy as sp

    from proofs_check.engine import UNDERPOWERED

    claim = _with(_fake_claim(lambda rng, n: Estimate(1.0, 0.01, 100)), atol=0.05,
                  negative_controls=(NegativeControl("close", "1.12", prediction=lambda: sp.Float(1.12)),))
    point = check_point(claim, {"n": 1}, seed=0)
    (control,) = point.controls
    assert control.separation == pytest.approx(7.0)
    assert point.verdict == UNDERPOWERED and "cannot separate close" in point.message


@pytest.mark.parametrize("seed", range(4))
def test_a_control_twice_beyond_the_caps_reach_is_short_at_a_later_look(seed):
    """A control 0.093 from the prediction with sigma = 1 needs about (10.53 * 1.25 / 0.093)^2 ~ 20,000 trials,
    twice what the cap (64 x 100 trials, reach 10,000) can meet: the pilot plans the cap (it calls a need
    short at once only beyond four times the reach), and the look after it, on every batch, finds the need
    still beyond reach: underpowered, naming the control (kills: the later look as lenient as the pilot,
    which ran to the cap and passed at about 7 SEs)."""
    import sympy as sp

    from proofs_check.engine import UNDERPOWERED

    claim = _mc_claim(controls=(NegativeControl("near", "prediction + 0.093", prediction=lambda: sp.Float(10.093),
                                                near_miss=True),), max_batches=64)
    point = check_point(claim, {"n": 1}, seed=seed, mode="default")
    assert point.verdict == UNDERPOWERED and "cannot separate near" in point.message
    assert point.trials == 6400  # the cap ran: not short at the pilot
