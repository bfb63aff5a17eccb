"""Expressivity (paper §4, notes §5.5): state tracking with DeltaFormer and with negative eigenvalues.

Symbolic sides of the section ``expressivity``:

* the swap construction of Theorem 1 (one swap token exchanges two stored values; the rounding
  kernel turns near-orthogonal keys into exactly orthogonal ones);
* the linear kernel's rank floor ``||R - P||_F^2 >= n - d`` (Eckart-Young) when ``n > d``;
* the dimension needed: violation count of random unit keys, its growth rate
  ``-(1/4) ln(1 - eps^2)``, the sufficient dimension ``(4/eps^2) ln n`` and the KU cache size;
* generalized Householder matrices: a swap is ``I - 2 k k^T``; the eigenvalues of ``I - beta k k^T``;
  the monotone closed form of a repeated DeltaNet token (the parity obstruction for beta in [0, 1]);
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

import sympy as sp

from theory.derivation import Derivation, latex_text
from theory.symbols import d

__all__ = [
    "T",
    "beta",
    "cache_size",
    "cited_fact",
    "coherence_exponent",
    "coherence_exponent_finite_size",
    "coherence_rate",
    "eps",
    "householder_eigenvalues",
    "householder_swap",
    "linear_orthonormal",
    "linear_rank_floor",
    "n",
    "reachability_inverse",
    "repetition_monotone",
    "sufficient_dimension",
    "swap_construction",
    "swap_task_labels",
    "violation_count",
    "violation_probability",
]

n = sp.Symbol("n", positive=True, integer=True)
T = sp.Symbol("T", positive=True, integer=True)
eps = sp.Symbol("epsilon", positive=True)
beta = sp.Symbol("beta", nonnegative=True)
COHERENCE_BOUND = sp.Rational(1, 8)


def _swap_residual(n_pos: int = 3):
    """Residual of one swap token on an ideal (orthonormal) memory holding symbolic values.

    Memory ``S = sum_j x_j k_j^T`` with ``k_j = e_j``; the swap of positions 0 and 1 is the token
    with key ``k_1 - k_0`` and value 0, so ``u = 0 - S (k_1 - k_0)`` and ``S' = S + u (k_1 - k_0)^T``.
    Returns the stacked ``S' k_j - x_{pi(j)}`` for ``j = 0..n_pos-1`` (must vanish).
    """
    xs = [sp.Matrix(sp.symbols(f"x_{j}_0:2", real=True)) for j in range(n_pos)]
    keys = [sp.eye(n_pos)[:, j] for j in range(n_pos)]
    S = sum((x * k.T for x, k in zip(xs, keys)), sp.zeros(2, n_pos))
    w = keys[1] - keys[0]
    u = sp.zeros(2, 1) - S * w
    S_new = S + u * w.T
    swapped = [xs[1], xs[0]] + xs[2:]
    return sp.Matrix.vstack(*[S_new * k - x for k, x in zip(keys, swapped)])


_SWAP_STEP = ("u = -S(k_1 - k_0) = x_0 - x_1; S' k_0 = x_1, S' k_1 = x_0, S' k_2 = x_2; "
              "by induction over the swap tokens every read-out is exact")


def _swap_derivation(title: str, lhs: str, premise: str, **step_options) -> Derivation:
    """``premise`` (assumed) reduces the run to the delta rule on ``S = sum_j x_j k_j^T``; sympy then
    checks that one swap token exchanges the two stored values (:func:`_swap_residual`)."""
    return (
        Derivation(title, sp.Symbol("E"), lhs=sp.Symbol(lhs))
        .assume(_swap_residual(), premise)
        .step(sp.zeros(6, 1), _SWAP_STEP, **step_options)
    )


@cache
def swap_construction() -> Derivation:
    """Theorem 1 (reconstructed): after any swaps, ``o(k_j)`` is exactly the value now at ``j``.

    Lemma (rounding): every token key is ``k_a`` or ``k_a - k_b``, so an inner product of two token
    keys is an integer ``m`` in ``{-2..2}`` (its value for orthonormal keys) plus at most four cross
    terms ``k_i^T k_j``, ``i != j``, each below ``eps``; with ``eps < 1/8`` the error is below
    ``4 eps <= 1/2`` and ``round`` returns ``m``. The recursion therefore runs exactly as with
    orthonormal keys, i.e. the delta rule ``S' = S + u w^T``, ``u = v - S w`` on the memory
    ``S = sum_j x_j k_j^T``; one swap token maps it to the swapped memory (checked with symbolic
    values), and induction over the tokens gives the claim. The read-out error is 0.
    """
    return _swap_derivation(
        "Theorem 1: a swap token exchanges two stored values", r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
        "Lemma 1 with f = round and Assumption 1 (eps < 1/8): every kernel value equals its orthonormal-key "
        "integer, so the recursion is the delta rule on S = sum_j x_j k_j^T",
        check=4 * COHERENCE_BOUND - sp.Rational(1, 2))  # the rounding margin closes exactly at 1/8


@cache
def linear_orthonormal() -> Derivation:
    """With f = identity and exactly orthonormal keys the kernel values are the inner products themselves,
    so the recursion is the delta rule on ``S = sum_j x_j k_j^T`` and one swap token exchanges two values."""
    return _swap_derivation(
        "linear kernel, orthonormal keys: a swap token exchanges two stored values",
        r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
        "f = identity and k_i^T k_j = delta_ij (n <= d): the recursion is the delta rule on S = sum_j x_j k_j^T")


@cache
def swap_task_labels() -> Derivation:
    """The task label (element at position 0 after each swap) is Theorem 1's read-out at ``k_0``."""
    return _swap_derivation(
        "swap-task labels are the construction's read-out at k_0",
        r"\#\{t: \mathrm{label}_t \ne \arg\max o_t(k_0)\}",
        "label_t = element at position 0 after swap t, which Theorem 1's construction reads out exactly")


