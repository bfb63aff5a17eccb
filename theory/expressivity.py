"""Expressivity (notes §5.5): state tracking with DeltaFormer and with negative eigenvalues.

Symbolic sides of the section ``expressivity``:

* the swap construction of Theorem 1 (one swap token exchanges two stored values; the rounding
  kernel turns near-orthogonal keys into exactly orthogonal ones, Lemma 1 checked by enumerating
  every coincidence pattern of token keys);
* the dimension needed: the exact law of the coherence violations of random unit keys (a Gamma
  ratio gives the Beta law), and the growth rate ``-(1/4) ln(1 - eps^2)`` of the largest set with
  fewer than one expected violation (a squeeze between elementary bounds whose limits sympy takes);
* generalized Householder matrices: a swap is ``I - 2 k k^T``; every permutation is a product of at
  most ``n - 1`` swaps; the eigenvalues of ``I - beta k k^T``; the monotone closed form of a repeated
  DeltaNet token (the parity obstruction for beta in [0, 1]);
* reachability: ``(I - A)^{-1} = sum_k A^k`` for a nilpotent DAG adjacency;
* the complexity-class facts, recorded as cited statements.

>>> rate = coherence_rate()
>>> rate.subs(eps, sp.Rational(1, 2))
-log(3/4)/4
>>> violation_count().result.subs({n: 2, d: 3, eps: sp.Rational(1, 2)}).rewrite(sp.Integral).doit()
1/2
"""

from __future__ import annotations

from functools import cache
from itertools import combinations, permutations

# sympy.combinatorics (20 ms to import) is imported inside the functions that use it: a run whose
# derivations all come from the derivation cache never needs it, so every process starts that much sooner.
import sympy as sp

from theory.derivation import Derivation, latex_text
from theory.symbols import d

__all__ = [
    "COHERENCE_BOUND",
    "RICHARDSON_FLOOR",
    "beta",
    "cited_fact",
    "coherence_exponent",
    "coherence_extrapolation_error",
    "coherence_rate",
    "eps",
    "householder_eigenvalues",
    "householder_swap",
    "linear_orthonormal",
    "first_moment_size",
    "log_first_moment_size",
    "n",
    "reachability_inverse",
    "repetition_monotone",
    "rounding_lemma",
    "swap_construction",
    "swap_task_labels",
    "pair_violation_probability",
    "violation_count",
    "violation_probability",
]

n = sp.Symbol("n", positive=True, integer=True)
eps = sp.Symbol("epsilon", positive=True)
beta = sp.Symbol("beta", nonnegative=True)
COHERENCE_BOUND = sp.Rational(1, 8)
RICHARDSON_FLOOR = 5e-4  # relative floor of the extrapolation error estimate (see coherence_extrapolation_error)
_HALF = sp.Rational(1, 2)


# --- Theorem 1: the swap construction ------------------------------------------------------------

def rounding_lemma(positions: int = 4) -> tuple[sp.Expr, sp.Expr]:
    """Lemma 1, by enumeration: ``(largest integer part, largest cross-term weight)`` of ``w^T w'``.

    Every token key is a stored key ``k_a`` or a swap key ``k_a - k_b`` (``a != b``), so the inner
    product of two token keys (or of a query ``k_j`` and a token key) involves at most four
    positions. With the Gram matrix ``k_i^T k_j = delta_ij + eta_ij`` (``eta`` symmetric, zero on the
    diagonal) it is an integer (its value for orthonormal keys) plus a sum of ``eta`` terms. Over
    every pair of token keys on ``positions`` positions (4 covers every coincidence pattern) this
    returns the largest ``|integer|`` and the largest sum of ``|coefficient|`` of the ``eta`` terms.
    With ``|eta_ij| < eps`` the error of the integer is below ``weight * eps``.
    """
    etas = {(i, j): sp.Symbol(f"eta_{i}{j}", real=True) for i, j in combinations(range(positions), 2)}

    def gram(i, j):
        return sp.Integer(1) if i == j else etas[(min(i, j), max(i, j))]

    keys = [{a: 1} for a in range(positions)]
    keys += [{a: 1, b: -1} for a in range(positions) for b in range(positions) if a != b]
    worst_int, worst_cross = sp.Integer(0), sp.Integer(0)
    for w in keys:
        for v in keys:
            value = sp.expand(sum(cw * cv * gram(i, j) for i, cw in w.items() for j, cv in v.items()))
            integer = value.subs({e: 0 for e in etas.values()})
            cross = sum(abs(value.coeff(e)) for e in etas.values())
            worst_int, worst_cross = sp.Max(worst_int, abs(integer)), sp.Max(worst_cross, cross)
    return worst_int, worst_cross


def _rounding_conditions() -> tuple[sp.Expr, ...]:
    """Lemma 1 as expressions that vanish when it holds: integers in {-2..2}, at most 4 cross terms of
    weight 1, and ``4 eps <= 1/2`` at ``eps = 1/8`` (so ``round`` returns the integer)."""
    worst_int, worst_cross = rounding_lemma()
    return (sp.Max(0, worst_int - 2), sp.Max(0, worst_cross - 4),
            sp.Max(0, worst_cross * COHERENCE_BOUND - _HALF))


def _values(n_pos: int):
    return [sp.Matrix(sp.symbols(f"x_{j}_0:2", real=True)) for j in range(n_pos)]


