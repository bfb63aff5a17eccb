"""Context-length claims: additive memories lose individual pairs, loss-minimising memories converge
to a bounded memory whose total self-influence is the state size."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics import context as num
from numerics.estimate import MonteCarlo
from proofs_check.ledger import Kind, all_claims, evaluate, get_claim
from theory import context as th
from theory.symbols import d_k

STATISTICAL = [c for c in all_claims("context") if c.kind in (Kind.STATISTICAL, Kind.ASYMPTOTIC)]


def _agree(a, b, z=5.0):
    """Two independent estimates agree within ``z`` combined SEs."""
    return abs(a.estimate - b.estimate) <= z * math.hypot(a.standard_error, b.standard_error)


def test_linear_snr_vanishes_like_d_over_T():
    """SNR_lin(T) = (d_k + 2)/(T - 1) -> 0 and T SNR_lin(T) -> d_k + 2 (sympy limits)."""
    assert sp.simplify(th.linear_snr_finite().result - (d_k + 2) / (th.T - 1)) == 0
    assert sp.limit(th.linear_snr_finite().result, th.T, sp.oo) == 0
    assert th.linear_snr_rate().result == d_k + 2


def test_extrapolation_gap_is_the_fit_applied_to_the_exact_values():
    """The bound of context.additive.linear_snr_decay equals the numerics' extrapolation of the exact
    T (d_k + 2)/(T - 1) from the three sizes, minus d_k + 2 (floats, computed independently), and is
    below 0.01 % of the limit at every default point."""
    claim = get_claim("context.additive.linear_snr_decay")
    for p in claim.grids["default"] + claim.grids["full"]:
        sizes = num.extrapolation_sizes(p["T"])
        exact = np.array([n * (p["d_k"] + 2) / (n - 1) for n in sizes])
        extrapolated = num.extrapolation_weights([1.0 / n for n in sizes]) @ exact
        gap = evaluate(th.linear_snr_extrapolation_gap(sizes), p)
        assert gap == pytest.approx(extrapolated - (p["d_k"] + 2), rel=1e-6, abs=1e-12)
        assert abs(gap) < 1e-4 * (p["d_k"] + 2)


def test_extrapolation_weights_are_exact_for_quadratics():
    """Applied to y = a + b x + c x^2 at three points the weights return a, whatever the points."""
    x = np.array([1 / 16, 1 / 32, 1 / 64])
    w = num.extrapolation_weights(x)
    assert w @ (3.5 + 7.0 * x - 40.0 * x**2) == pytest.approx(3.5, rel=1e-12)
    assert w.sum() == pytest.approx(1.0)


def test_limit_extrapolation_se_is_calibrated():
    """Over 200 independent batches the spread of the extrapolated limit matches the reported SE (the delta
    method with the sizes' joint covariance), and its mean is the limit d_k + 2."""
    rng = np.random.default_rng(13)
    ests = [num.measure_linear_snr_limit(rng, T=64, d_k=8, d_v=4, trials=2000) for _ in range(200)]
    values = np.array([e.estimate for e in ests])
    ses = np.array([e.standard_error for e in ests])
    assert values.std(ddof=1) == pytest.approx(np.mean(ses), rel=0.15)
    assert abs(values.mean() - 10.0) < 5 * values.std(ddof=1) / np.sqrt(values.size)


def test_linear_snr_reduction_agrees_with_the_direct_read_out():
    """The reduced simulation (||k_i||^2 chi^2_{T-1} crosstalk, values integrated) and the direct read-out of
    S = V^T K at every stored key estimate the same SNR; both agree with (d_k + 2)/(T - 1)."""
    params = dict(T=6, d_k=3, d_v=2)
    reduced = num.measure_linear_snr(np.random.default_rng(1), trials=200_000, **params)
    direct = num.linear_snr_direct(np.random.default_rng(2), trials=100_000, **params)
    assert _agree(reduced, direct)
    exact = evaluate(th.linear_snr_finite().result, params)
    assert _agree(direct, type(direct)(exact, 0.0, 1))


def test_linear_snr_limit_reports_the_sizes_and_a_slope_near_the_limit():
    """The extrapolation reports T SNR at each size, falling towards the limit along one stream, and a slope
    in 1/T of the order of d_k + 2 (the exact expansion is (d_k + 2)(1 + 1/T + 1/T^2 + ...))."""
    est = num.measure_linear_snr_limit(np.random.default_rng(4), T=64, d_k=8, d_v=4, trials=200_000)
    values = [est.diagnostics[f"T_SNR_at_{n}"] for n in (16, 32, 64)]
    assert values[0] > values[1] > values[2] > 10 - 5 * est.standard_error
    assert values[0] - values[2] == pytest.approx(10 * (16 / 15 - 64 / 63), rel=0.25)
    assert 5 < est.diagnostics["slope_in_1_over_T"] < 15


def test_exp_reduction_and_tilt_agree_with_plain_matrix_sampling():
    """Scores drawn as sqrt(a) z from a partially tilted proposal estimate the same conditional inverse SNR as
    plain softmax read-outs of d_k-dimensional keys with drawn values (tilt active: 4 a / tau^2 = 4 > 2)."""
    params = dict(T=8, d_k=3, d_v=2, tau=2.0, key_norm2=4.0, value_norm2=1.5)
    assert num.exp_tilt(params["tau"], params["key_norm2"]) > 0
    reduced = num.measure_exp_inverse_snr(np.random.default_rng(5), trials=100_000, **params)
    direct = num.exp_inverse_snr_direct(np.random.default_rng(6), trials=200_000, **params)
    assert _agree(reduced, direct)
    exact = evaluate(th.exp_snr_inverse().result, params)
    assert _agree(reduced, type(reduced)(exact, 0.0, 1))


def test_exp_snr_at_tau_2_typical_norms_is_exp_d_over_2():
    """At ||k_i||^2 = d_k, ||v_i||^2 = d_v, tau = 2: SNR^{-1} = (T - 1) e^{-d_k/2}, so T SNR -> e^{d_k/2}."""
    from theory.symbols import d_v, key_norm2, tau, value_norm2
    inv = th.exp_snr_inverse().result.subs({key_norm2: d_k, value_norm2: d_v, tau: 2})
    assert sp.simplify(inv - (th.T - 1) * sp.exp(-d_k / 2)) == 0
    assert sp.simplify(sp.limit(th.T / inv, th.T, sp.oo) - sp.exp(d_k / 2)) == 0


def test_exp_tilt_caps_the_log_variance_and_plain_sampling_collapses():
    """The tilt brings each weighted term's log-variance (1 - lambda)^2 4 s^2/tau^2 down to 2 (none below
    it); at typical keys, d_k = 32, tau = 2, plain sampling's Kish ESS is over 100 times smaller than
    the tilted one on the same number of scores (measured: 11 against 9,700 for 64 x 1023; the plain estimate
    comes out 13 times too low)."""
    assert num.exp_tilt(2.0, 0.4) == 0.0
    for tau, s2 in ((2.0, 16.0), (2.0, 32.0), (3.0, 50.0)):
        lam = num.exp_tilt(tau, s2)
        assert (1 - lam) ** 2 * 4 * s2 / tau**2 == pytest.approx(num.TILT_TARGET)
    params = dict(T=1024, d_k=32, d_v=8, tau=2.0, key_norm2=32.0, value_norm2=8.0, trials=64)
    tilted = num.measure_exp_inverse_snr(np.random.default_rng(3), **params)
    original = num.exp_tilt
    try:
        num.exp_tilt = lambda tau, key_norm2: 0.0
        plain = num.measure_exp_inverse_snr(np.random.default_rng(3), **params)
    finally:
        num.exp_tilt = original
    assert plain.ess * 100 < tilted.ess


def test_least_squares_reduction_agrees_with_the_direct_regression():
    """sigma^2 d_v tr (K^T K)^{-1} per trial (noise integrated, S_0 cancelled) and the direct regression
    ||S_T - S_0||^2 with drawn S_0 and noise estimate the same error, and both match the closed form."""
    params = dict(T=10, d_k=3, d_v=2, key_scale2=0.7, noise2=0.4)
    reduced = num.measure_least_squares_error(np.random.default_rng(7), trials=100_000, **params)
    direct = num.least_squares_error_direct(np.random.default_rng(8), trials=200_000, **params)
    assert _agree(reduced, direct)
    exact = evaluate(th.least_squares_error().result, params)
    assert _agree(direct, type(direct)(exact, 0.0, 1))


def test_mean_square_stability_condition():
    """rho < 1 iff 0 < beta s^2 < 2/(d_k + 2): the delta rule's memory stays bounded exactly there."""
    x = sp.Symbol("x", positive=True)  # beta s^2
    rho, _ = th.mean_square_stability()
    rho_x = sp.expand(rho.subs(th.beta, x / th.s2))
    solution = sp.solve_univariate_inequality(rho_x.subs(d_k, 6) < 1, x, relational=False)
    assert solution == sp.Interval.open(0, sp.Rational(2, 8))


def test_isserlis_fourth_moment_at_small_dimensions():
    """E[||k||^2 k k^T] = s^4 (d_k + 2) I, from the raw Gaussian fourth moments at d_k = 2 and 3 (numpy
    over many draws), the moment the derivation of context.delta.bounded_error verifies in sympy."""
    rng = np.random.default_rng(9)
    for d, s2 in ((2, 0.5), (3, 2.0)):
        k = rng.standard_normal((400_000, d)) * np.sqrt(s2)
        m = np.einsum("n,ni,nj->ij", np.sum(k**2, axis=1), k, k) / k.shape[0]
        assert m == pytest.approx(s2**2 * (d + 2) * np.eye(d), abs=0.05 * s2**2 * (d + 2))


def test_bounded_error_grid_exercises_the_transient_and_the_floor():
    """At the first default point the transient rho^T d_v is over 30 % of E||S_T - S*||^2 (so S_0's variance
    and the exponent matter), at the last the noise floor is over 95 %; both far above the 2 % resolution."""
    claim = get_claim("context.delta.bounded_error")
    rho, _ = th.mean_square_stability()
    transient = rho**th.T * sp.Symbol("d_v", positive=True, integer=True)
    first, last = claim.grids["default"][0], claim.grids["default"][-1]
    total = evaluate(claim.predicted_expr(), first)
    assert evaluate(transient, first) / total > 0.3
    assert evaluate(transient, last) / evaluate(claim.predicted_expr(), last) < 0.05


@pytest.mark.parametrize("claim", STATISTICAL, ids=[c.id for c in STATISTICAL])
def test_statistical_claims_are_planned_with_a_near_miss_at_every_default_point(claim):
    """Each statistical/asymptotic context claim has a MonteCarlo numeric side and a near-miss control that
    applies (and differs from the prediction) at every default point, within 25 % of it."""
    assert isinstance(claim.measure, MonteCarlo)
    near = [c for c in claim.negative_controls if c.near_miss]
    assert near
    for p in claim.grids["default"]:
        predicted = evaluate(claim.predicted_expr(), p)
        gaps = [abs(evaluate(c.prediction(), p) / predicted - 1) for c in near
                if c.applies_when is None or c.applies_when.holds(p)]
        assert gaps and 0.005 < min(gaps) < 0.25, (p, gaps)


@pytest.mark.parametrize("claim", STATISTICAL, ids=[c.id for c in STATISTICAL])
def test_statistical_estimates_vary_from_seed_to_seed(claim):
    """The numeric side is a genuine simulation: two seeds give different estimates, each with a positive SE
    of its own, and the difference is of the order of that SE (not a closed form re-evaluated)."""
    p = dict(claim.grids["quick"][0])
    a = claim.measure(np.random.default_rng(10), trials=claim.trials["quick"], **p)
    b = claim.measure(np.random.default_rng(11), trials=claim.trials["quick"], **p)
    assert a.standard_error > 0 and b.standard_error > 0
    assert a.estimate != b.estimate
    assert abs(a.estimate - b.estimate) < 8 * math.hypot(a.standard_error, b.standard_error)
    assert a.standard_error / abs(a.estimate) > 1e-6


@settings(max_examples=20)
@given(T=st.integers(1, 60), d=st.integers(1, 8), seed=st.integers(0, 2**32 - 1), beta=st.floats(0.01, 0.3))
def test_delta_self_influence_is_d_minus_trace_of_the_product(T, d, seed, beta):
    """Telescoping: sum_j beta k_j^T P_j k_j = d_k - tr prod_j (I - beta k_j k_j^T) for every key sequence."""
    K = np.random.default_rng(seed).standard_normal((2, T, d)) * np.sqrt(1 / d)
    totals = []
    for keys in K:
        P = np.eye(d)
        for k in keys:
            P = P @ (np.eye(d) - beta * np.outer(k, k))
        totals.append(d - np.trace(P))
    assert num.delta_self_influence(K, beta) == pytest.approx(totals, rel=1e-10, abs=1e-12)


def test_delta_streamed_simulation_matches_the_reference_token_loop():
    """The token-by-token stream of the measures and delta_stream on the same draws give the same S_T."""
    rng = np.random.default_rng(12)
    n, T, dk, dv, beta, s2, sigma2 = 3, 7, 4, 2, 0.3, 0.8, 0.5
    S0 = rng.standard_normal((n, dv, dk)) / np.sqrt(dk)
    K = np.empty((n, T, dk))
    V = np.empty((n, T, dv))
    for t in range(T):
        K[:, t] = rng.standard_normal((n, dk)) * np.sqrt(s2)
        V[:, t] = np.einsum("nij,nj->ni", S0, K[:, t]) + np.sqrt(sigma2) * rng.standard_normal((n, dv))
    S, S0_stream = num._delta_streams(np.random.default_rng(12), n, T=T, d_k=dk, d_v=dv, beta=beta,
                                      key_scale2=s2, noise2=sigma2)
    assert np.allclose(S0_stream, S0)
    assert np.allclose(S, num.delta_stream(K, V, beta), rtol=1e-12, atol=1e-14)


def test_least_squares_self_influence_equals_state_size():
    """sum of leverages is d_k whatever T >= d_k; the additive memory's grows with T, a ridge memory's falls short."""
    rng = np.random.default_rng(0)
    for T in (8, 80, 800):
        assert num.measure_least_squares_self_influence(rng, T=T, d_k=8).estimate == pytest.approx(8, rel=1e-10)
    grow = [num.measure_least_squares_self_influence(rng, T=T, d_k=8, variant="additive").estimate for T in (80, 800)]
    assert grow[1] > 5 * grow[0]
    assert num.measure_least_squares_self_influence(rng, T=800, d_k=8, variant="ridge").estimate < 8 - 1e-4


def test_delta_memory_stops_growing_while_additive_grows():
    """The delta rule's memory energy saturates in T; the additive memory's grows linearly (same stream)."""
    rng = np.random.default_rng(5)
    K, V, S0 = num.regression_stream(rng, 2000, 4, 3, 0.5, 0.25, trials=50)
    delta = [np.mean(np.sum(num.delta_stream(K[:, :T], V[:, :T], 0.1) ** 2, axis=(1, 2))) for T in (500, 2000)]
    additive = [np.mean(np.sum((V[:, :T].transpose(0, 2, 1) @ K[:, :T]) ** 2, axis=(1, 2))) for T in (500, 2000)]
    assert delta[1] / delta[0] == pytest.approx(1.0, abs=0.15)
    assert additive[1] / additive[0] > 10


def test_bad_input_names_the_constraint():
    """Sizes outside a numeric side's domain raise a ValueError naming the constraint."""
    with pytest.raises(ValueError, match="at least 12"):
        num.extrapolation_sizes(8)
    with pytest.raises(ValueError, match="T=1"):
        num.measure_linear_snr(np.random.default_rng(0), T=1, d_k=2, d_v=2, trials=4)
    with pytest.raises(ValueError, match="d_k"):
        num.measure_least_squares_error(np.random.default_rng(0), T=3, d_k=4, d_v=1, key_scale2=1.0, noise2=1.0,
                                        trials=4)


def test_quick_points_meet_the_resolution_target_and_reject_their_near_misses():
    """At every quick point of every statistical context claim the planned check resolves 10 % of the
    prediction, and every applicable near-miss control is rejected (a loose bound or a weak plan fails)."""
    from proofs_check.engine import RESOLUTION_TARGET, check_point

    for claim in STATISTICAL:
        for p in claim.grids["quick"]:
            r = check_point(claim, p, seed=3, mode="quick")
            assert r.verdict == "pass", (claim.id, p, r.message)
            assert r.resolution <= RESOLUTION_TARGET["quick"], (claim.id, p, r.resolution)
            near = [c for c in r.controls if c.near_miss and c.verdict != "n/a"]
            assert near and all(c.verdict == "rejected" for c in near), (claim.id, p, near)


# --- the table: memory x task x T -> oo -----------------------------------------------------------

def test_delta_pair_recall_integrated_route_agrees_with_drawn_k1():
    """Integrating the stored key k_1 (Gaussian moments) and drawing it give the same pair-1 inverse SNR."""
    rng = np.random.default_rng(21)
    p = {"T": 8, "d_k": 3, "d_v": 2, "beta": 0.25}
    assert _agree(num.measure_delta_pair_recall(rng, trials=20000, **p),
                  num.delta_pair_recall_direct(rng, trials=40000, **p))


def test_delta_pair_recall_read_out_of_a_real_delta_memory():
    """The weights propagated backwards are the coefficients of the values in S_T k_1 of a token-loop delta memory."""
    rng = np.random.default_rng(22)
    T, d, beta = 6, 3, 0.3
    K, V = rng.standard_normal((1, T, d)), rng.standard_normal((1, T, 2))
    S = num.delta_stream(K, V, beta)[0]
    y, w = K[0, 0].copy(), np.zeros(T)
    for j in range(T - 1, 0, -1):
        w[j] = beta * K[0, j] @ y
        y = y - beta * K[0, j] * (K[0, j] @ y)
    w[0] = beta * K[0, 0] @ y
    assert np.allclose(S @ K[0, 0], w @ V[0], rtol=1e-12, atol=1e-12)


def test_recall_of_pair_1_table_ordering():
    """At every T > d_k: least squares is (d_k - 1)/(d_k + 2) better than additive, and the delta rule's inverse SNR
    overtakes both (geometric against linear growth)."""
    p = {"d_k": 4, "beta": 0.2}
    additive = th.linear_snr_finite().result
    for T in (10, 40, 160):
        q = dict(p, T=T)
        lin = 1 / evaluate(additive, q)
        assert lin - evaluate(th.least_squares_pair_recall().result, q) == pytest.approx(3 / 6)
    assert evaluate(th.delta_pair_recall().result, dict(p, T=160)) > 1e6 * 159 / 6


def test_softmax_integrated_route_agrees_with_all_drawn_route():
    """Integrating S_0, the orthogonal key directions and the value noise given the scores changes nothing."""
    rng = np.random.default_rng(23)
    p = {"T": 64, "d_k": 3, "d_v": 2, "key_scale2": 0.8, "noise2": 0.3, "tau": 1.5, "query_norm2": 1.5}
    assert _agree(num.measure_softmax_regression(rng, trials=20000, **p),
                  num.softmax_regression_direct(rng, trials=40000, **p))


def test_softmax_first_order_correction_matches_simulation_at_small_T():
    """C + D/T (theory) matches T E||o_T - o*||^2 at T = 32 and 64 better than C alone: D, which sets the claim's
    finite-size bound, is right in sign and size."""
    rng = np.random.default_rng(24)
    p = {"d_k": 4, "d_v": 3, "key_scale2": 1.0, "noise2": 0.25, "tau": 2.0, "query_norm2": 4.0}
    C = evaluate(th.softmax_regression_limit().result, p)
    D = evaluate(th.softmax_regression_correction(), p)
    for T in (128, 256):
        est = num.measure_softmax_regression(rng, trials=40000, T=T, **p)
        assert abs(est.estimate - (C + D / T)) <= 5 * est.standard_error + 2 * abs(D) / T * (64 / T)
        assert abs(est.estimate - C) > 5 * est.standard_error


def test_wishart_bartlett_has_the_wishart_moments():
    """Bartlett draws of K^T K have mean T I and Var(H_11) = 2T, Var(H_12) = T (against direct Gram matrices)."""
    rng = np.random.default_rng(25)
    T, d = 30, 3
    H = num.wishart_bartlett(rng, 40000, T, d)
    assert np.allclose(H.mean(axis=0), T * np.eye(d), atol=0.2)
    assert H[:, 0, 0].var() == pytest.approx(2 * T, rel=0.05)
    assert H[:, 0, 1].var() == pytest.approx(T, rel=0.05)
