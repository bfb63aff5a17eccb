"""Exponential-kernel estimators: the naive estimator's failure is detected, the partially tilted ones are
genuine simulations (seed-to-seed variance, their own SE), and each reduced form agrees with the full
matrix read-out it replaces."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from numerics import exp_kernel as num
from proofs_check.engine import ERROR, MIN_ESS, PASS, Z, _compare, check_point
from proofs_check.ledger import evaluate, get_claim
from theory import kernels as th

HARD = {"N": 1000, "d_k": 16, "d_v": 8, "key_norm2": 16.0, "value_norm2": 8.0, "tau": 2.0}
STATISTICAL = ["capacity.exp.inverse_snr_conditional", "capacity.exp.optimal_temperature", "capacity.exp.typical_tau2",
               "capacity.exp.typical_sqrt_d", "capacity.exp.inverse_snr_mean", "capacity.exp.inverse_snr_ratio",
               "capacity.norm.value_mean", "capacity.compare.exp_slope"]


def _exact(claim_id, params):
    return evaluate(get_claim(claim_id).predicted_expr(), params)


def _agree(a, b, z=Z):
    """Two independent estimates agree within z combined standard errors."""
    return abs(a.estimate - b.estimate) <= z * math.hypot(a.standard_error, b.standard_error)


# --- the naive estimator ---------------------------------------------------------------------------

def test_naive_estimator_has_tiny_ess_at_d16_tau2():
    """Plain sampling of exp(2 k_j^T k_i / tau) at d = 16, tau = 2 is carried by a handful of draws."""
    est = num.measure_inverse_snr_exp(np.random.default_rng(0), trials=200, variant="naive", **HARD)
    assert est.ess < MIN_ESS


@pytest.mark.parametrize("seed", range(5))
def test_naive_estimator_is_an_error_never_a_pass(seed):
    """The engine turns the naive estimator's low ESS into an error, whatever the seed."""
    claim = get_claim("capacity.exp.inverse_snr_conditional")
    est = num.measure_inverse_snr_exp(np.random.default_rng(seed), trials=200, variant="naive", **HARD)
    verdict, _, _, message = _compare(claim, evaluate(claim.predicted_expr(), HARD), est, HARD)
    assert verdict == ERROR and "effective sample size" in message


def test_naive_estimator_is_biased_low_in_the_typical_run():
    """Across seeds the naive estimate's median lies well below the exact value (log-normal skew)."""
    exact = evaluate(th.inverse_snr_exp().result, HARD)
    values = [num.measure_inverse_snr_exp(np.random.default_rng(s), trials=100, variant="naive", **HARD).estimate
              for s in range(20)]
    assert np.median(values) < 0.8 * exact


# --- the partial tilts -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_tilted_estimator_agrees_with_theory(seed):
    """The partially tilted proposal passes through the engine with an ESS near e^{-1} of its draws."""
    result = check_point(get_claim("capacity.exp.inverse_snr_conditional"), HARD, seed=seed, mode="quick")
    assert result.verdict == PASS, result
    assert result.ess >= 0.3 * result.trials * num.KEYS_PER_TRIAL


def _quadrature_moment_and_scale():
    """``(E[exp(2 Z s/tau)], scale)`` at :data:`HARD`, ``Z ~ N(0, 1)``, the moment by scipy quadrature (no MGF
    formula); ``scale`` times the moment is the conditional SNR^{-1}."""
    s, tau = math.sqrt(HARD["key_norm2"]), HARD["tau"]
    value, _ = integrate.quad(lambda z: math.exp(2 * z * s / tau - 0.5 * z * z) / math.sqrt(2 * math.pi),
                              -50.0, 50.0, limit=400, epsabs=0.0, epsrel=1e-12)
    return value, (HARD["N"] - 1) * HARD["d_v"] / HARD["value_norm2"] * math.exp(-2 * HARD["key_norm2"] / tau)


def test_tilted_estimate_matches_independent_quadrature():
    """E[exp(2 Z s/tau)], Z ~ N(0,1), by scipy quadrature (no MGF formula) agrees with the tilted estimator."""
    value, scale = _quadrature_moment_and_scale()
    est = num.measure_inverse_snr_exp(np.random.default_rng(1), trials=400, **HARD)
    assert abs(est.estimate / scale - value) <= Z * est.standard_error / scale
    assert est.standard_error > 1e-4 * est.estimate  # a simulation, not the closed form re-evaluated


