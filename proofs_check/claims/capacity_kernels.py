"""Section ``capacity``: kernel memories (paper §3, "kernel mapping" and "exponential kernel").

Topics: ``poly`` (polynomial kernels and their feature map), ``kernel`` (ReLU), ``expansion`` (the
exp kernel as the limit of the polynomial family), ``compare`` (the polynomial capacity growth law
and the retrieval-accuracy cliff). The exponential kernel itself is in :mod:`.capacity_exp`.
"""

from __future__ import annotations

import sympy as sp

from numerics import kernels as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 register)
from proofs_check.strategies import off_typical_norms
from theory import kernels as th
from theory.linear_memory import doubling_grid
from theory.symbols import N, d_k, d_v, key_norm2, p, value_norm2

_N = Param("N", 2, 10**6, description="number of stored pairs")
_DK = Param("d_k", 1, 1024, description="key dimension")
_DV = Param("d_v", 1, 1024, description="value dimension")
_KN = Param("key_norm2", 1e-3, 1e4, integer=False, description="||k_i||^2 of the stored key")
_VN = Param("value_norm2", 1e-3, 1e4, integer=False, description="||v_i||^2 of the stored value")
_GAUSS = "k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}) i.i.d. for the other pairs; query q = k_i"
_COND = "conditional on (k_i, v_i): ||k_i||^2 = key_norm2 (direction uniform), ||v_i||^2 = value_norm2"
_SMALL_N = Constraint("N <= 9 (N - 1 vs N resolvable)", lambda q: q["N"] <= 9)
_TAU = Param("tau", 0.5, 64.0, integer=False, description="temperature")


def _off_typical(caps, kf=0.5, vf=1.5):
    return off_typical_norms(caps, key_fraction=kf, value_fraction=vf)


# --- polynomial kernels -------------------------------------------------------------------------

register(Claim(
    id="capacity.poly.inverse_snr_conditional",
    statement="For the polynomial kernel (x^T y)^p with Gaussian keys, E[(k_j^T k_i)^{2p} | k_i] = "
              "(2p-1)!! ||k_i||^{2p}, so SNR^{-1} = (N-1) d_v (2p-1)!! / (||k_i||^{2p} ||v_i||^2) "
              "(= (N-1)(2p-1)!!/d_k^p at typical norms); p = 1 is the linear memory.",
    anchor="§3, kernel mapping (general-kernel SNR, notes §4.4); polynomial case: suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E_{k_j, v_j} ||r||^2 / (kappa(k_i,k_i)^2 ||v_i||^2), r = sum_{j!=i} v_j (k_j^T k_i)^p",
                      distributions=_GAUSS, conditioning=_COND),
    params=(_N, _DK, _DV, _KN, _VN, Param("p", 1, 4, description="polynomial degree")),
    derivation=th.inverse_snr_poly,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{poly}}",
    measure=num.measure_inverse_snr_poly,
    trials={"quick": 2000, "default": 4000, "full": 8000},
    grids={
        "quick": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0, "p": 2},
                  {"N": 17, "d_k": 16, "d_v": 8, "key_norm2": 24.0, "value_norm2": 4.0, "p": 3}),
        "default": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0, "p": 2},
                    {"N": 17, "d_k": 16, "d_v": 8, "key_norm2": 24.0, "value_norm2": 4.0, "p": 3},
                    {"N": 65, "d_k": 32, "d_v": 8, "key_norm2": 16.0, "value_norm2": 8.0, "p": 1}),
        "full": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0, "p": 2},
                 {"N": 129, "d_k": 32, "d_v": 16, "key_norm2": 48.0, "value_norm2": 8.0, "p": 3},
                 {"N": 65, "d_k": 32, "d_v": 8, "key_norm2": 16.0, "value_norm2": 8.0, "p": 1}),
    },
    negative_controls=(
        NegativeControl("typical_norms", "(N-1)(2p-1)!!/d_k^p: typical norms in place of the realised ones",
                        prediction=lambda: (N - 1) * th.double_factorial_odd(p) / d_k**p),
        NegativeControl("no_double_factorial", "(N-1) d_v/(||k_i||^{2p} ||v_i||^2): the Gaussian moment "
                        "(2p-1)!! dropped", prediction=lambda: (N - 1) * d_v / (key_norm2**p * value_norm2),
                        applies_when=Constraint("p >= 2 (equal at p = 1)", lambda q: q["p"] >= 2)),
    ),
    strategy=_off_typical({"N": (2, 64), "d_k": (4, 24), "d_v": (2, 12), "p": (1, 3)}),
))

