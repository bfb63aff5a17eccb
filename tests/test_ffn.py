"""FFN as associative memory: the layer equals its slot sum, the reduced form equals the layer, closed forms
match quadrature, the exp simulation is a genuine Monte Carlo."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import ndtr

from numerics import ffn as num
from proofs_check.ledger import evaluate
from theory import ffn as th


@settings(max_examples=25)
@given(n=st.integers(1, 20), d=st.integers(1, 8), dv=st.integers(1, 6),
       act=st.sampled_from(["relu", "gelu", "silu", "exp"]), beta=st.floats(0.1, 2.0), glu=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_ffn_equals_sum_over_slots(n, d, dv, act, beta, glu, seed):
    """W_2 sigma(beta W_1 x) (times W_3 x for a GLU) equals sum_i v_i sigma(beta k_i^T x) (k'_i^T x), slot by slot,
    with sigma written out here independently of numerics.ffn."""
    reference = {"relu": lambda z: max(z, 0.0), "gelu": lambda z: z * 0.5 * math.erfc(-z / math.sqrt(2)),
                 "silu": lambda z: z / (1 + math.exp(-z)), "exp": math.exp}[act]
    rng = np.random.default_rng(seed)
    W1, W3 = rng.standard_normal((1, n, d)), rng.standard_normal((1, n, d))
    W2, x = rng.standard_normal((1, dv, n)), rng.standard_normal((1, d))
    out, _ = num.ffn_forward(W1, W2, x, activation=act, beta=beta, W3=W3 if glu else None)
    slots = sum(W2[0, :, i] * reference(beta * (W1[0, i] @ x[0])) * ((W3[0, i] @ x[0]) if glu else 1.0)
                for i in range(n))
    np.testing.assert_allclose(out[0], slots, rtol=1e-10, atol=1e-10)


# --- the reduced form against the layer ---------------------------------------------------------------

_SMALL = {"N": 9, "d": 4, "d_v": 3, "key_norm2": 2.0, "value_norm2": 2.5}
_SMALL_SPARSE = dict(_SMALL, key_norm2=25.0)  # the stored slot survives top-k except with probability ~2e-12
_ROUTES = [  # (name, reduced measure, its keyword arguments, layer keyword arguments, point)
    ("relu", num.measure_ffn_inverse_snr, {"activation": "relu"}, {"activation": "relu"}, _SMALL),
    ("gelu", num.measure_ffn_inverse_snr, {"activation": "gelu"}, {"activation": "gelu"}, _SMALL),
    ("silu", num.measure_ffn_inverse_snr, {"activation": "silu"}, {"activation": "silu"}, _SMALL),
    ("reglu", num.measure_ffn_inverse_snr, {"activation": "relu", "glu": "tied"},
     {"activation": "relu", "glu": "tied"}, _SMALL),
    # tilt 0.29 on the reduced side (4 beta^2 s^2 = 2 > 1); plain sampling through the layer
    ("exp", num.measure_ffn_exp, {"beta": 0.5}, {"activation": "exp", "beta": 0.5}, _SMALL),
    ("threshold", num.measure_ffn_sparsity, {"a": 1.0}, {"rule": "threshold", "a": 1.0}, _SMALL_SPARSE),
    ("topk", num.measure_ffn_sparsity, {"a": 1.0, "rule": "topk"}, {"rule": "topk", "a": 1.0}, _SMALL_SPARSE),
]


@pytest.mark.parametrize("name,reduced,kwargs,layer_kwargs,point", _ROUTES, ids=[r[0] for r in _ROUTES])
def test_reduced_form_agrees_with_the_layer(name, reduced, kwargs, layer_kwargs, point):
    """The reduced form (N - 1 pre-activations ~ N(0, ||k_0||^2), values integrated exactly) and the layer route
    (W_1, W_2 drawn whole, ||r||^2 read off W_2 sigma(W_1 k_0)) estimate the same number: within 5 two-sample SEs,
    with SEs small enough that a reduction off by 8% would be caught."""
    rng = np.random.default_rng(sum(map(ord, name)))
    a = reduced(rng, trials=40_000, **point, **kwargs)
    b = num.measure_ffn_layer(rng, trials=40_000, **point, **layer_kwargs)
    se = math.hypot(a.standard_error, b.standard_error)
    assert 5 * se <= 0.08 * abs(a.estimate), (name, a, b)
    assert abs(a.estimate - b.estimate) <= 5 * se, (name, a.estimate, b.estimate, se)


@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_antithetic_trial_is_the_mean_of_the_plain_trials_at_z_and_minus_z(activation):
    """GELU's and SiLU's reduced trial pairs each pre-activation with its mirror: on the same draws it is the
    mean of the plain trial value at z and at -z, computed here from the activation itself (no gate identity)."""
    point = dict(_SMALL, N=33)
    y = num.measure_ffn_inverse_snr.simulate(np.random.default_rng(8), trials=500, activation=activation, **point)["y"]
    sigma = num.ACTIVATIONS[activation]
    z = np.random.default_rng(8).standard_normal((500, point["N"] - 1)) * math.sqrt(point["key_norm2"])
    scale = point["d_v"] / (sigma(np.float64(point["key_norm2"])) ** 2 * point["value_norm2"])
    plain = scale * (sigma(z) ** 2).sum(axis=1)
    mirror = scale * (sigma(-z) ** 2).sum(axis=1)
    np.testing.assert_allclose(y, (plain + mirror) / 2, rtol=1e-12)
    assert not np.allclose(y, plain, rtol=1e-3)  # the pairing is in use
    assert np.var(plain) > 1.8 * np.var(y)  # and spends its work on information


def test_ungated_route_reuses_the_main_draws():
    """The ungated route of the tied GLU reads the same pre-activations (common random numbers): with one seed,
    trial by trial its crosstalk z^4 is at least the gated z^4 1{z > 0}, over the same signal h_0 = ||k_0||^4."""
    point = dict(_SMALL)
    gated = num.measure_ffn_inverse_snr.simulate(np.random.default_rng(3), trials=500, activation="relu", glu="tied",
                                                 **point)["y"]
    ungated = num.measure_ffn_inverse_snr.simulate(np.random.default_rng(3), trials=500, activation="relu", glu="tied",
                                                   variant="ungated", **point)["y"]
    assert np.all(ungated >= gated) and np.any(ungated > gated)


def test_topk_drops_the_stored_slot_as_infinity():
    """When k or more of the other activations exceed ||k_0||^2 the stored slot is not kept: the trial has no signal
    and its value is inf (an error for the engine), not a silently finite number."""
    y = num.measure_ffn_sparsity.simulate(np.random.default_rng(0), N=17, d=4, d_v=2, key_norm2=1.5, value_norm2=1.0,
                                          a=1.0, rule="topk", trials=400)["y"]
    assert np.isinf(y).any() and np.isfinite(y).any()


@pytest.mark.parametrize("call,match", [
    (lambda: num.measure_ffn_inverse_snr(np.random.default_rng(0), trials=10, **dict(_SMALL, N=1)), "N=1"),
    (lambda: num.measure_ffn_inverse_snr(np.random.default_rng(0), trials=1, **_SMALL), "trials=1"),
    (lambda: num.measure_ffn_inverse_snr(np.random.default_rng(0), trials=10, activation="tanh", **_SMALL), "tanh"),
    (lambda: num.measure_ffn_sparsity(np.random.default_rng(0), trials=10, a=2.0, **_SMALL), "a\\^2"),
    (lambda: num.measure_ffn_exp(np.random.default_rng(0), trials=10, beta=0.0, **_SMALL), "beta=0.0"),
])
def test_bad_input_is_named(call, match):
    """Invalid parameters raise a ValueError that names the constraint and the value."""
    with pytest.raises(ValueError, match=match):
        call()


# --- the exp activation: a genuine importance-sampled Monte Carlo -----------------------------------------

def test_exp_tilt_caps_the_log_variance():
    """Below the cap the proposal is plain sampling; above it the weighted term's log-variance
    (1 - lambda)^2 4 beta^2 s^2 equals the cap, and the tilt stays short of the zero-variance value 1."""
    assert num.exp_tilt(0.5, 0.9) == 0.0
    for beta, s2 in ((0.5, 16.0), (1.0, 12.0), (0.25, 400.0)):
        tilt = num.exp_tilt(beta, s2)
        assert 0 < tilt < 1
        assert (1 - tilt) ** 2 * 4 * beta**2 * s2 == pytest.approx(num.EXP_LOG_VAR_CAP)


def test_exp_estimate_varies_from_seed_to_seed():
    """At a heavily tilted point (lambda = 0.75) the estimate changes with the seed, its SE is the spread of the trials
    (no floor), the per-trial values are not constant, and Kish's ESS is a fraction of the weighted terms."""
    point = dict(N=33, d=16, d_v=8, key_norm2=16.0, value_norm2=8.0, beta=0.5)
    runs = [num.measure_ffn_exp(np.random.default_rng(seed), trials=400, **point) for seed in (1, 2, 3)]
    assert len({r.estimate for r in runs}) == 3
    y = num.measure_ffn_exp.simulate(np.random.default_rng(1), trials=400, **point)["y"]
    assert np.std(y) / np.mean(y) > 0.1
    assert runs[0].standard_error == pytest.approx(np.std(y, ddof=1) / math.sqrt(y.size))
    assert 0.2 * 400 * 32 < runs[0].ess < 0.6 * 400 * 32  # about n / e for log-variance 1


def test_exp_importance_sampling_is_unbiased_against_the_closed_form():
    """With the tilt active (lambda = 0.75), the estimate lies within 5 SE of the Gaussian-MGF value
    (N-1) d_v/||v||^2 exp(2 beta (beta - 1) s^2), and 5 SE is under 5% of it."""
    point = dict(N=33, d=16, d_v=8, key_norm2=16.0, value_norm2=8.0, beta=0.5)
    est = num.measure_ffn_exp(np.random.default_rng(11), trials=4000, **point)
    exact = 32 * 8 / 8 * math.exp(2 * 0.5 * (0.5 - 1) * 16.0)
    assert 5 * est.standard_error < 0.05 * exact
    assert abs(est.estimate - exact) <= 5 * est.standard_error


# --- the top-k count: the claim's sympy count and the simulation's round agree ----------------------------

def test_topk_count_in_theory_matches_the_simulation():
    """The sympy count floor((N-1) Q(a) + 1/2) + 1 the claim predicts with equals topk_active's round, over a grid."""
    from proofs_check.claims.ffn import _topk_count

    for N in (3, 17, 33, 65, 129, 257, 1025):
        for a in (0.3, 0.5, 1.0, 1.5, 2.0, 2.5):
            assert int(_topk_count(sp.Integer(N), sp.nsimplify(a))) == num.topk_active(N, a), (N, a)


def gaussian_second_moment(sigma, s2: float) -> float:
    """E[sigma(Z)^2], Z ~ N(0, s2), by scipy quadrature over +-12 standard deviations (split at 0)."""
    sd = math.sqrt(s2)
    density = lambda z: math.exp(-z * z / (2 * s2)) / math.sqrt(2 * math.pi * s2)  # noqa: E731
    quad, _ = integrate.quad(lambda z: sigma(z) ** 2 * density(z), -12 * sd, 12 * sd,
                             points=[0.0] if 12 * sd > 1 else None, epsabs=0, epsrel=1e-12, limit=400)
    return quad


@pytest.mark.parametrize("s2", [0.1, 0.5, 1.0, 3.0, 20.0])
def test_gelu_second_moment_matches_quadrature(s2):
    """The Stein-lemma closed form of E[GELU(Z)^2], Z ~ N(0, s2), agrees with scipy quadrature."""
    params = {"N": 2, "d_v": 1, "key_norm2": s2, "value_norm2": 1.0}
    closed = evaluate(th.inverse_snr_gelu().result, params) * (s2 * ndtr(s2)) ** 2
    assert closed == pytest.approx(gaussian_second_moment(lambda z: z * ndtr(z), s2), rel=1e-9)


def test_gelu_tends_to_relu_at_large_scale():
    """At typical scale (s2 = 64) GELU and ReLU crosstalk agree within 1%."""
    params = {"N": 100, "d_v": 8, "key_norm2": 64.0, "value_norm2": 8.0}
    gelu = evaluate(th.inverse_snr_gelu().result, params)
    relu = evaluate(th.inverse_snr_relu_ffn().result, params)
    assert gelu == pytest.approx(relu, rel=0.01)


@pytest.mark.parametrize("s2", [1e-3, 0.1, 0.5, 1.0, 3.0, 20.0, 1e3, 1e4])
def test_silu_second_moment_matches_quadrature(s2):
    """E[SiLU(Z)^2] = s2/2 - E[Z^2 sigmoid'(Z)] (theory: mpmath on the reduced integral) agrees with
    scipy quadrature of the defining integral E[(Z sigmoid(Z))^2], Z ~ N(0, s2), over the whole domain
    of ||k_i||^2."""
    from scipy.special import expit

    params = {"N": 2, "d_v": 1, "key_norm2": s2, "value_norm2": 1.0}
    theory = evaluate(th.inverse_snr_silu().result, params) * (s2 * expit(s2)) ** 2
    assert theory == pytest.approx(gaussian_second_moment(lambda z: z * expit(z), s2), rel=1e-8)


def test_silu_lies_below_relu_and_tends_to_it():
    """The correction E[Z^2 sigmoid'(Z)] is positive, so E[SiLU(Z)^2] < s2/2 at every scale; relative to
    s2/2 it vanishes as s2 grows (the SiLU crosstalk per unit signal approaches ReLU's within 2% at s2 = 64)."""
    for s2 in (0.5, 4.0, 64.0):
        assert 0 < float(th.SigmoidSlopeMoment(s2).evalf(30)) < s2 / 2
    params = {"N": 100, "d_v": 8, "key_norm2": 64.0, "value_norm2": 8.0}
    assert evaluate(th.inverse_snr_silu().result, params) == pytest.approx(
        evaluate(th.inverse_snr_relu_ffn().result, params), rel=0.02)


def test_silu_derivation_rejects_a_wrong_pointwise_identity():
    """The SiLU step is only verified because sigmoid^2 = sigmoid - sigmoid' holds: with the sign of the
    derivative flipped the same substitution fails."""
    import sympy as sp

    from theory.derivation import Derivation

    z = sp.Symbol("z", real=True)
    sig = 1 / (1 + sp.exp(-z))
    x = sp.Symbol("x")
    good = Derivation("t", x).substitute(x, 1, "ok", proof=1, conditions=(sig**2 - (sig - sp.diff(sig, z)),))
    bad = Derivation("t", x).substitute(x, 1, "wrong", proof=1, conditions=(sig**2 - (sig + sp.diff(sig, z)),))
    assert [c.status for c in good.verify()] == ["verified"]
    assert [c.status for c in bad.verify()] != ["verified"]


@pytest.mark.parametrize("n,m", [(2, 1), (3, 2), (10, 3), (64, 10), (1024, 68), (4095, 93), (20000, 3000)])
def test_topk_kept_moment_matches_order_statistics_quadrature(n, m):
    """M(n, m) (theory: Beta-quantile form in mpmath) equals scipy quadrature of the order-statistics
    form n int_0^oo x^2 phi(x) P(Bin(n-1, Q(x)) <= m-1) dx, an independent route to the same moment."""
    from scipy.stats import binom, norm

    theory = float(th.TopKTailMoment(n, m).evalf(30))
    quantile = norm.isf(m / n)
    f = lambda x: x * x * norm.pdf(x) * binom.cdf(m - 1, n - 1, norm.sf(x))  # noqa: E731
    cuts = sorted({0.0, max(quantile, 0.0), quantile + 1.0, 12.0})
    quad = n * sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=400)[0] for lo, hi in zip(cuts, cuts[1:]))
    assert theory == pytest.approx(quad, rel=1e-8)


