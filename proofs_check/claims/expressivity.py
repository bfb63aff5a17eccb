"""Section ``expressivity`` (paper §4, notes §5.5): state tracking beyond TC0.

Complexity-class separations are literature facts, recorded as ``cited`` claims (never reported
as verified); the notes know them from the companion paper (notes §5.5, [companion]), hence
provenance ``reconstructed``. Everything constructive is checked exactly: Theorem 1's swap construction with the
rounding kernel, where the linear kernel fails, the dimension the construction needs, generalized
Householder products (negative eigenvalues), DAG reachability, and the toy task's labels.
"""

from __future__ import annotations

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
       "§4 (expressivity), notes §5.5",
       "Merrill & Sabharwal 2023",
       "W. Merrill, A. Sabharwal, 'The Parallelism Tradeoff: Limitations of Log-Precision Transformers', "
       "TACL 11 (2023) 531-545",
       "membership of the functions computed by log-precision Transformers in uniform TC0")
_cited("expressivity.circuits.swap_nc1_complete",
       "Tracking swaps of n >= 5 elements (the word problem of S_5) is NC1-complete under AC0 reductions.",
       r"[\mathrm{WP}(S_5)\ \mathsf{NC}^1\text{-complete}]",
       "§4 (expressivity), notes §5.5",
       "Barrington 1989",
       "D. A. Barrington, 'Bounded-width polynomial-size branching programs recognize exactly those "
       "languages in NC1', J. Comput. Syst. Sci. 38(1) (1989) 150-164",
       "NC1-completeness of the S_5 word problem; transpositions generate S_5, so swap tracking contains it",
       notes="Hence DeltaFormer, which tracks swaps exactly (expressivity.swap.round_kernel_exact), computes a "
             "function outside TC0 unless TC0 = NC1 (open; widely believed false).")
_cited("expressivity.circuits.inversion_nc2",
       "Matrix inversion is in NC2, so the DeltaFormer solve U = (I + A)^{-1} V adds at most NC2 power.",
       r"[(I + A)^{-1} \in \mathsf{NC}^2]",
       "§4 (expressivity), notes §5.5",
       "Csanky 1976",
       "L. Csanky, 'Fast parallel matrix inversion algorithms', SIAM J. Comput. 5(4) (1976) 618-623",
       "membership of n x n matrix inversion in NC2 (O(log^2 n) depth)")
_cited("expressivity.householder.parity_needs_negative_eigenvalues",
       "Finite-precision linear RNNs whose state-transition matrices have only non-negative eigenvalues "
       "cannot solve parity; with eigenvalues in [-1, 1] (generalized Householder, beta in [0, 2]) they "
       "can track group word problems such as S_5.",
       r"[\lambda(A_t) \subset [0, 1] \Rightarrow \mathrm{parity} \notin \mathrm{LRNN}]",
       "§4 (expressivity, negative eigenvalues)",
       "Grazzi et al. 2024, Theorem 1 and Theorem 2",
       "R. Grazzi, J. Siems, J. K. H. Franke, A. Zela, F. Hutter, M. Pontil, 'Unlocking State-Tracking in "
       "Linear RNNs Through Negative Eigenvalues', arXiv:2411.12537 (2024), ICLR 2025",
       "impossibility of parity for non-negative spectra; S_n tracking with generalized Householder products",
       notes="Proved here: the one-layer repeated-token case (expressivity.householder.repetition_monotone), "
             "the spectrum of I - beta k k^T (expressivity.householder.spectrum) and exact S_n tracking at "
             "beta = 2 (expressivity.householder.permutation_tracking). The multi-layer, finite-precision "
             "statement is the cited one.",
       provenance=Provenance.SUITE)

# --- Theorem 1: the swap construction ------------------------------------------------------------

