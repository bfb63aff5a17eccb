"""FFN as associative memory: the layer equals its slot sum, closed forms match quadrature."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import ndtr

from numerics import ffn as num
from proofs_check.ledger import evaluate
from theory import ffn as th


@settings(max_examples=25)
@given(n=st.integers(1, 20), d=st.integers(1, 8), dv=st.integers(1, 6), act=st.sampled_from(["relu", "gelu", "silu"]),
       glu=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_ffn_equals_sum_over_slots(n, d, dv, act, glu, seed):
    """W_2 sigma(W_1 x) (times W_3 x for a GLU) equals sum_i v_i sigma(k_i^T x) (k'_i^T x), slot by slot."""
    rng = np.random.default_rng(seed)
    W1, W3 = rng.standard_normal((1, n, d)), rng.standard_normal((1, n, d))
    W2, x = rng.standard_normal((1, dv, n)), rng.standard_normal((1, d))
    out, _ = num.ffn_forward(W1, W2, x, activation=act, W3=W3 if glu else None)
    sigma = num.ACTIVATIONS[act]
    slots = sum(W2[0, :, i] * sigma(W1[0, i] @ x[0]) * ((W3[0, i] @ x[0]) if glu else 1.0) for i in range(n))
    np.testing.assert_allclose(out[0], slots, rtol=1e-10, atol=1e-10)


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
