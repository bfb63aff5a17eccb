"""Monte Carlo of the exponential-kernel memory ``o = sum_j v_j exp(k_j^T q / tau)`` (softmax attention, paper §3).

Shapes as in :mod:`numerics.kernels`: the other stored keys of one trial are ``(n, d_k)``, their
values ``(n, d_v)``, the queried stored key ``k_i`` ``(d_k,)``.

Reductions (each derived here; each has a direct matrix-level route below, compared in
``tests/test_heavy_tails.py`` at small points):

* **values integrated exactly.** Given the keys, ``E_V ||sum_j kappa_j v_j||^2 = d_v sum_j kappa_j^2`` for
  zero-mean unit-variance values (the cross terms ``E v_j^T v_l``, ``j != l``, vanish), and
  ``d_v sum_j kappa_j^2 + ||mu||^2 (sum_j kappa_j)^2`` for values ``mu + N(0, I)``.
* **scalar projections.** Given ``k_i`` with ``||k_i||^2 = s^2``, a Gaussian key ``k_j ~ N(0, I_{d_k})``
  enters only through ``k_j^T k_i = s z``, ``z ~ N(0, 1)``, whatever ``d_k`` (rotation invariance). So
  ``kappa_j = exp(s z_j / tau)`` and the key dimension matters only through ``||k_i||^2``.
* **the other pairs are exchangeable.** The conditional ``SNR^{-1}`` is ``(N - 1)`` times the per-pair
  moment ``d_v E[exp(2 s z / tau)] / (exp(2 s^2 / tau) ||v_i||^2)``, so the moment is simulated with a fixed
  number of draws per trial and multiplied by ``N - 1``: ``N = 10^6`` costs what ``N = 9`` costs.
* **the stored key's norm.** For ``k_i ~ N(0, I_{d_k})``, ``X = ||k_i||^2 ~ chi^2(d_k)``.

Heavy tails and partial tilts. ``kappa^2 = exp(2 s z / tau)`` is log-normal with log-variance
``a^2 = 4 s^2 / tau^2`` (16 at ``d_k = 16``, ``tau = 2``): a plain average is carried by a few draws and
comes out low while reporting a small SE. The draws therefore come from an exponentially tilted
proposal, tilted only **part** of the way: the fully tilted proposal ``N(a, 1)`` is the zero-variance one
(``f w`` equals the moment at every draw), which would turn the simulation into an evaluation of
the closed form. The tilt is the smallest that caps ``log(1 + relative variance)`` of each weighted
term at :data:`TILT_TARGET`:

* for ``exp(a z)``, ``z ~ N(0, 1)``, proposal ``N(lambda a, 1)``, weight ``exp(-lambda a z + lambda^2 a^2 / 2)``:
  ``1 + RV = exp((1 - lambda)^2 a^2)`` (:func:`normal_tilt`);
* for ``exp(b X)``, ``X ~ chi^2(k)``, proposal ``Gamma(k/2, theta)``, weight ``(theta/2)^{k/2} exp(X (1/theta - 1/2))``:
  ``1 + RV = (r^2 / (2 r - 1))^{k/2}`` with ``r = theta (1 - 2 b) / 2`` (:func:`chi2_tilt`; ``r = 1`` is the full tilt),
  capped at :data:`STORED_KEY_TILT_TARGET` (one such weight per trial).

Plain sampling is used wherever it already meets the cap. Every estimator reports Kish's
effective sample size ``(sum x)^2 / sum x^2`` over its weighted terms; the engine turns an ESS below
100 into an error.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from numerics.estimate import (Estimate, check_variant, check_variants, exact_value, kish_ess_from_sums, largest,
                               mean_estimate, monte_carlo, ols_slope, per_variant, ratio_of_means, smallest,
                               weighted_mean_of)
from numerics.kernels import kish_ess, stored_key

__all__ = [
    "KEYS_PER_TRIAL",
    "OPTIMUM_GRID",
    "STORED_KEY_TILT_TARGET",
    "TILT_TARGET",
    "chi2_tilt",
    "measure_exp_capacity_slope",
    "measure_exp_optimal_temperature",
    "measure_exp_ratio_readout",
    "measure_exp_readout",
    "measure_inverse_snr_exp",
    "measure_inverse_snr_exp_mean",
    "measure_inverse_snr_exp_ratio",
    "measure_inverse_snr_exp_typical",
    "measure_inverse_snr_value_mean",
    "measure_normalization_invariance",
    "normal_tilt",
    "tilted_exp_terms",
]

TILT_TARGET = 1.0  # cap on log(1 + relative variance) of each weighted term: RV <= e - 1 (about 1.7)
# the stored key's norm is one draw per trial (against many draws of z), so its weight gets a tighter cap
STORED_KEY_TILT_TARGET = 0.25  # RV <= 0.28
KEYS_PER_TRIAL = 256  # draws of the per-pair moment in one trial of the conditional estimators
OPTIMUM_GRID = tuple(np.round(np.linspace(0.3, 0.7, 9), 10))  # u = 1/tau around 1/2, for the temperature optimum


# --- partial tilts ---------------------------------------------------------------------------------

def normal_tilt(a, target: float = TILT_TARGET) -> np.ndarray:
    """Tilt ``lambda`` in ``[0, 1)`` of the proposal ``N(lambda a, 1)`` for the integrand ``exp(a z)``, ``z ~ N(0, 1)``.

    The weighted term ``exp(a z) w`` is log-normal with log-variance ``(1 - lambda)^2 a^2``, so
    ``log(1 + RV) = (1 - lambda)^2 a^2``; ``lambda`` is the smallest tilt bringing it to ``target`` (0 where
    plain sampling already does). ``lambda = 1`` would be the zero-variance proposal.

    >>> normal_tilt(np.array([0.5, 4.0])).tolist()
    [0.0, 0.75]
    """
    a = np.abs(np.asarray(a, dtype=float))
    root = math.sqrt(target)
    return np.where(a <= root, 0.0, 1.0 - root / np.maximum(a, root))


def tilted_exp_terms(rng, a: np.ndarray, m: int, tilt: np.ndarray) -> np.ndarray:
    """``log(f w)`` for ``f = exp(a z)``: ``m`` draws per entry of ``a`` (shape ``(b,)``), returns ``(b, m)``.

    ``z ~ N(lambda a, 1)`` with ``lambda = tilt``, weight ``w = phi(z) / phi(z - lambda a) = exp(-lambda a z +
    lambda^2 a^2 / 2)``. ``E[f w] = E_{N(0,1)} exp(a z) = exp(a^2 / 2)`` whatever the tilt.
    """
    shift = np.asarray(tilt * a, dtype=float)
    z = rng.standard_normal((shift.size, m)) + shift[:, None]
    return (a - shift)[:, None] * z + 0.5 * (shift * shift)[:, None]


def chi2_tilt(b: float, dof: float, target: float = STORED_KEY_TILT_TARGET) -> float:
    """Scale ``theta`` of the proposal ``Gamma(dof/2, theta)`` for ``exp(b X)``, ``X ~ chi^2(dof)``, ``b < 1/2``.

    With ``r = theta (1 - 2b)/2`` the weighted term has ``1 + RV = (r^2/(2r - 1))^{dof/2}`` (``r > 1/2``;
    infinite otherwise), which is 1 at the full tilt ``r = 1``. Plain sampling is ``theta = 2``, i.e.
    ``r0 = 1 - 2b``; the returned ``r`` is the one closest to ``r0`` (between ``r0`` and 1) meeting the cap.

    >>> chi2_tilt(0.0, 8)
    2.0
    """
    if not b < 0.5:
        raise ValueError(f"chi2_tilt needs b < 1/2 (E exp(b X) finite), got b={b!r}")
    cap = math.exp(2.0 * target / dof)
    r0 = 1.0 - 2.0 * b
    if r0 > 0.5 and r0 * r0 / (2.0 * r0 - 1.0) <= cap:
        r = r0
    elif r0 < 1.0:
        r = cap - math.sqrt(cap * cap - cap)  # the root in (1/2, 1]
    else:
        r = cap + math.sqrt(cap * cap - cap)  # the root in [1, r0)
    return 2.0 * r / (1.0 - 2.0 * b)


def _tilted_chi2(rng, b: float, dof: int, size: int, *, plain: bool = False):
    """``X ~ Gamma(dof/2, theta)`` (``theta`` of :func:`chi2_tilt`, 2 if ``plain``), ``log w`` for ``chi^2(dof)``."""
    theta = 2.0 if plain else chi2_tilt(b, dof)
    x = rng.gamma(0.5 * dof, theta, size=size)
    return x, 0.5 * dof * math.log(theta / 2.0) + x * (1.0 / theta - 0.5)


def _log_sums(log_terms: np.ndarray) -> dict:
    """Per-trial ``log sum x`` and ``log sum x^2`` of positive weighted terms ``(trials, m)``, for Kish's ESS."""
    return {"log_sum": logsumexp(log_terms, axis=1), "log_sum_sq": logsumexp(2.0 * log_terms, axis=1)}


