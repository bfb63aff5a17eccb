"""The fast triangular inverse by repeated squaring, against forward substitution (notes §5.4, S15).

For strictly lower-triangular ``A`` of size ``c = 2^m``,

    (I + A)^{-1} = (I - A) prod_{j=1}^{m-1} (I + A^{2^j}),

computed as ``X <- I - A``, ``Y <- A^2``, then ``m - 1`` times ``X <- X + X Y``, ``Y <- Y^2``
(``O(log c)`` matrix products). Exact in exact arithmetic because ``A^c = 0``; in floating point the
powers ``A^{2^j}`` of a nonnegative ``A`` grow like the number of paths in the DAG while the true
inverse is an alternating sum of them, so the error grows with ``c`` and the entry scale.

Error measure: ``max |X - X_ref| / max |X_ref|`` with ``X_ref`` the inverse by forward substitution in
float64; :func:`inverse_error` (used by the tests) compares a float64 fast inverse with forward substitution
in ``numpy.longdouble`` instead, and the claim of float64 exactness compares float64 with float64.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from numerics.estimate import Estimate, check_variant, exact_value

__all__ = [
    "DISTRIBUTIONS",
    "SHARPNESS",
    "fast_inverse",
    "forward_substitution_inverse",
    "inverse_error",
    "measure_fast_inverse_exactness",
    "measure_fast_inverse_float16_nan",
    "measure_fast_inverse_float32_error",
    "strictly_lower",
]

DISTRIBUTIONS = ("uniform_half", "softmax", "sharp_softmax", "gaussian_small", "ones")
SHARPNESS = 0.02  # weight the sharp_softmax law spreads over positions other than the predecessor


def strictly_lower(rng, c: int, distribution: str) -> np.ndarray:
    """A random strictly lower-triangular ``c x c`` matrix (float64).

    ``uniform_half``: entries ``U[0, 1/2)`` (as in S15); ``softmax``: rows of a strictly causal softmax of
    Gaussian scores (DeltaFormer's ``A`` with ``beta = 1``; each row after the first sums to 1);
    ``sharp_softmax``: DeltaFormer's ``A`` for a sharp ``kappa_1`` that attends to the predecessor, rows
    ``(1 - eps) e_{t-1} + eps softmax`` (``eps = SHARPNESS``; row 1 is ``e_0``), whose powers ``A^j`` stay
    of order ``(1 - eps)^j`` so that every factor of the fast inverse matters;
    ``gaussian_small``: ``N(0, 1/c)`` entries; ``ones``: all ones below the diagonal.
    """
    mask = np.tril(np.ones((c, c), dtype=bool), k=-1)
    if distribution == "uniform_half":
        A = rng.uniform(0.0, 0.5, (c, c))
    elif distribution == "softmax":
        s = np.where(mask, rng.standard_normal((c, c)), -np.inf)
        m = np.max(np.where(mask, s, -1e300), axis=1, keepdims=True)
        e = np.where(mask, np.exp(s - m), 0.0)
        sums = e.sum(axis=1, keepdims=True)
        A = np.divide(e, sums, out=np.zeros_like(e), where=sums > 0)
    elif distribution == "sharp_softmax":
        spread = strictly_lower(rng, c, "softmax")
        spread[1:2] = 0.0  # row 1 sees only position 0, its predecessor
        A = (1.0 - SHARPNESS) * np.eye(c, k=-1) + SHARPNESS * spread
        if c > 1:
            A[1, 0] = 1.0
    elif distribution == "gaussian_small":
        A = rng.standard_normal((c, c)) / np.sqrt(c)
    elif distribution == "ones":
        A = np.ones((c, c))
    else:
        raise ValueError(f"unknown distribution {distribution!r}; expected one of {DISTRIBUTIONS!r}")
    return np.where(mask, A, 0.0)


def fast_inverse(A: np.ndarray, dtype=np.float64, *, variant=None, accumulate=None) -> np.ndarray:
    """``(I + A)^{-1}`` by repeated squaring in ``dtype`` (``A`` strictly lower, size a power of 2).

    ``accumulate`` (e.g. ``np.float32`` with ``dtype=np.float16``): every matrix product is formed in
    that precision and rounded to ``dtype``, as GPU half-precision products accumulate in float32
    (and much faster than NumPy's float16 products). Variants (wrong routes): ``"no_first_factor"``
    drops ``(I - A)``; ``"one_fewer"`` stops one squaring early.
    """
    c = A.shape[0]
    m = int(round(np.log2(c)))
    if 2**m != c:
        raise ValueError(f"the fast inverse needs a power-of-2 size, got {c!r}")
    A = A.astype(dtype)
    eye = np.eye(c, dtype=dtype)

    def product(P, R):
        if accumulate is None:
            return P @ R
        return (P.astype(accumulate) @ R.astype(accumulate)).astype(dtype)

    X = eye.copy() if variant == "no_first_factor" else eye - A
    with np.errstate(over="ignore", invalid="ignore"):
        Y = product(A, A)
        steps = m - 1 - (1 if variant == "one_fewer" else 0)
        for _ in range(max(steps, 0)):
            X = X + product(X, Y)
            Y = product(Y, Y)
    return X


def forward_substitution_inverse(A: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``(I + A)^{-1}`` by forward substitution (LAPACK ``trtrs`` for float32/64; a row loop otherwise)."""
    c = A.shape[0]
    if np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64)):
        L = (np.eye(c) + A).astype(dtype)
        return solve_triangular(L, np.eye(c, dtype=dtype), lower=True, unit_diagonal=True, check_finite=False)
    A = A.astype(dtype)
    X = np.zeros((c, c), dtype=dtype)
    for i in range(c):  # row i of X: e_i - sum_{j<i} A_ij X_j
        X[i] = -(A[i, :i] @ X[:i]) if i else 0
        X[i, i] += 1
    return X


