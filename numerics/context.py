"""Monte Carlo for the context-length question: additive memories against converging ones.

Streams of T i.i.d. pairs. Shapes: keys ``K`` ``(T, d_k)``, values ``V`` ``(T, d_v)``, memory ``S``
``(d_v, d_k)``. Key model for the converging memories: ``k ~ N(0, s^2 I)`` (``s^2 = key_scale2``),
values ``v = S_0 k + sigma eps`` with ``S_0`` entries ``N(0, 1/d_k)`` drawn per trial and
``eps ~ N(0, I_{d_v})`` (``sigma^2 = noise2``): ``v`` depends on ``k``, and the population least-squares
memory is ``S* = E[v k^T] E[k k^T]^{-1} = S_0``, while the Hebbian average ``E[v k^T] = s^2 S_0``.

Every statistical numeric side is a :class:`numerics.estimate.MonteCarlo`: it returns per-trial
columns, trials are independent and SEs are over trials. Inside one call the trials run side by
side in chunks of at most :data:`CHUNK_NUMBERS` numbers per array, so a worker's working set stays
bounded (tens of MB) whatever ``trials`` and ``T`` are. Where a function simulates a reduced form
(an expectation taken analytically given the keys, or a score drawn from its exact law) its
docstring derives the reduction, and a direct matrix-level route (``*_direct``) is kept beside it
for the tests that check the two agree.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from numerics.estimate import (Estimate, check_variant, check_variants, exact_value, mean_estimate, mean_of,
                               monte_carlo, per_variant, ratio_of, ratio_of_means, weighted_mean_of)

__all__ = [
    "CHUNK_NUMBERS",
    "delta_pair_recall_direct",
    "delta_self_influence",
    "delta_step",
    "delta_stream",
    "exp_inverse_snr_direct",
    "exp_tilt",
    "extrapolation_sizes",
    "extrapolation_weights",
    "least_squares_error_direct",
    "linear_snr_direct",
    "measure_delta_mean_memory",
    "measure_delta_pair_recall",
    "measure_delta_mean_square_error",
    "measure_delta_self_influence",
    "measure_exp_inverse_snr",
    "measure_hebbian_regression_distance",
    "measure_least_squares_error",
    "measure_least_squares_pair_recall",
    "measure_least_squares_self_influence",
    "measure_linear_snr",
    "measure_linear_snr_limit",
    "measure_softmax_regression",
    "regression_stream",
    "softmax_regression_direct",
    "wishart_bartlett",
]

CHUNK_NUMBERS = 2**20  # numbers per array of one chunk of side-by-side trials: bounds the working set


def _chunks(trials: int, per_trial: int):
    """Sizes of the chunks of side-by-side trials, each holding at most ``CHUNK_NUMBERS / per_trial`` trials."""
    step = max(1, CHUNK_NUMBERS // max(1, per_trial))
    return [min(step, trials - start) for start in range(0, trials, step)]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --- additive linear memory: the SNR of one stored pair after T pairs ----------------------------

def _linear_snr_trials(rng, T: int, d_k: int, trials: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial ``(signal, noise)`` of the linear memory holding T Gaussian pairs, queried at ``q = k_i``.

    Reduction (values and the other keys' directions integrated exactly): the read-out is
    ``S k_i = ||k_i||^2 v_i + r``, ``r = sum_{j != i} v_j (k_j^T k_i)``. Given the keys,
    ``E_V ||c v_i||^2 = d_v ||k_i||^4`` and ``E_V ||r||^2 = d_v sum_{j != i} (k_j^T k_i)^2``; given ``k_i``
    the scores ``k_j^T k_i`` are i.i.d. ``N(0, ||k_i||^2)``, so the sum is ``||k_i||^2 chi^2_{T-1}``. A
    trial draws ``k_i`` (``d_k`` normals) and one ``chi^2_{T-1}``; the common factor ``d_v`` is dropped.
    """
    signal, noise = np.empty(trials), np.empty(trials)
    start = 0
    for n in _chunks(trials, d_k):
        a = np.sum(rng.standard_normal((n, d_k)) ** 2, axis=1)  # ||k_i||^2
        crosstalk = rng.chisquare(T - 1, size=n)  # sum_{j != i} (k_j^T k_i)^2 / ||k_i||^2
        signal[start:start + n] = a * a
        noise[start:start + n] = a * crosstalk
        start += n
    return signal, noise


@monte_carlo(ratio_of("signal", "noise", "ratio of means E||c v_i||^2 / E||r||^2 (delta method); values and "
                                         "score directions integrated exactly, crosstalk ||k_i||^2 chi^2_{T-1}"))
def measure_linear_snr(rng, *, T: int, d_k: int, d_v: int, trials: int = 4000) -> dict:
    """SNR of one stored pair of the additive linear memory after T pairs: ``E||c v_i||^2 / E||r||^2``.

    Keys ``k ~ N(0, I_{d_k})``, values ``v ~ N(0, I_{d_v})``, ``c = ||k_i||^2``; per-trial columns
    ``signal`` and ``noise`` as derived in :func:`_linear_snr_trials` (``d_v`` cancels). The reducer is
    the ratio of their means with a delta-method SE.
    """
    _require(T >= 2, f"T={T!r} must be at least 2 (one other pair)")
    signal, noise = _linear_snr_trials(rng, T, d_k, trials)
    return {"signal": signal, "noise": noise}