register(Claim(
    id="expressivity.swap.round_kernel_exact",
    statement="With n unit keys of pairwise coherence < 1/8, the rounding kernel, and each swap (a, b) "
              "written as a token with key k_b - k_a and value 0, the u-recursion read-out o(k_j) equals "
              "the value now at position j, exactly, after every swap.",
    anchor="§4; notes §5.5 Theorem 1, Assumptions 1-2 (reconstruction)",
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
    anchor="§4 toy task; notes §6 E.4 (companion G.1)",
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
    anchor="§4; notes §5.5 and §9 item 24 (companion B.1)",
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

register(Claim(
    id="expressivity.swap.linear_kernel_rank_floor",
    statement="With f = identity and n > d keys the read-out matrix misses the tracked permutation matrix by "
              "at least n - d in squared Frobenius norm after every swap: the linear kernel cannot track more "
              "than d elements.",
    anchor="§4; notes §5.5 ('O(n^2) for identity f') and §9 item 24; floor: suite",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="fraction of swaps s with ||R_s - P_s||_F^2 >= n - d (R_s rows o_s(k_j), P_s tracked one-hots)",
        distributions="keys i.i.d. uniform on the unit sphere of R^d; swaps uniform; " + _ONE_HOT,
        conditioning="one random instance per point",
        notes="An inequality made checkable: the fraction must be exactly 1 (the rounding kernel, a negative "
              "control, tracks exactly and falls below the floor).",
    ),
    params=(Param("n", 2, 128, description="number of elements"), Param("d", 1, 127, description="key dimension"),
            _T),
    constraints=(Constraint("n > d", lambda p: p["n"] > p["d"]),),
    derivation=th.linear_rank_floor,
    prediction=lambda: sp.Integer(1),
    symbol=r"\frac{1}{T}\#\{s: \|R_s - P_s\|_F^2 \ge n - d\}",
    measure=num.measure_linear_rank_floor,
    grids={
        "quick": ({"n": 8, "d": 4, "T": 64}, {"n": 32, "d": 16, "T": 200}),
        "default": ({"n": 8, "d": 4, "T": 64}, {"n": 32, "d": 16, "T": 200}, {"n": 64, "d": 48, "T": 500}),
        "full": ({"n": 8, "d": 4, "T": 1000}, {"n": 64, "d": 48, "T": 1000}, {"n": 128, "d": 64, "T": 1000}),
    },
    negative_controls=(
        NegativeControl("round_kernel", "f = round with coherent keys: exact tracking, error 0 below the floor",
                        variant="round_kernel"),
    ),
    atol=0.0,
    strategy={"n": (2, 40), "d": (1, 39), "T": (1, 200)},
))

# --- the dimension needed ------------------------------------------------------------------------

_EPS = Param("epsilon", 0.01, 0.99, integer=False, description="coherence bound")


def _violation_strategy(claim):
    """n, d, eps drawn where at least one violation is expected (else the MC SE degenerates to 0)."""
    from proofs_check.strategies import domain_strategy

    expr = th.violation_count().result
    return domain_strategy(claim, {"n": (2, 48), "d": (2, 64), "epsilon": (0.1, 0.7)}).filter(
        lambda p: evaluate(expr, p) >= 1.0)


def n_pairs():
    """``n (n - 1) / 2``, the number of key pairs."""
    return th.n * (th.n - 1) / 2


register(Claim(
    id="expressivity.dimension.violation_count",
    statement="Among n i.i.d. uniform unit keys in R^d the expected number of pairs with |k_i^T k_j| >= eps "
              "is exactly n(n-1)/2 I_{1-eps^2}((d-1)/2, 1/2).",
    anchor="§4; notes §5.5 (dimension requirement, Zhao Thm 5.2.1); exact law: suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E #{i < j : |k_i^T k_j| >= eps}",
        distributions="k_i i.i.d. uniform on the unit sphere of R^d (normalised Gaussians)",
        conditioning="none; one key set per trial",
    ),
    params=(Param("n", 2, 512, description="number of keys"), Param("d", 2, 4096, description="dimension"), _EPS),
    derivation=th.violation_count,
    prediction=lambda: (th.violation_count().result),
    symbol=r"\mathbb{E}\#\{i<j: |k_i^\top k_j| \ge \epsilon\}",
    measure=num.measure_violation_count,
    trials={"quick": 4000, "default": 4000, "full": 8000},
    grids={
        "quick": ({"n": 8, "d": 8, "epsilon": 0.5}, {"n": 12, "d": 16, "epsilon": 0.5}),
        "default": ({"n": 8, "d": 8, "epsilon": 0.5}, {"n": 12, "d": 16, "epsilon": 0.5},
                    {"n": 32, "d": 128, "epsilon": 0.125}),
        "full": ({"n": 8, "d": 8, "epsilon": 0.5}, {"n": 32, "d": 128, "epsilon": 0.125},
                 {"n": 64, "d": 256, "epsilon": 0.125}),
    },
    negative_controls=(
        NegativeControl("gaussian_tail", "Gaussian approximation k_i^T k_j ~ N(0, 1/d): n(n-1)/2 erfc(eps sqrt(d/2))",
                        prediction=lambda: (n_pairs() * sp.erfc(th.eps * sp.sqrt(d / 2))),
                        applies_when=Constraint("d <= 32 (the Gaussian tail differs from the exact law by "
                                                "less than the MC resolution at large d)", lambda p: p["d"] <= 32)),
        NegativeControl("ordered_pairs", "n^2/2 pairs instead of n(n-1)/2",
                        prediction=lambda: (th.n**2 / 2 * th.violation_probability())),
        NegativeControl("dimension_shift", "I_{1-eps^2}(d/2, 1/2): the d - 1 degrees of freedom taken as d",
                        prediction=lambda: (n_pairs() * th.violation_probability().subs(d, d + 1)),
                        applies_when=Constraint("d <= 32 (resolvable)", lambda p: p["d"] <= 32)),
    ),
    strategy=_violation_strategy,
))


