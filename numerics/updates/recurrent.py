"""Token-by-token references of the update rules (paper §4): one write and one read per token.

Shapes, shared by every form: keys ``K`` and queries ``Q`` are ``(T, d_k)`` (one token per row),
values ``V`` are ``(T, d_v)``, per-token scalars ``beta`` (write strength) and ``alpha`` / ``gamma``
(gate, decay) are ``(T,)``. The memory ``S`` is ``(d_v, d_k)``, starts at ``S_0 = 0``, and the output
``O`` is ``(T, d_v)`` with row ``o_t = S_t q_t`` (the state *after* writing token t).

* linear attention (additive): ``S_t = S_{t-1} + v_t k_t^T``;
* decay / forget gate:        ``S_t = gamma_t S_{t-1} + v_t k_t^T``;
* DeltaNet:                   ``S_t = S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T``;
* gated DeltaNet:             ``S_t = alpha_t S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T``;
* softmax attention: the additive rule in the feature space of ``kappa(x, y) = exp(x^T y / tau)``,
  normalized: ``o_t = sum_{j<=t} kappa(k_j, q_t) v_j / sum_{j<=t} kappa(k_j, q_t)``;
* DeltaFormer (notes §5.3): the delta rule in a kernel's feature space, two kernels, gates ``alpha``,
  ``beta`` and write keys ``W`` (``(T, d_k)``):
  ``u_t = alpha_t v_t - beta_t sum_{i<t} kappa_1(w_t, k_i) u_i``, ``o_t = sum_{i<=t} kappa_2(q_t, k_i) u_i``.

Everything is float64.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "comba_recurrent",
    "decayed_attention_recurrent",
    "delta_rule_step",
    "deltaformer_recurrent",
    "deltanet_recurrent",
    "gated_deltanet_recurrent",
    "linear_attention_recurrent",
    "softmax_attention_recurrent",
]


def _ones(T, x):
    return np.ones(T) if x is None else np.asarray(x, dtype=float)


def delta_rule_step(S: np.ndarray, k: np.ndarray, v: np.ndarray, beta: float, alpha: float = 1.0) -> np.ndarray:
    """One gated delta-rule write: ``alpha S (I - beta k k^T) + beta v k^T`` (``alpha = 1``: DeltaNet)."""
    return alpha * (S - beta * np.outer(S @ k, k)) + beta * np.outer(v, k)


def linear_attention_recurrent(K, V, Q) -> np.ndarray:
    """Additive memory ``S_t = S_{t-1} + v_t k_t^T``, ``o_t = S_t q_t``; returns ``(T, d_v)``."""
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        S = S + np.outer(V[t], K[t])
        out[t] = S @ Q[t]
    return out


def decayed_attention_recurrent(K, V, Q, gamma) -> np.ndarray:
    """Forget-gated memory ``S_t = gamma_t S_{t-1} + v_t k_t^T``, ``o_t = S_t q_t``; ``gamma`` is ``(T,)``."""
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        S = gamma[t] * S + np.outer(V[t], K[t])
        out[t] = S @ Q[t]
    return out


def deltanet_recurrent(K, V, Q, beta=None) -> np.ndarray:
    """DeltaNet ``S_t = S_{t-1}(I - beta_t k_t k_t^T) + beta_t v_t k_t^T`` (one SGD step with rate
    ``beta_t`` on ``1/2 ||S k_t - v_t||^2``), ``o_t = S_t q_t``; ``beta`` is ``(T,)`` (default ones)."""
    beta = _ones(K.shape[0], beta)
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        S = delta_rule_step(S, K[t], V[t], beta[t])
        out[t] = S @ Q[t]
    return out


def gated_deltanet_recurrent(K, V, Q, alpha, beta) -> np.ndarray:
    """Gated DeltaNet ``S_t = alpha_t S_{t-1}(I - beta_t k_t k_t^T) + beta_t v_t k_t^T``, ``o_t = S_t q_t``."""
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        S = delta_rule_step(S, K[t], V[t], beta[t], alpha[t])
        out[t] = S @ Q[t]
    return out


def comba_recurrent(K, V, Q, alpha, beta, *, variant=None) -> np.ndarray:
    """Gated DeltaNet written in the Comba form (notes §9 item 15): a decay, then a delta correction

        S_t = alpha_t S_{t-1} + alpha_t beta_t (v_t / alpha_t - S_{t-1} k_t) k_t^T,   o_t = S_t q_t.

    Variants (wrong forms): ``"target_not_rescaled"`` (``v_t`` for ``v_t / alpha_t``), ``"rate_beta"``
    (rate ``beta_t`` for ``alpha_t beta_t``).
    """
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        a, b = alpha[t], beta[t]
        target = V[t] if variant == "target_not_rescaled" else V[t] / a
        rate = b if variant == "rate_beta" else a * b
        S = a * S + rate * np.outer(target - S @ K[t], K[t])
        out[t] = S @ Q[t]
    return out


def softmax_attention_recurrent(K, V, Q, tau: float) -> np.ndarray:
    """Causal softmax attention as a normalized additive kernel memory, one token at a time.

    The memory after token t is the cache ``{(k_j, v_j)}_{j<=t}`` (the feature-space sum
    ``sum_j v_j phi(k_j)^T`` with ``phi(x)^T phi(y) = exp(x^T y / tau)``); the read-out is
    ``o_t = sum_{j<=t} exp(k_j^T q_t / tau) v_j / sum_{j<=t} exp(k_j^T q_t / tau)``, shifted by the
    row maximum (a common factor) so that it never overflows.
    """
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        scores = K[: t + 1] @ Q[t] / tau
        weights = np.exp(scores - scores.max())
        out[t] = weights @ V[: t + 1] / weights.sum()
    return out


def _kernel_weights(kernel, x, Y, normalize: bool) -> np.ndarray:
    """``kappa(x, y_i)`` over the rows of ``Y`` (normalized to sum 1 if asked, via logs when possible).

    Weights that sum to 0 (a signed kernel, such as the linear one on orthogonal keys) normalize to 0,
    as in :func:`numerics.updates.parallel.deltaformer_parallel`: the row reads nothing."""
    if Y.shape[0] == 0:
        return np.zeros(0)
    log_values = getattr(kernel, "log_values", None)
    if normalize and log_values is not None:
        s = log_values(x[None, :], Y)[0]
        w = np.exp(s - s.max())
        return w / w.sum()
    w = np.asarray(kernel(x[None, :], Y))[0]
    if not normalize:
        return w
    total = w.sum()
    return w / total if total != 0 else np.zeros_like(w)


def deltaformer_recurrent(K, V, Q, W=None, *, kappa1, kappa2, alpha=None, beta=None,
                          normalize1: bool = False, normalize2: bool = False) -> np.ndarray:
    """DeltaFormer, token by token (notes §5.3, companion Eqs. 8-9).

    ``u_t = alpha_t v_t - beta_t sum_{i<t} a1(w_t, k_i) u_i`` and ``o_t = sum_{i<=t} a2(q_t, k_i) u_i``
    where ``a1 = kappa1`` normalized over ``i < t`` if ``normalize1`` (``u_1 = alpha_1 v_1``: nothing
    is visible) and ``a2 = kappa2`` normalized over ``i <= t`` if ``normalize2``.

    K, Q, W: ``(T, d_k)`` (``W`` defaults to ``K``: k-k similarity); V: ``(T, d_v)``; alpha, beta:
    ``(T,)`` (default ones); kappa1, kappa2: callables ``(X (n, d), Y (m, d)) -> (n, m)``, e.g.
    :func:`numerics.updates.kernels.exp_kernel`, ``linear_kernel``. Returns ``O`` of shape ``(T, d_v)``;
    the rows of ``U`` are the first-stage outputs (see :func:`numerics.updates.parallel.deltaformer_parallel`
    for both).
    """
    T = K.shape[0]
    W = K if W is None else W
    alpha, beta = _ones(T, alpha), _ones(T, beta)
    U = np.empty((T, V.shape[1]))
    out = np.empty((T, V.shape[1]))
    for t in range(T):
        a1 = _kernel_weights(kappa1, W[t], K[:t], normalize1)
        U[t] = alpha[t] * V[t] - beta[t] * (a1 @ U[:t])
        a2 = _kernel_weights(kappa2, Q[t], K[: t + 1], normalize2)
        out[t] = a2 @ U[: t + 1]
    return out


