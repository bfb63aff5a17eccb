"""Monte Carlo of the linear associative memory ``S = sum_i v_i k_i^T`` (Eq. 1, 4, 7).

Shapes: keys ``K`` are ``(N, d_k)`` (one key per row), values ``V`` are ``(N, d_v)``, the
memory ``S = V^T K`` is ``(d_v, d_k)``, and retrieving queries ``Q`` (``(m, d_k)``) returns
``Q S^T`` (``(m, d_v)``). No routine here builds an ``N x N`` Gram matrix: each trial costs
O(N d) memory, and O(N d_k d_v) time where all N pairs are retrieved.

Every ``measure_*`` function takes a ``numpy.random.Generator`` and keyword parameters. The identity
measures return a :class:`numerics.estimate.Estimate`; the retrieval-SNR measures are
:class:`numerics.estimate.MonteCarlo` batch simulators (calling one runs a single batch and returns
an ``Estimate``), whose reductions are derived in the comment block above them. A ``variant``
argument, where present, selects a deliberately wrong route used as a negative control; ``None`` is
the correct computation.
"""

from __future__ import annotations

import numpy as np

from numerics.estimate import (Estimate, check_variant, check_variants, exact_value, largest, mean_estimate,
                               monte_carlo, ols_slope, per_variant, ratio_of_means, rows)

__all__ = [
    "BLOCK_NUMBERS",
    "CAPACITY_D_V",
    "LIMIT_SCALES",
    "ROUTES",
    "accumulate_memory",
    "build_memory",
    "doubling_grid",
    "harmonic_frame",
    "lagrange_weights_at_zero",
    "measure_capacity_exponent",
    "measure_crosstalk_decomposition",
    "measure_inverse_snr_conditional",
    "measure_inverse_snr_mean",
    "measure_inverse_snr_ratio",
    "measure_inverse_snr_ratio_limit",
    "measure_inverse_snr_sphere",
    "measure_memory_accumulation",
    "measure_noise_floor",
    "measure_orthonormal_retrieval",
    "retrieve",
    "unit_rows",
]


def build_memory(K: np.ndarray, V: np.ndarray) -> np.ndarray:
    """The memory ``S = sum_i v_i k_i^T = V^T K`` of shape ``(d_v, d_k)``."""
    return V.T @ K


def accumulate_memory(K: np.ndarray, V: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """Token-by-token Eq. (1): ``S_t = S_{t-1} + v_t k_t^T`` (reference loop, O(N d_k d_v)).

    ``overwrite=True`` is the wrong rule ``S_t = v_t k_t^T`` (a negative control).
    """
    S = np.zeros((V.shape[1], K.shape[1]))
    for k, v in zip(K, V):
        S = np.outer(v, k) if overwrite else S + np.outer(v, k)
    return S


def retrieve(S: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Read-out ``o = S q`` for every row ``q`` of ``Q``; returns ``(m, d_v)``."""
    return Q @ S.T


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` scaled to unit Euclidean norm (Gaussian rows become uniform on the sphere)."""
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _max_relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(b))), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def measure_memory_accumulation(rng, *, N: int, d_k: int, d_v: int, variant=None) -> Estimate:
    """Max relative gap between ``S_N q`` (memory built by the Eq. (1) loop) and ``sum_i v_i (k_i^T q)``.

    The second route never forms ``S``. Exact in exact arithmetic, so the estimate is float error.
    Variant ``"overwrite"`` builds ``S_t = v_t k_t^T`` instead.
    """
    check_variant(variant, {"overwrite"})
    K = rng.standard_normal((N, d_k))
    V = rng.standard_normal((N, d_v))
    Q = rng.standard_normal((4, d_k))
    S = accumulate_memory(K, V, overwrite=variant == "overwrite")
    direct = (Q @ K.T) @ V  # (4, N) scores then values: sum_i (k_i^T q) v_i
    return exact_value(_max_relative_error(retrieve(S, Q), direct), method="loop memory vs direct sum, float64")