@pytest.mark.parametrize("m", [2, 5])
def test_a_trial_is_the_mean_of_its_draws_at_any_number_of_draws(m):
    """Each trial averages its ``m`` weighted draws, so the trials' mean is unbiased for any ``m``; checked at
    small ``m`` against quadrature, where dividing by ``m - 1`` would be 2x or 1.25x off. At the ledger's
    ``m = 256`` that slip is 0.4 %, below every point's resolution, and an audit's mutant of it passed check."""
    value, scale = _quadrature_moment_and_scale()
    exact = scale * value
    y = num._conditional_columns(np.random.default_rng(m), N=HARD["N"], key_norm2=HARD["key_norm2"], d_v=HARD["d_v"],
                                 value_norm2=HARD["value_norm2"], tau=HARD["tau"], trials=20000, plain=False, m=m)["y"]
    se = y.std(ddof=1) / math.sqrt(y.size)
    assert abs(y.mean() - exact) <= Z * se and se < 0.02 * exact


@pytest.mark.parametrize("a", [0.3, 1.0, 2.5, 6.0, 20.0])
def test_normal_tilt_caps_the_relative_variance(a):
    """Under N(lambda a, 1) the weighted term exp(a z) w has relative variance min(e^{a^2}, e) - 1, by quadrature."""
    lam = float(num.normal_tilt(a))
    shift = lam * a
    log_fw = lambda z: (a - shift) * z + 0.5 * shift * shift  # noqa: E731
    density = lambda z: math.exp(-0.5 * (z - shift) ** 2) / math.sqrt(2 * math.pi)  # noqa: E731
    lo, hi = shift - 40.0, shift + 40.0
    m1 = integrate.quad(lambda z: math.exp(log_fw(z) - 0.5 * a * a) * density(z), lo, hi, limit=400)[0]
    m2 = integrate.quad(lambda z: math.exp(2 * log_fw(z) - a * a) * density(z), lo, hi, limit=400)[0]
    assert m1 == pytest.approx(1.0, rel=1e-8)  # unbiased: E[f w] = e^{a^2/2}
    assert m2 - 1.0 == pytest.approx(min(math.exp(a * a), math.exp(num.TILT_TARGET)) - 1.0, rel=1e-6)


@pytest.mark.parametrize("b, dof", [(-0.375, 8), (-0.5, 16), (1 / 18, 8), (1 / 3, 8), (0.25, 32), (0.0, 4)])
def test_chi2_tilt_is_unbiased_and_caps_the_relative_variance(b, dof):
    """The Gamma proposal of chi2_tilt: E_q[e^{bX} w] = E e^{bX} and its relative variance meets the cap (quadrature)."""
    cap = num.STORED_KEY_TILT_TARGET
    theta = num.chi2_tilt(b, dof, cap)
    p, q = stats.chi2(dof), stats.gamma(dof / 2, scale=theta)
    hw = lambda x: math.exp(b * x) * p.pdf(x) / q.pdf(x)  # noqa: E731
    upper = q.isf(1e-14)
    m1 = integrate.quad(lambda x: hw(x) * q.pdf(x), 0, upper, limit=400)[0]
    m2 = integrate.quad(lambda x: hw(x) ** 2 * q.pdf(x), 0, upper, limit=400)[0]
    exact = (1 - 2 * b) ** (-dof / 2)
    assert m1 == pytest.approx(exact, rel=1e-7)
    plain_rv = math.inf if b >= 0.25 else ((1 - 2 * b) ** 2 / (1 - 4 * b)) ** (dof / 2) - 1
    assert m2 / exact**2 - 1 <= min(plain_rv, math.exp(cap) - 1) * (1 + 1e-6)
    assert theta == 2.0 or m2 / exact**2 - 1 == pytest.approx(math.exp(cap) - 1, rel=1e-6)  # smallest tilt


def test_chi2_tilt_rejects_a_divergent_integrand():
    """E exp(X/2) is infinite for X ~ chi^2: the helper says so instead of returning a scale."""
    with pytest.raises(ValueError, match="b < 1/2"):
        num.chi2_tilt(0.5, 8)


# --- genuine simulations ---------------------------------------------------------------------------

