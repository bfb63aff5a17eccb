"""Memory update rules as optimiser steps, their matrix forms, fixed points and the fast triangular inverse.

Every derivation is checked by sympy on matrices with symbolic entries. The unified view (notes §5.1):
a rule ``S <- S - eta grad_S L(S; k, v)`` is one step of gradient descent on a per-token loss,

* linear attention: ``L = -v^T S k`` (rate 1) gives ``S + v k^T``;
* decay / forget gate: ``L = -v^T S k + (1 - gamma)/2 ||S||_F^2`` (rate 1) gives ``gamma S + v k^T``;
* DeltaNet: ``L = 1/2 ||S k - v||^2`` (rate beta) gives ``S (I - beta k k^T) + beta v k^T``;
* gated DeltaNet: ``L = 1/2 ||S k - v/alpha||^2 + (1 - alpha)/(2 alpha beta) ||S||_F^2`` (rate
  ``alpha beta``) gives ``alpha S (I - beta k k^T) + beta v k^T``.

>>> [s.status for s in optimizer_step("deltanet", 2).verify()]
['verified']
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from theory.derivation import Derivation

__all__ = [
    "RULES",
    "additive_growth",
    "contraction_factor",
    "contraction_interval",
    "contraction_value",
    "delta_fixed_point",
    "decay_stationary_energy",
    "deltaformer_reductions",
    "fast_inverse_identity",
    "first_stage_amplification",
    "first_stage_amplification_value",
    "householder_spectrum",
    "least_squares_step_condition",
    "optimizer_step",
    "parallel_form",
    "rule_loss",
    "wy_representation",
]

RULES = ("linear_attention", "decay", "deltanet", "gated_deltanet")

beta_s = sp.Symbol("beta", positive=True)
alpha_s = sp.Symbol("alpha", positive=True)
gamma_s = sp.Symbol("gamma", positive=True)
x_s = sp.Symbol("x", nonnegative=True)  # beta ||k||^2
E_s = sp.Symbol("E", positive=True, integer=True)  # epochs
t_s = sp.Symbol("t", positive=True, integer=True)
d_k_s = sp.Symbol("d_k", positive=True, integer=True)
d_v_s = sp.Symbol("d_v", positive=True, integer=True)


def _vec(name: str, n: int) -> sp.Matrix:
    return sp.Matrix(n, 1, lambda a, _b: sp.Symbol(f"{name}_{a}", real=True))


def _mat(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda a, b: sp.Symbol(f"{name}_{a}{b}", real=True))


def rule_loss(rule: str, S: sp.Matrix, k: sp.Matrix, v: sp.Matrix):
    """``(loss, rate, update)`` of a rule at memory ``S`` for the pair ``(k, v)`` (see the module docstring)."""
    I = sp.eye(k.shape[0])
    frob = sum(e**2 for e in S)
    if rule == "linear_attention":
        return -(v.T * S * k)[0, 0], sp.Integer(1), S + v * k.T
    if rule == "decay":
        return -(v.T * S * k)[0, 0] + (1 - gamma_s) / 2 * frob, sp.Integer(1), gamma_s * S + v * k.T
    if rule == "deltanet":
        r = S * k - v
        return (r.T * r)[0, 0] / 2, beta_s, S * (I - beta_s * k * k.T) + beta_s * v * k.T
    if rule == "gated_deltanet":
        r = S * k - v / alpha_s
        loss = (r.T * r)[0, 0] / 2 + (1 - alpha_s) / (2 * alpha_s * beta_s) * frob
        return loss, alpha_s * beta_s, alpha_s * S * (I - beta_s * k * k.T) + beta_s * v * k.T
    raise ValueError(f"unknown rule {rule!r}; expected one of {RULES!r}")


@cache
def optimizer_step(rule: str, d: int = 2, dv: int | None = None) -> Derivation:
    """The rule's update minus one gradient step ``S - eta grad_S L`` is the zero matrix (``d x d`` symbolic S)."""
    dv = d if dv is None else dv
    S, k, v = _mat("S", dv, d), _vec("k", d), _vec("v", dv)
    loss, rate, update = rule_loss(rule, S, k, v)
    grad = sp.Matrix(dv, d, lambda a, b: sp.diff(loss, S[a, b]))
    return (
        Derivation(f"{rule}: one gradient step on its loss", update - (S - rate * grad),
                   lhs=sp.Symbol(r"S_t - (S_{t-1} - \eta \nabla_S \mathcal{L})"))
        .step(sp.zeros(dv, d), "differentiate the loss entrywise and collect")
    )


