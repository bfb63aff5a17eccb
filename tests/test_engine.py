"""The comparison engine: NaN and low ESS are failures, tolerances follow the method guide, seeds are stable."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from numerics.estimate import Estimate, mean_estimate, ratio_of_means
from proofs_check.engine import (ERROR, FAIL, FALSE_FAILURE_BUDGET, MAX_CHECKS, MIN_ESS, PASS, Z, check_claims,
                                 check_point)
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


def test_results_do_not_depend_on_worker_count():
    """check_claims gives identical numbers with 1 and 2 worker processes."""
    claims = [get_claim("capacity.linear.inverse_snr_ratio"), get_claim("basics.linear.overcomplete_noise_floor")]
    one = check_claims(claims, mode="quick", seed=3, jobs=1)
    two = check_claims(claims, mode="quick", seed=3, jobs=2)
    for a, b in zip(one, two):
        assert [(p.measured, p.standard_error) for p in a.points] == [(p.measured, p.standard_error) for p in b.points]


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