register(Claim(
    id="expressivity.dimension.coherence_exponent",
    statement="The largest n for which n random unit keys in R^d have fewer than one expected coherence "
              "violation grows exponentially in d, at rate -(1/4) ln(1 - eps^2): d = O(log n) suffices.",
    anchor="§4; notes §5.5 (dimension requirement) and §9 item 25",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.ASYMPTOTIC,
    estimand=Estimand(
        quantity="OLS slope of log n*(d) on d, n*(d) = (1 + sqrt(1 + 8/p_d))/2, p_d the MC pair-violation rate",
        distributions="96 i.i.d. uniform unit keys per trial (every pair counted)",
        conditioning="4 dimensions equally spaced in [d_min, d_max]",
        notes="The finite-size bound is the distance of the exact grid slope (exact p_d) from the limit rate.",
    ),
    params=(Param("d_min", 8, 128, description="smallest dimension"),
            Param("d_max", 16, 256, description="largest dimension"), _EPS),
    constraints=(Constraint("d_max >= d_min + 24 (four distinct grid points)", lambda p: p["d_max"] >= p["d_min"] + 24),),
    derivation=th.coherence_exponent,
    prediction=lambda: (th.coherence_rate()),
    bound=lambda p: abs(th.coherence_exponent_finite_size(
        [int(round(p["d_min"] + i * (p["d_max"] - p["d_min"]) / 3)) for i in range(4)], p["epsilon"])
        - evaluate((th.coherence_rate()), p)),
    symbol=r"\frac{d \log n^*}{d\, d}",
    measure=num.measure_coherence_exponent,
    trials={"quick": 300, "default": 400, "full": 800},
    grids={
        "quick": ({"d_min": 16, "d_max": 64, "epsilon": 0.5},),
        "default": ({"d_min": 16, "d_max": 64, "epsilon": 0.5}, {"d_min": 24, "d_max": 96, "epsilon": 0.4}),
        "full": ({"d_min": 16, "d_max": 64, "epsilon": 0.5}, {"d_min": 32, "d_max": 128, "epsilon": 0.4}),
    },
    negative_controls=(
        NegativeControl("deletion_rate", "rate -(1/2) ln(1 - eps^2) (the alteration-method rate, not reached by "
                        "i.i.d. keys)", prediction=lambda: (2 * th.coherence_rate())),
        NegativeControl("polynomial_growth", "no exponential growth (rate 0: n polynomial in d)",
                        prediction=lambda: sp.Integer(0)),
    ),
    strategy={"d_min": (16, 24), "d_max": (56, 72), "epsilon": (0.45, 0.55)},
))

