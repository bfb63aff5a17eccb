"""Monte Carlo of kernel associative memories ``o = sum_j v_j kappa(k_j, q)`` (paper §3).

Shapes: the other stored keys of one trial are ``K`` ``(n, d_k)`` with ``n = N - 1``, their values
``V`` ``(n, d_v)``; the queried stored key ``k_i`` is ``(d_k,)``. Kernels of the inner product are
evaluated through one matrix-vector product ``K k_i`` per trial; no ``N x N`` Gram matrix is built.

The exponential kernel of softmax attention, whose weights are heavy-tailed, has its own module,
:mod:`numerics.exp_kernel`.
"""

from __future__ import annotations

import math
from itertools import combinations_with_replacement

import numpy as np
from scipy.special import logsumexp

from numerics.estimate import Estimate, check_variant, exact_value, mean_estimate, ols_slope

__all__ = [
    "kish_ess",
    "measure_accuracy_cliff",
    "measure_feature_map_dimension",
    "measure_feature_map_identity",
    "measure_inverse_snr_poly",
    "measure_inverse_snr_relu",
    "measure_inverse_snr_truncated",
    "measure_poly_capacity_exponent",
    "measure_truncation_error",
    "poly_features",
    "stored_key",
    "top1_accuracy",
]


def stored_key(rng: np.random.Generator, d_k: int, key_norm2: float) -> np.ndarray:
    """A key of squared norm ``key_norm2`` in a uniformly random direction, shape ``(d_k,)``."""
    u = rng.standard_normal(d_k)
    return u * math.sqrt(key_norm2) / np.linalg.norm(u)


def kish_ess(log_terms: np.ndarray) -> float:
    """``(sum x)^2 / sum x^2`` for positive ``x = exp(log_terms)``, computed in log space."""
    log_terms = np.ravel(log_terms)
    return float(np.exp(2 * logsumexp(log_terms) - logsumexp(2 * log_terms)))


# --- polynomial and ReLU kernels (light tails: the full read-out is simulated) ------------------

def _readout_inverse_snr(rng, kernel, *, N, d_k, d_v, key_norm2, value_norm2, signal, trials, batch=64):
    """Per-trial ``||r||^2 / (c^2 ||v_i||^2)`` with ``r = sum_{j != i} v_j kappa(k_j^T k_i)``.

    ``kernel`` maps inner products to kernel values; ``signal = kappa(k_i, k_i)``. Each trial draws
    a fresh stored key direction and ``N - 1`` Gaussian pairs; ``batch`` trials share one
    ``(batch, N - 1, d)`` draw, so memory is O(batch N (d_k + d_v)) floats.
    """
    n = N - 1
    out = np.empty(trials)
    done = 0
    while done < trials:
        b = min(batch, trials - done)
        u = rng.standard_normal((b, d_k))
        k_i = u * (math.sqrt(key_norm2) / np.linalg.norm(u, axis=1, keepdims=True))
        K = rng.standard_normal((b, n, d_k))
        V = rng.standard_normal((b, n, d_v))
        scores = np.einsum("bnd,bd->bn", K, k_i)
        r = np.einsum("bn,bnv->bv", kernel(scores), V)
        out[done:done + b] = np.sum(r * r, axis=1) / (signal**2 * value_norm2)
        done += b
    return out


def measure_inverse_snr_poly(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                             p: int, trials: int = 2000) -> Estimate:
    """Conditional SNR^{-1} of the kernel ``(x^T y)^p`` by simulating the memory read-out.

    Estimand: ``E ||r||^2 / (||k_i||^{4p} ||v_i||^2)`` over Gaussian ``(k_j, v_j)``, given the norms.
    """
    y = _readout_inverse_snr(rng, lambda s: s**p, N=N, d_k=d_k, d_v=d_v, key_norm2=key_norm2,
                             value_norm2=value_norm2, signal=key_norm2**p, trials=trials)
    return mean_estimate(y, method=f"memory read-out MC, kernel (x^T y)^{p}")


def measure_inverse_snr_relu(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                             trials: int = 2000, variant=None) -> Estimate:
    """Conditional SNR^{-1} of the ReLU kernel ``max(x^T y, 0)`` (read-out MC).

    Variant ``"abs"`` uses ``|x^T y|`` (whose crosstalk equals the linear kernel's) instead.
    """
    check_variant(variant, {"abs"})
    kernel = np.abs if variant == "abs" else (lambda s: np.maximum(s, 0.0))
    y = _readout_inverse_snr(rng, kernel, N=N, d_k=d_k, d_v=d_v, key_norm2=key_norm2,
                             value_norm2=value_norm2, signal=key_norm2, trials=trials)
    return mean_estimate(y, method="memory read-out MC, ReLU kernel")


