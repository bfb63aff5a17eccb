"""Parallel (matrix) forms of the update rules: one triangular solve instead of a token loop.

Shapes as in :mod:`numerics.updates.recurrent`. Writing the new content as
``u_t = beta_t (v_t - alpha_t S_{t-1} k_t)`` (``u_t = v_t`` for the additive rules) every gated delta
rule is ``S_t = alpha_t S_{t-1} + u_t k_t^T``, hence ``S_t = sum_{j<=t} Gamma_{tj} u_j k_j^T`` with the
decay mask ``Gamma_{tj} = prod_{s=j+1}^{t} alpha_s`` (``Gamma_tt = 1``, zero above the diagonal), and

    (I + diag(beta) (K K^T ⊙ Gamma^-)) U = diag(beta) V,      O = (Q K^T ⊙ Gamma) U,

where ``Gamma^- = Gamma - I`` (strictly lower). At ``alpha = beta = 1`` this is the notes' DeltaNet form
``O = (Q K^T ⊙ M)(I + K K^T ⊙ M^-)^{-1} V``. Softmax attention is ``softmax(Q K^T / tau + log M) V``.
DeltaFormer's matrix form is ``U = (I + A)^{-1} diag(alpha) V`` with ``A_{ti} = beta_t kappa_1(w_t, k_i)``
strictly lower-triangular, then ``O = A_2 U``. The WY/UT representation of a product of generalized
Householder factors is the DeltaNet solve with the keys as values.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

__all__ = [
    "decayed_attention_parallel",
    "deltaformer_parallel",
    "deltanet_parallel",
    "gated_deltanet_parallel",
    "linear_attention_parallel",
    "softmax_attention_parallel",
    "wy_representation",
]


def _ones(T, x):
    return np.ones(T) if x is None else np.asarray(x, dtype=float)


def _decay_mask(alpha: np.ndarray) -> np.ndarray:
    """``Gamma[..., t, j] = prod_{s=j+1}^{t} alpha[..., s]`` for ``t >= j`` (1 on the diagonal), else 0, over
    the last axis, for gates of any sign: differences of cumulative sums of ``log |alpha|``, with the zero
    and negative gates counted apart (a product across a zero gate is 0, one across an odd number of
    negative gates negative). A zero gate is no mere limit: a gate ``exp(-a)`` underflows to it."""
    alpha = np.asarray(alpha, dtype=float)
    T = alpha.shape[-1]
    keep = np.tril(np.ones((T, T), dtype=bool))
    odd = None
    if np.all(alpha > 0):  # the usual gates: nothing to count apart (the same numbers, fewer passes)
        L = np.cumsum(np.log(alpha), axis=-1)
    else:
        zero = alpha == 0
        L = np.cumsum(np.log(np.where(zero, 1.0, np.abs(alpha))), axis=-1)
        zeros, negatives = np.cumsum(zero, axis=-1), np.cumsum(alpha < 0, axis=-1)
        keep = keep & (zeros[..., :, None] == zeros[..., None, :])
        odd = (negatives[..., :, None] - negatives[..., None, :]) % 2 == 1
    G = np.where(keep, np.exp(np.where(keep, L[..., :, None] - L[..., None, :], 0.0)), 0.0)
    return G if odd is None else np.where(odd, -G, G)


def _gated_delta_parallel(K, V, Q, alpha, beta, delta: bool, variant=None) -> np.ndarray:
    """``(I + diag(beta)(K K^T ⊙ Gamma^-)) U = diag(beta) V``, ``O = (Q K^T ⊙ Gamma) U``.

    ``delta=False`` is the additive rule (``U = V``). ``variant`` selects wrong routes used as
    negative controls: ``"full_mask"`` uses ``Gamma`` (diagonal included) in the solve,
    ``"no_beta"`` drops ``beta``.
    """
    G = _decay_mask(alpha)
    if not delta:
        return (Q @ K.T * G) @ V
    b = np.ones_like(beta) if variant == "no_beta" else beta
    strict = G - np.eye(len(G)) if variant != "full_mask" else G
    system = np.eye(len(G)) + b[:, None] * (K @ K.T * strict)
    U = solve_triangular(system, b[:, None] * V, lower=True, unit_diagonal=variant != "full_mask")
    return (Q @ K.T * G) @ U


def linear_attention_parallel(K, V, Q) -> np.ndarray:
    """``O = (Q K^T ⊙ M) V`` with the causal mask ``M`` (diagonal included)."""
    return _gated_delta_parallel(K, V, Q, np.ones(K.shape[0]), None, delta=False)


def decayed_attention_parallel(K, V, Q, gamma) -> np.ndarray:
    """``O = (Q K^T ⊙ Gamma) V`` with the decay mask ``Gamma_{tj} = prod_{s=j+1}^t gamma_s``."""
    return _gated_delta_parallel(K, V, Q, np.asarray(gamma, float), None, delta=False)


def deltanet_parallel(K, V, Q, beta=None, *, variant=None) -> np.ndarray:
    """``O = (Q K^T ⊙ M)(I + diag(beta)(K K^T ⊙ M^-))^{-1} diag(beta) V`` (``beta = 1``: the notes' form)."""
    beta = _ones(K.shape[0], beta)
    return _gated_delta_parallel(K, V, Q, np.ones(K.shape[0]), beta, delta=True, variant=variant)


def gated_deltanet_parallel(K, V, Q, alpha, beta, *, variant=None) -> np.ndarray:
    """``O = (Q K^T ⊙ Gamma)(I + diag(beta)(K K^T ⊙ Gamma^-))^{-1} diag(beta) V``."""
    return _gated_delta_parallel(K, V, Q, np.asarray(alpha, float), np.asarray(beta, float), delta=True,
                                 variant=variant)


def softmax_attention_parallel(K, V, Q, tau: float) -> np.ndarray:
    """``O = softmax(Q K^T / tau + log M) V`` (row-wise softmax over the causal mask)."""
    T = K.shape[0]
    scores = np.where(np.tril(np.ones((T, T), dtype=bool)), Q @ K.T / tau, -np.inf)
    P = np.exp(scores - scores.max(axis=1, keepdims=True))
    return (P / P.sum(axis=1, keepdims=True)) @ V


def _lse_rows(S: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp, ``-inf`` for an empty or fully masked row."""
    if S.shape[1] == 0:
        return np.full(S.shape[0], -np.inf)
    m = S.max(axis=1)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(S - safe[:, None]).sum(axis=1))


def _causal_block(n: int, strict: bool) -> np.ndarray:
    return np.tril(np.ones((n, n), dtype=bool), k=-1 if strict else 0)


def _stage2_matrix(kappa2, Q, K, normalize2: bool) -> np.ndarray:
    T = K.shape[0]
    mask = np.tril(np.ones((T, T), dtype=bool))
    log_values = getattr(kappa2, "log_values", None)
    if normalize2 and log_values is not None:
        s = np.where(mask, log_values(Q, K), -np.inf)
        P = np.exp(s - s.max(axis=1, keepdims=True))
    else:
        P = np.where(mask, kappa2(Q, K), 0.0)
    return P / P.sum(axis=1, keepdims=True) if normalize2 else P


def deltaformer_parallel(K, V, Q, W=None, *, kappa1, kappa2, alpha=None, beta=None, normalize1: bool = False,
                         normalize2: bool = False, return_u: bool = False, variant=None):
    """DeltaFormer in matrix form: ``U = (I + A)^{-1} diag(alpha) V``, ``O = A_2 U``.

    ``A_{ti} = beta_t a1(w_t, k_i)`` for ``i < t`` (strictly lower-triangular, rows normalized over
    ``i < t`` if ``normalize1``; a row whose weights sum to 0 is 0), ``(A_2)_{ti} = a2(q_t, k_i)`` for
    ``i <= t``. Solved by forward substitution (``O(T^2 d)``). ``variant="causal_first_stage"`` lets the
    first stage see ``i = t`` too (a wrong route). Returns ``O`` (and ``U`` if ``return_u``).
    """
    T = K.shape[0]
    W = K if W is None else W
    alpha, beta = _ones(T, alpha), _ones(T, beta)
    strict = _causal_block(T, strict=variant != "causal_first_stage")
    log_values = getattr(kappa1, "log_values", None)
    if normalize1 and log_values is not None:
        s = np.where(strict, log_values(W, K), -np.inf)
        z = _lse_rows(s)
        A1 = np.where(np.isfinite(z)[:, None], np.exp(s - np.where(np.isfinite(z), z, 0.0)[:, None]), 0.0)
    else:
        A1 = np.where(strict, kappa1(W, K), 0.0)
        if normalize1:
            sums = A1.sum(axis=1, keepdims=True)
            A1 = np.divide(A1, sums, out=np.zeros_like(A1), where=sums != 0)
    system = np.eye(T) + beta[:, None] * A1
    U = solve_triangular(system, alpha[:, None] * V, lower=True)
    O = _stage2_matrix(kappa2, Q, K, normalize2) @ U
    return (O, U) if return_u else O


# --- WY / UT representation ------------------------------------------------------------------

def wy_representation(K: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``W`` (``(n, d)``) with ``prod_{i=1}^{n} (I - beta_i k_i k_i^T) = I - W^T K`` (product left to right).

    ``w_t = beta_t (k_t - sum_{i<t} (k_i^T k_t) w_i)``, i.e. the triangular solve
    ``(I + diag(beta)(K K^T ⊙ M^-)) W = diag(beta) K`` (the DeltaNet solve with values ``K``).
    """
    n = K.shape[0]
    system = np.eye(n) + beta[:, None] * np.tril(K @ K.T, k=-1)
    return solve_triangular(system, beta[:, None] * K, lower=True, unit_diagonal=True)


