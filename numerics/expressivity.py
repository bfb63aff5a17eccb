"""State tracking with the DeltaFormer kernel u-recursion and with generalized Householder products.

Notes §5.5 (Theorem 1, Assumptions 1-2, reconstruction there) and the companion's toy tasks
(notes §6, E.4). Conventions used throughout:

* ``n`` elements sit at ``n`` positions; position ``j`` has a unit key ``k_j`` (row ``j`` of
  ``keys``, shape ``(n, d)``) and element ``e`` has a value ``v_e`` (row ``e`` of ``values``,
  shape ``(n, d_v)``; one-hot values ``values = I_n`` unless said otherwise).
* A swap of positions ``(a, b)`` is one token with key ``k_a - k_b`` and value ``0``. A run over
  ``T`` swaps is the token sequence of the ``n`` stored pairs followed by the ``T`` swap tokens.
* The kernel u-recursion over a token sequence ``(w_t, k_t, v_t)``, ``t = 1..L``::

      u_t = v_t - sum_{i<t} f(w_t^T k_i) u_i                    (f applied elementwise)
      o(q) after t tokens = sum_{i<=t} f(q^T k_i) u_i            (read-out)

  with ``w_t = k_t`` for the swap construction. Kernels ``f``: ``"round"`` (nearest integer,
  the rounding kernel of Assumption 2), ``"identity"`` (linear kernel: DeltaNet-style memory),
  ``"exp"`` (``exp(x / tau)``), ``"softmax"`` (``exp(x / tau)`` normalised over the visible
  ``i``, as in the fla DeltaFormer; an empty sum is 0).

Every function that draws randomness takes a ``numpy.random.Generator`` first. ``measure_*``
functions return an :class:`numerics.estimate.Estimate`; ``variant`` selects a deliberately
wrong route used as a negative control (``None`` is the correct computation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scipy.special import log_ndtr

from numerics.estimate import (Estimate, check_variant, check_variants, exact_value, largest, mean_of, monte_carlo,
                               per_variant, smallest)
from numerics.linear_memory import unit_rows

__all__ = [
    "KERNELS",
    "LATTICE",
    "SwapTask",
    "apply_kernel",
    "coherence_ladder",
    "coherent_unit_keys",
    "decode_failure_rate",
    "deltanet_permutation_states",
    "extrapolation_weights",
    "householder_transition",
    "kernel_u_recursion",
    "exp_head_weights",
    "largest_coherent_prefix",
    "log_first_moment_size",
    "measure_coherence_exponent",
    "measure_exp_heads_accuracy",
    "measure_exp_heads_tracking",
    "measure_householder_spectrum",
    "measure_householder_tracking",
    "measure_linear_orthonormal_tracking",
    "measure_monotone_under_repetition",
    "measure_reachability",
    "measure_rewrite_tracking",
    "measure_swap_task_labels",
    "measure_swap_tracking",
    "measure_violation_count",
    "measure_violation_probability",
    "multi_query_exp_kernel",
    "path_count_matrix",
    "prefix_read_outs",
    "random_dag",
    "random_swaps",
    "reachability_closure",
    "swap_task",
    "swap_tokens",
    "track_swaps",
    "track_swaps_with_rewrite",
    "tracked_positions",
    "transpositions_of",
    "violation_counts",
    "violation_probability_draws",
]

KERNELS = ("round", "identity", "exp", "softmax")


# --- keys ----------------------------------------------------------------------------------------

def coherent_unit_keys(rng: np.random.Generator, n: int, d: int, *, bound: float = 0.125,
                       max_draws: int = 200_000, batch: int = 256) -> np.ndarray:
    """``n`` unit keys in R^d with pairwise ``|k_i^T k_j| < bound`` (Assumption 1), shape ``(n, d)``.

    Random greedy code: candidates uniform on the sphere are drawn in batches and kept when
    their coherence with every key kept so far is below ``bound``. Raises ``ValueError`` after
    ``max_draws`` candidates (``d`` too small for ``n`` at this bound).
    """
    keys = np.empty((n, d))
    kept, draws = 0, 0
    while kept < n:
        if draws >= max_draws:
            raise ValueError(f"found only {kept} of n={n!r} keys with coherence < {bound!r} in d={d!r} "
                             f"after {draws} draws; increase d")
        cand = unit_rows(rng.standard_normal((batch, d)))
        draws += batch
        if kept:
            cand = cand[np.max(np.abs(cand @ keys[:kept].T), axis=1) < bound]
        for c in cand:  # survivors must also be coherent with each other
            if kept == 0 or np.max(np.abs(keys[:kept] @ c)) < bound:
                keys[kept] = c
                kept += 1
                if kept == n:
                    break
    return keys


# --- the kernel u-recursion ----------------------------------------------------------------------

def apply_kernel(scores: np.ndarray, kernel, tau: float = 1.0) -> np.ndarray:
    """Elementwise ``f(scores)`` for the unnormalised kernels (``round``, ``identity``, ``exp``, or a
    callable such as :func:`multi_query_exp_kernel`)."""
    if callable(kernel):
        return kernel(scores)
    if kernel == "round":
        return np.rint(scores)
    if kernel == "identity":
        return scores
    if kernel == "exp":
        return np.exp(scores / tau)
    raise ValueError(f"kernel {kernel!r} is not elementwise; expected 'round', 'identity' or 'exp'")


def _weights(scores: np.ndarray, kernel, tau: float) -> np.ndarray:
    if isinstance(kernel, str) and kernel == "softmax":
        if scores.size == 0:
            return scores
        z = np.exp((scores - scores.max()) / tau)
        return z / z.sum()
    return apply_kernel(scores, kernel, tau)


def kernel_u_recursion(W: np.ndarray, K: np.ndarray, V: np.ndarray, *, kernel: str = "round",
                       tau: float = 1.0) -> np.ndarray:
    """The DeltaFormer u-recursion ``u_t = v_t - sum_{i<t} f(w_t^T k_i) u_i`` (reference loop).

    ``W`` (``(L, d)``) holds the write vectors ``w_t`` (``w_t = k_t`` in Theorem 1), ``K``
    (``(L, d)``) the keys, ``V`` (``(L, d_v)``) the values; returns ``U`` of shape ``(L, d_v)``.
    In matrix form ``U = (I + A)^{-1} V`` with ``A`` strictly lower-triangular,
    ``A_{ti} = f(w_t^T k_i)`` (for ``softmax`` the row ``t`` is normalised over ``i < t``).
    Cost O(L^2 (d + d_v)) time, O(L^2) memory for the score matrix.
    """
    if not callable(kernel) and kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS!r} or a callable")
    scores = W @ K.T
    U = np.empty(V.shape, dtype=float)
    for t in range(V.shape[0]):
        U[t] = V[t] - _weights(scores[t, :t], kernel, tau) @ U[:t] if t else V[t]
    return U


def prefix_read_outs(Q: np.ndarray, K: np.ndarray, U: np.ndarray, prefixes, *, kernel: str = "round",
                     tau: float = 1.0) -> np.ndarray:
    """Read-outs ``o(q) = sum_{i<p} f(q^T k_i) u_i`` for every query row and prefix length ``p``.

    Returns shape ``(len(prefixes), m, d_v)`` for ``Q`` of shape ``(m, d)``. Prefix sums run
    query by query, so memory is O(m d_v len(prefixes) + L d_v).
    """
    prefixes = np.asarray(prefixes, dtype=int)
    out = np.empty((prefixes.size, Q.shape[0], U.shape[1]))
    scores = Q @ K.T
    for j in range(Q.shape[0]):
        s = scores[j]
        if isinstance(kernel, str) and kernel == "softmax":
            z = np.exp((s - s.max()) / tau)
            num = np.cumsum(z[:, None] * U, axis=0)
            den = np.cumsum(z)
            out[:, j] = num[prefixes - 1] / den[prefixes - 1, None]
        else:
            out[:, j] = np.cumsum(apply_kernel(s, kernel, tau)[:, None] * U, axis=0)[prefixes - 1]
    return out


# --- swaps ---------------------------------------------------------------------------------------

def random_swaps(rng: np.random.Generator, n: int, T: int) -> np.ndarray:
    """``T`` swaps ``(a, b)``, ``a < b``, uniform over the ``n (n - 1) / 2`` position pairs; ``(T, 2)``."""
    if n < 2:
        raise ValueError(f"a swap needs n >= 2 positions, got n={n!r}")
    a = rng.integers(0, n, size=T)
    b = (a + rng.integers(1, n, size=T)) % n  # uniform over b != a
    return np.sort(np.stack([a, b], axis=1), axis=1)


def swap_tokens(keys: np.ndarray, values: np.ndarray, swaps: np.ndarray, *, variant=None):
    """Token keys and values of a run: the ``n`` stored pairs, then one token per swap.

    Swap ``(a, b)`` is the token with key ``k_b - k_a`` and value 0 (Theorem 1; the sign is
    immaterial). Variant ``"sum_key"`` uses the wrong key ``k_a + k_b``.
    """
    a, b = swaps[:, 0], swaps[:, 1]
    swap_keys = keys[b] + keys[a] if variant == "sum_key" else keys[b] - keys[a]
    K = np.concatenate([keys, swap_keys])
    V = np.concatenate([values, np.zeros((len(swaps), values.shape[1]))])
    return K, V


def tracked_positions(n: int, swaps: np.ndarray) -> np.ndarray:
    """Element at each position after each swap, by direct bookkeeping; shape ``(T, n)``."""
    perm = np.arange(n)
    out = np.empty((len(swaps), n), dtype=int)
    for s, (a, b) in enumerate(swaps):
        perm[a], perm[b] = perm[b], perm[a]
        out[s] = perm
    return out


def track_swaps(keys: np.ndarray, values: np.ndarray, swaps: np.ndarray, *, kernel: str = "round",
                tau: float = 1.0, variant=None):
    """Run the construction: read-outs at every position after every swap, and the cache.

    Returns ``(read_outs, K, U)``: ``read_outs[s, j] = o(k_j)`` after swap ``s + 1`` (shape
    ``(T, n, d_v)``), and the KU cache (token keys ``K``, ``(n + T, d)``, and ``U``,
    ``(n + T, d_v)``). Theorem 1: with ``kernel="round"`` and Assumption 1 (coherence < 1/8)
    ``read_outs[s, j] = values[pi_s(j)]`` exactly, ``pi_s`` the arrangement after ``s + 1`` swaps.
    """
    K, V = swap_tokens(keys, values, swaps, variant=variant)
    U = kernel_u_recursion(K, K, V, kernel=kernel, tau=tau)
    n = keys.shape[0]
    prefixes = n + 1 + np.arange(len(swaps))
    return prefix_read_outs(keys, K, U, prefixes, kernel=kernel, tau=tau), K, U


def decode_failure_rate(read_outs: np.ndarray, positions: np.ndarray) -> float:
    """Fraction of read-outs whose argmax (one-hot values) is not the tracked element."""
    return float(np.mean(np.argmax(read_outs, axis=-1) != positions))


def measure_swap_tracking(rng, *, n: int, d: int, T: int, variant=None) -> Estimate:
    """Max |o(k_j) - v_{pi(j)}| over every position and every step of ``T`` random swaps.

    Keys: :func:`coherent_unit_keys` (coherence < 1/8); values one-hot (``values = I_n``), so
    with the rounding kernel every coefficient is an integer and float64 arithmetic is exact:
    the estimate is exactly 0 when Theorem 1 holds. Variants: ``"identity_kernel"`` (f = x,
    DeltaNet-style), ``"sum_key"`` (swap key ``k_a + k_b``).
    """
    check_variant(variant, {"identity_kernel", "sum_key"})
    keys = coherent_unit_keys(rng, n, d)
    swaps = random_swaps(rng, n, T)
    values = np.eye(n)
    kernel = "identity" if variant == "identity_kernel" else "round"
    read_outs, _, _ = track_swaps(keys, values, swaps, kernel=kernel,
                                  variant="sum_key" if variant == "sum_key" else None)
    expected = values[tracked_positions(n, swaps)]
    coherence = float(np.max(np.abs(keys @ keys.T - np.eye(n))))
    return exact_value(float(np.max(np.abs(read_outs - expected))),
                       method=f"u-recursion, kernel {kernel}, one-hot values, float64", coherence=coherence)


# --- where it fails: the linear kernel -----------------------------------------------------------

def measure_linear_orthonormal_tracking(rng, *, n: int, d: int, T: int, variant=None) -> Estimate:
    """Max read-out error of the construction with f = identity and orthonormal keys (n <= d).

    With ``K K^T = I`` the linear kernel is exact (DeltaNet tracks swaps); float error only.
    Variant ``"perturbed_keys"``: unit keys with coherence about 0.05 (not orthogonal).
    """
    check_variant(variant, {"perturbed_keys"})
    Qm, _ = np.linalg.qr(rng.standard_normal((d, n)))
    keys = Qm.T
    if variant == "perturbed_keys":
        keys = unit_rows(keys + 0.05 * unit_rows(rng.standard_normal((n, d))))
    swaps = random_swaps(rng, n, T)
    read_outs, _, _ = track_swaps(keys, np.eye(n), swaps, kernel="identity")
    expected = np.eye(n)[tracked_positions(n, swaps)]
    return exact_value(float(np.max(np.abs(read_outs - expected))), method="u-recursion, f = identity, float64")


# --- the exponential kernel: multi-query heads that round -----------------------------------------

LATTICE = np.arange(-2.0, 3.0)  # token-key inner products for orthonormal keys (Lemma 1)


def exp_head_weights(scales) -> tuple[np.ndarray, float]:
    """Output weights ``c`` of exponential heads at query ``scales`` that best match ``round`` on the lattice.

    Least squares for ``sum_h c_h exp(s_h m) = m``, ``m in {-2..2}``; returns ``(c, residual)`` with
    ``residual = max_m |sum_h c_h exp(s_h m) - m|``. With four scales ``(s, -s, r, -r)`` the system is
    solvable and the residual is rounding; with three distinct scales it is not.
    """
    scales = np.asarray(scales, dtype=float)
    E = np.exp(np.outer(LATTICE, scales))
    c = np.linalg.lstsq(E, LATTICE, rcond=None)[0]
    return c, float(np.max(np.abs(E @ c - LATTICE)))


def multi_query_exp_kernel(scales, weights):
    """The kernel of exponential heads sharing keys and values (multi-query attention).

    Head ``h`` scores ``exp(s_h q^T k_i)`` (query ``s_h q``: its own query projection) and the output
    projection adds the heads with weights ``c_h``, so ``f(x) = sum_h c_h exp(s_h x)``. Returns a
    callable for :func:`kernel_u_recursion` and :func:`prefix_read_outs` that evaluates every head on
    the score array and combines them.
    """
    scales = np.asarray(scales, dtype=float)
    weights = np.asarray(weights, dtype=float)

    def kernel(scores: np.ndarray) -> np.ndarray:
        heads = np.exp(np.multiply.outer(scales, scores))  # (heads, *scores.shape)
        return np.tensordot(weights, heads, axes=1)

    return kernel


def _head_scales(s: float, r: float, variant) -> tuple[np.ndarray, np.ndarray]:
    """(scales the weights are solved for, scales the heads run at) for a variant."""
    four = np.array([s, -s, r, -r])
    if variant == "three_heads":
        return four[:3], four[:3]
    if variant == "scale_slip":
        return four, 1.05 * four
    return four, four


def measure_exp_heads_tracking(rng, *, n: int, d: int, T: int, s: float, r: float, variant=None) -> Estimate:
    """Theorem 1's swap construction with the four-head exponential kernel, on orthonormal keys (n <= d).

    The kernel is :func:`multi_query_exp_kernel` at scales ``(s, -s, r, -r)`` with weights from
    :func:`exp_head_weights`; keys are random orthonormal rows (QR of a Gaussian matrix), values
    one-hot, swaps uniform. Returns ``max |o(k_j) - v_{pi(j)}|`` over every position and swap: zero up
    to rounding when the heads reproduce ``round`` on the lattice. Variants: ``"three_heads"`` (the
    ``-r`` head dropped, weights refitted by least squares), ``"scale_slip"`` (weights solved for
    ``(s, r)``, heads run at scales 5 % larger: a temperature slip).
    """
    check_variant(variant, {"three_heads", "scale_slip"})
    if n > d:
        raise ValueError(f"orthonormal keys need n <= d, got n={n!r}, d={d!r}")
    solved_for, run_at = _head_scales(s, r, variant)
    weights, residual = exp_head_weights(solved_for)
    kernel = multi_query_exp_kernel(run_at, weights)
    keys = np.linalg.qr(rng.standard_normal((d, n)))[0].T  # random orthonormal rows
    swaps = random_swaps(rng, n, T)
    read_outs, _, _ = track_swaps(keys, np.eye(n), swaps, kernel=kernel)
    expected = np.eye(n)[tracked_positions(n, swaps)]
    return exact_value(float(np.max(np.abs(read_outs - expected))),
                       method="u-recursion with four exp heads (multi-query), orthonormal keys, float64",
                       lattice_residual=residual)


def measure_exp_heads_accuracy(rng, *, s: float, r: float, delta: float, variant=None,
                               samples: int = 4096) -> Estimate:
    """``sup |f(x) - round(x)|`` over ``|x - m| <= delta``, ``m in {-2..2}``, for the four-head kernel.

    Searched without assuming where the supremum lies: on each interval, the larger of a bounded
    scalar maximisation (scipy), the two endpoints and ``samples`` uniform random points. Variants as
    in :func:`measure_exp_heads_tracking`.
    """
    from scipy.optimize import minimize_scalar

    check_variant(variant, {"three_heads", "scale_slip"})
    if not 0.0 < delta < 0.5:
        raise ValueError(f"delta={delta!r} must lie in (0, 1/2) (intervals around distinct integers)")
    solved_for, run_at = _head_scales(s, r, variant)
    kernel = multi_query_exp_kernel(run_at, exp_head_weights(solved_for)[0])
    best = 0.0
    for m in LATTICE:
        lo, hi = m - delta, m + delta
        err = lambda x, m=m: abs(float(kernel(np.asarray(x))) - m)  # noqa: E731
        inner = minimize_scalar(lambda x: -err(x), bounds=(lo, hi), method="bounded",
                                options={"xatol": 1e-12})
        xs = rng.uniform(lo, hi, samples)
        best = largest([best, -inner.fun, err(lo), err(hi), float(np.max(np.abs(kernel(xs) - m)))])
    return exact_value(best, method="bounded maximisation + endpoints + random points on each interval, float64")


# --- space: the KU cache with periodic rewrite ----------------------------------------------------

def track_swaps_with_rewrite(keys: np.ndarray, values: np.ndarray, swaps: np.ndarray, period: int, *,
                             variant=None):
    """Theorem 1's tracker with the companion's periodic rewrite (notes §5.5, space cost).

    The cache starts with the ``n`` stored pairs; each swap appends one token. Every ``period`` swaps the
    ``n`` current values are read out (``o(k_j)``, rounding kernel) and the cache is rewritten as the
    ``n`` pairs ``(k_j, o(k_j))``, so it never holds more than ``n + period`` tokens. Returns
    ``(read_outs, longest)``: the read-outs at every position after every swap (``(T, n, d_v)``) and
    the longest cache. Variants: ``"stale_rewrite"`` (the rewrite stores the initial values),
    ``"shifted_rewrite"`` (the value read at ``k_j`` is stored at ``k_{j+1}``).
    """
    if period < 1:
        raise ValueError(f"the rewrite period must be >= 1, got {period!r}")
    n = keys.shape[0]
    stored = values.copy()
    read_outs = np.empty((len(swaps), n, values.shape[1]))
    longest = n
    for start in range(0, len(swaps), period):
        block = swaps[start:start + period]
        outs, K, _ = track_swaps(keys, stored, block)
        read_outs[start:start + len(block)] = outs
        longest = max(longest, K.shape[0])
        current = outs[-1]
        if variant == "stale_rewrite":
            current = values
        elif variant == "shifted_rewrite":
            current = np.roll(current, 1, axis=0)
        stored = current
    return read_outs, longest


def measure_rewrite_tracking(rng, *, n: int, d: int, T: int, period: int, variant=None) -> Estimate:
    """Max |o(k_j) - v_{pi(j)}| over ``T`` swaps tracked with the periodic rewrite (:func:`track_swaps_with_rewrite`).

    Keys: :func:`coherent_unit_keys` (coherence < 1/8); values: a second coherent code in ``d`` dimensions
    (rows of ``coherent_unit_keys``), so every cache entry holds ``2 d`` numbers, ``d = O(log n)``. The
    longest cache is reported alongside (``n + min(period, T)``).
    """
    check_variant(variant, {"stale_rewrite", "shifted_rewrite"})
    keys = coherent_unit_keys(rng, n, d)
    values = coherent_unit_keys(rng, n, d)
    swaps = random_swaps(rng, n, T)
    read_outs, longest = track_swaps_with_rewrite(keys, values, swaps, period, variant=variant)
    expected = values[tracked_positions(n, swaps)]
    return exact_value(float(np.max(np.abs(read_outs - expected))),
                       method="rounding-kernel tracker with periodic rewrite, coded values, float64",
                       longest_cache=longest)


# --- the dimension needed ------------------------------------------------------------------------

def _check_coherence_inputs(d: int, epsilon: float, *, d_low: int = 2) -> None:
    if not (0.0 < epsilon < 1.0):
        raise ValueError(f"epsilon={epsilon!r} must lie in (0, 1)")
    if d < d_low:
        raise ValueError(f"d={d!r} must be at least {d_low}")


def violation_counts(rng: np.random.Generator, n: int, d: int, epsilon: float, trials: int) -> np.ndarray:
    """Per key set, the number of pairs ``i < j`` with ``|k_i^T k_j| >= epsilon``; shape ``(trials,)``.

    Direct simulation: each trial draws ``n`` keys uniform on the unit sphere of R^d (normalised
    Gaussians, ``(n, d)``), forms their Gram matrix and counts the violating pairs. Trials run in
    chunks so that memory stays O(2^20) floats whatever ``trials`` is.
    """
    if n < 2:
        raise ValueError(f"a violation needs a pair of keys: n={n!r} must be at least 2")
    _check_coherence_inputs(d, epsilon)
    counts = np.empty(trials)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    chunk = max(1, (1 << 20) // (n * max(n, d)))
    for start in range(0, trials, chunk):
        m = min(chunk, trials - start)
        K = rng.standard_normal((m, n, d))
        K /= np.linalg.norm(K, axis=2, keepdims=True)
        G = np.abs(K @ K.transpose(0, 2, 1))
        counts[start:start + m] = np.count_nonzero((G >= epsilon) & upper, axis=(1, 2))
    return counts


@monte_carlo(mean_of("count", "direct MC: n uniform unit keys per trial, every pair counted"))
def measure_violation_count(rng, *, n: int, d: int, epsilon: float, trials: int, variant=None) -> dict:
    """Columns for the mean number of pairs ``i < j`` with ``|k_i^T k_j| >= epsilon`` among ``n`` i.i.d.
    uniform unit keys in R^d: ``count`` (one key set per trial, the unit of the SE). Cost O(trials n^2 d)."""
    check_variant(variant, set())
    return {"count": violation_counts(rng, n, d, epsilon, trials)}


def largest_coherent_prefix(rng: np.random.Generator, d: int, epsilon: float, *, max_n: int = 100_000) -> int:
    """Largest ``n`` such that the first ``n`` of a stream of i.i.d. uniform unit vectors in R^d have
    pairwise ``|k_i^T k_j| < epsilon`` (the stream stops at the first violation). O(n^2 d) time."""
    keys = np.empty((min(max_n, 1024), d))
    n = 0
    while n < max_n:
        k = unit_rows(rng.standard_normal((1, d)))[0]
        if n and np.max(np.abs(keys[:n] @ k)) >= epsilon:
            return n
        if n == keys.shape[0]:
            keys = np.concatenate([keys, np.empty_like(keys)])
        keys[n] = k
        n += 1
    return n


# The rate is read off p_d = P(|k_i^T k_j| >= eps) over a ladder of dimensions. Reduced form: for
# independent uniform unit vectors, k_i^T k_j has the law of g / sqrt(g^2 + R), g ~ N(0, 1),
# R ~ chi^2_{d-1} independent (condition on k_i and rotate it to e_1; a normalised Gaussian k_j =
# h/||h|| then gives g = h_1, R = h_2^2 + ... + h_d^2). The event is g^2 >= a' R, a' = eps^2/(1 - eps^2),
# so given R its probability is erfc(sqrt(a' R / 2)) = 2 Phi(-sqrt(a' R)) (g integrated out exactly).
# R is drawn from a partially tilted proposal (see _tilt); tests check this route against
# violation_counts at small d.

def _tilt(epsilon: float, m: float, *, second_moment: float = 2.0) -> float:
    """Tilt ``theta`` of the chi^2 proposal ``Gamma(m, scale 2/(1 + 2 theta))`` for ``R`` (``m = (d-1)/2``).

    With the integrand approximated by ``exp(-a R)``, ``a = eps^2 / (2 (1 - eps^2))``, the relative
    second moment of the weighted estimator is ``[(1 + 2a)^2 / ((1 + 2 theta)(1 + 4a - 2 theta))]^m``:
    ``theta = 0`` is plain sampling and ``theta = a`` the zero-variance (full) tilt. The tilt is the
    smallest ``theta`` that brings it down to ``second_moment`` (relative variance about 1 per draw),
    so the estimate keeps its own sampling variance.
    """
    a = epsilon**2 / (2 * (1 - epsilon**2))
    shrink = 1 - math.sqrt(1 - second_moment ** (-1 / m))
    return max(0.0, ((1 + 2 * a) * shrink - 1) / 2)


def violation_probability_draws(rng: np.random.Generator, *, d: int, epsilon: float, trials: int) -> np.ndarray:
    """``trials`` i.i.d. draws of ``log Y`` with ``E Y = p_d = P(|k_i^T k_j| >= epsilon)``, shape ``(trials,)``.

    ``Y = w(R) * 2 Phi(-sqrt(a' R))`` with ``R ~ Gamma(m, scale 2/(1 + 2 theta))``, ``m = (d - 1)/2``, and
    the likelihood ratio ``w(R) = (1 + 2 theta)^{-m} exp(theta R)`` against ``chi^2_{d-1}`` (reduced form
    and tilt: see :func:`_tilt`). Works in log space, so ``p_d`` far below 1e-300 is fine.
    """
    _check_coherence_inputs(d, epsilon)
    m = (d - 1) / 2
    theta = _tilt(epsilon, m)
    R = rng.gamma(m, 2.0 / (1.0 + 2.0 * theta), size=trials)
    a_prime = epsilon**2 / (1.0 - epsilon**2)
    return -m * math.log1p(2.0 * theta) + theta * R + math.log(2.0) + log_ndtr(-np.sqrt(a_prime * R))


def _reduce_violation_probability(columns, **_) -> Estimate:
    """``p_d`` as the mean of the weighted draws (in log space), its delta-method SE and Kish's ESS."""
    log_p, rel_se, ess = _log_mean(columns["log_y"])
    p = math.exp(log_p)
    return Estimate(p, p * rel_se, int(columns["log_y"].shape[0]), ess,
                    "tilted conditional MC: R ~ partially tilted chi^2_{d-1}, g integrated out given R")


@monte_carlo(_reduce_violation_probability)
def measure_violation_probability(rng, *, d: int, epsilon: float, trials: int, variant=None) -> dict:
    """``P(|k_i^T k_j| >= epsilon)`` for two independent uniform unit keys in R^d, by the reduced route.

    Column ``log_y``: ``trials`` draws of :func:`violation_probability_draws` (mean ``p_d``). Reaches
    probabilities far below what counting violations among random keys can see (1e-30 at d = 1024,
    eps = 0.35); tests check the route against :func:`violation_counts` where both work.
    """
    check_variant(variant, set())
    return {"log_y": violation_probability_draws(rng, d=d, epsilon=epsilon, trials=trials)}


def coherence_ladder(d_min: int, d_max: int, points: int = 5) -> np.ndarray:
    """The dimensions of the rate fit: ``points`` integers spaced geometrically from ``d_min`` to ``d_max``."""
    if not (3 <= d_min and d_max >= 2 * d_min):
        raise ValueError(f"need 3 <= d_min and d_max >= 2 d_min, got d_min={d_min!r}, d_max={d_max!r}")
    dims = np.unique(np.round(np.geomspace(d_min, d_max, points)).astype(int))
    if dims.size != points:
        raise ValueError(f"d_min={d_min!r}..d_max={d_max!r} does not hold {points} distinct dimensions")
    return dims


def _log_mean(log_y: np.ndarray) -> tuple[float, float, float]:
    """``log mean(Y)``, its delta-method SE ``sd(Y) / (sqrt(N) mean(Y))``, and Kish's ESS of ``Y``."""
    top = float(np.max(log_y))
    y = np.exp(log_y - top)
    mean = float(y.mean())
    return top + math.log(mean), float(y.std(ddof=1) / (math.sqrt(y.size) * mean)), float(y.sum() ** 2 / (y**2).sum())


def log_first_moment_size(log_p: float) -> tuple[float, float]:
    """``log n*`` for ``n* = (1 + s)/2``, ``s = sqrt(1 + 8/p)``, and ``d log n* / d log p = -(1 - 1/s)/2``;
    computed from ``log p`` so that ``p`` far below the float range is fine."""
    log_s = 0.5 * (math.log(8.0) - log_p) + 0.5 * math.log1p(math.exp(log_p) / 8.0)
    s_inv = math.exp(-log_s)
    return log_s + math.log1p(s_inv) - math.log(2.0), -0.5 * (1.0 - s_inv)


def extrapolation_weights(dims) -> np.ndarray:
    """Rows of the least-squares solve for ``(a, c, g, b)`` in ``log n*(d) = a + c d + g ln d + b/d``."""
    x = np.asarray(dims, dtype=float)
    return np.linalg.pinv(np.column_stack([np.ones_like(x), x, np.log(x), 1.0 / x]))


def plain_slope_weights(dims) -> np.ndarray:
    """Rows of the least-squares solve for ``(a, c)`` in ``log n*(d) = a + c d``: the slope over the ladder
    with no term for the approach (the ``plain_slope`` route of :func:`measure_coherence_exponent`)."""
    x = np.asarray(dims, dtype=float)
    return np.linalg.pinv(np.column_stack([np.ones_like(x), x]))


def _reduce_coherence_rate(columns, *, d_min: int, d_max: int, epsilon: float, variant=None, **_) -> Estimate:
    """The extrapolated growth rate ``c`` (coefficient of ``d``) with its SE, from per-dimension columns;
    variant ``"plain_slope"``: the slope of ``log n*`` on ``d`` over the ladder instead, not extrapolated."""
    dims = coherence_ladder(d_min, d_max)
    logs, ses, ess = [], [], []
    for k in range(dims.size):
        log_p, se_log_p, ess_k = _log_mean(columns["log_y"][:, k])
        log_n, slope = log_first_moment_size(log_p)
        logs.append(log_n)
        ses.append(abs(slope) * se_log_p)
        ess.append(ess_k)
    logs, ses = np.asarray(logs), np.asarray(ses)
    diagnostics = {f"log_n_star_d{int(x)}": float(v) for x, v in zip(dims, logs)}
    if variant == "plain_slope":
        W = plain_slope_weights(dims)
        method = "plain slope of log n*(d) on d over 5 dimensions (not extrapolated)"
    else:
        W = extrapolation_weights(dims)
        g, se_g = W[2] @ logs, math.sqrt(np.sum(W[2] ** 2 * ses**2))
        diagnostics = {"g": float(g), "g_se": float(se_g), **diagnostics}
        method = "extrapolated rate: fit log n*(d) = a + c d + g ln d + b/d over 5 dimensions"
    c, se_c = W[1] @ logs, math.sqrt(np.sum(W[1] ** 2 * ses**2))
    return Estimate(float(c), se_c, int(columns["log_y"].shape[0]), smallest(ess),
                    f"{method}; p_d by tilted conditional MC", diagnostics)


@monte_carlo(_reduce_coherence_rate, shared_variants={"plain_slope"})
def measure_coherence_exponent(rng, *, d_min: int, d_max: int, epsilon: float, trials: int, variant=None) -> dict:
    """Columns for the growth rate of ``n*(d)``, the largest ``n`` with ``n(n-1)/2 p_d < 1``, against ``d``.

    At each dimension of :func:`coherence_ladder` the pair-violation probability ``p_d`` is estimated
    from ``trials`` independent draws of :func:`violation_probability_draws` (column ``log_y``, shape
    ``(trials, 5)``; the dimensions use independent draws). The reducer maps each ``p_d`` to
    ``log n*(d) = log((1 + sqrt(1 + 8/p_d))/2)`` and fits the large-``d`` expansion
    ``log n*(d) = a + c d + g ln d + b/d`` by least squares: ``c`` estimates the limit rate of
    ``log n* / d``, ``g`` the coefficient of the approach (the slope of ``log n*`` tends to ``c`` as
    ``c + g/d``). Delta-method SE over the dimensions' independent errors; the reported ESS is the
    smallest Kish ESS of the weighted draws over the ladder.

    Variant ``"plain_slope"`` (the slip of not extrapolating: the slope of ``log n*`` on ``d`` over the
    ladder, which the approach term ``g ln d`` (``g > 0``) lifts above the limit) changes only the reducer, so a
    group of routes gets the same columns.
    """
    group = check_variants(variant, {"plain_slope"})
    dims = coherence_ladder(d_min, d_max)
    columns = {"log_y": np.column_stack([violation_probability_draws(rng, d=int(x), epsilon=epsilon, trials=trials)
                                         for x in dims])}
    return per_variant(variant, [columns] * len(group))


# --- negative eigenvalues: generalized Householder products --------------------------------------

def householder_transition(n: int, i: int, j: int, beta: float) -> np.ndarray:
    """``I - beta k k^T`` with ``k = (e_i - e_j) / sqrt 2``: the transposition ``(i j)`` at ``beta = 2``."""
    H = np.eye(n)
    k = np.zeros(n)
    k[i], k[j] = 1 / math.sqrt(2), -1 / math.sqrt(2)
    return H - beta * np.outer(k, k)


def transpositions_of(perm: np.ndarray) -> list[tuple[int, int]]:
    """Transpositions ``(a, b)`` whose product, applied in order as position swaps, rearranges by ``perm``.

    Position ``j`` receives the element at position ``perm[j]``; each cycle of length ``m``
    takes ``m - 1`` swaps (cycle decomposition), so at most ``n - 1`` in all.
    """
    perm = np.asarray(perm)
    arrangement = np.arange(perm.size)
    target = perm.copy()
    out = []
    for j in range(perm.size):  # selection: bring the wanted element to position j
        if arrangement[j] != target[j]:
            src = int(np.flatnonzero(arrangement == target[j])[0])
            arrangement[j], arrangement[src] = arrangement[src], arrangement[j]
            out.append((j, src))
    return out


def deltanet_permutation_states(word, n: int, beta: float) -> np.ndarray:
    """DeltaNet states after each letter of a word of permutations, realised by Householder swaps.

    State ``S`` (``n x n``) starts at ``I`` (position ``j`` holds element ``j``; ``S e_j`` is the
    element at ``j``). Letter ``perm`` is written as the swaps of :func:`transpositions_of`, each a
    DeltaNet step ``S <- S (I - beta k k^T) + beta v k^T`` with ``k = (e_a - e_b)/sqrt 2``, ``v = 0``.
    Returns the state after each letter, shape ``(len(word), n, n)``.
    """
    S = np.eye(n)
    out = np.empty((len(word), n, n))
    for s, perm in enumerate(word):
        for a, b in transpositions_of(perm):
            S = S @ householder_transition(n, a, b, beta)
        out[s] = S
    return out


def measure_householder_tracking(rng, *, n: int, length: int, variant=None) -> Estimate:
    """Max |S_s - P_s| over a random word of ``length`` uniform permutations of ``n`` elements.

    ``P_s`` is the permutation matrix of the arrangement after letter ``s`` (direct bookkeeping).
    ``beta = 2`` (eigenvalue -1 on ``k``); variant ``"beta_one"`` uses ``beta = 1`` (eigenvalues in
    [0, 1]: a projection, which loses the swapped pair).
    """
    check_variant(variant, {"beta_one"})
    word = [rng.permutation(n) for _ in range(length)]
    states = deltanet_permutation_states(word, n, 1.0 if variant == "beta_one" else 2.0)
    arrangement = np.arange(n)
    worst = 0.0
    for s, perm in enumerate(word):
        arrangement = arrangement[perm]
        worst = largest([worst, float(np.max(np.abs(states[s] - np.eye(n)[:, arrangement])))])
    return exact_value(worst, method="DeltaNet with generalized Householder transitions, float64")


def measure_householder_spectrum(rng, *, d: int, beta: float, variant=None) -> Estimate:
    """Max gap between the sorted eigenvalues of ``I - beta k k^T`` and ``(1 - beta, 1, ..., 1)``.

    ``k`` uniform on the unit sphere of R^d; ``numpy.linalg.eigvalsh`` (the matrix is symmetric).
    Variant ``"unnormalised_key"`` uses ``k`` of norm 1.5.
    """
    check_variant(variant, {"unnormalised_key"})
    k = unit_rows(rng.standard_normal((1, d)))[0] * (1.5 if variant == "unnormalised_key" else 1.0)
    eig = np.linalg.eigvalsh(np.eye(d) - beta * np.outer(k, k))
    expected = np.sort(np.concatenate([[1.0 - beta], np.ones(d - 1)]))
    return exact_value(float(np.max(np.abs(eig - expected))), method="eigvalsh of I - beta k k^T")


def measure_monotone_under_repetition(rng, *, d: int, T: int, layers: int = 32, variant=None) -> Estimate:
    """Sign changes of ``o_{t+1} - o_t`` for ``layers`` random DeltaNet layers, each fed one token ``T`` times.

    Layer ``l``: ``S_t = S_{t-1}(I - beta k k^T) + beta v k^T``, ``o_t = S_t q``, with a random unit ``k``,
    Gaussian ``S_0`` (``d x d``), ``v``, ``q``; ``beta = 1`` for the first layer and ``beta ~ U[0, 1]`` for
    the others (so the whole interval, endpoint included, is exercised). Differences below ``1e-9``
    times the layer's scale are float noise and skipped. The estimate is the largest count of sign
    changes over layers and output coordinates (0: every coordinate is monotone in ``t``). Variants
    ``"negative_eigenvalue"`` draws ``beta ~ U[1.5, 2]``, ``"barely_negative"`` ``beta ~ U(1, 1.01]``
    (eigenvalue ``1 - beta`` in ``[-0.01, 0)``: the differences alternate but shrink 100-fold per step, so
    only a few flips rise above the noise threshold). Memory O(layers (d^2 + T d)).
    """
    check_variant(variant, {"negative_eigenvalue", "barely_negative"})
    k = unit_rows(rng.standard_normal((layers, d)))
    S = rng.standard_normal((layers, d, d))
    v, q = rng.standard_normal((layers, d)), rng.standard_normal((layers, d))
    if variant == "negative_eigenvalue":
        beta = rng.uniform(1.5, 2.0, size=layers)
    elif variant == "barely_negative":
        beta = 2.0 - rng.uniform(0.99, 1.0, size=layers)
    else:
        beta = np.concatenate([[1.0], rng.uniform(0.0, 1.0, size=layers - 1)])
    outs = np.empty((T + 1, layers, d))
    kq = np.stack([k, q], axis=2)  # (layers, d, 2): one batched product gives S k and S q
    Sk_Sq = S @ kq
    outs[0] = Sk_Sq[:, :, 1]
    for t in range(1, T + 1):
        residual = beta[:, None] * (Sk_Sq[:, :, 0] - v)
        S -= residual[:, :, None] * k[:, None, :]
        Sk_Sq = S @ kq
        outs[t] = Sk_Sq[:, :, 1]
    diffs = np.diff(outs, axis=0)
    scale = 1e-9 * np.maximum(1.0, np.max(np.abs(outs), axis=(0, 2)))
    signs = np.where(np.abs(diffs) > scale[None, :, None], np.sign(diffs), 0.0)
    # carry the last resolved sign over the skipped (noise) steps, then count the flips
    last = np.maximum.accumulate(np.where(signs != 0, np.arange(T)[:, None, None], 0), axis=0)
    filled = np.take_along_axis(signs, last, axis=0)
    flips = (filled[1:] != filled[:-1]) & (filled[:-1] != 0) & (filled[1:] != 0)
    changes = int(flips.sum(axis=0).max()) if T > 1 else 0
    return exact_value(float(changes), method=f"sign changes of successive read-out differences, {layers} layers",
                       beta_max=float(beta.max()))


# --- reachability --------------------------------------------------------------------------------

def random_dag(rng: np.random.Generator, n: int, edge_prob: float) -> np.ndarray:
    """Strictly lower-triangular 0/1 adjacency: ``A[i, j] = 1`` for an edge ``j -> i`` (``j < i``)."""
    return np.tril(rng.random((n, n)) < edge_prob, -1).astype(float)


def reachability_closure(A: np.ndarray) -> np.ndarray:
    """``R[i, j]`` true iff ``j`` reaches ``i`` by a path of length >= 0 (depth-first search)."""
    n = A.shape[0]
    children = [np.flatnonzero(A[:, j]) for j in range(n)]
    R = np.zeros((n, n), dtype=bool)
    for j in range(n):
        stack = [j]
        while stack:
            x = stack.pop()
            if not R[x, j]:
                R[x, j] = True
                stack.extend(children[x])
    return R


def path_count_matrix(A: np.ndarray, *, variant=None) -> np.ndarray:
    """``U = (I - A)^{-1}`` computed by the DeltaFormer u-recursion with one-hot keys.

    Keys ``k_i = e_i``, write vectors ``w_t = -A[t]`` (minus the parents of node ``t``), values
    ``v_t = e_t`` and the linear kernel: ``u_t = e_t + sum_{i<t} A[t, i] u_i``, so ``U[t, j]``
    counts the paths ``j -> t``. Variants: ``"one_hop"`` returns ``I + A``; ``"alternating"``
    uses ``w_t = +A[t]`` and returns ``(I + A)^{-1}``.
    """
    n = A.shape[0]
    if variant == "one_hop":
        return np.eye(n) + A
    W = A if variant == "alternating" else -A
    return kernel_u_recursion(W, np.eye(n), np.eye(n), kernel="identity")


def measure_reachability(rng, *, n: int, edge_prob: float, variant=None, instances: int = 4) -> Estimate:
    """Mismatches of the u-recursion's ``(I - A)^{-1}`` against path counts and DFS reachability.

    Over ``instances`` independent random DAGs, counts entries where ``U`` differs from
    ``sum_{k<n} A^k`` (integer matrix powers), plus entries where ``U > 0`` disagrees with depth-first
    reachability. 0 when the claim holds. Several DAGs per point keep a wrong route (one hop only)
    from passing on the rare DAG that has no path of length 2 (about 1 in 200 at n = 12, p = 0.3).
    """
    check_variant(variant, {"one_hop", "alternating"})
    mismatches, edges = 0, 0
    for _ in range(instances):
        A = random_dag(rng, n, edge_prob)
        U = path_count_matrix(A, variant=variant)
        Ai = A.astype(np.int64)
        power, total = np.eye(n, dtype=np.int64), np.zeros((n, n), dtype=np.int64)
        for _ in range(n):
            total += power
            power = power @ Ai
        mismatches += np.count_nonzero(U != total) + np.count_nonzero((U > 0) != reachability_closure(A))
        edges += int(A.sum())
    return exact_value(float(mismatches), method=f"u-recursion vs matrix-power path counts and DFS, {instances} DAGs",
                       edges=float(edges))


# --- toy task data -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SwapTask:
    """A batch of the swap-tracking task: ``tokens[b, t]`` is a swap id, ``labels[b, t]`` the element
    at position 0 after that swap; ``swap_pairs[id] = (i, j)``, ``i < j``."""

    tokens: np.ndarray
    labels: np.ndarray
    swap_pairs: tuple[tuple[int, int], ...]
    n_elements: int


def swap_task(rng: np.random.Generator, *, n_elements: int = 5, length: int = 16, batch: int = 1,
              variant=None) -> SwapTask:
    """The companion's swap-tracking data (G.1): uniform swap ids, label = element at position 0.

    Swap ids index ``swap_pairs = [(i, j) for i < j]`` (10 ids for 5 elements); every sequence
    starts from the arrangement ``0, 1, ..., n - 1``. Deterministic given ``rng``. Variant
    ``"label_before_swap"`` records the label before applying the swap (off by one step).
    """
    pairs = tuple((i, j) for i in range(n_elements) for j in range(i + 1, n_elements))
    tokens = rng.integers(0, len(pairs), size=(batch, length))
    labels = np.empty((batch, length), dtype=int)
    for b in range(batch):
        perm = list(range(n_elements))
        for t, tok in enumerate(tokens[b]):
            i, j = pairs[tok]
            if variant == "label_before_swap":
                labels[b, t] = perm[0]
            perm[i], perm[j] = perm[j], perm[i]
            if variant != "label_before_swap":
                labels[b, t] = perm[0]
    return SwapTask(tokens, labels, pairs, n_elements)


def measure_swap_task_labels(rng, *, n_elements: int, length: int, d: int, batch: int = 4,
                             variant=None) -> Estimate:
    """Labels of :func:`swap_task` that differ from the exact construction's decoded read-out at ``k_0``.

    Each sequence is run through :func:`track_swaps` (rounding kernel, coherent keys in R^d,
    one-hot values); the decoded read-out at position 0 after each swap is compared with the
    label. Variant ``"label_before_swap"`` generates off-by-one labels.
    """
    check_variant(variant, {"label_before_swap"})
    task = swap_task(rng, n_elements=n_elements, length=length, batch=batch, variant=variant)
    keys = coherent_unit_keys(rng, n_elements, d)
    pairs = np.asarray(task.swap_pairs)
    wrong = 0
    for b in range(batch):
        read_outs, _, _ = track_swaps(keys, np.eye(n_elements), pairs[task.tokens[b]])
        wrong += int(np.count_nonzero(np.argmax(read_outs[:, 0], axis=-1) != task.labels[b]))
    return exact_value(float(wrong), method="generator labels vs construction read-out at k_0")
