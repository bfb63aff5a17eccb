"""Naive references for the softmax rules, written from the equations and sharing no code with the forms.

The token loops, matrix forms and chunked forms of softmax attention and DeltaFormer in
:mod:`numerics.updates` share kernels and helpers (:func:`numerics.updates.kernels.exp_kernel`), so a
slip in a shared helper (a temperature that multiplies instead of dividing) would change every route
alike and cancel in their comparison. The functions here are the yardstick those routes are held
to: one row at a time (``T`` Python-level steps, ``O(T^2 d)`` arithmetic), the temperature written out
as a division of the dot product, no kernel objects, no masks, no log-sum-exp recombination. They
are meant for checks only.

Shapes: ``Q``, ``K``, ``W`` are ``(T, d_k)``; ``V`` is ``(T, d_v)``; ``alpha``, ``beta`` are ``(T,)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["deltaformer_first_stage_reference", "deltaformer_reference", "softmax_attention_reference"]


def _softmax_weights(query: np.ndarray, keys: np.ndarray, tau: float) -> np.ndarray:
    """``exp(query . key_i / tau) / sum_j exp(query . key_j / tau)`` over the rows of ``keys`` (at least one).

    The largest score is subtracted before exponentiating; it cancels in the ratio.
    """
    scores = (keys @ query) / tau
    weights = np.exp(scores - scores.max())
    return weights / weights.sum()


def _check_tau(tau: float) -> None:
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"the temperature tau must be positive and finite, got {tau!r}")


def softmax_attention_reference(Q, K, V, tau: float) -> np.ndarray:
    """Causal softmax attention: ``o_t = sum_{j<=t} exp(q_t . k_j / tau) v_j / sum_{j<=t} exp(q_t . k_j / tau)``.

    >>> Q = K = np.array([[0.0], [1.0]]); V = np.array([[1.0], [3.0]])
    >>> bool(np.isclose(softmax_attention_reference(Q, K, V, 1.0)[1, 0], (1 + 3 * np.e) / (1 + np.e), rtol=1e-15))
    True
    """
    _check_tau(tau)
    T = len(K)
    out = np.zeros((T, V.shape[1]))
    for t in range(T):
        out[t] = _softmax_weights(Q[t], K[: t + 1], tau) @ V[: t + 1]
    return out


def deltaformer_reference(Q, K, V, W, alpha, beta, tau1: float, tau2: float) -> np.ndarray:
    """DeltaFormer with softmax kernels in both stages (notes §5.3, companion Eqs. 8-9):

        u_t = alpha_t v_t - beta_t sum_{i<t} softmax_{i<t}(w_t . k_i / tau1) u_i     (u_1 = alpha_1 v_1),
        o_t = sum_{i<=t} softmax_{i<=t}(q_t . k_i / tau2) u_i.

    The first stage is strictly causal (the token never sees its own key), the second includes ``i = t``.

    >>> z = np.zeros((2, 1)); one = np.ones(2)
    >>> deltaformer_reference(z, z, np.array([[1.0], [3.0]]), z, one, one, 1.0, 1.0)[:, 0].tolist()
    [1.0, 1.5]
    """
    _check_tau(tau1)
    _check_tau(tau2)
    T = len(K)
    U = np.zeros((T, V.shape[1]))
    out = np.zeros((T, V.shape[1]))
    for t in range(T):
        correction = _softmax_weights(W[t], K[:t], tau1) @ U[:t] if t > 0 else 0.0
        U[t] = alpha[t] * V[t] - beta[t] * correction
        out[t] = _softmax_weights(Q[t], K[: t + 1], tau2) @ U[: t + 1]
    return out


def deltaformer_first_stage_reference(W, K, V, tau: float) -> np.ndarray:
    """DeltaFormer's first stage alone, as the companion's Listing 1 writes its token loop:

        u_1 = v_1,    u_t = v_t - sum_{i<t} softmax_{i<t}(w_t . k_i / tau) u_i,

    with ``alpha = beta = 1``. ``W = K`` is Listing 1's k-k similarity (scale ``1/sqrt(D)``: ``tau =
    sqrt(D)``); ``W = Q`` is the q-k form of flash-linear-attention's ``deltaformer_attn(q, k, v)`` op,
    whose first argument plays the query. Returns ``U`` (``(T, d_v)``).

    >>> k = np.array([[0.0], [1.0], [2.0]]); v = np.array([[1.0], [3.0], [0.0]])
    >>> U = deltaformer_first_stage_reference(k, k, v, 1.0)[:, 0]
    >>> U[:2].tolist(), bool(np.isclose(U[2], -(1 + 2 * np.e**2) / (1 + np.e**2), rtol=1e-15))
    ([1.0, 2.0], True)
    """
    _check_tau(tau)
    U = np.zeros((len(K), V.shape[1]))
    for t in range(len(K)):
        U[t] = V[t] - _softmax_weights(W[t], K[:t], tau) @ U[:t] if t > 0 else V[t]
    return U