# --- conditional SNR^{-1} (reduced form) -----------------------------------------------------------

def _conditional_columns(rng, *, N, key_norm2, d_v, value_norm2, tau, trials, plain, m=KEYS_PER_TRIAL):
    """Per-trial conditional SNR^{-1} estimates ``y`` and the log sums of their weighted terms."""
    a = 2.0 * math.sqrt(key_norm2) / tau  # log kappa^2 = a z
    tilt = 0.0 if plain else float(normal_tilt(a))
    terms = tilted_exp_terms(rng, np.full(trials, a), m, np.full(trials, tilt))
    log_scale = math.log((N - 1) * d_v / value_norm2) - 2.0 * key_norm2 / tau - math.log(m)
    return {"y": np.exp(logsumexp(terms, axis=1) + log_scale), **_log_sums(terms)}


@monte_carlo(weighted_mean_of("y", "exp kernel, reduced form: values integrated exactly, k_j^T k_i = ||k_i|| z, "
                                   f"{KEYS_PER_TRIAL} draws of z per trial from a partially tilted N(lambda a, 1)"))
def measure_inverse_snr_exp(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                            tau: float, trials: int = 200, variant=None) -> dict:
    """Conditional SNR^{-1} of the exponential kernel ``exp(x^T y / tau)``, given ``||k_i||^2``, ``||v_i||^2``.

    Estimand: ``(N - 1) d_v E[exp(2 k_j^T k_i / tau) | k_i] / (exp(2 ||k_i||^2 / tau) ||v_i||^2)``. By the
    reductions of the module docstring each trial averages ``f w`` over :data:`KEYS_PER_TRIAL` draws
    ``z`` (``f = exp(a z)``, ``a = 2 ||k_i|| / tau``) from the partially tilted proposal and scales by
    ``(N - 1) d_v / (exp(2 ||k_i||^2/tau) ||v_i||^2)``; ``d_k`` enters only through ``||k_i||^2``.
    Variant ``"naive"``: plain sampling (``lambda = 0``), same estimand, heavy-tailed estimator.
    Columns: ``y`` (per-trial estimate), ``log_sum``, ``log_sum_sq`` (Kish's ESS over all terms).
    """
    check_variant(variant, {"naive"})
    return _conditional_columns(rng, N=N, key_norm2=key_norm2, d_v=d_v, value_norm2=value_norm2, tau=tau,
                                trials=trials, plain=variant == "naive")