def measure_inverse_snr_truncated(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                                  tau: float, P: int, trials: int = 2000, variant=None) -> Estimate:
    """Conditional SNR^{-1} of the truncated exp kernel ``sum_{q<=P} (x^T y/tau)^q/q!`` (read-out MC).

    Variant ``"full_exp"`` reads out with the untruncated ``exp(x^T y/tau)`` instead.
    """
    check_variant(variant, {"full_exp"})

    def truncated(s):
        u = s / tau
        out, term = np.ones_like(u), np.ones_like(u)
        for q in range(1, P + 1):
            term = term * u / q
            out = out + term
        return out

    kernel = (lambda s: np.exp(s / tau)) if variant == "full_exp" else truncated
    y = _readout_inverse_snr(rng, kernel, N=N, d_k=d_k, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2,
                             signal=float(kernel(np.array(key_norm2))), trials=trials)
    return mean_estimate(y, method=f"memory read-out MC, exp kernel truncated at degree {P}")


# --- explicit polynomial feature map ------------------------------------------------------------

def poly_features(X: np.ndarray, p: int, *, multinomial: bool = True) -> np.ndarray:
    """Feature map ``phi_alpha(x) = sqrt(p!/alpha!) x^alpha`` over multi-indices ``|alpha| = p``.

    ``X`` is ``(m, d)``; returns ``(m, F)`` with one column per multiset of ``p`` coordinates.
    ``multinomial=False`` drops the coefficients (a wrong map used as a negative control).
    """
    m, d = X.shape
    cols = []
    for combo in combinations_with_replacement(range(d), p):
        coef = math.factorial(p)
        for a in set(combo):
            coef //= math.factorial(combo.count(a))
        col = np.prod(X[:, list(combo)], axis=1)
        cols.append(col * math.sqrt(coef) if multinomial else col)
    return np.stack(cols, axis=1) if cols else np.ones((m, 1))


def measure_feature_map_identity(rng, *, d: int, p: int, variant=None) -> Estimate:
    """Max relative gap between ``phi(X) phi(Y)^T`` and ``(X Y^T)^p`` for 8 Gaussian vectors each.

    Variant ``"no_multinomial"`` omits the multinomial coefficients.
    """
    check_variant(variant, {"no_multinomial"})
    X = rng.standard_normal((8, d))
    Y = rng.standard_normal((8, d))
    gram = poly_features(X, p, multinomial=variant is None) @ poly_features(Y, p, multinomial=variant is None).T
    kernel = (X @ Y.T) ** p
    return exact_value(float(np.max(np.abs(gram - kernel)) / np.max(np.abs(kernel))),
                       method="explicit feature map vs kernel, float64")


def measure_feature_map_dimension(rng, *, d: int, p: int, variant=None) -> Estimate:
    """Number of features the explicit map enumerates (counted, not computed from a formula).

    Variant ``"ordered"`` counts ordered index tuples (``d^p``) instead of multisets.
    """
    check_variant(variant, {"ordered"})
    if variant == "ordered":
        return exact_value(float(d**p), method="ordered tuples d^p")
    count = sum(1 for _ in combinations_with_replacement(range(d), p))
    return exact_value(float(count), method="enumerated multisets of p coordinates")


def measure_truncation_error(rng, *, R: float, P: int, variant=None) -> Estimate:
    """``max_{|u| <= R} |e^u - sum_{q<=P} u^q/q!|`` over a grid of 2001 points plus 64 random ones.

    The kernel argument is ``u = x^T y / tau``. Variant ``"negative_side"`` searches only ``u <= 0``.
    """
    check_variant(variant, {"negative_side"})
    hi = 0.0 if variant == "negative_side" else R
    u = np.concatenate([np.linspace(-R, hi, 2001), rng.uniform(-R, hi, 64)])
    head = np.zeros_like(u)
    term = np.ones_like(u)
    for q in range(P + 1):
        head += term
        term = term * u / (q + 1)
    return exact_value(float(np.max(np.abs(np.exp(u) - head))), method="dense grid over [-R, R], float64")


# --- capacity growth ----------------------------------------------------------------------------

def _doubling(d_min, d_max):
    dims = [d_min]
    while dims[-1] * 2 <= d_max:
        dims.append(dims[-1] * 2)
    if len(dims) < 3:
        raise ValueError(f"need at least 3 dimensions in [d_min, d_max], got {dims!r}")
    return dims


def measure_poly_capacity_exponent(rng, *, p: int, d_min: int, d_max: int, rho: float,
                                   trials: int = 400) -> Estimate:
    """Fitted exponent of the polynomial-kernel capacity against ``d_k`` (doubling grid).

    At each ``d_k`` the read-out MC at a typical stored pair (``||k_i||^2 = d_k``, ``d_v = 8``,
    ``||v_i||^2 = 8``, ``N = 33``) gives the crosstalk per stored pair ``g``; ``N* = 1 + rho/g``; the
    exponent is the OLS slope of ``log N*`` on ``log d_k`` with delta-method SE.
    """
    logs, ses = [], []
    dims = _doubling(d_min, d_max)
    for dk in dims:
        est = measure_inverse_snr_poly(rng, N=33, d_k=dk, d_v=8, key_norm2=float(dk), value_norm2=8.0, p=p,
                                       trials=trials)
        g, g_se = est.estimate / 32, est.standard_error / 32
        cap = 1.0 + rho / g
        logs.append(math.log(cap))
        ses.append(rho / g**2 * g_se / cap)
    slope, se = ols_slope(np.log(dims), logs, ses)
    return Estimate(slope, se, trials * len(dims), None, "OLS exponent of MC capacity, polynomial kernel")


