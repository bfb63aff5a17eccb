"""Monte Carlo for the context-length question: additive memories against converging ones.

Streams of T i.i.d. pairs. Shapes: keys ``K`` ``(T, d_k)``, values ``V`` ``(T, d_v)``, memory ``S``
``(d_v, d_k)``. Key model for the converging memories: ``k ~ N(0, s^2 I)`` (``s^2 = key_scale2``),
values ``v = S_0 k + sigma eps`` with ``S_0`` entries ``N(0, 1/d_k)`` drawn per trial and
``eps ~ N(0, I_{d_v})`` (``sigma^2 = noise2``): ``v`` depends on ``k``, and the population least-squares
memory is ``S* = E[v k^T] E[k k^T]^{-1} = S_0``, while the Hebbian average ``E[v k^T] = s^2 S_0``.

Every trial is independent; SEs are over trials. Trials run side by side in batches of at most
``2^21 / (T d)`` streams, so a worker's working set stays near 2^21 numbers per array (tens of MB)
whatever ``trials`` and ``T`` are (:data:`BATCH_NUMBERS`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from numerics.estimate import Estimate, check_variant, exact_value, mean_estimate
from numerics.linear_memory import measure_inverse_snr_ratio

__all__ = [
    "delta_stream",
    "exp_tilt",
    "measure_delta_mean_memory",
    "measure_delta_mean_square_error",
    "measure_delta_self_influence",
    "measure_exp_inverse_snr",
    "measure_least_squares_error",
    "measure_least_squares_self_influence",
    "measure_snr_times_length",
    "regression_stream",
]


def measure_snr_times_length(rng, *, T: int, d_k: int, d_v: int, trials: int = 200) -> Estimate:
    """``T * SNR`` of the linear memory after T pairs, ``SNR = 1 / (E||r||^2 / E||c v_i||^2)`` (ratio estimand).

    The inverse SNR is the Monte Carlo of :func:`numerics.linear_memory.measure_inverse_snr_ratio` with
    ``N = T``; its SE is carried through ``x -> T / x`` by the delta method.
    """
    inv = measure_inverse_snr_ratio(rng, N=T, d_k=d_k, d_v=d_v, trials=trials)
    value = T / inv.estimate
    return Estimate(value, T * inv.standard_error / inv.estimate**2, inv.trials, None,
                    "T / (ratio-of-means inverse SNR), delta method")


TILT_TARGET = 2.0  # log-variance of each tilted key term: relative variance e^2 - 1 (about 6.4)


def exp_tilt(tau: float, key_norm2: float) -> float:
    """The tilt ``lambda`` in ``[0, 1)`` of the key proposal ``N(lambda (2/tau) k_i, I)``.

    A term ``exp(2 k_j^T k_i / tau)`` is log-normal with log-variance ``A = 4 ||k_i||^2 / tau^2``; under the
    proposal its importance-weighted value has log-variance ``(1 - lambda)^2 A``. ``lambda`` is the
    smallest tilt that brings that to :data:`TILT_TARGET` (0, plain sampling, when ``A`` is already
    below it). ``lambda = 1`` would be the zero-variance proposal, which turns the check into an
    identity of the moment-generating function; a partial tilt keeps it a Monte Carlo.
    """
    log_var = 4.0 * key_norm2 / tau**2
    return 0.0 if log_var <= TILT_TARGET else 1.0 - float(np.sqrt(TILT_TARGET / log_var))


def measure_exp_inverse_snr(rng, *, T: int, d_k: int, d_v: int, tau: float, key_norm2: float,
                            value_norm2: float, trials: int = 2000) -> Estimate:
    """Conditional inverse SNR of the softmax (exponential-kernel) memory holding T pairs.

    The stored pair has ``||k_i||^2 = key_norm2``, ``||v_i||^2 = value_norm2`` (fixed directions); each trial
    draws the other T - 1 Gaussian keys and reads out ``q = k_i`` with normalized weights
    ``p_j = softmax_j(k_j^T k_i / tau)``. Signal ``p_i v_i``, noise ``r = sum_{j != i} p_j v_j``; the trial's value
    is ``E_V ||r||^2 / (p_i^2 ||v_i||^2) = d_v sum_{j != i} (p_j / p_i)^2 / ||v_i||^2`` (values integrated exactly
    given the keys; the normalizer cancels, computed as ``exp(s_j - s_i)`` in log space).

    Heavy tails: ``(p_j / p_i)^2`` is log-normal with log-variance ``4 key_norm2 / tau^2`` (16 at typical
    keys, ``d_k = 16``, ``tau = 2``), where plain sampling is dominated by rare keys. The keys are
    therefore drawn from ``N(mu, I)``, ``mu = lambda (2 / tau) k_i`` with the partial tilt of
    :func:`exp_tilt`, and each term carries the weight ``phi(k_j) / phi(k_j - mu) = exp(-mu^T k_j +
    ||mu||^2 / 2)``. The ESS is Kish's over all weighted terms.
    """
    k_i = rng.standard_normal(d_k)
    k_i *= np.sqrt(key_norm2) / np.linalg.norm(k_i)
    s_i = key_norm2 / tau
    tilt = exp_tilt(tau, key_norm2)
    mu = tilt * (2.0 / tau) * k_i
    half_mu2 = 0.5 * float(mu @ mu)
    samples = np.empty(trials)
    log_sum, log_sum_sq = -np.inf, -np.inf  # log sum x and log sum x^2 over all weighted terms (Kish's ESS)
    batch = max(1, 2**20 // (T * d_k))  # bounded working set: about 2^20 numbers per batch
    for start in range(0, trials, batch):
        n = min(batch, trials - start)
        K = rng.standard_normal((n, T - 1, d_k)) + mu
        # log of (p_j / p_i)^2 times the importance weight; E_V ||sum_j w_j v_j||^2 = d_v sum_j w_j^2
        logs = 2.0 * (K @ k_i / tau - s_i) - K @ mu + half_mu2
        log_sum = np.logaddexp(log_sum, logsumexp(logs))
        log_sum_sq = np.logaddexp(log_sum_sq, logsumexp(2.0 * logs))
        samples[start:start + n] = d_v * np.exp(logs).sum(axis=1) / value_norm2
    est = mean_estimate(samples, method="softmax read-out MC over the other T - 1 pairs, keys from the "
                                        f"partially tilted proposal (lambda = {tilt:.3f})")
    return Estimate(est.estimate, est.standard_error, est.trials, float(np.exp(2.0 * log_sum - log_sum_sq)),
                    est.method)


BATCH_NUMBERS = 2**21  # numbers per (batch, T, d) array: bounds the working set


def _batched_samples(rng, trials: int, T: int, d: int, per_batch) -> np.ndarray:
    """Concatenate ``per_batch(rng, n)`` (one sample per trial) over batches of at most ``2^21 / (T d)`` trials."""
    batch = max(1, BATCH_NUMBERS // (T * d))
    return np.concatenate([per_batch(rng, min(batch, trials - start)) for start in range(0, trials, batch)])


def regression_stream(rng, T: int, d_k: int, d_v: int, key_scale2: float, noise2: float, trials: int = 1):
    """``(K, V, S_0)`` for ``trials`` independent streams: ``K`` ``(trials, T, d_k)`` with ``k ~ N(0, s^2 I)``,
    ``V = K S_0^T + sigma Eps`` ``(trials, T, d_v)``, ``S_0`` ``(trials, d_v, d_k)`` with entries ``N(0, 1/d_k)``."""
    S0 = rng.standard_normal((trials, d_v, d_k)) / np.sqrt(d_k)
    K = rng.standard_normal((trials, T, d_k)) * np.sqrt(key_scale2)
    V = K @ S0.transpose(0, 2, 1) + np.sqrt(noise2) * rng.standard_normal((trials, T, d_v))
    return K, V, S0


def delta_stream(K, V, beta: float) -> np.ndarray:
    """``S_T`` of the delta rule ``S_t = S_{t-1} + beta (v_t - S_{t-1} k_t) k_t^T`` from ``S_0 = 0``.

    ``K`` ``(trials, T, d_k)`` and ``V`` ``(trials, T, d_v)``: the trials run side by side, token by token.
    """
    S = np.zeros((K.shape[0], V.shape[2], K.shape[2]))
    for t in range(K.shape[1]):
        k, v = K[:, t], V[:, t]
        err = v - np.einsum("nij,nj->ni", S, k)
        S += beta * err[:, :, None] * k[:, None, :]
    return S


def measure_delta_mean_memory(rng, *, T: int, d_k: int, d_v: int, beta: float, key_scale2: float, noise2: float,
                              trials: int = 400) -> Estimate:
    """Mean over trials of ``<S_T, S_0>_F / ||S_0||_F^2`` for the delta rule on the regression stream."""
    def batch(rng, n):
        K, V, S0 = regression_stream(rng, T, d_k, d_v, key_scale2, noise2, n)
        return np.sum(delta_stream(K, V, beta) * S0, axis=(1, 2)) / np.sum(S0**2, axis=(1, 2))

    samples = _batched_samples(rng, trials, T, max(d_k, d_v), batch)
    return mean_estimate(samples, method="delta-rule stream MC, projection on S*")


def measure_delta_mean_square_error(rng, *, T: int, d_k: int, d_v: int, beta: float, key_scale2: float,
                                    noise2: float, trials: int = 400) -> Estimate:
    """Mean over trials of ``||S_T - S_0||_F^2`` for the delta rule on the regression stream."""
    def batch(rng, n):
        K, V, S0 = regression_stream(rng, T, d_k, d_v, key_scale2, noise2, n)
        return np.sum((delta_stream(K, V, beta) - S0) ** 2, axis=(1, 2))

    samples = _batched_samples(rng, trials, T, max(d_k, d_v), batch)
    return mean_estimate(samples, method="delta-rule stream MC, squared distance to S*")


def measure_least_squares_error(rng, *, T: int, d_k: int, d_v: int, key_scale2: float, noise2: float,
                                trials: int = 400) -> Estimate:
    """Mean over trials of ``||S_T - S_0||_F^2`` for ``S_T = V^T K (K^T K)^{-1}`` (the least-squares memory)."""
    def batch(rng, n):
        K, V, S0 = regression_stream(rng, T, d_k, d_v, key_scale2, noise2, n)
        Kt = K.transpose(0, 2, 1)
        S = np.linalg.solve(Kt @ K, Kt @ V).transpose(0, 2, 1)
        return np.sum((S - S0) ** 2, axis=(1, 2))

    samples = _batched_samples(rng, trials, T, max(d_k, d_v), batch)
    return mean_estimate(samples, method="least-squares memory MC, squared distance to S*")


def measure_least_squares_self_influence(rng, *, T: int, d_k: int, key_scale2: float = 1.0, variant=None) -> Estimate:
    """``sum_j d(S_T k_j)/d v_j = sum_j k_j^T (K^T K)^{-1} k_j`` for one random key set (T >= d_k).

    Variant ``"additive"``: the additive memory's ``sum_j ||k_j||^2`` (its read-out of ``k_j`` carries
    ``||k_j||^2 v_j``).
    """
    check_variant(variant, {"additive"})
    K = rng.standard_normal((T, d_k)) * np.sqrt(key_scale2)
    if variant == "additive":
        return exact_value(float(np.sum(K**2)), method="additive memory: sum of squared key norms")
    leverages = np.einsum("ij,ij->i", K, np.linalg.solve(K.T @ K, K.T).T)
    return exact_value(float(leverages.sum()), method="sum of leverages of the least-squares memory")


def measure_delta_self_influence(rng, *, T: int, d_k: int, beta: float, key_scale2: float,
                                 trials: int = 400) -> Estimate:
    """Mean over trials of ``sum_j beta k_j^T P_j k_j``, ``P_j = (I - beta k_{j+1} k_{j+1}^T) ... (I - beta k_T k_T^T)``.

    ``beta k_j^T P_j k_j`` is ``d(S_T k_j)/d v_j`` (a scalar times the identity) for the delta rule; ``P_j``
    is accumulated backwards from ``P_T = I``, all trials side by side.
    """
    def batch(rng, n):
        K = rng.standard_normal((n, T, d_k)) * np.sqrt(key_scale2)
        P = np.broadcast_to(np.eye(d_k), (n, d_k, d_k)).copy()
        total = np.zeros(n)
        for t in range(T - 1, -1, -1):
            k = K[:, t]
            kP = np.einsum("ni,nij->nj", k, P)
            total += beta * np.einsum("nj,nj->n", kP, k)
            P -= beta * k[:, :, None] * kP[:, None, :]
        return total

    return mean_estimate(_batched_samples(rng, trials, T, d_k, batch), method="delta-rule self-influence MC")