@monte_carlo(weighted_mean_of("y", "exp kernel at a typical stored pair, reduced form, partially tilted z"))
def measure_inverse_snr_exp_typical(rng, *, N: int, d_k: int, d_v: int, tau_choice: int = 0, trials: int = 100,
                                    variant=None) -> dict:
    """:func:`measure_inverse_snr_exp` at a typical stored pair (``||k_i||^2 = d_k``, ``||v_i||^2 = d_v``).

    ``tau_choice`` 0 is ``tau = 2``, 1 is ``tau = sqrt(d_k)``.
    """
    if tau_choice not in (0, 1):
        raise ValueError(f"tau_choice must be 0 (tau = 2) or 1 (tau = sqrt(d_k)), got {tau_choice!r}")
    check_variant(variant, {"naive"})
    tau = 2.0 if tau_choice == 0 else math.sqrt(d_k)
    return _conditional_columns(rng, N=N, key_norm2=float(d_k), d_v=d_v, value_norm2=float(d_v), tau=tau,
                                trials=trials, plain=variant == "naive")


# --- direct matrix-level routes (no reduction; plain sampling, small light-tailed points) ---------

def _readout_reduce(columns, **_) -> Estimate:
    est = mean_estimate(columns["y"], method="full matrix read-out MC (keys and values drawn, plain sampling)")
    return Estimate(est.estimate, est.standard_error, est.trials, kish_ess(np.log(columns["y"])), est.method)


