"""Would infinite context make it infinitely intelligent? The suite's reconstruction (notes §5.6 is a GAP).

Setting: a stream of i.i.d. pairs ``(k_t, v_t)``, ``t = 1..T``, written into a memory.

* Additive memories never forget and never converge: the crosstalk of the other ``T - 1`` pairs grows
  linearly, so the retrieval SNR of any one stored pair falls like ``1/T``:
  linear kernel ``SNR = (d_k + 2)/(T - 1)`` (ratio estimand, Gaussian), exponential kernel at typical
  norms ``SNR = e^{d_k/2} / (T - 1)`` at ``tau = 2`` (conditional estimand).
* Memories that minimise a squared loss converge to a bounded memory: with ``k ~ N(0, s^2 I)``,
  ``v = S_0 k + sigma eps``, the population optimum is ``S* = E[v k^T] E[k k^T]^{-1} = S_0``. The delta
  rule (constant ``beta``) converges to it in mean, ``E S_T = S_0 (1 - (1 - beta s^2)^T)``, and in mean
  square to a bounded neighbourhood, iff ``beta s^2 (d_k + 2) < 2``; the least-squares memory
  ``S_T = (sum v k^T)(sum k k^T)^{-1}`` converges with ``E||S_T - S_0||_F^2 = sigma^2 d_v d_k / (s^2 (T - d_k - 1))``.
* What they retain about individual pairs is bounded by the state size: the total self-influence
  ``sum_j d(S_T k_j)/d v_j`` is exactly ``d_k`` for least squares and ``d_k (1 - (1 - beta s^2)^T) -> d_k``
  in expectation for the delta rule, against ``sum_j ||k_j||^2 ~ T d_k s^2`` for the additive memory.
"""

from __future__ import annotations

from functools import cache

import sympy as sp
from sympy.stats import E, Normal

from theory.derivation import Derivation
from theory.linear_memory import inverse_snr_ratio
from theory.symbols import N, d_k, d_v, key_norm2, tau, value_norm2

__all__ = [
    "T",
    "beta",
    "delta_mean_memory",
    "delta_mean_square_error",
    "delta_self_influence",
    "exp_snr_inverse",
    "least_squares_error",
    "least_squares_self_influence",
    "linear_snr_rate",
    "mean_square_stability",
    "sigma2",
    "s2",
]

T = sp.Symbol("T", positive=True, integer=True)
beta = sp.Symbol("beta", positive=True)
s2 = sp.Symbol("key_scale2", positive=True)  # keys N(0, s^2 I)
sigma2 = sp.Symbol("noise2", nonnegative=True)  # value noise variance


@cache
def linear_snr_rate() -> Derivation:
    """``T * SNR_lin(T) -> d_k + 2``: SNR of one stored pair falls like ``d_k / T`` (ratio estimand)."""
    snr = 1 / inverse_snr_ratio().result.subs(N, T)
    return (
        Derivation("linear memory: SNR times context length", sp.Limit(T * snr, T, sp.oo),
                   lhs=sp.Symbol(r"\lim_{T\to\infty} T\,\mathrm{SNR}_{\mathrm{lin}}(T)"))
        .step(d_k + 2, "SNR = (d_k + 2)/(T - 1) (capacity.linear.inverse_snr_ratio with N = T)")
    )


def linear_snr_finite_gap() -> sp.Expr:
    """``|T (d_k + 2)/(T - 1) - (d_k + 2)| = (d_k + 2)/(T - 1)``: the finite-T distance from the limit."""
    return sp.simplify(T / inverse_snr_ratio().result.subs(N, T) - (d_k + 2))


