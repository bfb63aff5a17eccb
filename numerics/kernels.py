"""Monte Carlo of kernel associative memories ``o = sum_j v_j kappa(k_j, q)`` (paper §3).

Shapes: the other stored keys of one trial are ``K`` ``(n, d_k)`` with ``n = N - 1``, their values
``V`` ``(n, d_v)``; the queried stored key ``k_i`` is ``(d_k,)``. Kernels of the inner product are
evaluated through one matrix-vector product ``K k_i`` per trial; no ``N x N`` Gram matrix is built.

The reduced estimator
---------------------
Querying the stored key ``k_i`` gives ``o = c v_i + r`` with ``c = kappa(k_i^T k_i)`` and
``r = sum_{j != i} v_j kappa(z_j)``, ``z_j = k_j^T k_i``. The estimand of every conditional claim is
``E[||r||^2 | k_i, v_i] / (c^2 ||v_i||^2)``. Two facts reduce it to scalars:

1. Given ``k_i``, the scores ``z_j = k_j^T k_i`` of independent ``k_j ~ N(0, I_{d_k})`` are i.i.d.
   ``N(0, ||k_i||^2)`` (a linear map of a Gaussian vector; its variance is ``k_i^T I k_i``). The
   direction of ``k_i`` and the dimension ``d_k`` do not enter.
2. Given the keys, ``E_V ||r||^2 = sum_{j,l} kappa(z_j) kappa(z_l) E[v_j^T v_l] = d_v sum_j kappa(z_j)^2``
   for independent ``v_j ~ N(0, I_{d_v})``: the cross terms ``j != l`` have mean zero and
   ``E||v_j||^2 = d_v``. Integrating ``V`` out this way (Rao-Blackwell) keeps the mean and
   lowers the variance.

So one trial draws ``n`` standard normals ``g_j``, sets ``z_j = ||k_i|| g_j`` and records
``y = d_v sum_j kappa(z_j)^2 / (c^2 ||v_i||^2)``, whose mean over ``(k_j)`` is the estimand exactly.
The direct route (``route="direct"``) simulates the memory itself (a random direction for ``k_i``,
full ``K`` and ``V``, the read-out ``r = V^T kappa(K k_i)``); ``tests/test_kernels.py`` checks the two
routes agree, which checks the reduction.

Common random numbers: a negative control that only swaps the kernel (``|x^T y|`` for ReLU, one more
Taylor degree) reads the same scores, so the estimators take several kernels at once and apply each
to one set of draws (``variant`` a tuple: :class:`numerics.estimate.MonteCarlo`).

The exponential kernel of softmax attention, whose weights are heavy-tailed, has its own module,
:mod:`numerics.exp_kernel`.
"""

from __future__ import annotations

import math
from itertools import combinations_with_replacement
from typing import Callable

import numpy as np
from scipy.special import logsumexp

from numerics.estimate import (Estimate, check_variant, check_variants, exact_value, mean_estimate, mean_of,
                               monte_carlo, ols_slope, per_variant)
from numerics.linear_memory import doubling_grid

__all__ = [
    "INSTANCE_KERNELS",
    "kish_ess",
    "measure_feature_map_dimension",
    "measure_feature_map_identity",
    "measure_general_formula",
    "measure_inverse_snr_poly",
    "measure_inverse_snr_rbf",
    "measure_inverse_snr_relu",
    "measure_inverse_snr_truncated",
    "measure_poly_capacity_exponent",
    "measure_truncation_error",
    "monomial_indices",
    "poly_features",
    "rbf_readout_inverse_snr",
    "ROUTES",
    "SCORE_BLOCK",
    "score_blocks",
    "stored_key",
    "top1_accuracy",
    "truncated_exp",
]

ROUTES = ("reduced", "direct")
_BLOCK = 1 << 20  # floats drawn at once by the direct route and the Gaussian kernel (8 MiB)
SCORE_BLOCK = 1 << 16  # scores held at once by the reduced estimators (512 KiB: a core's L2 cache holds a pass)


def stored_key(rng: np.random.Generator, d_k: int, key_norm2: float) -> np.ndarray:
    """A key of squared norm ``key_norm2`` in a uniformly random direction, shape ``(d_k,)``."""
    u = rng.standard_normal(d_k)
    return u * math.sqrt(key_norm2) / np.linalg.norm(u)