@cache
def linear_rank_floor() -> Derivation:
    """With ``f`` = identity and ``n > d`` keys the read-out matrix misses the permutation by ``n - d``.

    ``R = K S^T``-type read-outs have rank at most ``d``; the tracked permutation matrix ``P`` has
    ``n`` singular values equal to 1, so ``||R - P||_F^2 >= sum_{i > d} sigma_i(P)^2 = n - d``.
    """
    i = sp.Symbol("i", integer=True)
    return (
        Derivation("rank floor of a linear-kernel tracker", sp.Symbol(r"\min_{\mathrm{rank} R \le d}\|R - P\|_F^2"),
                   lhs=sp.Symbol(r"\|R - P\|_F^2"))
        .cite(sp.Sum(1, (i, d + 1, n)), "Eckart-Young-Mirsky theorem (1936): the best rank-d approximation in "
              "Frobenius norm leaves the trailing singular values sigma_{d+1..n}(P)^2, each 1 for a permutation matrix")
        .step(n - d, "sum of n - d ones")
    )


def violation_probability() -> sp.Expr:
    """``P(|k_i^T k_j| >= eps)`` for independent uniform unit vectors in R^d: ``I_{1-eps^2}((d-1)/2, 1/2)``."""
    return sp.betainc_regularized((d - 1) / 2, sp.Rational(1, 2), 0, 1 - eps**2)


@cache
def violation_count() -> Derivation:
    """Expected number of coherence violations among ``n`` i.i.d. uniform unit keys in R^d."""
    x2 = sp.Symbol(r"P((k_i^\top k_j)^2 \ge \epsilon^2)", positive=True)
    return (
        Derivation("expected coherence violations", sp.binomial(n, 2) * x2,
                   lhs=sp.Symbol(r"\mathbb{E}\#\{i<j: |k_i^\top k_j| \ge \epsilon\}"))
        .cite(sp.binomial(n, 2) * violation_probability(),
              "(k_i^T k_j)^2 ~ Beta(1/2, (d-1)/2) for independent uniform unit vectors (law of one coordinate "
              "of a uniform vector; e.g. Cai, Fan & Jiang 2013, JMLR 14), and 1 - I_{e^2}(1/2, b) = I_{1-e^2}(b, 1/2)")
        .step(n * (n - 1) / 2 * violation_probability(), "binomial(n, 2) = n (n - 1)/2",
              # Archimedes at d = 3: k^T k_j is uniform on [-1, 1], so the probability is 1 - eps.
              check=violation_probability().subs(d, 3).rewrite(sp.Integral).doit() - (1 - eps))
    )