def test_topk_kept_moment_matches_sorted_normals():
    """Monte Carlo of sorted normals (n = 12, m = 4; 400k draws) agrees with M within 5 SE."""
    rng = np.random.default_rng(7)
    top = np.sort(rng.standard_normal((400_000, 12)), axis=1)[:, -4:]
    sample = np.sum(np.maximum(top, 0.0) ** 2, axis=1)
    theory = float(th.TopKTailMoment(12, 4).evalf(30))
    assert abs(sample.mean() - theory) <= 5 * sample.std(ddof=1) / math.sqrt(sample.size)


@pytest.mark.parametrize("a", [1.0, 1.5, 2.0])
def test_topk_tends_to_the_threshold_formula(a):
    """M(N-1, k-1)/(N-1) -> Q(a) + a phi(a) with k = round((N-1) Q(a)) + 1: within 1.5% from N = 257 on
    and 0.3% from N = 4097 on (the gap is not monotone: k is rounded)."""
    from scipy.stats import norm

    limit = norm.sf(a) + a * norm.pdf(a)
    for N, tol in ((257, 0.015), (1025, 0.015), (4097, 0.003), (65537, 0.003)):
        k = num.topk_active(N, a)
        assert float(th.TopKTailMoment(N - 1, k - 1).evalf(30)) / (N - 1) == pytest.approx(limit, rel=tol)