def _read_outs_after_swap(values) -> list[sp.Matrix]:
    """Read-outs ``S' k_j`` after one swap token on the ideal memory ``S = sum_j v_j k_j^T``, ``k_j = e_j``.

    The swap of positions 0 and 1 is the token with key ``w = k_1 - k_0`` and value 0, so ``u = 0 - S w``
    and ``S' = S + u w^T`` (the delta rule).
    """
    size, width = len(values), values[0].shape[0]
    keys = [sp.eye(size)[:, j] for j in range(size)]
    S = sum((v * k.T for v, k in zip(values, keys)), sp.zeros(width, size))
    w = keys[1] - keys[0]
    S_new = S + (sp.zeros(width, 1) - S * w) * w.T
    return [S_new * k for k in keys]


def _swap_residual_memory(n_pos: int = 3) -> sp.Matrix:
    """Delta-rule form of one swap token on a memory holding symbolic values: ``S' k_j - x_{pi(j)}``
    stacked over ``j = 0..n_pos-1`` (must vanish)."""
    xs = _values(n_pos)
    swapped = [xs[1], xs[0]] + xs[2:]
    return sp.Matrix.vstack(*[o - x for o, x in zip(_read_outs_after_swap(xs), swapped)])


def _swap_residual_recursion(n_pos: int = 3) -> sp.Matrix:
    """The same residual computed the way the construction runs: the u-recursion over the token list.

    Tokens: the stored pairs ``(k_j, x_j)`` (``k_j = e_j``), then the swap token ``(k_1 - k_0, 0)``;
    kernel values are the orthonormal-key integers ``w^T k``; ``u_t = v_t - sum_{i<t} f(w_t^T k_i) u_i``
    and ``o(q) = sum_i f(q^T k_i) u_i``. Returns ``o(k_j) - x_{pi(j)}`` stacked over ``j``.
    """
    xs = _values(n_pos)
    keys = [sp.eye(n_pos)[:, j] for j in range(n_pos)]
    tokens = [(k, x) for k, x in zip(keys, xs)] + [(keys[1] - keys[0], sp.zeros(2, 1))]
    us = []
    for t, (w, v) in enumerate(tokens):
        us.append(v - sum((((w.T * tokens[i][0])[0, 0]) * us[i] for i in range(t)), sp.zeros(2, 1)))
    swapped = [xs[1], xs[0]] + xs[2:]
    reads = [sum((((q.T * tokens[i][0])[0, 0]) * us[i] for i in range(len(tokens))), sp.zeros(2, 1)) for q in keys]
    return sp.Matrix.vstack(*[o - x for o, x in zip(reads, swapped)])


_SWAP_STEP = ("u = -S(k_1 - k_0) = x_0 - x_1, so S' k_0 = x_1, S' k_1 = x_0, S' k_2 = x_2: one swap token "
              "exchanges two stored values of an arbitrary memory; induction over the tokens")
_LINEAR_FORM = ("linear kernel on orthonormal keys: sum_{i<t} (w^T k_i) u_i = S_{t-1} w with "
                "S_{t-1} = sum_{i<t} u_i k_i^T, so the u-recursion is the delta rule on S")


def _swap_chain(title: str, lhs: str, why: str, conditions=()) -> Derivation:
    """``max error`` -> the one-swap residual of the ideal run (``why``, with ``conditions``) -> 0."""
    err = sp.Symbol(lhs)
    return (
        Derivation(title, err, lhs=err)
        .substitute(err, _swap_residual_memory(), why, proof=_swap_residual_recursion(), conditions=conditions)
        .step(sp.zeros(6, 1), _SWAP_STEP)
    )


@cache
def swap_construction() -> Derivation:
    """Theorem 1 (reconstructed): after any swaps, ``o(k_j)`` is exactly the value now at ``j``.

    Lemma 1 (rounding, :func:`rounding_lemma`): every inner product of token keys is an integer in
    ``{-2..2}`` (its value for orthonormal keys) plus at most four cross terms ``k_i^T k_j``,
    ``i != j``, each below ``eps``; with ``eps <= 1/8`` the error is below ``1/2`` and ``round``
    returns the integer. The run therefore computes exactly the linear-kernel run on orthonormal
    keys, which is the delta rule ``S' = S + u w^T``, ``u = v - S w`` on ``S = sum_j x_j k_j^T``
    (the recursion and the delta-rule forms of the residual agree); one swap token maps an arbitrary
    memory to the swapped memory, and induction over the tokens gives the claim. Every step verifies.
    """
    return _swap_chain(
        "Theorem 1: a swap token exchanges two stored values", r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
        "Lemma 1 (enumerated): every kernel value round(w^T k) is its orthonormal-key integer in {-2..2} "
        "(at most 4 cross terms below eps = 1/8); so the run is the linear-kernel run on orthonormal keys, "
        + _LINEAR_FORM,
        conditions=_rounding_conditions())


@cache
def linear_orthonormal() -> Derivation:
    """With f = identity and exactly orthonormal keys the kernel values are the inner products themselves,
    so the u-recursion is the delta rule on ``S = sum_j x_j k_j^T`` and one swap token exchanges two values."""
    return _swap_chain(
        "linear kernel, orthonormal keys: a swap token exchanges two stored values",
        r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
        "f = identity and k_i^T k_j = delta_ij (the claim's hypothesis, n <= d): " + _LINEAR_FORM)


@cache
def swap_task_labels() -> Derivation:
    """The task label (element at position 0 after each swap) is Theorem 1's read-out at ``k_0``.

    Theorem 1's chain, then one-hot values: after the swap of positions 0 and 1 the read-out at ``k_0``
    is ``e_1``; its argmax equals the label the generator's bookkeeping records (the element at
    position 0 after the swap).
    """
    read_k0 = _read_outs_after_swap([sp.eye(3)[:, e] for e in range(3)])[0]
    argmax = max(range(3), key=lambda e: read_k0[e])
    arrangement = [0, 1, 2]
    arrangement[0], arrangement[1] = arrangement[1], arrangement[0]
    return (
        swap_construction()
        .step(sp.zeros(6, 1), "one-hot values: o_t(k_0) = e_{pi_t(0)}, whose argmax is the label "
                              "(element at position 0 after swap t)", check=sp.Integer(argmax - arrangement[0]))
    )