register(Claim(
    id="capacity.poly.feature_map_identity",
    statement="The explicit feature map phi_alpha(x) = sqrt(p!/alpha!) x^alpha over multi-indices |alpha| = p "
              "reproduces the polynomial kernel: phi(x)^T phi(y) = (x^T y)^p.",
    anchor="§3, kernel mapping (kappa = phi^T phi); suite",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max relative gap between phi(X) phi(Y)^T and (X Y^T)^p",
                      distributions="8 + 8 vectors N(0, I_d)", conditioning="one instance; exact in exact arithmetic",
                      notes="Symbolic side: d = 2, p = 3 with symbolic vectors (multinomial theorem)."),
    params=(Param("d", 1, 32, description="input dimension"), Param("p", 1, 4, description="degree")),
    derivation=th.poly_feature_map,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max|\phi(x)^\top\phi(y) - (x^\top y)^p|",
    measure=num.measure_feature_map_identity,
    grids={"quick": ({"d": 3, "p": 2}, {"d": 6, "p": 3}),
           "default": ({"d": 3, "p": 2}, {"d": 6, "p": 3}, {"d": 12, "p": 4}),
           "full": ({"d": 3, "p": 2}, {"d": 12, "p": 4}, {"d": 24, "p": 4})},
    negative_controls=(NegativeControl("no_multinomial", "monomials without the sqrt(p!/alpha!) coefficients",
                                       variant="no_multinomial",
                                       applies_when=Constraint("p >= 2 and d >= 2", lambda q: q["p"] >= 2 and q["d"] >= 2)),),
    atol=1e-10,
    strategy={"d": (1, 10), "p": (1, 4)},
))

register(Claim(
    id="capacity.poly.feature_map_dimension",
    statement="The feature space of (x^T y)^p in d dimensions has C(d + p - 1, p) coordinates (one per monomial).",
    anchor="§3, kernel mapping; suite",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="number of features enumerated by the explicit map",
                      distributions="none (combinatorial)", conditioning="exact count"),
    params=(Param("d", 1, 32, description="input dimension"), Param("p", 1, 4, description="degree")),
    derivation=th.poly_feature_map,
    prediction=th.feature_map_dimension,
    symbol=r"\dim\phi",
    measure=num.measure_feature_map_dimension,
    grids={"quick": ({"d": 3, "p": 2}, {"d": 16, "p": 3}),
           "default": ({"d": 3, "p": 2}, {"d": 16, "p": 3}, {"d": 32, "p": 4}),
           "full": ({"d": 3, "p": 2}, {"d": 16, "p": 3}, {"d": 32, "p": 4})},
    negative_controls=(NegativeControl("ordered_tuples", "d^p ordered index tuples", variant="ordered",
                                       applies_when=Constraint("p >= 2 and d >= 2", lambda q: q["p"] >= 2 and q["d"] >= 2)),),
    atol=0.0,
    strategy={"d": (1, 24), "p": (1, 4)},
))

# --- ReLU kernel --------------------------------------------------------------------------------