@cache
def exp_snr_inverse() -> Derivation:
    """Exponential kernel ``exp(x^T y / tau)``, conditional on ``||k_i||^2``, ``||v_i||^2``, T - 1 other Gaussian pairs:

    ``SNR^{-1} = (T - 1) d_v E[kappa^2(k_j, k_i)] / (kappa^2(k_i, k_i) ||v_i||^2)
    = (T - 1) d_v exp(2 (1 - tau) ||k_i||^2 / tau^2) / ||v_i||^2``. At typical norms and ``tau = 2`` this is
    ``(T - 1) e^{-d_k/2}``, so ``SNR ~ e^{d_k/2} / T``. Softmax normalization divides signal and noise
    by the same ``Z`` and leaves it unchanged.
    """
    E_kappa2 = sp.Symbol(r"\mathbb{E}\kappa^2(k_j,k_i)", positive=True)
    a = sp.Symbol("a", positive=True)
    z = Normal("z", 0, 1)
    start = (T - 1) * d_v * E_kappa2 / (sp.exp(2 * key_norm2 / tau) * value_norm2)
    return (
        Derivation("exponential kernel: inverse SNR at context length T", start,
                   lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_{\exp}(T)"))
        .substitute(E_kappa2, sp.exp(2 * key_norm2 / tau**2),
                    "k_j^T k_i ~ N(0, ||k_i||^2): Gaussian moment-generating function",
                    proof=E(sp.exp(2 * sp.sqrt(a) * z / tau)).subs(a, key_norm2))
        .step((T - 1) * d_v * sp.exp(2 * (1 - tau) * key_norm2 / tau**2) / value_norm2, "collect the exponents")
    )


def mean_square_stability() -> tuple[sp.Expr, sp.Expr]:
    """``(rho, c)`` of the delta rule's error energy recursion ``e_t = rho e_{t-1} + c`` (see :func:`delta_mean_square_error`)."""
    rho = 1 - 2 * beta * s2 + beta**2 * s2**2 * (d_k + 2)
    c = beta**2 * sigma2 * d_v * d_k * s2
    return rho, c


@cache
def delta_mean_memory() -> Derivation:
    """Delta rule on ``k ~ N(0, s^2 I)``, ``v = S_0 k + sigma eps``: ``E[S_t] = E[S_{t-1}](1 - beta s^2) + beta s^2 S_0``,
    so ``E<S_T, S_0> / ||S_0||^2 = 1 - (1 - beta s^2)^T`` -> 1 (the limit ``S* = E[v k^T] E[k k^T]^{-1} = S_0``)."""
    q = sp.Symbol("q", positive=True)  # 1 - beta s^2 (the check is a polynomial identity in q)
    in_q = 1 - q**T
    recursion_check = in_q - (q * in_q.subs(T, T - 1) + (1 - q))
    closed = in_q.subs(q, 1 - beta * s2)
    return (
        Derivation("delta rule: mean memory along S*", closed,
                   lhs=sp.Symbol(r"\mathbb{E}\langle S_T, S_0\rangle / \|S_0\|_F^2"))
        .step(closed, "solves m_T = (1 - beta s^2) m_{T-1} + beta s^2 with m_0 = 0 (S_{t-1} independent of k_t, "
                      "E[k k^T] = s^2 I, E[v k^T] = s^2 S_0)",
              check=sp.Matrix([recursion_check, in_q.subs(T, 0)]))
    )


@cache
def delta_mean_square_error() -> Derivation:
    """``e_T = E||S_T - S_0||_F^2 = rho^T e_0 + c (1 - rho^T)/(1 - rho)`` with ``e_0 = d_v`` (``S_0`` entries
    ``N(0, 1/d_k)``), ``rho = 1 - 2 beta s^2 + beta^2 s^4 (d_k + 2)``, ``c = beta^2 sigma^2 d_v d_k s^2``.

    From ``E_t = E_{t-1}(I - beta k k^T) + beta sigma eps k^T``: ``E[(I - beta k k^T)^2] = rho I`` because
    ``E[||k||^2 k k^T] = s^4 (d_k + 2) I`` (Isserlis), and the cross term vanishes (``E eps = 0``).
    Bounded iff ``rho < 1`` iff ``0 < beta s^2 < 2/(d_k + 2)``; then ``e_T -> c/(1 - rho)``.
    """
    rho_s, c_s = sp.symbols("rho c", positive=True)
    closed = rho_s**T * d_v + c_s * (1 - rho_s**T) / (1 - rho_s)
    check = sp.Matrix([closed - (rho_s * closed.subs(T, T - 1) + c_s), closed.subs(T, 0) - d_v])
    rho, c = mean_square_stability()
    return (
        Derivation("delta rule: mean-square distance to S*", closed,
                   lhs=sp.Symbol(r"\mathbb{E}\|S_T - S^\star\|_F^2"))
        .step(closed, "solves e_T = rho e_{T-1} + c with e_0 = d_v", check=check)
        .cite(closed.subs({rho_s: rho, c_s: c}),
              "E[||k||^2 k k^T] = s^4 (d_k + 2) I for k ~ N(0, s^2 I) (Isserlis); E||eps k^T||^2 = d_v d_k s^2")
    )


@cache
def least_squares_error() -> Derivation:
    """``S_T = V^T K (K^T K)^{-1}``, ``V = K S_0^T + sigma Eps``: ``S_T - S_0 = sigma Eps^T K H^{-1}`` and
    ``E||S_T - S_0||_F^2 = sigma^2 d_v E tr(H^{-1}) = sigma^2 d_v d_k / (s^2 (T - d_k - 1))`` (``T > d_k + 1``):
    ``H = K^T K ~ Wishart(s^2 I, T)`` has ``E H^{-1} = I / (s^2 (T - d_k - 1))``."""
    E_trace = sp.Symbol(r"\mathbb{E}\,\mathrm{tr}\,H^{-1}", positive=True)
    return (
        Derivation("least-squares memory: distance to S*", sigma2 * d_v * E_trace,
                   lhs=sp.Symbol(r"\mathbb{E}\|S_T - S^\star\|_F^2"))
        .cite(sigma2 * d_v * d_k / (s2 * (T - d_k - 1)),
              "inverse-Wishart mean E[H^{-1}] = Sigma^{-1}/(T - d_k - 1) (Anderson 2003, §7.7)")
    )


@cache
def least_squares_self_influence(n: int = 3, d: int = 2) -> Derivation:
    """``sum_j d(S_T k_j)/d v_j = sum_j k_j^T H^{-1} k_j = tr(H^{-1} K^T K) = d_k`` (any ``T >= d_k``, full rank).

    Checked on a symbolic ``n x d`` key matrix; the result is the state dimension ``d_k``.
    """
    K = sp.Matrix(n, d, lambda a, b: sp.Symbol(f"k_{a}{b}", real=True))
    H = K.T * K
    leverage = sum((K[j, :] * H.inv() * K[j, :].T)[0, 0] for j in range(n))
    return (
        Derivation("least squares: total self-influence", sp.simplify(leverage) - d + d_k,
                   lhs=sp.Symbol(r"\sum_j k_j^\top H_T^{-1} k_j"))
        .step(d_k, f"trace of the hat matrix = rank (checked with n = {n}, d = {d})")
    )


@cache
def delta_self_influence() -> Derivation:
    """``E sum_j beta k_j^T P_j k_j = d_k (1 - (1 - beta s^2)^T)`` with ``P_j = prod_{i>j} (I - beta k_i k_i^T)``:
    ``E P_j = (1 - beta s^2)^{T-j} I`` (independent factors) and ``E k_j k_j^T = s^2 I``."""
    j = sp.Symbol("j", integer=True, positive=True)
    q = sp.Symbol("q", positive=True)  # 1 - beta s^2
    summed = sp.Sum(q ** (T - j), (j, 1, T)).doit().replace(sp.Piecewise, lambda *b: b[-1][0])
    geometric = sp.Symbol(r"\sum_{j\le T}(1-\beta s^2)^{T-j}", positive=True)
    return (
        Derivation("delta rule: total self-influence", beta * s2 * d_k * geometric,
                   lhs=sp.Symbol(r"\mathbb{E}\sum_j \partial(S_T k_j)/\partial v_j"))
        .substitute(geometric, (1 - (1 - beta * s2) ** T) / (beta * s2), "geometric sum (0 < beta s^2 < 2, != 1)",
                    proof=summed.subs(q, 1 - beta * s2))
        .step(d_k * (1 - (1 - beta * s2) ** T), "cancel beta s^2")
    )
