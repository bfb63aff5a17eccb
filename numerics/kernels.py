"""Monte Carlo of kernel associative memories ``o = sum_j v_j kappa(k_j, q)`` (paper §3).

Shapes: the other stored keys of one trial are ``K`` ``(n, d_k)`` with ``n = N - 1``, their values
``V`` ``(n, d_v)``; the queried stored key ``k_i`` is ``(d_k,)``. Kernels of the inner product are
evaluated through one matrix-vector product ``K k_i`` per trial; no ``N x N`` Gram matrix is built.

Heavy tails. For the exponential kernel ``kappa^2 = exp(2 k_j^T k_i / tau)`` is log-normal with
log-variance ``4 ||k_i||^2 / tau^2`` (16 at ``d_k = 16``, ``tau = 2``): a plain average of it is
dominated by a handful of samples and comes out low while reporting a small SE. The routines here
therefore

* integrate the values exactly given the keys (``E_v ||sum_j v_j kappa_j||^2 = d_v sum_j kappa_j^2``
  for zero-mean unit-variance values: the cross terms have conditional mean zero);
* draw the keys from the exponentially tilted proposal ``N(mu, I)``, ``mu = 2 k_i / tau``, with
  weight ``w = phi(x) / phi(x - mu) = exp(-mu^T x + ||mu||^2 / 2)``;
* report the effective sample size ``ESS = (sum f w)^2 / sum (f w)^2`` of the weighted integrand
  (Kish's formula applied to ``f w``), which a plain average (``w = 1``) also gets: a small ESS means
  a few samples carry the estimate, and the engine turns it into an error.

For the exponential moment the tilt is the optimal (zero-variance) proposal: ``f w`` is the same
number for every sample, so the estimate is exact up to rounding and the ESS is the sample count.
The check is then on the exactness of that computation in float64, with the ESS showing why.
"""

from __future__ import annotations

import math
from itertools import combinations_with_replacement

import numpy as np
from scipy.special import logsumexp

from numerics.estimate import Estimate, check_variant, exact_value, mean_estimate, ratio_of_means

__all__ = [
    "ROUNDING_FLOOR",
    "kish_ess",
    "log_exp_moment",
    "measure_accuracy_cliff",
    "measure_exp_capacity_slope",
    "measure_exp_optimal_temperature",
    "measure_feature_map_dimension",
    "measure_feature_map_identity",
    "measure_inverse_snr_exp",
    "measure_inverse_snr_exp_mean",
    "measure_inverse_snr_exp_ratio",
    "measure_inverse_snr_exp_typical",
    "measure_inverse_snr_poly",
    "measure_inverse_snr_relu",
    "measure_inverse_snr_truncated",
    "measure_inverse_snr_value_mean",
    "measure_normalization_invariance",
    "measure_poly_capacity_exponent",
    "measure_truncation_error",
    "poly_features",
    "stored_key",
    "top1_accuracy",
]


ROUNDING_FLOOR = 1e-12  # relative: float64 exp/log round-off of a tilted estimate, far above 1e-15 in practice


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


# --- exponential kernel: tilted importance sampling ---------------------------------------------

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


# --- normalization ------------------------------------------------------------------------------

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


# --- capacity growth ----------------------------------------------------------------------------

def _doubling(d_min, d_max):
    dims = [d_min]
    while dims[-1] * 2 <= d_max:
        dims.append(dims[-1] * 2)
    if len(dims) < 3:
        raise ValueError(f"need at least 3 dimensions in [d_min, d_max], got {dims!r}")
    return dims


def _ols(x, logs, log_ses):
    x = np.asarray(x, dtype=float)
    w = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    return float(w @ np.asarray(logs)), float(np.sqrt(np.sum(w**2 * np.asarray(log_ses) ** 2)))


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
    slope, se = _ols(np.log(dims), logs, ses)
    return Estimate(slope, se, trials * len(dims), None, "OLS exponent of MC capacity, polynomial kernel")


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
    slope, se = _ols(dims, logs, ses)
    return Estimate(slope, se, trials * len(dims), float(min(ess)), "OLS slope of log capacity on d_k, tau = 2")


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