@pytest.mark.parametrize("claim_id", STATISTICAL)
def test_estimate_varies_across_seeds_and_its_se_is_its_own(claim_id):
    """At the first quick point, 24 seeds give different estimates whose spread matches the reported SE."""
    claim = get_claim(claim_id)
    params = {**claim.grids["quick"][0], **claim.fixed}
    trials = claim.trials["quick"]
    estimates = [claim.measure(np.random.default_rng(seed), trials=trials, **params) for seed in range(24)]
    values = np.array([e.estimate for e in estimates])
    ses = np.array([e.standard_error for e in estimates])
    assert len(set(values.tolist())) == len(values)
    assert np.all(ses > 1e-6 * np.abs(values))  # no floor, no closed form
    ratio = values.std(ddof=1) / np.sqrt(np.mean(ses**2))
    assert 0.6 < ratio < 1.5, (claim_id, ratio)


# --- reduced forms against the full read-out -------------------------------------------------------

LIGHT = {"N": 9, "d_k": 6, "d_v": 3, "key_norm2": 5.0, "value_norm2": 4.0, "tau": 2.5}


def test_conditional_reduced_form_agrees_with_full_readout():
    """Scalar projections + exact value integration + partial tilt (reduced) vs keys and values in full (direct)."""
    assert num.normal_tilt(2 * math.sqrt(LIGHT["key_norm2"]) / LIGHT["tau"]) > 0  # the reduced route is tilted here
    reduced = num.measure_inverse_snr_exp(np.random.default_rng(11), trials=2000, **LIGHT)
    direct = num.measure_exp_readout(np.random.default_rng(12), trials=60000, **LIGHT)
    exact = _exact("capacity.exp.inverse_snr_conditional", LIGHT)
    assert _agree(reduced, direct)
    assert abs(direct.estimate - exact) <= Z * direct.standard_error
    assert direct.standard_error < 0.02 * exact  # the comparison has teeth


def test_value_mean_reduced_form_agrees_with_full_readout():
    """Values mu + N(0, I) integrated given the keys (reduced) vs drawn with their mean in the read-out (direct)."""
    params = dict(get_claim("capacity.norm.value_mean").grids["default"][0])
    reduced = num.measure_inverse_snr_value_mean(np.random.default_rng(13), trials=40000, **params)
    direct = num.measure_exp_readout(np.random.default_rng(14), trials=40000, **params)
    exact = _exact("capacity.norm.value_mean", params)
    assert _agree(reduced, direct)
    assert abs(direct.estimate - exact) <= Z * direct.standard_error
    assert direct.standard_error < 0.01 * exact


def test_value_mean_centered_route_is_the_zero_mean_formula():
    """Centering the values in the full read-out removes the coherent N^2 term."""
    params = dict(get_claim("capacity.norm.value_mean").grids["default"][0])
    est = num.measure_exp_readout(np.random.default_rng(15), trials=20000, variant="centered", **params)
    exact = evaluate(th.inverse_snr_exp().result, params)
    assert abs(est.estimate - exact) <= Z * est.standard_error


RATIO = {"N": 30, "d_k": 5, "d_v": 3, "tau": 9.5}


def test_ratio_reduced_form_agrees_with_full_readout():
    """Gamma-tilted stored-key norms (reduced) vs all pairs Gaussian in the full read-out (direct, tau > 8)."""
    reduced = num.measure_inverse_snr_exp_ratio(np.random.default_rng(16), trials=40000, **RATIO)
    direct = num.measure_exp_ratio_readout(np.random.default_rng(17), trials=40000, **RATIO)
    exact = _exact("capacity.exp.inverse_snr_ratio", RATIO)
    assert _agree(reduced, direct)
    assert abs(direct.estimate - exact) <= Z * direct.standard_error


def test_softmax_changes_the_ratio_of_expectations():
    """Normalization leaves each read-out's ratio unchanged but not E||r||^2/E[c^2||v_i||^2] (Z is random):
    on the same draws, the two ratios of means differ by many SEs of their paired difference (delta method)."""
    simulate = num.measure_exp_ratio_readout.simulate
    plain = simulate(np.random.default_rng(18), trials=40000, **RATIO)
    softmax = simulate(np.random.default_rng(18), trials=40000, variant="softmax", **RATIO)
    cols = np.stack([plain["noise"], plain["signal"], softmax["noise"], softmax["signal"]])
    means = cols.mean(axis=1)
    r_plain, r_soft = means[0] / means[1], means[2] / means[3]
    grad = np.array([-1 / means[1], means[0] / means[1] ** 2, 1 / means[3], -means[2] / means[3] ** 2])
    se = math.sqrt(grad @ np.cov(cols) @ grad / cols.shape[1])
    assert r_soft - r_plain > 10 * se, (r_plain, r_soft, se)
    # per realisation the ratios agree: normalization is a common scale of noise and signal
    np.testing.assert_allclose(softmax["noise"] / softmax["signal"], plain["noise"] / plain["signal"], rtol=1e-10)


