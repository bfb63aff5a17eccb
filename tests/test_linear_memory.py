"""Linear associative memory: numeric routines against independent computations, and wide-regime sweeps."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics import linear_memory as num
from proofs_check.engine import PASS, check_point
from proofs_check.ledger import get_claim


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
    """The linear-memory MC keeps O(N d) memory: retrieval goes through the d_v x d_k memory."""
    import tracemalloc

    rng = np.random.default_rng(0)
    tracemalloc.start()
    num.measure_inverse_snr_ratio(rng, N=4096, d_k=16, d_v=4, trials=2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4096 * 4096 * 8 / 8  # far below one N x N float64 matrix (134 MB)


WIDE = st.integers(4, 256)


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", [
    "capacity.linear.inverse_snr_conditional",
    "capacity.linear.inverse_snr_ratio",
    "capacity.linear.inverse_snr_sphere",
    "capacity.linear.inverse_snr_mean",
])
def test_estimands_hold_over_the_wide_domain(claim_id):
    """Each estimand's exact value holds for N from 1 to 8 d_k and d_k, d_v from 4 (5 for the mean) to 256."""
    claim = get_claim(claim_id)
    low = 5 if claim_id.endswith("mean") else 4

    @settings(max_examples=8)
    @given(d_k=st.integers(low, 256), d_v=st.integers(low, 256), frac=st.floats(0, 1),
           seed=st.integers(0, 2**32 - 1))
    def run(d_k, d_v, frac, seed):
        params = {"N": 1 + int(frac * (8 * d_k - 1)), "d_k": d_k, "d_v": d_v}
        if "key_norm2" in claim.param_names:
            params.update(key_norm2=0.5 * d_k, value_norm2=float(d_v))
        trials = 40 if claim_id.endswith(("ratio", "sphere")) else 300
        result = check_point(claim, params, seed=seed, trials=trials)
        assert math.isfinite(result.measured)
        assert result.verdict == PASS, (params, result.predicted, result.measured, result.standard_error)

    run()