def test_exp_activation_at_unit_scale_has_no_dimension_gain():
    """beta = 1: SNR^{-1} = (N-1) d_v/||v_i||^2 whatever ||k_i||^2 is."""
    expr = th.inverse_snr_exp_activation().result
    values = [evaluate(expr, {"N": 9, "d_v": 4, "value_norm2": 4.0, "beta": 1.0, "key_norm2": k}) for k in (1.0, 50.0)]
    assert values == pytest.approx([8.0, 8.0])


@pytest.mark.parametrize("a,gain", [(1.0, 1.2480468738790311), (2.0, 3.8246164022370195)])
def test_sparsity_gain_matches_scipy(a, gain):
    """1/(2 (Q(a) + a phi(a))) from theory equals the value computed with scipy.stats.norm."""
    from scipy.stats import norm

    assert evaluate(th.sparsity_gain(), {"a": a}) == pytest.approx(1 / (2 * (norm.sf(a) + a * norm.pdf(a))))
    assert evaluate(th.sparsity_gain(), {"a": a}) == pytest.approx(gain)


def test_topk_mask_keeps_the_k_largest():
    """Exactly the k largest entries of each row survive."""
    h = np.array([[3.0, -1.0, 5.0, 2.0], [0.1, 0.4, 0.3, 0.2]])
    np.testing.assert_array_equal(num.topk_mask(h, 2), [[3.0, 0.0, 5.0, 0.0], [0.0, 0.4, 0.3, 0.0]])