# --- the dimension needed ------------------------------------------------------------------------

def violation_probability() -> sp.Expr:
    """``P(|k_i^T k_j| >= eps)`` for independent uniform unit vectors in R^d: ``I_{1-eps^2}((d-1)/2, 1/2)``."""
    return sp.betainc_regularized((d - 1) / 2, _HALF, 0, 1 - eps**2)


def _at_endpoints(expr) -> sp.Expr:
    """Evaluate the regularized incomplete beta functions of ``expr`` taken from 0 to 0 or from 0 to 1.

    ``I_0(a, b) = 0`` (an empty integral) and ``I_1(a, b) = 1`` (``B(a, b)`` is by definition the full
    integral); then ``doit`` (explicit integrals over an empty interval vanish).
    """
    def at_end(e):
        return isinstance(e, sp.betainc_regularized) and e.args[2] == 0 and e.args[3] in (0, 1)

    return expr.replace(at_end, lambda e: sp.Integer(e.args[3])).doit()


def _rotation_invariance() -> sp.Expr:
    """0 when ``(Q g)^T (Q g) = g^T g`` given ``Q^T Q = I`` (the Gaussian density is rotation invariant)."""
    Q, g = sp.MatrixSymbol("Q", d, d), sp.MatrixSymbol("g", d, 1)
    rotated = ((Q * g).T * (Q * g)).subs(Q.T * Q, sp.Identity(d))
    return sp.Integer(0) if rotated == g.T * g else sp.Integer(1)


def _beta_law_ratio() -> sp.Expr:
    """Density of ``X = G / (G + R)``, ``G ~ chi^2_1``, ``R ~ chi^2_{2m}`` independent, over the
    ``Beta(1/2, m)`` density (1 when the law is Beta). Computed by the change of variables
    ``G = X U``, ``R = (1 - X) U`` (Jacobian ``U``) and integrating ``U`` out; ``q`` stands for
    ``1 - X`` (positive) until the ratio is formed, then ``X + q = 1``."""
    m, x, q, u = (sp.Symbol(s, positive=True) for s in ("m", "x", "q", "u"))
    chi2_1 = (x * u) ** -_HALF * sp.exp(-x * u / 2) / (sp.sqrt(2) * sp.gamma(_HALF))
    chi2_2m = (q * u) ** (m - 1) * sp.exp(-q * u / 2) / (2**m * sp.gamma(m))
    density = sp.integrate(sp.powsimp(chi2_1 * chi2_2m * u), (u, 0, sp.oo), conds="none")
    beta_density = x**-_HALF * q ** (m - 1) / sp.beta(_HALF, m)
    ratio = sp.powsimp(sp.gammasimp((density / beta_density).rewrite(sp.gamma)), force=True)
    return sp.simplify(ratio.subs(q, 1 - x))


def _pair_probability_steps(derivation: Derivation, tail: sp.Symbol) -> Derivation:
    """Replace ``tail = P((k_i^T k_j)^2 >= eps^2)`` in ``derivation`` by ``I_{1-eps^2}((d-1)/2, 1/2)``, verified.

    Keys are normalised Gaussians ``k = g/||g||``. Condition on ``k_i`` and rotate it to ``e_1`` by an
    orthogonal ``Q``: ``Q g_j`` has the law of ``g_j`` (the density depends on ``g^T g`` only), so
    ``(k_i^T k_j)^2 = G / (G + R)`` with ``G ~ chi^2_1``, ``R ~ chi^2_{d-1}`` independent; that ratio is
    ``Beta(1/2, (d-1)/2)`` (sympy integrates the change of variables), and its upper tail at ``eps^2``
    is ``I_{1-eps^2}((d-1)/2, 1/2)`` (equal derivatives in ``eps`` and equal values at ``eps = 1``).
    """
    m = (d - 1) / 2
    beta_tail = 1 - sp.betainc_regularized(_HALF, m, 0, eps**2)
    mirrored = violation_probability()
    same_slope = (sp.diff(beta_tail, eps) - sp.diff(mirrored, eps)).rewrite(sp.gamma)
    same_end = _at_endpoints((beta_tail - mirrored).subs(eps, 1))
    return (
        derivation
        .substitute(tail, beta_tail,
                    "rotation invariance: (k_i^T k_j)^2 = G/(G + R), G ~ chi^2_1, R ~ chi^2_{d-1}; the Gamma "
                    "ratio is Beta(1/2, (d-1)/2) (density integrated by sympy)",
                    proof=beta_tail, conditions=(_rotation_invariance(), _beta_law_ratio() - 1))
        .substitute(beta_tail, mirrored, "1 - I_{e^2}(1/2, m) = I_{1-e^2}(m, 1/2): equal derivatives in eps, "
                    "equal values at eps = 1", proof=mirrored, conditions=(same_slope, same_end))
    )


_PAIR_TAIL = sp.Symbol(r"P((k_i^\top k_j)^2 \ge \epsilon^2)", positive=True)


@cache
def pair_violation_probability() -> Derivation:
    """``P(|k_i^T k_j| >= eps) = I_{1-eps^2}((d-1)/2, 1/2)`` for two independent uniform unit keys in R^d
    (:func:`_pair_probability_steps`)."""
    return _pair_probability_steps(
        Derivation("probability of one coherence violation", _PAIR_TAIL,
                   lhs=sp.Symbol(r"P(|k_i^\top k_j| \ge \epsilon)")), _PAIR_TAIL)