def extrapolation_sizes(T: int) -> tuple[int, int, int]:
    """The context lengths ``(T // 4, T // 2, T)`` from which ``T * SNR`` is extrapolated to ``T -> oo``."""
    _require(T >= 12, f"T={T!r} must be at least 12 so that the smallest size T // 4 holds 2 other pairs")
    return (T // 4, T // 2, T)


def extrapolation_weights(x) -> np.ndarray:
    """Weights ``w`` with ``sum_m w_m y_m`` the value at ``x = 0`` of the polynomial through the points ``(x_m, y_m)``.

    Lagrange's basis at 0, ``w_m = prod_{l != m} x_l / (x_l - x_m)``: with M points the extrapolation
    is exact for polynomials of degree ``M - 1`` (Richardson extrapolation).

    >>> extrapolation_weights([1.0, 2.0, 4.0]).round(12).tolist()
    [2.666666666667, -2.0, 0.333333333333]
    """
    x = np.asarray(x, dtype=float)
    return np.array([np.prod([x[l] / (x[l] - x[m]) for l in range(x.size) if l != m]) for m in range(x.size)])


def _reduce_linear_snr_limit(columns, *, T: int, variant=None, **_) -> Estimate:
    """Extrapolate ``y(T_m) = T_m SNR(T_m)`` to ``1/T = 0`` through a quadratic in ``1/T_m`` (three sizes).

    ``y(T_m) = T_m mean(signal) / mean(noise_m)``; the three sizes share each trial's stream, so the SE
    of ``sum_m w_m y(T_m)`` is the delta method's with the full covariance of the four column means.
    Variant ``"largest_size"`` reads the limit off the largest size, ``y(T)``, without extrapolating.
    """
    sizes = np.array(extrapolation_sizes(T), dtype=float)
    data = np.stack([columns["signal"]] + [columns[f"noise_{m}"] for m in range(sizes.size)])
    n = data.shape[1]
    mean = data.mean(axis=1)
    values = sizes * mean[0] / mean[1:]
    w = extrapolation_weights(1.0 / sizes)
    if variant == "largest_size":
        w = (sizes == sizes.max()).astype(float)
    grad = np.concatenate([[np.sum(w * sizes / mean[1:])], -w * sizes * mean[0] / mean[1:] ** 2])
    se = float(np.sqrt(max(grad @ np.cov(data, ddof=1) @ grad, 0.0) / n))
    diagnostics = {f"T_SNR_at_{int(s)}": float(v) for s, v in zip(sizes, values)}
    # derivative at 1/T = 0 of the interpolating quadratic: the coefficient of the 1/T approach
    x = 1.0 / sizes
    diagnostics["slope_in_1_over_T"] = float(np.polyfit(x, values, 2)[1])
    return Estimate(float(w @ values), se, n, None,
                    f"T SNR(T) read at T = {tuple(int(s) for s in sizes)} along one growing stream per trial, "
                    "each a ratio of means; quadratic extrapolation in 1/T to 1/T = 0 (delta-method SE, "
                    "joint covariance)", diagnostics)


@monte_carlo(_reduce_linear_snr_limit, shared_variants={"largest_size"})
def measure_linear_snr_limit(rng, *, T: int, d_k: int, d_v: int, trials: int = 4000, variant=None) -> dict:
    """``lim T * SNR(T)`` of the linear memory, extrapolated from finite sizes (an asymptotic numeric side).

    Each trial is one growing context read at the three sizes of :func:`extrapolation_sizes`: the
    stored pair's ``a = ||k_i||^2`` (``d_k`` normals) and the crosstalk of the other pairs accumulated
    in increments, ``sum_{j != i, j < T_m} (k_j^T k_i)^2 = a (chi^2_{T_0 - 1} + chi^2_{T_1 - T_0} + ...)``
    (the reduction of :func:`measure_linear_snr`). Columns ``signal = a^2`` and ``noise_m``; the
    reducer extrapolates ``T_m SNR(T_m)`` to ``1/T = 0`` with a quadratic in ``1/T_m`` and reports the
    per-size values and the fitted slope as diagnostics. The extrapolation assumes only that
    ``T SNR(T)`` is smooth in ``1/T``; its remaining bias is the claim's finite-size bound. Variant
    ``"largest_size"`` (the value at ``T`` itself, not extrapolated) changes only the reducer, so a group of
    routes gets the same columns.
    """
    group = check_variants(variant, {"largest_size"})
    sizes = extrapolation_sizes(T)
    signal = np.empty(trials)
    noise = np.empty((len(sizes), trials))
    start = 0
    for n in _chunks(trials, d_k + len(sizes)):
        a = np.sum(rng.standard_normal((n, d_k)) ** 2, axis=1)
        crosstalk = np.zeros(n)
        previous = 1  # the stored pair itself
        for m, size in enumerate(sizes):
            crosstalk = crosstalk + rng.chisquare(size - previous, size=n)
            previous = size
            noise[m, start:start + n] = a * crosstalk
        signal[start:start + n] = a * a
        start += n
    columns = {"signal": signal, **{f"noise_{m}": noise[m] for m in range(len(sizes))}}
    return per_variant(variant, [columns] * len(group))


def linear_snr_direct(rng, *, T: int, d_k: int, d_v: int, trials: int) -> Estimate:
    """The same SNR as :func:`measure_linear_snr` by the direct matrix-level route (no reduction).

    Each trial stores T fresh Gaussian pairs in ``S = V^T K``, reads out every stored key
    (``K S^T``), and contributes the means over ``i`` of ``||r_i||^2`` and ``||c_i v_i||^2`` with
    ``r_i = S k_i - c_i v_i``; the ratio of the trial means gets a delta-method SE. Working set
    ``O(trials T (d_k + d_v))``.
    """
    K = rng.standard_normal((trials, T, d_k))
    V = rng.standard_normal((trials, T, d_v))
    c = np.sum(K**2, axis=2)  # (trials, T): c_i = ||k_i||^2
    S = np.einsum("ntv,ntk->nvk", V, K)  # the memory V^T K of each trial
    r = np.einsum("ntk,nvk->ntv", K, S) - c[:, :, None] * V
    noise = np.mean(np.sum(r**2, axis=2), axis=1)
    signal = np.mean(c**2 * np.sum(V**2, axis=2), axis=1)
    return ratio_of_means(signal, noise, method="direct read-out of S = V^T K at every stored key")


# --- softmax attention: conditional inverse SNR --------------------------------------------------

TILT_TARGET = 2.0  # log-variance of each tilted key term: relative variance e^2 - 1 (about 6.4)


def exp_tilt(tau: float, key_norm2: float) -> float:
    """The tilt ``lambda`` in ``[0, 1)`` of the score proposal (see :func:`measure_exp_inverse_snr`).

    A term ``exp(2 k_j^T k_i / tau)`` is log-normal with log-variance ``A = 4 ||k_i||^2 / tau^2``; under the
    proposal its importance-weighted value has log-variance ``(1 - lambda)^2 A``. ``lambda`` is the
    smallest tilt that brings that to :data:`TILT_TARGET` (0, plain sampling, when ``A`` is already
    below it). ``lambda = 1`` would be the zero-variance proposal, which turns the check into an
    identity of the moment-generating function; a partial tilt keeps it a Monte Carlo.
    """
    log_var = 4.0 * key_norm2 / tau**2
    return 0.0 if log_var <= TILT_TARGET else 1.0 - float(np.sqrt(TILT_TARGET / log_var))


@monte_carlo(weighted_mean_of("y", "softmax read-out MC over the other T - 1 pairs, scores k_j^T k_i from a "
                                  "partially tilted proposal (importance weights, Kish ESS)"))
def measure_exp_inverse_snr(rng, *, T: int, d_k: int, d_v: int, tau: float, key_norm2: float,
                            value_norm2: float, trials: int = 4000) -> dict:
    """Conditional inverse SNR of the softmax (exponential-kernel) memory holding T pairs.

    The stored pair has ``||k_i||^2 = key_norm2 = a``, ``||v_i||^2 = value_norm2``; each trial draws the
    other T - 1 Gaussian pairs and reads out ``q = k_i`` with normalized weights
    ``p_j = softmax_j(k_j^T k_i / tau)``. Signal ``p_i v_i``, noise ``r = sum_{j != i} p_j v_j``; the trial's
    value is ``E_V ||r||^2 / (p_i^2 ||v_i||^2) = d_v sum_{j != i} exp(2 (k_j^T k_i - a) / tau) / ||v_i||^2``
    (values integrated exactly given the keys; the normalizer cancels).

    Reduction: given ``k_i``, the scores ``k_j^T k_i = sqrt(a) z_j`` with ``z_j`` i.i.d. ``N(0, 1)`` (the
    key's components orthogonal to ``k_i`` never enter), so a trial draws T - 1 normals, not
    ``(T - 1) d_k``; ``d_k`` does not enter the conditional estimand.

    Heavy tails: each term is log-normal with log-variance ``A = 4 a / tau^2`` (16 at typical keys,
    ``d_k = 16``, ``tau = 2``), where plain sampling is dominated by rare keys. The ``z_j`` are therefore
    drawn from ``N(mu, 1)``, ``mu = lambda (2 / tau) sqrt(a)`` with the partial tilt of :func:`exp_tilt`,
    and each term carries the weight ``phi(z) / phi(z - mu) = exp(-mu z + mu^2 / 2)``. Columns: ``y``
    (the trial's value) and ``log_sum``, ``log_sum_sq`` (log of the sum of its weighted terms and of
    their squares) from which the reducer forms Kish's ESS over all weighted terms.
    """
    _require(T >= 2, f"T={T!r} must be at least 2 (one other pair)")
    root_a = float(np.sqrt(key_norm2))
    mu = exp_tilt(tau, key_norm2) * 2.0 * root_a / tau
    y, log_sum, log_sum_sq = np.empty(trials), np.empty(trials), np.empty(trials)
    start = 0
    for n in _chunks(trials, T - 1):
        z = rng.standard_normal((n, T - 1)) + mu
        # log of (p_j / p_i)^2 times the importance weight
        logs = 2.0 * (root_a * z - key_norm2) / tau - mu * z + 0.5 * mu * mu
        y[start:start + n] = d_v * np.exp(logs).sum(axis=1) / value_norm2
        log_sum[start:start + n] = logsumexp(logs, axis=1)
        log_sum_sq[start:start + n] = logsumexp(2.0 * logs, axis=1)
        start += n
    return {"y": y, "log_sum": log_sum, "log_sum_sq": log_sum_sq}


def exp_inverse_snr_direct(rng, *, T: int, d_k: int, d_v: int, tau: float, key_norm2: float, value_norm2: float,
                           trials: int) -> Estimate:
    """The estimand of :func:`measure_exp_inverse_snr` by plain matrix-level sampling (no reduction, no tilt).

    Each trial draws ``k_i`` with ``||k_i||^2 = key_norm2`` in a random direction, T - 1 other Gaussian pairs
    ``(K, V)`` of full dimension, forms the softmax weights over all T keys at ``q = k_i`` and takes
    ``||r||^2 / (p_i^2 ||v_i||^2)`` with the drawn values (``||v_i||^2 = value_norm2``). Usable only where
    plain sampling is (small ``4 key_norm2 / tau^2``); working set ``O(trials T (d_k + d_v))``.
    """
    k_i = rng.standard_normal((trials, d_k))
    k_i *= np.sqrt(key_norm2 / np.sum(k_i**2, axis=1, keepdims=True))
    K = rng.standard_normal((trials, T - 1, d_k))
    V = rng.standard_normal((trials, T - 1, d_v))
    scores = np.concatenate([np.full((trials, 1), key_norm2), np.einsum("ntd,nd->nt", K, k_i)], axis=1) / tau
    p = np.exp(scores - logsumexp(scores, axis=1, keepdims=True))  # softmax over all T stored keys
    r = np.einsum("nt,ntd->nd", p[:, 1:], V)
    # ||v_i||^2 = value_norm2 whatever its direction
    samples = np.sum(r**2, axis=1) / (p[:, 0] ** 2 * value_norm2)
    return mean_estimate(samples, method="plain softmax read-out with drawn values")


# --- converging memories: the delta rule and least squares --------------------------------------

def regression_stream(rng, T: int, d_k: int, d_v: int, key_scale2: float, noise2: float, trials: int = 1):
    """``(K, V, S_0)`` for ``trials`` independent streams: ``K`` ``(trials, T, d_k)`` with ``k ~ N(0, s^2 I)``,
    ``V = K S_0^T + sigma Eps`` ``(trials, T, d_v)``, ``S_0`` ``(trials, d_v, d_k)`` with entries ``N(0, 1/d_k)``."""
    S0 = rng.standard_normal((trials, d_v, d_k)) / np.sqrt(d_k)
    K = rng.standard_normal((trials, T, d_k)) * np.sqrt(key_scale2)
    V = K @ S0.transpose(0, 2, 1) + np.sqrt(noise2) * rng.standard_normal((trials, T, d_v))
    return K, V, S0


def delta_step(S: np.ndarray, k: np.ndarray, v: np.ndarray, beta: float) -> np.ndarray:
    """One delta-rule write ``S <- S + beta (v - S k) k^T`` for trials side by side.

    ``S`` ``(n, d_v, d_k)``, ``k`` ``(n, d_k)``, ``v`` ``(n, d_v)``; returns the new ``S`` (``S`` is updated in place).
    """
    err = v - np.einsum("nij,nj->ni", S, k)
    S += beta * err[:, :, None] * k[:, None, :]
    return S


def delta_stream(K, V, beta: float) -> np.ndarray:
    """``S_T`` of the delta rule ``S_t = S_{t-1} + beta (v_t - S_{t-1} k_t) k_t^T`` from ``S_0 = 0``.

    ``K`` ``(trials, T, d_k)`` and ``V`` ``(trials, T, d_v)``: the trials run side by side, token by token.
    """
    S = np.zeros((K.shape[0], V.shape[2], K.shape[2]))
    for t in range(K.shape[1]):
        delta_step(S, K[:, t], V[:, t], beta)
    return S


def _delta_streams(rng, n: int, *, T: int, d_k: int, d_v: int, beta: float, key_scale2: float,
                   noise2: float) -> tuple[np.ndarray, np.ndarray]:
    """``(S_T, S_0)`` of ``n`` independent delta-rule streams on the regression model, drawn token by token.

    ``S_0`` ``(n, d_v, d_k)`` has entries ``N(0, 1/d_k)``; at each step ``k ~ N(0, s^2 I)`` and
    ``v = S_0 k + sigma eps``. Only the current token is held, so the working set is ``O(n d_v d_k)``.
    """
    S0 = rng.standard_normal((n, d_v, d_k)) / np.sqrt(d_k)
    S = np.zeros_like(S0)
    scale, sigma = np.sqrt(key_scale2), np.sqrt(noise2)
    for _ in range(T):
        k = rng.standard_normal((n, d_k)) * scale
        v = np.einsum("nij,nj->ni", S0, k) + sigma * rng.standard_normal((n, d_v))
        delta_step(S, k, v, beta)
    return S, S0


@monte_carlo(mean_of("y", "delta-rule streams, projection of S_T on S* per trial"))
def measure_delta_mean_memory(rng, *, T: int, d_k: int, d_v: int, beta: float, key_scale2: float, noise2: float,
                              trials: int = 4000) -> dict:
    """Per-trial ``<S_T, S_0>_F / ||S_0||_F^2`` of the delta rule on the regression stream (column ``y``)."""
    y = np.empty(trials)
    start = 0
    for n in _chunks(trials, d_v * d_k):
        S, S0 = _delta_streams(rng, n, T=T, d_k=d_k, d_v=d_v, beta=beta, key_scale2=key_scale2, noise2=noise2)
        y[start:start + n] = np.sum(S * S0, axis=(1, 2)) / np.sum(S0**2, axis=(1, 2))
        start += n
    return {"y": y}


@monte_carlo(mean_of("y", "delta-rule streams, squared distance of S_T to S* per trial"))
def measure_delta_mean_square_error(rng, *, T: int, d_k: int, d_v: int, beta: float, key_scale2: float,
                                    noise2: float, trials: int = 4000) -> dict:
    """Per-trial ``||S_T - S_0||_F^2`` of the delta rule on the regression stream (column ``y``)."""
    y = np.empty(trials)
    start = 0
    for n in _chunks(trials, d_v * d_k):
        S, S0 = _delta_streams(rng, n, T=T, d_k=d_k, d_v=d_v, beta=beta, key_scale2=key_scale2, noise2=noise2)
        y[start:start + n] = np.sum((S - S0) ** 2, axis=(1, 2))
        start += n
    return {"y": y}


@monte_carlo(mean_of("y", "least-squares memory, noise integrated exactly given the keys: "
                          "sigma^2 d_v tr (K^T K)^{-1} per trial"))
def measure_least_squares_error(rng, *, T: int, d_k: int, d_v: int, key_scale2: float, noise2: float,
                                trials: int = 4000) -> dict:
    """Per-trial ``E[||S_T - S_0||_F^2 | K]`` of the least-squares memory ``S_T = V^T K (K^T K)^{-1}``.

    Reduction: ``V = K S_0^T + sigma Eps`` gives ``S_T - S_0 = sigma Eps^T K H^{-1}`` with ``H = K^T K``
    (``S_0`` cancels exactly), and for ``Eps`` ``(T, d_v)`` with i.i.d. standard entries
    ``E ||Eps^T M||_F^2 = d_v ||M||_F^2``, so given the keys the error is
    ``sigma^2 d_v ||K H^{-1}||_F^2 = sigma^2 d_v tr H^{-1}``. A trial draws the ``T x d_k`` keys only.
    """
    _require(T >= d_k, f"T={T!r} must be at least d_k={d_k!r} for K^T K to be invertible")
    y = np.empty(trials)
    start = 0
    for n in _chunks(trials, T * d_k):
        K = rng.standard_normal((n, T, d_k)) * np.sqrt(key_scale2)
        H = np.einsum("nti,ntj->nij", K, K)
        y[start:start + n] = noise2 * d_v * np.trace(np.linalg.inv(H), axis1=1, axis2=2)
        start += n
    return {"y": y}


def least_squares_error_direct(rng, *, T: int, d_k: int, d_v: int, key_scale2: float, noise2: float,
                               trials: int) -> Estimate:
    """``E||S_T - S_0||_F^2`` by the direct route: draw ``S_0``, keys, noisy values, solve for ``S_T``."""
    K, V, S0 = regression_stream(rng, T, d_k, d_v, key_scale2, noise2, trials)
    Kt = K.transpose(0, 2, 1)
    S = np.linalg.solve(Kt @ K, Kt @ V).transpose(0, 2, 1)
    return mean_estimate(np.sum((S - S0) ** 2, axis=(1, 2)), method="least-squares memory, direct regression")


def measure_least_squares_self_influence(rng, *, T: int, d_k: int, key_scale2: float = 1.0, variant=None) -> Estimate:
    """``sum_j d(S_T k_j)/d v_j = sum_j k_j^T (K^T K)^{-1} k_j`` for one random key set (T >= d_k).

    Each leverage is computed on its own (``K H^{-1}`` row by row), not through the trace identity.
    Variants (negative controls): ``"additive"``, the additive memory's ``sum_j ||k_j||^2`` (its read-out
    of ``k_j`` carries ``||k_j||^2 v_j``); ``"ridge"``, the leverages of a ridge memory
    ``(K^T K + s^2 I)^{-1}`` (a regularised hat matrix, whose trace falls short of ``d_k``).
    """
    check_variant(variant, {"additive", "ridge"})
    K = rng.standard_normal((T, d_k)) * np.sqrt(key_scale2)
    if variant == "additive":
        return exact_value(float(np.sum(K**2)), method="additive memory: sum of squared key norms")
    H = K.T @ K
    if variant == "ridge":
        H = H + key_scale2 * np.eye(d_k)
    leverages = np.einsum("ij,ij->i", K, np.linalg.solve(H, K.T).T)
    return exact_value(float(leverages.sum()), method="sum of leverages of the least-squares memory")


def delta_self_influence(K: np.ndarray, beta: float) -> np.ndarray:
    """``sum_j beta k_j^T P_j k_j`` per stream, ``P_j = (I - beta k_{j+1} k_{j+1}^T) ... (I - beta k_T k_T^T)``.

    ``K`` ``(n, T, d_k)``; returns ``(n,)``. ``beta k_j^T P_j k_j`` is ``d(S_T k_j)/d v_j`` (a scalar times
    the identity) for the delta rule from ``S_0 = 0``. Each term is computed as defined, ``P_j``
    accumulated backwards from ``P_T = I`` (not through the telescoping identity the tests check).
    """
    n, T, d = K.shape
    P = np.broadcast_to(np.eye(d), (n, d, d)).copy()
    total = np.zeros(n)
    for t in range(T - 1, -1, -1):
        k = K[:, t]
        kP = np.einsum("ni,nij->nj", k, P)
        total += beta * np.einsum("nj,nj->n", kP, k)
        P -= beta * k[:, :, None] * kP[:, None, :]
    return total


@monte_carlo(mean_of("y", "delta-rule self-influence MC, P_j accumulated backwards"))
def measure_delta_self_influence(rng, *, T: int, d_k: int, beta: float, key_scale2: float,
                                 trials: int = 4000) -> dict:
    """Per-trial total self-influence :func:`delta_self_influence` of a stream of T keys ``k ~ N(0, s^2 I)``."""
    y = np.empty(trials)
    start = 0
    for n in _chunks(trials, T * d_k + d_k * d_k):
        K = rng.standard_normal((n, T, d_k)) * np.sqrt(key_scale2)
        y[start:start + n] = delta_self_influence(K, beta)
        start += n
    return {"y": y}


# --- the table: recall of pair 1 (task 1) and distance to the population read-out (task 2) -------

def delta_pair_recall_direct(rng, *, T: int, d_k: int, d_v: int, beta: float, trials: int) -> Estimate:
    """The estimand of :func:`measure_delta_pair_recall` with ``k_1`` drawn too (no conditional expectation).

    A trial carries ``y = P_j k_1`` backwards from ``y = k_1``, one fresh key per step (the keys are i.i.d., so
    drawing them in reverse order is exact): ``w_j = beta k_j^T y``, ``y <- (I - beta k_j k_j^T) y``; then
    ``w_1 = beta k_1^T y``. Ratio of the means of ``sum_{j >= 2} w_j^2`` and ``w_1^2`` (values integrated).
    """
    k1 = rng.standard_normal((trials, d_k))
    y = k1.copy()
    noise = np.zeros(trials)
    for _ in range(T - 1):
        k = rng.standard_normal((trials, d_k))
        score = np.einsum("nd,nd->n", k, y)
        noise += (beta * score) ** 2
        y -= beta * score[:, None] * k
    signal = (beta * np.einsum("nd,nd->n", k1, y)) ** 2
    return ratio_of_means(noise, signal, method="delta rule, k_1 drawn, weights propagated backwards")


@monte_carlo(ratio_of("noise", "signal", "ratio of means E||r||^2 / E||c v_1||^2 (delta method); values and the "
                                         "stored key k_1 integrated given the later keys"))
def measure_delta_pair_recall(rng, *, T: int, d_k: int, d_v: int, beta: float, trials: int = 4000) -> dict:
    """Inverse SNR of pair 1 of the delta rule after T writes of i.i.d. pairs (keys ``N(0, I_{d_k})``).

    The read-out at ``k_1`` is ``S_T k_1 = sum_j v_j w_j`` with ``w_j = beta k_j^T P_j k_1``,
    ``P_j = (I - beta k_{j+1} k_{j+1}^T) ... (I - beta k_T k_T^T)``; values integrate to ``d_v sum_{j >= 2} w_j^2`` and
    ``d_v w_1^2`` (``d_v`` cancels). A trial accumulates ``Q = P_j`` backwards from ``Q = I`` over the T - 1 later
    keys (i.i.d., so their order of drawing is immaterial) and integrates the Gaussian ``k_1`` given them:
    ``E (k_j^T Q k_1)^2 = ||Q^T k_j||^2`` and ``E (k_1^T P_1 k_1)^2 = 2 tr(P_s^2) + (tr P_1)^2`` (``P_s`` the symmetric
    part), which cuts the per-trial variance about threefold against :func:`delta_pair_recall_direct`.
    Columns ``noise`` and ``signal``; work ``O(T d_k^2)`` per trial.
    """
    _require(T >= 2, f"T={T!r} must be at least 2 (one other pair)")
    noise, signal = np.empty(trials), np.empty(trials)
    start = 0
    for n in _chunks(trials, d_k * d_k):
        Q = np.broadcast_to(np.eye(d_k), (n, d_k, d_k)).copy()
        total = np.zeros(n)
        for _ in range(T - 1):
            k = rng.standard_normal((n, d_k))
            kQ = np.einsum("ni,nij->nj", k, Q)
            total += beta**2 * np.sum(kQ**2, axis=1)
            Q -= beta * k[:, :, None] * kQ[:, None, :]
        sym = (Q + Q.transpose(0, 2, 1)) / 2
        noise[start:start + n] = total
        signal[start:start + n] = beta**2 * (2 * np.einsum("nij,nij->n", sym, sym)
                                             + np.trace(Q, axis1=1, axis2=2) ** 2)
        start += n
    return {"noise": noise, "signal": signal}


@monte_carlo(ratio_of("noise", "signal", "ratio of means E||r||^2 / E||c v_1||^2 (delta method); values "
                                         "integrated given the keys, hat-matrix column solved per trial"))
def measure_least_squares_pair_recall(rng, *, T: int, d_k: int, d_v: int, trials: int = 4000) -> dict:
    """Inverse SNR of pair 1 of the least-squares memory ``S_T = V^T K (K^T K)^{-1}`` after T i.i.d. pairs.

    The read-out at ``k_1`` is ``sum_j v_j h_j1``, ``h_{.1} = K (K^T K)^{-1} k_1`` (solved per trial, not through the
    Beta law or the projection identity the theory uses); values integrate to ``d_v sum_{j >= 2} h_j1^2`` and
    ``d_v h_11^2``. Columns ``noise`` and ``signal``; working set ``O(trials T d_k)`` per chunk.
    """
    _require(T > d_k, f"T={T!r} must exceed d_k={d_k!r} (below it the memory interpolates: no noise)")
    noise, signal = np.empty(trials), np.empty(trials)
    start = 0
    for n in _chunks(trials, T * d_k):
        K = rng.standard_normal((n, T, d_k))
        H = np.einsum("nti,ntj->nij", K, K)
        column = np.einsum("nti,ni->nt", K, np.linalg.solve(H, K[:, 0, :, None])[..., 0])
        noise[start:start + n] = np.sum(column[:, 1:] ** 2, axis=1)
        signal[start:start + n] = column[:, 0] ** 2
        start += n
    return {"noise": noise, "signal": signal}


def wishart_bartlett(rng, n: int, T: int, d: int) -> np.ndarray:
    """``n`` draws of ``K^T K`` for ``K`` ``(T, d)`` with i.i.d. ``N(0, 1)`` entries (``T >= d``), by Bartlett's
    decomposition ``L L^T``: ``L`` lower triangular, ``L_ii^2 ~ chi^2_{T - i}`` (``i = 0..d-1``), ``L_ij ~ N(0, 1)``
    below the diagonal. ``O(n d^2)`` work whatever ``T``: the context length enters only through the degrees of freedom."""
    L = np.tril(rng.standard_normal((n, d, d)), k=-1)
    idx = np.arange(d)
    L[:, idx, idx] = np.sqrt(rng.chisquare(T - idx, size=(n, d)))
    return L @ L.transpose(0, 2, 1)


@monte_carlo(mean_of("y", "Hebbian memory S_T/T from its sufficient statistics (Wishart key Gram by Bartlett, "
                          "value noise given the keys), squared Frobenius distance to s^2 S_0 per trial"),
             shared_variants={"target_S_star"})
def measure_hebbian_regression_distance(rng, *, T: int, d_k: int, d_v: int, key_scale2: float, noise2: float,
                                        trials: int = 4000, variant=None) -> dict:
    """``E||S_T q/T - s^2 S_0 q||^2`` for a fresh ``q ~ N(0, I_{d_k})`` (= ``E||S_T/T - s^2 S_0||_F^2``, ``q`` integrated).

    ``S_T = sum_j v_j k_j^T = S_0 H + sigma Eps^T K`` with ``H = K^T K``: a trial draws ``S_0`` (entries
    ``N(0, 1/d_k)``), ``H = s^2 W`` with ``W`` Wishart(T, I) by Bartlett (:func:`wishart_bartlett`), and
    ``Eps^T K``, whose rows given the keys are ``N(0, H)`` (``G C^T`` with ``C C^T = H``). Work ``O(d_k^2 (d_k + d_v))``
    per trial for any T. Variant ``"target_S_star"``: the distance to ``S_0`` (the least-squares memory) instead,
    on the same draws (``variant=(None, "target_S_star")``: both from one set of draws).
    """
    group = check_variants(variant, {"target_S_star"})
    ys = [np.empty(trials) for _ in group]
    start = 0
    for n in _chunks(trials, d_k * (d_k + d_v)):
        S0 = rng.standard_normal((n, d_v, d_k)) / np.sqrt(d_k)
        H = key_scale2 * wishart_bartlett(rng, n, T, d_k)
        C = np.linalg.cholesky(H)
        noise = rng.standard_normal((n, d_v, d_k)) @ C.transpose(0, 2, 1)
        S = S0 @ H + np.sqrt(noise2) * noise
        for v, y in zip(group, ys):
            target = S0 if v == "target_S_star" else key_scale2 * S0
            y[start:start + n] = np.sum((S / T - target) ** 2, axis=(1, 2))
        start += n
    return per_variant(variant, [{"y": y} for y in ys])


def _softmax_scores(rng, n: int, T: int, g: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of T scores ``u ~ N(0, 1)`` along the query and their softmax weights ``p = softmax(g u)``."""
    u = rng.standard_normal((n, T))
    logits = g * u
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return u, p / p.sum(axis=1, keepdims=True)


def softmax_regression_direct(rng, *, T: int, d_k: int, d_v: int, key_scale2: float, noise2: float, tau: float,
                              query_norm2: float, trials: int, variant=None) -> Estimate:
    """``T ||o_T - (s^2/tau) S_0 q||^2`` per trial, every Gaussian drawn (the route :func:`measure_softmax_regression` integrates).

    ``o_T = sum_j p_j v_j``, ``p = softmax(k_j^T q / tau)``, ``k_j ~ N(0, s^2 I_{d_k})``, ``v_j = S_0 k_j + sigma eps_j``,
    ``q = sqrt(b) e_1``. Only ``u_j = k_j^T e_1 / s`` enters the weights; given the weights,
    ``sum_j p_j k_j = s (sum_j p_j u_j) e_1 + s sqrt(sum_j p_j^2) z_perp`` and ``sum_j p_j eps_j = sqrt(sum_j p_j^2) z``
    with standard normal ``z_perp`` (the ``d_k - 1`` orthogonal coordinates) and ``z`` (exact: sums of Gaussians
    with fixed weights). A trial draws T scores, ``S_0`` and those two vectors; ``o*`` uses the drawn ``S_0``.
    Work ``O(trials T)``. Variant ``"hebbian_target"``: the distance to ``s^2 S_0 q`` instead of ``(s^2/tau) S_0 q``.
    """
    check_variant(variant, {"hebbian_target"})
    s = float(np.sqrt(key_scale2))
    root_b = float(np.sqrt(query_norm2))
    y = np.empty(trials)
    start = 0
    for n in _chunks(trials, T):
        u, p = _softmax_scores(rng, n, T, s * root_b / tau)
        spread = np.sqrt(np.sum(p * p, axis=1))
        mean_key = np.zeros((n, d_k))
        mean_key[:, 0] = s * np.sum(p * u, axis=1)
        mean_key[:, 1:] = s * spread[:, None] * rng.standard_normal((n, d_k - 1))
        S0 = rng.standard_normal((n, d_v, d_k)) / np.sqrt(d_k)
        o = np.einsum("nvk,nk->nv", S0, mean_key) + np.sqrt(noise2) * spread[:, None] * rng.standard_normal((n, d_v))
        scale = key_scale2 if variant == "hebbian_target" else key_scale2 / tau
        o_star = scale * root_b * S0[:, :, 0]
        y[start:start + n] = T * np.sum((o - o_star) ** 2, axis=1)
        start += n
    return mean_estimate(y, method="softmax read-out with S_0 and the Gaussian sums drawn")


@monte_carlo(mean_of("y", "softmax read-out: T scores along q per trial, S_0, the orthogonal key directions and the "
                          "value noise integrated given the weights; T E||o_T - o*||^2 per trial"),
             shared_variants={"hebbian_target"})
def measure_softmax_regression(rng, *, T: int, d_k: int, d_v: int, key_scale2: float, noise2: float, tau: float,
                               query_norm2: float, trials: int = 4000, variant=None) -> dict:
    """``T E[||o_T - (s^2/tau) S_0 q||^2 | scores]`` per trial for normalised softmax attention on the regression stream.

    ``o_T = sum_j p_j v_j``, ``p = softmax(k_j^T q / tau)``, ``k_j ~ N(0, s^2 I_{d_k})``, ``v_j = S_0 k_j + sigma eps_j``,
    ``q = sqrt(b) e_1``. A trial draws the T scores ``u_j = k_j^T e_1 / s``; given them,
    ``o_T - o* = S_0 m + sigma sum_j p_j eps_j`` with ``m = s (sum_j p_j u_j - s sqrt(b)/tau) e_1 + s sum_j p_j w_j``
    (``w_j`` the orthogonal parts), and ``S_0`` (entries ``N(0, 1/d_k)``), ``w``, ``eps`` integrate to
    ``(d_v/d_k) (s^2 (sum p u - s sqrt(b)/tau)^2 + s^2 (d_k - 1) sum p^2) + sigma^2 d_v sum p^2``. The drawn route
    :func:`softmax_regression_direct` agrees (tests/test_context.py). Work ``O(trials T)``. Variant
    ``"hebbian_target"``: the distance to ``s^2 S_0 q`` (the linear memory's population read-out) instead, on
    the same scores (``variant=(None, "hebbian_target")``: both from one set of draws).
    """
    group = check_variants(variant, {"hebbian_target"})
    s = float(np.sqrt(key_scale2))
    root_b = float(np.sqrt(query_norm2))
    centres = [(key_scale2 if v == "hebbian_target" else key_scale2 / tau) * root_b / s for v in group]
    ys = [np.empty(trials) for _ in group]
    start = 0
    for n in _chunks(trials, T):
        u, p = _softmax_scores(rng, n, T, s * root_b / tau)
        p2 = np.sum(p * p, axis=1)
        pu = np.sum(p * u, axis=1)
        for centre, y in zip(centres, ys):
            along = pu - centre
            y[start:start + n] = T * (d_v / d_k * key_scale2 * (along**2 + (d_k - 1) * p2) + noise2 * d_v * p2)
        start += n
    return per_variant(variant, [{"y": y} for y in ys])