def inverse_error(A: np.ndarray, dtype) -> tuple[float, float]:
    """``(fast, forward)``: relative errors of the fast inverse and of forward substitution in ``dtype``.

    The reference is forward substitution in float64, or in ``numpy.longdouble`` when ``dtype`` is
    float64. ``inf`` marks a non-finite result.
    """
    ref_dtype = np.longdouble if np.dtype(dtype) == np.dtype(np.float64) else np.float64
    ref = forward_substitution_inverse(A.astype(ref_dtype), ref_dtype)
    scale = float(np.max(np.abs(ref)))

    def err(X):
        X = X.astype(ref_dtype)
        return float(np.max(np.abs(X - ref)) / scale) if np.all(np.isfinite(X)) else float("inf")

    return err(fast_inverse(A, dtype)), err(forward_substitution_inverse(A, dtype))


def measure_fast_inverse_exactness(rng, *, m: int, variant=None) -> Estimate:
    """Relative gap between the float64 fast inverse and float64 forward substitution, ``A`` of size
    ``2^m`` from the ``sharp_softmax`` law (row-stochastic, so both routes are accurate, and with
    powers ``A^{2^j}`` of order 1 up to ``j = m - 1``, so a dropped or missing factor shows; with small
    Gaussian entries the last factors are below rounding from ``m = 7`` on).

    Variants: ``"no_first_factor"`` drops ``(I - A)``; ``"one_fewer"`` stops one squaring early.
    """
    check_variant(variant, {"no_first_factor", "one_fewer"})
    A = strictly_lower(rng, 2**m, "sharp_softmax")
    fast = fast_inverse(A, np.float64, variant=variant)
    ref = forward_substitution_inverse(A)
    return exact_value(float(np.max(np.abs(fast - ref)) / np.max(np.abs(ref))),
                       method="fast inverse vs forward substitution, float64")


INSTABILITY_THRESHOLD = 1e3  # S15: "max relative error exceeds 10^3 in float32" at n = 128, entries U[0, 1/2)


def _instability_law(variant) -> str:
    return "softmax" if variant == "row_stochastic" else "uniform_half"


def measure_fast_inverse_float32_error(rng, *, c: int, draws: int = 64, variant=None) -> Estimate:
    """``min(1, median error / 10^3)``: S15's float32 threshold, as a measured statement.

    ``draws`` matrices ``A`` of size ``c`` with entries ``U[0, 1/2)`` below the diagonal (S15's law);
    each error is ``max |X - X_ref| / max |X_ref|`` of the float32 fast inverse, ``X_ref`` forward
    substitution in float64 (:func:`inverse_error`). The value is 1 exactly when the median error
    is at least ``10^3``; the median, minimum and maximum are reported alongside.

    Variants (the instability absent): ``"forward_substitution"`` (the stable method, float32),
    ``"row_stochastic"`` (DeltaFormer's own law: rows of a strictly causal softmax), ``"half_size"``
    (the same law at ``c / 2``); and ``"threshold_x10"``, the same draws held to ``10^4``: at ``c = 128``
    the median (about 2e3) falls short, so a threshold set too low in the code is seen (``min(1, .)``
    is 1 for every threshold below the median, the right one included).
    """
    check_variant(variant, {"forward_substitution", "row_stochastic", "half_size", "threshold_x10"})
    size = c // 2 if variant == "half_size" else c
    route = 1 if variant == "forward_substitution" else 0
    errors = np.empty(draws)
    for i in range(draws):  # only the route measured is computed (each BLAS call is slow on a loaded machine)
        A = strictly_lower(rng, size, _instability_law(variant))
        ref = forward_substitution_inverse(A)
        X = forward_substitution_inverse(A, np.float32) if route else fast_inverse(A, np.float32)
        finite = np.all(np.isfinite(X))
        errors[i] = float(np.max(np.abs(X - ref)) / np.max(np.abs(ref))) if finite else np.inf
    median = float(np.median(errors))
    threshold = INSTABILITY_THRESHOLD * (10 if variant == "threshold_x10" else 1)
    return exact_value(min(1.0, median / threshold),
                       method=f"float32 {'forward substitution' if route else 'fast inverse'} vs float64 forward "
                              f"substitution, median over {draws} draws",
                       median=median, minimum=float(errors.min()), maximum=float(errors.max()))


def measure_fast_inverse_float16_nan(rng, *, c: int, draws: int = 16, variant=None) -> Estimate:
    """Fraction of ``draws`` matrices (entries ``U[0, 1/2)``, size ``c``) whose float16 fast inverse has
    no NaN: S15 says it is NaN. Products accumulate in float32 and round to float16 (GPU style).

    Variants (the instability absent): ``"forward_substitution"`` (float16 forward substitution),
    ``"row_stochastic"`` (DeltaFormer's softmax rows), ``"float32"`` (the fast inverse in float32).
    """
    check_variant(variant, {"forward_substitution", "row_stochastic", "float32"})
    clean = 0
    for _ in range(draws):
        A = strictly_lower(rng, c, _instability_law(variant))
        if variant == "forward_substitution":
            X = forward_substitution_inverse(A, np.float16)
        elif variant == "float32":
            X = fast_inverse(A, np.float32)
        else:
            X = fast_inverse(A, np.float16, accumulate=np.float32)
        clean += not np.isnan(X).any()
    return exact_value(clean / draws, method=f"float16 fast inverse (float32 accumulation), {draws} draws")
