"""Linear associative memory: Eq. (1), the crosstalk decomposition Eq. (4), retrieval SNR Eq. (7).

The memory stores ``N`` pairs ``(k_i, v_i)`` as ``S = sum_i v_i k_i^T`` (``d_v x d_k``) and
retrieves ``S q``. Querying a stored key gives ``S k_i = c v_i + r`` with signal scale
``c = ||k_i||^2`` and crosstalk noise ``r = sum_{j != i} v_j (k_j^T k_i)``, and

    SNR^{-1} = E ||r||^2 / (c^2 ||v_i||^2).

"Retrieval SNR" is not one number; each estimand below has its own exact finite-size
value for i.i.d. standard Gaussian keys and values (the sphere case has unit keys):

>>> from theory.symbols import N, d_k, d_v
>>> inverse_snr_ratio().result
(N - 1)/(d_k + 2)
>>> inverse_snr_mean().result
d_v*(N - 1)/((d_k - 2)*(d_v - 2))
>>> inverse_snr_sphere().result
(N - 1)/d_k

All share the paper's ``N/d_k`` as their limit (:func:`paper_limit`).
"""

from __future__ import annotations

from functools import cache

# sympy.stats (25 ms to import) is imported inside the functions that use it: a run whose
# derivations all come from the derivation cache never needs it, so every process starts that much sooner.
import sympy as sp

from theory.derivation import Derivation
from theory.symbols import N, d_k, d_v, key_norm2, rho, value_norm2

__all__ = [
    "capacity_at_target",
    "capacity_counting_query",
    "capacity_exponent",
    "capacity_mean_estimand",
    "capacity_ratio_estimand",
    "capacity_slope_of",
    "crosstalk_decomposition",
    "d_max",
    "d_min",
    "doubling_grid",
    "grid_log_slope",
    "inverse_snr_conditional",
    "inverse_snr_mean",
    "inverse_snr_paper",
    "inverse_snr_ratio",
    "inverse_snr_sphere",
    "lagrange_weights_at_zero",
    "LIMIT_SCALES",
    "memory_accumulation",
    "noise_floor",
    "orthonormal_retrieval",
    "paper_limit",
    "ratio_at_largest_scale",
    "ratio_limit_extrapolation_bias",
]

# Placeholders for expectations that a derivation replaces by their sympy.stats value.
E_v2 = sp.Symbol(r"\mathbb{E}\|v_j\|^2", positive=True)
E_kk2 = sp.Symbol(r"\mathbb{E}[(k_j^\top k_i)^2 \mid k_i]", positive=True)
E_inv_k2 = sp.Symbol(r"\mathbb{E}\|k_i\|^{-2}", positive=True)
E_inv_v2 = sp.Symbol(r"\mathbb{E}\|v_i\|^{-2}", positive=True)
E_k2 = sp.Symbol(r"\mathbb{E}\|k_i\|^2", positive=True)
E_k4 = sp.Symbol(r"\mathbb{E}\|k_i\|^4", positive=True)


@cache
def _chi2_moment(dof: sp.Symbol, power: int, valid_above: int = 0) -> sp.Expr:
    """E[X^power] for X ~ chi^2(dof), computed by sympy.stats (branch dof > valid_above)."""
    from sympy.stats import ChiSquared, E

    moment = E(ChiSquared("X", dof) ** power)
    if isinstance(moment, sp.Piecewise):
        moment = sp.refine(moment, sp.Q.gt(dof, valid_above))
    return sp.simplify(moment)


def _symbolic_pairs(n: int, dk: int, dv: int):
    keys = [sp.Matrix(dk, 1, lambda a, _b, i=i: sp.Symbol(f"k_{i}{a}", real=True)) for i in range(n)]
    values = [sp.Matrix(dv, 1, lambda a, _b, i=i: sp.Symbol(f"v_{i}{a}", real=True)) for i in range(n)]
    return keys, values


