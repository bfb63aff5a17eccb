"""Monte Carlo of a multi-head kernel memory: H heads, each storing its block of every key and value.

A key is ``H`` blocks of width ``d_head`` (``d_k = H d_head``), a value ``H`` blocks of width ``dv_head``.
Head ``h`` reads ``o^(h) = sum_j v_j^(h) kappa(k_j^(h)^T q^(h))``; the output is the concatenation. The
queried stored key ``k_i`` has each block of squared norm ``key_norm2 / H`` (in a uniformly random
direction within the block); the other keys are drawn whole, ``k_j ~ N(0, I_{d_k})``, and cut into blocks.

Per trial: ``y = dv_head sum_{j, h} kappa(z_jh)^2 / (c^2 ||v_i||^2)``, ``z_jh = k_j^(h)^T k_i^(h)``,
``c = kappa(key_norm2 / H)``. The values are integrated exactly (given the keys, the value noise of head
``h`` has mean ``dv_head sum_j kappa(z_jh)^2``: independent zero-mean values, ``E||v_j^(h)||^2 = dv_head``).
Nothing else is reduced: the keys are full vectors and each head's score is a block inner product.

Exp kernel: ``kappa^2 = exp(2 z/tau)`` is log-normal with log-variance ``a^2 = 4 ||k_i^(h)||^2/tau^2`` per
block. Each block of ``k_j`` is drawn from the tilted proposal ``N(mu_h, I)``, ``mu_h = lambda (2/tau) k_i^(h)``,
and each term carries its own block's likelihood ratio ``exp(-mu_h^T k_j^(h) + ||mu_h||^2/2)`` (the blocks are
independent and a term depends on one block only). ``lambda`` is the smallest tilt that caps the weighted
term's log-variance ``(1 - lambda)^2 a^2`` at :data:`LOG_VAR_CAP` (0 where plain sampling already does);
``lambda = 1`` would make every weighted term the closed form, so the tilt stays partial. Kish's ESS over
all weighted terms is reported.

Working set: at most about 2^20 key coordinates at a time.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from numerics.estimate import Estimate, check_variants, kish_ess_from_sums, mean_estimate, monte_carlo, per_variant

__all__ = ["LOG_VAR_CAP", "MULTIHEAD_KERNELS", "measure_multihead_inverse_snr"]

MULTIHEAD_KERNELS = ("linear", "exp")
LOG_VAR_CAP = 1.0  # log-variance of each importance-weighted exp term
_BLOCK = 1 << 20


def _reduce(columns, *, kernel="linear", **_) -> Estimate:
    est = mean_estimate(columns["y"], method=f"multi-head memory ({kernel} kernel): full Gaussian keys cut into H "
                                             "blocks, block scores, values integrated exactly"
                                             + ("; blocks whose log-variance passes LOG_VAR_CAP partially tilted"
                                                if kernel == "exp" else ""))
    if kernel != "exp":
        return est
    ess = kish_ess_from_sums(columns["log_sum"], columns["log_sum_sq"])
    return Estimate(est.estimate, est.standard_error, est.trials, ess, est.method)


@monte_carlo(_reduce, shared_variants={"full_key_scores"})
def measure_multihead_inverse_snr(rng, *, N: int, H: int, d_head: int, dv_head: int, key_norm2: float,
                                  value_norm2: float, kernel: str = "linear", tau: float = 1.0, trials: int = 2000,
                                  variant=None) -> dict:
    """Conditional SNR^{-1} of the concatenated output of ``H`` heads (module docstring); column ``y``
    (and, for the exp kernel, ``log_sum`` / ``log_sum_sq`` of each trial's weighted terms).

    Variant ``"full_key_scores"``: every head scores with the whole key, ``z_jh = k_j^T k_i`` and
    ``c = kappa(||k_i||^2)`` (the keys not split: one head's crosstalk, copied into every head). It scores
    the same keys, so ``variant=(None, "full_key_scores")`` computes both routes from one set of draws.
    """
    group = check_variants(variant, {"full_key_scores"})
    if N < 2 or min(H, d_head, dv_head) < 1 or trials < 2:
        raise ValueError(f"N={N!r} must be >= 2, H={H!r}, d_head={d_head!r}, dv_head={dv_head!r} >= 1 and "
                         f"trials={trials!r} >= 2")
    if not (key_norm2 > 0 and value_norm2 > 0 and tau > 0):
        raise ValueError(f"key_norm2={key_norm2!r}, value_norm2={value_norm2!r} and tau={tau!r} must be positive")
    if kernel not in MULTIHEAD_KERNELS:
        raise ValueError(f"kernel={kernel!r}; expected one of {MULTIHEAD_KERNELS!r}")
    routes = []
    for v in group:
        # scoring units: the H blocks, or (variant) the whole key as one block whose crosstalk every head copies
        blocks, width = (1, H * d_head) if v == "full_key_scores" else (H, d_head)
        s2 = key_norm2 / blocks
        log_var = 4.0 * s2 / tau**2
        tilt = 0.0 if kernel != "exp" or log_var <= LOG_VAR_CAP else 1.0 - math.sqrt(LOG_VAR_CAP / log_var)
        out = {name: np.empty(trials) for name in (("y", "log_sum", "log_sum_sq") if kernel == "exp" else ("y",))}
        routes.append((blocks, width, s2, tilt, out))
    step = max(1, _BLOCK // ((N - 1) * H * d_head))
    for t in range(0, trials, step):
        n = min(step, trials - t)
        u = rng.standard_normal((n, H, d_head))
        k_unit = u * np.sqrt(key_norm2 / H) / np.linalg.norm(u, axis=2, keepdims=True)
        keys = rng.standard_normal((n, N - 1, H * d_head))
        for blocks, width, s2, tilt, out in routes:
            k_i = k_unit.reshape(n, blocks, width)
            K = keys.reshape(n, N - 1, blocks, width)
            if kernel == "linear":
                z = np.einsum("tjbd,tbd->tjb", K, k_i)
                out["y"][t:t + n] = np.einsum("tjb,tjb->t", z, z) / s2**2
                continue
            mu = tilt * (2.0 / tau) * k_i
            log_terms = (np.einsum("tjbd,tbd->tjb", K + mu[:, None], (2.0 / tau) * k_i - mu)
                         + 0.5 * np.sum(mu * mu, axis=2)[:, None, :] - 2.0 * s2 / tau).reshape(n, -1)
            out["log_sum"][t:t + n] = logsumexp(log_terms, axis=1)
            out["log_sum_sq"][t:t + n] = logsumexp(2.0 * log_terms, axis=1)
            out["y"][t:t + n] = np.exp(out["log_sum"][t:t + n])
    for blocks, _, _, _, out in routes:
        out["y"] *= dv_head * (H // blocks) / value_norm2
    return per_variant(variant, [out for *_, out in routes])