@cache
def violation_count() -> Derivation:
    """Expected number of coherence violations among ``n`` i.i.d. uniform unit keys in R^d: the pair
    probability (:func:`_pair_probability_steps`) times the ``n(n-1)/2`` pairs (linearity of expectation)."""
    return (
        _pair_probability_steps(
            Derivation("expected coherence violations", sp.binomial(n, 2) * _PAIR_TAIL,
                       lhs=sp.Symbol(r"\mathbb{E}\#\{i<j: |k_i^\top k_j| \ge \epsilon\}")), _PAIR_TAIL)
        .substitute(sp.binomial(n, 2), n * (n - 1) / 2, "binomial(n, 2) = n (n - 1)/2",
                    proof=sp.expand_func(sp.binomial(n, 2)),
                    # Archimedes at d = 3: k^T k_j is uniform on [-1, 1], so the probability is 1 - eps.
                    conditions=(violation_probability().subs(d, 3).rewrite(sp.Integral).doit() - (1 - eps),))
    )


def coherence_rate() -> sp.Expr:
    """The growth rate of the largest coherent random set: ``log n*(d) / d -> -(1/4) ln(1 - eps^2)``."""
    return -sp.log(1 - eps**2) / 4


def _probability_squeeze():
    """Elementary bounds ``p_lo(d) <= p_d <= p_hi(d)`` with their certificates (each vanishes when it holds).

    With ``m = (d - 1)/2 >= 1``: ``p_d = (2 / B(1/2, m)) int_eps^1 (1 - x^2)^{m-1} dx`` (substitute
    ``t = 1 - x^2`` in the incomplete beta; certified by equal derivatives in ``eps`` and equal values
    at ``eps = 1``). On ``[eps, 1]``: ``(1 - x)(1 + eps) <= 1 - x^2 <= 1 - eps^2``, the gaps being
    ``(1 - x)(x - eps)`` and ``(x - eps)(x + eps)``; and ``1/m <= B(1/2, m) <= 2`` from
    ``(1 - t)^{m-1} <= 1 <= t^{-1/2}`` on ``[0, 1]``. Integrating gives the bounds below.
    """
    m_s, x = sp.Symbol("m", positive=True), sp.Symbol("x", positive=True)
    y, z = sp.symbols("y z", nonnegative=True)  # y = x - eps, z = 1 - x on [eps, 1]
    integral = 2 / sp.beta(_HALF, m_s) * sp.Integral((1 - x**2) ** (m_s - 1), (x, eps, 1))
    p_m = sp.betainc_regularized(m_s, _HALF, 0, 1 - eps**2)
    lower_int = sp.integrate((1 - x) ** (m_s - 1) * (1 + eps) ** (m_s - 1), (x, eps, 1), conds="none")
    upper_int = sp.integrate((1 - eps**2) ** (m_s - 1), (x, eps, 1))
    t = sp.Symbol("t", positive=True)
    beta_low, beta_high = sp.integrate((1 - t) ** (m_s - 1), (t, 0, 1), conds="none"), sp.integrate(t**-_HALF, (t, 0, 1))
    certificates = (
        sp.diff(p_m - integral, eps).rewrite(sp.gamma),
        _at_endpoints((p_m - integral).subs(eps, 1)),
        upper_int - (1 - eps**2) ** (m_s - 1) * (1 - eps),
        sp.expand((1 - x**2) - (1 - x) * (1 + eps) - (1 - x) * (x - eps)),
        sp.expand((1 - eps**2) - (1 - x**2) - (x - eps) * (x + eps)),
        sp.Max(0, -z * y), sp.Max(0, -y * (y + 2 * eps)),  # the gaps are products of non-negative factors
        beta_low - 1 / m_s, beta_high - 2,
    )
    m = (d - 1) / 2
    p_lo = (2 / 2 * lower_int).subs(m_s, m)  # B <= 2
    p_hi = (2 * m_s * (1 - eps**2) ** (m_s - 1) * (1 - eps)).subs(m_s, m)  # B >= 1/m; upper_int certified
    return p_lo, p_hi, certificates


def _size_squeeze(p):
    """``log n*`` between ``(1/2) log(2/p)`` and ``log 2 + (1/2) log(2/p)`` for ``p <= 2``, with certificates.

    ``n* = (1 + s)/2``, ``s = sqrt(1 + 8/p)``: ``s >= sqrt(8/p)`` and ``s <= 1 + sqrt(8/p)`` (the square
    of the right side exceeds ``s^2`` by ``2 sqrt(8/p) >= 0``), and ``1 + sqrt(2/p) <= 2 sqrt(2/p)``.
    """
    r = sp.Symbol("r", positive=True)  # r = sqrt(8/p)
    certificates = (sp.expand((1 + r) ** 2 - (1 + r**2) - 2 * r),)
    return sp.log(2 / p) / 2, sp.log(2) + sp.log(2 / p) / 2, certificates


