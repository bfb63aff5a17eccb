"""Monte Carlo of the FFN read as an associative memory, ``FFN(x) = W_2 sigma(beta W_1 x)``.

Shapes: ``W_1`` is ``(N, d)`` (row ``j`` is the key ``k_j`` of slot ``j``), ``W_2`` is ``(d_v, N)``
(column ``j`` is the value ``v_j``); a gated unit adds ``W_3`` ``(N, d)`` and computes
``W_2 (sigma(W_1 x) * (W_3 x))``. Querying slot 0 with ``x = k_0`` gives ``FFN(k_0) = h_0 v_0 + r``,
``r = sum_{j >= 1} h_j v_j``, ``h_j = sigma(beta k_j^T k_0)`` (times ``k_j^T k_0`` for the tied GLU,
with a sparsity mask where one applies). Every measure estimates the conditional inverse SNR
``E ||r||^2 / (h_0^2 ||v_0||^2)`` over the other slots, given ``||k_0||^2 = s^2`` and ``||v_0||^2``.

**The reduced form (the ledger's route).** Given ``k_0``, the other keys ``k_j ~ N(0, I_d)`` are
independent of it and of each other, so the pre-activations ``z_j = k_j^T k_0`` are i.i.d.
``N(0, s^2)`` (rotation invariance: only ``||k_0||`` matters, so ``d`` drops out). The values are
independent of the keys with ``E v_j v_l^T = delta_{jl} I``; given the ``z_j``,
``E_V ||r||^2 = sum_{j,l} h_j h_l E[v_j^T v_l] = d_v sum_j h_j^2``. Every mask used here (a threshold
on ``z_j``, the ranks of the activations) is a function of the ``z_j`` alone, and ``h_0`` is fixed
(``sigma(beta s^2)``, times ``s^2`` for the tied GLU). Hence a trial of ``N - 1`` scalars,

    Y = d_v sum_{j=1}^{N-1} h_j^2 / (h_0^2 ||v_0||^2),    z_j ~ N(0, s^2) i.i.d.,

has the estimand as its mean (the expectation over ``V`` is done exactly: Rao-Blackwellised). A
reduced-form trial draws ``N - 1`` Gaussians where the layer draws ``N (d + d_v)``.

**The layer route** (:func:`measure_ffn_layer`) draws ``W_1``, ``W_2`` whole and reads ``||r||^2``
off ``W_2 sigma(W_1 k_0)``; it is kept as an independent check of the reduction at small sizes
(``tests/test_ffn.py``). Its masks (:func:`topk_mask`) are written separately from the reduced ones.

**Common random numbers.** The ``"ungated"`` control of the tied GLU applies another response to the
same pre-activations, so both routes come from one set of draws (``variant=(None, "ungated")``,
:class:`numerics.estimate.MonteCarlo`); each route's column is exactly that of its own call.

**Passes over the draws.** A reduced batch draws its pre-activations block by block into one reused
buffer (:func:`numerics.kernels.score_blocks`, :data:`numerics.kernels.SCORE_BLOCK` numbers, small
enough to stay in cache) and evaluates the responses into a second one (the activations take
``out=``), so a block costs the draw, the activation's own evaluation and one reduction. Blocks of
whole trials leave every trial's numbers as they are. The floor is the generator plus the
activation: GELU's ``Phi`` (``scipy.special.ndtr``) costs more than the normal draw itself, which
``bench/speed.py`` measures as its own row. (The untied GLU draws two blocks per chunk of trials and
keeps :data:`CHUNK_NUMBERS`, which fixes its numbers.)

**Antithetic pairs for GELU and SiLU** (the suite's own reduction). ``z ~ N(0, s^2)`` has the law of
``-z``, so ``E u(z)^2 = E (u(z)^2 + u(-z)^2) / 2`` for any response. GELU and SiLU are ``u(z) = z g(z)``
with a gate ``g`` (``Phi``, the logistic) for which ``g(-z) = 1 - g(z)``, so
``u(-z)^2 = z^2 (1 - g(z))^2`` comes with no second evaluation of the gate, and a slot contributes
``z^2 (g^2 + (1 - g)^2) / 2 = z^2 (1 - 2 g (1 - g)) / 2``. The trial keeps its ``N - 1`` draws and its mean;
its variance falls (2.1-2.4x per trial at the default points, measured) because ``u(z)^2`` and
``u(-z)^2`` move in opposite directions along ``z``. ReLU's pair would be ``z^2 / 2`` exactly, which
would leave the ReLU points with no test of the ReLU; they keep the plain trial.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, logsumexp, ndtr

from numerics.estimate import (Estimate, check_variant, check_variants, exact_value, largest, mean_estimate,
                               monte_carlo, per_variant, weighted_mean_of)
from numerics.kernels import score_blocks

__all__ = [
    "ACTIVATIONS",
    "IDENTITY_ACTIVATIONS",
    "SYMMETRIC_GATES",
    "IDENTITY_GATING",
    "CHUNK_NUMBERS",
    "EXP_LOG_VAR_CAP",
    "exp_tilt",
    "ffn_forward",
    "measure_ffn_exp",
    "measure_ffn_inverse_snr",
    "measure_ffn_layer",
    "measure_ffn_slot_identity",
    "measure_ffn_sparsity",
    "measure_ffn_untied_glu",
    "measure_ffn_width_capacity",
    "topk_active",
    "topk_mask",
    "untied_glu_layer_inverse_snr",
    "width_grid",
]

CHUNK_NUMBERS = 2**20  # pre-activations held at once by the untied GLU's reduced batch (8 MB of float64)
EXP_LOG_VAR_CAP = 1.0  # log-variance of each importance-weighted exp term: relative variance e - 1


# each activation writes into ``out`` when given (the reduced forms reuse one buffer); same numbers either way


def _relu(z, out=None):
    return np.maximum(z, 0.0, out=out)


def _gelu_gate(z, out=None):
    """GELU's gate ``Phi(z)``; ``Phi(-z) = 1 - Phi(z)``."""
    out = ndtr(z, out=out)
    return out


