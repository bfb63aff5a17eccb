"""Kernel associative memories: retrieval SNR of the polynomial, ReLU and exponential kernels (paper §3).

A kernel memory stores ``N`` pairs and answers a stored key with
``o = sum_j v_j kappa(k_j, k_i) = c v_i + r``, ``c = kappa(k_i, k_i)``,
``r = sum_{j != i} v_j kappa(k_j, k_i)``. For i.i.d. zero-mean values the cross terms of
``||r||^2`` vanish in expectation, so, conditional on the stored pair,

    SNR^{-1}_kappa = (N - 1) d_v E[kappa^2(k_j, k_i) | k_i] / (kappa^2(k_i, k_i) ||v_i||^2)

(the paper writes ``N`` for ``N - 1`` and drops the value-norm factor ``d_v / ||v_i||^2``).
With Gaussian keys ``k_j ~ N(0, I_{d_k})`` the projection ``k_j^T k_i | k_i`` is
``N(0, ||k_i||^2)``, so every kernel of the inner product needs one scalar Gaussian moment:

>>> from theory.symbols import N, d_k, d_v, key_norm2, value_norm2, p, tau
>>> inverse_snr_relu().result
d_v*(N - 1)/(2*key_norm2*value_norm2)
>>> inverse_snr_exp().result
d_v*(N - 1)*exp(key_norm2*(2 - 2*tau)/tau**2)/value_norm2

The exponential kernel's three estimands (conditional at typical keys, mean over ``k_i``,
ratio of expectations) differ in kind, not only in constants: see :func:`inverse_snr_exp_mean`
and :func:`inverse_snr_exp_ratio`.
"""

from __future__ import annotations

import math
from functools import cache

# sympy.stats (25 ms to import) is imported inside the functions that use it: a run whose
# derivations all come from the derivation cache never needs it, so every process starts that much sooner.
import sympy as sp

from theory.derivation import Derivation
from theory.linear_memory import E_v2  # the same placeholder: E||v_j||^2 of a stored value
from theory.linear_memory import doubling_grid
from theory.symbols import N, d_k, d_v, key_norm2, p, rho, tau, value_norm2

__all__ = [
    "capacity_exp",
    "capacity_exp_slope",
    "capacity_exp_slope_finite_size",
    "capacity_poly",
    "capacity_poly_exponent",
    "capacity_poly_exponent_finite_size",
    "capacity_poly_pairs",
    "capacity_poly_slope_with_query",
    "double_factorial_odd",
    "E_kernel2",
    "exp_log_crosstalk",
    "exp_of",
    "exp_typical_exponent",
    "exp_typical_optimum",
    "feature_map_dimension",
    "by_kernel",
    "gaussian_even_moment",
    "half_line_moment",
    "general_instances",
    "instance_results",
    "inverse_snr_exp",
    "inverse_snr_exp_mean",
    "inverse_snr_exp_ratio",
    "inverse_snr_exp_sqrt_d",
    "inverse_snr_exp_typical",
    "inverse_snr_general",
    "inverse_snr_poly",
    "inverse_snr_rbf",
    "inverse_snr_relu",
    "inverse_snr_truncated",
    "inverse_snr_value_mean",
    "kernel_index",
    "KERNEL_INSTANCES",
    "key_var",
    "normalization_invariance",
    "poly_feature_map",
    "poly_of",
    "relu_of",
    "taylor_remainder_bound",
    "truncated_kernel_moment",
    "truncated_kernel_signal",
    "truncation_bound",
    "truncation_degree",
    "TRUNCATION_DEGREES",
    "value_mean_norm2",
]

# Placeholders that a derivation replaces by a sympy-computed expectation.
E_kernel2 = sp.Symbol(r"\mathbb{E}[\kappa^2(k_j,k_i)\mid k_i]", positive=True)
E_kernel = sp.Symbol(r"\mathbb{E}[\kappa(k_j,k_i)\mid k_i]", positive=True)
kernel_ii = sp.Symbol(r"\kappa(k_i,k_i)", positive=True)
value_mean_norm2 = sp.Symbol("mu_norm2", nonnegative=True)  # ||mu||^2 of the value mean
key_var = sp.Symbol("key_var", positive=True)  # per-coordinate variance sigma^2 of the keys (1 in the paper)

_a = sp.Symbol("a", positive=True)  # variance of the projection k_j^T k_i given k_i
_z = sp.Symbol("z", real=True)
_zp = sp.Symbol("z", positive=True)  # a point of the positive half-line
_zn = sp.Symbol("z", negative=True)  # a point of the negative half-line


# The kernels of the inner product z = x^T y, each written once: a derivation's diagonal step
# kappa(k_i, k_i) = kappa(||k_i||^2) applies the kernel, and its moment integrates it, so a slip in a
# kernel fails the steps built on it instead of passing as a restated value (theory/ffn.py uses them too).
def poly_of(z):
    """``(x^T y)^p`` as a function of ``z = x^T y``."""
    return z**p


def relu_of(z):
    """``max(x^T y, 0)`` as a function of ``z = x^T y``."""
    return sp.Piecewise((z, z > 0), (0, True))


def exp_of(z):
    """``exp(x^T y / tau)`` as a function of ``z = x^T y``."""
    return sp.exp(z / tau)


def double_factorial_odd(n) -> sp.Expr:
    """``(2n - 1)!! = (2n)! / (2^n n!)``, the written-out form sympy simplifies reliably."""
    return sp.factorial(2 * n) / (2**n * sp.factorial(n))


@cache
def gaussian_even_moment() -> sp.Expr:
    """``E[Z^{2p}]`` for ``Z ~ N(0, a)``, integrated by sympy for symbolic integer ``p``."""
    density = sp.exp(-_z**2 / (2 * _a)) / sp.sqrt(2 * sp.pi * _a)
    return sp.integrate(_z ** (2 * p) * density, (_z, -sp.oo, sp.oo))