register(Claim(
    id="capacity.kernel.relu_conditional",
    statement="For the ReLU kernel max(x^T y, 0) with Gaussian keys, E[ReLU(k_j^T k_i)^2 | k_i] = ||k_i||^2/2 and "
              "SNR^{-1} = (N-1) d_v / (2 ||k_i||^2 ||v_i||^2): half the linear crosstalk, no change in growth.",
    anchor="§3, general-kernel SNR (notes §4.4, checkable claim 11: inferred for the ReLU kernel)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||r||^2 / (||k_i||^4 ||v_i||^2), r = sum_{j!=i} v_j ReLU(k_j^T k_i)",
                      distributions=_GAUSS, conditioning=_COND),
    params=(_N, _DK, _DV, _KN, _VN),
    derivation=th.inverse_snr_relu,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{ReLU}}",
    measure=num.measure_inverse_snr_relu,
    trials={"quick": 2000, "default": 4000, "full": 8000},
    grids={"quick": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0},
                     {"N": 129, "d_k": 32, "d_v": 8, "key_norm2": 40.0, "value_norm2": 8.0}),
           "default": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0},
                       {"N": 129, "d_k": 32, "d_v": 8, "key_norm2": 40.0, "value_norm2": 8.0},
                       {"N": 513, "d_k": 64, "d_v": 16, "key_norm2": 64.0, "value_norm2": 16.0}),
           "full": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0},
                    {"N": 513, "d_k": 64, "d_v": 16, "key_norm2": 64.0, "value_norm2": 16.0},
                    {"N": 2049, "d_k": 128, "d_v": 16, "key_norm2": 96.0, "value_norm2": 16.0})},
    negative_controls=(
        NegativeControl("linear_value", "(N-1) d_v/(||k_i||^2 ||v_i||^2): the linear kernel's crosstalk",
                        prediction=lambda: (N - 1) * d_v / (key_norm2 * value_norm2)),
        NegativeControl("abs_kernel", "|x^T y| in place of ReLU", variant="abs"),
    ),
    strategy=_off_typical({"N": (2, 128), "d_k": (4, 32), "d_v": (2, 12)}),
))


# --- kernel expansion ---------------------------------------------------------------------------

register(Claim(
    id="capacity.expansion.truncation_error",
    statement="Truncating exp(x^T y/tau) = sum_p (x^T y)^p/(tau^p p!) at degree P costs at most e^R - sum_{q<=P} R^q/q! "
              "over |x^T y/tau| <= R (attained at u = R; <= R^{P+1} e^R/(P+1)!, -> 0 as P grows): the exponential "
              "kernel is the limit of the polynomial family.",
    anchor="§3, kernel mapping / exponential kernel (infinite-dimensional feature map); suite",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max over |u| <= R of |e^u - sum_{q<=P} u^q/q!|",
                      distributions="dense grid of 2001 points plus 64 uniform draws on [-R, R]",
                      conditioning="deterministic up to the random points"),
    params=(Param("R", 0.05, 4.0, integer=False, description="bound on |x^T y|/tau"),
            Param("P", 0, 12, description="truncation degree")),
    derivation=th.truncation_bound,
    symbol=r"\max_{|u|\le R}|e^u - T_P(u)|",
    measure=num.measure_truncation_error,
    grids={"quick": ({"R": 1.0, "P": 2}, {"R": 4.0, "P": 8}),
           "default": ({"R": 1.0, "P": 2}, {"R": 4.0, "P": 8}, {"R": 3.0, "P": 12}),
           "full": ({"R": 1.0, "P": 2}, {"R": 4.0, "P": 8}, {"R": 3.0, "P": 12})},
    negative_controls=(
        NegativeControl("lagrange_bound", "the Lagrange bound R^{P+1} e^R/(P+1)! taken as the exact worst error",
                        prediction=th.taylor_remainder_bound),
        NegativeControl("negative_side", "worst error searched on u <= 0 only", variant="negative_side"),
    ),
    atol=1e-12,
    rtol=1e-7,
    strategy={"R": (0.1, 4.0), "P": (0, 12)},
))