def test_gelu_derivation_verifies_every_step_and_rejects_a_wrong_closed_form(monkeypatch):
    """Stein's lemma and the heat-equation (Sheppard) step verify in sympy, so the GELU derivation has no cited step;
    with the asin argument s^2/(1 + 2 s^2) in the closed form the final step fails."""
    assert [c.status for c in th.inverse_snr_gelu().verify()] == ["verified"] * 5  # "collect" folds into step 5
    s2 = th.key_norm2
    right = th.gelu_inverse_snr_value()
    wrong = right.subs(sp.asin(s2 / (1 + s2)), sp.asin(s2 / (1 + 2 * s2)))
    assert wrong != right
    monkeypatch.setattr(th, "gelu_inverse_snr_value", lambda: wrong)
    th.inverse_snr_gelu.cache_clear()
    try:
        assert th.inverse_snr_gelu().verify()[-1].status == "failed"
    finally:
        monkeypatch.undo()
        th.inverse_snr_gelu.cache_clear()


_ACTIVATION_SLIPS = [
    ("relu_of", lambda x: sp.Piecewise((x, x > 0), (x, True)),
     {"inverse_snr_relu_ffn", "inverse_snr_reglu", "inverse_snr_untied_glu"}),
    ("relu_of", lambda x: sp.Piecewise((x / 2, x > 0), (0, True)),
     {"inverse_snr_relu_ffn", "inverse_snr_reglu", "inverse_snr_topk", "inverse_snr_untied_glu"}),
    ("_reglu", lambda x: th.relu_of(x), {"inverse_snr_reglu"}),
    ("_exp_activation", lambda x: sp.exp(x), {"inverse_snr_exp_activation"}),
    ("_threshold_relu", lambda x: sp.Piecewise((x, x > th.a_threshold * th.key_norm2), (0, True)),
     {"inverse_snr_threshold"}),
    ("_threshold_relu", lambda x: sp.Piecewise((x, x > th.a_threshold * sp.sqrt(th.key_norm2)), (x, True)),
     {"inverse_snr_threshold"}),
]


