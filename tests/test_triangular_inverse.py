"""The fast triangular inverse: exact by nilpotency, accurate in float64 for well-scaled entries, and
unstable for nonnegative entries as the size grows (confirming S15), while forward substitution is not."""

import numpy as np
import pytest

from numerics import triangular_inverse as tri
from theory.updates import fast_inverse_identity


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 6])
def test_scalar_identity_by_telescoping(m):
    """(1 - x) prod_{j=1}^{m-1} (1 + x^{2^j}) = sum_{i < 2^m} (-x)^i (sympy)."""
    assert [c.status for c in fast_inverse_identity(m, 1).verify()] == ["verified"]


def test_matrix_identity_on_symbolic_8x8():
    """(I + A) (I - A)(I + A^2)(I + A^4) = I for a symbolic strictly lower-triangular 8 x 8 matrix."""
    assert [c.status for c in fast_inverse_identity(3, 3).verify()] == ["verified"]


@pytest.mark.parametrize("c", [4, 16, 64, 256])
def test_float64_accurate_for_gaussian_entries(c):
    """With N(0, 1/c) entries the fast inverse agrees with forward substitution in float64."""
    A = tri.strictly_lower(np.random.default_rng(c), c, "gaussian_small")
    assert tri.inverse_error(A, np.float64)[0] < 1e-12


def test_nonnegative_entries_break_the_fast_inverse():
    """U[0, 1/2) entries (S15): at c = 128 float32 error > 1 and float16 non-finite; forward substitution stays
    accurate; the float64 error grows by orders of magnitude from c = 16 to c = 128."""
    rng = np.random.default_rng(0)
    A = tri.strictly_lower(rng, 128, "uniform_half")
    fast32, fwd32 = tri.inverse_error(A, np.float32)
    fast16, fwd16 = tri.inverse_error(A, np.float16)
    assert fast32 > 1.0 and fwd32 < 1e-5
    assert not np.isfinite(fast16) and fwd16 < 1e-2
    small = tri.inverse_error(tri.strictly_lower(rng, 16, "uniform_half"), np.float64)[0]
    large = tri.inverse_error(A, np.float64)[0]
    assert large > 1e6 * small


def test_softmax_rows_keep_the_fast_inverse_stable():
    """DeltaFormer's A (rows of a strictly causal softmax) does not trigger the instability up to c = 128."""
    A = tri.strictly_lower(np.random.default_rng(2), 128, "softmax")
    assert tri.inverse_error(A, np.float32)[0] < 1e-5
    assert tri.inverse_error(A, np.float64)[0] < 1e-13


def test_size_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power-of-2"):
        tri.fast_inverse(np.zeros((6, 6)))


@pytest.mark.parametrize("m", [2, 5, 7, 9])
def test_sharp_rows_make_every_factor_count(m):
    """With DeltaFormer's sharp row-stochastic A the fast inverse is accurate in float64, and dropping the
    first factor or the last squaring is seen at every size; with small Gaussian entries the last squaring
    is below rounding from c = 128 on (why the ledger measures the sharp law)."""
    rng = np.random.default_rng(m)
    A = tri.strictly_lower(rng, 2**m, "sharp_softmax")
    assert np.allclose(A.sum(axis=1)[1:], 1.0) and np.all(A >= 0) and np.all(np.triu(A) == 0)
    ref = tri.forward_substitution_inverse(A)

    def gap(X):
        return np.max(np.abs(X - ref)) / np.max(np.abs(ref))

    assert gap(tri.fast_inverse(A)) < 1e-13
    assert gap(tri.fast_inverse(A, variant="no_first_factor")) > 1e-3
    assert gap(tri.fast_inverse(A, variant="one_fewer")) > 1e-3
    if m >= 7:
        G = tri.strictly_lower(rng, 2**m, "gaussian_small")
        ref_g = tri.forward_substitution_inverse(G)
        assert np.max(np.abs(tri.fast_inverse(G, variant="one_fewer") - ref_g)) < 1e-12


def test_path_count_behind_the_instability_verifies():
    """(A^k)_{n-1,0} has C(n - 2, k - 1) monomials of k distinct entries (sympy count), and the expected
    corner entries of the powers the fast inverse forms at c = 128 peak far above float16's largest value."""
    from theory import updates as tu

    assert [c.status for c in tu.fast_inverse_growth(6).verify()] == ["verified"]
    assert float(tu.fast_inverse_peak(128)) > 1e10 > tu.FLOAT16_MAX
    assert float(tu.fast_inverse_peak(64)) < float(tu.fast_inverse_peak(128))


def test_float16_products_give_nan_with_and_without_float32_accumulation():
    """At c = 128 with U[0, 1/2) entries the float16 fast inverse is NaN whether NumPy's float16 products or
    float32-accumulated ones are used, and forward substitution in float16 is finite."""
    A = tri.strictly_lower(np.random.default_rng(3), 128, "uniform_half")
    assert np.isnan(tri.fast_inverse(A, np.float16)).any()
    assert np.isnan(tri.fast_inverse(A, np.float16, accumulate=np.float32)).any()
    assert np.isfinite(tri.forward_substitution_inverse(A, np.float16)).all()


def test_s15_law_is_uniform_on_zero_to_a_half():
    """S15's entries are U[0, 1/2): a law drawn on [0, 1) only makes the instability worse, which every
    instability check (one-sided) would accept, so the law itself is pinned here."""
    A = tri.strictly_lower(np.random.default_rng(3), 256, "uniform_half")
    below = A[np.tril_indices(256, k=-1)]
    assert np.all(A[np.triu_indices(256)] == 0)
    assert below.min() >= 0 and below.max() < 0.5
    assert abs(below.mean() - 0.25) < 0.005 and abs(below.var() - 1 / 48) < 0.001  # U[0, 1/2): 1/4, 1/48


def test_float32_error_diagnostics_are_the_median_of_the_draws():
    """The measure's median (and extremes) recomputed from the same draws with the public pieces: a mean
    in place of the median would pass every check of the claim (both are far above 10^3 or far below)."""
    c, draws = 16, 7
    est = tri.measure_fast_inverse_float32_error(np.random.default_rng(11), c=c, draws=draws)
    rng = np.random.default_rng(11)
    errors = []
    for _ in range(draws):
        A = tri.strictly_lower(rng, c, "uniform_half")
        ref = tri.forward_substitution_inverse(A)
        errors.append(np.max(np.abs(tri.fast_inverse(A, np.float32) - ref)) / np.max(np.abs(ref)))
    assert est.diagnostics["median"] == pytest.approx(np.median(errors), rel=1e-12)
    assert est.diagnostics["maximum"] == pytest.approx(max(errors), rel=1e-12)
    assert est.estimate == pytest.approx(min(1.0, np.median(errors) / tri.INSTABILITY_THRESHOLD), rel=1e-12)


@pytest.mark.parametrize("n", [5, 6, 7])
def test_expected_power_entry_counts_the_paths_sympy_counts(n):
    """expected_power_entry(n, k) at mean 1 is the number of monomials of (A^k)_{n-1,0} that
    fast_inverse_growth counts with sympy; the claim's notes quote its value at c = 128 (1.5e10)."""
    from theory.updates import expected_power_entry, fast_inverse_growth

    counts = list(fast_inverse_growth(n).start)
    assert counts == [expected_power_entry(n, k, mean=1) for k in range(1, n)]