@cache
def memory_accumulation(n: int = 3, dk: int = 2, dv: int = 2) -> Derivation:
    """Eq. (1): the recurrence ``S_t = S_{t-1} + v_t k_t^T`` builds ``S = V^T K``; retrieval is ``S q``.

    Checked on matrices with symbolic entries. The chain ends in the residual
    ``S_N q - sum_i v_i (k_i^T q)``, which must be the zero vector.
    """
    keys, values = _symbolic_pairs(n, dk, dv)
    q = sp.Matrix(dk, 1, lambda a, _b: sp.Symbol(f"q_{a}", real=True))
    memory = sp.zeros(dv, dk)
    for k, v in zip(keys, values):
        memory = memory + v * k.T
    K = sp.Matrix.vstack(*[k.T for k in keys])
    V = sp.Matrix.vstack(*[v.T for v in values])
    direct = sum((v * (k.T * q)[0, 0] for k, v in zip(keys, values)), sp.zeros(dv, 1))
    return (
        Derivation("Eq. (1): accumulated memory and its read-out", memory * q - direct,
                   lhs=sp.Symbol(r"S_N q - \sum_i v_i k_i^\top q"))
        .step((V.T * K) * q - direct, "the recurrence sums outer products: S_N = V^T K")
        .step(sp.zeros(dv, 1), "S_N q = sum_i v_i (k_i^T q) by associativity")
    )


@cache
def crosstalk_decomposition(n: int = 3, dk: int = 2, dv: int = 2, i: int = 1) -> Derivation:
    """Eq. (4): ``S k_i = v_i ||k_i||^2 + sum_{j != i} v_j (k_j^T k_i)``, derived in steps on ``n`` stored
    pairs of ``dk``- and ``dv``-vectors (matrix symbols; each step is checked entrywise on symbolic entries).

    The chain runs on the residual ``S k_i - v_i k_i^T k_i - sum_{j != i} v_j k_j^T k_i``: expand the memory
    ``S = sum_j v_j k_j^T`` against ``k_i``, split off the term ``j = i`` (the signal, which cancels), and what
    is left is the crosstalk sum itself. The queried pair is in the middle (``i = 1`` of 3) so that pairs
    stored both before and after it are in the sum (at ``i = 0`` a sum over ``j > i`` alone would pass too)."""
    keys = [sp.MatrixSymbol(f"k_{j}", dk, 1) for j in range(n)]
    values = [sp.MatrixSymbol(f"v_{j}", dv, 1) for j in range(n)]
    k_i, v_i = keys[i], values[i]

    def add(*terms):
        return sp.MatAdd(*terms, evaluate=False)

    signal = v_i * (k_i.T * k_i)
    noise = add(*[values[j] * (keys[j].T * k_i) for j in range(n) if j != i])
    memory = add(*[v * k.T for k, v in zip(keys, values)])
    others = [values[j] * (keys[j].T * k_i) for j in range(n) if j not in (i,)]
    return (
        Derivation("Eq. (4): crosstalk decomposition", add(sp.MatMul(memory, k_i), -signal, -noise),
                   lhs=sp.Symbol(r"S k_i - v_i\|k_i\|^2 - \sum_{j\ne i} v_j k_j^\top k_i"))
        .step(add(*[values[j] * (keys[j].T * k_i) for j in range(n)], -signal, -noise),
              "expand the memory S = sum_j v_j k_j^T against k_i: S k_i = sum_j v_j (k_j^T k_i)")
        .step(add(*others, -noise), "split off j = i: its term v_i (k_i^T k_i) = v_i ||k_i||^2 cancels the signal")
        .step(sp.ZeroMatrix(dv, 1), "the rest is the crosstalk sum over j != i")
    )


@cache
def orthonormal_retrieval() -> Derivation:
    """Orthonormal keys (N <= d_k) give ``S k_i = v_i`` exactly: checked for a rotated basis of R^2."""
    theta = sp.Symbol("theta", real=True)
    k1 = sp.Matrix([sp.cos(theta), sp.sin(theta)])
    k2 = sp.Matrix([-sp.sin(theta), sp.cos(theta)])
    v1 = sp.Matrix(sp.symbols("a_0 a_1", real=True))
    v2 = sp.Matrix(sp.symbols("b_0 b_1", real=True))
    memory = v1 * k1.T + v2 * k2.T
    residual = sp.Matrix.vstack(memory * k1 - v1, memory * k2 - v2)
    return (
        Derivation("orthonormal keys retrieve without noise", residual,
                   lhs=sp.Symbol(r"(S k_i - v_i)_{i=1,2}"))
        .step(sp.zeros(4, 1), "k_i^T k_j = delta_ij (cos^2 + sin^2 = 1)")
    )


