"""Section ``expressivity`` (notes §5.5; the paper's section number is inferred in the notes): state
tracking beyond TC0.

Complexity-class separations are literature facts, recorded as ``cited`` claims (never reported
as verified); the notes know them from the companion paper (notes §5.5, [companion]), hence
provenance ``reconstructed``. Everything constructive is checked exactly: Theorem 1's swap construction
with the rounding kernel, where the linear kernel fails, and DAG reachability (notes §5.5, §6 E.4). The
dimension the construction needs is checked statistically (the exact violation law) and against its
limit (the growth rate). The generalized-Householder claims (negative eigenvalues) are the suite's own:
the notes never mention negative eigenvalues or Householder products.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from numerics import expressivity as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 evaluate, register)
from theory import expressivity as th
from theory.symbols import d

_MODES = ("quick", "default", "full")
_N = Param("n", 2, 64, description="number of tracked elements (positions)")
_T = Param("T", 1, 1000, description="number of swaps")
# Random greedy codes with coherence < 1/8 are found in milliseconds from d = 4 n + 24 on
# (measured up to n = 64); below that the key sampler may not find a set.
_KEYS_EXIST = Constraint("d >= 4 n + 24 (coherent keys found by the random greedy sampler)",
                         lambda p: p["d"] >= 4 * p["n"] + 24)
_ONE_HOT = "values v_e = e_e (one-hot, d_v = n)"
# The notes never mention negative eigenvalues, Householder products or parity of linear RNNs: these claims
# are the suite's, set beside the notes' expressivity discussion and the DeltaNet rule they reconstruct.
_SUITE_ONLY = ("suite: not in the notes (no mention of negative eigenvalues or Householder products); context: "
               "notes §5.5 (state tracking beyond TC0) and the DeltaNet rule of notes §5.1 (S11); source: "
               "Grazzi et al. 2024")


def _coherent_strategy(n_cap: int, extra_cap: int, t_cap: int, n_name: str = "n", t_name: str = "T"):
    """Test search space: n, T drawn; d = 4 n + 24 + extra (so key sets meeting the bound exist)."""
    def build(claim):
        from hypothesis import strategies as st

        return st.fixed_dictionaries({n_name: st.integers(2, n_cap), "extra": st.integers(0, extra_cap),
                                      t_name: st.integers(1, t_cap)}).map(
            lambda p: {n_name: p[n_name], "d": 4 * p[n_name] + 24 + p["extra"], t_name: p[t_name]})
    return build


# --- cited facts ---------------------------------------------------------------------------------

def _cited(id_, statement, symbol, anchor, source, citation, quantity, notes="",
           provenance=Provenance.RECONSTRUCTED):
    def derivation():
        return th.cited_fact(statement, source)

    derivation.__module__, derivation.__name__ = th.cited_fact.__module__, th.cited_fact.__name__
    register(Claim(
        id=id_, statement=statement, anchor=anchor, provenance=provenance, kind=Kind.CITED,
        estimand=Estimand(quantity=quantity, distributions="none: a worst-case complexity statement",
                          conditioning="as stated in the cited source", notes=notes),
        params=(), derivation=derivation, measure=None, grids={},
        symbol=symbol, citation=citation, notes=notes,
    ))


_cited("expressivity.circuits.transformer_tc0",
       "Log-precision Transformers without chain of thought compute only functions in uniform TC0.",
       r"[\mathrm{Transformer}_{\log} \subseteq \mathsf{TC}^0]",
       "notes §5.5 ([companion] §3.3, §5; the arXiv paper's 'expressivity of DeltaFormer ... NC^1', S16)",
       "Merrill & Sabharwal 2023",
       "W. Merrill, A. Sabharwal, 'The Parallelism Tradeoff: Limitations of Log-Precision Transformers', "
       "TACL 11 (2023) 531-545",
       "membership of the functions computed by log-precision Transformers in uniform TC0")
_cited("expressivity.circuits.swap_nc1_complete",
       "Tracking swaps of n >= 5 elements (the word problem of S_5) is NC1-complete under AC0 reductions.",
       r"[\mathrm{WP}(S_5)\ \mathsf{NC}^1\text{-complete}]",
       "notes §5.5 ([companion]: NC1-complete under AC0 reductions, cited there to Yao 1989 / Barrington)",
       "Barrington 1989",
       "D. A. Barrington, 'Bounded-width polynomial-size branching programs recognize exactly those "
       "languages in NC1', J. Comput. Syst. Sci. 38(1) (1989) 150-164",
       "NC1-completeness of the S_5 word problem; transpositions generate S_5, so swap tracking contains it",
       notes="Hence DeltaFormer, which tracks swaps exactly (expressivity.swap.round_kernel_exact), computes a "
             "function outside TC0 unless TC0 = NC1 (open; widely believed false).")
_cited("expressivity.circuits.inversion_nc2",
       "Matrix inversion is in NC2, so the DeltaFormer solve U = (I + A)^{-1} V adds at most NC2 power.",
       r"[(I + A)^{-1} \in \mathsf{NC}^2]",
       "notes §5.5 ([companion]: the NC2 upper bound, Csanky 1975)",
       "Csanky 1976",
       "L. Csanky, 'Fast parallel matrix inversion algorithms', SIAM J. Comput. 5(4) (1976) 618-623",
       "membership of n x n matrix inversion in NC2 (O(log^2 n) depth)")
_cited("expressivity.householder.parity_needs_negative_eigenvalues",
       "Finite-precision linear RNNs whose state-transition matrices have only non-negative eigenvalues "
       "cannot solve parity; with eigenvalues in [-1, 1] (generalized Householder, beta in [0, 2]) they "
       "can track group word problems such as S_5.",
       r"[\lambda(A_t) \subset [0, 1] \Rightarrow \mathrm{parity} \notin \mathrm{LRNN}]",
       _SUITE_ONLY,
       "Grazzi et al. 2024",
       "R. Grazzi, J. Siems, A. Zela, J. K. H. Franke, F. Hutter, M. Pontil, 'Unlocking State-Tracking in "
       "Linear RNNs Through Negative Eigenvalues', arXiv:2411.12537 (2024), ICLR 2025",
       "impossibility of parity for non-negative spectra; S_n tracking with generalized Householder products",
       notes="Proved here: the one-layer repeated-token case (expressivity.householder.repetition_monotone), "
             "the spectrum of I - beta k k^T (expressivity.householder.spectrum) and exact S_n tracking at "
             "beta = 2 (expressivity.householder.permutation_tracking). The multi-layer, finite-precision "
             "statement is the cited one. The notes' only contact with parity: the companion's Table 5 reports "
             "DeltaFormer at 100.0 on parity (notes §7).",
       provenance=Provenance.SUITE)

# --- Theorem 1: the swap construction ------------------------------------------------------------

register(Claim(
    id="expressivity.swap.round_kernel_exact",
    statement="With n unit keys of pairwise coherence < 1/8, the rounding kernel, and each swap (a, b) "
              "written as a token with key k_b - k_a and value 0, the u-recursion read-out o(k_j) equals "
              "the value now at position j, exactly, after every swap.",
    anchor="notes §5.5 Theorem 1, Assumptions 1-2 and Lemma 1 ([companion]; formulas inferred in the notes)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over swaps s and positions j of |o_s(k_j) - v_{pi_s(j)}| (exact, atol 0)",
        distributions="keys: random greedy code, uniform candidates kept while |k_i^T k_j| < 1/8; swaps "
                      "uniform over position pairs; " + _ONE_HOT,
        conditioning="one random key set and swap sequence per point",
        notes="With f = round and one-hot values every u_t and every read-out is an integer vector, so "
              "float64 arithmetic is exact: the check is equality, not a tolerance.",
    ),
    params=(_N, Param("d", 8, 4096, description="key dimension"), _T),
    constraints=(_KEYS_EXIST,),
    derivation=th.swap_construction,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
    measure=num.measure_swap_tracking,
    grids={
        "quick": ({"n": 5, "d": 48, "T": 64}, {"n": 32, "d": 160, "T": 500}),
        "default": ({"n": 5, "d": 48, "T": 64}, {"n": 16, "d": 96, "T": 200}, {"n": 32, "d": 160, "T": 500}),
        "full": ({"n": 5, "d": 48, "T": 1000}, {"n": 32, "d": 160, "T": 1000}, {"n": 64, "d": 300, "T": 1000}),
    },
    negative_controls=(
        NegativeControl("identity_kernel", "f = identity (DeltaNet-style linear kernel) on the same near-orthogonal "
                        "keys", variant="identity_kernel"),
        NegativeControl("sum_key", "swap token with key k_a + k_b instead of the difference", variant="sum_key"),
    ),
    atol=0.0,
    strategy=_coherent_strategy(40, 120, 500),
))

register(Claim(
    id="expressivity.task.swap_labels",
    statement="The swap-tracking task generator (n elements, one token per swap, label = element at the "
              "first position after each swap) gives exactly the labels read out by Theorem 1's construction.",
    anchor="notes §6 E.4 and §9 item 27 (the companion's G.1 swap-tracking data; the arXiv E.4 listing is a GAP)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="number of (sequence, step) labels differing from argmax o_t(k_0) of the construction",
        distributions="swap ids uniform over the n(n-1)/2 pairs; 4 sequences per point; coherent keys in R^d; "
                      + _ONE_HOT,
        conditioning="one seeded batch per point",
    ),
    params=(Param("n_elements", 2, 32, description="number of elements"),
            Param("length", 1, 512, description="swaps per sequence"),
            Param("d", 8, 4096, description="key dimension of the construction")),
    constraints=(Constraint("d >= 4 n_elements + 24 (coherent keys exist)",
                            lambda p: p["d"] >= 4 * p["n_elements"] + 24),),
    derivation=th.swap_task_labels,
    prediction=lambda: sp.Integer(0),
    symbol=r"\#\{t: \mathrm{label}_t \ne \arg\max o_t(k_0)\}",
    measure=num.measure_swap_task_labels,
    grids={
        "quick": ({"n_elements": 5, "length": 16, "d": 48}, {"n_elements": 5, "length": 256, "d": 48}),
        "default": ({"n_elements": 5, "length": 16, "d": 48}, {"n_elements": 5, "length": 256, "d": 48},
                    {"n_elements": 8, "length": 128, "d": 64}),
        "full": ({"n_elements": 5, "length": 512, "d": 48}, {"n_elements": 16, "length": 512, "d": 96}),
    },
    negative_controls=(
        NegativeControl("label_before_swap", "labels recorded before applying the swap (off by one step)",
                        variant="label_before_swap"),
    ),
    atol=0.0,
    strategy=_coherent_strategy(12, 40, 200, n_name="n_elements", t_name="length"),
))

# --- where it fails: the linear kernel -----------------------------------------------------------

register(Claim(
    id="expressivity.swap.linear_kernel_orthonormal",
    statement="With f = identity (DeltaNet-style memory) the construction is exact when the keys are exactly "
              "orthonormal (n <= d); near-orthogonal keys already break it.",
    anchor="notes §5.5 (space cost: an identity f needs orthonormal keys) and §9 item 24 ([companion] B.1)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over swaps and positions of |o_s(k_j) - v_{pi_s(j)}|",
        distributions="keys: n random orthonormal vectors (QR of a Gaussian matrix); swaps uniform; " + _ONE_HOT,
        conditioning="one random instance per point; exact in exact arithmetic (float tolerance 1e-9)",
    ),
    params=(Param("n", 2, 256, description="number of elements"), Param("d", 2, 1024, description="key dimension"),
            _T),
    constraints=(Constraint("n <= d", lambda p: p["n"] <= p["d"]),),
    derivation=th.linear_orthonormal,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
    measure=num.measure_linear_orthonormal_tracking,
    grids={
        "quick": ({"n": 5, "d": 5, "T": 64}, {"n": 16, "d": 32, "T": 200}),
        "default": ({"n": 5, "d": 5, "T": 64}, {"n": 16, "d": 32, "T": 200}, {"n": 64, "d": 64, "T": 500}),
        "full": ({"n": 5, "d": 5, "T": 1000}, {"n": 64, "d": 64, "T": 1000}, {"n": 128, "d": 256, "T": 1000}),
    },
    negative_controls=(
        NegativeControl("perturbed_keys", "unit keys 0.05 away from orthonormal (coherence about 0.05)",
                        variant="perturbed_keys"),
    ),
    atol=1e-9,
    strategy={"n": (2, 32), "d": (2, 48), "T": (1, 300)},
))

# --- the exponential kernel: four multi-query heads ----------------------------------------------

_S = Param("s", 0.05, 3.0, integer=False, description="query scale of the first pair of heads (1/temperature)")
_R = Param("r", 0.05, 3.0, integer=False, description="query scale of the second pair of heads")
_DISTINCT = Constraint("|s - r| >= 0.1 (distinct scales; equal scales merge into two heads)",
                       lambda p: abs(p["s"] - p["r"]) >= 0.1)
_HEADS_ANCHOR = ("notes §5.5 ([companion] §3.3.1: 'a multi-query attention mechanism with four shared heads can "
                 "express a function f that fulfills Assumption 2'); the construction and the three-head "
                 "obstruction: suite")


@cache
def _head_slope():
    """``g'(x)`` of the four-head kernel as a numeric function of ``(x, s, r)``."""
    x = sp.Symbol("x")
    return sp.lambdify((x, th.s_head, th.r_head), sp.diff(th.four_head_kernel(x), x), "math")


