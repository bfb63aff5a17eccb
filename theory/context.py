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
from sympy.stats import ChiSquared, E, Normal

from theory.derivation import Derivation
from theory.linear_memory import inverse_snr_ratio
from theory.symbols import N, d_k, d_v, key_norm2, tau, value_norm2

__all__ = [
    "T",
    "beta",
    "delta_mean_memory",
    "delta_mean_square_closed",
    "delta_mean_square_error",
    "delta_self_influence",
    "exp_snr_inverse",
    "least_squares_error",
    "least_squares_self_influence",
    "linear_snr_extrapolation_gap",
    "linear_snr_finite",
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


def _linear_snr_times_T() -> sp.Expr:
    """``T * SNR_lin(T)`` at finite T, from the exact ratio-estimand value of capacity.linear.inverse_snr_ratio."""
    return T / inverse_snr_ratio().result.subs(N, T)


@cache
def linear_snr_finite() -> Derivation:
    """``SNR_lin(T) = (d_k + 2)/(T - 1)``: the ratio-estimand SNR of one stored pair after T Gaussian pairs.

    It is the reciprocal of capacity.linear.inverse_snr_ratio with ``N = T`` (one source of truth).

    >>> linear_snr_finite().result
    (d_k + 2)/(T - 1)
    """
    return (
        Derivation("linear memory: SNR after T pairs", 1 / inverse_snr_ratio().result.subs(N, T),
                   lhs=sp.Symbol(r"\mathrm{SNR}_{\mathrm{lin}}(T)"))
        .step((d_k + 2) / (T - 1), "reciprocal of (T - 1)/(d_k + 2) (capacity.linear.inverse_snr_ratio, N = T)")
    )


@cache
def linear_snr_extrapolation_gap(sizes) -> sp.Expr:
    """The bias of extrapolating ``y(T) = T SNR_lin(T)`` from ``sizes`` to ``1/T = 0`` by the polynomial in ``1/T``
    through the exact finite-size values ``y(T_m) = T_m (d_k + 2)/(T_m - 1)``, minus ``lim_{T->oo} y(T)``.

    Both terms come from the finite-size formula alone (never from the claim's predicted limit), so
    the bound does not grow with an error in the prediction. With three sizes the quadratic removes
    the ``1/T`` and ``1/T^2`` terms exactly; what remains is ``O(1/T^3)``.

    >>> linear_snr_extrapolation_gap((4, 8, 16))
    d_k/315 + 2/315
    """
    y = _linear_snr_times_T()
    x = [sp.Rational(1, int(n)) for n in sizes]
    weights = [sp.prod([x[l] / (x[l] - x[m]) for l in range(len(x)) if l != m]) for m in range(len(x))]
    value_at_zero = sum(w * y.subs(T, int(n)) for w, n in zip(weights, sizes))
    return sp.simplify(value_at_zero - sp.limit(y, T, sp.oo))


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


def _gaussian_key(name: str) -> sp.Expr:
    """A key coordinate ``N(0, s^2)`` as a sympy.stats random variable."""
    return Normal(name, 0, sp.sqrt(s2))


def mean_square_stability() -> tuple[sp.Expr, sp.Expr]:
    """``(rho, c)`` of the delta rule's error energy recursion ``e_t = rho e_{t-1} + c`` (see :func:`delta_mean_square_error`)."""
    rho = 1 - 2 * beta * s2 + beta**2 * s2**2 * (d_k + 2)
    c = beta**2 * sigma2 * d_v * d_k * s2
    return rho, c


@cache
def delta_mean_memory() -> Derivation:
    """Delta rule on ``k ~ N(0, s^2 I)``, ``v = S_0 k + sigma eps``: ``E[S_t] = E[S_{t-1}](1 - beta s^2) + beta s^2 S_0``,
    so ``E<S_T, S_0> / ||S_0||^2 = 1 - (1 - beta s^2)^T`` -> 1 (the limit ``S* = E[v k^T] E[k k^T]^{-1} = S_0``)."""
    q = sp.Symbol("q", positive=True)  # the per-step contraction of the mean, E[I - beta k k^T] = q I
    in_q = 1 - q**T
    recursion_check = in_q - (q * in_q.subs(T, T - 1) + (1 - q))
    k1 = _gaussian_key("k_1")
    return (
        Derivation("delta rule: mean memory along S*", in_q,
                   lhs=sp.Symbol(r"\mathbb{E}\langle S_T, S_0\rangle / \|S_0\|_F^2"))
        .step(in_q, "solves m_T = q m_{T-1} + (1 - q) with m_0 = 0: E[S_t | S_0] = E[S_{t-1} | S_0] (I - beta E[k k^T]) "
                    "+ beta S_0 E[k k^T] (S_{t-1} independent of k_t, E[eps] = 0), E[k k^T] = (1 - q)/beta I",
              check=sp.Matrix([recursion_check, in_q.subs(T, 0)]))
        .substitute(q, 1 - beta * s2, "q = 1 - beta E[k_1^2] (sympy.stats)", proof=1 - beta * E(k1**2))
    )


def delta_mean_square_closed(rho, c, e0=d_v) -> sp.Expr:
    """``rho^T e_0 + c (1 - rho^T)/(1 - rho)``: the solution of ``e_T = rho e_{T-1} + c`` from ``e_0``."""
    return rho**T * e0 + c * (1 - rho**T) / (1 - rho)


@cache
def delta_mean_square_error() -> Derivation:
    """``e_T = E||S_T - S_0||_F^2 = rho^T e_0 + c (1 - rho^T)/(1 - rho)`` with ``e_0 = d_v`` (``S_0`` entries
    ``N(0, 1/d_k)``), ``rho = 1 - 2 beta s^2 + beta^2 s^4 (d_k + 2)``, ``c = beta^2 sigma^2 d_v d_k s^2``.

    The error ``E_t = S_t - S_0`` obeys ``E_t = E_{t-1}(I - beta k k^T) + beta sigma eps k^T`` with ``E_{t-1}``
    independent of ``(k, eps)`` and ``E eps = 0``, so ``e_t = rho e_{t-1} + c`` where
    ``rho I = E[(I - beta k k^T)^2] = I - 2 beta E[k k^T] + beta^2 E[||k||^2 k k^T]`` and
    ``c = beta^2 sigma^2 E||eps||^2 E||k||^2``. The fourth moment is Isserlis': the diagonal entry of
    ``E[||k||^2 k k^T]`` is ``E k_1^4 + (d_k - 1) E[k_1^2 k_2^2] = s^4 (d_k + 2)`` and its off-diagonal entries
    ``2 E[k_1^3 k_2] + (d_k - 2) E[k_1 k_2 k_3^2]`` vanish (each moment by sympy.stats).
    Bounded iff ``rho < 1`` iff ``0 < beta s^2 < 2/(d_k + 2)``; then ``e_T -> c/(1 - rho)``.
    """
    rho_s, c_s, e0_s = sp.symbols("rho c e_0", positive=True)
    closed = delta_mean_square_closed(rho_s, c_s, e0_s)
    check = sp.Matrix([closed - (rho_s * closed.subs(T, T - 1) + c_s), closed.subs(T, 0) - e0_s])
    rho, c = mean_square_stability()
    k1, k2, k3 = (_gaussian_key(f"k_{i}") for i in (1, 2, 3))
    eps1 = Normal("epsilon_1", 0, 1)
    isserlis_diagonal = E(k1**4) + (d_k - 1) * E(k1**2 * k2**2)
    isserlis_off_diagonal = 2 * E(k1**3 * k2) + (d_k - 2) * E(k1 * k2 * k3**2)
    s0_entry = Normal("S_0", 0, 1 / sp.sqrt(d_k))
    return (
        Derivation("delta rule: mean-square distance to S*", closed,
                   lhs=sp.Symbol(r"\mathbb{E}\|S_T - S^\star\|_F^2"))
        .step(closed, "solves e_T = rho e_{T-1} + c from e_0", check=check)
        .substitute(rho_s, rho, "rho I = E[(I - beta k k^T)^2]: E[k k^T] = s^2 I and E[||k||^2 k k^T] = s^4 (d_k + 2) I "
                                "(Isserlis: diagonal E k_1^4 + (d_k - 1) E k_1^2 k_2^2, off-diagonal moments vanish; "
                                "sympy.stats)",
                    proof=1 - 2 * beta * E(k1**2) + beta**2 * isserlis_diagonal,
                    conditions=(isserlis_off_diagonal,))
        .substitute(c_s, c, "c = beta^2 sigma^2 E||eps||^2 E||k||^2 (cross term has E eps = 0; sympy.stats)",
                    proof=beta**2 * sigma2 * d_v * E(eps1**2) * d_k * E(k1**2))
        .substitute(e0_s, d_v, "e_0 = E||S_0||_F^2 = d_v d_k E[S_0 entry^2], entries N(0, 1/d_k) (sympy.stats)",
                    proof=d_v * d_k * E(s0_entry**2))
    )


@cache
def least_squares_error() -> Derivation:
    """``S_T = V^T K (K^T K)^{-1}``, ``V = K S_0^T + sigma Eps``: ``S_T - S_0 = sigma Eps^T K H^{-1}`` and
    ``E||S_T - S_0||_F^2 = sigma^2 d_v E tr(H^{-1}) = sigma^2 d_v d_k / (s^2 (T - d_k - 1))`` (``T > d_k + 1``).

    Steps: ``E_Eps ||Eps^T M||_F^2 = d_v ||M||_F^2`` and ``||K H^{-1}||_F^2 = tr H^{-1}`` (checked on small
    symbolic cases); ``(H^{-1})_{jj} = 1/||(I - P_{-j}) K e_j||^2`` (Schur complement, checked on a symbolic
    3 x 2 ``K``); the residual of a ``N(0, s^2 I_T)`` column off the span of the other ``d_k - 1``
    independent columns is ``s^2 chi^2_{T - d_k + 1}`` (rotation invariance: *assumed*, not verified);
    ``E[1/chi^2_m] = 1/(m - 2)`` (sympy.stats).
    """
    E_noise = sp.Symbol(r"\mathbb{E}\|\mathcal{E}^\top K H^{-1}\|_F^2", positive=True)
    E_trace = sp.Symbol(r"\mathbb{E}\,\mathrm{tr}\,H^{-1}", positive=True)
    E_diag = sp.Symbol(r"\mathbb{E}\,(H^{-1})_{11}", positive=True)
    E_inv_chi2 = sp.Symbol(r"\mathbb{E}[1/\chi^2_{T-d_k+1}]", positive=True)
    # E (eps^T m)^2 = ||m||^2 for eps ~ N(0, I): one column of Eps against one column of M
    m = sp.symbols("m_1:3", real=True)
    eps = [Normal(f"epsilon_{i}", 0, 1) for i in (1, 2)]
    column_check = E(sp.expand((eps[0] * m[0] + eps[1] * m[1]) ** 2)) - (m[0] ** 2 + m[1] ** 2)
    K = sp.Matrix(3, 2, lambda a, b: sp.Symbol(f"k_{a}{b}", real=True))
    H = K.T * K
    Hinv = H.inv()
    # ||K H^{-1}||_F^2 = tr H^{-1}, cleared of the determinant: ||K adj H||_F^2 = det H tr adj H (a polynomial)
    trace_check = sp.expand(sum((K * H.adjugate()).applyfunc(lambda e: e**2)) - H.det() * H.adjugate().trace())
    x, y = K[:, 0], K[:, 1]
    schur_check = Hinv[0, 0] - 1 / ((x.T * x)[0] - (x.T * y)[0] ** 2 / (y.T * y)[0])
    dof = sp.Symbol("m", positive=True)
    inv_chi2 = sp.gammasimp(E(1 / ChiSquared("X", dof), conds="none")).subs(dof, T - d_k + 1)
    return (
        Derivation("least-squares memory: distance to S*", sigma2 * E_noise,
                   lhs=sp.Symbol(r"\mathbb{E}\|S_T - S^\star\|_F^2"))
        .substitute(E_noise, d_v * E_trace,
                    "E_Eps ||Eps^T M||^2 = d_v ||M||^2 (E (eps^T m)^2 = ||m||^2, sympy.stats) and "
                    "||K H^{-1}||_F^2 = tr H^{-1} (as ||K adj H||^2 = det H tr adj H, symbolic 3 x 2 K)",
                    proof=d_v * E_trace, conditions=(column_check, trace_check))
        .substitute(E_trace, d_k * E_diag, "the d_k diagonal entries of H^{-1} share one law; (H^{-1})_11 = "
                                           "1/||(I - P_{-1}) K e_1||^2 (Schur complement, symbolic 3 x 2 K)",
                    proof=d_k * E_diag, conditions=(schur_check,))
        .assume(sigma2 * d_v * d_k * E_inv_chi2 / s2,
                "||(I - P_{-1}) K e_1||^2 ~ s^2 chi^2_{T - d_k + 1}: a N(0, s^2 I_T) column's residual off an "
                "independent (d_k - 1)-dimensional span (rotation invariance)")
        .substitute(E_inv_chi2, 1 / (T - d_k - 1), "E[1/chi^2_m] = 1/(m - 2) with m = T - d_k + 1 (sympy.stats)",
                    proof=inv_chi2)
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