def coherence_rate() -> sp.Expr:
    """The growth rate of the largest coherent random set: ``log n*(d) / d -> -(1/4) ln(1 - eps^2)``."""
    return -sp.log(1 - eps**2) / 4


@cache
def coherence_exponent() -> Derivation:
    """``n*(d)``, the largest ``n`` with expected violations ``n(n-1)/2 p_d < 1``, grows like ``e^{c d}``.

    ``n* ~ sqrt(2 / p_d)`` and ``p_d = I_{1-eps^2}((d-1)/2, 1/2) ~ C (1 - eps^2)^{(d-1)/2} / sqrt(d)``
    for fixed ``eps`` (large-parameter asymptotics of the incomplete beta function, DLMF §8.18);
    writing ``L = -ln(1 - eps^2)`` the limit of ``log n* / d`` is ``L / 4``. So ``d = O(log n)``.
    """
    L, C = sp.Symbol("L", positive=True), sp.Symbol("C", positive=True)
    p_asym = C * sp.exp(-L * (d - 1) / 2) / sp.sqrt(d)
    rate = sp.Limit(sp.log(sp.sqrt(2 / p_asym)) / d, d, sp.oo)
    return (
        Derivation("growth rate of the largest coherent random key set", sp.Symbol("c"),
                   lhs=sp.Symbol(r"\lim_{d\to\infty} \log n^*(d) / d"))
        .cite(rate, "first moment: n*(d) ~ sqrt(2/p_d); p_d ~ C (1-eps^2)^{(d-1)/2}/sqrt(d) (DLMF 8.18), "
              "L = -ln(1 - eps^2)")
        .step(L / 4, "evaluate the limit")
        .substitute(L, -sp.log(1 - eps**2), "L = -ln(1 - eps^2)", proof=-sp.log(1 - eps**2))
    )


def coherence_exponent_finite_size(dims, epsilon: float) -> float:
    """Exact OLS slope of ``log n*(d)`` on ``d`` over ``dims`` (the estimand of the numeric side).

    ``n*(d) = (1 + sqrt(1 + 8 / p_d)) / 2`` with the exact ``p_d`` of :func:`violation_probability`.
    """
    logs = []
    for dim in dims:
        pd = violation_probability().subs({d: dim, eps: sp.nsimplify(epsilon)})
        logs.append(sp.log((1 + sp.sqrt(1 + 8 / pd)) / 2))
    xs = [sp.Integer(int(x)) for x in dims]
    mean_x = sum(xs) / len(xs)
    weights = [(x - mean_x) / sum((y - mean_x) ** 2 for y in xs) for x in xs]
    return float(sp.N(sum(w * lg for w, lg in zip(weights, logs)), 20))


@cache
def sufficient_dimension() -> Derivation:
    """``d = (4/eps^2) ln n`` makes the expected number of violations below 1 (so a key set exists).

    Spherical-cap bound ``P(|k_i^T k_j| >= eps) <= 2 exp(-d eps^2 / 2)`` (Ball 1997, Lemma 2.2);
    then ``n(n-1)/2 * 2 exp(-d eps^2/2)`` at ``d = (4/eps^2) ln n`` is ``(n - 1)/n < 1``.
    """
    bound = n * (n - 1) / 2 * 2 * sp.exp(-d * eps**2 / 2)
    return (
        Derivation("sufficient key dimension", sp.Symbol(r"\mathbb{E}\#\mathrm{violations}"),
                   lhs=sp.Symbol(r"\mathbb{E}\#\mathrm{violations}"))
        .cite(bound, "spherical-cap bound P(|x| >= eps) <= 2 exp(-d eps^2/2) (Ball 1997, Lemma 2.2); an upper bound")
        .substitute(d, 4 * sp.log(n) / eps**2, "choose d = (4/eps^2) ln n", proof=4 * sp.log(n) / eps**2)
        .step((n - 1) / n, "exp(-2 ln n) = 1/n^2")
    )