def _increasing(p) -> bool:
    """The four-head kernel is increasing on ``[-2 - delta, 2 + delta]`` (checked on a fine grid)."""
    slope, reach = _head_slope(), 2 + p["delta"]
    return all(slope(-reach + 2 * reach * i / 400, p["s"], p["r"]) > 0 for i in range(401))


register(Claim(
    id="expressivity.heads.four_exp_lattice",
    statement="Four exponential heads sharing keys and values (multi-query attention) at query scales s, -s, r, -r "
              "with output weights (a, -a, b, -b)/2 compute g(x) = a sinh(s x) + b sinh(r x), which equals round(x) "
              "at every token-key inner product of Theorem 1 with orthonormal keys (x in {-2..2}); as DeltaFormer's "
              "kernel they track every swap exactly. No three exponential heads can equal round on those five values.",
    anchor=_HEADS_ANCHOR,
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over swaps s and positions j of |o_s(k_j) - v_{pi_s(j)}|, the u-recursion and read-out run "
                 "with the four-head kernel (weights solved numerically on the lattice)",
        distributions="keys: n random orthonormal vectors (QR of a Gaussian matrix); swaps uniform; " + _ONE_HOT,
        conditioning="one random instance per point; exact in exact arithmetic (float tolerance 1e-9)",
        notes="Near-orthogonal keys (n > d) need f flat around the lattice (Assumption 2); the accuracy of the "
              "four heads there is expressivity.heads.four_exp_accuracy.",
    ),
    params=(Param("n", 2, 256, description="number of elements"), Param("d", 2, 1024, description="key dimension"),
            _T, _S, _R),
    constraints=(Constraint("n <= d", lambda p: p["n"] <= p["d"]), _DISTINCT),
    derivation=th.four_exp_heads,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
    measure=num.measure_exp_heads_tracking,
    grids={
        "quick": ({"n": 5, "d": 8, "T": 64, "s": 0.5, "r": 1.5}, {"n": 16, "d": 16, "T": 200, "s": 0.25, "r": 0.75}),
        "default": ({"n": 5, "d": 8, "T": 64, "s": 0.5, "r": 1.5}, {"n": 16, "d": 16, "T": 200, "s": 0.25, "r": 0.75},
                    {"n": 32, "d": 64, "T": 300, "s": 1.0, "r": 2.0}),
        "full": ({"n": 5, "d": 8, "T": 1000, "s": 0.5, "r": 1.5}, {"n": 32, "d": 64, "T": 1000, "s": 1.0, "r": 2.0},
                 {"n": 64, "d": 128, "T": 1000, "s": 0.3, "r": 2.5}),
    },
    negative_controls=(
        NegativeControl("three_heads", "the -r head dropped, the three weights refitted on the lattice by least "
                        "squares (the best three heads at these scales)", variant="three_heads"),
        NegativeControl("scale_slip", "weights solved for (s, r), heads run at scales 5 % larger (a temperature "
                        "slip)", variant="scale_slip"),
    ),
    atol=1e-9,
    strategy={"n": (2, 16), "d": (2, 24), "T": (1, 120), "s": (0.2, 2.0), "r": (0.2, 2.0)},
))