@cache
def coherence_exponent() -> Derivation:
    """``n*(d)``, the largest ``n`` with expected violations ``n(n-1)/2 p_d < 1``, grows like ``e^{c d}``.

    ``n*(d) = (1 + sqrt(1 + 8/p_d))/2`` with ``p_d = I_{1-eps^2}((d-1)/2, 1/2)``. Squeeze, every step
    verified: ``p_lo(d) <= p_d <= p_hi(d)`` (:func:`_probability_squeeze`, elementary bounds on the
    integral and on ``B(1/2, m)``) and ``(1/2) log(2/p) <= log n* <= log 2 + (1/2) log(2/p)``
    (:func:`_size_squeeze`); sympy takes the limits of ``log n*/d`` along both bounds and finds the
    same value, ``-(1/4) ln(1 - eps^2)``. So ``d = O(log n)`` keys suffice for ``n`` coherent keys.
    """
    p_lo, p_hi, p_certs = _probability_squeeze()
    P = sp.Symbol("p", positive=True)
    low_size, high_size, s_certs = _size_squeeze(P)

    def rate(log_p):
        # lim log_p / d, term by term (each term of the expanded sum has a finite limit)
        terms = sp.Add.make_args(sp.expand(sp.expand_log(log_p, force=True) / d))
        limits = []
        for term in terms:
            factor, dependent = term.as_independent(d, as_Add=False)
            limits.append(factor * sp.limit(dependent, d, sp.oo))
        return sp.Add(*limits)

    lim_n = sp.Symbol(r"\lim_{d\to\infty} \log n^*(d) / d")
    lim_p = sp.Symbol(r"\lim_{d\to\infty} \log p_d / d")
    same_limit = sp.logcombine(rate(sp.log(p_lo)) - rate(sp.log(p_hi)), force=True)
    return (
        Derivation("growth rate of the largest coherent random key set", lim_n, lhs=lim_n)
        .substitute(lim_n, -lim_p / 2, "n* = (1 + sqrt(1 + 8/p))/2 solves n(n - 1)/2 p = 1; "
                    "log n*(d) = -(1/2) log p_d + O(1): sqrt(2/p) <= n* <= 2 sqrt(2/p)",
                    proof=-lim_p / 2, conditions=s_certs + (high_size - low_size - sp.log(2),
                                                           first_moment_size(P) * (first_moment_size(P) - 1) / 2 * P - 1))
        .substitute(lim_p, sp.log(1 - eps**2) / 2,
                    "squeeze p_lo(d) <= p_d <= p_hi(d) (integral of the Beta density bounded on [eps, 1], "
                    "1/m <= B(1/2, m) <= 2); both bounds have log p / d -> (1/2) ln(1 - eps^2)",
                    proof=rate(sp.log(p_hi)), conditions=p_certs + (same_limit,))
        .step(coherence_rate(), "c = -(1/4) ln(1 - eps^2)")
    )


def first_moment_size(p) -> sp.Expr:
    """``n* = (1 + sqrt(1 + 8/p))/2``: the positive root of ``n (n - 1)/2 p = 1`` (expected violations 1);
    :func:`coherence_exponent` verifies that it is."""
    return (1 + sp.sqrt(1 + 8 / p)) / 2


def log_first_moment_size(dim: int, epsilon) -> sp.Float:
    """``log n*(d)`` at one dimension, exact: :func:`first_moment_size` at the exact ``p_d`` (30 digits)."""
    pd = violation_probability().subs({d: dim, eps: sp.nsimplify(epsilon)})
    return sp.N(sp.log(first_moment_size(pd)), 30)


def coherence_extrapolation_error(dims, epsilon) -> float:
    """Richardson estimate of the truncation error of the extrapolated growth rate over ``dims``.

    The numeric side fits ``log n*(d) = a + c d + g ln d + b/d`` (the large-``d`` expansion of the
    exact ``p_d``: ``log p_d = (d/2) ln(1 - eps^2) - (1/2) ln d + const + O(1/d)``) and reports ``c``.
    Here the same fit and the next-order fit (an extra ``b_2/d^2``) run on the exact finite-size
    values :func:`log_first_moment_size`; the difference of their ``c`` estimates the truncation
    error of the first. Where the two fits agree by accident (the error changes sign between
    orders) that difference understates the error, so it is floored at ``5e-4 |c_fit|`` (the
    fit's own value, a finite-size number). The limit ``c`` itself is never used. Needs at least
    5 dimensions.
    """
    dims = [int(x) for x in dims]
    if len(dims) < 5:
        raise ValueError(f"the next-order fit needs at least 5 dimensions, got dims={dims!r}")
    y = sp.Matrix([log_first_moment_size(x, epsilon) for x in dims])

    def slope(extra: bool):
        rows = [[1, x, sp.log(x), sp.Rational(1, x)] + ([sp.Rational(1, x**2)] if extra else []) for x in dims]
        X = sp.Matrix(rows).evalf(30)
        return ((X.T * X).inv() * X.T * y)[1]

    first = slope(False)
    return float(max(abs(first - slope(True)), RICHARDSON_FLOOR * abs(first)))


# --- negative eigenvalues: generalized Householder products --------------------------------------

def _transposition_is_householder() -> sp.Expr:
    """``(I - 2 k k^T)_{rc} - (P_{(i j)})_{rc}`` for ``k = (e_i - e_j)/sqrt 2``, any size, symbolic indices.

    Entries through Kronecker deltas: ``(I - 2kk^T)_{rc} = delta_rc - (delta_ri - delta_rj)(delta_ci - delta_cj)``;
    the transposition matrix (rows ``i`` and ``j`` of ``I`` exchanged, ``i != j``) has
    ``delta_rc - delta_ri delta_ci - delta_rj delta_cj + delta_ri delta_cj + delta_rj delta_ci``.
    """
    r, c, i, j = sp.symbols("r c i j", integer=True)
    D = sp.KroneckerDelta
    householder = D(r, c) - 2 * ((D(r, i) - D(r, j)) / sp.sqrt(2)) * ((D(c, i) - D(c, j)) / sp.sqrt(2))
    transposition = D(r, c) - D(r, i) * D(c, i) - D(r, j) * D(c, j) + D(r, i) * D(c, j) + D(r, j) * D(c, i)
    return sp.expand(householder - transposition)