register(Claim(
    id="capacity.expansion.truncated_snr",
    statement="The degree-P truncation sum_{q<=P} (x^T y/tau)^q/q! of the exp kernel has the exact inverse SNR "
              "(N-1) d_v E[kappa_P(Z)^2]/(kappa_P(k_i,k_i)^2 ||v_i||^2), a finite sum of Gaussian moments, which tends "
              "to the exp-kernel value as P grows (not monotonically).",
    anchor="§3, kernel mapping / exponential kernel (kernel expansion); suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||r||^2 / (kappa_P(k_i,k_i)^2 ||v_i||^2), r = sum_{j!=i} v_j kappa_P(k_j^T k_i)",
                      distributions=_GAUSS, conditioning=_COND),
    params=(_N, Param("d_k", 1, 256, description="key dimension"), _DV, _KN, _VN, _TAU,
            Param("P", 0, 12, description="truncation degree")),
    derivation=th.inverse_snr_truncated,
    symbol=r"\mathrm{SNR}^{-1}_{P}",
    measure=num.measure_inverse_snr_truncated,
    trials={"quick": 2000, "default": 4000, "full": 8000},
    grids={"quick": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0, "tau": 2.0, "P": 1},
                     {"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 8.0, "value_norm2": 6.0, "tau": 2.0, "P": 2}),
           "default": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0, "tau": 2.0, "P": 1},
                       {"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 8.0, "value_norm2": 6.0, "tau": 2.0, "P": 2},
                       {"N": 65, "d_k": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 8.0, "tau": 4.0, "P": 6}),
           "full": ({"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 4.0, "value_norm2": 6.0, "tau": 2.0, "P": 1},
                    {"N": 33, "d_k": 8, "d_v": 4, "key_norm2": 8.0, "value_norm2": 6.0, "tau": 2.0, "P": 2},
                    {"N": 65, "d_k": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 8.0, "tau": 4.0, "P": 6})},
    negative_controls=(
        NegativeControl("limit_value", "the exp-kernel value (the P -> oo limit) used at finite P",
                        prediction=lambda: th.inverse_snr_exp().result,
                        applies_when=Constraint("P <= 2 (the limit is reached within the SE for larger P)",
                                                lambda q: q["P"] <= 2)),
        NegativeControl("full_exp_route", "read-out with the untruncated exp kernel", variant="full_exp",
                        applies_when=Constraint("P <= 2", lambda q: q["P"] <= 2)),
    ),
    strategy={"N": (2, 64), "d_k": (4, 16), "d_v": (2, 8), "key_norm2": (1.0, 6.0), "value_norm2": (1.0, 8.0),
              "tau": (1.5, 4.0), "P": (0, 5)},
))


# --- capacity comparison ------------------------------------------------------------------------

register(Claim(
    id="capacity.compare.poly_exponent",
    statement="At a fixed target SNR the polynomial kernel's capacity grows like d_k^p/(2p-1)!!: the fitted "
              "exponent of capacity against d_k is p.",
    anchor="§3, kernel mapping; suite",
    provenance=Provenance.SUITE,
    kind=Kind.ASYMPTOTIC,
    estimand=Estimand(quantity="OLS slope of log N* on log d_k, N* = 1 + rho/g, g = MC crosstalk per pair",
                      distributions=_GAUSS + " (d_v = 8, N = 33)", conditioning="typical stored pair at each d_k",
                      notes="Bound: distance from p of the exact slope of 1 + rho d^p/(2p-1)!! on the same grid."),
    params=(Param("p", 1, 4, description="degree"), Param("d_min", 4, 64, description="smallest d_k"),
            Param("d_max", 16, 256, description="largest d_k"),
            Param("rho", 0.05, 20.0, integer=False, description="target SNR^{-1}")),
    constraints=(Constraint("d_max >= 4 d_min", lambda q: q["d_max"] >= 4 * q["d_min"]),),
    derivation=th.capacity_poly_exponent,
    prediction=lambda: p,
    bound=lambda q: abs(th.capacity_poly_exponent_finite_size(doubling_grid(q["d_min"], q["d_max"]), q["p"], q["rho"]) - q["p"]),
    symbol=r"\frac{d\log N^*}{d\log d_k}",
    measure=num.measure_poly_capacity_exponent,
    trials={"quick": 400, "default": 800, "full": 1600},
    grids={"quick": ({"p": 2, "d_min": 8, "d_max": 64, "rho": 1.0}, {"p": 3, "d_min": 8, "d_max": 32, "rho": 1.0}),
           "default": ({"p": 2, "d_min": 8, "d_max": 64, "rho": 1.0}, {"p": 3, "d_min": 8, "d_max": 32, "rho": 1.0}),
           "full": ({"p": 2, "d_min": 8, "d_max": 128, "rho": 1.0}, {"p": 3, "d_min": 8, "d_max": 64, "rho": 1.0})},
    negative_controls=(NegativeControl("linear_growth", "exponent 1 (no gain from the feature map)", prediction=lambda: 1,
                                       applies_when=Constraint("p >= 2", lambda q: q["p"] >= 2)),
                       NegativeControl("one_more", "exponent p + 1", prediction=lambda: p + 1)),
    strategy={"p": (1, 3), "d_min": (8, 8), "d_max": (32, 64), "rho": (0.5, 2.0)},
))