register(Claim(
    id="expressivity.heads.four_exp_accuracy",
    statement="On Assumption 2's intervals |x - m| <= delta (m in {-2..2}, delta = 4 eps for coherence eps) the "
              "four-head kernel's error sup |g(x) - round(x)| is max(g(delta), g(1 + delta) - 1, 1 - g(1 - delta), "
              "g(2 + delta) - 2, 2 - g(2 - delta)), of the order of delta itself (g'(m) is near 1): four exponential "
              "heads satisfy Assumption 2 exactly only for orthonormal keys, and otherwise to this accuracy.",
    anchor=_HEADS_ANCHOR + "; the accuracy: suite",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="sup over the five intervals [m - delta, m + delta] of |g(x) - round(x)|, g the numerically "
                 "weighted four-head kernel",
        distributions="none: a supremum, searched by bounded maximisation, endpoints and 4096 uniform points per "
                      "interval",
        conditioning="exact in exact arithmetic; float tolerance 1e-10 relative",
        notes="The endpoint formula assumes g increasing on [-2 - delta, 2 + delta] (the claim's constraint); the "
              "numeric side does not assume it.",
    ),
    params=(_S, _R, Param("delta", 0.001, 0.49, integer=False,
                          description="radius of the intervals (4 eps; < 1/2)")),
    constraints=(_DISTINCT, Constraint("g increasing on [-2 - delta, 2 + delta]", _increasing)),
    derivation=th.four_exp_heads_accuracy,
    symbol=r"\sup_{|x - m| \le \delta}|g(x) - \mathrm{round}(x)|",
    measure=num.measure_exp_heads_accuracy,
    grids={
        "quick": ({"s": 0.5, "r": 1.5, "delta": 0.1}, {"s": 0.25, "r": 0.75, "delta": 0.45}),
        "default": ({"s": 0.5, "r": 1.5, "delta": 0.1}, {"s": 0.25, "r": 0.75, "delta": 0.45},
                    {"s": 0.5, "r": 1.0, "delta": 0.02}),
        "full": ({"s": 0.5, "r": 1.5, "delta": 0.1}, {"s": 0.25, "r": 0.75, "delta": 0.45},
                 {"s": 0.5, "r": 1.0, "delta": 0.02}, {"s": 0.1, "r": 0.3, "delta": 0.3}),
    },
    negative_controls=(
        NegativeControl("exact_rounding", "0: Assumption 2 read as exact for the four heads", 
                        prediction=lambda: sp.Integer(0)),
        NegativeControl("linear_kernel_error", "delta, the error of the linear kernel f(x) = x (four heads taken as "
                        "no better and no worse than it)", prediction=lambda: th.delta),
        NegativeControl("three_heads", "the best three heads at scales (s, -s, r)", variant="three_heads"),
    ),
    atol=1e-12,
    rtol=1e-9,
    strategy={"s": (0.1, 1.0), "r": (0.1, 1.5), "delta": (0.01, 0.45)},
))