@monte_carlo(_readout_reduce)
def measure_exp_readout(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float, tau: float,
                        mu_norm2: float = 0.0, trials: int = 400, batch: int = 64, variant=None) -> dict:
    """``||r||^2 / (kappa(k_i, k_i)^2 ||v_i||^2)`` by the full read-out, the reference for the reduced forms.

    Each trial draws a stored key direction (``||k_i||^2 = key_norm2``), the other ``N - 1`` keys
    ``K ~ N(0, I_{d_k})`` and values ``V = mu + N(0, I_{d_v})`` (``||mu||^2 = mu_norm2``, along the first axis),
    and evaluates ``r = V^T exp(K k_i / tau)`` in full: no projection, no integration, no weights. Its mean is
    the conditional ``SNR^{-1}`` (of :func:`measure_inverse_snr_exp` when ``mu = 0``, of
    :func:`measure_inverse_snr_value_mean` otherwise). Plain sampling: only where ``4 ||k_i||^2 / tau^2`` is
    small (Kish's ESS over the per-trial values is reported). ``batch`` trials share one draw:
    O(batch N (d_k + d_v)) floats. Variant ``"centered"`` leaves the mean out of the values.
    """
    check_variant(variant, {"centered"})
    mu = np.zeros(d_v)
    mu[0] = math.sqrt(mu_norm2) if variant != "centered" else 0.0
    y = np.empty(trials)
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        k_i = np.stack([stored_key(rng, d_k, key_norm2) for _ in range(b)])
        K = rng.standard_normal((b, N - 1, d_k))
        V = rng.standard_normal((b, N - 1, d_v)) + mu
        # kappa_j / kappa_ii = exp((k_j^T k_i - ||k_i||^2) / tau): the signal's scale taken out before exp
        weights = np.exp((np.einsum("bnd,bd->bn", K, k_i) - key_norm2) / tau)
        r = np.einsum("bn,bnv->bv", weights, V)
        y[start:start + b] = np.sum(r * r, axis=1) / value_norm2
    return {"y": y}


def _ratio_readout_reduce(columns, **_) -> Estimate:
    est = ratio_of_means(columns["noise"], columns["signal"],
                         method="ratio of means of ||r||^2 and c^2 ||v_i||^2, full read-out, plain sampling")
    ess = smallest([kish_ess(np.log(columns["noise"])), kish_ess(np.log(columns["signal"]))])
    return Estimate(est.estimate, est.standard_error, est.trials, ess, est.method)