# --- retrieval accuracy -------------------------------------------------------------------------

def top1_accuracy(rng, *, kernel: str, N: int, d_k: int, d_v: int, tau: float = 2.0, p: int = 2,
                  queries: int = 64, chunk: int = 65536) -> float:
    """Fraction of ``queries`` sampled stored keys whose read-out is nearest (inner product) to their own value.

    Keys ``N(0, I_{d_k})``, values uniform on the unit sphere of ``R^{d_v}``; read-out
    ``o = sum_j v_j kappa(k_j, q)``. The memory is streamed in blocks of ``chunk`` pairs, each block
    regenerated from its own child seed on every pass (collect the queries, accumulate the
    read-outs, search the nearest value), so the working set is O(chunk (d_k + d_v + queries))
    floats whatever ``N`` is. The exp kernel is accumulated in log space: a per-query running max
    of the scores rescales the partial sums (the nearest-value decision is invariant to a
    positive scale), so no weight overflows.
    """
    base = int(rng.integers(2**62))
    n_blocks = -(-N // chunk)

    cache = {}

    def block(c):
        if c in cache:  # a memory of one block is generated once
            return cache[c]
        g = np.random.default_rng([base, c])
        n = min(chunk, N - c * chunk)
        K = g.standard_normal((n, d_k))
        V = g.standard_normal((n, d_v))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        if n_blocks == 1:
            cache[c] = (K, V)
        return K, V

    idx = np.sort(rng.choice(N, size=min(queries, N), replace=False))
    m = len(idx)
    Q = np.empty((m, d_k))
    for c in np.unique(idx // chunk):
        rows = (idx // chunk) == c
        Q[rows] = block(c)[0][idx[rows] - c * chunk]
    out = np.zeros((m, d_v))
    log_scale = np.full(m, -np.inf)
    for c in range(n_blocks):
        K, V = block(c)
        s = Q @ K.T  # (m, chunk)
        if kernel == "exp":
            s = s / tau
            new_scale = np.maximum(log_scale, s.max(axis=1))
            out *= np.exp(log_scale - new_scale)[:, None]
            log_scale = new_scale
            w = np.exp(s - new_scale[:, None])
        elif kernel == "poly":
            w = s**p
        elif kernel == "relu":
            w = np.maximum(s, 0.0)
        elif kernel == "linear":
            w = s
        else:
            raise ValueError(f"unknown kernel {kernel!r}")
        out += w @ V
    best = np.full(m, -np.inf)
    arg = np.zeros(m, dtype=np.int64)
    for c in range(n_blocks):
        sim = out @ block(c)[1].T
        j = sim.argmax(axis=1)
        val = sim[np.arange(m), j]
        better = val > best
        best[better] = val[better]
        arg[better] = j[better] + c * chunk
    return float(np.mean(arg == idx))


def measure_accuracy_cliff(rng, *, kernel_id: int, d_k: int, trials: int = 4, variant=None) -> Estimate:
    """``log2`` of the ``N`` where top-1 accuracy first falls below 1/2 (``N`` on a doubling grid).

    ``kernel_id``: 0 linear, 1 quadratic ``(x^T y)^2``, 2 exp at ``tau = 2``; ``d_v = 64``. Accuracy at
    each ``N`` averages ``trials`` memories of 64 sampled queries. Returns ``log2 N_cliff`` (the
    first grid ``N`` below 1/2, interpolated linearly in ``log2 N``) as an exact value, or ``inf``
    when accuracy stays at or above 1/2 up to ``N = 2^21``.
    """
    check_variant(variant, {"linear_readout"})
    kernel = {0: "linear", 1: "poly", 2: "exp"}[kernel_id]
    if variant == "linear_readout":
        kernel = "linear"
    prev = None
    n = 4
    while n <= 2**21:
        acc = float(np.mean([top1_accuracy(rng, kernel=kernel, N=n, d_k=d_k, d_v=64) for _ in range(trials)]))
        if acc < 0.5:
            if prev is None:
                return exact_value(math.log2(n), method="first N with top-1 accuracy < 1/2")
            lo_n, lo_acc = prev
            frac = (lo_acc - 0.5) / (lo_acc - acc)
            return exact_value(math.log2(lo_n) + frac, method="log2 N where top-1 accuracy crosses 1/2")
        prev = (n, acc)
        n *= 2
    # no crossing found: a non-finite value, which the engine reports as an error, never a pass
    return exact_value(math.inf, method="accuracy never fell below 1/2 up to N = 2^21")
