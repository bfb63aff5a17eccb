"""Each asymptotic claim's finite-size bound against the error it bounds, computed here on its own.

An asymptotic claim passes when |measured - limit| <= z SE + bound. A bound that is too small fails a
true claim; one too large lets a wrong limit through. The ledger checks neither: the bound is the
claim's own formula. Here the error of each finite-size estimator is computed anew from the exact
finite-size values (exact rationals, or mpmath at 40 digits), with none of the suite's extrapolation
code, and compared with the bound at every grid point of every mode.
"""

from fractions import Fraction

import mpmath
import pytest

from proofs_check.ledger import Kind, all_claims, get_claim

MODES = ("quick", "default", "full")


def _points(claim_id):
    claim = get_claim(claim_id)
    seen = []
    for mode in MODES:
        for p in claim.grids[mode]:
            if dict(p) not in seen:
                seen.append(dict(p))
    return [pytest.param(claim, p, id=",".join(f"{k}={v}" for k, v in p.items())) for p in seen]


def _value_at_zero(xs, ys):
    """The polynomial through (x_m, y_m) evaluated at x = 0 (Neville's scheme, exact in Fractions)."""
    table = list(ys)
    for level in range(1, len(xs)):
        table = [(xs[i + level] * table[i] - xs[i] * table[i + 1]) / (xs[i + level] - xs[i])
                 for i in range(len(table) - 1)]
    return table[0]


@pytest.mark.parametrize(("claim", "p"), _points("capacity.linear.paper_limit"))
def test_paper_limit_bound_is_the_extrapolations_exact_bias(claim, p):
    """The ratio estimand (N - 1)/(d_k + 2) at (sN, s d_k), s = 1, 2, 4, extrapolated quadratically in
    1/d_k to 0, misses N/d_k by an O(d_k^-3) bias: the bound is that bias, neither more nor less."""
    N, dk = int(p["N"]), int(p["d_k"])
    scales = (1, 2, 4)
    xs = [Fraction(1, s * dk) for s in scales]
    ys = [Fraction(s * N - 1, s * dk + 2) for s in scales]
    bias = _value_at_zero(xs, ys) - Fraction(N, dk)
    assert bias != 0
    assert claim.bound(p) == pytest.approx(float(abs(bias)), rel=1e-12)


@pytest.mark.parametrize(("claim", "p"), _points("context.additive.linear_snr_decay"))
def test_linear_snr_decay_bound_is_the_extrapolations_exact_bias(claim, p):
    """T SNR(T) = T (d_k + 2)/(T - 1) at T//4, T//2, T, extrapolated quadratically in 1/T to 0, misses
    d_k + 2 by an O(T^-3) bias: the bound is that bias."""
    T, dk = int(p["T"]), int(p["d_k"])
    sizes = (T // 4, T // 2, T)
    xs = [Fraction(1, n) for n in sizes]
    ys = [Fraction(n * (dk + 2), n - 1) for n in sizes]
    bias = _value_at_zero(xs, ys) - (dk + 2)
    assert bias != 0
    assert claim.bound(p) == pytest.approx(float(abs(bias)), rel=1e-12)


def _coherence_fit_error(d_min, d_max, epsilon):
    """The error of the rate fit log n*(d) = a + c d + g ln d + b/d on the exact p_d, against the limit.

    p_d = P(|k_i^T k_j| >= eps) for independent uniform unit vectors in R^d: (k_i^T k_j)^2 ~ Beta(1/2, (d-1)/2),
    so p_d = I_{1 - eps^2}((d - 1)/2, 1/2). n*(d) solves n(n - 1)/2 p_d = 1. The limit of log n*/d is
    -(1/4) ln(1 - eps^2). The ladder is 5 integers geometrically spaced from d_min to d_max."""
    with mpmath.workdps(40):
        eps = mpmath.mpf(str(epsilon))
        ratio = mpmath.mpf(d_max) / d_min
        dims = sorted({int(mpmath.nint(d_min * ratio ** (mpmath.mpf(i) / 4))) for i in range(5)})
        assert len(dims) == 5
        rows, ys = [], []
        for d in dims:
            p_d = mpmath.betainc((d - 1) / mpmath.mpf(2), mpmath.mpf(1) / 2, 0, 1 - eps**2, regularized=True)
            ys.append(mpmath.log((1 + mpmath.sqrt(1 + 8 / p_d)) / 2))
            rows.append([1, d, mpmath.log(d), mpmath.mpf(1) / d])
        X, y = mpmath.matrix(rows), mpmath.matrix(ys)
        coefficients = mpmath.lu_solve(X.T * X, X.T * y)
        return float(coefficients[1] + mpmath.log(1 - eps**2) / 4), float(coefficients[1])


@pytest.mark.parametrize(("claim", "p"), _points("expressivity.dimension.coherence_exponent")
                         + [pytest.param(get_claim("expressivity.dimension.coherence_exponent"),
                                         {"d_min": 64, "d_max": 640, "epsilon": 0.6}, id="strategy-corner")])
def test_coherence_bound_covers_the_fits_truncation_error(claim, p):
    """The bound (twice a Richardson estimate) covers the exact fit's distance from the limit, and is not
    loose by more than a factor 3.5 over the larger of that distance and the 5e-4 relative floor."""
    error, slope = _coherence_fit_error(int(p["d_min"]), int(p["d_max"]), p["epsilon"])
    bound = claim.bound(p)
    assert abs(error) <= bound
    assert bound <= 3.5 * max(abs(error), 5e-4 * abs(slope))


# where each claim's bound is checked against an independent computation of the error it bounds
CHECKED_BY = {
    "capacity.linear.paper_limit": "tests/test_bounds.py::test_paper_limit_bound_is_the_extrapolations_exact_bias",
    "context.additive.linear_snr_decay":
        "tests/test_bounds.py::test_linear_snr_decay_bound_is_the_extrapolations_exact_bias",
    "expressivity.dimension.coherence_exponent":
        "tests/test_bounds.py::test_coherence_bound_covers_the_fits_truncation_error",
    # D of the bound 2|D|/T against the simulated T E||o_T - o*||^2 at small T
    "context.softmax.regression_limit":
        "tests/test_context.py::test_softmax_first_order_correction_matches_simulation_at_small_T",
}


def test_every_bound_is_checked():
    """A new asymptotic claim's bound needs a check of its own here: the list names every one."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert {c.id for c in all_claims() if c.kind is Kind.ASYMPTOTIC} == set(CHECKED_BY)
    for test in CHECKED_BY.values():
        path, name = test.split("::")
        assert f"def {name}(" in (root / path).read_text(), test