def measure_crosstalk_decomposition(rng, *, N: int, d_k: int, d_v: int, variant=None) -> Estimate:
    """Max relative gap between ``S k_i`` and ``v_i ||k_i||^2 + sum_{j != i} v_j (k_j^T k_i)`` over all i.

    The decomposition is computed per query from inner products (O(N d) per query); ``S k_i`` through
    the memory. Variant ``"unit_signal"`` drops the ``||k_i||^2`` factor of the signal.
    """
    check_variant(variant, {"unit_signal"})
    K = rng.standard_normal((N, d_k))
    V = rng.standard_normal((N, d_v))
    through_memory = retrieve(build_memory(K, V), K)
    worst = 0.0
    for i in range(N):
        scores = K @ K[i]
        signal_scale = 1.0 if variant == "unit_signal" else scores[i]
        scores[i] = 0.0
        decomposed = V[i] * signal_scale + scores @ V
        worst = largest([worst, _max_relative_error(through_memory[i], decomposed)])
    return exact_value(worst, method="memory read-out vs signal + crosstalk, float64")


def measure_orthonormal_retrieval(rng, *, N: int, d_k: int, d_v: int, variant=None) -> Estimate:
    """Max over i of ``||S k_i - v_i|| / ||v_i||`` for N random orthonormal keys (N <= d_k).

    Variants: ``"scaled_keys"`` uses orthogonal keys of norm 2; ``"extra_key"`` stores one more
    random unit key than the orthonormal set (N + 1 keys, so N + 1 > d_k when N = d_k).
    """
    check_variant(variant, {"scaled_keys", "extra_key"})
    if N > d_k:
        raise ValueError(f"orthonormal keys need N <= d_k, got N={N!r}, d_k={d_k!r}")
    Qmat, _ = np.linalg.qr(rng.standard_normal((d_k, N)))
    K = Qmat.T.copy()
    if variant == "scaled_keys":
        K *= 2.0
    if variant == "extra_key":
        K = np.vstack([K, unit_rows(rng.standard_normal((1, d_k)))])
    V = rng.standard_normal((K.shape[0], d_v))
    residual = retrieve(build_memory(K, V), K) - V
    worst = float(np.max(np.linalg.norm(residual, axis=1) / np.linalg.norm(V, axis=1)))
    return exact_value(worst, method="QR orthonormal keys, float64")


