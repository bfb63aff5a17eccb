"""Kernel memories: feature maps, estimators, the typical-vs-mean finding, streamed retrieval."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics import exp_kernel
from numerics import kernels as num
from proofs_check.ledger import evaluate
from theory import kernels as th


@settings(max_examples=25)
@given(d=st.integers(1, 6), p=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_feature_map_reproduces_polynomial_kernel(d, p, seed):
    """phi(x)^T phi(y) = (x^T y)^p in float64 for random shapes and vectors."""
    est = num.measure_feature_map_identity(np.random.default_rng(seed), d=d, p=p)
    assert est.estimate < 1e-11


@pytest.mark.parametrize("d,p", [(1, 4), (2, 3), (5, 2), (9, 4), (17, 3)])
def test_feature_count_is_the_binomial(d, p):
    """The enumerated feature count equals the theory's C(d + p - 1, p) (and math.comb)."""
    count = num.measure_feature_map_dimension(None, d=d, p=p).estimate
    assert count == evaluate(th.feature_map_dimension(), {"d": d, "p": p}) == math.comb(d + p - 1, p)


def test_feature_map_without_coefficients_is_wrong():
    """Dropping the multinomial coefficients breaks the identity (the control has power)."""
    est = num.measure_feature_map_identity(np.random.default_rng(0), d=4, p=3, variant="no_multinomial")
    assert est.estimate > 0.1


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


@pytest.mark.parametrize("R,P", [(0.5, 0), (1.0, 3), (3.0, 6), (4.0, 12)])
def test_truncation_error_below_lagrange_bound(R, P):
    """The measured worst truncation error never exceeds the Lagrange bound R^{P+1} e^R/(P+1)!."""
    err = num.measure_truncation_error(np.random.default_rng(0), R=R, P=P).estimate
    assert err <= evaluate(th.taylor_remainder_bound(), {"R": R, "P": P}) * (1 + 1e-12)


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