@pytest.mark.parametrize("name, slip, failing", _ACTIVATION_SLIPS)
def test_a_slip_in_an_activation_fails_the_derivations_that_use_it(monkeypatch, name, slip, failing):
    """The diagonal steps sigma(||k_i||^2) = ... and the half-line moments apply the activation itself (not a
    value typed twice), so a wrong activation fails exactly the derivations built on it; the others still verify."""
    derivations = ["inverse_snr_relu_ffn", "inverse_snr_exp_activation", "inverse_snr_reglu", "inverse_snr_threshold",
                   "inverse_snr_topk", "inverse_snr_untied_glu"]
    assert all("failed" not in {c.status for c in getattr(th, f)().verify()} for f in derivations)
    monkeypatch.setattr(th, name, slip)
    for f in derivations:
        getattr(th, f).cache_clear()
    try:
        failed = {f for f in derivations if "failed" in {c.status for c in getattr(th, f)().verify()}}
    finally:
        monkeypatch.undo()
        for f in derivations:
            getattr(th, f).cache_clear()
    assert failed == failing


def test_threshold_diagonal_uses_the_claims_constraint():
    """The stored slot passes its own threshold only when ||k_i|| > a (the claim's constraint): unconditioned,
    the threshold activation at ||k_i||^2 is a Piecewise that sympy cannot reduce to ||k_i||^2."""
    diagonal = th._threshold_relu(th.key_norm2)
    assert isinstance(diagonal, sp.Piecewise)
    assert sp.simplify(diagonal.subs(th.a_threshold, sp.sqrt(th.key_norm2) - th._margin)) == th.key_norm2
    assert sp.simplify(diagonal.subs(th.a_threshold, sp.sqrt(th.key_norm2) + th._margin)) == 0


