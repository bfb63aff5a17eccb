"""Monte Carlo of a multi-head kernel memory: H heads, each storing its block of every key and value.

A key is ``H`` blocks of width ``d_head`` (``d_k = H d_head``), a value ``H`` blocks of width ``dv_head``.
Head ``h`` reads ``o^(h) = sum_j v_j^(h) kappa(k_j^(h)^T q^(h))``; the output is the concatenation. The
queried stored key ``k_i`` has each block of squared norm ``key_norm2 / H`` (in a uniformly random
direction within the block); the other keys are drawn whole, ``k_j ~ N(0, I_{d_k})``, and cut into blocks.

Per trial: ``y = dv_head sum_{j, h} kappa(z_jh)^2 / (c^2 ||v_i||^2)``, ``z_jh = k_j^(h)^T k_i^(h)``,
``c = kappa(key_norm2 / H)``. The values are integrated exactly (given the keys, the value noise of head
``h`` has mean ``dv_head sum_j kappa(z_jh)^2``: independent zero-mean values, ``E||v_j^(h)||^2 = dv_head``).
Nothing else is reduced: the keys are full vectors and each head's score is a block inner product.

Working set: at most about 2^20 key coordinates at a time.
"""

from __future__ import annotations

import numpy as np

from numerics.estimate import check_variant, mean_of, monte_carlo

__all__ = ["MULTIHEAD_KERNELS", "measure_multihead_inverse_snr"]

MULTIHEAD_KERNELS = ("linear", "exp")
_BLOCK = 1 << 20


def _kernel(kernel: str, tau: float):
    if kernel == "linear":
        return lambda z: z
    if kernel == "exp":
        return lambda z: np.exp(z / tau)
    raise ValueError(f"kernel={kernel!r}; expected one of {MULTIHEAD_KERNELS!r}")


@monte_carlo(mean_of("y", "multi-head memory: full Gaussian keys cut into H blocks, block scores, "
                          "values integrated exactly"))
def measure_multihead_inverse_snr(rng, *, N: int, H: int, d_head: int, dv_head: int, key_norm2: float,
                                  value_norm2: float, kernel: str = "linear", tau: float = 1.0, trials: int = 2000,
                                  variant=None) -> dict:
    """Conditional SNR^{-1} of the concatenated output of ``H`` heads (module docstring); column ``y``.

    Variant ``"full_key_scores"``: every head scores with the whole key, ``z_jh = k_j^T k_i`` and
    ``c = kappa(||k_i||^2)`` (the keys not split: one head's crosstalk, copied into every head).
    """
    check_variant(variant, {"full_key_scores"})
    if N < 2 or min(H, d_head, dv_head) < 1 or trials < 2:
        raise ValueError(f"N={N!r} must be >= 2, H={H!r}, d_head={d_head!r}, dv_head={dv_head!r} >= 1 and "
                         f"trials={trials!r} >= 2")
    if not (key_norm2 > 0 and value_norm2 > 0 and tau > 0):
        raise ValueError(f"key_norm2={key_norm2!r}, value_norm2={value_norm2!r} and tau={tau!r} must be positive")
    kappa = _kernel(kernel, tau)
    full = variant == "full_key_scores"
    c = float(kappa(np.float64(key_norm2 if full else key_norm2 / H)))
    y = np.empty(trials)
    step = max(1, _BLOCK // ((N - 1) * H * d_head))
    for t in range(0, trials, step):
        n = min(step, trials - t)
        u = rng.standard_normal((n, H, d_head))
        k_i = u * np.sqrt(key_norm2 / H) / np.linalg.norm(u, axis=2, keepdims=True)
        K = rng.standard_normal((n, N - 1, H, d_head))
        if full:
            z = np.repeat(np.einsum("tjhd,thd->tj", K, k_i)[:, :, None], H, axis=2)
        else:
            z = np.einsum("tjhd,thd->tjh", K, k_i)
        w = kappa(z)
        y[t:t + n] = dv_head * np.einsum("tjh,tjh->t", w, w) / (c * c * value_norm2)
    return {"y": y}