def _decomposition_failures(max_cycle: int = 8, exhaustive: int = 5) -> int:
    """Counterexamples to "every permutation is a product of at most ``n - 1`` transpositions" (0 when none).

    A ``k``-cycle ``(c_1 ... c_k)`` is the product of the ``k - 1`` transpositions ``(c_1 c_j)``: checked
    for every ``k <= max_cycle`` (so for every permutation of at most ``max_cycle`` points, a product of
    disjoint cycles, with ``n - #cycles <= n - 1`` transpositions); and exhaustively over ``S_n`` for
    ``n <= exhaustive`` with sympy's own decomposition.
    """
    from sympy.combinatorics import Permutation

    failures = 0
    for k in range(2, max_cycle + 1):
        product = Permutation(list(range(k)))
        for j in range(1, k):
            product = product * Permutation([[0, j]], size=k)
        failures += product != Permutation([list(range(k))], size=k)
    for size in range(2, exhaustive + 1):
        for image in permutations(range(size)):
            sigma = Permutation(list(image))
            swaps = sigma.transpositions()
            product = Permutation(list(range(size)))
            for a, b in reversed(swaps):
                product = product * Permutation([[a, b]], size=size)
            failures += (product != sigma) + (len(swaps) > size - 1)
    return failures


@cache
def householder_swap() -> Derivation:
    """``I - 2 k k^T`` with ``k = (e_i - e_j)/sqrt 2`` is the transposition matrix of ``(i j)`` at every
    size, and every permutation of ``n <= 8`` points is a product of at most ``n - 1`` transpositions."""
    return (
        Derivation("a swap is a generalized Householder reflection (beta = 2)", _transposition_is_householder(),
                   lhs=sp.Symbol(r"(I - 2kk^\top - P_{(ij)})_{rc}"))
        .step(sp.Integer(0), "entrywise in Kronecker deltas, any size and any pair i != j")
        .step(sp.Integer(0), "cycle decomposition: a k-cycle is k - 1 transpositions (checked for k <= 8) and "
                             "exhaustively over S_2..S_5, so S_n words are products of Householder factors",
              check=sp.Integer(_decomposition_failures()))
    )


@cache
def householder_eigenvalues() -> Derivation:
    """The characteristic polynomial of ``I - beta k k^T`` (unit ``k`` in R^3) is ``(l - 1)^2 (l - 1 + beta)``.

    So the eigenvalues are 1 (twice) and ``1 - beta``: in ``[0, 1]`` for ``beta in [0, 1]``, down to
    ``-1`` at ``beta = 2``. ``k = (a, b, c)`` with ``c^2 = 1 - a^2 - b^2`` (unit norm).
    """
    a, b, c = sp.symbols("a b c", real=True)
    lam = sp.Symbol("lambda")
    k = sp.Matrix([a, b, c])
    H = sp.eye(3) - beta * k * k.T
    unit = sp.solve(a**2 + b**2 + c**2 - 1, c**2, dict=True)[0][c**2]
    return (
        Derivation("spectrum of a generalized Householder matrix", sp.expand((lam * sp.eye(3) - H).det()),
                   lhs=sp.Symbol(r"\det(\lambda I - (I - \beta k k^\top))"))
        .substitute(c**2, 1 - a**2 - b**2, "k^T k = 1", proof=unit)
        .step((lam - 1) ** 2 * (lam - 1 + beta), "collect")
    )


@cache
def repetition_monotone() -> Derivation:
    """One DeltaNet layer fed the same token: every read-out coordinate is monotone in ``t`` if beta <= 1.

    ``S_t = S_{t-1}(I - beta k k^T) + beta v k^T`` with unit ``k``. Put ``s_t = S_t k`` and
    ``r = 1 - beta``: ``s_t - v = r (s_{t-1} - v)``, so ``s_t - v = r^t (s_0 - v)``, and
    ``o_{t+1} - o_t = S_{t+1} q - S_t q = -beta (k^T q) r^t (s_0 - v)``. For ``beta in [0, 1]``,
    ``r^t >= 0``: each coordinate of the difference keeps one sign for all ``t``, so a thresholded
    linear read-out changes its decision at most once and cannot give the parity of ``1^t``
    (which alternates); for ``beta in (0, 1]`` the state converges, so in finite precision every
    read-out is eventually constant. With ``beta = 2`` (``r = -1``) the difference alternates.
    Proved here for one layer whose ``(k, v, beta)`` depend on the current token (on ``1^t`` they
    are constant); the general statement for products over tokens and layers in finite precision
    is cited (Grazzi et al. 2024, Theorem 1).
    """
    r = sp.Symbol("r", nonnegative=True)
    t = sp.Symbol("t", integer=True, nonnegative=True)
    s0, v, qk = sp.symbols("s_0 v q_k", real=True)  # one coordinate of s_0 and v; q_k = k^T q
    s_prev = v + r**t * (s0 - v)
    s_next = s_prev - (1 - r) * (s_prev - v)  # s_{t+1} = s_t - beta (s_t - v) (k^T k), k^T k = 1
    diff = -(1 - r) * qk * (s_prev - v)  # o_{t+1} - o_t for one coordinate
    return (
        Derivation("repeated DeltaNet token: monotone read-out for beta in [0, 1]", s_next - (v + r ** (t + 1) * (s0 - v)),
                   lhs=sp.Symbol(r"s_{t+1} - v - r^{t+1}(s_0 - v)"))
        .step(sp.Integer(0), "induction step of s_t - v = r^t (s_0 - v)",
              check=diff - (-(1 - r) * qk * r**t * (s0 - v)))
        .step(sp.Integer(0), "r^t >= 0 for r = 1 - beta in [0, 1]: the sign of o_{t+1} - o_t does not depend on t",
              check=sp.Integer(0) if (r**t).is_nonnegative else sp.Integer(1))
    )


