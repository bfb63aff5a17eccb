"""Monte Carlo of the FFN read as an associative memory, ``FFN(x) = W_2 sigma(W_1 x)``.

Shapes: ``W_1`` is ``(N, d)`` (row ``i`` is the key ``k_i`` of slot ``i``), ``W_2`` is ``(d_v, N)``
(column ``i`` is the value ``v_i``); gated units add ``W_3`` ``(N, d)`` and compute
``W_2 (sigma(W_1 x) * (W_3 x))``. Querying slot 0 with ``x = k_0`` gives
``FFN(k_0) = h_0 v_0 + r`` with ``h = sigma(W_1 k_0)`` (times ``W_3 k_0`` for a GLU); the estimand is
``E ||r||^2 / (h_0^2 ||v_0||^2)`` over the other slots, conditional on ``||k_0||^2`` and ``||v_0||^2``.
Everything runs through the two matrix products of the layer; ``batch`` trials share one
``(batch, N, d)`` draw, O(batch N (d + d_v)) floats.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from numerics import exp_kernel
from numerics.estimate import Estimate, check_variant, mean_estimate

__all__ = [
    "ACTIVATIONS",
    "ffn_forward",
    "measure_ffn_exp",
    "measure_ffn_inverse_snr",
    "measure_ffn_sparsity",
    "topk_active",
    "topk_mask",
]


def _relu(z):
    return np.maximum(z, 0.0)


def _gelu(z):
    return z * ndtr(z)


def _silu(z):
    return z / (1.0 + np.exp(-z))


ACTIVATIONS = {"relu": _relu, "gelu": _gelu, "silu": _silu, "identity": lambda z: z}


def ffn_forward(W1: np.ndarray, W2: np.ndarray, x: np.ndarray, *, activation: str = "relu",
                W3: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(W_2 h, h)`` with ``h = sigma(W_1 x)`` or, with ``W3``, ``h = sigma(W_1 x) * (W_3 x)`` (GLU).

    Batched: ``W1`` ``(B, N, d)``, ``W2`` ``(B, d_v, N)``, ``x`` ``(B, d)``.
    """
    pre = np.einsum("bnd,bd->bn", W1, x)
    h = ACTIVATIONS[activation](pre)
    if W3 is not None:
        h = h * np.einsum("bnd,bd->bn", W3, x)
    return np.einsum("bvn,bn->bv", W2, h), h


def topk_mask(h: np.ndarray, k: int) -> np.ndarray:
    """Zero all but the ``k`` largest entries of each row of ``h`` (``(B, N)``)."""
    if k >= h.shape[1]:
        return h
    cut = np.partition(h, h.shape[1] - k, axis=1)[:, h.shape[1] - k][:, None]
    return np.where(h >= cut, h, 0.0)


def _ffn_trials(rng, *, N, d, d_v, key_norm2, value_norm2, activation, glu, trials, threshold=None, topk=None,
                batch=32):
    out = np.empty(trials)
    done = 0
    while done < trials:
        b = min(batch, trials - done)
        W1 = rng.standard_normal((b, N, d))
        W1[:, 0] *= (math.sqrt(key_norm2) / np.linalg.norm(W1[:, 0], axis=1))[:, None]
        W2 = rng.standard_normal((b, d_v, N))
        W2[:, :, 0] *= (math.sqrt(value_norm2) / np.linalg.norm(W2[:, :, 0], axis=1))[:, None]
        W3 = None
        if glu == "tied":
            W3 = W1
        elif glu == "untied":
            W3 = rng.standard_normal((b, N, d))
        x = W1[:, 0]
        if threshold is None and topk is None:
            y, h = ffn_forward(W1, W2, x, activation=activation, W3=W3)
        else:
            _, h = ffn_forward(W1, W2, x, activation=activation, W3=W3)
            if threshold is not None:
                h = np.where(np.einsum("bnd,bd->bn", W1, x) > threshold, h, 0.0)
            if topk is not None:
                h = topk_mask(h, topk)
            y = np.einsum("bvn,bn->bv", W2, h)
        r = y - h[:, :1] * W2[:, :, 0]
        out[done:done + b] = np.sum(r * r, axis=1) / (h[:, 0] ** 2 * value_norm2)
        done += b
    return out


def measure_ffn_inverse_snr(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float,
                            activation: str = "relu", glu: str | None = None, trials: int = 1000,
                            variant=None) -> Estimate:
    """Conditional SNR^{-1} of slot 0 of a Gaussian FFN (read-out MC through the layer's matrices).

    ``glu`` is ``None`` (plain FFN), ``"tied"`` (gate and up keys equal) or ``"untied"``. Variant
    ``"ungated"`` drops the gate of a GLU (``sigma = identity``, a pure quadratic kernel).
    """
    check_variant(variant, {"ungated"})
    act = "identity" if variant == "ungated" else activation
    y = _ffn_trials(rng, N=N, d=d, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2, activation=act,
                    glu=glu, trials=trials)
    return mean_estimate(y, method=f"FFN read-out MC, sigma = {act}" + (f", GLU ({glu})" if glu else ""))


def measure_ffn_exp(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float, beta: float,
                    trials: int = 100, variant=None) -> Estimate:
    """Slot activation ``exp(beta z)``: the exp kernel at ``tau = 1/beta`` (tilted IS; ESS reported)."""
    return exp_kernel.measure_inverse_snr_exp(rng, N=N, d_k=d, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2,
                                           tau=1.0 / beta, trials=trials, variant=variant)


def topk_active(N: int, a: float) -> int:
    """``k = round((N - 1) Q(a)) + 1``: the top-k rule keeping the stored slot plus, on average, as many
    others as the threshold ``a ||k_i||`` would."""
    return int(round((N - 1) * (1.0 - ndtr(a)))) + 1


def measure_ffn_sparsity(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float, a: float,
                         trials: int = 1000, variant=None) -> Estimate:
    """ReLU FFN keeping only slots whose pre-activation exceeds ``t = a ||k_0||`` (threshold sparsity).

    Variant ``"topk"`` keeps instead the ``k = round((N - 1) Q(a)) + 1`` largest activations, the
    top-k rule with the same expected number of active slots.
    """
    check_variant(variant, {"topk"})
    if variant == "topk":
        k = topk_active(N, a)
        y = _ffn_trials(rng, N=N, d=d, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2, activation="relu",
                        glu=None, trials=trials, topk=k)
    else:
        y = _ffn_trials(rng, N=N, d=d, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2, activation="relu",
                        glu=None, trials=trials, threshold=a * math.sqrt(key_norm2))
    return mean_estimate(y, method="FFN read-out MC, ReLU with " + ("top-k" if variant else "threshold") + " sparsity")