def test_optimal_beta_is_one_half():
    """The exponent 2 beta (beta - 1) of the exp activation is minimised at beta = 1/2, verified in sympy."""
    derivation = th.optimal_beta()
    assert [c.status for c in derivation.verify()] == ["verified"]
    assert derivation.result == sp.Matrix([sp.Rational(1, 2)])


def test_untied_glu_reduced_form_agrees_with_the_layer():
    """The untied GLU's reduced form (independent gate and up pre-activations) matches W_2 (ReLU(W_1 x) * W_3 x)."""
    params = dict(N=17, d=8, d_v=4, key_norm2=6.0, value_norm2=5.0, up_proj2=4.0)
    reduced = num.measure_ffn_untied_glu(np.random.default_rng(11), trials=40000, **params)
    layer = num.untied_glu_layer_inverse_snr(np.random.default_rng(12), trials=4000, **params)
    assert abs(reduced.estimate - layer.estimate) < 5 * math.hypot(reduced.standard_error, layer.standard_error)


def test_slot_identity_rejects_a_non_square_transposed_reading():
    """The keys-as-columns reading needs a square W_1 and says so."""
    with pytest.raises(ValueError, match="N = d"):
        num.measure_ffn_slot_identity(np.random.default_rng(0), N=4, d=3, d_v=2, activation=0, glu=0,
                                      variant="keys_as_columns")


