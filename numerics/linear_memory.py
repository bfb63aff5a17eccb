"""Monte Carlo of the linear associative memory ``S = sum_i v_i k_i^T`` (Eq. 1, 4, 7).

Shapes: keys ``K`` are ``(N, d_k)`` (one key per row), values ``V`` are ``(N, d_v)``, the
memory ``S = V^T K`` is ``(d_v, d_k)``, and retrieving queries ``Q`` (``(m, d_k)``) returns
``Q S^T`` (``(m, d_v)``). No routine here builds an ``N x N`` Gram matrix: each trial costs
O(N d) memory, and O(N d_k d_v) time where all N pairs are retrieved.

Every ``measure_*`` function takes a ``numpy.random.Generator`` and keyword parameters and
returns a :class:`numerics.estimate.Estimate`. A ``variant`` argument, where present, selects a
deliberately wrong route used as a negative control; ``None`` is the correct computation.
"""

from __future__ import annotations

import numpy as np

from numerics.estimate import Estimate, check_variant, exact_value, mean_estimate, mean_of, monte_carlo, ratio_of_means

__all__ = [
    "accumulate_memory",
    "build_memory",
    "harmonic_frame",
    "measure_capacity_exponent",
    "measure_crosstalk_decomposition",
    "measure_inverse_snr_conditional",
    "measure_inverse_snr_mean",
    "measure_inverse_snr_ratio",
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
        worst = max(worst, _max_relative_error(through_memory[i], decomposed))
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
    random_best = min(
        _noise_energy_orthonormal_values(unit_rows(rng.standard_normal((N, d_k)))) for _ in range(trials)
    )
    return Estimate(min(tight, random_best), 0.0, trials + 1, None,
                    "min over random unit keys and a harmonic tight frame",
                    {"tight_frame": tight, "best_random": random_best})


@monte_carlo(mean_of("y", "conditional MC, values integrated exactly given keys"))
def measure_inverse_snr_conditional(rng, *, N: int, d_k: int, d_v: int, key_norm2: float,
                                    value_norm2: float, trials: int = 400) -> dict:
    """SNR^{-1} given a fixed stored pair with ``||k_i||^2 = key_norm2``, ``||v_i||^2 = value_norm2``.

    Each trial draws the other ``N - 1`` Gaussian keys afresh. The expectation over their values
    is done exactly: given the keys, ``E_V ||r||^2 = d_v sum_{j != i} (k_j^T k_i)^2``
    (Rao-Blackwellised; variance only from the keys).
    """
    k_i = unit_rows(rng.standard_normal((1, d_k)))[0] * np.sqrt(key_norm2)
    c2v2 = key_norm2**2 * value_norm2
    samples = np.empty(trials)
    for t in range(trials):
        scores = rng.standard_normal((N - 1, d_k)) @ k_i
        samples[t] = d_v * float(scores @ scores) / c2v2
    return {"y": samples}


def measure_inverse_snr_mean(rng, *, N: int, d_k: int, d_v: int, trials: int = 2000) -> Estimate:
    """Mean over Gaussian ``(k_i, v_i)`` of the conditional SNR^{-1} (finite variance needs d_k, d_v > 4).

    Each trial draws a fresh stored pair and fresh other keys; values of the other pairs are
    integrated exactly as in :func:`measure_inverse_snr_conditional`.
    """
    samples = np.empty(trials)
    for t in range(trials):
        k_i = rng.standard_normal(d_k)
        v_i = rng.standard_normal(d_v)
        kk = float(k_i @ k_i)
        scores = rng.standard_normal((N - 1, d_k)) @ k_i
        samples[t] = d_v * float(scores @ scores) / (kk**2 * float(v_i @ v_i))
    return mean_estimate(samples, method="MC over (k_i, v_i) and other keys, values integrated exactly")


def _ratio_trials(rng, N, d_k, d_v, trials, unit_keys):
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
    return noise, signal


def measure_inverse_snr_ratio(rng, *, N: int, d_k: int, d_v: int, trials: int = 200) -> Estimate:
    """Ratio of expectations ``E||r||^2 / E||c v_i||^2`` with Gaussian keys and values.

    Each trial stores N fresh pairs, retrieves every stored key through the memory
    (``K S^T``), and contributes the means of ``||r_i||^2`` and ``c_i^2 ||v_i||^2`` over i; the
    ratio of trial means gets a delta-method SE (the trial is the independent unit).
    """
    noise, signal = _ratio_trials(rng, N, d_k, d_v, trials, unit_keys=False)
    return ratio_of_means(noise, signal, method="memory read-out MC, ratio of means (delta method)")


def measure_inverse_snr_sphere(rng, *, N: int, d_k: int, d_v: int, trials: int = 200) -> Estimate:
    """As :func:`measure_inverse_snr_ratio` with keys uniform on the unit sphere (so c = 1)."""
    noise, signal = _ratio_trials(rng, N, d_k, d_v, trials, unit_keys=True)
    return ratio_of_means(noise, signal, method="memory read-out MC, unit keys, ratio of means")


def measure_capacity_exponent(rng, *, d_min: int, d_max: int, rho: float, trials: int = 200) -> Estimate:
    """Fitted exponent of capacity against ``d_k`` over ``d_k = d_min, 2 d_min, ..., d_max``.

    Capacity is the number of other pairs ``C = N - 1`` a typical stored pair tolerates at target
    ``SNR^{-1} = rho``. Crosstalk is a sum over the other pairs, so one conditional MC run at
    ``N = 2 d_k + 1`` (typical norms ``||k_i||^2 = d_k``, ``||v_i||^2 = d_v = 8``) gives the noise per
    pair ``g`` and ``C = rho / g``. The exponent is the OLS slope of ``log C`` on ``log d_k``; its SE
    propagates each point's SE (delta method; the points are independent).
    """
    dims = [int(d_min)]
    while dims[-1] * 2 <= d_max:
        dims.append(dims[-1] * 2)
    if len(dims) < 3:
        raise ValueError(f"need at least 3 dimensions in [d_min, d_max], got {dims!r}")
    logs, log_ses = [], []
    for dk in dims:
        n = 2 * dk + 1
        est = measure_inverse_snr_conditional(rng, N=n, d_k=dk, d_v=8, key_norm2=float(dk), value_norm2=8.0,
                                              trials=trials)
        g = est.estimate / (n - 1)
        logs.append(np.log(rho / g))
        log_ses.append(est.standard_error / est.estimate)  # SE of log(rho/g) by the delta method
    x = np.log(np.asarray(dims, dtype=float))
    weights = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    slope = float(weights @ np.asarray(logs))
    se = float(np.sqrt(np.sum(weights**2 * np.asarray(log_ses) ** 2)))
    return Estimate(slope, se, trials * len(dims), None, "OLS exponent of conditional-MC capacity over a d_k grid",
                    {"points": float(len(dims))})