def _rewrite_strategy(claim):
    """n, T and the period drawn; d = 4 n + 24 + extra (coherent keys and values exist)."""
    from hypothesis import strategies as st

    return st.fixed_dictionaries({"n": st.integers(2, 12), "extra": st.integers(0, 40), "T": st.integers(1, 200),
                                  "period": st.integers(1, 30)}).map(
        lambda p: {"n": p["n"], "d": 4 * p["n"] + 24 + p["extra"], "T": p["T"], "period": p["period"]})


register(Claim(
    id="expressivity.swap.periodic_rewrite",
    statement="Reading the n current values out every R swaps and rewriting them as a fresh cache of n pairs keeps "
              "Theorem 1's tracking exact with a KU cache of at most n + R entries (n + T without the rewrite); with "
              "R = n and keys and values coded in d = O(log n) dimensions that is O(n log n) numbers whatever T.",
    anchor="notes §5.5 and §9 item 26 ([companion] §3.3.1 'Space Cost Analysis' and App. C 'KU Cache read out and "
           "rewrite')",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over swaps s and positions j of |o_s(k_j) - v_{pi_s(j)}|, the tracker rewritten every R swaps",
        distributions="keys and values: two random greedy codes in d dimensions (coherence < 1/8); swaps uniform",
        conditioning="one random instance per point; the longest cache (n + min(R, T)) is in the report's "
                     "diagnostics; float tolerance 1e-9 (coded values are not integers)",
    ),
    params=(_N, Param("d", 8, 4096, description="key and value dimension"), _T,
            Param("period", 1, 1000, description="swaps between rewrites (R)")),
    constraints=(_KEYS_EXIST,),
    derivation=th.periodic_rewrite,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max_{s,j}|o_s(k_j) - v_{\pi_s(j)}|",
    measure=num.measure_rewrite_tracking,
    grids={
        "quick": ({"n": 5, "d": 48, "T": 200, "period": 5}, {"n": 16, "d": 96, "T": 500, "period": 16}),
        "default": ({"n": 5, "d": 48, "T": 200, "period": 5}, {"n": 16, "d": 96, "T": 500, "period": 16},
                    {"n": 32, "d": 160, "T": 600, "period": 32}),
        "full": ({"n": 5, "d": 48, "T": 1000, "period": 5}, {"n": 32, "d": 160, "T": 1000, "period": 32},
                 {"n": 64, "d": 300, "T": 1000, "period": 64}),
    },
    negative_controls=(
        NegativeControl("stale_rewrite", "the rewrite stores the initial values instead of the read-out",
                        variant="stale_rewrite"),
        NegativeControl("shifted_rewrite", "the value read at k_j stored at k_{j+1}", variant="shifted_rewrite"),
    ),
    atol=1e-9,
    strategy=_rewrite_strategy,
))