@monte_carlo(_ratio_readout_reduce)
def measure_exp_ratio_readout(rng, *, N: int, d_k: int, d_v: int, tau: float, trials: int = 4000, batch: int = 256,
                              variant=None) -> dict:
    """``E||r||^2 / E[c^2 ||v_i||^2]`` by the full read-out, all pairs Gaussian (query ``k_i``, stored pair ``i = 0``).

    Columns per trial: ``noise = ||sum_{j != i} w_j v_j||^2`` and ``signal = w_i^2 ||v_i||^2``, with ``w_j =
    exp(k_j^T k_i / tau)``. Variant ``"softmax"`` divides every weight by ``Z = sum_j w_j`` first: the
    per-trial ratio is unchanged, but ``Z`` is random and correlated with both, so the ratio of the means
    is not. Plain sampling (the signal's second moment needs ``tau > 8``). O(batch N (d_k + d_v)) floats.
    """
    check_variant(variant, {"softmax"})
    noise, signal = np.empty(trials), np.empty(trials)
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        K = rng.standard_normal((b, N, d_k))
        V = rng.standard_normal((b, N, d_v))
        scores = np.einsum("bnd,bd->bn", K, K[:, 0, :]) / tau
        if variant == "softmax":
            w = np.exp(scores - logsumexp(scores, axis=1, keepdims=True))
        else:
            w = np.exp(scores)
        r = np.einsum("bn,bnv->bv", w[:, 1:], V[:, 1:, :])
        noise[start:start + b] = np.sum(r * r, axis=1)
        signal[start:start + b] = w[:, 0] ** 2 * np.sum(V[:, 0, :] ** 2, axis=1)
    return {"noise": noise, "signal": signal}


# --- mean over the stored pair ---------------------------------------------------------------------

@monte_carlo(weighted_mean_of("y", "MC over (||k_i||^2, ||v_i||^2): ||k_i||^2 from a partially tilted Gamma, "
                                   "partially tilted z for the other keys, values integrated exactly"))
def measure_inverse_snr_exp_mean(rng, *, N: int, d_k: int, d_v: int, tau: float, trials: int = 20000,
                                 variant=None, keys_per_trial: int = 8) -> dict:
    """Mean over Gaussian ``(k_i, v_i)`` of the exp-kernel conditional SNR^{-1}.

    Per trial: ``X = ||k_i||^2`` from the partial tilt (:func:`chi2_tilt`) of ``chi^2(d_k)`` for the integrand
    ``exp(-c X)``, ``c = 2 (tau - 1)/tau^2`` (the conditional value's dependence on ``X``), with its weight;
    ``||v_i||^2 ~ chi^2(d_v)`` plainly (so ``E d_v/||v_i||^2 = d_v/(d_v - 2)`` is simulated, not assumed); and
    the conditional moment from ``keys_per_trial`` partially tilted draws of ``z``. Variant
    ``"typical_keys"`` fixes ``X = d_k`` (the plug-in that the mean is not). Kish's ESS is over the
    per-trial values.
    """
    check_variant(variant, {"typical_keys"})
    if variant == "typical_keys":
        x, log_wx = np.full(trials, float(d_k)), np.zeros(trials)
    else:
        x, log_wx = _tilted_chi2(rng, -2.0 * (tau - 1.0) / tau**2, d_k, trials)
    v2 = rng.chisquare(d_v, size=trials)
    a = 2.0 * np.sqrt(x) / tau
    terms = tilted_exp_terms(rng, a, keys_per_trial, normal_tilt(a))
    log_y = (logsumexp(terms, axis=1) - math.log(keys_per_trial) + math.log((N - 1) * d_v) - np.log(v2)
             - 2.0 * x / tau + log_wx)
    return {"y": np.exp(log_y), "log_sum": log_y, "log_sum_sq": 2.0 * log_y}


# --- ratio of expectations -------------------------------------------------------------------------

def _ratio_reduce(columns, **_) -> Estimate:
    num, den = columns["num"], columns["den"]
    est = ratio_of_means(num, den, method="ratio of means; ||k_i||^2 of numerator and denominator from partial "
                                          "Gamma tilts of their own integrands, z partially tilted")
    return Estimate(est.estimate, est.standard_error, est.trials,
                    smallest([kish_ess(np.log(num)), kish_ess(np.log(den))]), est.method)