def harmonic_frame(N: int, d: int) -> np.ndarray:
    """A real unit-norm tight frame of N > d vectors in R^d (rows), from DFT rows.

    Rows ``j`` hold ``sqrt(2/d) (cos(2 pi j m / N), sin(2 pi j m / N))`` for frequencies
    ``m = 1..floor(d/2)``, plus ``1/sqrt(d)`` when ``d`` is odd; ``K^T K = (N/d) I``.
    """
    if N <= d:
        raise ValueError(f"a harmonic frame needs N > d, got N={N!r}, d={d!r}")
    j = np.arange(N)[:, None]
    m = np.arange(1, d // 2 + 1)[None, :]
    angle = 2.0 * np.pi * j * m / N
    cols = [np.sqrt(2.0 / d) * np.cos(angle), np.sqrt(2.0 / d) * np.sin(angle)]
    if d % 2:
        cols.append(np.full((N, 1), 1.0 / np.sqrt(d)))
    return np.hstack(cols)


def _noise_energy_orthonormal_values(K: np.ndarray) -> float:
    """Total retrieval noise ``sum_i ||S k_i - ||k_i||^2 v_i||^2`` with values ``v_j = e_j``."""
    N = K.shape[0]
    V = np.eye(N)
    out = retrieve(build_memory(K, V), K)  # (N, N) read-outs; d_v = N here by construction
    out[np.arange(N), np.arange(N)] -= np.einsum("ij,ij->i", K, K)
    return float(np.sum(out**2))


def measure_noise_floor(rng, *, N: int, d_k: int, trials: int = 64) -> Estimate:
    """Least total retrieval noise over unit-key sets: min over ``trials`` random sets and a tight frame.

    Values are orthonormal (``d_v = N``), keys unit norm, ``N > d_k``. The estimate is the minimum
    found; ``diagnostics`` records the tight frame's energy and the best random set's.
    """
    if N <= d_k:
        raise ValueError(f"the noise floor is about N > d_k, got N={N!r}, d_k={d_k!r}")
    tight = _noise_energy_orthonormal_values(harmonic_frame(N, d_k))
    # np.min, not min: a NaN energy anywhere makes the estimate NaN (an error), never a smaller floor
    random_best = float(np.min([
        _noise_energy_orthonormal_values(unit_rows(rng.standard_normal((N, d_k)))) for _ in range(trials)
    ]))
    return Estimate(float(np.min([tight, random_best])), 0.0, trials + 1, None,
                    "min over random unit keys and a harmonic tight frame",
                    {"tight_frame": tight, "best_random": random_best})


# --- retrieval SNR by Monte Carlo ----------------------------------------------------------------
#
# Every measure below is a :class:`numerics.estimate.MonteCarlo` with two routes. The ``"reduced"``
# route (the default, used by the ledger) simulates only what the estimand needs, by three exact
# reductions; the ``"memory"`` route stores N pairs, builds ``S = V^T K`` and reads the stored key out
# through it, drawing every key and value. Both estimate the same number; tests check that they agree
# at small points, so the reductions are checked too.
#
# (R1) Values integrate out. Given the keys, the crosstalk ``r = sum_{j != i} v_j s_j`` with
#      ``s_j = k_j^T k_i`` and ``v_j ~ N(0, I_{d_v})`` independent of everything else, so
#      ``E_V ||r||^2 = d_v sum_j s_j^2``; likewise ``E_{v_i}[c^2 ||v_i||^2] = c^2 d_v``.
# (R2) Scores given the query. For ``k_j ~ N(0, I_{d_k})`` independent of ``k_i`` the scores are
#      i.i.d. ``N(0, ||k_i||^2)`` given ``k_i`` (rotation invariance), so ``sum_j s_j^2 = ||k_i||^2
#      sum_j z_j^2`` with ``z_j`` i.i.d. ``N(0, 1)``: ``N - 1`` normals per trial instead of
#      ``(N - 1)(d_k + d_v)``.
# (R3) Unit keys. For ``k_j`` uniform on the sphere and any unit ``k_i``, ``s_j`` has the law of
#      ``g_1 / ||g||``, ``g ~ N(0, I_{d_k})``: ``z / sqrt(z^2 + X)``, ``z ~ N(0, 1)``, ``X ~ chi^2(d_k - 1)``.

ROUTES = ("reduced", "memory")
BLOCK_NUMBERS = 2**20  # random numbers drawn at once: a batch's working set stays near 8 MB per array


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected one of {list(ROUTES)!r}")


def _sum_of_squares(rng, trials: int, m: int) -> np.ndarray:
    """Per trial, the sum of ``m`` squared independent standard normals (drawn in row blocks)."""
    out = np.zeros(trials)
    if m == 0:
        return out
    rows_per_block = max(1, BLOCK_NUMBERS // m)
    for start in range(0, trials, rows_per_block):
        z = rng.standard_normal((min(rows_per_block, trials - start), m))
        out[start:start + z.shape[0]] = np.einsum("ij,ij->i", z, z)
    return out


def _unit_key_scores_squared(rng, trials: int, m: int, d_k: int) -> np.ndarray:
    """Per trial, ``sum_j s_j^2`` over ``m`` keys uniform on ``S^{d_k - 1}`` against a fixed unit key (R3)."""
    out = np.zeros(trials)
    if m == 0:
        return out
    rows_per_block = max(1, BLOCK_NUMBERS // m)
    for start in range(0, trials, rows_per_block):
        n = min(rows_per_block, trials - start)
        z2 = rng.standard_normal((n, m)) ** 2
        rest = rng.chisquare(d_k - 1, (n, m)) if d_k > 1 else 0.0  # d_k = 1: s_j = +-1
        out[start:start + n] = np.sum(z2 / (z2 + rest), axis=1)
    return out


def _crosstalk_through_memory(K: np.ndarray, V: np.ndarray, i: int) -> tuple[np.ndarray, float]:
    """Query stored key ``i`` through ``S = V^T K``: the crosstalk ``r = S k_i - c v_i`` and ``c = ||k_i||^2``."""
    c = float(K[i] @ K[i])
    return retrieve(build_memory(K, V), K[i:i + 1])[0] - c * V[i], c


def _mean_reducer(methods: dict):
    """Reducer: the mean of column ``y``, with the method text of the route that produced it."""
    def reduce(columns, *, route: str = "reduced", **_) -> Estimate:
        return mean_estimate(columns["y"], method=methods[route])
    return reduce


def _ratio_reducer(methods: dict):
    """Reducer: the ratio of the means of ``noise`` and ``signal`` (delta-method SE), named by route."""
    def reduce(columns, *, route: str = "reduced", **_) -> Estimate:
        return ratio_of_means(columns["noise"], columns["signal"], method=methods[route])
    return reduce


@monte_carlo(_mean_reducer({
    "reduced": "conditional MC: scores ~ N(0, ||k_i||^2) given k_i (R2), values integrated exactly (R1)",
    "memory": "conditional MC through the memory S = V^T K, keys and values drawn"}))
def measure_inverse_snr_conditional(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                                    trials: int = 400, route: str = "reduced") -> dict:
    """SNR^{-1} given the stored pair: ``E_{k_j, v_j} ||r||^2 / (c^2 ||v_i||^2)`` with ``c = ||k_i||^2 = key_norm2``
    and ``||v_i||^2 = value_norm2``; ``k_j ~ N(0, I_{d_k})``, ``v_j ~ N(0, I_{d_v})`` for the ``N - 1`` other pairs.

    Column ``y``, one value per trial (fresh other pairs). Reduced route: ``y = d_v ||k_i||^2 sum_j z_j^2 /
    (c^2 ||v_i||^2)`` (R1, R2). Memory route: ``y = ||r||^2 / (c^2 ||v_i||^2)`` with the stored pair fixed at
    the given norms (random directions) and every other key and value drawn.
    """
    _check_route(route)
    if route == "reduced":
        scores2 = key_norm2 * _sum_of_squares(rng, trials, N - 1)
        return {"y": d_v * scores2 / (key_norm2**2 * value_norm2)}
    y = np.empty(trials)
    for t in range(trials):
        K = rng.standard_normal((N, d_k))
        V = rng.standard_normal((N, d_v))
        K[0] = unit_rows(K[:1])[0] * np.sqrt(key_norm2)
        V[0] = unit_rows(V[:1])[0] * np.sqrt(value_norm2)
        r, c = _crosstalk_through_memory(K, V, 0)
        y[t] = float(r @ r) / (c**2 * float(V[0] @ V[0]))
    return {"y": y}


@monte_carlo(_mean_reducer({
    "reduced": "MC over (k_i, v_i): scores ~ N(0, ||k_i||^2) given k_i (R2), values integrated exactly (R1)",
    "memory": "MC over (k_i, v_i) through the memory S = V^T K, keys and values drawn"}))
def measure_inverse_snr_mean(rng, *, N: int, d_k: int, d_v: int, trials: int = 2000,
                             route: str = "reduced") -> dict:
    """Mean over Gaussian ``(k_i, v_i)`` of the conditional SNR^{-1}: per trial ``||r||^2 / (c^2 ||v_i||^2)``.

    Column ``y``. Reduced route: ``||k_i||^2`` and ``||v_i||^2`` as sums of ``d_k`` and ``d_v`` squared normals,
    ``y = d_v ||k_i||^2 sum_j z_j^2 / (||k_i||^4 ||v_i||^2)`` (R1, R2). Memory route: every key and value drawn.
    The variance of ``y`` is finite only for ``d_k, d_v > 4`` (``E chi^{-4}``), hence the claim's domain.
    """
    _check_route(route)
    if route == "reduced":
        kk = _sum_of_squares(rng, trials, d_k)
        vv = _sum_of_squares(rng, trials, d_v)
        scores2 = kk * _sum_of_squares(rng, trials, N - 1)
        return {"y": d_v * scores2 / (kk**2 * vv)}
    y = np.empty(trials)
    for t in range(trials):
        K = rng.standard_normal((N, d_k))
        V = rng.standard_normal((N, d_v))
        r, c = _crosstalk_through_memory(K, V, 0)
        y[t] = float(r @ r) / (c**2 * float(V[0] @ V[0]))
    return {"y": y}


def _ratio_through_memory(rng, trials: int, N: int, d_k: int, d_v: int, unit_keys: bool) -> dict:
    """Per trial: store N pairs, query every stored key through ``S``; mean ``||r_i||^2`` and ``c_i^2 ||v_i||^2``."""
    noise = np.empty(trials)
    signal = np.empty(trials)
    for t in range(trials):
        K = rng.standard_normal((N, d_k))
        if unit_keys:
            K = unit_rows(K)
        V = rng.standard_normal((N, d_v))
        out = retrieve(build_memory(K, V), K)  # (N, d_v): every stored key queried
        c = np.einsum("ij,ij->i", K, K)
        r = out - c[:, None] * V
        noise[t] = float(np.mean(np.einsum("ij,ij->i", r, r)))
        signal[t] = float(np.mean(c**2 * np.einsum("ij,ij->i", V, V)))
    return {"noise": noise, "signal": signal}


def _ratio_reduced(rng, trials: int, N: int, d_k: int, d_v: int, scales=(1,)) -> dict:
    """Reduced ratio-estimand trials (one Gaussian query each, by R1 and R2) at every size ``(s N, s d_k)``.

    Per trial and size: ``noise_s = E_V ||r||^2 = d_v ||k_i||^2 sum_j z_j^2`` over the ``s N - 1`` other
    pairs and ``signal_s = E_V c^2 ||v_i||^2 = d_v ||k_i||^4``, ``||k_i||^2`` the sum of ``s d_k`` squared
    normals. With several sizes, one trial draws the largest size once and size ``s`` uses the first
    ``s d_k`` key coordinates and the first ``s N - 1`` normals: each size keeps its own law (a prefix of
    i.i.d. normals is i.i.d.), and the sizes become positively correlated (common random numbers),
    which the alternating extrapolation weights of :func:`measure_inverse_snr_ratio_limit` exploit.
    """
    s_max = max(scales)
    out = {f"{name}_{s}": np.empty(trials) for name in ("noise", "signal") for s in scales}
    rows_per_block = max(1, BLOCK_NUMBERS // (s_max * (d_k + N)))
    for start in range(0, trials, rows_per_block):
        n = min(rows_per_block, trials - start)
        key = _nested_sums_of_squares(rng.standard_normal((n, s_max * d_k)), [s * d_k for s in scales])
        others = _nested_sums_of_squares(rng.standard_normal((n, s_max * N - 1)), [s * N - 1 for s in scales])
        for kk, z2, s in zip(key, others, scales):
            out[f"noise_{s}"][start:start + n] = d_v * kk * z2
            out[f"signal_{s}"][start:start + n] = d_v * kk**2
    return out


def _nested_sums_of_squares(z: np.ndarray, ends) -> list[np.ndarray]:
    """Per row, ``sum_{c < e} z_c^2`` for each ``e`` in the increasing ``ends`` (prefix sums at those columns)."""
    sums, total, begin = [], np.zeros(z.shape[0]), 0
    for end in ends:
        total = total + np.einsum("ij,ij->i", z[:, begin:end], z[:, begin:end])
        sums.append(total)
        begin = end
    return sums


@monte_carlo(_ratio_reducer({
    "reduced": "ratio of means over queries: scores ~ N(0, ||k_i||^2) (R2), values integrated (R1); delta method",
    "memory": "ratio of means, every stored key read out through S = V^T K; delta method"}))
def measure_inverse_snr_ratio(rng, *, N: int, d_k: int, d_v: int, trials: int = 200, route: str = "reduced") -> dict:
    """Ratio of expectations ``E||r||^2 / E[c^2 ||v_i||^2]``, ``c = ||k_i||^2``, Gaussian keys and values.

    Columns ``noise`` and ``signal`` per trial; the estimate is the ratio of their means with a
    delta-method SE (the trial is the independent unit). Reduced route: one query per trial, reduced by
    (R1, R2). Memory route: each trial stores N fresh pairs and queries every stored key through the
    memory (``K S^T``), contributing the means over ``i`` of ``||r_i||^2`` and ``c_i^2 ||v_i||^2``.
    """
    _check_route(route)
    if route == "reduced":
        cols = _ratio_reduced(rng, trials, N, d_k, d_v)
        return {"noise": cols["noise_1"], "signal": cols["signal_1"]}
    return _ratio_through_memory(rng, trials, N, d_k, d_v, unit_keys=False)


@monte_carlo(_ratio_reducer({
    "reduced": "ratio of means, unit keys: scores z / sqrt(z^2 + chi^2(d_k - 1)) (R3), values integrated (R1)",
    "memory": "ratio of means, unit keys read out through S = V^T K; delta method"}))
def measure_inverse_snr_sphere(rng, *, N: int, d_k: int, d_v: int, trials: int = 200, route: str = "reduced") -> dict:
    """As :func:`measure_inverse_snr_ratio` with keys uniform on the unit sphere (so ``c = 1``).

    Reduced route: ``noise = d_v sum_j s_j^2`` with ``s_j`` drawn by (R3), ``signal = d_v`` (R1; ``c = 1``).
    """
    _check_route(route)
    if route == "reduced":
        scores2 = _unit_key_scores_squared(rng, trials, N - 1, d_k)
        return {"noise": d_v * scores2, "signal": np.full(trials, float(d_v))}
    return _ratio_through_memory(rng, trials, N, d_k, d_v, unit_keys=True)


# --- the paper's limit, approached from finite sizes ---------------------------------------------

LIMIT_SCALES = (1, 2, 4)  # the sizes (s N, s d_k) of one extrapolation


def lagrange_weights_at_zero(x) -> np.ndarray:
    """Weights ``w`` with ``P(0) = sum_s w_s y_s`` for the polynomial ``P`` through the points ``(x_s, y_s)``.

    >>> lagrange_weights_at_zero([1.0, 0.5, 0.25]).round(12).tolist()
    [0.333333333333, -2.0, 2.666666666667]
    """
    x = np.asarray(x, dtype=float)
    if len(set(x.tolist())) != x.size:
        raise ValueError(f"interpolation nodes must be distinct, got {x.tolist()!r}")
    others = [np.delete(x, s) for s in range(x.size)]
    return np.array([np.prod(o / (o - x[s])) for s, o in enumerate(others)])


def _extrapolated_ratio(columns, *, d_k: int, route: str = "reduced", variant=None, **_) -> Estimate:
    """Quadratic extrapolation to ``1/d_k -> 0`` of the three ratio-of-means estimates, with a joint delta-method SE.

    The estimate ``L = sum_s w_s A_s / B_s`` (``A_s``, ``B_s`` column means at scale ``s``) has the per-trial
    influence ``sum_s w_s (a_s - R_s b_s) / B_s``; its sample standard deviation over ``sqrt(n)`` is the SE.
    Variant ``"largest_size"`` reads the limit off the largest size instead (weights 0, 0, 1): the slip
    of not extrapolating, on the same draws.
    """
    x = 1.0 / (np.asarray(LIMIT_SCALES, dtype=float) * d_k)
    weights = lagrange_weights_at_zero(x)
    if variant == "largest_size":
        weights = (x == x.min()).astype(float)
    n = rows(columns)
    value, influence, at_scale = 0.0, np.zeros(n), {}
    for s, w in zip(LIMIT_SCALES, weights):
        a, b = columns[f"noise_{s}"], columns[f"signal_{s}"]
        ratio = a.mean() / b.mean()
        value += w * ratio
        influence += w * (a - ratio * b) / b.mean()
        at_scale[f"ratio_at_scale_{s}"] = float(ratio)
    se = float(np.std(influence, ddof=1) / np.sqrt(n))
    method = f"ratio of means at (sN, s d_k), s = {LIMIT_SCALES}, extrapolated quadratically in 1/d_k ({route} route)"
    return Estimate(float(value), se, int(n), None, method, at_scale)


@monte_carlo(_extrapolated_ratio, shared_variants={"largest_size"})
def measure_inverse_snr_ratio_limit(rng, *, N: int, d_k: int, d_v: int = 4, trials: int = 200,
                                    route: str = "reduced", variant=None) -> dict:
    """The ratio estimand along the ray ``N / d_k`` fixed, extrapolated to ``d_k -> oo``.

    Per trial, the ratio estimand's noise and signal at ``(s N, s d_k)`` for ``s`` in :data:`LIMIT_SCALES`
    (columns ``noise_s``, ``signal_s``): reduced route by (R1, R2) with the sizes coupled as nested
    prefixes (:func:`_ratio_reduced`); memory route by :func:`measure_inverse_snr_ratio`'s memory
    read-out, independently at each size. The reducer extrapolates the three ratios to ``x = 1/d_k = 0``
    through the quadratic in ``x`` (Lagrange weights 1/3, -2, 8/3): a finite-size value
    ``R_0 + R_1 x + R_2 x^2 + O(x^3)`` leaves an ``O(x^3)`` bias. ``d_v`` only matters to the memory route.
    Variant ``"largest_size"`` (read the limit off ``(4N, 4 d_k)``) changes only the reducer, so a group of
    routes gets the same columns.
    """
    _check_route(route)
    group = check_variants(variant, {"largest_size"})
    if route == "reduced":
        return per_variant(variant, [_ratio_reduced(rng, trials, N, d_k, d_v, LIMIT_SCALES)] * len(group))
    out = {}
    for s in LIMIT_SCALES:
        cols = measure_inverse_snr_ratio.simulate(rng, N=s * N, d_k=s * d_k, d_v=d_v, trials=trials, route=route)
        out[f"noise_{s}"], out[f"signal_{s}"] = cols["noise"], cols["signal"]
    return per_variant(variant, [out] * len(group))


# --- capacity against d_k --------------------------------------------------------------------------

CAPACITY_D_V = 8  # value dimension of the typical pair whose capacity is measured (it cancels)


def doubling_grid(d_min: int, d_max: int) -> list[int]:
    """``d_min, 2 d_min, 4 d_min, ...`` up to ``d_max``; at least three dimensions."""
    dims = [int(d_min)]
    while dims[-1] * 2 <= d_max:
        dims.append(dims[-1] * 2)
    if len(dims) < 3:
        raise ValueError(f"need at least 3 dimensions in [d_min, d_max], got {dims!r}")
    return dims


def _capacity_slope(columns, *, d_min: int, d_max: int, rho: float, route: str = "reduced", **_) -> Estimate:
    """OLS slope of ``log C`` on ``log d_k``, ``C = rho / g`` with ``g`` the mean crosstalk per interfering pair.

    At each ``d_k`` the column ``y_{d_k}`` holds conditional SNR^{-1} values with ``m = 2 d_k`` interfering
    pairs; ``g = mean(y) / m``. The SE of ``log C`` is ``SE(y) / mean(y)`` (delta method) and the
    dimensions are independent, so :func:`numerics.estimate.ols_slope` gives the slope's SE.
    """
    dims = doubling_grid(d_min, d_max)
    log_c, log_c_se, caps = [], [], {}
    for dk in dims:
        est = mean_estimate(columns[f"y_{dk}"], method="")
        per_pair = est.estimate / (2 * dk)
        log_c.append(np.log(rho / per_pair))
        log_c_se.append(est.standard_error / est.estimate)
        caps[f"capacity_{dk}"] = float(rho / per_pair)
    slope, se = ols_slope(np.log(np.asarray(dims, dtype=float)), log_c, log_c_se)
    return Estimate(slope, se, rows(columns), None,
                    f"OLS exponent of capacity rho/g over d_k = {dims}, g from conditional MC ({route} route)", caps)


@monte_carlo(_capacity_slope)
def measure_capacity_exponent(rng, *, d_min: int, d_max: int, rho: float, trials: int = 200,
                              route: str = "reduced") -> dict:
    """Fitted exponent of capacity against ``d_k`` over ``d_k = d_min, 2 d_min, ..., d_max``.

    Capacity is the number ``C`` of other pairs a typical stored pair (``||k_i||^2 = d_k``,
    ``||v_i||^2 = d_v = 8``) tolerates at target ``SNR^{-1} = rho``. Crosstalk is a sum of i.i.d.
    contributions of the other pairs, so ``E SNR^{-1}`` is ``m g`` for ``m`` interfering pairs, and
    ``C = rho / g``; ``g`` comes from :func:`measure_inverse_snr_conditional` at ``N = 2 d_k + 1``.
    Per trial one independent draw at every ``d_k`` (columns ``y_{d_k}``).
    """
    out = {}
    for dk in doubling_grid(d_min, d_max):
        cols = measure_inverse_snr_conditional.simulate(rng, N=2 * dk + 1, d_k=dk, d_v=CAPACITY_D_V,
                                                        key_norm2=float(dk), value_norm2=float(CAPACITY_D_V),
                                                        trials=trials, route=route)
        out[f"y_{dk}"] = cols["y"]
    return out