def _causal_parts(T: int, gates):
    """Decay mask ``Gamma`` (``T x T``, ones on the diagonal) for gate symbols ``gates``."""
    G = sp.zeros(T, T)
    for i in range(T):
        for j in range(i + 1):
            G[i, j] = sp.Mul(*[gates[s] for s in range(j + 1, i + 1)])
    return G


@cache
def parallel_form(rule: str, T: int = 3, d: int = 2) -> Derivation:
    """Token loop ≡ matrix form on symbolic inputs (``T`` tokens, ``d_k = d``, ``d_v = 1``).

    Matrix form: ``(I + diag(beta)(K K^T ⊙ Gamma^-)) U = diag(beta) V``, ``O = (Q K^T ⊙ Gamma) U``
    (``U = V`` for the additive rules; ``Gamma = M`` without a gate).
    """
    K, Q, V = _mat("k", T, d), _mat("q", T, d), _mat("v", T, 1)
    betas = [sp.Symbol(f"beta_{t}", positive=True) for t in range(T)]
    gates = [sp.Symbol(f"alpha_{t}", positive=True) for t in range(T)]
    delta = rule in ("deltanet", "gated_deltanet")
    gated = rule in ("decay", "gated_deltanet")
    if not gated:
        gates = [sp.Integer(1)] * T
    if not delta:
        betas = [sp.Integer(1)] * T
    S = sp.zeros(1, d)
    loop = sp.zeros(T, 1)
    for t in range(T):
        k, v = K[t, :].T, V[t, :].T
        if delta:
            S = gates[t] * S * (sp.eye(d) - betas[t] * k * k.T) + betas[t] * v * k.T
        else:
            S = gates[t] * S + v * k.T
        loop[t, 0] = (S * Q[t, :].T)[0, 0]
    G = _causal_parts(T, gates)
    B = sp.diag(*betas)
    if delta:
        U = (sp.eye(T) + B * (K * K.T).multiply_elementwise(G - sp.eye(T))).inv() * B * V
    else:
        U = V
    matrix = (Q * K.T).multiply_elementwise(G) * U
    return (
        Derivation(f"{rule}: token loop equals the matrix form", loop - matrix,
                   lhs=sp.Symbol(r"O_{\mathrm{loop}} - O_{\mathrm{matrix}}"))
        .step(sp.zeros(T, 1), "unit lower-triangular inverse is a polynomial; expand")
    )


@cache
def wy_representation(n: int = 3, d: int = 2) -> Derivation:
    """``prod_i (I - beta_i k_i k_i^T) = I - sum_i w_i k_i^T`` with ``w_t = beta_t (k_t - sum_{i<t} (k_i^T k_t) w_i)``."""
    keys = [_vec(f"k{i}", d) for i in range(n)]
    betas = [sp.Symbol(f"beta_{i}", positive=True) for i in range(n)]
    product = sp.eye(d)
    for k, b in zip(keys, betas):
        product = product * (sp.eye(d) - b * k * k.T)
    ws = []
    for t, (k, b) in enumerate(zip(keys, betas)):
        ws.append(b * (k - sum(((keys[i].T * k)[0, 0] * ws[i] for i in range(t)), sp.zeros(d, 1))))
    wy = sp.eye(d) - sum((w * k.T for w, k in zip(ws, keys)), sp.zeros(d, d))
    return (
        Derivation("WY/UT representation of a product of generalized Householder factors",
                   product - wy, lhs=sp.Symbol(r"\prod_i (I - \beta_i k_i k_i^\top) - (I - W^\top K)"))
        .step(sp.zeros(d, d), "w_t from forward substitution; expand")
    )


@cache
def householder_spectrum(d: int = 3) -> Derivation:
    """``det(lambda I - (I - beta k k^T)) = (lambda - 1)^{d-1} (lambda - 1 + beta ||k||^2)`` (symbolic k)."""
    k = _vec("k", d)
    lam = sp.Symbol("lambda")
    P = sp.eye(d) - beta_s * k * k.T
    norm2 = (k.T * k)[0, 0]
    return (
        Derivation("spectrum of I - beta k k^T", sp.expand((lam * sp.eye(d) - P).det()),
                   lhs=sp.Symbol(r"\det(\lambda I - (I - \beta k k^\top))"))
        .step((lam - 1) ** (d - 1) * (lam - 1 + beta_s * norm2), "matrix determinant lemma")
    )