_BLOCKED = [  # reduced forms drawn through numerics.kernels.score_blocks
    (num.measure_ffn_inverse_snr, {"activation": "gelu"}, _SMALL),
    (num.measure_ffn_inverse_snr, {"activation": "relu", "glu": "tied", "variant": (None, "ungated")}, _SMALL),
    (num.measure_ffn_sparsity, {"a": 1.0}, _SMALL_SPARSE),
    (num.measure_ffn_sparsity, {"a": 1.0, "rule": "topk"}, _SMALL_SPARSE),
    (num.measure_ffn_exp, {"beta": 0.5}, _SMALL),
]


@pytest.mark.parametrize("measure,kwargs,point", _BLOCKED, ids=["gelu", "reglu_group", "threshold", "topk", "exp"])
def test_reduced_numbers_do_not_depend_on_the_block_size(monkeypatch, measure, kwargs, point):
    """The reduced forms reuse one buffer per block of whole trials: every trial's value is the same bits for a
    block of a few trials (many blocks, the last one short) as for the default block."""
    from numerics import kernels

    def run():
        out = measure.simulate(np.random.default_rng(12), trials=301, **point, **kwargs)
        return [{k: v.tobytes() for k, v in c.items()} for c in (out if isinstance(out, tuple) else (out,))]
    default = run()
    monkeypatch.setattr(kernels, "SCORE_BLOCK", 4 * (point["N"] - 1) + 3)
    assert run() == default


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "exp", "identity"])
def test_activations_write_into_a_buffer_with_the_same_numbers(name):
    z = np.random.default_rng(2).standard_normal((5, 9))
    out = np.full_like(z, np.nan)
    sigma = num.ACTIVATIONS[name]
    assert sigma(z, out=out) is out
    assert out.tobytes() == sigma(z).tobytes() and np.all(np.isfinite(out))


def test_topk_counts_of_the_prediction_and_the_simulation_agree_where_rounding_matters():
    """The claim's prediction counts the kept slots with sympy (``floor(x + 1/2) + 1``) and the simulation with
    ``round`` (numerics.ffn.topk_active): they agree for every N and a, including where (N - 1) Q(a) has a
    fractional part above 1/2, which no grid point of ffn.sparsity.topk has (a count that floors was caught only
    by one hypothesis draw at z = 5.6)."""
    from proofs_check.claims import ffn as claims_ffn

    a_values = (0.5, 1.0, 1.5, 2.0)
    counts = [(n, a) for n in range(3, 300, 7) for a in a_values]
    above_half = [(n, a) for n, a in counts if ((n - 1) * float(ndtr(-a))) % 1 > 0.5]
    assert len(above_half) > 20
    for n, a in counts:
        assert int(claims_ffn._topk_count(n, sp.Float(a))) == num.topk_active(n, a), (n, a)


def test_activation_outside_applies_wherever_it_is_a_different_computation():
    """ffn.memory.slot_identity's control activation_outside (sigma applied to the memory's output) is the truth
    only for the identity activation without a gate: it applies at every other grid point, gated or not (an
    applies_when with 'and' for 'or' dropped it at the ungated nonlinear points)."""
    from proofs_check.ledger import MODES, get_claim

    claim = get_claim("ffn.memory.slot_identity")
    control = next(k for k in claim.negative_controls if k.name == "activation_outside")
    for mode in MODES:
        for p in claim.grids[mode]:
            same = p["activation"] == 4 and p["glu"] == 0 or p["N"] < 2
            assert control.applies_when.holds(p) == (not same), (mode, p)