@monte_carlo(_ratio_reduce)
def measure_inverse_snr_exp_ratio(rng, *, N: int, d_k: int, d_v: int, tau: float, trials: int = 20000,
                                  variant=None, keys_per_trial: int = 8) -> dict:
    """Ratio of expectations ``E||r||^2 / E[kappa(k_i,k_i)^2 ||v_i||^2]`` for the exp kernel (``tau > 4``).

    Both means are over ``X = ||k_i||^2 ~ chi^2(d_k)``, each from its own draws in the same trial:

    * ``num = (N-1) d_v E[exp(2 sqrt(X) z / tau)]``: ``X`` from the partial Gamma tilt of ``chi^2(d_k)`` for
      the integrand ``exp(2 X / tau^2)`` (the inner moment's dependence on ``X``), the inner moment from
      ``keys_per_trial`` partially tilted draws of ``z``;
    * ``den = exp(2 X / tau) ||v_i||^2``: ``X`` from the partial tilt for ``exp(2 X / tau)`` (plain sampling
      has infinite variance for ``tau <= 8``), ``||v_i||^2 ~ chi^2(d_v)`` plainly.

    Variant ``"naive"``: plain sampling throughout. Delta-method SE with the paired covariance.
    """
    check_variant(variant, {"naive"})
    plain = variant == "naive"
    m = keys_per_trial
    xa, log_wa = _tilted_chi2(rng, 2.0 / tau**2, d_k, trials, plain=plain)
    a = 2.0 * np.sqrt(xa) / tau
    terms = tilted_exp_terms(rng, a, m, np.zeros(trials) if plain else normal_tilt(a))
    log_num = log_wa + logsumexp(terms, axis=1) - math.log(m) + math.log((N - 1) * d_v)
    xb, log_wb = _tilted_chi2(rng, 2.0 / tau, d_k, trials, plain=plain)
    log_den = log_wb + 2.0 * xb / tau + np.log(rng.chisquare(d_v, size=trials))
    return {"num": np.exp(log_num), "den": np.exp(log_den)}


# --- normalization and value means -----------------------------------------------------------------