_CLIFF_TOL = 3.0  # log2 N: the cliff must sit within a factor 8 of the predicted SNR = 1 crossing
register(Claim(
    id="capacity.compare.accuracy_cliff",
    statement="Top-1 retrieval accuracy (read out, then pick the nearest stored value) collapses near the N where "
              "the predicted SNR crosses 1: log2 of the N at 50% accuracy is within 3 of log2 N*, N* = 1 + d_k^p/(2p-1)!! "
              "(quadratic kernel) or 1 + e^{d_k/2} (exp kernel, tau = 2).",
    anchor="§3, capacity comparison; suite",
    provenance=Provenance.SUITE,
    kind=Kind.ASYMPTOTIC,
    estimand=Estimand(quantity="log2 N at which the mean top-1 accuracy crosses 1/2 (doubling grid in N, linear "
                               "interpolation in log2 N)",
                      distributions="keys N(0, I_{d_k}), values uniform on the unit sphere of R^64; 64 sampled "
                                    "queries per memory, 4 memories per N",
                      conditioning="none",
                      notes=f"Stated tolerance {_CLIFF_TOL:g} in log2 N (the 'bound'). Measured: the cliff sits 1.5-2.7 "
                            "above the crossing, because nearest-value decoding over d_v = 64 coordinates tolerates "
                            "SNR^{-1} a little above 1."),
    params=(Param("kernel_id", 1, 2, description="1 quadratic (x^T y)^2, 2 exp (tau = 2)"),
            Param("d_k", 4, 25, description="key dimension (the search stops at N = 2^21)")),
    derivation=th.snr_crossing,
    prediction=lambda: sp.Piecewise((sp.log(th.snr_crossing().result[0], 2), sp.Eq(sp.Symbol("kernel_id"), 1)),
                                    (sp.log(th.snr_crossing().result[1], 2), True)),
    bound=lambda q: _CLIFF_TOL,
    symbol=r"\log_2 N_{\mathrm{cliff}}",
    measure=num.measure_accuracy_cliff,
    trials={"quick": 2, "default": 4, "full": 8},
    grids={"quick": ({"kernel_id": 1, "d_k": 16}, {"kernel_id": 2, "d_k": 16}),
           "default": ({"kernel_id": 1, "d_k": 16}, {"kernel_id": 2, "d_k": 16}, {"kernel_id": 1, "d_k": 24}),
           # the d_k = 24 exp point streams memories of up to 2^19 stored keys (peak RSS in bench/capacity_bench.py)
           # d_k = 25 takes the search to N = 2^20 keys (measured: 36 s, peak RSS 371 MB)
           "full": ({"kernel_id": 1, "d_k": 24}, {"kernel_id": 2, "d_k": 16}, {"kernel_id": 2, "d_k": 25})},
    negative_controls=(
        NegativeControl("linear_readout", "the linear memory read out instead of the kernel memory",
                        variant="linear_readout",
                        applies_when=Constraint("kernel_id = 2 and d_k >= 16 (closer cliffs are within "
                                                "the tolerance)", lambda q: q["kernel_id"] == 2 and q["d_k"] >= 16)),
        NegativeControl("linear_prediction", "cliff at the linear kernel's crossing log2(1 + d_k)",
                        prediction=lambda: sp.log(1 + d_k, 2)),
    ),
    strategy={"kernel_id": (1, 2), "d_k": (15, 16)},
))

