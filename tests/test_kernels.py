"""Kernel memories: feature maps, the reduced estimators against the full read-out, the Lagrange bound,
the truncated kernel's limit, the typical-vs-mean finding, streamed retrieval."""

import math
from collections import Counter
from itertools import combinations_with_replacement

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics import exp_kernel
from numerics import kernels as num
from proofs_check.ledger import evaluate
from theory import kernels as th
from theory.linear_memory import doubling_grid


@settings(max_examples=25)
@given(d=st.integers(1, 6), p=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_feature_map_reproduces_polynomial_kernel(d, p, seed):
    """phi(x)^T phi(y) = (x^T y)^p in float64 for random shapes and vectors."""
    est = num.measure_feature_map_identity(np.random.default_rng(seed), d=d, p=p)
    assert est.estimate < 1e-11


@pytest.mark.parametrize("d,p", [(1, 4), (2, 3), (5, 2), (9, 4), (17, 3)])
def test_feature_count_is_the_binomial(d, p):
    """The feature map's column count equals the theory's C(d + p - 1, p) (and math.comb)."""
    count = num.measure_feature_map_dimension(None, d=d, p=p).estimate
    assert count == evaluate(th.feature_map_dimension(), {"d": d, "p": p}) == math.comb(d + p - 1, p)


@pytest.mark.parametrize("d,p", [(1, 3), (3, 1), (4, 3), (3, 4), (6, 2)])
def test_multinomial_coefficients_match_factorial_formula(d, p):
    """Each column's coefficient is sqrt(p!/prod(alpha_a!)), with alpha counted independently (Counter)."""
    X = np.ones((1, d))  # every monomial is 1, so a column is its coefficient
    expected = [math.sqrt(math.factorial(p) / math.prod(math.factorial(c) for c in Counter(combo).values()))
                for combo in combinations_with_replacement(range(d), p)]
    np.testing.assert_allclose(num.poly_features(X, p)[0], expected, rtol=1e-15)


@pytest.mark.parametrize("variant", ["no_multinomial", "no_sqrt"])
def test_feature_map_with_wrong_coefficients_is_wrong(variant):
    """Dropping the multinomial coefficients, or their square root, breaks the identity (the controls have power)."""
    est = num.measure_feature_map_identity(np.random.default_rng(0), d=4, p=3, variant=variant)
    assert est.estimate > 0.1


# --- the reduced estimators against the full matrix-level read-out ------------------------------

_SMALL = {"N": 5, "d_k": 3, "d_v": 2, "key_norm2": 1.5, "value_norm2": 3.0}
_ROUTE_CASES = [
    (num.measure_inverse_snr_poly, {"p": 1}),
    (num.measure_inverse_snr_poly, {"p": 2}),
    (num.measure_inverse_snr_poly, {"p": 3}),
    (num.measure_inverse_snr_relu, {}),
    (num.measure_inverse_snr_relu, {"variant": "abs"}),
    (num.measure_inverse_snr_truncated, {"tau": 1.5, "P": 2}),
    (num.measure_inverse_snr_truncated, {"tau": 2.0, "P": 4, "variant": "one_more_degree"}),
]


@pytest.mark.parametrize("measure,extra", _ROUTE_CASES,
                         ids=[f"{m.__name__}-{e}" for m, e in _ROUTE_CASES])
def test_reduced_route_agrees_with_full_readout(measure, extra):
    """Scores drawn as N(0, ||k_i||^2) with values integrated out give the same SNR^{-1} as simulating K, V and
    the read-out r = V^T kappa(K k_i) in full (two-sample z within 5.33); both SEs are a few % of the value,
    so a wrong reduction (a lost d_v = 2, the norm instead of its square) would fail."""
    params = {**_SMALL, **extra}
    reduced = measure(np.random.default_rng(1), trials=40000, **params)
    direct = measure(np.random.default_rng(2), trials=20000, route="direct", **params)
    se = math.hypot(reduced.standard_error, direct.standard_error)
    assert se < 0.05 * reduced.estimate
    assert abs(reduced.estimate - direct.estimate) <= 5.33 * se, (reduced, direct)


def test_full_readout_route_agrees_with_theory():
    """The direct route alone (no reduction) matches the polynomial theory at off-typical norms."""
    params = {**_SMALL, "p": 2}
    est = num.measure_inverse_snr_poly(np.random.default_rng(3), trials=20000, route="direct", **params)
    exact = evaluate(th.inverse_snr_poly().result, params)
    assert abs(est.estimate - exact) <= 5.33 * est.standard_error


def test_abs_route_reuses_the_main_route_draws():
    """The abs-kernel control runs on the same scores as the ReLU route (common random numbers): relu^2 <= abs^2."""
    relu = num.measure_inverse_snr_relu.simulate(np.random.default_rng(5), trials=500, **_SMALL)["y"]
    absolute = num.measure_inverse_snr_relu.simulate(np.random.default_rng(5), trials=500, variant="abs",
                                                     **_SMALL)["y"]
    assert np.all(relu <= absolute) and np.any(relu < absolute)


def test_conditional_estimators_reject_bad_input():
    """An unknown route and a memory without another pair raise errors naming the constraint."""
    with pytest.raises(ValueError, match="route"):
        num.measure_inverse_snr_relu(np.random.default_rng(0), trials=10, route="dense", **_SMALL)
    with pytest.raises(ValueError, match="N >= 2"):
        num.measure_inverse_snr_relu(np.random.default_rng(0), trials=10, **{**_SMALL, "N": 1})


def test_reduced_estimator_memory_is_blocked():
    """A memory of a million pairs is simulated in blocks: a few trials run without a huge allocation."""
    est = num.measure_inverse_snr_relu(np.random.default_rng(0), trials=4, N=10**6, d_k=8, d_v=4,
                                       key_norm2=8.0, value_norm2=4.0)
    exact = evaluate(th.inverse_snr_relu().result, {"N": 10**6, "d_v": 4, "key_norm2": 8.0, "value_norm2": 4.0})
    assert abs(est.estimate / exact - 1) < 0.02


# --- the polynomial capacity exponent -----------------------------------------------------------

@pytest.mark.parametrize("degree,d_min,d_max,target", [(2, 4, 32, 1.0), (3, 4, 16, 1.0), (2, 8, 64, 0.25), (1, 8, 64, 2.0)])
def test_slope_with_query_matches_independent_fit(degree, d_min, d_max, target):
    """The near-miss prediction (slope of log(1 + C), C = rho d^p/(2p-1)!!) equals numpy's polyfit of the same curve."""
    dims = np.array(doubling_grid(d_min, d_max), dtype=float)
    capacity = target * dims**degree / math.prod(range(1, 2 * degree, 2))
    expected = np.polyfit(np.log(dims), np.log1p(capacity), 1)[0]
    assert th.capacity_poly_exponent_finite_size(list(dims.astype(int)), degree, target) == pytest.approx(expected, rel=1e-12)
    assert float(th.capacity_poly_slope_with_query(degree, d_min, d_max, sp.nsimplify(target))) == pytest.approx(expected,
                                                                                                                   rel=1e-12)


def test_capacity_pairs_is_the_conditional_snr_solved_for_n_minus_1():
    """At C other pairs and typical norms the polynomial SNR^{-1} equals rho (theory solved, then substituted back)."""
    values = {"d_k": 12, "p": 3, "rho": 0.7}
    C = evaluate(th.capacity_poly_pairs(), values)
    snr = evaluate(th.inverse_snr_poly().result, {"N": C + 1, "d_k": 12, "d_v": 5, "key_norm2": 12.0,
                                                  "value_norm2": 5.0, "p": 3})
    assert snr == pytest.approx(0.7, rel=1e-12) and C == pytest.approx(0.7 * 12**3 / 15, rel=1e-12)


# --- kernel expansion ---------------------------------------------------------------------------

@pytest.mark.parametrize("R,P", [(0.05, 0), (0.5, 0), (1.0, 3), (3.0, 6), (4.0, 12), (0.2, 5)])
def test_lagrange_bound_sandwiches_the_worst_error(R, P):
    """R^{P+1}/(P+1)! <= worst error <= Lagrange bound R^{P+1} e^R/(P+1)! <= e^R worst error: the bound holds
    and is tight to within e^R, both for the theory's exact worst error and for the measured one."""
    bound = evaluate(th.taylor_remainder_bound(), {"R": R, "P": P})
    exact = evaluate(th.truncation_bound().result, {"R": R, "P": P})
    measured = num.measure_truncation_error(np.random.default_rng(0), R=R, P=P).estimate
    first_term = R ** (P + 1) / math.factorial(P + 1)
    for err in (exact, measured):
        assert first_term * (1 - 1e-9) <= err <= bound * (1 + 1e-12)
        assert bound <= math.exp(R) * err * (1 + 1e-9)


def test_truncated_snr_tends_to_the_exp_value_not_monotonically():
    """Theory: the degree-P inverse SNR reaches the exp-kernel value (Gaussian MGF) as P grows, dipping below it
    on the way (P = 3 < limit < P = 2 at d_k = 8, ||k_i||^2 = 4, tau = 2, N = 33)."""
    params = {"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0, "tau": 2.0}
    truncated = th.inverse_snr_truncated().result
    limit = evaluate(th.inverse_snr_exp().result, params)
    at = {P: evaluate(truncated, {**params, "P": P}) for P in (2, 3, 12, 40)}
    assert at[3] < limit < at[2]
    assert abs(at[12] / limit - 1) < 1e-3
    assert abs(at[40] / limit - 1) < 1e-12


def test_mean_estimand_decays_like_two_to_minus_half_d_at_tau_2():
    """Theory: each extra key dimension multiplies the tau = 2 mean by 2^{-1/2}, the typical value by e^{-1/2}."""
    mean = th.inverse_snr_exp_mean().result
    typical = th.inverse_snr_exp_typical().result
    base = {"N": 10, "d_v": 10, "tau": 2}
    assert evaluate(mean, {**base, "d_k": 21}) / evaluate(mean, {**base, "d_k": 20}) == pytest.approx(2**-0.5)
    assert evaluate(typical, {"N": 10, "d_k": 21}) / evaluate(typical, {"N": 10, "d_k": 20}) == pytest.approx(
        math.exp(-0.5))


def test_mean_exceeds_typical_by_four_orders_at_d64():
    """The finding reported in the docs: at d = 64, tau = 2 the mean is ~1.8e4 times the typical value."""
    mean = evaluate(th.inverse_snr_exp_mean().result, {"N": 2, "d_k": 64, "d_v": 10**9, "tau": 2})
    typical = evaluate(th.inverse_snr_exp_typical().result, {"N": 2, "d_k": 64})
    assert mean / typical == pytest.approx(2**-32 / math.exp(-32), rel=1e-6)
    assert mean / typical > 1e4


def test_ratio_estimand_needs_tau_above_4():
    """The chi-square MGF in the denominator exists only for 2/tau < 1/2: the formula's base hits 0 at tau = 4."""
    ratio = th.inverse_snr_exp_ratio().result
    assert evaluate(ratio, {"N": 2, "d_k": 8, "tau": 4.0001}) < 1e-10
    assert evaluate(ratio, {"N": 2, "d_k": 8, "tau": 8.0}) > 0.05


def test_kish_ess_extremes():
    """Equal terms give ESS = n; one dominating term gives ESS ~ 1."""
    assert num.kish_ess(np.zeros(50)) == pytest.approx(50)
    assert num.kish_ess(np.array([0.0] * 49 + [60.0])) == pytest.approx(1.0, rel=1e-6)


def test_streamed_retrieval_perfect_when_capacity_is_ample():
    """Exp kernel far below capacity (d = 32, N = 256) retrieves every sampled key; linear at N >> d does not."""
    rng = np.random.default_rng(4)
    assert num.top1_accuracy(rng, kernel="exp", N=256, d_k=32, d_v=32, chunk=50) == 1.0
    assert num.top1_accuracy(rng, kernel="linear", N=4096, d_k=8, d_v=32, chunk=1000) < 0.2


def test_streamed_retrieval_is_deterministic_given_the_seed():
    """Blocks are regenerated from child seeds: the same seed gives the same accuracy."""
    a = num.top1_accuracy(np.random.default_rng(9), kernel="exp", N=3000, d_k=10, d_v=16, chunk=700)
    b = num.top1_accuracy(np.random.default_rng(9), kernel="exp", N=3000, d_k=10, d_v=16, chunk=700)
    assert a == b


def test_exp_readout_with_huge_scores_stays_finite():
    """Log-space accumulation: tau = 0.05 scores of order 1e4 neither overflow nor produce NaN."""
    acc = num.top1_accuracy(np.random.default_rng(1), kernel="exp", N=2000, d_k=32, d_v=16, tau=0.05, chunk=300)
    assert acc == 1.0


def test_value_mean_centered_route_matches_zero_mean_formula():
    """Centering the values removes the coherent N^2 term: the measured value is the zero-mean formula."""
    params = {"N": 50, "d_k": 8, "d_v": 8, "key_norm2": 2.0, "value_norm2": 8.0, "tau": 2.0}
    est = exp_kernel.measure_inverse_snr_value_mean(np.random.default_rng(2), mu_norm2=1.0, trials=3000,
                                             variant="centered", **params)
    exact = evaluate(th.inverse_snr_exp().result, params)
    assert abs(est.estimate - exact) <= 5.3 * est.standard_error


def test_rbf_reduced_form_agrees_with_full_readout():
    """The Gaussian kernel's reduced form (shifted axis + chi^2) and the full read-out estimate the same value."""
    params = dict(N=9, d_k=6, d_v=3, key_norm2=5.0, value_norm2=4.0, tau=4.0)
    reduced = num.measure_inverse_snr_rbf(np.random.default_rng(1), trials=40000, **params)
    full = num.rbf_readout_inverse_snr(np.random.default_rng(2), trials=6000, **params)
    gap = abs(reduced.estimate - full.estimate)
    assert gap < 5 * math.hypot(reduced.standard_error, full.standard_error)
    assert abs(full.estimate - evaluate(th.inverse_snr_rbf().result, params)) < 5 * full.standard_error


@pytest.mark.parametrize("kernel,p,tau", [(0, 1, 2.0), (1, 2, 2.0), (1, 3, 2.0), (2, 1, 2.0), (3, 1, 3.0), (3, 1, 6.0)])
def test_general_formula_by_quadrature_matches_a_monte_carlo_moment(kernel, p, tau):
    """The quadrature moment of each instance kernel agrees with a plain sample mean of kappa(Z)^2."""
    s2 = 3.0
    z = math.sqrt(s2) * np.random.default_rng(kernel * 10 + p).standard_normal(400000)
    kappa = {0: lambda x: x, 1: lambda x: x**p, 2: lambda x: np.maximum(x, 0.0), 3: lambda x: np.exp(x / tau)}[kernel]
    sample = kappa(z) ** 2
    mc = 8 * sample.mean() / (kappa(np.float64(s2)) ** 2 * 2.0)
    se = 8 * sample.std() / math.sqrt(z.size) / (kappa(np.float64(s2)) ** 2 * 2.0)
    quad = num.measure_general_formula(None, N=9, d_v=1, key_norm2=s2, value_norm2=2.0, kernel=kernel, p=p, tau=tau)
    assert abs(quad.estimate - mc) < 6 * se


def test_general_formula_rejects_bad_input():
    """An unknown kernel index or a non-positive norm is refused with the constraint named."""
    with pytest.raises(ValueError, match="kernel=7"):
        num.measure_general_formula(None, N=9, d_v=1, key_norm2=1.0, value_norm2=1.0, kernel=7, p=1, tau=1.0)
    with pytest.raises(ValueError, match="positive"):
        num.measure_inverse_snr_rbf(np.random.default_rng(0), N=9, d_k=2, d_v=1, key_norm2=1.0, value_norm2=1.0,
                                    tau=0.0, trials=10)


def test_score_blocks_are_one_draw_cut_into_whole_rows():
    """The blocks, stacked, are exactly ``scale * standard_normal((trials, width))`` from the same generator."""
    blocks = [(start, z.copy()) for start, z in num.score_blocks(np.random.default_rng(4), 103, 7, 1.5, numbers=50)]
    assert [start for start, _ in blocks] == list(range(0, 103, 7))  # 50 // 7 = 7 rows a block
    whole = 1.5 * np.random.default_rng(4).standard_normal((103, 7))
    assert np.vstack([z for _, z in blocks]).tobytes() == whole.tobytes()


@pytest.mark.parametrize("measure,extra", [(num.measure_inverse_snr_relu, {"variant": (None, "abs")}),
                                           (num.measure_inverse_snr_truncated, {"tau": 2.0, "P": 3})])
def test_reduced_numbers_do_not_depend_on_the_block_size(monkeypatch, measure, extra):
    """Blocks hold whole trials, so a trial's value is the same bits whatever SCORE_BLOCK is."""
    def run():
        out = measure.simulate(np.random.default_rng(8), trials=300, **_SMALL, **extra)
        return [c["y"].tobytes() for c in (out if isinstance(out, tuple) else (out,))]
    default = run()
    monkeypatch.setattr(num, "SCORE_BLOCK", 3 * (_SMALL["N"] - 1) + 1)
    assert run() == default


def test_direct_route_groups_its_kernels_on_one_memory():
    """The direct route computes the ReLU and |x^T y| read-outs of one simulated memory: each equals its own call."""
    both = num.measure_inverse_snr_relu.simulate(np.random.default_rng(6), trials=200, route="direct",
                                                 variant=(None, "abs"), **_SMALL)
    for variant, columns in zip((None, "abs"), both):
        alone = num.measure_inverse_snr_relu.simulate(np.random.default_rng(6), trials=200, route="direct",
                                                      variant=variant, **_SMALL)
        assert columns["y"].tobytes() == alone["y"].tobytes()


def _clear_theory_caches(*modules):
    for module in modules:
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


_KERNEL_SLIPS = [  # (kernel, slip, derivations that must fail)
    ("relu_of", lambda z: sp.Piecewise((z, z > 0), (z, True)), {"inverse_snr_relu", "general_instances"}),
    ("relu_of", lambda z: sp.Piecewise((z / 2, z > 0), (0, True)), {"inverse_snr_relu", "general_instances"}),
    ("exp_of", lambda z: sp.exp(z * th.tau), {"inverse_snr_exp", "exp_log_crosstalk", "inverse_snr_value_mean",
                                              "general_instances"}),
    ("poly_of", lambda z: z ** (th.p + 1), {"inverse_snr_poly", "general_instances"}),
]


@pytest.mark.parametrize("name, slip, failing", _KERNEL_SLIPS)
def test_a_slip_in_a_kernel_fails_the_derivations_that_use_it(monkeypatch, name, slip, failing):
    """Each kernel of the inner product is written once (theory.kernels.poly_of, relu_of, exp_of): the diagonal
    steps kappa(k_i, k_i) = kappa(||k_i||^2) apply it and the moments integrate it, so a wrong kernel fails exactly
    the derivations built on it (a value typed twice would pass); the others still verify."""
    tk = th
    derivations = ["inverse_snr_poly", "inverse_snr_relu", "inverse_snr_exp", "exp_log_crosstalk",
                   "inverse_snr_value_mean", "general_instances"]
    assert all("failed" not in {c.status for c in getattr(tk, f)().verify()} for f in derivations)
    monkeypatch.setattr(tk, name, slip)
    _clear_theory_caches(tk)
    try:
        failed = {f for f in derivations if "failed" in {c.status for c in getattr(tk, f)().verify()}}
    finally:
        monkeypatch.undo()
        _clear_theory_caches(tk)
    assert failed == failing


def test_sphere_halving_below_one_rests_on_signs_sympy_decides():
    """The QK-norm claim's "g(tau/2)/g(tau) < 1 at every tau" is checked in sympy, not only at grid points: the
    derivative of e^{2(t-1)/tau} is positive for every cosine t = 1 - u < 1 and tau/2 < tau. A crosstalk written
    with the exponent's sign flipped throughout (e^{2(1-t)/tau}, decreasing in tau) fails that side condition."""
    from theory import normalization as tn

    assert [c.status for c in tn.sphere_halving_ratio().verify()] == ["verified"]
    u = tn._u
    right = sp.diff(sp.exp(2 * (tn._t - 1) / th.tau), th.tau).subs(tn._t, 1 - u)
    flipped = sp.diff(sp.exp(2 * (1 - tn._t) / th.tau), th.tau).subs(tn._t, 1 - u)
    assert tn._sign_check(right, positive=True) == 0
    assert tn._sign_check(flipped, positive=True) == 1
    assert tn._sign_check(th.tau / 2 - th.tau, positive=False) == 0
    assert tn._sign_check(2 * th.tau - th.tau, positive=False) == 1


def test_the_gaussian_same_norm_control_is_the_exp_kernel_at_key_variance_one_over_d_k():
    """capacity.norm.sphere_exp_conditional's control gaussian_same_norm names a slip (Gaussian keys N(0, I/d_k)
    of unit mean square norm in place of unit keys); its hand-written formula must be that slip, i.e. the
    exp-kernel crosstalk of theory.kernels.exp_log_crosstalk at key_var = 1/d_k and ||k_i||^2 = 1 (a formula
    with d_v for d_k was still a wrong value, rejected, and passed)."""
    from proofs_check.claims import capacity_norm
    from theory.symbols import N, d_k, d_v, value_norm2

    slip = (N - 1) * d_v / value_norm2 * sp.exp(th.exp_log_crosstalk().result.subs({th.key_var: 1 / d_k,
                                                                                   th.key_norm2: 1}))
    assert sp.simplify(capacity_norm._gaussian_same_norm() - slip) == 0
