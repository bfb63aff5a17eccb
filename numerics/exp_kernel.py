"""Monte Carlo of the exponential-kernel memory ``o = sum_j v_j exp(k_j^T q / tau)`` (softmax attention, paper §3).

Shapes as in :mod:`numerics.kernels`: the other stored keys of one trial are ``(n, d_k)``, their
values ``(n, d_v)``, the queried stored key ``k_i`` ``(d_k,)``.

Heavy tails. ``kappa^2 = exp(2 k_j^T k_i / tau)`` is log-normal with log-variance ``4 ||k_i||^2 / tau^2``
(16 at ``d_k = 16``, ``tau = 2``): a plain average of it is dominated by a handful of samples and
comes out low while reporting a small SE. The routines here therefore

* integrate the values exactly given the keys (``E_v ||sum_j v_j kappa_j||^2 = d_v sum_j kappa_j^2``
  for zero-mean unit-variance values: the cross terms have conditional mean zero);
* draw the keys from an exponentially tilted proposal ``N(mu, I)`` with weight
  ``w = phi(x) / phi(x - mu) = exp(-mu^T x + ||mu||^2 / 2)``;
* report the effective sample size ``ESS = (sum f w)^2 / sum (f w)^2`` of the weighted integrand
  (Kish's formula applied to ``f w``), which a plain average (``w = 1``) also gets: a small ESS means
  a few samples carry the estimate, and the engine turns it into an error.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from numerics.estimate import Estimate, check_variant, exact_value, mean_estimate, ols_slope, ratio_of_means
from numerics.kernels import kish_ess, stored_key

__all__ = [
    "log_exp_moment",
    "measure_exp_capacity_slope",
    "measure_exp_optimal_temperature",
    "measure_inverse_snr_exp",
    "measure_inverse_snr_exp_mean",
    "measure_inverse_snr_exp_ratio",
    "measure_inverse_snr_exp_typical",
    "measure_inverse_snr_value_mean",
    "measure_normalization_invariance",
]

ROUNDING_FLOOR = 1e-12  # relative: float64 exp/log round-off of a tilted estimate, far above 1e-15 in practice


def log_exp_moment(rng, k_i: np.ndarray, tau: float, n: int, *, tilted: bool = True):
    """Log-space samples ``log(f w)`` of ``f = exp(2 x^T k_i / tau)`` for ``n`` keys ``x``.

    ``tilted=True`` draws ``x ~ N(2 k_i / tau, I)`` with weight ``w = exp(-mu^T x + ||mu||^2/2)``;
    ``tilted=False`` is the plain estimator (``x ~ N(0, I)``, ``w = 1``). The mean of
    ``exp(log(f w))`` estimates ``E[exp(2 k_j^T k_i / tau) | k_i]`` either way.
    """
    x = rng.standard_normal((n, k_i.shape[0]))
    if not tilted:
        return 2.0 * (x @ k_i) / tau
    mu = 2.0 * k_i / tau
    x += mu
    return 2.0 * (x @ k_i) / tau - (x @ mu) + 0.5 * float(mu @ mu)



def _tilted_log_terms(rng, k_i: np.ndarray, tau: float, m: int) -> np.ndarray:
    """Batched :func:`log_exp_moment` (tilted): ``k_i`` is ``(b, d)``, returns ``(b, m)`` values of ``log(f w)``."""
    mu = 2.0 * k_i / tau
    x = rng.standard_normal((k_i.shape[0], m, k_i.shape[1])) + mu[:, None, :]
    return 2.0 * np.einsum("bmd,bd->bm", x, k_i) / tau - np.einsum("bmd,bd->bm", x, mu) \
        + 0.5 * np.sum(mu * mu, axis=1)[:, None]



def _exp_conditional_trials(rng, *, N, d_k, d_v, key_norm2, value_norm2, tau, trials, tilted, keys_per_trial=None):
    """Per-trial log of the conditional SNR^{-1} estimate and all log integrand samples (for the ESS).

    Each trial queries a fresh stored key and draws ``m = keys_per_trial`` keys (default ``N - 1``)
    from the key distribution; their mean, scaled by ``N - 1``, is unbiased for the conditional
    expectation whatever ``m`` is (the other pairs are exchangeable), so ``m`` may exceed ``N - 1``.
    """
    n = N - 1
    m = n if keys_per_trial is None else keys_per_trial
    logs, all_terms = np.empty(trials), []
    for t in range(trials):
        k_i = stored_key(rng, d_k, key_norm2)
        terms = log_exp_moment(rng, k_i, tau, m, tilted=tilted)
        all_terms.append(terms)
        logs[t] = (logsumexp(terms) - math.log(m) + math.log(n * d_v) - 2.0 * key_norm2 / tau
                   - math.log(value_norm2))
    return logs, np.concatenate(all_terms)



def measure_inverse_snr_exp(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                            tau: float, trials: int = 200, variant=None) -> Estimate:
    """Conditional SNR^{-1} of the exponential kernel ``exp(x^T y / tau)``.

    Estimand: ``(N - 1) d_v E[exp(2 k_j^T k_i / tau) | k_i] / (exp(2 ||k_i||^2 / tau) ||v_i||^2)``,
    values integrated exactly, keys by tilted importance sampling (see the module docstring).
    Variant ``"naive"`` samples the keys from ``N(0, I)``: same estimand, heavy-tailed estimator.
    Each trial queries a fresh key direction with the given norm and draws 256 keys.
    """
    check_variant(variant, {"naive"})
    logs, terms = _exp_conditional_trials(rng, N=N, d_k=d_k, d_v=d_v, key_norm2=key_norm2,
                                          value_norm2=value_norm2, tau=tau, trials=trials,
                                          tilted=variant != "naive", keys_per_trial=256)
    est = mean_estimate(np.exp(logs), method="exp kernel: values integrated exactly, keys "
                        + ("plain MC (naive)" if variant == "naive" else "tilted IS, proposal N(2 k_i/tau, I)"))
    # The tilted terms are equal in exact arithmetic, so their spread is float rounding, which is
    # not independent across terms; the SE is floored at a rounding level relative to the estimate.
    se = max(est.standard_error, ROUNDING_FLOOR * abs(est.estimate))
    return Estimate(est.estimate, se, est.trials, kish_ess(terms), est.method)



def measure_inverse_snr_exp_typical(rng, *, N: int, d_k: int, d_v: int, tau_choice: int = 0,
                                    trials: int = 100, variant=None) -> Estimate:
    """As :func:`measure_inverse_snr_exp` at a typical stored pair (``||k_i||^2 = d_k``, ``||v_i||^2 = d_v``).

    ``tau_choice`` 0 is ``tau = 2``, 1 is ``tau = sqrt(d_k)``.
    """
    tau = 2.0 if tau_choice == 0 else math.sqrt(d_k)
    return measure_inverse_snr_exp(rng, N=N, d_k=d_k, d_v=d_v, key_norm2=float(d_k), value_norm2=float(d_v),
                                   tau=tau, trials=trials, variant=variant)



def measure_exp_optimal_temperature(rng, *, d_k: int, keys: int = 64) -> Estimate:
    """The temperature minimising the estimated typical-key SNR^{-1}, by bounded scalar minimisation.

    Common random numbers: one draw of ``keys`` standard normal vectors is shifted to the tilted
    proposal at every trial ``tau``, so the objective is a smooth function of ``tau``.
    """
    from scipy.optimize import minimize_scalar

    k_i = stored_key(rng, d_k, float(d_k))
    z = rng.standard_normal((keys, d_k))

    def log_inverse_snr(tau):
        mu = 2.0 * k_i / tau
        x = z + mu
        terms = 2.0 * (x @ k_i) / tau - (x @ mu) + 0.5 * float(mu @ mu)
        return logsumexp(terms) - math.log(keys) - 2.0 * d_k / tau

    res = minimize_scalar(log_inverse_snr, bounds=(0.25, 64.0), method="bounded", options={"xatol": 1e-9})
    return exact_value(res.x, method="argmin over tau of the tilted-IS log SNR^{-1} (bounded Brent)")



def measure_inverse_snr_exp_mean(rng, *, N: int, d_k: int, d_v: int, tau: float, trials: int = 4000,
                                 variant=None, batch: int = 512) -> Estimate:
    """Mean over Gaussian ``(k_i, v_i)`` of the exp-kernel conditional SNR^{-1}.

    Each trial draws ``k_i ~ N(0, I)``, ``||v_i||^2 ~ chi^2(d_v)`` and estimates the conditional value
    with 16 tilted keys. Variant ``"typical_keys"`` fixes ``||k_i||^2 = d_k`` (the plug-in that the
    mean is not). The ESS is Kish's over the per-trial values (they are positive). ``batch`` trials
    are drawn at once: O(batch * 16 * d_k) floats.
    """
    check_variant(variant, {"typical_keys"})
    n, m = N - 1, 16
    logs = np.empty(trials)
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        k_i = rng.standard_normal((b, d_k))
        if variant == "typical_keys":
            k_i *= math.sqrt(d_k) / np.linalg.norm(k_i, axis=1, keepdims=True)
        norm2 = np.sum(k_i * k_i, axis=1)
        v2 = rng.chisquare(d_v, size=b)
        terms = _tilted_log_terms(rng, k_i, tau, m)
        logs[start:start + b] = (logsumexp(terms, axis=1) - math.log(m) + np.log(n * d_v / v2)
                                 - 2.0 * norm2 / tau)
    est = mean_estimate(np.exp(logs), method="MC over (k_i, v_i), tilted IS for the keys of each memory")
    return Estimate(est.estimate, est.standard_error, est.trials, kish_ess(logs), est.method)



def measure_inverse_snr_exp_ratio(rng, *, N: int, d_k: int, d_v: int, tau: float, trials: int = 4000,
                                  variant=None, batch: int = 512) -> Estimate:
    """Ratio of expectations ``E||r||^2 / E[kappa(k_i,k_i)^2 ||v_i||^2]`` for the exp kernel (tau > 4).

    Numerator and denominator are estimated from independent samples, each with the stored key
    ``k_i`` drawn from the exponential tilt of its own integrand:

    * numerator ``(N-1) d_v E[E(kappa^2 | k_i)]``: ``k_i ~ N(0, s_a I)``, ``s_a = 1/(1 - 4/tau^2)``,
      weight ``s_a^{d_k/2} exp(-2||k_i||^2/tau^2)``, inner expectation by 16 tilted keys;
    * denominator ``E exp(2||k_i||^2/tau) ||v_i||^2`` (infinite variance under ``N(0, I)`` for
      ``tau <= 8``): ``k_i ~ N(0, s_b I)``, ``s_b = 1/(1 - 4/tau)``, weight ``s_b^{d_k/2} exp(-2||k_i||^2/tau)``.

    The weights are Gaussian density ratios. Variant ``"naive"`` draws ``k_i ~ N(0, I)`` unweighted
    for both. Delta-method SE (the paired covariance is zero in expectation); ESS is the smaller
    Kish ESS of the two. ``batch`` trials at a time: O(batch * 16 * d_k) floats.
    """
    check_variant(variant, {"naive"})
    n, m = N - 1, 16
    naive = variant == "naive"
    s_a = 1.0 if naive else 1.0 / (1.0 - 4.0 / tau**2)
    s_b = 1.0 if naive else 1.0 / (1.0 - 4.0 / tau)
    log_num, log_den = np.empty(trials), np.empty(trials)
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        k_a = rng.standard_normal((b, d_k)) * math.sqrt(s_a)
        na = np.sum(k_a * k_a, axis=1)
        log_wa = 0.0 if naive else 0.5 * d_k * math.log(s_a) - 2.0 * na / tau**2
        inner = logsumexp(_tilted_log_terms(rng, k_a, tau, m), axis=1) - math.log(m)
        log_num[start:start + b] = log_wa + inner + math.log(n * d_v)
        k_b = rng.standard_normal((b, d_k)) * math.sqrt(s_b)
        nb = np.sum(k_b * k_b, axis=1)
        log_wb = 0.0 if naive else 0.5 * d_k * math.log(s_b) - 2.0 * nb / tau
        log_den[start:start + b] = log_wb + 2.0 * nb / tau + np.log(rng.chisquare(d_v, size=b))
    shift = max(log_num.max(), log_den.max())  # a common scale, cancels in the ratio
    est = ratio_of_means(np.exp(log_num - shift), np.exp(log_den - shift),
                         method="ratio of means, plain k_i ~ N(0, I)" if naive else
                         "ratio of independent means, k_i from the exponential tilt of each integrand")
    ess = min(kish_ess(log_num), kish_ess(log_den))
    return Estimate(est.estimate, est.standard_error, est.trials, ess, est.method)



def measure_normalization_invariance(rng, *, N: int, d_k: int, d_v: int, tau: float, variant=None) -> Estimate:
    """Softmax read-out: the ratio ``||r||^2/(c^2 ||v_i||^2)`` with and without dividing by ``Z``.

    Scores ``s_j = k_j^T k_i / tau`` for 16 queried stored keys; normalized weights are
    ``exp(s_j - logsumexp(s))``, unnormalized ones ``exp(s_j - max s)`` (a common scale that does not
    change the ratio and avoids overflow). Returns the max relative difference of the two ratios.
    Variant ``"noise_only"`` divides the noise by ``Z`` but not the signal.
    """
    check_variant(variant, {"noise_only"})
    K = rng.standard_normal((N, d_k))
    V = rng.standard_normal((N, d_v))
    queries = rng.choice(N, size=min(N, 16), replace=False)
    worst = 0.0
    for i in queries:
        s = K @ K[i] / tau
        raw = np.exp(s - s.max())
        norm = np.exp(s - logsumexp(s))
        def ratio(w_signal, w):
            w = w.copy()
            c = w_signal[i]
            w[i] = 0.0
            r = w @ V
            return float(r @ r) / (c**2 * float(V[i] @ V[i]))
        a = ratio(raw, raw)
        b = ratio(raw if variant == "noise_only" else norm, norm)
        worst = max(worst, abs(a - b) / a)
    return exact_value(worst, method="softmax vs unnormalized exp read-out, float64")



def measure_inverse_snr_value_mean(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                                   tau: float, mu_norm2: float, trials: int = 4000, variant=None,
                                   batch: int = 64) -> Estimate:
    """Conditional SNR^{-1} of the exp kernel when values are ``mu + N(0, I)`` (plain read-out MC).

    The noise ``r = sum_{j != i} kappa_j v_j`` is simulated in full (no analytic integration), so the
    mean's ``(sum_j kappa_j)^2`` crosstalk is measured, not assumed. Valid where
    ``||k_i||^2/tau^2 <= 1/2`` keeps the log-normal kernel light enough for plain MC; the ESS (Kish,
    per trial) is reported. Variant ``"centered"`` subtracts the mean from the values first.
    """
    check_variant(variant, {"centered"})
    n = N - 1
    mu = np.zeros(d_v)
    mu[0] = math.sqrt(mu_norm2)
    y = np.empty(trials)
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        u = rng.standard_normal((b, d_k))
        k_i = u * (math.sqrt(key_norm2) / np.linalg.norm(u, axis=1, keepdims=True))
        K = rng.standard_normal((b, n, d_k))
        V = rng.standard_normal((b, n, d_v))
        if variant != "centered":
            V += mu
        r = np.einsum("bn,bnv->bv", np.exp(np.einsum("bnd,bd->bn", K, k_i) / tau), V)
        y[start:start + b] = np.sum(r * r, axis=1) / (math.exp(2 * key_norm2 / tau) * value_norm2)
    est = mean_estimate(y, method="memory read-out MC, values with mean mu")
    return Estimate(est.estimate, est.standard_error, est.trials, kish_ess(np.log(y)), est.method)



def measure_exp_capacity_slope(rng, *, d_min: int, d_max: int, rho: float, trials: int = 20) -> Estimate:
    """Fitted slope of ``log N*`` against ``d_k`` for the exp kernel at ``tau = 2`` (step 4 in ``d_k``).

    At each ``d_k`` the tilted estimator at a typical stored pair (``N = 257``, ``d_v = ||v_i||^2 = 8``)
    gives the crosstalk per stored pair ``g``; ``N* = 1 + rho/g``; OLS slope of ``log N*`` on ``d_k``.
    """
    dims = list(range(d_min, d_max + 1, 4))
    logs, ses, ess = [], [], []
    for dk in dims:
        est = measure_inverse_snr_exp(rng, N=257, d_k=dk, d_v=8, key_norm2=float(dk), value_norm2=8.0,
                                      tau=2.0, trials=trials)
        g, g_se = est.estimate / 256, est.standard_error / 256
        cap = 1.0 + rho / g
        logs.append(math.log(cap))
        ses.append(rho / g**2 * g_se / cap)
        ess.append(est.ess)
    slope, se = ols_slope(dims, logs, ses)
    return Estimate(slope, se, trials * len(dims), float(min(ess)), "OLS slope of log capacity on d_k, tau = 2")
