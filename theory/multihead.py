"""Multi-head kernel memories: H heads of width d_k/H against one head of width d_k (paper §3, notes §4.4).

The notes record that the paper analyses "two strategies" for raising capacity, the first being the
kernel map; the second is a gap, possibly multi-head attention. This module derives, for one retrieval,
what splitting a memory into heads does to the conditional SNR (provenance ``suite``).

Model. A key ``k = [k^(1); ...; k^(H)]`` and a value ``v = [v^(1); ...; v^(H)]`` are cut into ``H`` blocks of
widths ``d_k/H`` and ``d_v/H``. Head ``h`` stores the ``N`` pairs ``(k_j^(h), v_j^(h))`` and answers
``o^(h) = sum_j v_j^(h) kappa(k_j^(h), q^(h))``; the layer's output is the concatenation of the heads'
outputs (output projection the identity: an orthogonal one changes no norm). Querying the stored key
``q = k_i`` gives ``o = [c_h v_i^(h)]_h + r`` with ``c_h = kappa(k_i^(h), k_i^(h))``.

Estimand: ``E ||r||^2 / sum_h c_h^2 ||v_i^(h)||^2`` (noise energy over signal energy of the concatenated
output), conditional on the stored pair, with its key norm spread equally over the heads
(``||k_i^(h)||^2 = ||k_i||^2/H``, the typical split) so that every ``c_h`` is the same ``c``. The heads' noises
are independent given ``k_i`` and each has the single-head form with ``||k_i||^2/H`` in place of
``||k_i||^2`` and ``d_v/H`` value coordinates, so

    SNR^{-1}_H = (N - 1) d_v E[kappa^2(Z_H)] / (kappa(||k_i||^2/H)^2 ||v_i||^2),   Z_H ~ N(0, ||k_i||^2/H).

>>> from theory.symbols import N, d_k, d_v, key_norm2, value_norm2, tau
>>> inverse_snr_multihead_linear().result
H*d_v*(N - 1)/(key_norm2*value_norm2)
>>> inverse_snr_multihead_exp().result
d_v*(N - 1)*exp(key_norm2*(2 - 2*tau)/(H*tau**2))/value_norm2

At typical norms the linear memory loses a factor ``H`` (capacity ``rho d_k/H``) and the exp kernel at
its optimum ``tau = 2`` goes from ``(N - 1) e^{-d_k/2}`` to ``(N - 1) e^{-d_k/(2H)}`` (capacity
``rho e^{d_k/(2H)}``): for one retrieval, heads cost capacity; they do not add it.
"""

from __future__ import annotations

from functools import cache

# sympy.stats (25 ms to import) is imported inside the functions that use it: a run whose
# derivations all come from the derivation cache never needs it, so every process starts that much sooner.
import sympy as sp

from theory.derivation import Derivation
from theory.kernels import exp_of
from theory.symbols import N, d_k, d_v, key_norm2, tau, value_norm2

__all__ = ["H", "dv_head", "head_ratio_exp_typical", "head_ratio_linear", "inverse_snr_multihead",
           "inverse_snr_multihead_exp", "inverse_snr_multihead_linear"]

H = sp.Symbol("H", positive=True, integer=True)  # number of heads
dv_head = sp.Symbol("dv_head", positive=True, integer=True)  # value width of one head, d_v = H dv_head

_E_head_noise = sp.Symbol(r"\mathbb{E}\|r^{(h)}\|^2", positive=True)
_E_kappa2 = sp.Symbol(r"\mathbb{E}[\kappa^2(Z_H)]", positive=True)
_c = sp.Symbol(r"\kappa(\|k_i\|^2/H)", positive=True)
_a = sp.Symbol("a", positive=True)