register(Claim(
    id="expressivity.dimension.cache_size",
    statement="Tracking T swaps of n elements with d = ceil(4 ln n / eps^2) (eps = 1/8) and values coded by the "
              "keys, the KU cache holds 2 (n + T) ceil(256 ln n) floats: O(T log n), against the n^2 state of "
              "an exact linear-kernel tracker.",
    anchor="§4; notes §5.5 (space cost) and §9 item 26",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="floats in the cached keys and u's of a run that decodes every step correctly (NaN otherwise)",
        distributions="coherent keys (greedy code) in R^d, values v_e = k_e; swaps uniform",
        conditioning="one random run per point",
        notes="The symbolic side also proves cache/(T ln n) -> 8/eps^2 and cache(T = n)/n^2 -> 0.",
    ),
    params=(Param("n", 2, 16, description="number of elements"), Param("T", 1, 300, description="number of swaps")),
    derivation=th.cache_size,
    symbol=r"\#\mathrm{cache}",
    measure=num.measure_cache_size,
    grids={
        "quick": ({"n": 5, "T": 16}, {"n": 12, "T": 100}),
        "default": ({"n": 5, "T": 16}, {"n": 12, "T": 100}, {"n": 16, "T": 300}),
        "full": ({"n": 5, "T": 100}, {"n": 16, "T": 300}),
    },
    negative_controls=(
        NegativeControl("linear_state", "the n^2 state of a linear-kernel tracker", prediction=lambda: th.n**2),
        NegativeControl("one_hot_keys", "one-hot keys (d = n): the O(T n) cache of the orthonormal layout",
                        variant="one_hot_keys"),
    ),
    atol=0.0,
    strategy={"n": (2, 12), "T": (1, 120)},
))

# --- negative eigenvalues ------------------------------------------------------------------------

register(Claim(
    id="expressivity.householder.permutation_tracking",
    statement="A swap is the reflection I - 2 k k^T with k = (e_i - e_j)/sqrt 2, so DeltaNet with beta = 2 "
              "(eigenvalue -1) tracks words over S_n exactly, each letter a product of at most n - 1 "
              "generalized Householder transitions.",
    anchor="§4 (negative eigenvalues); Grazzi et al. 2024",
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
    anchor="§4 (negative eigenvalues); Grazzi et al. 2024",
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
    anchor="§4 (negative eigenvalues); special case of Grazzi et al. 2024, Theorem 1",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over output coordinates of the sign changes of o_{t+1} - o_t, t < T",
        distributions="k uniform unit, S_0, v, q Gaussian, beta ~ U[0, 1]",
        conditioning="one random layer per point; differences below 1e-9 x scale are float noise and skipped",
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
    anchor="§4; notes §6 E.4 (DAG reachability, companion §4.2) and §9 item 28",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="entries where U differs from sum_{k<n} A^k (integer powers) plus entries where U > 0 differs "
                 "from depth-first reachability",
        distributions="random DAG: each edge j -> i (j < i) present independently with probability edge_prob",
        conditioning="one random DAG per point; integer arithmetic (path counts < 2^53 on the domain)",
    ),
    params=(Param("n", 2, 40, description="nodes"),
            Param("edge_prob", 0.0, 1.0, integer=False, description="edge probability")),
    derivation=th.reachability_inverse,
    prediction=lambda: sp.Integer(0),
    symbol=r"\#\{(i,j): U_{ij} \ne (\sum_k A^k)_{ij}\} + \#\{U_{ij} > 0 \ne j \leadsto i\}",
    measure=num.measure_reachability,
    grids={
        "quick": ({"n": 12, "edge_prob": 0.3}, {"n": 32, "edge_prob": 0.2}),
        "default": ({"n": 12, "edge_prob": 0.3}, {"n": 32, "edge_prob": 0.2}, {"n": 40, "edge_prob": 0.9}),
        "full": ({"n": 12, "edge_prob": 0.3}, {"n": 40, "edge_prob": 0.9}),
    },
    negative_controls=(
        NegativeControl("one_hop", "I + A: only paths of length <= 1", variant="one_hop"),
        NegativeControl("alternating", "(I + A)^{-1} = sum_k (-A)^k: the DeltaNet sign", variant="alternating"),
    ),
    atol=0.0,
    strategy={"n": (2, 40), "edge_prob": (0.0, 1.0)},
))