@cache
def noise_floor() -> Derivation:
    """Least total crosstalk of N > d_k unit keys with orthonormal values: ``N (N - d_k) / d_k``.

    With ``v_j = e_j`` the noise energy is ``sum_i sum_{j != i} (k_j^T k_i)^2 = ||K K^T||_F^2 - N``.
    ``K K^T`` has at most ``d_k`` nonzero eigenvalues ``lambda`` summing to ``tr K K^T = N``, so
    ``||K K^T||_F^2 = sum lambda^2 >= N^2 / d_k`` (Cauchy-Schwarz), with equality exactly for
    unit-norm tight frames (Benedetto & Fickus 2003). The floor is positive iff ``N > d_k``.
    """
    frame_potential = sp.Symbol(r"\|K K^\top\|_F^2", positive=True)
    return (
        Derivation("noise floor of an overcomplete linear memory", frame_potential - N,
                   lhs=sp.Symbol(r"\min_K \sum_i \|r_i\|^2"))
        .cite(N**2 / d_k - N, "Cauchy-Schwarz on the d_k nonzero eigenvalues of K K^T (trace N); "
              "attained by unit-norm tight frames (Benedetto & Fickus 2003)")
        .step(N * (N - d_k) / d_k, "factor")
    )


@cache
def inverse_snr_conditional() -> Derivation:
    """SNR^{-1} conditional on ``(k_i, v_i)``: ``(N - 1) d_v / (||k_i||^2 ||v_i||^2)`` (the paper's definition)."""
    from sympy.stats import E, Normal

    start = (N - 1) * E_v2 * E_kk2 / (key_norm2**2 * value_norm2)
    a = sp.Symbol("a", positive=True)
    return (
        Derivation("SNR^{-1} conditional on (k_i, v_i)", start, lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_{\mathrm{cond}}"))
        .substitute(E_v2, d_v, "||v_j||^2 ~ chi^2(d_v)", proof=_chi2_moment(d_v, 1))
        .substitute(E_kk2, key_norm2, "k_j^T k_i | k_i ~ N(0, ||k_i||^2) by rotation invariance; one "
                    "||k_i||^2 cancels", proof=E(Normal("Z", 0, sp.sqrt(a)) ** 2).subs(a, key_norm2))
    )


@cache
def inverse_snr_mean() -> Derivation:
    """Mean of the conditional SNR^{-1} over ``(k_i, v_i)``: ``(N-1) d_v / ((d_k - 2)(d_v - 2))``, finite for d > 2."""
    start = (N - 1) * d_v * E_inv_k2 * E_inv_v2
    return (
        Derivation("mean over (k_i, v_i) of the conditional SNR^{-1}", start,
                   lhs=sp.Symbol(r"\mathbb{E}_{k_i,v_i}\mathrm{SNR}^{-1}_{\mathrm{cond}}"))
        .substitute(E_inv_k2, 1 / (d_k - 2), "E[1/chi^2(d_k)] = 1/(d_k - 2) for d_k > 2",
                    proof=_chi2_moment(d_k, -1, valid_above=2))
        .substitute(E_inv_v2, 1 / (d_v - 2), "E[1/chi^2(d_v)] = 1/(d_v - 2) for d_v > 2",
                    proof=_chi2_moment(d_v, -1, valid_above=2))
    )


@cache
def inverse_snr_ratio() -> Derivation:
    """Ratio of expectations ``E||r||^2 / E[c^2 ||v_i||^2] = (N - 1) / (d_k + 2)``."""
    start = (N - 1) * d_v * E_k2 / (E_k4 * d_v)
    return (
        Derivation("ratio of expectations", start, lhs=sp.Symbol(r"\mathbb{E}\|r\|^2 / \mathbb{E}\|c\,v_i\|^2"))
        .substitute(E_k2, d_k, "E||k_i||^2 = d_k", proof=_chi2_moment(d_k, 1))
        .substitute(E_k4, d_k * (d_k + 2), "E||k_i||^4 = d_k (d_k + 2); d_k cancels", proof=_chi2_moment(d_k, 2))
    )


@cache
def inverse_snr_sphere() -> Derivation:
    """Keys uniform on the unit sphere (c = 1), Gaussian values, ratio of expectations: ``(N - 1) / d_k``."""
    from sympy.stats import Beta, E

    start = (N - 1) * d_v * E_kk2 / d_v
    return (
        Derivation("unit-sphere keys", start, lhs=sp.Symbol(r"\mathrm{SNR}^{-1}_{\mathrm{sphere}}"))
        .substitute(E_kk2, 1 / d_k, "(k_j^T k_i)^2 ~ Beta(1/2, (d_k - 1)/2) for independent uniform unit vectors",
                    proof=E(Beta("B", sp.Rational(1, 2), (d_k - 1) / 2)))
    )


def inverse_snr_paper() -> sp.Expr:
    """The paper's Eq. (7): ``SNR^{-1} ~ N / d_k``."""
    return N / d_k


@cache
def paper_limit() -> Derivation:
    """Each exact estimand divided by ``N/d_k`` tends to 1 (``N = a d_k``, ``d_v = b d_k``, ``d_k -> oo``)."""
    a, b, x = sp.symbols("a b x", positive=True)
    typical = {key_norm2: x, value_norm2: b * x, d_v: b * x, N: a * x, d_k: x}
    exact = [inverse_snr_conditional().result, inverse_snr_mean().result,
             inverse_snr_ratio().result, inverse_snr_sphere().result]
    limits = sp.Matrix([sp.Limit((e / inverse_snr_paper()).subs(typical), x, sp.oo) for e in exact])
    return (
        Derivation("N/d_k is the common limit of the four estimands", limits,
                   lhs=sp.Symbol(r"\lim_{d_k\to\infty} \mathrm{exact}/(N/d_k)"))
        .step(sp.ones(4, 1), "evaluate the limits (conditional at typical norms, mean, ratio, sphere)")
    )


LIMIT_SCALES = (1, 2, 4)  # sizes (s N, s d_k) whose ratio-estimand values are extrapolated to d_k -> oo


def lagrange_weights_at_zero(xs) -> list[sp.Expr]:
    """Weights ``w`` with ``P(0) = sum_s w_s f(x_s)`` for the polynomial ``P`` interpolating ``f`` at ``xs``.

    ``w_s = prod_{t != s} x_t / (x_t - x_s)`` (Lagrange basis at 0): extrapolation to ``x = 0`` that is
    exact for polynomials of degree ``len(xs) - 1``.

    >>> lagrange_weights_at_zero([sp.Integer(1), sp.Rational(1, 2), sp.Rational(1, 4)])
    [1/3, -2, 8/3]
    """
    xs = [sp.sympify(x) for x in xs]
    return [sp.simplify(sp.prod([xt / (xt - xs_) for j, xt in enumerate(xs) if j != i])) for i, xs_ in enumerate(xs)]


def _ratio_at_scale(s) -> sp.Expr:
    """The exact ratio estimand at ``(s N, s d_k)`` (the suite's ``(s N - 1)/(s d_k + 2)``)."""
    return inverse_snr_ratio().result.subs({N: s * N, d_k: s * d_k}, simultaneous=True)


@cache
def ratio_limit_extrapolation_bias() -> sp.Expr:
    """Bias of the quadratic extrapolation in ``1/d_k`` of the exact ratio estimand: the finite-size bound
    of :func:`paper_limit`'s numeric side, derived from the suite's exact value, not from the paper's.

    ``sum_s w_s R(s N, s d_k) - lim_{t -> oo} R(t N, t d_k)`` with ``s`` in :data:`LIMIT_SCALES`, ``w`` the
    Lagrange weights at ``x = 0`` through ``x_s = 1/(s d_k)`` and ``R = (N - 1)/(d_k + 2)``. Expanding
    ``R = (a - x)/(1 + 2x)`` (``a = N/d_k``, ``x = 1/d_k``) in ``x``, the extrapolation cancels the ``x`` and
    ``x^2`` terms; what remains is ``O(x^3)``.

    >>> ratio_limit_extrapolation_bias()
    -(2*N + d_k)/(d_k*(d_k + 1)*(d_k + 2)*(2*d_k + 1))
    """
    t = sp.Symbol("t", positive=True)
    weights = lagrange_weights_at_zero([1 / (s * d_k) for s in LIMIT_SCALES])
    extrapolated = sum(w * _ratio_at_scale(s) for w, s in zip(weights, LIMIT_SCALES))
    limit = sp.limit(_ratio_at_scale(t), t, sp.oo)
    return sp.factor(sp.simplify(extrapolated - limit))


def ratio_at_largest_scale() -> sp.Expr:
    """The exact ratio estimand at the largest size of the extrapolation, ``(4N - 1)/(4 d_k + 2)``: the
    limit as one would read it off the biggest simulation (a near-miss control of :func:`paper_limit`)."""
    return _ratio_at_scale(max(LIMIT_SCALES))


def _capacity_solving(estimand: sp.Expr) -> sp.Expr:
    """The number ``m = N - 1`` of interfering pairs at which ``estimand`` equals the target ``rho``."""
    m = sp.Symbol("m", positive=True)  # m = N - 1, the pairs that interfere with the query
    (solution,) = sp.solve(sp.Eq(estimand.subs(N, m + 1), rho), m)
    return solution


def capacity_at_target() -> sp.Expr:
    """Interfering pairs tolerated at target ``SNR^{-1} = rho`` by a typical stored pair: ``rho d_k``.

    Solves the conditional estimand at typical norms (``||k_i||^2 = d_k``, ``||v_i||^2 = d_v``),
    ``(N - 1)/d_k = rho``, for ``N - 1``.
    """
    return _capacity_solving(inverse_snr_conditional().result.subs({key_norm2: d_k, value_norm2: d_v}))


def capacity_ratio_estimand() -> sp.Expr:
    """Capacity defined through the ratio-of-expectations estimand instead: ``rho (d_k + 2)`` (a wrong
    definition for the typical pair, used as a near-miss control of the capacity slope)."""
    return _capacity_solving(inverse_snr_ratio().result)


def capacity_mean_estimand() -> sp.Expr:
    """Capacity defined through the mean over the stored pair instead: ``rho (d_k - 2)(d_v - 2)/d_v``."""
    return _capacity_solving(inverse_snr_mean().result)


def capacity_counting_query() -> sp.Expr:
    """Capacity counted as stored pairs ``N`` (the query's own pair included): ``1 + rho d_k``."""
    return 1 + capacity_at_target()


@cache
def capacity_exponent() -> Derivation:
    """The capacity ``C(d_k) = rho d_k`` has log-log slope exactly 1, at every ``d_k`` (not only asymptotically)."""
    x = sp.Symbol("x", positive=True)
    capacity = capacity_at_target().subs(d_k, x)
    return (
        Derivation("capacity exponent of the linear memory", x * sp.Derivative(sp.log(capacity), x),
                   lhs=sp.Symbol(r"d\log C / d\log d_k"))
        .step(sp.Integer(1), "C = rho d_k is proportional to d_k")
    )


d_min = sp.Symbol("d_min", positive=True, integer=True)  # the capacity claim's grid, named like its parameters
d_max = sp.Symbol("d_max", positive=True, integer=True)


class grid_log_slope(sp.Function):
    """Exact OLS slope of ``log C(d)`` on ``log d`` over the doubling grid ``d_min, 2 d_min, ..., <= d_max``.

    ``grid_log_slope(Lambda(d_k, C), d_min, d_max)``: the finite-size slope a fitted exponent measures
    when the capacity is ``C(d_k)`` (explicit once the grid ends and every parameter of ``C`` are numbers).

    >>> float(grid_log_slope(sp.Lambda(d_k, 3 * d_k), 8, 64))
    1.0
    >>> round(float(grid_log_slope(sp.Lambda(d_k, d_k + 2), 8, 64)), 4)
    0.9085
    """

    @classmethod
    def eval(cls, capacity, lo, hi):
        if not (lo.is_Integer and hi.is_Integer) or capacity.free_symbols:
            return None
        xs = [sp.log(sp.Integer(x)) for x in doubling_grid(int(lo), int(hi))]
        ys = [sp.log(capacity(sp.Integer(x))) for x in doubling_grid(int(lo), int(hi))]
        xbar, ybar = sum(xs) / len(xs), sum(ys) / len(ys)
        return sum((x - xbar) * (y - ybar) for x, y in zip(xs, ys)) / sum((x - xbar) ** 2 for x in xs)


def capacity_slope_of(capacity: sp.Expr) -> sp.Expr:
    """The finite-size fitted exponent of a capacity formula over the claim's grid (``d_min``, ``d_max``)."""
    return grid_log_slope(sp.Lambda(d_k, capacity), d_min, d_max)


def doubling_grid(d_min: int, d_max: int) -> list[int]:
    """``d_min, 2 d_min, 4 d_min, ...`` up to ``d_max``."""
    dims = [int(d_min)]
    while dims[-1] * 2 <= d_max:
        dims.append(dims[-1] * 2)
    return dims