def _silu_gate(z, out=None):
    """SiLU's gate, the logistic ``expit(z)``; ``expit(-z) = 1 - expit(z)``."""
    out = expit(z, out=out)
    return out


def _gelu(z, out=None):
    out = _gelu_gate(z, out=out)
    out *= z  # z Phi(z)
    return out


def _silu(z, out=None):
    out = _silu_gate(z, out=out)
    out *= z  # z expit(z)
    return out


def _exp(z, out=None):
    return np.exp(z, out=out)


def _identity(z, out=None):
    if out is None:
        return z
    np.copyto(out, z)
    return out


ACTIVATIONS = {"relu": _relu, "gelu": _gelu, "silu": _silu, "exp": _exp, "identity": _identity}
# activations u(z) = z g(z) whose gate has g(-z) = 1 - g(z): the reduced form pairs z with -z (module docstring)
SYMMETRIC_GATES = {"gelu": _gelu_gate, "silu": _silu_gate}


def _activation(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)!r}") from None


def ffn_forward(W1: np.ndarray, W2: np.ndarray, x: np.ndarray, *, activation: str = "relu", beta: float = 1.0,
                W3: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(W_2 h, h)`` with ``h = sigma(beta W_1 x)`` or, with ``W3``, ``h = sigma(beta W_1 x) * (W_3 x)`` (GLU).

    Batched: ``W1`` ``(B, N, d)``, ``W2`` ``(B, d_v, N)``, ``x`` ``(B, d)``; returns ``(B, d_v)`` and ``(B, N)``.
    """
    pre = np.einsum("bnd,bd->bn", W1, x)
    h = _activation(activation)(beta * pre)
    if W3 is not None:
        h = h * np.einsum("bnd,bd->bn", W3, x)
    return np.einsum("bvn,bn->bv", W2, h), h


def topk_mask(h: np.ndarray, k: int) -> np.ndarray:
    """Zero all but the ``k`` largest entries of each row of ``h`` (``(B, N)``; ties have probability 0)."""
    if k >= h.shape[1]:
        return h
    cut = np.partition(h, h.shape[1] - k, axis=1)[:, h.shape[1] - k][:, None]
    return np.where(h >= cut, h, 0.0)


def topk_active(N: int, a: float) -> int:
    """``k = round((N - 1) Q(a)) + 1``: the top-k rule keeping the stored slot plus, on average, as many
    others as the threshold ``a ||k_0||`` would (``Q = 1 - Phi``)."""
    return int(round((N - 1) * (1.0 - ndtr(a)))) + 1


def exp_tilt(beta: float, key_norm2: float) -> float:
    """Tilt ``lambda`` in ``[0, 1)`` of the pre-activation proposal ``N(lambda 2 beta s^2, s^2)``.

    A term ``exp(2 beta z)``, ``z ~ N(0, s^2)``, is log-normal with log-variance ``A = 4 beta^2 s^2``;
    drawn from the proposal and multiplied by its weight it stays log-normal with log-variance
    ``(1 - lambda)^2 A``. ``lambda`` is the smallest tilt that caps that at :data:`EXP_LOG_VAR_CAP`
    (0, plain sampling, when ``A`` is already below it). ``lambda = 1`` would be the zero-variance
    proposal, every weighted term the closed form: a partial tilt keeps the estimate a Monte Carlo.
    """
    log_var = 4.0 * beta**2 * key_norm2
    return 0.0 if log_var <= EXP_LOG_VAR_CAP else 1.0 - math.sqrt(EXP_LOG_VAR_CAP / log_var)


# --- the reduced form -----------------------------------------------------------------------------

def _chunks(trials: int, N: int):
    """Trial ranges whose ``(n, N - 1)`` pre-activation array holds at most :data:`CHUNK_NUMBERS` numbers."""
    step = max(1, CHUNK_NUMBERS // max(N - 1, 1))
    for start in range(0, trials, step):
        yield start, min(step, trials - start)


def _check_common(N, key_norm2, value_norm2, trials):
    if N < 2:
        raise ValueError(f"N={N!r} must be >= 2: the crosstalk needs another slot")
    if not (key_norm2 > 0 and value_norm2 > 0):
        raise ValueError(f"key_norm2={key_norm2!r} and value_norm2={value_norm2!r} must be positive")
    if trials < 2:
        raise ValueError(f"trials={trials!r} must be >= 2 (the standard error needs two trials)")


def _unit(activation: str, glu: str | None, variant: str | None):
    """The slot's response ``u(z, out=None)`` to its pre-activation ``z`` (the kernel ``kappa(k_j, k_0) = u(k_j^T k_0)``).

    ``glu = "tied"`` is the gated unit with equal gate and up keys, ``u(z) = sigma(z) z``; its variant
    ``"ungated"`` drops the gate (``u(z) = z^2``, the bare quadratic kernel).
    """
    if glu not in (None, "tied"):
        raise ValueError(f"glu={glu!r}: the reduced form covers None (plain) or 'tied' (gate keys = up keys)")
    sigma = _activation(activation)
    if glu is None:
        return sigma
    if variant == "ungated":
        return lambda z, out=None: np.multiply(z, z, out=out)

    def gated(z, out=None):
        out = sigma(z, out=out)
        out *= z  # sigma(z) z
        return out
    return gated


def _reduce_inverse_snr(columns, *, activation="relu", glu=None, **_) -> Estimate:
    unit = f"{activation} gated by the up projection (tied keys)" if glu else activation
    pairs = ", antithetic pairs (z, -z)" if glu is None and activation in SYMMETRIC_GATES else ""
    return mean_estimate(columns["y"], method=f"reduced-form MC over the N - 1 pre-activations (sigma = {unit}"
                                              f"{pairs}), values integrated exactly")


@monte_carlo(_reduce_inverse_snr, shared_variants={"ungated"})
def measure_ffn_inverse_snr(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float,
                            activation: str = "relu", glu: str | None = None, trials: int = 1000,
                            variant=None) -> dict:
    """Conditional SNR^{-1} of slot 0 of a Gaussian FFN, reduced form (module docstring).

    Per trial ``Y = d_v sum_j u(z_j)^2 / (u(s^2)^2 ||v_0||^2)`` with ``z_j ~ N(0, s^2)``, ``j < N``, and ``u``
    the slot response of :func:`_unit`. Column ``y`` has one row per trial. ``d`` does not enter (the
    estimand depends on ``k_0`` only through ``s^2``); it is a parameter of the layer this reduces. For
    GELU and SiLU without a gate a trial averages each slot over ``z_j`` and ``-z_j`` (antithetic pairs,
    module docstring): the same mean from the same draws, with less variance.

    Common random numbers: the ``"ungated"`` route applies another response to the same pre-activations,
    so ``variant=(None, "ungated")`` computes both from one set of draws (one mapping each, as the
    separate calls give them).
    """
    group = check_variants(variant, {"ungated"})
    _check_common(N, key_norm2, value_norm2, trials)
    units = [_unit(activation, glu, v) for v in group]
    s = math.sqrt(key_norm2)
    scales = [d_v / (float(u(np.float64(key_norm2))) ** 2 * value_norm2) for u in units]
    if glu is None and activation in SYMMETRIC_GATES:  # without a gate every route's response is the activation
        y = _antithetic_trials(rng, SYMMETRIC_GATES[activation], scales[0], trials, N - 1, s)
        return per_variant(variant, [{"y": y if i == 0 else y.copy()} for i in range(len(group))])
    ys = [np.empty(trials) for _ in group]
    response = None
    for start, z in score_blocks(rng, trials, N - 1, s):
        response = np.empty_like(z) if response is None else response[:len(z)]
        for u, scale, y in zip(units, scales, ys):
            h = u(z, out=response)
            y[start:start + len(z)] = scale * np.einsum("tj,tj->t", h, h)
    return per_variant(variant, [{"y": y} for y in ys])


def _antithetic_trials(rng, gate, scale: float, trials: int, slots: int, s: float) -> np.ndarray:
    """``trials`` antithetic trials of ``u(z) = z g(z)`` (``g(-z) = 1 - g(z)``): per trial
    ``scale sum_j (u(z_j)^2 + u(-z_j)^2) / 2 = scale sum_j z_j^2 (1 - 2 g(z_j) (1 - g(z_j))) / 2``
    (module docstring), from the draws of :func:`numerics.kernels.score_blocks` in the plain trial's order."""
    y = np.empty(trials)
    w = z2 = None
    for start, z in score_blocks(rng, trials, slots, s):
        w = np.empty_like(z) if w is None else w[:len(z)]
        z2 = np.empty_like(z) if z2 is None else z2[:len(z)]
        gate(z, out=w)  # g
        np.subtract(1.0, w, out=z2)  # 1 - g
        w *= z2  # g (1 - g)
        w *= -2.0
        w += 1.0  # g^2 + (1 - g)^2
        np.multiply(z, z, out=z2)
        y[start:start + len(z)] = (0.5 * scale) * np.einsum("tj,tj->t", z2, w)
    return y


def _reduce_sparsity(columns, *, rule="threshold", **_) -> Estimate:
    what = "top-k" if rule == "topk" else "threshold"
    return mean_estimate(columns["y"], method=f"reduced-form MC over the N - 1 pre-activations, ReLU with {what} "
                                              "sparsity, values integrated exactly")


@monte_carlo(_reduce_sparsity)
def measure_ffn_sparsity(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float, a: float,
                         rule: str = "threshold", trials: int = 1000, variant=None) -> dict:
    """Sparse ReLU FFN, reduced form: only some activations reach ``W_2``.

    ``rule = "threshold"`` keeps slot ``j`` when ``z_j > t = a ||k_0||``; the stored slot (``z_0 = s^2``)
    is kept since ``s > a`` (a claim constraint). Trial value ``d_v sum_j z_j^2 1{z_j > t} / (s^4 ||v_0||^2)``.

    ``rule = "topk"`` keeps the ``k = round((N - 1) Q(a)) + 1`` largest of all ``N`` activations
    ``ReLU(z_j)`` and ``h_0 = s^2``. When ``k`` or more others exceed ``s^2`` the stored slot is dropped
    and the trial's value is ``inf`` (no signal); otherwise the kept crosstalk is the ``k - 1`` largest
    ``ReLU(z_j)^2``. Ranks are taken with a full sort, independently of :func:`topk_mask`.
    """
    check_variant(variant, set())
    _check_common(N, key_norm2, value_norm2, trials)
    if rule not in ("threshold", "topk"):
        raise ValueError(f"rule={rule!r}; expected 'threshold' or 'topk'")
    if not a > 0:
        raise ValueError(f"a={a!r} must be positive")
    s = math.sqrt(key_norm2)
    scale = d_v / (key_norm2**2 * value_norm2)
    if rule == "threshold" and not key_norm2 > a * s:
        raise ValueError(f"key_norm2={key_norm2!r} must exceed a^2 = {a * a!r} (the stored slot is kept)")
    k = topk_active(N, a)
    y = np.empty(trials)
    kept = above = None
    for start, z in score_blocks(rng, trials, N - 1, s):
        n = len(z)
        if rule == "threshold":  # z^2 where z > a s, else 0 (z^2 times the 0/1 mask: one buffer, no gather)
            kept = np.empty_like(z) if kept is None else kept[:n]
            above = np.empty(z.shape, dtype=bool) if above is None else above[:n]
            np.multiply(z, z, out=kept)
            kept *= np.greater(z, a * s, out=above)
            y[start:start + n] = scale * kept.sum(axis=1)
        else:
            h = np.sort(np.maximum(z, 0.0), axis=1)[:, ::-1]  # descending
            others = h[:, :k - 1]
            dropped = np.sum(h > key_norm2, axis=1) >= k
            y[start:start + n] = np.where(dropped, np.inf, scale * np.einsum("tj,tj->t", others, others))
    return {"y": y}


@monte_carlo(weighted_mean_of("y", "reduced-form MC over the N - 1 pre-activations of an exp(beta z) FFN, "
                                   "partially tilted proposal (log-variance of each weighted term capped at 1), "
                                   "values integrated exactly"))
def measure_ffn_exp(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float, beta: float,
                    trials: int = 1000, variant=None) -> dict:
    """Conditional SNR^{-1} with slot activation ``exp(beta z)``: importance-sampled reduced form.

    The trial value is ``d_v sum_j exp(2 beta (z_j - s^2)) / ||v_0||^2`` (``h_j / h_0 = exp(beta (z_j - s^2))``).
    Its terms are log-normal with log-variance ``4 beta^2 s^2``, hopeless for plain sampling at
    working scale, so ``z_j`` is drawn from ``N(m, s^2)``, ``m = lambda 2 beta s^2`` (tilt of
    :func:`exp_tilt`), and each term carries the likelihood ratio ``exp(-m z_j / s^2 + m^2 / (2 s^2))``;
    the weighted term is ``exp(2 beta (1 - lambda) z_j + m^2 / (2 s^2) - 2 beta s^2)``. Columns: ``y``,
    and per trial ``log_sum`` / ``log_sum_sq`` (log of the sum of the weighted terms and of their
    squares) for Kish's effective sample size over every weighted term.
    """
    check_variant(variant, set())
    _check_common(N, key_norm2, value_norm2, trials)
    if not beta > 0:
        raise ValueError(f"beta={beta!r} must be positive")
    s = math.sqrt(key_norm2)
    tilt = exp_tilt(beta, key_norm2)
    m = tilt * 2.0 * beta * key_norm2
    slope, offset = 2.0 * beta * (1.0 - tilt), m * m / (2.0 * key_norm2) - 2.0 * beta * key_norm2
    out = {name: np.empty(trials) for name in ("y", "log_sum", "log_sum_sq")}
    for start, z in score_blocks(rng, trials, N - 1, s):
        logs = slope * (m + z) + offset
        out["log_sum"][start:start + len(z)] = logsumexp(logs, axis=1)
        out["log_sum_sq"][start:start + len(z)] = logsumexp(2.0 * logs, axis=1)
    out["y"] = d_v * np.exp(out["log_sum"]) / value_norm2
    return out


# --- the layer route ------------------------------------------------------------------------------

@monte_carlo(lambda columns, **_: mean_estimate(columns["y"], method="layer-level MC: W_1, W_2 drawn whole, "
                                                                     "||r||^2 read off W_2 sigma(beta W_1 k_0)"))
def measure_ffn_layer(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float,
                      activation: str = "relu", beta: float = 1.0, glu: str | None = None, rule: str | None = None,
                      a: float | None = None, trials: int = 1000, batch: int = 64, variant=None) -> dict:
    """The same estimand through the layer's matrices, plain sampling, nothing integrated.

    Each trial draws ``W_1`` ``(N, d)`` and ``W_2`` ``(d_v, N)`` with standard normal entries, rescales
    row 0 of ``W_1`` to ``||k_0||^2 = key_norm2`` and column 0 of ``W_2`` to ``||v_0||^2 = value_norm2``
    (their directions stay uniform), forms ``h`` by :func:`ffn_forward` at ``x = k_0`` (``glu = "tied"``:
    ``W_3 = W_1``), masks it (``rule = "threshold"``: pre-activation ``> a ||k_0||``; ``"topk"``:
    :func:`topk_mask` with :func:`topk_active`), and records ``||W_2 h - h_0 v_0||^2 / (h_0^2 ||v_0||^2)``.
    ``batch`` trials share one ``(batch, N, d)`` draw. Plain sampling: for ``exp`` use it only where
    ``4 beta^2 key_norm2`` is small.
    """
    check_variant(variant, set())
    _check_common(N, key_norm2, value_norm2, trials)
    if glu not in (None, "tied") or rule not in (None, "threshold", "topk"):
        raise ValueError(f"glu={glu!r}, rule={rule!r}: expected glu in (None, 'tied') and "
                         "rule in (None, 'threshold', 'topk')")
    if rule is not None and not (a is not None and a > 0):
        raise ValueError(f"a={a!r}: a sparsity rule needs a positive threshold a")
    y = np.empty(trials)
    for start in range(0, trials, batch):
        b = min(batch, trials - start)
        W1 = rng.standard_normal((b, N, d))
        W1[:, 0] *= (math.sqrt(key_norm2) / np.linalg.norm(W1[:, 0], axis=1))[:, None]
        W2 = rng.standard_normal((b, d_v, N))
        W2[:, :, 0] *= (math.sqrt(value_norm2) / np.linalg.norm(W2[:, :, 0], axis=1))[:, None]
        x = W1[:, 0]
        _, h = ffn_forward(W1, W2, x, activation=activation, beta=beta, W3=W1 if glu == "tied" else None)
        if rule == "threshold":
            h = np.where(np.einsum("bnd,bd->bn", W1, x) > a * math.sqrt(key_norm2), h, 0.0)
        elif rule == "topk":
            h = topk_mask(h, topk_active(N, a))
        r = np.einsum("bvn,bn->bv", W2, h) - h[:, :1] * W2[:, :, 0]
        y[start:start + b] = np.sum(r * r, axis=1) / (h[:, 0] ** 2 * value_norm2)
    return {"y": y}


# --- the slot identity ----------------------------------------------------------------------------

#: activations of the slot identity, in the order of its ``activation`` parameter
IDENTITY_ACTIVATIONS = ("relu", "gelu", "silu", "exp", "identity")
#: gating of the slot identity, in the order of its ``glu`` parameter
IDENTITY_GATING = ("none", "tied", "untied")


def measure_ffn_slot_identity(rng, *, N: int, d: int, d_v: int, activation: int, glu: int, inputs: int = 8,
                              variant=None) -> Estimate:
    """Max relative gap between the layer ``W_2 (sigma(W_1 x) [* W_3 x])`` and the slot sum ``sum_i v_i sigma(k_i^T x) [u_i^T x]``.

    ``W_1`` ``(N, d)`` has entries ``N(0, 1/d)`` (pre-activations of order 1, so ``exp`` stays finite),
    ``W_2`` ``(d_v, N)`` and the inputs ``x`` (``inputs`` of them) standard normal. ``glu``: 0 plain FFN,
    1 tied GLU (``W_3 = W_1``), 2 untied GLU (``W_3`` drawn like ``W_1``). The layer is :func:`ffn_forward`;
    the slot sum is a separate loop over ``i`` with ``k_i`` = row ``i`` of ``W_1``, ``u_i`` = row ``i`` of
    ``W_3``, ``v_i`` = column ``i`` of ``W_2``. Variants (wrong readings of the layer as a memory):
    ``"keys_as_columns"`` takes ``k_i`` from column ``i`` of ``W_1`` (needs ``N = d``),
    ``"activation_outside"`` applies ``sigma`` to the memory's output ``sigma(sum_i v_i k_i^T x)``,
    ``"gate_only"`` drops the up projection ``u_i^T x`` of a GLU slot.
    """
    check_variant(variant, {"keys_as_columns", "activation_outside", "gate_only"})
    if not (0 <= activation < len(IDENTITY_ACTIVATIONS)) or not (0 <= glu < len(IDENTITY_GATING)):
        raise ValueError(f"activation={activation!r} and glu={glu!r} must index {IDENTITY_ACTIVATIONS!r} and "
                         f"{IDENTITY_GATING!r}")
    if min(N, d, d_v, inputs) < 1:
        raise ValueError(f"N={N!r}, d={d!r}, d_v={d_v!r} and inputs={inputs!r} must be >= 1")
    if variant == "keys_as_columns" and N != d:
        raise ValueError(f"variant 'keys_as_columns' needs a square W_1 (N = d), got N={N!r}, d={d!r}")
    name = IDENTITY_ACTIVATIONS[activation]
    sigma = _activation(name)
    W1 = rng.standard_normal((N, d)) / math.sqrt(d)
    W3 = {0: None, 1: W1, 2: rng.standard_normal((N, d)) / math.sqrt(d)}[glu]
    W2 = rng.standard_normal((d_v, N))
    X = rng.standard_normal((inputs, d))
    layer, _ = ffn_forward(np.broadcast_to(W1, (inputs, N, d)), np.broadcast_to(W2, (inputs, d_v, N)), X,
                           activation=name, W3=None if W3 is None else np.broadcast_to(W3, (inputs, N, d)))
    keys = W1.T if variant == "keys_as_columns" else W1
    slots = np.zeros((inputs, d_v))
    for b, x in enumerate(X):
        if variant == "activation_outside":
            slots[b] = sigma(sum(W2[:, i] * float(keys[i] @ x) for i in range(N)))
            continue
        for i in range(N):
            h = float(sigma(np.float64(keys[i] @ x)))
            if W3 is not None and variant != "gate_only":
                h *= float(W3[i] @ x)
            slots[b] += W2[:, i] * h
    scale = largest([np.max(np.abs(layer)), np.max(np.abs(slots))])  # NaN if either is: a failure, never 0
    gap = np.max(np.abs(layer - slots)) / scale if scale != 0 else 0.0  # 0 / 0: every ReLU slot silent
    return exact_value(float(gap), method=f"layer vs slot-by-slot sum, sigma = {name}, gating = "
                                          f"{IDENTITY_GATING[glu]}, float64")


# --- the untied gated unit ------------------------------------------------------------------------

@monte_carlo(lambda columns, **_: mean_estimate(columns["y"], method="reduced-form MC of the untied GLU: gate and up "
                                                                     "pre-activations of the N - 1 other slots drawn "
                                                                     "independently, values integrated exactly"))
def measure_ffn_untied_glu(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float, up_proj2: float,
                           trials: int = 1000, variant=None) -> dict:
    """Conditional SNR^{-1} of slot 0 of a GLU FFN ``W_2 (ReLU(W_1 x) * (W_3 x))`` with independent ``W_1``, ``W_3``.

    Query ``x = g_0`` (slot 0's gate key, ``||g_0||^2 = s^2``), the slot's up projection fixed at
    ``u_0^T g_0 = sqrt(up_proj2)``. For every other slot ``z_j = g_j^T g_0`` and ``w_j = u_j^T g_0`` are
    independent ``N(0, s^2)`` (independent Gaussian rows, rotation invariance), so a trial is
    ``Y = d_v sum_j ReLU(z_j)^2 w_j^2 / (c^2 ||v_0||^2)``, ``c = s^2 sqrt(up_proj2)``.
    """
    check_variant(variant, set())
    _check_common(N, key_norm2, value_norm2, trials)
    if not up_proj2 > 0:
        raise ValueError(f"up_proj2={up_proj2!r} must be positive (a zero up projection stores nothing)")
    s = math.sqrt(key_norm2)
    c2 = key_norm2**2 * up_proj2
    y = np.empty(trials)
    for start, n in _chunks(trials, 2 * N):
        z = np.maximum(s * rng.standard_normal((n, N - 1)), 0.0)
        w = s * rng.standard_normal((n, N - 1))
        h = z * w
        y[start:start + n] = d_v * np.einsum("tj,tj->t", h, h) / (c2 * value_norm2)
    return {"y": y}


def untied_glu_layer_inverse_snr(rng, *, N: int, d: int, d_v: int, key_norm2: float, value_norm2: float,
                                 up_proj2: float, trials: int = 1000) -> Estimate:
    """The untied GLU's estimand through the layer: ``W_1``, ``W_3`` ``(N, d)``, ``W_2`` ``(d_v, N)`` drawn whole.

    Row 0 of ``W_1`` is rescaled to ``||g_0||^2 = key_norm2``; row 0 of ``W_3`` is set to
    ``sqrt(up_proj2) g_0 / ||g_0||^2`` (only ``u_0^T g_0`` reaches the output at ``x = g_0``); column 0 of ``W_2``
    to ``||v_0||^2 = value_norm2``. Records ``||W_2 h - h_0 v_0||^2 / (h_0^2 ||v_0||^2)``. A test of the reduction.
    """
    _check_common(N, key_norm2, value_norm2, trials)
    y = np.empty(trials)
    for t in range(trials):
        W1 = rng.standard_normal((N, d))
        W1[0] *= math.sqrt(key_norm2) / np.linalg.norm(W1[0])
        W3 = rng.standard_normal((N, d))
        W3[0] = math.sqrt(up_proj2) * W1[0] / key_norm2
        W2 = rng.standard_normal((d_v, N))
        W2[:, 0] *= math.sqrt(value_norm2) / np.linalg.norm(W2[:, 0])
        x = W1[0]
        h = np.maximum(W1 @ x, 0.0) * (W3 @ x)
        r = W2 @ h - h[0] * W2[:, 0]
        y[t] = r @ r / (h[0] ** 2 * value_norm2)
    return mean_estimate(y, method="layer-level MC of the untied GLU")


# --- width ------------------------------------------------------------------------------------------

def width_grid(n_min: int) -> list[int]:
    """The FFN widths simulated by :func:`measure_ffn_width_capacity`: ``n_min, 2 n_min, 4 n_min, 8 n_min``."""
    if n_min < 2:
        raise ValueError(f"n_min={n_min!r} must be >= 2 (a slot needs another slot to have crosstalk)")
    return [n_min * 2**i for i in range(4)]


def _width_capacity(columns, *, rho, n_min, variant=None, **_) -> Estimate:
    """``d_ff* = (rho - a)/b`` from the weighted-free OLS line ``SNR^{-1} = a + b d_ff`` through the simulated means.

    The widths are simulated independently, so ``a`` and ``b`` are fixed linear combinations of the means
    and the delta method gives the SE of ``d_ff*`` from the means' SEs. Variant ``"query_not_counted"``
    reports ``rho/b`` (the line forced through the origin in place of the fitted intercept).
    """
    widths = np.asarray(width_grid(n_min), dtype=float)
    y = np.asarray(columns["y"], dtype=float)
    n = y.shape[0]
    mean, se = y.mean(axis=0), y.std(axis=0, ddof=1) / math.sqrt(n)
    centred = widths - widths.mean()
    beta = centred / np.sum(centred**2)  # b = beta . mean
    alpha = 1.0 / widths.size - widths.mean() * beta  # a = alpha . mean
    b, a = float(beta @ mean), float(alpha @ mean)
    if variant == "query_not_counted":
        value, grad = rho / b, -(rho / b**2) * beta
    else:
        value, grad = (rho - a) / b, -alpha / b - ((rho - a) / b**2) * beta
    return Estimate(float(value), float(np.sqrt(np.sum(grad**2 * se**2))), n, None,
                    "widest FFN at SNR^{-1} = rho, from an OLS line through reduced-form MC at 4 widths",
                    {"slope": b, "intercept": a})


@monte_carlo(_width_capacity, shared_variants={"query_not_counted"})
def measure_ffn_width_capacity(rng, *, d: int, d_v: int, key_norm2: float, value_norm2: float, rho: float, n_min: int,
                               glu: int = 0, trials: int = 1000, variant=None) -> dict:
    """Largest ``d_ff`` whose queried slot keeps ``SNR^{-1} <= rho``, read off simulations at four widths.

    For each width of :func:`width_grid` a trial draws its own ``d_ff - 1`` pre-activations and records the
    reduced-form value of :func:`measure_ffn_inverse_snr` (ReLU for ``glu = 0``, the tied gated unit for
    ``glu = 1``); column ``y`` is ``(trials, 4)``. Nothing assumes the line: the reducer fits it. Variant
    ``"query_not_counted"`` changes only the reducer, so a group of routes gets the same columns.
    """
    group = check_variants(variant, {"query_not_counted"})
    if glu not in (0, 1) or not rho > 0:
        raise ValueError(f"glu={glu!r} must be 0 (ReLU) or 1 (tied gate) and rho={rho!r} positive")
    widths = width_grid(n_min)
    cols = [measure_ffn_inverse_snr.simulate(rng, N=w, d=d, d_v=d_v, key_norm2=key_norm2, value_norm2=value_norm2,
                                             glu="tied" if glu else None, trials=trials)["y"] for w in widths]
    return per_variant(variant, [{"y": np.stack(cols, axis=1)}] * len(group))
