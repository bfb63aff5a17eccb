"""Fixed points of the update rules: a fixed set of N pairs presented again and again, or an i.i.d. stream.

Shapes: keys ``K`` ``(N, d_k)``, values ``V`` ``(N, d_v)``, memory ``S`` ``(d_v, d_k)``, ``S_0 = 0``.

* delta rule, N <= d_k independent keys, presented cyclically with ``0 < beta ||k_i||^2 < 2``:
  converges to the minimum-norm interpolant ``S* = V^T (K K^T)^{-1} K`` (relaxed Kaczmarz);
* batch delta rule ``S <- S + beta (V^T K - S K^T K)`` (the summed delta of one epoch, all N pairs at
  once), ``0 < beta < 2 / lambda_max(K^T K)``: converges to the least-squares memory
  ``S* = V^T K (K^T K)^{-1}`` (N > d_k). Presented one pair at a time with a constant ``beta`` the
  rule ends in a limit cycle near, but not at, ``S*`` (used as a wrong route);
* additive rule: ``S_E = E V^T K`` after E epochs (no fixed point);
* decayed rule with i.i.d. Gaussian pairs: ``E||S_t||_F^2 = d_k d_v (1 - gamma^{2t}) / (1 - gamma^2)``,
  estimated by simulating the recurrence (a :class:`numerics.estimate.MonteCarlo`).
"""

from __future__ import annotations

import numpy as np

from numerics.estimate import Estimate, check_variant, exact_value, mean_of, monte_carlo

__all__ = [
    "cyclic_delta",
    "epoch_map",
    "iterate_affine",
    "measure_additive_growth",
    "measure_decay_energy",
    "measure_delta_interpolation",
    "measure_delta_least_squares",
]


def cyclic_delta(K, V, beta: float, epochs: int, *, additive: bool = False) -> np.ndarray:
    """``epochs`` passes of ``S <- S + beta (v_i - S k_i) k_i^T`` over the pairs in order (``S_0 = 0``).

    ``additive=True`` runs ``S <- S + v_i k_i^T`` instead.
    """
    S = np.zeros((V.shape[1], K.shape[1]))
    for _ in range(epochs):
        for k, v in zip(K, V):
            S = S + (np.outer(v, k) if additive else beta * np.outer(v - S @ k, k))
    return S


def epoch_map(K, V, beta: float):
    """``(P, c)`` with one cyclic epoch of the delta rule equal to ``S -> S P + c``.

    Each step ``S -> S (I - beta k k^T) + beta v k^T`` is affine; composing them in order gives the epoch.
    """
    P = np.eye(K.shape[1])
    c = np.zeros((V.shape[1], K.shape[1]))
    for k, v in zip(K, V):
        step = np.eye(K.shape[1]) - beta * np.outer(k, k)
        P, c = P @ step, c @ step + beta * np.outer(v, k)
    return P, c


def iterate_affine(P, c, log2_steps: int, projector=None) -> np.ndarray:
    """``S_n`` for ``S -> S P + c`` from ``S_0 = 0`` after ``n = 2^log2_steps`` steps, by repeated squaring
    (``(P, c) o (P, c) = (P^2, c P + c)``). ``projector`` (``d x d``) is applied to ``c`` after each squaring:
    the exact iterates lie in its range, and rounding outside it would otherwise double each time."""
    for _ in range(log2_steps):
        P, c = P @ P, c @ P + c
        if projector is not None:
            c = c @ projector
    return c


def _relative_distance(S, target) -> float:
    return float(np.linalg.norm(S - target) / np.linalg.norm(target))


def measure_delta_interpolation(rng, *, N: int, d_k: int, d_v: int, x: float, log2_epochs: int,
                                variant=None) -> Estimate:
    """``||S_E - S*||_F / ||S*||_F`` after ``E = 2^log2_epochs`` cyclic passes, unit keys (``beta = x``), ``N <= d_k``.

    Keys: Gaussian rows normalized to unit length (independent with probability 1); values Gaussian.
    ``S* = V^T (K K^T)^{-1} K``. The epochs are composed exactly (:func:`epoch_map`, :func:`iterate_affine`);
    ``diagnostics["one_epoch"]`` is the distance after a single simulated pass. Variants: ``"additive"``
    runs the additive rule instead (one pass adds ``V^T K``); ``"reflection"`` steps with ``x = 2``, the edge
    of the interval, where each step reflects the error and the distance stays 1.
    """
    check_variant(variant, {"additive", "reflection"})
    if variant == "reflection":
        x = 2.0
    K = rng.standard_normal((N, d_k))
    K /= np.linalg.norm(K, axis=1, keepdims=True)
    V = rng.standard_normal((N, d_v))
    projector = K.T @ np.linalg.solve(K @ K.T, K)
    target = V.T @ np.linalg.solve(K @ K.T, K)
    if variant == "additive":
        S = (2**log2_epochs) * (V.T @ K)
    else:
        S = iterate_affine(*epoch_map(K, V, x), log2_epochs, projector)
    one = _relative_distance(cyclic_delta(K, V, x, 1), target)
    return exact_value(_relative_distance(S, target), method="cyclic delta rule (epochs composed) vs min-norm interpolant",
                       one_epoch=one)