@cache
def cache_size() -> Derivation:
    """KU-cache floats of the construction after ``T`` swaps, against the ``n^2`` state of a linear tracker.

    ``n + T`` cached tokens, each a key and a ``u`` of dimension ``d = ceil(4 ln n / eps^2)`` at
    ``eps = 1/8`` (values coded by the keys): ``2 (n + T) ceil(256 ln n) = O(T log n)``. The linear
    kernel is exact only with orthonormal keys, so ``d_k >= n`` and, with ``d_v = n``, its state has
    ``n^2`` entries. Side checks: ``cache / (T ln n) -> 8/eps^2`` as ``T -> oo`` (real ``d``), and
    the cache at ``T = n`` over ``n^2`` tends to 0.
    """
    d_k, d_v = sp.symbols("d_k d_v", positive=True, integer=True)
    d_real = 4 * sp.log(n) / eps**2
    per_swap = sp.limit((n + T) * 2 * d_real / (T * sp.log(n)), T, sp.oo)
    versus_state = sp.limit((2 * n) * 2 * d_real / n**2, n, sp.oo)
    return (
        Derivation("KU cache of the swap construction", (n + T) * (d_k + d_v),
                   lhs=sp.Symbol(r"\#\mathrm{cache}"))
        .substitute(d_k, sp.ceiling(d_real), "keys: d_k = ceil(4 ln n/eps^2) suffices (sufficient_dimension)",
                    proof=sp.ceiling(sufficient_dimension().steps[1].substitution[1]))
        .substitute(d_v, sp.ceiling(d_real), "values coded by the element keys: d_v = d_k",
                    proof=sp.ceiling(d_real))
        .step(2 * (n + T) * sp.ceiling(d_real), "collect", check=per_swap - 8 / eps**2)
        .substitute(eps, COHERENCE_BOUND, "eps = 1/8 (Assumption 2 with f = round)", proof=COHERENCE_BOUND)
        .step(2 * (n + T) * sp.ceiling(256 * sp.log(n)), "4/eps^2 = 256", check=versus_state)
    )


@cache
def householder_swap(size: int = 5) -> Derivation:
    """``I - 2 k k^T`` with ``k = (e_i - e_j)/sqrt 2`` is the transposition matrix of ``(i j)``, all pairs."""
    residuals = []
    for i in range(size):
        for j in range(i + 1, size):
            k = (sp.eye(size)[:, i] - sp.eye(size)[:, j]) / sp.sqrt(2)
            P = sp.eye(size)
            P.col_swap(i, j)
            residuals.append(sp.eye(size) - 2 * k * k.T - P)
    total = sum((r.applyfunc(sp.Abs) for r in residuals), sp.zeros(size, size))
    return (
        Derivation("a swap is a generalized Householder reflection (beta = 2)", total,
                   lhs=sp.Symbol(r"\sum_{i<j} |I - 2kk^\top - P_{(ij)}|"))
        .step(sp.zeros(size, size), "entrywise for every pair of S_5")
        .cite(sp.zeros(size, size), "every permutation is a product of at most n - 1 transpositions (cycle "
              "decomposition): products of Householder factors with beta in [0, 2] realise S_n")
    )


@cache
def householder_eigenvalues() -> Derivation:
    """The characteristic polynomial of ``I - beta k k^T`` (unit ``k`` in R^3) is ``(l - 1)^2 (l - 1 + beta)``.

    So the eigenvalues are 1 (twice) and ``1 - beta``: in ``[0, 1]`` for ``beta in [0, 1]``, down to
    ``-1`` at ``beta = 2``.
    """
    th, ph, lam = sp.Symbol("theta", real=True), sp.Symbol("phi", real=True), sp.Symbol("lambda")
    k = sp.Matrix([sp.sin(th) * sp.cos(ph), sp.sin(th) * sp.sin(ph), sp.cos(th)])
    H = sp.eye(3) - beta * k * k.T
    return (
        Derivation("spectrum of a generalized Householder matrix", (lam * sp.eye(3) - H).det(),
                   lhs=sp.Symbol(r"\det(\lambda I - (I - \beta k k^\top))"))
        .step((lam - 1) ** 2 * (lam - 1 + beta), "k^T k = 1")
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