# --- the dimension needed ------------------------------------------------------------------------

_EPS = Param("epsilon", 0.01, 0.99, integer=False, description="coherence bound")


def n_pairs():
    """``n (n - 1) / 2``, the number of key pairs."""
    return th.n * (th.n - 1) / 2


def _differs_by(wrong, at_least: float) -> Constraint:
    """Applies where the control's value differs from the exact count by at least ``at_least`` (relative):
    closer than that, no default-size run resolves it."""
    def holds(p):
        exact = evaluate(th.violation_count().result, p)
        return abs(evaluate(wrong(), p) / exact - 1) >= at_least
    return Constraint(f"the control differs from the exact count by >= {at_least:.0%}", holds)


def _gaussian_tail():
    return n_pairs() * sp.erfc(th.eps * sp.sqrt(d / 2))


def _ordered_pairs():
    return th.n**2 / 2 * th.violation_probability()


def _dimension_shift():
    return n_pairs() * th.violation_probability().subs(d, d + 1)


def _violation_strategy(claim):
    """n, d, eps drawn where a few violations are expected per key set (the count is not degenerate)."""
    from proofs_check.strategies import domain_strategy

    expr = th.violation_count().result
    return domain_strategy(claim, {"n": (4, 24), "d": (3, 24), "epsilon": (0.3, 0.7)}).filter(
        lambda p: evaluate(expr, p) >= 1.0)


register(Claim(
    id="expressivity.dimension.violation_count",
    statement="Among n i.i.d. uniform unit keys in R^d the expected number of pairs with |k_i^T k_j| >= eps "
              "is exactly n(n-1)/2 I_{1-eps^2}((d-1)/2, 1/2).",
    anchor="notes §5.5 (Assumption 1 and the dimension requirement, [companion]); exact law: suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E #{i < j : |k_i^T k_j| >= eps}",
        distributions="k_i i.i.d. uniform on the unit sphere of R^d (normalised Gaussians)",
        conditioning="none; one key set per trial, every pair counted (direct simulation)",
        notes="Pairwise violation indicators are pairwise independent, so Var = n(n-1)/2 p (1 - p): the "
              "count resolves the pair factor and the Beta parameter (d - 1)/2 at planned power.",
    ),
    params=(Param("n", 2, 512, description="number of keys"), Param("d", 2, 4096, description="dimension"), _EPS),
    derivation=th.violation_count,
    prediction=lambda: (th.violation_count().result),
    symbol=r"\mathbb{E}\#\{i<j: |k_i^\top k_j| \ge \epsilon\}",
    measure=num.measure_violation_count,
    trials={"quick": 2000, "default": 4000, "full": 8000},
    grids={
        "quick": ({"n": 8, "d": 8, "epsilon": 0.5}, {"n": 24, "d": 16, "epsilon": 0.5}),
        "default": ({"n": 8, "d": 8, "epsilon": 0.5}, {"n": 24, "d": 16, "epsilon": 0.5},
                    {"n": 32, "d": 32, "epsilon": 0.4}),
        "full": ({"n": 8, "d": 8, "epsilon": 0.5}, {"n": 32, "d": 32, "epsilon": 0.4},
                 {"n": 64, "d": 64, "epsilon": 0.3}),
    },
    negative_controls=(
        NegativeControl("dimension_shift", "I_{1-eps^2}(d/2, 1/2): the d - 1 degrees of freedom taken as d",
                        prediction=_dimension_shift, near_miss=True,
                        applies_when=_differs_by(_dimension_shift, 0.03)),
        NegativeControl("ordered_pairs", "n^2/2 pairs instead of n(n-1)/2", prediction=_ordered_pairs,
                        near_miss=True, applies_when=_differs_by(_ordered_pairs, 0.03)),
        NegativeControl("gaussian_tail", "Gaussian approximation k_i^T k_j ~ N(0, 1/d): n(n-1)/2 erfc(eps sqrt(d/2))",
                        prediction=_gaussian_tail, applies_when=_differs_by(_gaussian_tail, 0.03)),
    ),
    strategy=_violation_strategy,
))