@cache
def inverse_snr_general() -> Derivation:
    """The general-kernel inverse SNR, conditional on ``(k_i, v_i)``, zero-mean i.i.d. values.

    ``E||r||^2 = sum_{j != i} E||v_j||^2 E[kappa^2 | k_i]`` (cross terms have zero mean) and
    ``E||v_j||^2 = d_v``.
    """
    from sympy.stats import ChiSquared, E

    start = (N - 1) * E_v2 * E_kernel2 / (kernel_ii**2 * value_norm2)
    return (
        Derivation("general kernel SNR^{-1}", start, lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_\kappa"))
        .substitute(E_v2, d_v, "||v_j||^2 ~ chi^2(d_v)", proof=E(ChiSquared("X", d_v)))
    )


@cache
def inverse_snr_poly() -> Derivation:
    """Polynomial kernel ``(x^T y)^p``: ``SNR^{-1} = (N-1) d_v (2p-1)!! / (||k_i||^{2p} ||v_i||^2)``."""
    moment = key_norm2**p * double_factorial_odd(p)
    return (
        inverse_snr_general()
        .substitute(E_kernel2, moment, "E[(k_j^T k_i)^{2p} | k_i] = (2p-1)!! ||k_i||^{2p} (Gaussian even moment)",
                    proof=gaussian_even_moment().subs(_a, key_norm2))
        .substitute(kernel_ii, key_norm2**p, "kappa(k_i, k_i) = ||k_i||^{2p}", proof=poly_of(key_norm2))
        .step((N - 1) * d_v * double_factorial_odd(p) / (key_norm2**p * value_norm2), "cancel ||k_i||^{2p}")
    )


@cache
def inverse_snr_relu() -> Derivation:
    """ReLU kernel ``max(x^T y, 0)``: ``E[ReLU(Z)^2] = ||k_i||^2 / 2``, half the linear crosstalk."""
    # ReLU(z)^2 is 0 for z <= 0 (the conditions), so its mean is the half-line integral (one sympy integral,
    # about 15x faster than integrating the Piecewise over the whole line)
    proof = half_line_moment(relu_of)
    return (
        inverse_snr_general()
        .substitute(E_kernel2, key_norm2 / 2, "E[ReLU(k_j^T k_i)^2 | k_i] = int_0^oo z^2 N(z; 0, ||k_i||^2) dz "
                    "= ||k_i||^2/2 (half of a Gaussian second moment)", proof=proof,
                    conditions=(relu_of(_zn), relu_of(sp.S.Zero)))
        .substitute(kernel_ii, key_norm2, "kappa(k_i, k_i) = ReLU(||k_i||^2) = ||k_i||^2", proof=relu_of(key_norm2))
        .step((N - 1) * d_v / (2 * key_norm2 * value_norm2), "cancel ||k_i||^2")
    )


def half_line_moment(kernel) -> sp.Expr:
    """``int_0^oo kernel(z)^2 N(z; 0, ||k_i||^2) dz``: the second moment of a kernel that vanishes for ``z <= 0``
    (the ReLU kernel here; the ReLU FFN units of :mod:`theory.ffn`)."""
    density = sp.exp(-_zp**2 / (2 * _a)) / sp.sqrt(2 * sp.pi * _a)
    return sp.integrate(kernel(_zp) ** 2 * density, (_zp, 0, sp.oo)).subs(_a, key_norm2)


@cache
def _exp_mgf() -> sp.Expr:
    """``E exp(2 Z / tau)`` for ``Z ~ N(0, a)``: the Gaussian moment-generating function at ``2/tau``."""
    from sympy.stats import E, Normal

    return sp.simplify(E(exp_of(Normal("Z", 0, sp.sqrt(_a))) ** 2))


@cache
def inverse_snr_exp() -> Derivation:
    """Exponential kernel ``exp(x^T y / tau)`` (softmax attention before normalization).

    ``E[exp(2 k_j^T k_i / tau) | k_i] = exp(2 ||k_i||^2 / tau^2)`` exactly (Gaussian MGF) and
    ``kappa(k_i, k_i)^2 = exp(2 ||k_i||^2 / tau)``, so
    ``SNR^{-1} = (N-1) (d_v/||v_i||^2) exp(2 (1 - tau) ||k_i||^2 / tau^2)``.
    """
    return (
        inverse_snr_general()
        .substitute(E_kernel2, sp.exp(2 * key_norm2 / tau**2),
                    "Gaussian MGF: E exp(2 Z/tau) = exp(2 ||k_i||^2/tau^2) for Z ~ N(0, ||k_i||^2)",
                    proof=_exp_mgf().subs(_a, key_norm2))
        .substitute(kernel_ii, sp.exp(key_norm2 / tau), "kappa(k_i, k_i) = exp(||k_i||^2/tau)",
                    proof=exp_of(key_norm2))
        .step((N - 1) * d_v / value_norm2 * sp.exp(2 * (1 - tau) * key_norm2 / tau**2), "collect the exponents")
    )


def exp_typical_exponent() -> sp.Expr:
    """The exponent ``2 d_k (1 - tau) / tau^2`` of the exp-kernel SNR^{-1} at a typical key ``||k_i||^2 = d_k``."""
    return 2 * d_k * (1 - tau) / tau**2


@cache
def exp_log_crosstalk() -> Derivation:
    """Log of the per-pair crosstalk ``E[kappa^2 | k_i] / kappa(k_i, k_i)^2`` for keys ``N(0, sigma^2 I)``.

    Given ``k_i``, ``k_j^T k_i ~ N(0, sigma^2 ||k_i||^2)``, so ``E exp(2 k_j^T k_i / tau) = exp(2 sigma^2 ||k_i||^2 / tau^2)``
    (Gaussian MGF, by ``sympy.stats``) and ``kappa(k_i, k_i)^2 = exp(2 ||k_i||^2 / tau)``: the log is
    ``2 ||k_i||^2 (sigma^2/tau^2 - 1/tau)``, a parabola in ``u = 1/tau`` (``sigma^2 = key_var``).
    """
    return (
        Derivation("log per-pair crosstalk of the exp kernel", sp.log(E_kernel2) - 2 * sp.log(kernel_ii),
                   lhs=sp.Symbol(r"\log(\mathbb{E}[\kappa^2\mid k_i]/\kappa_{ii}^2)"))
        .substitute(E_kernel2, sp.exp(2 * key_var * key_norm2 / tau**2),
                    "Gaussian MGF: k_j^T k_i ~ N(0, sigma^2 ||k_i||^2)", proof=_exp_mgf().subs(_a, key_var * key_norm2))
        .substitute(kernel_ii, sp.exp(key_norm2 / tau), "kappa(k_i, k_i) = exp(||k_i||^2/tau)",
                    proof=exp_of(key_norm2))
        .step(2 * key_norm2 * (key_var / tau**2 - 1 / tau), "log exp, collect")
    )


@cache
def exp_typical_optimum() -> Derivation:
    """``argmin_tau`` of the exp-kernel SNR^{-1} for keys ``N(0, sigma^2 I)``: ``tau* = 2 sigma^2`` (2 for unit variance).

    Only the per-pair crosstalk depends on ``tau`` (:func:`exp_log_crosstalk`); its stationarity equation
    is solved by sympy. The side conditions: the second derivative at ``tau* = 2 sigma^2`` is
    ``||k_i||^2/(4 sigma^6) > 0`` (a minimum over ``tau > 0``), the minimum value is ``-||k_i||^2/(2 sigma^2)``
    (``-d_k/2`` at a typical unit-variance key), and ``tau*`` does not depend on ``||k_i||``.
    """
    f = exp_log_crosstalk().result
    stationary = sp.solve(sp.diff(f, tau), tau)
    optimum = 2 * key_var
    second = sp.diff(f, tau, 2).subs(tau, optimum)
    return (
        Derivation("optimal temperature of the exp kernel", sp.Matrix(stationary),
                   lhs=sp.Symbol(r"\arg\min_\tau \mathrm{SNR}^{-1}_{\exp}"))
        .step(sp.Matrix([optimum]), "the only stationary point over tau > 0; a minimum",
              check=second - key_norm2 / (4 * key_var**3))
        .step(sp.Matrix([optimum]), "its value is -||k_i||^2/(2 sigma^2), i.e. -d_k/2 at a typical unit-variance key",
              check=sp.Matrix([f.subs(tau, optimum) + key_norm2 / (2 * key_var),
                               f.subs({tau: 2, key_var: 1, key_norm2: d_k}) + d_k / 2]))
    )


@cache
def inverse_snr_exp_typical() -> Derivation:
    """At ``||k_i||^2 = d_k``, ``||v_i||^2 = d_v`` and ``tau = 2``: ``SNR^{-1} = (N - 1) e^{-d_k/2}``."""
    conditional = inverse_snr_exp().result
    return (
        Derivation("exp kernel at typical keys, tau = 2", conditional.subs({key_norm2: d_k, value_norm2: d_v}),
                   lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_{\exp}(\tau)"))
        .substitute(tau, 2, "the optimal temperature tau* = 2 (unit-variance keys)",
                    proof=exp_typical_optimum().result[0].subs(key_var, 1))
        .step((N - 1) * sp.exp(-d_k / 2), "2 d_k (1 - 2)/4 = -d_k/2")
    )


@cache
def inverse_snr_exp_sqrt_d() -> Derivation:
    """At typical keys and the conventional ``tau = sqrt(d_k)``: ``(N - 1) exp(-2 (sqrt(d_k) - 1))``."""
    conditional = inverse_snr_exp().result.subs({key_norm2: d_k, value_norm2: d_v})
    return (
        Derivation("exp kernel at typical keys, tau = sqrt(d_k)", conditional,
                   lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_{\exp}(\sqrt{d_k})"))
        .substitute(tau, sp.sqrt(d_k), "the conventional temperature tau = sqrt(d_k)", proof=sp.sqrt(d_k))
        .step((N - 1) * sp.exp(-2 * (sp.sqrt(d_k) - 1)), "2 d_k (1 - sqrt d_k)/d_k = -2 (sqrt d_k - 1)")
    )


@cache
def inverse_snr_exp_mean() -> Derivation:
    """Mean of the conditional exp-kernel SNR^{-1} over Gaussian ``(k_i, v_i)``.

    ``E exp(-c ||k_i||^2) = (1 + 2c)^{-d_k/2}`` with ``c = 2 (tau - 1)/tau^2`` (chi-square MGF),
    ``E[1/||v_i||^2] = 1/(d_v - 2)``; so the mean is
    ``(N-1) d_v/(d_v-2) * ((tau^2 + 4 tau - 4)/tau^2)^{-d_k/2}``. At ``tau = 2`` it is
    ``(N-1) d_v/(d_v-2) 2^{-d_k/2}``: short stored keys dominate, and the mean decays like
    ``2^{-d_k/2}``, not like the typical ``e^{-d_k/2}``.
    """
    from sympy.stats import ChiSquared, E

    c = sp.Symbol("c", positive=True)
    E_exp = sp.Symbol(r"\mathbb{E}e^{-c\|k_i\|^2}", positive=True)
    E_inv_v = sp.Symbol(r"\mathbb{E}\|v_i\|^{-2}", positive=True)
    chi_mgf = E(sp.exp(-c * ChiSquared("X", d_k)))
    inv_v = E(1 / ChiSquared("Y", d_v))
    if isinstance(inv_v, sp.Piecewise):
        inv_v = sp.refine(inv_v, sp.Q.gt(d_v, 2))
    c_tau = 2 * (tau - 1) / tau**2
    return (
        Derivation("mean over (k_i, v_i) of the exp-kernel SNR^{-1}", (N - 1) * d_v * E_inv_v * E_exp,
                   lhs=sp.Symbol(r"\mathbb{E}_{k_i,v_i}\mathrm{SNR}^{-1}_{\exp}"))
        .substitute(E_inv_v, 1 / (d_v - 2), "E[1/chi^2(d_v)] = 1/(d_v - 2)", proof=inv_v)
        .substitute(E_exp, (1 + 2 * c_tau) ** (-d_k / 2),
                    "chi-square MGF E exp(-c X) = (1 + 2c)^{-d_k/2}, c = 2 (tau - 1)/tau^2 (tau >= 1)",
                    proof=chi_mgf.subs(c, c_tau))
        .step((N - 1) * d_v / (d_v - 2) * ((tau**2 + 4 * tau - 4) / tau**2) ** (-d_k / 2),
              "1 + 4 (tau - 1)/tau^2 = (tau^2 + 4 tau - 4)/tau^2")
    )


@cache
def inverse_snr_exp_ratio() -> Derivation:
    """Ratio of expectations ``E||r||^2 / E[c^2 ||v_i||^2]`` for the exp kernel, finite only for ``tau > 4``.

    ``E||r||^2 = (N-1) d_v E exp(2 X / tau^2)``, ``E[c^2 ||v_i||^2] = d_v E exp(2 X / tau)``,
    ``X = ||k_i||^2 ~ chi^2(d_k)``, whose MGF ``(1 - 2t)^{-d_k/2}`` exists only for ``t < 1/2``:
    the denominator needs ``tau > 4``. Result: ``(N-1) ((1 - 4/tau)/(1 - 4/tau^2))^{d_k/2}``.
    """
    from sympy.stats import ChiSquared, moment_generating_function

    num = sp.Symbol(r"\mathbb{E}e^{2X/\tau^2}", positive=True)
    den = sp.Symbol(r"\mathbb{E}e^{2X/\tau}", positive=True)
    # sympy.stats' closed-form chi-square MGF (1 - 2t)^{-d_k/2}, valid for t < 1/2
    mgf = moment_generating_function(ChiSquared("X", d_k))
    return (
        Derivation("ratio of expectations for the exp kernel", (N - 1) * num / den,
                   lhs=sp.Symbol(r"\mathbb{E}\|r\|^2/\mathbb{E}\|c\,v_i\|^2"))
        .substitute(num, (1 - 4 / tau**2) ** (-d_k / 2), "chi-square MGF at t = 2/tau^2 (< 1/2 iff tau > 2)",
                    proof=mgf(2 / tau**2))
        .substitute(den, (1 - 4 / tau) ** (-d_k / 2), "chi-square MGF at t = 2/tau (< 1/2 iff tau > 4)",
                    proof=mgf(2 / tau))
        .step((N - 1) * (1 - 4 / tau) ** (d_k / 2) / (1 - 4 / tau**2) ** (d_k / 2),
              "(N - 1) ((1 - 4/tau)/(1 - 4/tau^2))^{d_k/2}, real for tau > 4")
    )


def capacity_poly_pairs() -> sp.Expr:
    """Other pairs a typical stored pair tolerates at ``SNR^{-1} = rho`` with the kernel ``(x^T y)^p``.

    Solves the conditional estimand at typical norms (``||k_i||^2 = d_k``, ``||v_i||^2 = d_v``),
    ``(N - 1)(2p-1)!!/d_k^p = rho``, for ``N - 1``: ``C = rho d_k^p/(2p-1)!!`` (sympy writes
    ``(2p-1)!! = (2p)!/(2^p p!)``). For ``p = 1`` it is the linear memory's ``rho d_k``.

    >>> from theory.symbols import d_k, p, rho
    >>> sp.simplify(capacity_poly_pairs() - rho * d_k**p / double_factorial_odd(p))
    0
    """
    m = sp.Symbol("m", positive=True)  # m = N - 1, the pairs that interfere with the query
    typical = inverse_snr_poly().result.subs({key_norm2: d_k, value_norm2: d_v, N: m + 1})
    (solution,) = sp.solve(sp.Eq(typical, rho), m)
    return solution


def capacity_poly() -> sp.Expr:
    """``N* = 1 + rho d_k^p/(2p-1)!!``: the capacity counted with the queried pair itself."""
    return 1 + capacity_poly_pairs()


@cache
def capacity_poly_exponent() -> Derivation:
    """``d log C / d log d_k = p`` exactly, at every ``d_k``, for ``C = rho d_k^p/(2p-1)!!`` (:func:`capacity_poly_pairs`).

    Counted with the queried pair, ``N* = 1 + C`` has a smaller finite-size slope
    (:func:`capacity_poly_exponent_finite_size`) that reaches ``p`` only as ``d_k -> oo``.
    """
    x = sp.Symbol("x", positive=True)
    capacity = capacity_poly_pairs().subs(d_k, x)
    return (
        Derivation("capacity exponent of the polynomial kernel", x * sp.Derivative(sp.log(capacity), x),
                   lhs=sp.Symbol(r"d\log C / d\log d_k"))
        .step(p, "C = rho d_k^p/(2p-1)!! is proportional to d_k^p")
    )


def capacity_exp() -> sp.Expr:
    """Largest ``N`` with typical-key exp SNR^{-1} <= rho at ``tau = 2``: ``N* = 1 + rho e^{d_k/2}``."""
    return 1 + rho * sp.exp(d_k / 2)


@cache
def capacity_exp_slope() -> Derivation:
    """Capacity in other pairs at ``tau = 2``, typical pair: ``N* - 1 = rho / g``, ``g = e^{-d_k/2}``, slope exactly 1/2.

    ``g`` is the per-pair crosstalk ``SNR^{-1}/(N - 1)`` of :func:`inverse_snr_exp_typical`. ``log(rho/g) =
    log rho + d_k/2`` is linear in ``d_k``, so its derivative, and the least-squares slope of exact
    values over any grid of ``d_k``, is exactly ``1/2`` at every finite size (``N* = 1 + rho e^{d_k/2}``
    itself only tends to that slope: :func:`capacity_exp_slope_finite_size`).
    """
    x = sp.Symbol("x", positive=True)
    per_pair = (inverse_snr_exp_typical().result / (N - 1)).subs(d_k, x)
    return (
        Derivation("log-capacity slope of the exp kernel", sp.Derivative(sp.log(rho / per_pair), x),
                   lhs=sp.Symbol(r"d\log(N^*-1)/d d_k"))
        .step(sp.Rational(1, 2), "log(rho/g) = log rho + d_k/2")
    )


def _ols_slope(xs, ys) -> float:
    xbar = sum(xs) / len(xs)
    ybar = sum(ys) / len(ys)
    return float(sp.N(sum((x - xbar) * (y - ybar) for x, y in zip(xs, ys)) / sum((x - xbar) ** 2 for x in xs), 30))


def capacity_poly_exponent_finite_size(dims, degree: int, target: float) -> float:
    """Exact OLS slope of ``log N*`` on ``log d_k`` over ``dims``, ``N* = 1 + C`` (the ``+1`` bends it below ``p``).

    The slope a check would see if it counted the queried pair in the capacity: the near-miss
    control of ``capacity.compare.poly_exponent``.
    """
    cap = capacity_poly().subs({p: int(degree), rho: sp.nsimplify(target)})
    return _ols_slope([sp.log(sp.Integer(int(x))) for x in dims], [sp.log(cap.subs(d_k, int(x))) for x in dims])


class capacity_poly_slope_with_query(sp.Function):
    """:func:`capacity_poly_exponent_finite_size` over the doubling grid ``d_min, 2 d_min, ... <= d_max``.

    A sympy function of ``(p, d_min, d_max, rho)`` that becomes a number once its arguments are, so a
    claim can use it as a (wrong) prediction in its own parameters.
    """

    @classmethod
    def eval(cls, degree, d_min, d_max, target):
        if all(a.is_number for a in (degree, d_min, d_max, target)):
            dims = doubling_grid(int(d_min), int(d_max))
            return sp.Float(capacity_poly_exponent_finite_size(dims, int(degree), target), 30)
        return None


class capacity_exp_slope_finite_size(sp.Function):
    """Exact OLS slope of ``log N* = log(1 + rho e^{d/2})`` on ``d = d_min, d_min + 4, ..., <= d_max``.

    The stored pair counted in the capacity (``N*`` rather than ``N* - 1``) bends the slope below the
    other-pairs slope ``1/2`` of :func:`capacity_exp_slope`; explicit (a finite sum of logs) once
    ``d_min``, ``d_max`` are integers and ``rho`` a number.

    >>> float(capacity_exp_slope_finite_size(4, 28, sp.Rational(1, 10)))  # doctest: +ELLIPSIS
    0.47385...
    """

    @classmethod
    def eval(cls, d_min, d_max, rho_):
        if d_min.is_Integer and d_max.is_Integer and rho_.is_Number:
            dims = [sp.Integer(x) for x in range(int(d_min), int(d_max) + 1, 4)]
            cap = capacity_exp().subs(rho, rho_)
            ys = [sp.log(cap.subs(d_k, x)) for x in dims]
            xbar = sum(dims) / len(dims)
            return sum((x - xbar) * y for x, y in zip(dims, ys)) / sum((x - xbar) ** 2 for x in dims)
        return None


def feature_map_dimension() -> sp.Expr:
    """Number of monomials of degree ``p`` in ``d`` variables: ``C(d + p - 1, p)``."""
    from theory.symbols import d

    return sp.binomial(d + p - 1, p)


@cache
def poly_feature_map(dim: int = 2, degree: int = 3) -> Derivation:
    """``phi(x)^T phi(y) = (x^T y)^p`` with ``phi_alpha(x) = sqrt(p!/alpha!) x^alpha`` over ``|alpha| = p``.

    Checked with symbolic vectors for small ``dim`` and ``degree`` (multinomial theorem); the
    side condition checks that the number of monomials is ``C(dim + degree - 1, degree)``.
    """
    from itertools import combinations_with_replacement

    from theory.symbols import d

    x = sp.symbols(f"x0:{dim}", real=True)
    y = sp.symbols(f"y0:{dim}", real=True)
    features = []
    for combo in combinations_with_replacement(range(dim), degree):
        alpha = [combo.count(a) for a in range(dim)]
        coef = sp.factorial(degree) / sp.prod([sp.factorial(a) for a in alpha])
        features.append((coef, sp.prod([x[a] ** alpha[a] for a in range(dim)]),
                         sp.prod([y[a] ** alpha[a] for a in range(dim)])))
    inner = sum(c * fx * fy for c, fx, fy in features)
    target = sum(xi * yi for xi, yi in zip(x, y)) ** degree
    return (
        Derivation(f"explicit feature map of (x^T y)^{degree} in dimension {dim}", inner - target,
                   lhs=sp.Symbol(r"\phi(x)^\top\phi(y) - (x^\top y)^p"))
        .step(0, "multinomial theorem",
              check=len(features) - feature_map_dimension().subs({d: dim, p: degree}))
    )


_R = sp.Symbol("R", positive=True)
_P = sp.Symbol("P", integer=True, nonnegative=True)
truncation_degree = _P  # the degree P of the truncated exp kernel, as claims name it
_q = sp.Symbol("q", integer=True, nonnegative=True)
_t = sp.Symbol("t", positive=True)  # integration variable of Taylor's remainder


def taylor_remainder_bound() -> sp.Expr:
    """``R^{P+1} e^R / (P+1)!``: Lagrange bound on ``|e^u - sum_{q<=P} u^q/q!|`` for ``|u| <= R``."""
    return _R ** (_P + 1) * sp.exp(_R) / sp.factorial(_P + 1)


@cache
def truncation_bound() -> Derivation:
    """Kernel expansion ``exp(x^T y/tau) = sum_p (x^T y)^p/(tau^p p!)``: the worst truncation error.

    Over ``|u| <= R`` (``u = x^T y / tau``) the error of the degree-``P`` truncation is largest at
    ``u = R``: ``|sum_{q>P} u^q/q!| <= sum_{q>P} |u|^q/q!``, which increases in ``|u|``. So the
    worst error is exactly ``e^R - sum_{q<=P} R^q/q!``, itself at most the Lagrange bound
    ``R^{P+1} e^R/(P+1)!`` (:func:`taylor_remainder_bound`), and it tends to 0 as ``P -> oo``:
    the exponential kernel is the limit of the polynomial family ``sum_{q<=P} (x^T y)^q/(tau^q q!)``.
    """
    tail = sp.Sum(_R**_q / sp.factorial(_q), (_q, _P + 1, sp.oo))
    return (
        Derivation("worst truncation error of the exp-kernel expansion", sp.Symbol(r"\max_{|u|\le R}|e^u - T_P(u)|"),
                   lhs=sp.Symbol(r"\max_{|u|\le R}|e^u - T_P(u)|"))
        .assume(tail, "triangle inequality: the tail at u = R, all of whose terms are positive, dominates")
        .step(sp.exp(_R) - sp.Sum(_R**_q / sp.factorial(_q), (_q, 0, _P)), "the power series of exp sums to e^R")
        .step(sp.exp(_R) - sp.Sum(_R**_q / sp.factorial(_q), (_q, 0, _P)),
              "Lagrange bound: Taylor's remainder is int_0^R (R-t)^P/P! e^t dt <= e^R int_0^R (R-t)^P/P! dt "
              "= R^{P+1} e^R/(P+1)!",
              check=taylor_remainder_bound() - sp.exp(_R) * sp.integrate((_R - _t) ** _P / sp.factorial(_P),
                                                                          (_t, 0, _R)))
    )


def _weights_by_power(P: int) -> dict:
    """``{n: sum_{q + r = n; q, r <= P} 1/(q! r!)}``: the weights of ``E[Z^n]/tau^n`` in ``E[kappa_P(Z)^2]``."""
    if P < 0:
        raise ValueError(f"the truncation degree must be >= 0, got P={P!r}")
    weight: dict = {}
    for q_ in range(P + 1):
        for r_ in range(P + 1):
            weight[q_ + r_] = weight.get(q_ + r_, 0) + sp.Rational(1, math.factorial(q_) * math.factorial(r_))
    return weight


class truncated_kernel_moment(sp.Function):
    """``E[kappa_P(Z)^2]`` for ``kappa_P(z) = sum_{q<=P} (z/tau)^q/q!`` and ``Z ~ N(0, s2)``.

    Expands to the explicit finite double sum ``sum_{q,r<=P} E[Z^{q+r}]/(tau^{q+r} q! r!)``, with
    ``E[Z^n] = (n-1)!! s2^{n/2}`` for even ``n`` and 0 for odd ``n``, once ``P`` is an integer.
    """

    @classmethod
    def eval(cls, P, s2, tau_):
        if P.is_Integer:
            # collect the rational weights 1/(q! r!) by power n = q + r first: 2P + 1 symbolic terms, not (P + 1)^2
            weight = _weights_by_power(int(P))
            return sp.Add(*[w * double_factorial_odd(n // 2) * s2 ** (n // 2) / tau_**n
                            for n, w in weight.items() if n % 2 == 0])
        return None

    def _latex(self, printer):
        return rf"\mathbb{{E}}\bigl[\kappa_{{{printer._print(self.args[0])}}}(Z)^2\bigr]"  # Z ~ N(0, s2)


class truncated_kernel_signal(sp.Function):
    """``kappa_P(k_i, k_i) = sum_{q<=P} (s2/tau)^q/q!`` (explicit once ``P`` is an integer)."""

    @classmethod
    def eval(cls, P, s2, tau_):
        if P.is_Integer:
            return sum((s2 / tau_) ** q_ / sp.factorial(q_) for q_ in range(int(P) + 1))
        return None

    def _latex(self, printer, exp=None):
        tex = rf"\kappa_{{{printer._print(self.args[0])}}}(k_i,k_i)"
        return tex if exp is None else rf"{tex}^{{{exp}}}"


TRUNCATION_DEGREES = range(13)  # the degrees P the truncated-kernel claims cover; the moment sum is checked at each


@cache
def _gaussian_moments(n_max: int) -> tuple:
    """``E[Z^n]`` for ``Z ~ N(0, ||k_i||^2)``, ``n = 0..n_max``: ``n!`` times the Taylor coefficients of the
    ``sympy.stats`` moment-generating function (independent of the ``(n-1)!!`` formula it checks)."""
    from sympy.stats import Normal, moment_generating_function

    s = sp.Symbol("s")
    mgf = moment_generating_function(Normal("Z", 0, sp.sqrt(key_norm2)))(s)
    series = sp.series(mgf, s, 0, n_max + 1).removeO()
    return tuple(sp.factorial(n) * series.coeff(s, n) for n in range(n_max + 1))


def _truncated_moment_by_expansion(P: int) -> sp.Expr:
    """``E[kappa_P(Z)^2] = sum_{q,r<=P} E[Z^{q+r}]/(tau^{q+r} q! r!)`` with the MGF moments (linearity)."""
    m = _gaussian_moments(2 * max(P, TRUNCATION_DEGREES.stop - 1))  # one cached series for every degree
    weight = {}
    for q_ in range(P + 1):
        for r_ in range(P + 1):
            weight[q_ + r_] = weight.get(q_ + r_, 0) + sp.Rational(1, math.factorial(q_) * math.factorial(r_))
    return sp.Add(*[w * m[n] / tau**n for n, w in weight.items()])


@cache
def inverse_snr_truncated() -> Derivation:
    """Inverse SNR of the degree-``P`` truncation of the exp kernel, ``kappa_P = sum_{q<=P} (x^T y/tau)^q/q!``.

    ``SNR^{-1}_P = (N-1) d_v E[kappa_P(Z)^2] / (kappa_P(k_i,k_i)^2 ||v_i||^2)``, a finite sum of Gaussian
    moments (:class:`truncated_kernel_moment`). The moment step is verified at every degree of the
    claims' domain (:data:`TRUNCATION_DEGREES`): the closed double sum with ``E Z^n = (n-1)!! ||k_i||^n``
    equals the expansion with moments read off the ``sympy.stats`` MGF, and at ``P = 3`` it equals
    ``sympy.stats.E`` of the squared polynomial itself. As ``P -> oo`` it tends to the exp-kernel value
    (the series of positive even moments converges to the Gaussian MGF); the polynomial family
    interpolates from the linear memory (``P = 1`` up to the constant term) to softmax attention.
    """
    from sympy.stats import E, Normal

    Z = Normal("Z", 0, sp.sqrt(key_norm2))
    instance = E(sum((Z / tau) ** q_ / sp.factorial(q_) for q_ in range(4)) ** 2)
    moment = truncated_kernel_moment(_P, key_norm2, tau)
    signal = truncated_kernel_signal(_P, key_norm2, tau)
    by_degree = [truncated_kernel_moment(P_, key_norm2, tau) - _truncated_moment_by_expansion(P_)
                 for P_ in TRUNCATION_DEGREES]
    return (
        inverse_snr_general()
        .substitute(E_kernel2, moment,
                    f"E[kappa_P(Z)^2] = sum_(q,r<=P) E[Z^(q+r)]/(tau^(q+r) q! r!), E Z^n = (n-1)!! ||k_i||^n "
                    f"(n even), 0 (n odd): checked for every P in {TRUNCATION_DEGREES.start}..{TRUNCATION_DEGREES.stop - 1} "
                    "against the sympy.stats MGF moments, and at P = 3 against sympy.stats E",
                    proof=moment, conditions=[*by_degree, truncated_kernel_moment(3, key_norm2, tau) - instance])
        .substitute(kernel_ii, signal, "kappa_P(k_i, k_i) = sum_{q<=P} (||k_i||^2/tau)^q/q!", proof=signal)
    )


@cache
def inverse_snr_value_mean() -> Derivation:
    """Exp kernel with values ``v_j = mu + xi_j``, ``xi_j ~ N(0, I)``: the mean adds an ``(N-1)(N-2)`` term.

    ``E||sum_{j != i} kappa_j v_j||^2 = (N-1)(d_v + ||mu||^2) E kappa^2 + (N-1)(N-2) ||mu||^2 (E kappa)^2``
    (the pairs ``j != l`` share the mean). With ``E kappa = exp(||k_i||^2/(2 tau^2))`` the crosstalk
    of the mean grows like ``N^2``: capacity is lost unless the mean is removed, which the softmax
    normalization allows (:func:`normalization_invariance`). Conditional on ``(k_i, v_i)``.
    """
    from sympy.stats import E, Normal

    mean_kernel = E(exp_of(Normal("Z", 0, sp.sqrt(_a)))).subs(_a, key_norm2)
    start = ((N - 1) * (d_v + value_mean_norm2) * E_kernel2 + (N - 1) * (N - 2) * value_mean_norm2 * E_kernel**2) \
        / (kernel_ii**2 * value_norm2)
    return (
        Derivation("exp kernel, values with mean mu", start, lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_{\exp,\mu}"))
        .substitute(E_kernel2, sp.exp(2 * key_norm2 / tau**2), "Gaussian MGF at 2/tau",
                    proof=_exp_mgf().subs(_a, key_norm2))
        .substitute(E_kernel, sp.exp(key_norm2 / (2 * tau**2)), "Gaussian MGF at 1/tau", proof=mean_kernel)
        .substitute(kernel_ii, sp.exp(key_norm2 / tau), "kappa(k_i, k_i) = exp(||k_i||^2/tau)",
                    proof=exp_of(key_norm2))
    )


@cache
def normalization_invariance() -> Derivation:
    """Softmax normalization: dividing every weight by ``Z`` leaves ``||r||^2/(c^2||v_i||^2)`` unchanged.

    Checked symbolically for three pairs: the normalized ratio minus the unnormalized one is 0, and
    (second step) the normalized read-out minus the mean ``mu`` equals the zero-mean read-out
    normalized, because the weights sum to one: centering is exact only after normalization.
    """
    k = sp.symbols("kappa0:3", positive=True)
    v = sp.symbols("v0:3", real=True)
    mu = sp.Symbol("mu", real=True)
    Z = sum(k)
    ratio = lambda w: (w[1] * v[1] + w[2] * v[2]) ** 2 / (w[0] ** 2 * v[0] ** 2)  # noqa: E731
    normalized = [ki / Z for ki in k]
    centered = sum(w * (vi + mu) for w, vi in zip(normalized, v)) - mu - sum(w * vi for w, vi in zip(normalized, v))
    return (
        Derivation("normalization leaves the SNR unchanged", sp.Matrix([ratio(normalized) - ratio(k), centered]),
                   lhs=sp.Symbol(r"(\rho_{\mathrm{norm}} - \rho,\ o_\mu - \mu - o_0)"))
        .step(sp.Matrix([0, 0]), "Z cancels between signal and noise; the weights sum to 1")
    )


# --- the general formula and its instances ----------------------------------------------------------

kernel_index = sp.Symbol("kernel", integer=True, nonnegative=True)
#: the kernels of the inner product the ledger already checks one by one, in the order of ``kernel_index``
KERNEL_INSTANCES = ("linear", "poly", "relu", "exp")


def _gaussian_density(var):
    return sp.exp(-_z**2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)


@cache
def _instance_moments() -> tuple[tuple, ...]:
    """Per instance: ``(E[kappa(Z)^2], kappa(s^2), proof of the moment, the kernel of z = x^T y)``,
    ``Z ~ N(0, s^2)``, ``s^2 = ||k_i||^2``.

    Each proof is an integral or expectation that sympy computes here, not the instance's own derivation.
    """
    s2 = key_norm2
    linear = sp.integrate(_z**2 * _gaussian_density(_a), (_z, -sp.oo, sp.oo)).subs(_a, s2)
    return (
        (s2, s2, linear, lambda z: z),
        (s2**p * double_factorial_odd(p), s2**p, gaussian_even_moment().subs(_a, s2), poly_of),
        (s2 / 2, s2, half_line_moment(relu_of), relu_of),
        (sp.exp(2 * s2 / tau**2), sp.exp(s2 / tau), _exp_mgf().subs(_a, s2), exp_of),
    )


def by_kernel(values) -> sp.Piecewise:
    """``values[kernel]`` as one sympy expression of the integer symbol ``kernel`` (0 linear ... 3 exp)."""
    *first, last = values
    return sp.Piecewise(*[(v, sp.Eq(kernel_index, i)) for i, v in enumerate(first)], (last, True))


def instance_results() -> tuple[sp.Expr, ...]:
    """The closed forms the instance claims state, in the order of :data:`KERNEL_INSTANCES`."""
    from theory.linear_memory import inverse_snr_conditional

    return (inverse_snr_conditional().result, inverse_snr_poly().result, inverse_snr_relu().result,
            inverse_snr_exp().result)


@cache
def general_instances() -> Derivation:
    """The general-kernel SNR^{-1} specialises to each instance claim's closed form.

    Start from ``(N - 1) d_v E[kappa^2 | k_i] / (kappa(k_i, k_i)^2 ||v_i||^2)`` (:func:`inverse_snr_general`),
    put in each kernel's Gaussian moment and self-similarity (``kernel`` = 0 linear, 1 ``(x^T y)^p``,
    2 ReLU, 3 ``exp(x^T y/tau)``), and check, branch by branch, that the value equals the closed form
    registered by ``capacity.linear.inverse_snr_conditional``, ``capacity.poly.inverse_snr_conditional``,
    ``capacity.kernel.relu_conditional`` and ``capacity.exp.inverse_snr_conditional``.
    """
    general = inverse_snr_general().result
    moments = _instance_moments()
    instances = instance_results()
    per_branch = sp.Matrix([general.subs({E_kernel2: m, kernel_ii: c}) - r
                            for (m, c, _, _), r in zip(moments, instances)])
    return (
        inverse_snr_general()
        .substitute(E_kernel2, by_kernel([m for m, _, _, _ in moments]),
                    "the kernel's Gaussian moment E[kappa(Z)^2], Z ~ N(0, ||k_i||^2), integrated by sympy",
                    proof=by_kernel([pr for _, _, pr, _ in moments]), conditions=(relu_of(_zn),))
        .substitute(kernel_ii, by_kernel([c for _, c, _, _ in moments]), "kappa(k_i, k_i) = kappa(||k_i||^2)",
                    proof=by_kernel([kernel(key_norm2) for *_, kernel in moments]))
        .step(by_kernel(instances), "each branch equals the instance claim's closed form", check=per_branch)
    )


# --- a kernel not of the inner product: the Gaussian (RBF) kernel ------------------------------------

@cache
def inverse_snr_rbf() -> Derivation:
    """Gaussian kernel ``exp(-||x - y||^2 / (2 tau))`` through the general formula.

    ``kappa(k_i, k_i) = 1``. Rotate ``k_i`` onto the first axis (``k_j`` is isotropic): then
    ``||k_j - k_i||^2 = (g_1 - ||k_i||)^2 + sum_{m >= 2} g_m^2`` with ``g ~ N(0, I_{d_k})``, and
    ``E exp(-(g - a)^2/tau) = sqrt(tau/(tau + 2)) exp(-a^2/(tau + 2))`` per coordinate, so

        E[kappa^2 | k_i] = (tau/(tau + 2))^{d_k/2} exp(-||k_i||^2/(tau + 2)),
        SNR^{-1} = (N - 1) (d_v/||v_i||^2) (tau/(tau + 2))^{d_k/2} exp(-||k_i||^2/(tau + 2)).

    >>> inverse_snr_rbf().result
    d_v*(tau/(tau + 2))**(d_k/2)*(N - 1)*exp(-key_norm2/(tau + 2))/value_norm2
    """
    a = sp.Symbol("a", real=True)
    coordinate = sp.integrate(sp.exp(-(_z - a)**2 / tau) * _gaussian_density(1), (_z, -sp.oo, sp.oo))
    factor = sp.sqrt(tau / (tau + 2)) * sp.exp(-a**2 / (tau + 2))
    moment = (tau / (tau + 2)) ** (d_k / 2) * sp.exp(-key_norm2 / (tau + 2))
    # one coordinate at a = ||k_i||, d_k - 1 at a = 0; the exponent compared in log form (sympy's simplify
    # does not cancel exp(a^2 (tau/2 + 1)/(tau + 2)) against exp(a^2/2) by itself)
    proof = factor.subs(a, sp.sqrt(key_norm2)) * factor.subs(a, 0) ** (d_k - 1)
    return (
        inverse_snr_general()
        .substitute(E_kernel2, moment, "k_i on the first axis: one coordinate shifted by ||k_i||, d_k - 1 centred; "
                    "E exp(-(g - a)^2/tau) = sqrt(tau/(tau+2)) exp(-a^2/(tau+2)) per coordinate (sympy integral)",
                    proof=proof, conditions=(sp.expand_log(sp.log(coordinate) - sp.log(factor), force=True),))
        .substitute(kernel_ii, 1, "kappa(k_i, k_i) = exp(0) = 1", proof=sp.exp(-0 / (2 * tau)))
    )
