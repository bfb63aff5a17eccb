"""Linear associative memory: numeric routines against independent computations, and wide-regime sweeps."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics import linear_memory as num
from numerics.estimate import MonteCarlo, merge_columns
from proofs_check.engine import PASS, SEPARATION, UNDERPOWERED, Z, check_point
from proofs_check.ledger import evaluate, get_claim
from theory import linear_memory as th


@given(N=st.integers(2, 40), d=st.integers(1, 12))
def test_harmonic_frame_is_a_unit_norm_tight_frame(N, d):
    """harmonic_frame rows are unit vectors with K^T K = (N/d) I (checked directly, not via the claim)."""
    if N <= d:
        N = d + 1
    K = num.harmonic_frame(N, d)
    np.testing.assert_allclose(np.linalg.norm(K, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(K.T @ K, (N / d) * np.eye(d), atol=1e-10)


@settings(max_examples=20)
@given(N=st.integers(2, 30), d=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_random_unit_keys_never_beat_the_noise_floor(N, d, seed):
    """Any unit key set has total crosstalk >= N(N - d)/d (Welch-type bound), computed from the Gram matrix."""
    if N <= d:
        N = d + 1
    K = num.unit_rows(np.random.default_rng(seed).standard_normal((N, d)))
    gram = K @ K.T  # small N: an independent route through the Gram matrix
    crosstalk = float(np.sum(gram**2) - np.sum(np.diag(gram) ** 2))
    assert crosstalk >= N * (N - d) / d * (1 - 1e-12)


def test_memory_never_materialises_an_n_by_n_matrix():
    """The memory read-out route keeps O(N d) memory: retrieval goes through the d_v x d_k memory."""
    import tracemalloc

    rng = np.random.default_rng(0)
    tracemalloc.start()
    num.measure_inverse_snr_ratio(rng, N=4096, d_k=16, d_v=4, trials=2, route="memory")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4096 * 4096 * 8 / 8  # far below one N x N float64 matrix (134 MB)


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", [
    "capacity.linear.inverse_snr_conditional",
    "capacity.linear.inverse_snr_ratio",
    "capacity.linear.inverse_snr_sphere",
    "capacity.linear.inverse_snr_mean",
])
def test_estimands_hold_over_the_wide_domain(claim_id):
    """Each estimand's exact value holds for N from 2 to 8 d_k and d_k, d_v from 4 (5 for the mean) to 256
    (the claim's own comparison at a fixed 4,000 trials; a near-miss control that so few trials cannot
    separate makes the point underpowered, which says nothing against the claim)."""
    claim = get_claim(claim_id)
    low = 5 if claim_id.endswith("mean") else 4

    @settings(max_examples=8)
    @given(d_k=st.integers(low, 256), d_v=st.integers(low, 256), frac=st.floats(0, 1),
           seed=st.integers(0, 2**32 - 1))
    def run(d_k, d_v, frac, seed):
        params = {"N": 2 + int(frac * (8 * d_k - 2)), "d_k": d_k, "d_v": d_v}
        if "key_norm2" in claim.param_names:
            params.update(key_norm2=0.5 * d_k, value_norm2=float(d_v))
        result = check_point(claim, params, seed=seed, trials=4000)
        assert math.isfinite(result.measured)
        assert result.verdict in (PASS, UNDERPOWERED), (params, result.predicted, result.measured,
                                                        result.standard_error)

    run()


# --- reduced routes against the memory read-out --------------------------------------------------

ROUTE_CASES = [
    # (measure, params, memory trials, relative size of the slip the comparison must resolve)
    ("measure_inverse_snr_conditional", dict(N=9, d_k=4, d_v=3, key_norm2=2.5, value_norm2=1.5), 20000, 1 / 8),
    ("measure_inverse_snr_mean", dict(N=9, d_k=10, d_v=12), 40000, 1 / 8),
    ("measure_inverse_snr_ratio", dict(N=8, d_k=4, d_v=3), 10000, 1 / 7),
    ("measure_inverse_snr_sphere", dict(N=8, d_k=5, d_v=3), 10000, 1 / 7),
    ("measure_capacity_exponent", dict(d_min=4, d_max=16, rho=1.0), 4000, 0.15),
]


@pytest.mark.parametrize("name,params,memory_trials,slip", ROUTE_CASES, ids=[c[0] for c in ROUTE_CASES])
def test_reduced_route_agrees_with_the_memory_read_out(name, params, memory_trials, slip):
    """Each reduced simulation (scores given the query, values integrated out) estimates the same number as
    the direct route that stores every pair in S = V^T K and reads the query out; the two-sample comparison
    is sharp enough to catch a slip of the stated relative size (e.g. N for N - 1) in either route."""
    measure = getattr(num, name)
    reduced = measure(np.random.default_rng(1), trials=200_000, route="reduced", **params)
    memory = measure(np.random.default_rng(2), trials=memory_trials, route="memory", **params)
    se = math.hypot(reduced.standard_error, memory.standard_error)
    assert abs(reduced.estimate - memory.estimate) <= Z * se, (reduced, memory)
    assert SEPARATION * se <= slip * abs(memory.estimate), f"comparison too coarse: SE {se:.3g}"


def test_nested_sizes_of_the_limit_keep_each_size_law():
    """The limit measure's reduced route couples its sizes (nested prefixes of one draw); at every size its
    ratio still agrees with the memory read-out at that size, sharply enough to catch N for N - 1 there."""
    from numerics.estimate import ratio_of_means

    params = dict(N=4, d_k=4, d_v=3)
    reduced = num.measure_inverse_snr_ratio_limit.simulate(np.random.default_rng(1), trials=200_000, **params)
    memory = num.measure_inverse_snr_ratio_limit.simulate(np.random.default_rng(2), trials=3000, route="memory",
                                                          **params)
    for s in num.LIMIT_SCALES:
        a, b = (ratio_of_means(c[f"noise_{s}"], c[f"signal_{s}"], method="") for c in (reduced, memory))
        se = math.hypot(a.standard_error, b.standard_error)
        assert abs(a.estimate - b.estimate) <= Z * se, (s, a, b)
        assert SEPARATION * se <= b.estimate / (s * params["N"] - 1)


MC_CASES = [
    ("measure_inverse_snr_conditional", dict(N=9, d_k=4, d_v=3, key_norm2=2.5, value_norm2=1.5)),
    ("measure_inverse_snr_mean", dict(N=9, d_k=10, d_v=12)),
    ("measure_inverse_snr_ratio", dict(N=8, d_k=4, d_v=3)),
    ("measure_inverse_snr_sphere", dict(N=8, d_k=5, d_v=3)),
    ("measure_inverse_snr_ratio_limit", dict(N=2, d_k=4)),
    ("measure_capacity_exponent", dict(d_min=4, d_max=16, rho=1.0)),
]


@pytest.mark.parametrize("name,params", MC_CASES, ids=[c[0] for c in MC_CASES])
def test_monte_carlo_is_a_simulation_with_its_own_standard_error(name, params):
    """Each retrieval-SNR measure is a batched Monte Carlo: the same seed reproduces it, other seeds give
    other estimates, its SE is positive, and the SE of the pooled batches shrinks like 1/sqrt(trials)."""
    measure = getattr(num, name)
    assert isinstance(measure, MonteCarlo)
    a = measure(np.random.default_rng(5), trials=2000, **params)
    b = measure(np.random.default_rng(6), trials=2000, **params)
    assert a.estimate == measure(np.random.default_rng(5), trials=2000, **params).estimate
    assert a.estimate != b.estimate and a.standard_error > 0 and b.standard_error > 0
    pooled = measure.reduce(merge_columns([measure.simulate(np.random.default_rng(s), trials=2000, **params)
                                           for s in range(4)]), **params)
    assert pooled.trials == 8000
    assert 0.35 < pooled.standard_error / a.standard_error < 0.65  # about 1/2


@pytest.mark.parametrize("name,params", MC_CASES, ids=[c[0] for c in MC_CASES])
def test_standard_error_matches_the_spread_of_replicates(name, params):
    """Each measure's reported SE is its estimator's: over 60 independent replicates the spread of the
    estimates matches the mean reported SE (within the sampling error of 60 replicates), so an SE that is
    inflated (a weaker check than reported) or deflated (spurious failures) is caught."""
    measure = getattr(num, name)
    runs = [measure(np.random.default_rng(100 + s), trials=400, **params) for s in range(60)]
    spread = np.std([r.estimate for r in runs], ddof=1)
    reported = np.mean([r.standard_error for r in runs])
    assert 0.7 < spread / reported < 1.35, (spread, reported)


def test_unknown_route_is_refused():
    """A misspelt route names the allowed ones instead of silently running the reduced simulation."""
    with pytest.raises(ValueError, match="route"):
        num.measure_inverse_snr_ratio(np.random.default_rng(0), N=4, d_k=4, d_v=4, trials=10, route="direct")


# --- the pieces that only bound or control a claim are checked on their own ------------------------

def test_extrapolation_weights_agree_between_theory_and_numerics():
    """theory and numerics each compute the Lagrange weights at 0; both reproduce P(0) for quadratics."""
    import sympy as sp

    nodes = [1.0 / (s * 16) for s in num.LIMIT_SCALES]
    w_num = num.lagrange_weights_at_zero(nodes)
    w_th = [float(w) for w in th.lagrange_weights_at_zero([sp.Rational(1, s * 16) for s in num.LIMIT_SCALES])]
    np.testing.assert_allclose(w_num, w_th, rtol=1e-14)
    a, b, c = 0.7, -1.3, 2.9
    assert float(np.dot(w_num, [a + b * x + c * x * x for x in nodes])) == pytest.approx(a, abs=1e-12)


@pytest.mark.parametrize("N,d", [(1, 4), (8, 32), (16, 16), (64, 16), (300, 48)])
def test_extrapolation_bias_is_the_quadratic_extrapolation_of_the_exact_ratio(N, d):
    """The bound of capacity.linear.paper_limit equals (weights . exact ratios at (sN, s d)) - N/d, computed
    here from the exact ratio (sN - 1)/(s d + 2) typed anew, and it is O(d^-3): far below the resolution."""
    exact = [(s * N - 1) / (s * d + 2) for s in num.LIMIT_SCALES]
    direct = float(np.dot(num.lagrange_weights_at_zero([1 / (s * d) for s in num.LIMIT_SCALES]), exact)) - N / d
    bias = evaluate(th.ratio_limit_extrapolation_bias(), {"N": N, "d_k": d})
    assert bias == pytest.approx(direct, rel=1e-9, abs=1e-15)
    assert abs(bias) <= (2 * N + d) / (2 * d**4)


def test_largest_size_control_is_the_exact_ratio_at_four_times_the_size():
    """The near-miss 'largest_size_as_limit' is (4N - 1)/(4 d_k + 2), the exact ratio at (4N, 4 d_k)."""
    assert evaluate(th.ratio_at_largest_scale(), {"N": 8, "d_k": 32}) == pytest.approx(31 / 130, rel=1e-15)


def test_capacity_definitions_solve_their_estimands():
    """The capacities behind the slope controls: rho d_k (typical pair), rho (d_k + 2) (ratio estimand),
    rho (d_k - 2)(d_v - 2)/d_v (mean estimand) and 1 + rho d_k (pairs counted with the query)."""
    import sympy as sp

    from theory.symbols import d_k, d_v, rho

    assert sp.simplify(th.capacity_at_target() - rho * d_k) == 0
    assert sp.simplify(th.capacity_ratio_estimand() - rho * (d_k + 2)) == 0
    assert sp.simplify(th.capacity_mean_estimand() - rho * (d_k - 2) * (d_v - 2) / d_v) == 0
    assert sp.simplify(th.capacity_counting_query() - (1 + rho * d_k)) == 0


@pytest.mark.parametrize("d_min,d_max,rho", [(8, 64, 1.0), (16, 256, 0.5), (4, 32, 3.0)])
def test_grid_log_slope_is_the_ols_slope(d_min, d_max, rho):
    """theory.grid_log_slope (sympy) equals numpy's OLS fit of log C on log d over the same doubling grid."""
    dims = np.array(num.doubling_grid(d_min, d_max), dtype=float)
    point = {"d_min": d_min, "d_max": d_max, "rho": rho}
    for capacity, values in [(th.capacity_ratio_estimand(), rho * (dims + 2)),
                             (th.capacity_counting_query(), 1 + rho * dims),
                             (th.capacity_at_target(), rho * dims)]:
        expected = np.polyfit(np.log(dims), np.log(values), 1)[0]
        assert evaluate(th.capacity_slope_of(capacity), point) == pytest.approx(expected, rel=1e-12)


# --- the asymptotic claim is checked against its limit ------------------------------------------------

@pytest.mark.parametrize("factor", [2, 0.5])
def test_paper_limit_fails_for_a_wrong_limit(factor):
    """Doubling or halving the paper's N/d_k fails capacity.linear.paper_limit: its tolerance is SE plus the
    extrapolation's own bias, which does not grow with the prediction's error."""
    import dataclasses

    import sympy as sp

    from theory.symbols import N, d_k

    claim = get_claim("capacity.linear.paper_limit")
    wrong = dataclasses.replace(claim, prediction=lambda: sp.nsimplify(factor) * N / d_k)
    for params in claim.grids["quick"]:
        assert check_point(wrong, params, seed=3, mode="quick").verdict == "fail"