# --- reachability --------------------------------------------------------------------------------

@cache
def reachability_inverse(size: int = 4) -> Derivation:
    """For strictly lower-triangular ``A`` (a DAG), ``(I - A) sum_{k<n} A^k = I``: the inverse counts paths.

    ``(A^k)_{ij}`` counts the walks of length ``k`` from ``j`` to ``i`` (walks are paths in a DAG),
    and the u-recursion ``u_t = e_t + sum_{i<t} A_{ti} u_i`` is ``(I - A) U = I``.
    """
    A = sp.Matrix(size, size, lambda i, j: sp.Symbol(f"a_{i}{j}") if i > j else 0)
    series = sum((A**k for k in range(size)), sp.zeros(size, size))
    return (
        Derivation("(I - A)^{-1} = sum_k A^k for a DAG", (sp.eye(size) - A) * series - sp.eye(size),
                   lhs=sp.Symbol(r"(I - A)\sum_{k<n} A^k - I"))
        .step(-A**size, "telescoping sum")
        .step(sp.zeros(size, size), "A strictly lower-triangular is nilpotent: A^n = 0")
    )


def cited_fact(statement: str, source: str) -> Derivation:
    """A literature fact as a derivation: the statement, then a cited step to ``True``."""
    text = sp.Symbol(r"\text{" + latex_text(statement) + "}")  # the statement as LaTeX text, escaped
    return Derivation(statement, text).cite(sp.true, source)


# --- Theorem 1 with the exponential kernel: four multi-query heads --------------------------------

s_head = sp.Symbol("s", positive=True)  # query scale of the first pair of heads (inverse temperature)
r_head = sp.Symbol("r", positive=True)  # query scale of the second pair
delta = sp.Symbol("delta", positive=True)  # radius of Assumption 2's intervals around the lattice (4 eps)
LATTICE = tuple(range(-2, 3))  # the values of token-key inner products for orthonormal keys (Lemma 1)


def four_head_weights() -> tuple[sp.Expr, sp.Expr]:
    """``(a, b)`` with ``a sinh(s m) + b sinh(r m) = m`` at ``m = 1, 2`` (Cramer's rule).

    >>> a, b = four_head_weights()
    >>> sp.simplify(a * sp.sinh(2 * s_head) + b * sp.sinh(2 * r_head))
    2
    """
    det = sp.sinh(s_head) * sp.sinh(2 * r_head) - sp.sinh(r_head) * sp.sinh(2 * s_head)
    a = (sp.sinh(2 * r_head) - 2 * sp.sinh(r_head)) / det
    b = (2 * sp.sinh(s_head) - sp.sinh(2 * s_head)) / det
    return a, b


def four_head_kernel(x) -> sp.Expr:
    """The four-head kernel ``g(x) = a sinh(s x) + b sinh(r x)``: heads at query scales ``s, -s, r, -r``
    with output weights ``a/2, -a/2, b/2, -b/2`` on the shared keys and values."""
    a, b = four_head_weights()
    return a * sp.sinh(s_head * x) + b * sp.sinh(r_head * x)


def _heads_sum(x, a, b) -> sp.Expr:
    """``sum_h c_h exp(s_h x)`` over the four heads, written as attention heads combine."""
    return (a / 2 * sp.exp(s_head * x) - a / 2 * sp.exp(-s_head * x)
            + b / 2 * sp.exp(r_head * x) - b / 2 * sp.exp(-r_head * x))


def _three_head_obstruction() -> tuple[sp.Expr, ...]:
    """Side conditions of the three-head impossibility (each simplifies to 0).

    If ``sum_{h<=3} c_h z_h^m = m`` at the five lattice points, with ``z_h = e^{s_h}`` distinct, the
    sequence ``m`` satisfies the order-3 recurrence of ``q(z) = prod_h (z - z_h)``:
    ``sum_j q_j (m + j) = m q(1) + q'(1)`` (first condition) must vanish at ``m = -2`` and ``m = -1``, so
    ``q(1) = q'(1) = 0``. ``q(1) = 0`` puts a root at 1 (say ``z_3 = 1``), and then
    ``q'(1) = (1 - z_1)(1 - z_2)`` (second condition) puts a second root at 1: the scales are not
    distinct, and equal scales merge into fewer heads.
    """
    z = sp.Symbol("z")
    m = sp.Symbol("m")
    z1, z2, z3 = sp.symbols("z_1 z_2 z_3", positive=True)
    q = sp.Poly(sp.expand((z - z1) * (z - z2) * (z - z3)), z)
    coeffs = q.all_coeffs()[::-1]  # q_0 .. q_3
    recurrence = sum(c * (m + j) for j, c in enumerate(coeffs))
    q1 = q.as_expr().subs(z, 1)
    dq1 = sp.diff(q.as_expr(), z).subs(z, 1)
    return (recurrence - (m * q1 + dq1),
            dq1.subs(z3, 1) - (1 - z1) * (1 - z2))