def _one_pair(expr):
    """``expr`` (a function of the count) for one pair: the count's formula divided by its n(n-1)/2 pairs."""
    return lambda: sp.simplify(expr() / n_pairs())


register(Claim(
    id="expressivity.dimension.violation_tail",
    statement="For two independent uniform unit keys in R^d, P(|k_i^T k_j| >= eps) = I_{1-eps^2}((d-1)/2, 1/2) "
              "exactly, far into the tail (1e-8 to 1e-29 on the default grid, where counting violations among "
              "random keys sees nothing): the probability whose decay in d sets the coherence growth rate.",
    anchor="notes §5.5 (Assumption 1 and the dimension requirement, [companion]); exact law: suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="p_d = P(|k_i^T k_j| >= eps)",
        distributions="k_i, k_j independent uniform on the unit sphere of R^d",
        conditioning="reduced form: k_i^T k_j = g/sqrt(g^2 + R), g ~ N(0, 1) integrated out given R, "
                     "R ~ chi^2_{d-1} drawn from a partially tilted Gamma proposal with its likelihood ratio",
        notes="The numeric side of expressivity.dimension.coherence_exponent estimates p_d by the same route "
              "at every dimension of its ladder; this claim checks those finite-size values themselves, which "
              "the extrapolated rate cannot see (a constant factor in p_d only moves the fit's intercept).",
    ),
    params=(Param("d", 3, 4096, description="dimension"), _EPS),
    derivation=th.pair_violation_probability,
    symbol=r"P(|k_i^\top k_j| \ge \epsilon)",
    measure=num.measure_violation_probability,
    trials={"quick": 4000, "default": 20000, "full": 20000},
    grids={
        "quick": ({"d": 64, "epsilon": 0.5}, {"d": 256, "epsilon": 0.35}),
        "default": ({"d": 64, "epsilon": 0.5}, {"d": 256, "epsilon": 0.5}, {"d": 1024, "epsilon": 0.35}),
        "full": ({"d": 64, "epsilon": 0.5}, {"d": 256, "epsilon": 0.5}, {"d": 1024, "epsilon": 0.35},
                 {"d": 2048, "epsilon": 0.3}),
    },
    negative_controls=(
        NegativeControl("dimension_shift", "I_{1-eps^2}(d/2, 1/2): the d - 1 degrees of freedom taken as d",
                        prediction=_one_pair(_dimension_shift), near_miss=True),
        NegativeControl("one_sided", "P(k_i^T k_j >= eps): the two-sided tail halved",
                        prediction=lambda: th.violation_probability() / 2),
        NegativeControl("gaussian_tail", "Gaussian approximation k_i^T k_j ~ N(0, 1/d): erfc(eps sqrt(d/2))",
                        prediction=_one_pair(_gaussian_tail)),
    ),
    atol=0.0,  # the values are far below any absolute allowance
    strategy={"d": (16, 512), "epsilon": (0.3, 0.6)},
))


@cache
def _extrapolation_bound(d_min: int, d_max: int, epsilon: float) -> float:
    """Twice the Richardson estimate of the fit's truncation error (theory, exact p_d; never the limit)."""
    return 2.0 * th.coherence_extrapolation_error(num.coherence_ladder(d_min, d_max), epsilon)