def measure_normalization_invariance(rng, *, N: int, d_k: int, d_v: int, tau: float, variant=None) -> Estimate:
    """Softmax read-out: the per-query ratio ``||r||^2/(c^2 ||v_i||^2)`` with and without dividing by ``Z``.

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
        worst = largest([worst, abs(a - b) / a])
    return exact_value(worst, method="softmax vs unnormalized exp read-out, float64")


def _value_mean_reduce(columns, **_) -> Estimate:
    est = mean_estimate(columns["y"], method="reduced form: k_j^T k_i = ||k_i|| z (plain), values with mean mu "
                                             "integrated exactly given the keys")
    return Estimate(est.estimate, est.standard_error, est.trials, kish_ess(np.log(columns["y"])), est.method)


@monte_carlo(_value_mean_reduce, shared_variants={"centered"})
def measure_inverse_snr_value_mean(rng, *, N: int, d_k: int, d_v: int, key_norm2: float, value_norm2: float,
                                   tau: float, mu_norm2: float, trials: int = 4000, variant=None,
                                   batch: int = 4096) -> dict:
    """Conditional SNR^{-1} of the exp kernel when values are ``mu + N(0, I)``.

    Given the keys, ``E_V ||sum_{j != i} kappa_j v_j||^2 = d_v sum_j kappa_j^2 + ||mu||^2 (sum_j kappa_j)^2``
    (``v_j = mu + xi_j``: the ``xi`` cross terms vanish, the mean contributes ``||mu||^2`` times the squared
    total weight). Each trial draws the ``N - 1`` projections ``z_j ~ N(0, 1)`` (``kappa_j = exp(||k_i|| z_j/tau)``)
    plainly, so ``(sum_j kappa_j)^2``, and with it the count of the pairs ``j != l``, is simulated, not
    assumed. Plain sampling is valid where ``||k_i||^2/tau^2 <= 1/2`` (claim domain); Kish's ESS over the
    per-trial values is reported. Variant ``"centered"``: the mean is removed from the values
    (``mu = 0``), on the same draws (``variant=(None, "centered")``: both from one set of draws).
    ``batch`` trials at a time: O(batch N) floats.
    """
    group = check_variants(variant, {"centered"})
    mus = [0.0 if v == "centered" else mu_norm2 for v in group]
    s = math.sqrt(key_norm2)
    ys = [np.empty(trials) for _ in group]
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        kappa = np.exp((s * rng.standard_normal((b, N - 1)) - key_norm2) / tau)  # kappa_j / kappa_ii
        total = kappa.sum(axis=1)
        square = d_v * np.sum(kappa * kappa, axis=1)
        for mu2, y in zip(mus, ys):
            y[start:start + b] = (square + mu2 * total * total) / value_norm2
    return per_variant(variant, [{"y": y} for y in ys])


# --- the optimum temperature and the capacity slope -------------------------------------------------

def _vertex_reduce(columns, **_) -> Estimate:
    """Vertex ``tau* = 1/u*`` of the least-squares parabola through ``(u_k, log mean y_k)``, delta-method SE.

    ``log E y(u)`` is exactly quadratic in ``u = 1/tau`` for Gaussian keys, so the fit has no model
    error. The SE propagates the sample covariance of the per-trial columns through the log, the
    linear fit and ``tau* = -2 beta_2 / beta_1``.
    """
    log_y = columns["log_y"]
    n = log_y.shape[0]
    u = np.asarray(OPTIMUM_GRID)
    log_ybar = logsumexp(log_y, axis=0) - math.log(n)
    cov = np.cov(np.exp(log_y - log_ybar), rowvar=False, ddof=1) / n  # covariance of log ybar (delta method)
    design = np.column_stack([np.ones_like(u), u, u * u])
    hat = np.linalg.pinv(design)
    beta = hat @ log_ybar
    beta_cov = hat @ cov @ hat.T
    tau_star = -2.0 * beta[2] / beta[1]
    grad = np.array([0.0, 2.0 * beta[2] / beta[1] ** 2, -2.0 / beta[1]])
    ess = smallest([kish_ess_from_sums(columns["log_sum"][:, k], columns["log_sum_sq"][:, k]) for k in range(u.size)])
    return Estimate(float(tau_star), float(np.sqrt(max(grad @ beta_cov @ grad, 0.0))), n, ess,
                    f"vertex of a parabola fitted to simulated log SNR^-1 at u = 1/tau in {OPTIMUM_GRID[0]}.."
                    f"{OPTIMUM_GRID[-1]} ({len(OPTIMUM_GRID)} points), delta-method SE")


@monte_carlo(_vertex_reduce)
def measure_exp_optimal_temperature(rng, *, d_k: int, key_var: float = 1.0, trials: int = 200,
                                    keys_per_trial: int = 64, variant=None) -> dict:
    """The SNR^{-1}-minimising temperature at a typical stored key, measured from simulated values.

    Keys ``k_j ~ N(0, key_var I_{d_k})``, stored key of typical norm ``||k_i||^2 = key_var d_k``, query ``k_i``.
    At each ``u = 1/tau`` of :data:`OPTIMUM_GRID` a trial estimates the log of the per-pair crosstalk
    ``y(u) = E[exp(2 k_j^T k_i u)] / exp(2 ||k_i||^2 u)`` (``k_j^T k_i = sqrt(key_var) ||k_i|| z``) from
    ``keys_per_trial`` partially tilted draws, independent across ``u``. (Common random numbers would
    be degenerate here: where every ``u`` is tilted to the same cap, ``log(f w)`` is the same standard
    normal times ``sqrt(TILT_TARGET)`` plus a constant in ``u``, so the noise would cancel exactly in the
    fit.) The reducer fits a parabola to ``log ybar(u)`` and returns its vertex as ``tau*``. Variant
    ``"wrong_way"`` applies the temperature as ``exp(tau x^T y)`` (a route slip).
    """
    check_variant(variant, {"wrong_way"})
    s2 = key_var * d_k
    u = np.asarray(OPTIMUM_GRID)
    beta = 1.0 / u if variant == "wrong_way" else u  # the factor multiplying x^T y in the kernel
    log_y = np.empty((trials, u.size))  # logs: the wrong-way route reaches e^{-400}
    log_sum, log_sum_sq = np.empty_like(log_y), np.empty_like(log_y)
    for k, bk in enumerate(beta):
        a = 2.0 * math.sqrt(key_var * s2) * bk
        lam = float(normal_tilt(a))
        terms = tilted_exp_terms(rng, np.full(trials, a), keys_per_trial, np.full(trials, lam))
        log_y[:, k] = logsumexp(terms, axis=1) - math.log(keys_per_trial) - 2.0 * s2 * bk
        sums = _log_sums(terms)
        log_sum[:, k], log_sum_sq[:, k] = sums["log_sum"], sums["log_sum_sq"]
    return {"log_y": log_y, "log_sum": log_sum, "log_sum_sq": log_sum_sq}


def capacity_dims(d_min: int, d_max: int) -> np.ndarray:
    """The key dimensions ``d_min, d_min + 4, ..., <= d_max`` of the capacity slope."""
    return np.arange(d_min, d_max + 1, 4)


def _slope_reduce(columns, *, d_min, d_max, rho, variant=None, **_) -> Estimate:
    """OLS slope of ``log(rho / gbar_d)`` on ``d`` (independent draws per ``d``: independent ``log gbar_d``).

    Variant ``"stored_pair_counted"`` fits ``log(1 + rho / gbar_d)`` instead (the capacity ``N*`` with the
    queried pair counted), on the same draws: the slip a near-miss control predicts in closed form.
    """
    g = columns["g"]
    n = g.shape[0]
    gbar = g.mean(axis=0)
    rel_se = g.std(axis=0, ddof=1) / math.sqrt(n) / gbar
    if variant == "stored_pair_counted":
        capacity = 1.0 + rho / gbar
        se_log = rel_se * (rho / gbar) / capacity  # d log(1 + rho/g) = -(rho/g)/(1 + rho/g) d log g
    else:
        capacity, se_log = rho / gbar, rel_se
    slope, se = ols_slope(capacity_dims(d_min, d_max), np.log(capacity), se_log)
    ess = smallest([kish_ess_from_sums(columns["log_sum"][:, k], columns["log_sum_sq"][:, k])
                    for k in range(g.shape[1])])
    return Estimate(slope, se, n, ess, "OLS slope of log(rho/g) on d_k, g = simulated per-pair crosstalk at a "
                                       "typical pair, tau = 2 (partially tilted z)")


@monte_carlo(_slope_reduce, shared_variants={"stored_pair_counted"})
def measure_exp_capacity_slope(rng, *, d_min: int, d_max: int, rho: float, trials: int = 200,
                               keys_per_trial: int = 64, variant=None) -> dict:
    """Per-pair crosstalk ``g(d) = E[kappa^2 | k_i] / kappa(k_i, k_i)^2`` at a typical pair, ``tau = 2``, each ``d``.

    ``||k_i||^2 = d``, ``||v_i||^2 = d_v`` (the value factor is 1), so ``g = E exp(sqrt(d) z) / e^d``, estimated
    from ``keys_per_trial`` partially tilted draws (independent across ``d``). The capacity in other pairs
    at target ``SNR^{-1} = rho`` is ``rho / g``; the reducer fits the slope of its log against ``d``
    (variant ``"stored_pair_counted"``: of ``log(1 + rho / g)``, on the same draws: it changes only the
    reducer, so a group of routes gets the same columns).
    """
    group = check_variants(variant, {"stored_pair_counted"})
    dims = capacity_dims(d_min, d_max)
    g = np.empty((trials, dims.size))
    log_sum, log_sum_sq = np.empty_like(g), np.empty_like(g)
    for k, d in enumerate(dims):
        a = math.sqrt(d)  # 2 ||k_i|| / tau at tau = 2
        terms = tilted_exp_terms(rng, np.full(trials, a), keys_per_trial, np.full(trials, float(normal_tilt(a))))
        g[:, k] = np.exp(logsumexp(terms, axis=1) - math.log(keys_per_trial) - float(d))
        sums = _log_sums(terms)
        log_sum[:, k], log_sum_sq[:, k] = sums["log_sum"], sums["log_sum_sq"]
    return per_variant(variant, [{"g": g, "log_sum": log_sum, "log_sum_sq": log_sum_sq}] * len(group))