def measure_delta_least_squares(rng, *, N: int, d_k: int, d_v: int, step_fraction: float, iterations: int,
                                variant=None) -> Estimate:
    """``||S_n - S*||_F / ||S*||_F`` for the batch delta rule with ``beta = step_fraction * 2 / lambda_max``.

    Keys and values Gaussian, ``N > d_k``; ``S* = V^T K (K^T K)^{-1}``. Variants: ``"cyclic"``: the pairs are
    presented one at a time with the constant ``beta = step_fraction / max_i ||k_i||^2`` for
    ``2^ceil(log2(iterations))`` epochs (ends in a limit cycle, not at ``S*``); ``"beyond_limit"``: the batch rule with
    ``beta = 2.05 / lambda_max``, just past the step-size limit (the top mode grows by 1.05 per iteration).
    """
    check_variant(variant, {"cyclic", "beyond_limit"})
    K = rng.standard_normal((N, d_k))
    V = rng.standard_normal((N, d_v))
    H, G = K.T @ K, V.T @ K
    target = np.linalg.solve(H, G.T).T
    if variant == "cyclic":
        # 2^ceil(log2(iterations)) >= iterations epochs, composed exactly as affine maps (epoch_map)
        beta = step_fraction / float(np.max(np.sum(K**2, axis=1)))
        S = iterate_affine(*epoch_map(K, V, beta), max(0, int(np.ceil(np.log2(iterations)))))
    else:
        fraction = 1.025 if variant == "beyond_limit" else step_fraction
        beta = fraction * 2.0 / float(np.linalg.eigvalsh(H)[-1])
        S = np.zeros_like(G)
        for _ in range(iterations):
            S = S + beta * (G - S @ H)  # S P + c with P = I - beta H, c = beta G
    return exact_value(_relative_distance(S, target), method="batch delta rule vs least squares")


def measure_additive_growth(rng, *, N: int, d_k: int, d_v: int, E: int) -> Estimate:
    """``||S_E||_F / ||V^T K||_F`` after ``E`` epochs of the additive rule over N fixed Gaussian pairs."""
    K = rng.standard_normal((N, d_k))
    V = rng.standard_normal((N, d_v))
    S = cyclic_delta(K, V, 1.0, E, additive=True)
    return exact_value(float(np.linalg.norm(S) / np.linalg.norm(V.T @ K)), method="additive memory under repetition")


@monte_carlo(mean_of("energy", "||S_t||_F^2 of the decayed memory: t Gaussian writes simulated, mean over trials"))
def measure_decay_energy(rng, *, t: int, d_k: int, d_v: int, gamma: float, trials: int, variant=None) -> dict:
    """Per-trial ``||S_t||_F^2`` for ``S_t = gamma S_{t-1} + v_t k_t^T``, ``S_0 = 0``, i.i.d. ``k_t ~ N(0, I_{d_k})``,
    ``v_t ~ N(0, I_{d_v})``: the recurrence itself, ``trials`` streams side by side (``(trials, d_v, d_k)``
    states, ``O(trials d_v d_k)`` memory). One trial is one stream; trials are independent.

    Nothing is integrated analytically: the claim is about the recurrence (which writes, which decay
    exponents), so it is run as written. Returns the column ``energy`` (``trials`` rows).
    """
    check_variant(variant, set())
    if t < 1 or not (0.0 <= gamma < 1.0):
        raise ValueError(f"need t >= 1 and 0 <= gamma < 1, got t={t!r}, gamma={gamma!r}")
    S = np.zeros((trials, d_v, d_k))
    for _ in range(t):
        S *= gamma
        S += rng.standard_normal((trials, d_v, 1)) * rng.standard_normal((trials, 1, d_k))
    return {"energy": np.einsum("nvk,nvk->n", S, S)}