register(Claim(
    id="expressivity.dimension.coherence_exponent",
    statement="The largest n for which n random unit keys in R^d have fewer than one expected coherence "
              "violation, n*(d) = (1 + sqrt(1 + 8/p_d))/2, grows exponentially in d: log n*(d)/d -> "
              "-(1/4) ln(1 - eps^2), so d = O(log n) suffices.",
    anchor="notes §5.5 (dimension requirement: d = O(log n), [companion]) and §9 item 25; the rate: suite",
    provenance=Provenance.SUITE,
    kind=Kind.ASYMPTOTIC,
    estimand=Estimand(
        quantity="c in the least-squares fit log n*(d) = a + c d + g ln d + b/d over 5 dimensions spaced "
                 "geometrically from d_min to d_max (the extrapolated limit of log n*(d)/d)",
        distributions="p_d = P(|k_i^T k_j| >= eps) for independent uniform unit keys, estimated at each "
                      "dimension by tilted conditional Monte Carlo (reduced form g / sqrt(g^2 + chi^2_{d-1}))",
        conditioning="independent draws per dimension; the fit's SE by the delta method",
        notes="Checked against the limit, not through it: the fit extrapolates the finite-size values to "
              "d -> oo, and its coefficient g (the approach log n*/d - c ~ g ln d / d, predicted 1/4) is "
              "reported. The finite-size bound is twice the difference between this fit and the next-order "
              "fit (an extra b_2/d^2) on the exact p_d: it never uses the limit.",
    ),
    params=(Param("d_min", 3, 4096, description="smallest dimension of the ladder"),
            Param("d_max", 6, 65536, description="largest dimension of the ladder"), _EPS),
    constraints=(Constraint("d_max >= 8 d_min (the ladder spans a factor 8 or more)",
                            lambda p: p["d_max"] >= 8 * p["d_min"]),
                 Constraint("d_min eps^2 >= 8 (the large-d expansion holds on the whole ladder)",
                            lambda p: p["d_min"] * p["epsilon"] ** 2 >= 8)),
    derivation=th.coherence_exponent,
    prediction=lambda: (th.coherence_rate()),
    bound=lambda p: _extrapolation_bound(int(p["d_min"]), int(p["d_max"]), float(p["epsilon"])),
    symbol=r"\lim_{d\to\infty} \frac{\log n^*(d)}{d}",
    measure=num.measure_coherence_exponent,
    trials={"quick": 1000, "default": 2000, "full": 4000},
    grids={
        "quick": ({"d_min": 32, "d_max": 512, "epsilon": 0.5},),
        "default": ({"d_min": 32, "d_max": 512, "epsilon": 0.5}, {"d_min": 96, "d_max": 1536, "epsilon": 0.35}),
        "full": ({"d_min": 32, "d_max": 512, "epsilon": 0.5}, {"d_min": 96, "d_max": 1536, "epsilon": 0.35},
                 {"d_min": 128, "d_max": 2048, "epsilon": 0.3}),
    },
    negative_controls=(
        NegativeControl("gaussian_rate", "rate eps^2/4 (the Gaussian tail exp(-d eps^2/2) taken as exact)",
                        prediction=lambda: th.eps**2 / 4, near_miss=True),
        NegativeControl("plain_slope", "the slope of log n*(d) on d over the ladder, not extrapolated (the "
                        "approach g ln d left in: 1.3-1.7 % above the limit on the default ladders)",
                        variant="plain_slope", near_miss=True),
        NegativeControl("deletion_rate", "rate -(1/2) ln(1 - eps^2) (the alteration-method rate, not reached by "
                        "i.i.d. keys)", prediction=lambda: (2 * th.coherence_rate())),
        NegativeControl("polynomial_growth", "no exponential growth (rate 0: n polynomial in d)",
                        prediction=lambda: sp.Integer(0)),
    ),
    strategy={"d_min": (32, 64), "d_max": (512, 640), "epsilon": (0.5, 0.6)},
))

# --- negative eigenvalues ------------------------------------------------------------------------

register(Claim(
    id="expressivity.householder.permutation_tracking",
    statement="A swap is the reflection I - 2 k k^T with k = (e_i - e_j)/sqrt 2, so DeltaNet with beta = 2 "
              "(eigenvalue -1) tracks words over S_n exactly, each letter a product of at most n - 1 "
              "generalized Householder transitions.",
    anchor=_SUITE_ONLY,
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over letters s of max |S_s - P_s| (DeltaNet state vs permutation matrix)",
        distributions="letters uniform over S_n (numpy permutation)",
        conditioning="one random word per point; exact up to float rounding of 1/sqrt 2 (tolerance 1e-9)",
    ),
    params=(Param("n", 2, 8, description="number of elements (S_5 at n = 5)"),
            Param("length", 1, 1000, description="letters in the word")),
    derivation=th.householder_swap,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max_s \|S_s - P_s\|_{\max}",
    measure=num.measure_householder_tracking,
    grids={
        "quick": ({"n": 5, "length": 100}, {"n": 3, "length": 50}),
        "default": ({"n": 5, "length": 100}, {"n": 3, "length": 50}, {"n": 8, "length": 500}),
        "full": ({"n": 5, "length": 1000}, {"n": 8, "length": 1000}),
    },
    negative_controls=(
        NegativeControl("beta_one", "beta = 1: I - k k^T is a projection (eigenvalues in [0, 1])", variant="beta_one"),
    ),
    atol=1e-9,
    strategy={"n": (2, 8), "length": (1, 200)},
))