@cache
def contraction_factor(d: int = 3) -> Derivation:
    """Along ``k`` the squared factor is ``(1 - x)^2``, ``x = beta ||k||^2``: ``||(I - beta k k^T) k||^2 / ||k||^2``
    with ``beta = x / ||k||^2`` (symbolic ``k`` in ``R^d``). The side condition checks that ``x = 2`` is a
    reflection: ``(I - 2 k k^T / ||k||^2)^2 = I``. :func:`contraction_value` takes the square root.
    """
    k = _vec("k", d)
    norm2 = (k.T * k)[0, 0]
    moved = (sp.eye(d) - (x_s / norm2) * k * k.T) * k
    H = sp.eye(d) - 2 * k * k.T / norm2
    return (
        Derivation("contraction of I - beta k k^T along k", (moved.T * moved)[0, 0] / norm2,
                   lhs=sp.Symbol(r"\|(I - \beta k k^\top) k\|^2 / \|k\|^2"))
        .step((1 - x_s) ** 2, "(I - beta k k^T) k = (1 - beta ||k||^2) k; x = 2 is a reflection",
              check=sp.Matrix([sum((H * H - sp.eye(d)).applyfunc(sp.simplify))]))
    )


def contraction_value() -> sp.Expr:
    """``|1 - x|``: the square root of :func:`contraction_factor`'s result (``x`` real)."""
    return sp.sqrt(contraction_factor().result)


def contraction_interval() -> sp.Set:
    """The set of ``x = beta ||k||^2`` where the rule contracts along ``k``: ``|1 - x| < 1`` iff ``0 < x < 2``."""
    x = sp.Symbol("x", real=True)
    return sp.solve_univariate_inequality(sp.Abs(1 - x) < 1, x, relational=False)


@cache
def delta_fixed_point(d: int = 2) -> Derivation:
    """A memory that interpolates (``S k = v``) is left unchanged by the delta step: ``S + beta (v - S k) k^T = S``.

    So every interpolating memory is a fixed point; started at 0 the iterates stay in the row space
    of the keys, and the limit is the minimum-norm interpolant ``V^T (K K^T)^{-1} K`` (N <= d).
    """
    S, k = _mat("S", d, d), _vec("k", d)
    v = S * k  # interpolation condition
    return (
        Derivation("interpolating memories are fixed points of the delta rule",
                   S + beta_s * (v - S * k) * k.T - S, lhs=sp.Symbol(r"\Delta S \mid S k = v"))
        .step(sp.zeros(d, d), "the error v - S k vanishes")
    )


@cache
def least_squares_step_condition() -> Derivation:
    """Batch delta rule ``S <- S + beta (G - S H)``: the error contracts iff ``|1 - beta lambda| < 1`` for all
    eigenvalues ``lambda`` of ``H = K^T K``, i.e. ``0 < beta < 2 / lambda_max``; the fixed point is
    ``S* = G H^{-1}`` (least squares). Checked: ``S*`` is stationary (2x2 symbolic H, G)."""
    H = sp.Matrix([[sp.Symbol("h_0", positive=True), sp.Symbol("h_1", real=True)],
                   [sp.Symbol("h_1", real=True), sp.Symbol("h_2", positive=True)]])
    G = _mat("g", 2, 2)
    S_star = G * H.inv()
    return (
        Derivation("least-squares memory is the fixed point of the batch delta rule",
                   (beta_s * (G - S_star * H)).applyfunc(sp.simplify), lhs=sp.Symbol(r"\beta (G - S^\star H)"))
        .step(sp.zeros(2, 2), "S* H = G")
    )


@cache
def additive_growth() -> Derivation:
    """Presenting a fixed set of pairs E times, the additive memory is ``S_E = E G`` with ``G = V^T K``:
    no fixed point (``S = S + G`` needs ``G = 0``) and ``||S_E||_F / ||G||_F = E`` (linear growth)."""
    g = sp.Symbol("G", positive=True)  # ||G||_F
    epoch_sum = sp.Sum(g, (sp.Symbol("e", integer=True, positive=True), 1, E_s)).doit()
    return (
        Derivation("additive memory under repetition", epoch_sum / g, lhs=sp.Symbol(r"\|S_E\|_F / \|G\|_F"))
        .step(E_s, "each epoch adds the same G")
    )