# --- the optimum and the slope ---------------------------------------------------------------------

def test_vertex_reducer_recovers_a_known_parabola():
    """The reducer's fit returns tau* = 2 sigma^2 from exact log crosstalk values (plus tiny independent noise)."""
    rng = np.random.default_rng(20)
    u = np.asarray(num.OPTIMUM_GRID)
    sigma2, s2 = 1.3, 40.0
    log_y = 2 * s2 * (sigma2 * u**2 - u) + 1e-3 * rng.standard_normal((500, u.size))
    zeros = np.zeros_like(log_y)
    est = num.measure_exp_optimal_temperature.reduce({"log_y": log_y, "log_sum": zeros, "log_sum_sq": zeros})
    assert abs(est.estimate - 2 * sigma2) <= 5 * est.standard_error
    assert est.standard_error < 1e-3


def test_typical_exponent_is_the_conditional_at_typical_norms():
    """The exponent 2 d_k (1 - tau)/tau^2 used by the plug-in controls is log of the conditional value per pair
    at ||k_i||^2 = d_k, ||v_i||^2 = d_v."""
    per_pair = th.inverse_snr_exp().result.subs({th.key_norm2: th.d_k, th.value_norm2: th.d_v}) / (th.N - 1)
    assert th.sp.simplify(th.sp.expand_log(th.sp.log(per_pair), force=True) - th.exp_typical_exponent()) == 0


@pytest.mark.parametrize("d_min, d_max, rho", [(4, 28, 0.1), (8, 64, 1e-3), (12, 96, 1e-5), (16, 40, 2.0)])
def test_slope_with_stored_pair_matches_numpy(d_min, d_max, rho):
    """The near-miss control's exact finite-size slope of log(1 + rho e^{d/2}) agrees with numpy's polyfit."""
    dims = np.arange(d_min, d_max + 1, 4)
    expected = np.polyfit(dims, np.log1p(rho * np.exp(dims / 2.0)), 1)[0]
    value = evaluate(th.capacity_exp_slope_finite_size(th.sp.Symbol("d_min"), th.sp.Symbol("d_max"), th.rho),
                     {"d_min": d_min, "d_max": d_max, "rho": rho})
    assert value == pytest.approx(expected, rel=1e-12)


def test_typical_routes_are_the_conditional_route_at_typical_norms():
    """The typical-pair measure is the conditional one at ||k_i||^2 = d_k, ||v_i||^2 = d_v (same seed, same draws)."""
    a = num.measure_inverse_snr_exp_typical(np.random.default_rng(21), N=33, d_k=16, d_v=8, tau_choice=1, trials=50)
    b = num.measure_inverse_snr_exp(np.random.default_rng(21), N=33, d_k=16, d_v=8, key_norm2=16.0, value_norm2=8.0,
                                    tau=4.0, trials=50)
    assert a.estimate == b.estimate
    with pytest.raises(ValueError, match="tau_choice"):
        num.measure_inverse_snr_exp_typical(np.random.default_rng(0), N=3, d_k=4, d_v=2, tau_choice=2, trials=2)


def test_ratio_estimand_tilted_beats_naive():
    """For the ratio of expectations (tau = 6 <= 8: infinite plain variance) the tilted proposal keeps ESS high."""
    tilted = num.measure_inverse_snr_exp_ratio(np.random.default_rng(3), N=100, d_k=8, d_v=8, tau=6.0, trials=4000)
    naive = num.measure_inverse_snr_exp_ratio(np.random.default_rng(4), N=100, d_k=8, d_v=8, tau=6.0, trials=4000,
                                              variant="naive")
    assert tilted.ess > 3 * naive.ess


@pytest.mark.parametrize("claim_id", STATISTICAL)
def test_a_near_miss_control_applies_at_every_default_point(claim_id):
    """Each default point has a near-miss control (a few per cent from the prediction) that the engine will apply."""
    from proofs_check.engine import _same_value

    claim = get_claim(claim_id)
    for params in claim.grids["default"]:
        predicted = evaluate(claim.predicted_expr(), params)
        gaps = []
        for control in claim.negative_controls:
            if not control.near_miss or (control.applies_when and not control.applies_when.holds(params)):
                continue
            wrong = evaluate(control.prediction(), params)
            if not _same_value(wrong, predicted):
                gaps.append(abs(wrong / predicted - 1))
        assert gaps and min(gaps) < 0.15, (claim_id, params, gaps)