@cache
def four_exp_heads() -> Derivation:
    """Four exponential heads sharing keys and values reproduce the rounding kernel on Theorem 1's lattice.

    Head ``h`` scores ``exp(s_h q^T k_i)`` (its own query projection ``s_h q``; keys and values shared,
    as in multi-query attention), and the output projection adds the heads with weights ``c_h``, so
    the kernel is ``g(x) = sum_h c_h exp(s_h x)``. With scales ``(s, -s, r, -r)`` and weights
    ``(a, -a, b, -b)/2``, ``g = a sinh(s x) + b sinh(r x)`` is odd, and Cramer's rule for ``g(1) = 1``,
    ``g(2) = 2`` makes ``g(m) = m = round(m)`` at every ``m`` in ``{-2..2}``: the values the token-key
    inner products take for orthonormal keys (Lemma 1), so the swap construction runs unchanged.
    Three heads cannot: the obstruction of :func:`_three_head_obstruction`.
    """
    a, b = four_head_weights()
    A, B = sp.symbols("a b")
    start = sp.Matrix([_heads_sum(m, A, B) - m for m in LATTICE])
    return (
        Derivation("four exponential heads equal round on the lattice {-2..2}", start,
                   lhs=sp.Symbol(r"\big(g(m) - \mathrm{round}(m)\big)_{m=-2}^{2}"))
        .step(sp.Matrix([A * sp.sinh(s_head * m) + B * sp.sinh(r_head * m) - m for m in LATTICE]),
              "paired heads at scales s, -s (and r, -r) with weights a/2, -a/2 add to a sinh(s x)")
        .substitute(A, a, "Cramer's rule for a sinh(s) + b sinh(r) = 1, a sinh(2s) + b sinh(2r) = 2 "
                    "(determinant 2 sinh(s) sinh(r)(cosh(r) - cosh(s)) != 0 for s != r)",
                    proof=sp.solve([A * sp.sinh(s_head) + B * sp.sinh(r_head) - 1,
                                    A * sp.sinh(2 * s_head) + B * sp.sinh(2 * r_head) - 2], [A, B])[A])
        .substitute(B, b, "the same solve for b",
                    proof=sp.solve([A * sp.sinh(s_head) + B * sp.sinh(r_head) - 1,
                                    A * sp.sinh(2 * s_head) + B * sp.sinh(2 * r_head) - 2], [A, B])[B])
        .step(sp.zeros(len(LATTICE), 1),
              "g is odd (g(0) = 0, g(-m) = -g(m)) and interpolates m = 1, 2; three heads cannot: "
              "sum_{h<=3} c_h e^{s_h m} = m on five points forces q(1) = q'(1) = 0 for q(z) = prod (z - e^{s_h}), "
              "a double root, so two scales coincide",
              check=sp.Matrix(_three_head_obstruction()))
    )


def four_head_error_terms(radius=delta) -> tuple[sp.Expr, ...]:
    """The endpoint errors ``|g(m +- radius) - m|`` for ``m = 0, 1, 2`` (odd ``g``: ``m < 0`` mirrors), signed
    so that each is positive where ``g`` is increasing."""
    g = four_head_kernel
    return (g(radius), g(1 + radius) - 1, 1 - g(1 - radius), g(2 + radius) - 2, 2 - g(2 - radius))


@cache
def four_exp_heads_accuracy() -> Derivation:
    """``sup_{|x - m| <= delta} |g(x) - round(x)|`` over Assumption 2's intervals, for the four-head kernel.

    ``g`` is odd, so the intervals around ``m = -1, -2`` mirror those around ``1, 2``; where ``g`` is
    increasing on ``[-2 - delta, 2 + delta]`` (assumed: true at the claim's grid points, and the numeric
    side searches the intervals without it) the supremum on each interval is at an endpoint.
    Near the lattice ``g(m + eta) - m = g'(m) eta + O(eta^2)`` with ``g'(m)`` near 1: four heads satisfy
    Assumption 2 exactly only at ``delta = 0``; at ``delta > 0`` their error is of the linear kernel's order.
    """
    sup = sp.Symbol(r"\sup_{|x - m| \le \delta}|g(x) - \mathrm{round}(x)|")
    return (
        Derivation("four-head kernel: error on Assumption 2's intervals", sup, lhs=sup)
        .assume(sp.Max(*four_head_error_terms()),
                "g odd and increasing on [-2 - delta, 2 + delta]: the supremum on each interval "
                "[m - delta, m + delta] is at an endpoint (m = 0, 1, 2; m < 0 by symmetry)")
    )


# --- space: the KU cache with periodic rewrite ---------------------------------------------------

period = sp.Symbol("R", positive=True, integer=True)  # swaps between rewrites


def rewrite_cache_numbers(c=sp.Symbol("c", positive=True)) -> sp.Expr:
    """Numbers held by the KU cache with rewrite period ``R = n`` and keys and values coded in
    ``d = c log n`` dimensions: at most ``n + R`` entries of ``2 d`` numbers, ``4 c n log n``.

    >>> rewrite_cache_numbers(2).subs(n, 8)
    64*log(8)
    """
    return (n + n) * 2 * c * sp.log(n)


@cache
def periodic_rewrite() -> Derivation:
    """Theorem 1 with the companion's periodic rewrite (notes §5.5, space cost): every ``R`` swaps the ``n``
    current values are read out and written back as a fresh cache of ``n`` pairs.

    A rewrite stores ``o(k_j)``, which Theorem 1 makes exactly the value now at ``j``; the rewritten cache
    is therefore the start of a fresh run of Theorem 1 with those values, and induction over the rewrites
    gives exact tracking with a cache of at most ``n + R`` entries: ``O(n log n)`` numbers at ``R = n``,
    ``d = O(log n)`` (the side condition: ``4 c n log n / (n log n) -> 4 c``), against ``O(T log n)``
    without the rewrite.
    """
    c = sp.Symbol("c", positive=True)
    space = sp.limit(rewrite_cache_numbers(c) / (n * sp.log(n)), n, sp.oo) - 4 * c
    return _swap_chain(
        "Theorem 1 with a periodic rewrite: the tracker stays exact", r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
        "Lemma 1 (enumerated) and the delta-rule form, within each period (a rewrite restarts Theorem 1 "
        "from the read-out values, exact by the same theorem); " + _LINEAR_FORM,
        conditions=_rounding_conditions() + (space,))
