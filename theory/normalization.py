"""QK-norm: keys and queries L2-normalised, scores divided by a temperature ``tau`` (paper §3, notes §4.6).

The notes record no text of the paper on normalisation (a gap); everything here is derived by the suite.
Keys ``k_j = g_j/||g_j||`` are uniform on the unit sphere ``S^{d_k - 1}``, the query is the stored key
``k_i``, values are Gaussian. For the exp kernel ``exp(x^T y/tau)`` the signal is ``c = e^{1/tau}`` for every
stored key and, with ``t = k_j^T k_i`` (``t^2 ~ Beta(1/2, (d_k - 1)/2)``, odd moments zero),

    E[e^{2t/tau}] = sum_m (2/tau)^{2m} E[t^{2m}]/(2m)! = Gamma(d_k/2) tau^{d_k/2 - 1} I_{d_k/2 - 1}(2/tau),

so ``SNR^{-1} = (N - 1)(d_v/||v_i||^2) g(tau)`` with ``g(tau) = e^{-2/tau} Gamma(d_k/2) tau^{d_k/2-1} I_{d_k/2-1}(2/tau)``.

What normalisation changes:

* the conditional value no longer depends on the stored key (every key has norm 1), so the conditional,
  its mean over ``k_i`` and the key part of the ratio of expectations coincide; only the value factor
  differs (``d_v/||v_i||^2``, ``d_v/(d_v - 2)``, 1). With Gaussian keys the three differ exponentially;
* ``g(tau) = E[e^{2(t - 1)/tau}]`` with ``t <= 1``: every term increases with ``tau``, so the crosstalk is
  strictly increasing in ``tau``. There is no finite optimal temperature: the smaller ``tau``, the better
  the exact-query retrieval (``g ~ Gamma(d_k/2) tau^{(d_k - 1)/2}/(2 sqrt(pi))`` as ``tau -> 0``), whereas Gaussian keys
  have their optimum at ``tau = 2`` because the stored key's own norm enters the signal;
* the linear kernel on the sphere is scale-free: a temperature multiplies signal and noise alike
  (``capacity.linear.inverse_snr_sphere``, ``(N - 1)/d_k`` for the ratio of expectations).

>>> sphere_crosstalk()
tau**(d_k/2 - 1)*exp(-2/tau)*besseli(d_k/2 - 1, 2/tau)*gamma(d_k/2)
"""

from __future__ import annotations

from functools import cache

# sympy.stats (25 ms to import) is imported inside the functions that use it: a run whose
# derivations all come from the derivation cache never needs it, so every process starts that much sooner.
import sympy as sp

from theory.derivation import Derivation
from theory.kernels import exp_of
from theory.symbols import N, d_k, d_v, tau, value_norm2

__all__ = ["inverse_snr_sphere_exp", "sphere_crosstalk", "sphere_halving_ratio", "sphere_monotone"]

_M = sp.Symbol(r"\mathbb{E}[e^{2t/\tau}]", positive=True)
_c = sp.Symbol(r"\kappa(k_i,k_i)", positive=True)
_m = sp.Symbol("m", nonnegative=True, integer=True)
_t = sp.Symbol("t", real=True)
_u = sp.Symbol("u", positive=True)  # 1 - t for a cosine t < 1


@cache
def inverse_snr_sphere_exp() -> Derivation:
    """Exp kernel with unit keys and query (QK-norm) at temperature ``tau``: module docstring."""
    from sympy.stats import Beta, E

    moment = E(Beta("B", sp.Rational(1, 2), (d_k - 1) / 2) ** _m)  # E[t^{2m}] = E[B^m], by sympy.stats
    series = sp.Sum((2 / tau) ** (2 * _m) * moment / sp.factorial(2 * _m), (_m, 0, sp.oo)).doit()
    closed = sp.gamma(d_k / 2) * tau ** (d_k / 2 - 1) * sp.besseli(d_k / 2 - 1, 2 / tau)
    return (
        Derivation("exp kernel on the unit sphere", (N - 1) * d_v * _M / (_c**2 * value_norm2),
                   lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_{\mathrm{QK\text{-}norm}}"))
        .substitute(_c, sp.exp(1 / tau), "kappa(k_i, k_i) = exp(||k_i||^2/tau) = e^{1/tau} for a unit key",
                    proof=exp_of(sp.S.One))
        .substitute(_M, closed, "power series of exp: odd moments of t vanish, E[t^{2m}] = E[B^m] for "
                    "B = t^2 ~ Beta(1/2, (d_k - 1)/2); the series sums to a Bessel function (sympy)", proof=series)
        .step((N - 1) * d_v / value_norm2 * sp.exp(-2 / tau) * closed, "collect e^{-2/tau}")
    )


def sphere_crosstalk() -> sp.Expr:
    """Per-pair crosstalk ``g(tau) = SNR^{-1} ||v_i||^2 / ((N - 1) d_v)`` on the sphere."""
    return sp.simplify(inverse_snr_sphere_exp().result * value_norm2 / ((N - 1) * d_v))


@cache
def sphere_monotone() -> Derivation:
    """``d/dtau e^{2(t - 1)/tau} = 2 (1 - t)/tau^2 e^{2(t - 1)/tau}``: positive for ``t < 1`` (a.s. on the sphere).

    So ``g(tau) = E e^{2(t-1)/tau}`` strictly increases with ``tau`` and has no interior minimum.
    """
    term = sp.exp(2 * (_t - 1) / tau)
    derivative = 2 * (1 - _t) / tau**2 * term
    return (
        Derivation("the sphere crosstalk increases with tau", sp.diff(term, tau),
                   lhs=sp.Symbol(r"\partial_\tau e^{2(t-1)/\tau}"))
        .step(derivative, "chain rule; positive wherever t < 1 (sympy's sign of it at t = 1 - u, u > 0)",
              check=_sign_check(derivative.subs(_t, 1 - _u), positive=True))
    )


def _sign_check(expr, *, positive: bool) -> sp.Integer:
    """0 when sympy's assumptions decide that ``expr`` is positive (negative), else 1: a side condition."""
    return sp.Integer(0 if (expr.is_positive if positive else expr.is_negative) else 1)


@cache
def sphere_halving_ratio() -> Derivation:
    """``g(tau/2)/g(tau)``: what halving the temperature does to the crosstalk; below 1 for every ``tau``."""
    g = sphere_crosstalk()
    return (
        Derivation("crosstalk ratio at half the temperature", g.subs(tau, tau / 2) / g,
                   lhs=sp.Symbol(r"g(\tau/2)/g(\tau)"))
        .step(g.subs(tau, tau / 2) / g, "g(tau) = E e^{2(t-1)/tau} is increasing in tau (sphere_monotone: its "
              "derivative, positive for t < 1, which holds a.s. on the sphere) and tau/2 < tau, so < 1",
              check=sp.Matrix([sphere_monotone().result - sp.diff(sp.exp(2 * (_t - 1) / tau), tau),
                               _sign_check(sphere_monotone().result.subs(_t, 1 - _u), positive=True),
                               _sign_check(tau / 2 - tau, positive=False)]))
    )