@cache
def decay_stationary_energy() -> Derivation:
    """Decayed memory with i.i.d. Gaussian pairs: ``S_t = sum_{j<=t} gamma^{t-j} v_j k_j^T`` and
    ``E||S_t||_F^2 = d_k d_v (1 - gamma^{2t}) / (1 - gamma^2)`` (cross terms vanish, ``E||v||^2||k||^2 = d_v d_k``),
    which tends to ``d_k d_v / (1 - gamma^2)``: bounded, converging in distribution."""
    j = sp.Symbol("j", integer=True, positive=True)
    geometric = sp.Symbol(r"\sum_{j\le t}\gamma^{2(t-j)}", positive=True)
    # sympy sums the series piecewise; the claim's domain 0 < gamma < 1 is the branch gamma^2 != 1
    summed = sp.Sum(gamma_s ** (2 * (t_s - j)), (j, 1, t_s)).doit()
    summed = summed.replace(sp.Piecewise, lambda *branches: branches[-1][0])
    return (
        Derivation("stationary energy of the decayed memory", d_k_s * d_v_s * geometric,
                   lhs=sp.Symbol(r"\mathbb{E}\|S_t\|_F^2"))
        .substitute(geometric, (1 - gamma_s ** (2 * t_s)) / (1 - gamma_s**2),
                    "geometric sum (0 < gamma < 1)", proof=summed)
    )


@cache
def deltaformer_reductions(T: int = 3, d: int = 2) -> Derivation:
    """DeltaFormer's two reductions on symbolic inputs: ``beta = 0`` gives ``u = alpha v`` (so normalized
    exponential ``kappa_2`` is softmax attention), and ``kappa_1 = kappa_2 = x^T y``, ``w = k``,
    ``alpha = beta`` gives DeltaNet's ``u`` (the chain's residual stacks both)."""
    K, V = _mat("k", T, d), _mat("v", T, 1)
    betas = [sp.Symbol(f"beta_{t}", positive=True) for t in range(T)]
    alphas = [sp.Symbol(f"alpha_{t}", positive=True) for t in range(T)]
    # DeltaFormer first stage with beta = 0
    u0 = [alphas[t] * V[t, 0] for t in range(T)]
    zero_beta = [alphas[t] * V[t, 0] - 0 * sum(((K[t, :] * K[i, :].T)[0, 0] * u0[i] for i in range(t)), 0)
                 - u0[t] for t in range(T)]
    # DeltaFormer with linear kernels and alpha = beta, against DeltaNet's u_t = beta_t (v_t - S_{t-1} k_t)
    u_df = []
    for t in range(T):
        u_df.append(betas[t] * V[t, 0] - betas[t] * sum(((K[t, :] * K[i, :].T)[0, 0] * u_df[i] for i in range(t)), 0))
    S = sp.zeros(1, d)
    u_dn = []
    for t in range(T):
        k = K[t, :].T
        u_dn.append(betas[t] * (V[t, 0] - (S * k)[0, 0]))
        S = S * (sp.eye(d) - betas[t] * k * k.T) + betas[t] * V[t, 0] * k.T
    residual = sp.Matrix(zero_beta + [sp.expand(a - b) for a, b in zip(u_df, u_dn)])
    return (
        Derivation("DeltaFormer reductions (beta = 0; linear kernels)", residual,
                   lhs=sp.Symbol(r"(u^{\beta=0} - \alpha v,\ u^{\mathrm{lin}} - u^{\mathrm{DeltaNet}})"))
        .step(sp.zeros(2 * T, 1), "expand")
    )


pattern_s = sp.Symbol("pattern", integer=True, nonnegative=True)  # 0 uniform, 1 predecessor attention
T_s = sp.Symbol("T", positive=True, integer=True)