@cache
def inverse_snr_multihead() -> Derivation:
    """The H-head conditional SNR^{-1} for any kernel of the inner product (module docstring).

    Head ``h`` has ``N - 1`` noise terms ``v_j^(h) kappa(z_jh)`` with ``E||v_j^(h)||^2 = d_v/H`` (chi-square with
    ``d_v/H`` degrees of freedom) and ``z_jh ~ N(0, ||k_i||^2/H)``; its expected noise is ``(N-1)(d_v/H) E[kappa^2]``.
    Summed over the ``H`` heads against the signal ``sum_h c^2 ||v_i^(h)||^2 = c^2 ||v_i||^2``.
    """
    from sympy.stats import ChiSquared, E

    start = H * _E_head_noise / (_c**2 * value_norm2)
    return (
        Derivation("H-head SNR^{-1}, concatenated output", start, lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_H"))
        .substitute(_E_head_noise, (N - 1) * d_v / H * _E_kappa2,
                    "one head: N - 1 independent terms, E||v_j^(h)||^2 = d_v/H (chi-square(d_v/H))",
                    proof=(N - 1) * E(ChiSquared("X", d_v / H)) * _E_kappa2)
        .step((N - 1) * d_v * _E_kappa2 / (_c**2 * value_norm2), "the H heads' equal noises summed")
    )


@cache
def inverse_snr_multihead_linear() -> Derivation:
    """Linear kernel: ``E[Z_H^2] = ||k_i||^2/H``, ``c = ||k_i||^2/H``: ``SNR^{-1}_H = H (N-1) d_v/(||k_i||^2 ||v_i||^2)``."""
    from sympy.stats import E, Normal

    per_head = key_norm2 / H
    return (
        inverse_snr_multihead()
        .substitute(_E_kappa2, per_head, "E[Z^2] for Z ~ N(0, ||k_i||^2/H)",
                    proof=E(Normal("Z", 0, sp.sqrt(_a)) ** 2).subs(_a, per_head))
        .substitute(_c, per_head, "c = ||k_i^(h)||^2 = ||k_i||^2/H", proof=per_head)
        .step(H * (N - 1) * d_v / (key_norm2 * value_norm2), "cancel one ||k_i||^2/H")
    )


@cache
def inverse_snr_multihead_exp() -> Derivation:
    """Exp kernel ``exp(x^T y/tau)`` in every head: ``SNR^{-1}_H = (N-1)(d_v/||v_i||^2) exp(2(1-tau)||k_i||^2/(H tau^2))``."""
    from sympy.stats import E, Normal

    per_head = key_norm2 / H
    mgf = sp.simplify(E(exp_of(Normal("Z", 0, sp.sqrt(_a))) ** 2))
    return (
        inverse_snr_multihead()
        .substitute(_E_kappa2, sp.exp(2 * per_head / tau**2), "Gaussian MGF at 2/tau, variance ||k_i||^2/H",
                    proof=mgf.subs(_a, per_head))
        .substitute(_c, sp.exp(per_head / tau), "c = exp(||k_i^(h)||^2/tau)", proof=exp_of(per_head))
        .step((N - 1) * d_v / value_norm2 * sp.exp(2 * (1 - tau) * key_norm2 / (H * tau**2)), "collect the exponents")
    )


def head_ratio_linear() -> sp.Expr:
    """``SNR^{-1}_H / SNR^{-1}_1 = H`` for the linear kernel (any norms)."""
    one = inverse_snr_multihead_linear().result
    return sp.simplify(one / one.subs(H, 1))


def head_ratio_exp_typical() -> sp.Expr:
    """``SNR^{-1}_H / SNR^{-1}_1`` for the exp kernel at ``tau = 2``, ``||k_i||^2 = d_k``: ``e^{d_k (1 - 1/H)/2}``.

    >>> head_ratio_exp_typical()
    exp(d_k*(H - 1)/(2*H))
    """
    one = inverse_snr_multihead_exp().result.subs({tau: 2, key_norm2: d_k})
    return sp.simplify(one / one.subs(H, 1))