def kish_ess(log_terms: np.ndarray) -> float:
    """``(sum x)^2 / sum x^2`` for positive ``x = exp(log_terms)``, computed in log space."""
    log_terms = np.ravel(log_terms)
    return float(np.exp(2 * logsumexp(log_terms) - logsumexp(2 * log_terms)))


# --- conditional inverse SNR of a kernel of the inner product -----------------------------------

def _power(x: np.ndarray, k: int) -> np.ndarray:
    """``x**k`` for an integer ``k >= 0`` by repeated multiplication (numpy's general ``pow`` is ~10x slower)."""
    if int(k) != k or k < 0:
        raise ValueError(f"the polynomial degree must be a non-negative integer, got {k!r}")
    out = np.ones_like(x)
    for _ in range(int(k)):
        out = out * x
    return out


def score_blocks(rng, trials: int, width: int, scale: float, *, numbers: int | None = None):
    """Yield ``(start, z)``: rows ``start .. start + len(z) - 1`` of a ``(trials, width)`` array of ``scale`` times
    standard normals, in the generator's order, a block of at most ``numbers`` of them at a time.

    ``z`` is a view of one buffer reused for every block (drawn into with ``out=``, scaled in place): the
    numbers are those of ``scale * rng.standard_normal((trials, width))`` row by row, without a fresh
    allocation per block, and a block small enough that each pass over it stays in cache. Use ``z``
    before asking for the next block. ``numbers`` defaults to :data:`SCORE_BLOCK` (read at the call).
    """
    step = max(1, (SCORE_BLOCK if numbers is None else numbers) // max(width, 1))
    buffer = np.empty((min(step, trials), width))
    for start in range(0, trials, step):
        z = buffer[:min(step, trials - start)]
        rng.standard_normal(out=z)
        z *= scale
        yield start, z


def _reduced_trials(rng, kernels, *, N, d_v, key_norm2, value_norm2, signals, trials) -> list[np.ndarray]:
    """Per-trial ``d_v sum_j kappa(z_j)^2 / (c^2 ||v_i||^2)``, ``z_j ~ N(0, key_norm2)`` i.i.d. (module docstring),
    for each kernel ``kappa`` in ``kernels`` (with its signal ``c`` in ``signals``) on the same scores.

    Memory: blocks of :func:`score_blocks` (at most :data:`SCORE_BLOCK` scores), whatever ``trials`` and ``N`` are.
    """
    outs = [np.empty(trials) for _ in kernels]
    for t, z in score_blocks(rng, trials, N - 1, math.sqrt(key_norm2)):
        for kernel, out in zip(kernels, outs):
            w = kernel(z)
            out[t:t + len(z)] = np.einsum("tn,tn->t", w, w)
    return [d_v * out / (signal**2 * value_norm2) for out, signal in zip(outs, signals)]


def _direct_trials(rng, kernels, *, N, d_k, d_v, key_norm2, value_norm2, signals, trials) -> list[np.ndarray]:
    """Per-trial ``||r||^2 / (c^2 ||v_i||^2)`` with ``r = sum_{j != i} v_j kappa(k_j^T k_i)``, simulated in full,
    for each kernel of ``kernels`` on the same memory.

    Each trial draws a fresh stored-key direction and ``N - 1`` Gaussian pairs ``(k_j, v_j)``;
    ``batch`` trials share one ``(batch, N - 1, d)`` draw, at most about ``_BLOCK`` floats.
    """
    n = N - 1
    batch = max(1, _BLOCK // (n * (d_k + d_v)))
    outs = [np.empty(trials) for _ in kernels]
    done = 0
    while done < trials:
        b = min(batch, trials - done)
        u = rng.standard_normal((b, d_k))
        k_i = u * (math.sqrt(key_norm2) / np.linalg.norm(u, axis=1, keepdims=True))
        K = rng.standard_normal((b, n, d_k))
        V = rng.standard_normal((b, n, d_v))
        scores = np.einsum("bnd,bd->bn", K, k_i)
        for kernel, signal, out in zip(kernels, signals, outs):
            r = np.einsum("bn,bnv->bv", kernel(scores), V)
            out[done:done + b] = np.sum(r * r, axis=1) / (signal**2 * value_norm2)
        done += b
    return outs


def _inverse_snr_trials(rng, kernels, route, *, N, d_k, d_v, key_norm2, value_norm2, signals, trials):
    """The per-trial columns of each kernel of ``kernels`` (signals ``signals``) on one set of draws of ``route``."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected one of {ROUTES!r}")
    if N < 2:
        raise ValueError(f"the crosstalk needs another stored pair: N >= 2, got N={N!r}")
    if route == "direct":
        return _direct_trials(rng, kernels, N=N, d_k=d_k, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2,
                              signals=signals, trials=trials)
    return _reduced_trials(rng, kernels, N=N, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2,
                           signals=signals, trials=trials)


_REDUCED = "conditional MC: scores k_j^T k_i ~ N(0, ||k_i||^2) drawn, values integrated exactly given the keys"


@monte_carlo(mean_of("y", _REDUCED + "; kernel (x^T y)^p"))
def measure_inverse_snr_poly(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                             p: int, trials: int = 2000, route: str = "reduced") -> dict:
    """Conditional SNR^{-1} of the kernel ``(x^T y)^p``: per-trial column ``y`` (module docstring).

    Estimand: ``E ||r||^2 / (||k_i||^{4p} ||v_i||^2)`` over Gaussian ``(k_j, v_j)``, given the norms;
    ``c = (k_i^T k_i)^p = ||k_i||^{2p}``.
    """
    y, = _inverse_snr_trials(rng, [lambda s: _power(s, p)], route, N=N, d_k=d_k, d_v=d_v, key_norm2=key_norm2,
                             value_norm2=value_norm2, signals=[key_norm2**p], trials=trials)
    return {"y": y}


@monte_carlo(mean_of("y", _REDUCED + "; ReLU kernel"), shared_variants={"abs"})
def measure_inverse_snr_relu(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                             trials: int = 2000, variant=None, route: str = "reduced") -> dict:
    """Conditional SNR^{-1} of the ReLU kernel ``max(x^T y, 0)``; ``c = ||k_i||^2``.

    Variant ``"abs"`` uses ``|x^T y|`` (whose crosstalk equals the linear kernel's) on the same draws
    (``variant=(None, "abs")``: both routes from one set of draws).
    """
    group = check_variants(variant, {"abs"})
    kernels = [np.abs if v == "abs" else (lambda s: np.maximum(s, 0.0)) for v in group]
    ys = _inverse_snr_trials(rng, kernels, route, N=N, d_k=d_k, d_v=d_v, key_norm2=key_norm2,
                             value_norm2=value_norm2, signals=[key_norm2] * len(group), trials=trials)
    return per_variant(variant, [{"y": y} for y in ys])


def truncated_exp(u: np.ndarray, P: int) -> np.ndarray:
    """``sum_{q<=P} u^q / q!``, the degree-``P`` Taylor polynomial of ``e^u`` (elementwise)."""
    u = np.asarray(u, dtype=float)
    out, term = np.ones_like(u), np.ones_like(u)
    for q in range(1, P + 1):
        term = term * u / q
        out = out + term
    return out


@monte_carlo(mean_of("y", _REDUCED + "; exp kernel truncated at degree P"), shared_variants={"one_more_degree"})
def measure_inverse_snr_truncated(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                                  tau: float, P: int, trials: int = 2000, variant=None,
                                  route: str = "reduced") -> dict:
    """Conditional SNR^{-1} of ``kappa_P(x, y) = sum_{q<=P} (x^T y/tau)^q/q!``; ``c = kappa_P(||k_i||^2)``.

    Variant ``"one_more_degree"`` sums one term too many (degree ``P + 1``, read-out and signal alike),
    on the same draws (``variant=(None, "one_more_degree")``: both from one set of draws).
    """
    group = check_variants(variant, {"one_more_degree"})

    def kernel_of(degree):
        return lambda s: truncated_exp(s / tau, degree)

    kernels = [kernel_of(P + 1 if v == "one_more_degree" else P) for v in group]
    ys = _inverse_snr_trials(rng, kernels, route, N=N, d_k=d_k, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2,
                             signals=[float(k(np.array(key_norm2))) for k in kernels], trials=trials)
    return per_variant(variant, [{"y": y} for y in ys])


# --- explicit polynomial feature map ------------------------------------------------------------

def monomial_indices(d: int, p: int) -> np.ndarray:
    """The multisets of ``p`` coordinates out of ``d`` as sorted index rows, shape ``(F, p)``."""
    return np.array(list(combinations_with_replacement(range(d), p)), dtype=np.int64).reshape(-1, p)


def _multinomial(rows: np.ndarray, p: int) -> np.ndarray:
    """``p! / alpha!`` for each sorted index row (``alpha`` the multiplicities of its entries)."""
    out = np.full(rows.shape[0], float(math.factorial(p)))
    run = np.ones(rows.shape[0])
    for a in range(1, p):
        # a sorted row repeats an index in a run; dividing by 1, 2, ..., m along a run of length m gives m!
        same = rows[:, a] == rows[:, a - 1]
        run = np.where(same, run + 1, 1.0)
        out /= np.where(same, run, 1.0)
    return out


def poly_features(X: np.ndarray, p: int, *, coefficients: str = "sqrt_multinomial") -> np.ndarray:
    """Feature map ``phi_alpha(x) = sqrt(p!/alpha!) x^alpha`` over multi-indices ``|alpha| = p``.

    ``X`` is ``(m, d)``; returns ``(m, F)``, ``F = C(d + p - 1, p)``, one column per multiset of ``p``
    coordinates. ``coefficients`` other than ``"sqrt_multinomial"`` build wrong maps used as negative
    controls: ``"none"`` (bare monomials) and ``"multinomial"`` (``p!/alpha!`` without the square root).
    """
    allowed = ("sqrt_multinomial", "none", "multinomial")
    if coefficients not in allowed:
        raise ValueError(f"unknown coefficients {coefficients!r}; expected one of {allowed!r}")
    rows = monomial_indices(X.shape[1], p)
    monomials = np.prod(X[:, rows], axis=2)
    if coefficients == "none":
        return monomials
    coef = _multinomial(rows, p)
    return monomials * (np.sqrt(coef) if coefficients == "sqrt_multinomial" else coef)


def measure_feature_map_identity(rng, *, d: int, p: int, variant=None) -> Estimate:
    """Max relative gap between ``phi(X) phi(Y)^T`` and ``(X Y^T)^p`` for 8 Gaussian vectors each.

    Variants: ``"no_multinomial"`` omits the coefficients, ``"no_sqrt"`` uses ``p!/alpha!`` unrooted.
    """
    check_variant(variant, {"no_multinomial", "no_sqrt"})
    coefficients = {None: "sqrt_multinomial", "no_multinomial": "none", "no_sqrt": "multinomial"}[variant]
    X = rng.standard_normal((8, d))
    Y = rng.standard_normal((8, d))
    gram = poly_features(X, p, coefficients=coefficients) @ poly_features(Y, p, coefficients=coefficients).T
    kernel = (X @ Y.T) ** p
    return exact_value(float(np.max(np.abs(gram - kernel)) / np.max(np.abs(kernel))),
                       method="explicit feature map vs kernel, float64")


def measure_feature_map_dimension(rng, *, d: int, p: int) -> Estimate:
    """Number of columns :func:`poly_features` produces for one input in ``d`` dimensions (counted, not a formula)."""
    return exact_value(float(poly_features(np.zeros((1, d)), p).shape[1]),
                       method="columns of the explicit feature map")


def measure_truncation_error(rng, *, R: float, P: int, variant=None) -> Estimate:
    """``max_{|u| <= R} |e^u - sum_{q<=P} u^q/q!|`` over a grid of 2001 points plus 64 random ones.

    The kernel argument is ``u = x^T y / tau``. Variant ``"negative_side"`` searches only ``u <= 0``.
    """
    check_variant(variant, {"negative_side"})
    hi = 0.0 if variant == "negative_side" else R
    u = np.concatenate([np.linspace(-R, hi, 2001), rng.uniform(-R, hi, 64)])
    return exact_value(float(np.max(np.abs(np.exp(u) - truncated_exp(u, P)))), method="dense grid over [-R, R], float64")


# --- capacity growth ----------------------------------------------------------------------------

def _capacity_slope(columns, *, d_min, d_max, rho, **_) -> Estimate:
    """OLS slope of ``log C(d)`` on ``log d``, ``C = rho / g(d)``, from per-trial crosstalk columns ``g``.

    Each dimension's ``g`` is a sample mean; ``log C`` gets the delta-method SE ``se(g)/g``; the
    dimensions are independent, so :func:`numerics.estimate.ols_slope` propagates them.
    """
    dims = doubling_grid(d_min, d_max)
    g = np.asarray(columns["g"], dtype=float)
    n = g.shape[0]
    mean = g.mean(axis=0)
    se = g.std(axis=0, ddof=1) / math.sqrt(n)
    slope, slope_se = ols_slope(np.log(dims), np.log(rho) - np.log(mean), se / mean)
    return Estimate(slope, slope_se, n, None, "OLS exponent of MC capacity C = rho/g (other pairs), "
                    "polynomial kernel, typical norms", {"points": float(len(dims))})


@monte_carlo(_capacity_slope)
def measure_poly_capacity_exponent(rng, *, p: int, d_min: int, d_max: int, rho: float, trials: int = 400) -> dict:
    """Per-trial crosstalk per other pair ``g(d_k)`` of the kernel ``(x^T y)^p`` over a doubling grid of ``d_k``.

    At a typical stored pair (``||k_i||^2 = d_k``, ``||v_i||^2 = d_v``) one other pair adds
    ``E[z^{2p}] d_v / (d_k^{2p} d_v)`` to SNR^{-1}, ``z = k_j^T k_i ~ N(0, d_k)`` (module docstring), so a
    trial draws one score per ``d_k`` and records ``g = z^{2p} / d_k^{2p}``; column ``g`` is
    ``(trials, len(dims))``. The reducer takes ``C = rho / mean(g)``, the number of other pairs a
    typical stored pair tolerates at SNR^{-1} = rho, and fits the slope of ``log C`` on ``log d_k``.
    """
    dims = np.asarray(doubling_grid(d_min, d_max), dtype=float)
    z = np.sqrt(dims) * rng.standard_normal((trials, dims.size))
    return {"g": _power(z / dims, 2 * p)}


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



# --- the general formula: its instances by quadrature, and the Gaussian (RBF) kernel -------------

#: kernels of the inner product, in the order of the ``kernel`` parameter of ``capacity.general.instances``
INSTANCE_KERNELS = ("linear", "poly", "relu", "exp")


def _instance_kernel(kernel: int, p: int, tau: float) -> Callable:
    if kernel == 0:
        return lambda z: z
    if kernel == 1:
        return lambda z: z**p
    if kernel == 2:
        return lambda z: max(z, 0.0)
    if kernel == 3:
        return lambda z: math.exp(z / tau)
    raise ValueError(f"kernel={kernel!r}; expected an index into {INSTANCE_KERNELS!r}")


def measure_general_formula(rng, *, N: int, d_v: int, key_norm2: float, value_norm2: float, kernel: int, p: int,
                            tau: float, variant=None) -> Estimate:
    """The general-kernel ``SNR^{-1} = (N - 1) d_v E[kappa(Z)^2] / (kappa(s^2)^2 ||v_i||^2)`` by quadrature.

    ``Z ~ N(0, s^2)``, ``s^2 = key_norm2``; ``kappa`` is instance ``kernel`` of :data:`INSTANCE_KERNELS`.
    The moment is ``int kappa(s g)^2 phi(g) dg`` by ``scipy.integrate.quad``, split at ``0`` and at the
    integrand's peak (``2 s/tau`` for the exp kernel, where the log-normal mass sits far from 0).
    Variant ``"variance"`` uses ``Var kappa(Z)`` for ``E kappa(Z)^2`` (the noise's mean subtracted).
    Deterministic (``rng`` unused): the numeric side of an identity.
    """
    from scipy.integrate import quad

    check_variant(variant, {"variance"})
    if N < 2 or not (key_norm2 > 0 and value_norm2 > 0 and tau > 0):
        raise ValueError(f"N={N!r} must be >= 2 and key_norm2={key_norm2!r}, value_norm2={value_norm2!r}, "
                         f"tau={tau!r} positive")
    kappa = _instance_kernel(kernel, p, tau)
    s = math.sqrt(key_norm2)
    phi = lambda g: math.exp(-g * g / 2) / math.sqrt(2 * math.pi)  # noqa: E731

    def moment(power):
        """``E kappa(Z)^power`` over ``g = Z/s`` on ``[peak - 40, peak + 40]`` (the rest is below e^{-800})."""
        peak = power * s / tau if kernel == 3 else 0.0
        if kernel == 3:  # the exponent and the Gaussian density combined, so nothing overflows
            integrand = lambda g: math.exp(power * s * g / tau - g * g / 2) / math.sqrt(2 * math.pi)  # noqa: E731
        else:
            integrand = lambda g: kappa(s * g) ** power * phi(g)  # noqa: E731
        edges = sorted({peak - 40.0, 0.0, peak, peak + 40.0})
        return sum(quad(integrand, lo, hi, epsabs=0, epsrel=1e-13, limit=200)[0]
                   for lo, hi in zip(edges[:-1], edges[1:]))

    second = moment(2)
    if variant == "variance":
        second -= moment(1) ** 2
    value = (N - 1) * d_v * second / (kappa(key_norm2) ** 2 * value_norm2)
    return exact_value(value, method=f"general formula, E[kappa^2] of the {INSTANCE_KERNELS[kernel]} kernel by "
                                     "scipy quadrature")


def _check_rbf(N, d_k, key_norm2, value_norm2, tau, trials):
    if N < 2 or d_k < 1 or trials < 2:
        raise ValueError(f"N={N!r} must be >= 2, d_k={d_k!r} >= 1 and trials={trials!r} >= 2")
    if not (key_norm2 > 0 and value_norm2 > 0 and tau > 0):
        raise ValueError(f"key_norm2={key_norm2!r}, value_norm2={value_norm2!r} and tau={tau!r} must be positive")


@monte_carlo(mean_of("y", "Gaussian kernel, reduced form: ||k_j - k_i||^2 = (g - ||k_i||)^2 + chi^2(d_k - 1), "
                          "values integrated exactly"), shared_variants={"centred"})
def measure_inverse_snr_rbf(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float, tau: float,
                            trials: int = 2000, variant=None) -> dict:
    """Conditional SNR^{-1} of the Gaussian kernel ``exp(-||x - y||^2/(2 tau))``; ``c = kappa(k_i, k_i) = 1``.

    Reduced form: rotate ``k_i`` onto the first axis; an isotropic ``k_j ~ N(0, I_{d_k})`` then has
    ``||k_j - k_i||^2 = (g - s)^2 + X`` with ``g ~ N(0, 1)``, ``X ~ chi^2(d_k - 1)`` independent, ``s = ||k_i||``.
    Trial value ``d_v sum_j exp(-||k_j - k_i||^2/tau) / ||v_i||^2`` over ``N - 1`` pairs (values integrated
    exactly, as in the module docstring). Variant ``"centred"`` measures distances to the origin
    (``g^2 + X``): the stored key's offset forgotten, on the same draws (``variant=(None, "centred")``: both
    from one set of draws).
    """
    group = check_variants(variant, {"centred"})
    _check_rbf(N, d_k, key_norm2, value_norm2, tau, trials)
    offsets = [0.0 if v == "centred" else math.sqrt(key_norm2) for v in group]
    ys = [np.empty(trials) for _ in group]
    step = max(1, _BLOCK // (N - 1))
    for t in range(0, trials, step):
        n = min(step, trials - t)
        x = rng.standard_normal((n, N - 1))
        rest = rng.chisquare(d_k - 1, (n, N - 1)) if d_k > 1 else 0.0
        for s, y in zip(offsets, ys):
            g = x - s
            y[t:t + n] = np.exp(-(g * g + rest) / tau).sum(axis=1)
    return per_variant(variant, [{"y": d_v * y / value_norm2} for y in ys])


def rbf_readout_inverse_snr(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float, tau: float,
                            trials: int = 2000) -> Estimate:
    """The same estimand through the memory itself: ``r = sum_{j != i} v_j exp(-||k_j - k_i||^2/(2 tau))``.

    Each trial draws a stored key of norm ``sqrt(key_norm2)`` in a random direction and ``N - 1`` full
    Gaussian pairs; nothing is integrated. A check of the reduction (tests), not a ledger route.
    """
    _check_rbf(N, d_k, key_norm2, value_norm2, tau, trials)
    y = np.empty(trials)
    for t in range(trials):
        k_i = stored_key(rng, d_k, key_norm2)
        K = rng.standard_normal((N - 1, d_k))
        V = rng.standard_normal((N - 1, d_v))
        r = V.T @ np.exp(-np.sum((K - k_i) ** 2, axis=1) / (2 * tau))
        y[t] = r @ r / value_norm2
    return mean_estimate(y, method="Gaussian kernel, full read-out")