@cache
def first_stage_amplification(T_check: int = 7) -> Derivation:
    """How much DeltaFormer's first stage ``U = (I + A)^{-1} V`` can amplify ``V`` (companion App. F).

    With ``A`` strictly lower-triangular, non-negative, rows summing to at most 1 (a normalized
    ``kappa_1``, ``beta <= 1``), row ``t`` of ``X = (I + A)^{-1}`` obeys ``x_t = e_t - sum_{i<t} a_ti x_i``,
    so ``||x_t||_1 <= 1 + max_{i<t} ||x_i||_1 <= t`` by induction: ``||(I + A)^{-1}||_inf <= T``. Attention
    to the predecessor (``A`` the shift) attains it: ``x_t = sum_{i<=t} (-1)^{t-i} e_i``. Uniform causal
    attention (``a_ti = 1/(t-1)``) gives ``||X||_inf = 2`` at every ``T >= 2``: with ``S_t = sum_{i<=t} u_i``,
    ``u_t = v_t - S_{t-1}/(t-1)`` and ``S_t = S_{t-1} (t-2)/(t-1) + v_t`` telescope to
    ``u_t = v_t - sum_{j=2}^{t-1} (j-1) v_j / ((t-1)(t-2))`` for ``t >= 3`` (row sum 3/2, verified below),
    and ``u_2 = v_2 - v_1`` (row sum 2). The second stage ``O = A_2 U`` has ``||A_2||_inf = 1``. The side
    condition computes both inverses exactly at ``T = T_check``.
    """
    t, j = sp.symbols("t j", positive=True, integer=True)
    row_sum = 1 + sp.Sum((j - 1) / ((t - 1) * (t - 2)), (j, 2, t - 1))

    def inf_norm_of_inverse(A: sp.Matrix) -> sp.Expr:
        X = (sp.eye(A.rows) + A).inv()
        return max(sum(abs(x) for x in X.row(r)) for r in range(A.rows))

    uniform = sp.Matrix(T_check, T_check, lambda r, c: sp.Rational(1, r) if c < r else 0)
    shift = sp.Matrix(T_check, T_check, lambda r, c: 1 if c == r - 1 else 0)
    exact = sp.Matrix([inf_norm_of_inverse(uniform) - 2, inf_norm_of_inverse(shift) - T_check])
    return (
        Derivation("row sums of (I + A)^{-1} under uniform causal attention", row_sum,
                   lhs=sp.Symbol(r"\|x_t\|_1^{\mathrm{uniform}}"))
        .step(sp.Rational(3, 2), f"sum_(j=2)^(t-1) (j-1) = (t-1)(t-2)/2 for rows t >= 3; exact inverses at "
                                 f"T = {T_check}: infinity norm 2 (uniform) and {T_check} (predecessor)", check=exact)
    )


def first_stage_amplification_value() -> sp.Expr:
    """``||(I + A)^{-1}||_inf``: 2 for uniform causal attention (``pattern = 0``), ``T`` for attention to the
    predecessor (``pattern = 1``), the largest value any row-substochastic ``A`` reaches."""
    return sp.Piecewise((2, sp.Eq(pattern_s, 0)), (T_s, True))


@cache
def fast_inverse_identity(m: int = 3, matrix_m: int = 2) -> Derivation:
    """``(I + A)^{-1} = (I - A) prod_{j=1}^{m-1} (I + A^{2^j})`` for strictly lower-triangular ``A`` of size ``2^m``.

    Scalar identity: ``(1 - x) prod_{j=1}^{m-1} (1 + x^{2^j}) = sum_{i<2^m} (-x)^i`` (checked for the
    given ``m``), so ``(I + A)`` times the product is ``I - (-A)^{2^m} = I`` because ``A`` is nilpotent
    (``A^{2^m} = 0``). The side condition checks the matrix statement on a symbolic strictly
    lower-triangular matrix of size ``2^matrix_m``.
    """
    x = sp.Symbol("x")
    c = 2**m
    product = (1 - x) * sp.Mul(*[1 + x ** (2**j) for j in range(1, m)])
    n = 2**matrix_m
    A = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"a_{i}{j}") if i > j else 0)
    X = (sp.eye(n) - A)
    for j in range(1, matrix_m):
        X = X * (sp.eye(n) + A ** (2**j))
    matrix_check = ((sp.eye(n) + A) * X - sp.eye(n)).applyfunc(sp.expand)
    return (
        Derivation("fast triangular inverse by repeated squaring", sp.expand(product),
                   lhs=sp.Symbol(r"(1 - x)\prod_{j=1}^{m-1}(1 + x^{2^j})"))
        .step(sum((-x) ** i for i in range(c)), "telescoping (1 - x^2)(1 + x^2)... = 1 - x^{2^m}, and (-x)^{2^j} = x^{2^j}",
              check=sp.Matrix([sum(matrix_check)]))
    )