register(Claim(
    id="expressivity.householder.spectrum",
    statement="I - beta k k^T with unit k has eigenvalues 1 (d - 1 times) and 1 - beta: all in [0, 1] for "
              "beta in [0, 1], down to -1 at beta = 2.",
    anchor=_SUITE_ONLY,
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max |sorted eig(I - beta k k^T) - sorted(1, ..., 1, 1 - beta)|",
        distributions="k uniform on the unit sphere of R^d",
        conditioning="one random key per point (tolerance 1e-10)",
    ),
    params=(Param("d", 2, 256, description="dimension"),
            Param("beta", 0.0, 2.0, integer=False, description="delta-rule step size")),
    derivation=th.householder_eigenvalues,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max|\lambda(I - \beta kk^\top) - (1, \dots, 1, 1 - \beta)|",
    measure=num.measure_householder_spectrum,
    grids={
        "quick": ({"d": 3, "beta": 0.5}, {"d": 16, "beta": 2.0}),
        "default": ({"d": 3, "beta": 0.5}, {"d": 16, "beta": 2.0}, {"d": 64, "beta": 1.5}),
        "full": ({"d": 3, "beta": 0.5}, {"d": 64, "beta": 1.5}, {"d": 256, "beta": 2.0}),
    },
    negative_controls=(
        NegativeControl("unnormalised_key", "k of norm 1.5 (the eigenvalue becomes 1 - beta ||k||^2)",
                        variant="unnormalised_key",
                        applies_when=Constraint("beta >= 0.05 (a zero step hides the key norm)",
                                                lambda p: p["beta"] >= 0.05)),
    ),
    atol=1e-10,
    strategy={"d": (2, 48), "beta": (0.0, 2.0)},
))

register(Claim(
    id="expressivity.householder.repetition_monotone",
    statement="One DeltaNet layer with beta in [0, 1] fed the same token t times has read-outs monotone in t "
              "(o_{t+1} - o_t = -beta (k^T q) (1 - beta)^t (S_0 k - v)), so no thresholded read-out gives the "
              "parity of 1^t; with beta near 2 the differences alternate.",
    anchor=_SUITE_ONLY + "; a special case of Grazzi et al. 2024",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over 32 layers and their output coordinates of the sign changes of o_{t+1} - o_t, t < T",
        distributions="per layer: k uniform unit, S_0, v, q Gaussian; beta = 1 (first layer) and beta ~ U[0, 1]",
        conditioning="32 random layers per point; differences below 1e-9 x scale are float noise and skipped",
    ),
    params=(Param("d", 1, 64, description="dimension"), Param("T", 2, 200, description="repetitions")),
    derivation=th.repetition_monotone,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max_c \#\mathrm{sign\ changes}_t(o_{t+1} - o_t)_c",
    measure=num.measure_monotone_under_repetition,
    grids={
        "quick": ({"d": 4, "T": 32}, {"d": 16, "T": 64}),
        "default": ({"d": 4, "T": 32}, {"d": 16, "T": 64}, {"d": 64, "T": 200}),
        "full": ({"d": 4, "T": 200}, {"d": 64, "T": 200}),
    },
    negative_controls=(
        NegativeControl("negative_eigenvalue", "beta ~ U[1.5, 2]: eigenvalue 1 - beta in [-1, -0.5]",
                        variant="negative_eigenvalue"),
        NegativeControl("barely_negative", "beta ~ U(1, 1.01], just past the claim's beta <= 1: eigenvalue in "
                        "[-0.01, 0), differences that alternate while shrinking 100-fold per step (3-4 flips "
                        "above the noise threshold)", variant="barely_negative", near_miss=True),
    ),
    atol=0.0,
    strategy={"d": (1, 32), "T": (2, 120)},
))

# --- reachability --------------------------------------------------------------------------------

register(Claim(
    id="expressivity.reachability.path_counts",
    statement="For the strictly lower-triangular adjacency A of a DAG, the DeltaFormer u-recursion "
              "u_t = e_t + sum_{i<t} A_{ti} u_i computes (I - A)^{-1} = sum_k A^k, which counts paths: "
              "entry (i, j) > 0 iff j reaches i.",
    anchor="notes §6 E.4 (DAG reachability, [companion] §4.2) and §9 item 28",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="entries where U differs from sum_{k<n} A^k (integer powers) plus entries where U > 0 differs "
                 "from depth-first reachability",
        distributions="random DAG: each edge j -> i (j < i) present independently with probability edge_prob",
        conditioning="four independent random DAGs per point (mismatches summed); integer arithmetic (path counts < 2^53 on the domain)",
    ),
    params=(Param("n", 2, 40, description="nodes"),
            Param("edge_prob", 0.0, 1.0, integer=False, description="edge probability")),
    derivation=th.reachability_inverse,
    prediction=lambda: sp.Integer(0),
    symbol=r"\#\{(i,j): U_{ij} \ne (\sum_k A^k)_{ij}\} + \#\{U_{ij} > 0 \ne j \leadsto i\}",
    measure=num.measure_reachability,
    grids={
        "quick": ({"n": 12, "edge_prob": 0.3}, {"n": 32, "edge_prob": 0.2}),
        "default": ({"n": 12, "edge_prob": 0.3}, {"n": 32, "edge_prob": 0.2}, {"n": 40, "edge_prob": 0.9},
                    {"n": 8, "edge_prob": 1.0}),
        "full": ({"n": 12, "edge_prob": 0.3}, {"n": 40, "edge_prob": 0.9}, {"n": 40, "edge_prob": 1.0}),
    },
    negative_controls=(
        NegativeControl("one_hop", "I + A: only paths of length <= 1", variant="one_hop"),
        NegativeControl("alternating", "(I + A)^{-1} = sum_k (-A)^k: the DeltaNet sign", variant="alternating"),
    ),
    atol=0.0,
    strategy={"n": (2, 40), "edge_prob": (0.0, 1.0)},
))
