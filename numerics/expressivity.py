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

from numerics.estimate import Estimate, check_variant, exact_value, mean_estimate
from numerics.linear_memory import unit_rows

__all__ = [
    "KERNELS",
    "SwapTask",
    "apply_kernel",
    "coherent_unit_keys",
    "decode_failure_rate",
    "deltanet_permutation_states",
    "householder_transition",
    "kernel_u_recursion",
    "largest_coherent_prefix",
    "measure_cache_size",
    "measure_coherence_exponent",
    "measure_householder_spectrum",
    "measure_householder_tracking",
    "measure_linear_orthonormal_tracking",
    "measure_linear_rank_floor",
    "measure_monotone_under_repetition",
    "measure_reachability",
    "measure_swap_task_labels",
    "measure_swap_tracking",
    "measure_violation_count",
    "path_count_matrix",
    "prefix_read_outs",
    "random_dag",
    "random_swaps",
    "reachability_closure",
    "swap_task",
    "swap_tokens",
    "track_swaps",
    "tracked_positions",
    "transpositions_of",
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

def apply_kernel(scores: np.ndarray, kernel: str, tau: float = 1.0) -> np.ndarray:
    """Elementwise ``f(scores)`` for the unnormalised kernels (``round``, ``identity``, ``exp``)."""
    if kernel == "round":
        return np.rint(scores)
    if kernel == "identity":
        return scores
    if kernel == "exp":
        return np.exp(scores / tau)
    raise ValueError(f"kernel {kernel!r} is not elementwise; expected 'round', 'identity' or 'exp'")


def _weights(scores: np.ndarray, kernel: str, tau: float) -> np.ndarray:
    if kernel == "softmax":
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
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {KERNELS!r}")
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
        if kernel == "softmax":
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


def measure_cache_size(rng, *, n: int, T: int, variant=None) -> Estimate:
    """Floats held in the KU cache after ``T`` swaps, run at ``d = ceil(4 ln n / eps^2)``, eps = 1/8.

    The values are the element codes themselves (``v_e = k_e``, so ``d_v = d``); the run must
    track every step (decode by nearest code), else the estimate is NaN. Variant
    ``"one_hot_keys"`` runs with one-hot keys (``d = n``), the exact linear-kernel layout.
    """
    check_variant(variant, {"one_hot_keys"})
    d = n if variant == "one_hot_keys" else max(1, math.ceil(4 * math.log(n) * 64))
    keys = np.eye(n) if variant == "one_hot_keys" else coherent_unit_keys(rng, n, d)
    swaps = random_swaps(rng, n, T)
    read_outs, K, U = track_swaps(keys, keys, swaps, kernel="round")
    decoded = np.argmax(read_outs @ keys.T, axis=-1)
    ok = np.array_equal(decoded, tracked_positions(n, swaps))
    return exact_value(float(K.size + U.size) if ok else math.nan, method="KU cache floats of a tracking run",
                       d=float(d))


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


def measure_linear_rank_floor(rng, *, n: int, d: int, T: int, variant=None) -> Estimate:
    """Fraction of steps at which ``||R_s - P_s||_F^2 >= n - d`` (one-hot values, f = identity).

    ``R_s`` is the ``n x n`` read-out matrix (row ``j`` = ``o(k_j)``) after swap ``s``, ``P_s``
    the tracked permutation matrix; keys are random unit vectors, ``n > d``. ``R_s`` has rank
    at most ``d`` and every singular value of ``P_s`` is 1, so the floor holds at every step.
    Variant ``"round_kernel"`` runs f = round with coherent keys (``d`` raised until they exist),
    which tracks exactly and goes below the floor.
    """
    check_variant(variant, {"round_kernel"})
    swaps = random_swaps(rng, n, T)
    if variant == "round_kernel":
        keys = coherent_unit_keys(rng, n, max(d, 64 * math.ceil(math.log2(n + 1))))
        read_outs, _, _ = track_swaps(keys, np.eye(n), swaps, kernel="round")
    else:
        keys = unit_rows(rng.standard_normal((n, d)))
        read_outs, _, _ = track_swaps(keys, np.eye(n), swaps, kernel="identity")
    expected = np.eye(n)[tracked_positions(n, swaps)]
    gaps = np.sum((read_outs - expected) ** 2, axis=(1, 2))
    return exact_value(float(np.mean(gaps >= (n - d) * (1 - 1e-9))),
                       method="fraction of steps above the Eckart-Young floor", min_gap=float(gaps.min()))


# --- the dimension needed ------------------------------------------------------------------------

def _violation_counts(rng, n: int, d: int, eps: float, trials: int, batch: int = 256) -> np.ndarray:
    """Per key set, the number of pairs ``i < j`` with ``|k_i^T k_j| >= eps``; batches bound memory to
    O(batch n d)."""
    counts = np.empty(trials)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    for start in range(0, trials, batch):
        m = min(batch, trials - start)
        K = rng.standard_normal((m, n, d))
        K /= np.linalg.norm(K, axis=2, keepdims=True)
        G = np.abs(K @ K.transpose(0, 2, 1))
        counts[start:start + m] = np.count_nonzero((G >= eps) & upper, axis=(1, 2))
    return counts


def measure_violation_count(rng, *, n: int, d: int, epsilon: float, trials: int = 4000, variant=None) -> Estimate:
    """Mean number of pairs ``i < j`` with ``|k_i^T k_j| >= epsilon`` among ``n`` i.i.d. uniform unit keys.

    One trial = one key set; the SE is over trials. Cost O(trials n^2 d).
    """
    check_variant(variant, set())
    return mean_estimate(_violation_counts(rng, n, d, epsilon, trials),
                         method="MC count of coherence violations per key set")


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


def measure_coherence_exponent(rng, *, d_min: int, d_max: int, epsilon: float, trials: int = 400,
                               variant=None) -> Estimate:
    """Fitted growth rate of the largest coherent set guaranteed by the first moment, against ``d``.

    At each ``d`` on the grid ``d_min, d_min + step, ..., d_max`` (4 points) the pair violation
    probability ``p_d = P(|k_i^T k_j| >= epsilon)`` is estimated from ``trials`` key sets of ``m``
    vectors (all ``m (m - 1) / 2`` pairs counted; the trial is the unit of the SE); the largest
    ``n`` with ``n (n - 1) / 2 p_d < 1`` is ``n*(d) = (1 + sqrt(1 + 8 / p_d)) / 2``. The estimate
    is the OLS slope of ``log n*`` on ``d`` with a delta-method SE.
    """
    check_variant(variant, set())
    dims = np.linspace(d_min, d_max, 4).round().astype(int)
    logs, log_ses = [], []
    m = 96
    pairs = m * (m - 1) / 2
    for d in dims:
        est = measure_violation_count(rng, n=m, d=int(d), epsilon=epsilon, trials=trials)
        p, p_se = est.estimate / pairs, est.standard_error / pairs
        if p <= 0:
            return Estimate(math.nan, math.nan, trials, None, "no violation observed: p_d not resolvable")
        root = math.sqrt(1 + 8 / p)
        n_star = (1 + root) / 2
        logs.append(math.log(n_star))
        log_ses.append((2 / (p**2 * root)) * p_se / n_star)  # |d log n* / d p| * SE(p)
    x = dims.astype(float)
    w = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    return Estimate(float(w @ np.asarray(logs)), float(np.sqrt(np.sum(w**2 * np.asarray(log_ses) ** 2))),
                    trials * len(dims), None, "OLS slope of log n*(d) from MC violation rates")


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
        worst = max(worst, float(np.max(np.abs(states[s] - np.eye(n)[:, arrangement]))))
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


def measure_monotone_under_repetition(rng, *, d: int, T: int, variant=None) -> Estimate:
    """Sign changes of ``o_{t+1} - o_t`` for one DeltaNet layer fed the same token ``T`` times.

    ``S_t = S_{t-1}(I - beta k k^T) + beta v k^T``, ``o_t = S_t q``, with a random unit ``k``,
    Gaussian ``S_0`` (``d x d``), ``v``, ``q`` and ``beta ~ U[0, 1]``. Differences below
    ``1e-9`` times the scale are float noise and skipped. The estimate is the largest count of
    sign changes over the output coordinates (0: every coordinate is monotone in ``t``). Variant
    ``"negative_eigenvalue"`` draws ``beta ~ U[1.5, 2]``.
    """
    check_variant(variant, {"negative_eigenvalue"})
    k = unit_rows(rng.standard_normal((1, d)))[0]
    S = rng.standard_normal((d, d))
    v, q = rng.standard_normal(d), rng.standard_normal(d)
    beta = rng.uniform(1.5, 2.0) if variant == "negative_eigenvalue" else rng.uniform(0.0, 1.0)
    outs = np.empty((T + 1, d))
    outs[0] = S @ q
    for t in range(1, T + 1):
        S = S - beta * np.outer(S @ k - v, k)
        outs[t] = S @ q
    diffs = np.diff(outs, axis=0)
    scale = 1e-9 * max(1.0, float(np.max(np.abs(outs))))
    changes = 0
    for col in diffs.T:
        signs = np.sign(col[np.abs(col) > scale])
        changes = max(changes, int(np.count_nonzero(signs[1:] != signs[:-1])))
    return exact_value(float(changes), method="sign changes of successive read-out differences", beta=float(beta))


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


def measure_reachability(rng, *, n: int, edge_prob: float, variant=None) -> Estimate:
    """Mismatches of the u-recursion's ``(I - A)^{-1}`` against path counts and DFS reachability.

    Counts entries where ``U`` differs from ``sum_{k<n} A^k`` (integer matrix powers), plus entries
    where ``U > 0`` disagrees with depth-first reachability. 0 when the claim holds.
    """
    check_variant(variant, {"one_hop", "alternating"})
    A = random_dag(rng, n, edge_prob)
    U = path_count_matrix(A, variant=variant)
    Ai = A.astype(np.int64)
    power, total = np.eye(n, dtype=np.int64), np.zeros((n, n), dtype=np.int64)
    for _ in range(n):
        total += power
        power = power @ Ai
    mismatches = np.count_nonzero(U != total) + np.count_nonzero((U > 0) != reachability_closure(A))
    return exact_value(float(mismatches), method="u-recursion vs matrix-power path counts and DFS",
                       edges=float(A.sum()))


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
