"""Section ``capacity``, topic ``linear``: retrieval SNR of the linear memory (paper §3.2, Eq. 7).

Four estimands, each with its exact finite-size value, then the paper's ``N/d_k`` as their
common limit and the linear growth of capacity in ``d_k``.
"""

from __future__ import annotations

import sympy as sp

from numerics import linear_memory as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 evaluate, register)
from theory import linear_memory as th
from theory.symbols import N, d_k, d_v, key_norm2, value_norm2

_N = Param("N", 1, 8192, description="number of stored pairs")
_DK = Param("d_k", 1, 1024, description="key dimension")
_DV = Param("d_v", 1, 1024, description="value dimension")
_GAUSS = "k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}) i.i.d. for all pairs; query q = k_i"
_SMALL_N = Constraint("N <= 9 (N - 1 vs N resolvable at the default trial counts)", lambda p: p["N"] <= 9)


def _norm_caps(fraction_k: float, fraction_v: float):
    """Test search space: realised norms set off their typical values so norm-blind formulas are caught."""
    def build(claim):
        from proofs_check.strategies import domain_strategy

        return domain_strategy(claim, {"N": (2, 600), "d_k": (4, 64), "d_v": (4, 64)},
                               derived={"key_norm2": lambda p: fraction_k * p["d_k"],
                                        "value_norm2": lambda p: fraction_v * p["d_v"]})
    return build


register(Claim(
    id="capacity.linear.inverse_snr_conditional",
    statement="Conditional on the stored pair, the linear memory's inverse retrieval SNR is exactly "
              "(N - 1) d_v / (||k_i||^2 ||v_i||^2).",
    anchor="§3.2, SNR definition and Eq. (7)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E_{k_j, v_j, j != i} ||r||^2 / (c^2 ||v_i||^2), c = ||k_i||^2 (the paper's definition)",
        distributions=_GAUSS,
        conditioning="conditional on (k_i, v_i) with ||k_i||^2 = key_norm2, ||v_i||^2 = value_norm2",
        notes="Typical norms are key_norm2 = d_k and value_norm2 = d_v, where the value is (N - 1)/d_k.",
    ),
    params=(_N, _DK, _DV,
            Param("key_norm2", 1e-6, 1e6, integer=False, description="||k_i||^2 of the stored key"),
            Param("value_norm2", 1e-6, 1e6, integer=False, description="||v_i||^2 of the stored value")),
    derivation=th.inverse_snr_conditional,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{cond}}",
    measure=num.measure_inverse_snr_conditional,
    trials={"quick": 1000, "default": 1000, "full": 2000},
    grids={
        "quick": ({"N": 9, "d_k": 4, "d_v": 4, "key_norm2": 2.0, "value_norm2": 4.0},
                  {"N": 64, "d_k": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 8.0}),
        "default": ({"N": 9, "d_k": 4, "d_v": 4, "key_norm2": 2.0, "value_norm2": 4.0},
                    {"N": 64, "d_k": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 8.0},
                    {"N": 512, "d_k": 64, "d_v": 64, "key_norm2": 32.0, "value_norm2": 64.0}),
        "full": ({"N": 9, "d_k": 4, "d_v": 4, "key_norm2": 2.0, "value_norm2": 4.0},
                 {"N": 512, "d_k": 64, "d_v": 64, "key_norm2": 32.0, "value_norm2": 64.0},
                 {"N": 2048, "d_k": 256, "d_v": 256, "key_norm2": 128.0, "value_norm2": 256.0}),
    },
    negative_controls=(
        NegativeControl("typical_norms", "(N - 1)/d_k: the realised norms replaced by their typical values",
                        prediction=lambda: (N - 1) / d_k),
        NegativeControl("no_value_dim", "(N - 1)/(||k_i||^2 ||v_i||^2): the factor d_v dropped",
                        prediction=lambda: (N - 1) / (key_norm2 * value_norm2)),
        NegativeControl("N_not_N_minus_1", "N d_v/(||k_i||^2 ||v_i||^2): the query's own pair counted as noise",
                        prediction=lambda: N * d_v / (key_norm2 * value_norm2), applies_when=_SMALL_N),
    ),
    strategy=_norm_caps(0.5, 1.0),
))

register(Claim(
    id="capacity.linear.inverse_snr_mean",
    statement="Averaged over Gaussian stored pairs, the conditional inverse SNR is exactly "
              "(N - 1) d_v / ((d_k - 2)(d_v - 2)).",
    anchor="§3.2, Eq. (7); exact value: suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E_{k_i, v_i}[ (N - 1) d_v / (||k_i||^2 ||v_i||^2) ] (mean of the conditional value)",
        distributions=_GAUSS,
        conditioning="none: the stored pair is random too",
        notes="Finite for d_k, d_v > 2; the Monte Carlo SE is valid only for d_k, d_v > 4 (finite variance "
              "of 1/chi^2), hence the domain.",
    ),
    params=(_N, Param("d_k", 5, 1024, description="key dimension (> 4: finite MC variance)"),
            Param("d_v", 5, 1024, description="value dimension (> 4: finite MC variance)")),
    derivation=th.inverse_snr_mean,
    symbol=r"\mathbb{E}_{k_i,v_i}\,\mathrm{SNR}^{-1}_{\mathrm{cond}}",
    measure=num.measure_inverse_snr_mean,
    trials={"quick": 4000, "default": 8000, "full": 20000},
    grids={
        "quick": ({"N": 17, "d_k": 8, "d_v": 8}, {"N": 65, "d_k": 16, "d_v": 6}),
        "default": ({"N": 17, "d_k": 8, "d_v": 8}, {"N": 65, "d_k": 16, "d_v": 6},
                    {"N": 256, "d_k": 32, "d_v": 32}),
        "full": ({"N": 17, "d_k": 8, "d_v": 8}, {"N": 256, "d_k": 32, "d_v": 32}, {"N": 512, "d_k": 64, "d_v": 64}),
    },
    negative_controls=(
        NegativeControl("plug_in_norms", "(N - 1)/d_k: typical norms plugged in before averaging",
                        prediction=lambda: (N - 1) / d_k),
        NegativeControl("ratio_estimand", "(N - 1)/(d_k + 2): the ratio-of-expectations value",
                        prediction=lambda: (N - 1) / (d_k + 2)),
    ),
    strategy={"N": (2, 300), "d_k": (8, 48), "d_v": (8, 48)},
))

register(Claim(
    id="capacity.linear.inverse_snr_ratio",
    statement="The ratio of expectations E||r||^2 / E||c v_i||^2 for Gaussian keys and values is exactly "
              "(N - 1)/(d_k + 2).",
    anchor="§3.2, Eq. (7); exact value: suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E||r||^2 / E[c^2 ||v_i||^2], c = ||k_i||^2",
        distributions=_GAUSS,
        conditioning="none; every stored key of a trial is queried, the trial is the unit of the SE",
    ),
    params=(_N, _DK, _DV),
    derivation=th.inverse_snr_ratio,
    symbol=r"\mathbb{E}\|r\|^2 / \mathbb{E}\|c\,v_i\|^2",
    measure=num.measure_inverse_snr_ratio,
    trials={"quick": 200, "default": 400, "full": 400},
    grids={
        "quick": ({"N": 16, "d_k": 4, "d_v": 4}, {"N": 128, "d_k": 16, "d_v": 8}),
        "default": ({"N": 16, "d_k": 4, "d_v": 4}, {"N": 128, "d_k": 16, "d_v": 8},
                    {"N": 256, "d_k": 64, "d_v": 64}),
        "full": ({"N": 16, "d_k": 4, "d_v": 4}, {"N": 256, "d_k": 64, "d_v": 64},
                 {"N": 2048, "d_k": 256, "d_v": 64}),
    },
    negative_controls=(
        NegativeControl("paper_asymptote", "N/d_k: the paper's asymptotic value used as exact",
                        prediction=lambda: N / d_k),
        NegativeControl("sphere_value", "(N - 1)/d_k: d_k in place of d_k + 2 (unit-key value)",
                        prediction=lambda: (N - 1) / d_k),
    ),
    strategy={"N": (2, 400), "d_k": (4, 48), "d_v": (4, 32)},
))

register(Claim(
    id="capacity.linear.inverse_snr_sphere",
    statement="With keys uniform on the unit sphere the ratio-of-expectations inverse SNR is exactly (N - 1)/d_k.",
    anchor="§3.2, Eq. (7); unit keys as in Xiao's re-derivation (notes S8)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E||r||^2 / E[c^2 ||v_i||^2], c = ||k_i||^2 = 1",
        distributions="k_j uniform on S^{d_k - 1}, v_j ~ N(0, I_{d_v}), i.i.d.; query q = k_i",
        conditioning="none; every stored key of a trial is queried",
    ),
    params=(_N, _DK, _DV),
    derivation=th.inverse_snr_sphere,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{sphere}}",
    measure=num.measure_inverse_snr_sphere,
    trials={"quick": 1000, "default": 1000, "full": 1000},
    grids={
        "quick": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 128, "d_k": 16, "d_v": 8}),
        "default": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 128, "d_k": 16, "d_v": 8},
                    {"N": 256, "d_k": 64, "d_v": 32}),
        "full": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 256, "d_k": 64, "d_v": 32},
                 {"N": 2048, "d_k": 256, "d_v": 16}),
    },
    negative_controls=(
        NegativeControl("gaussian_value", "(N - 1)/(d_k + 2): the Gaussian-key value",
                        prediction=lambda: (N - 1) / (d_k + 2)),
        NegativeControl("value_norm_kept", "(N - 1) d_v/d_k: E||r||^2/c^2 without dividing by ||v_i||^2",
                        prediction=lambda: (N - 1) * d_v / d_k),
        NegativeControl("paper_asymptote", "N/d_k: the paper's asymptotic value used as exact",
                        prediction=lambda: N / d_k,
                        applies_when=Constraint("N <= 8 (N - 1 vs N resolvable)", lambda p: p["N"] <= 8)),
    ),
    strategy={"N": (2, 400), "d_k": (4, 48), "d_v": (4, 32)},
))

register(Claim(
    id="capacity.linear.paper_limit",
    statement="The paper's SNR^{-1} ~ N/d_k is the common limit of all four exact estimands "
              "(N = a d_k, d_k -> infinity), and at finite size the ratio estimand deviates from it by "
              "exactly (d_k + 2N)/(d_k (d_k + 2)).",
    anchor="§3.2, Eq. (7)",
    provenance=Provenance.PAPER,
    kind=Kind.ASYMPTOTIC,
    estimand=Estimand(
        quantity="E||r||^2 / E[c^2 ||v_i||^2] (simulated) against N/d_k, allowing the finite-size deviation",
        distributions=_GAUSS,
        conditioning="none",
        notes="The symbolic side proves lim exact/(N/d_k) = 1 for the conditional (typical norms), mean, "
              "ratio and sphere estimands.",
    ),
    params=(_N, _DK, _DV),
    derivation=th.paper_limit,
    prediction=th.inverse_snr_paper,
    bound=lambda p: evaluate(th.paper_limit_deviation(), p),
    symbol=r"\mathrm{SNR}^{-1}",
    measure=num.measure_inverse_snr_ratio,
    trials={"quick": 200, "default": 400, "full": 400},
    grids={
        "quick": ({"N": 8, "d_k": 32, "d_v": 8}, {"N": 256, "d_k": 32, "d_v": 8}),
        "default": ({"N": 8, "d_k": 32, "d_v": 8}, {"N": 256, "d_k": 32, "d_v": 8},
                    {"N": 512, "d_k": 128, "d_v": 16}),
        "full": ({"N": 8, "d_k": 32, "d_v": 8}, {"N": 512, "d_k": 128, "d_v": 16},
                 {"N": 2048, "d_k": 256, "d_v": 32}),
    },
    negative_controls=(
        NegativeControl("double", "2N/d_k", prediction=lambda: 2 * N / d_k),
        NegativeControl("half", "N/(2 d_k)", prediction=lambda: N / (2 * d_k)),
    ),
    strategy={"N": (2, 400), "d_k": (4, 64), "d_v": (4, 32)},
))

register(Claim(
    id="capacity.linear.capacity_slope",
    statement="At a fixed target SNR the linear memory's capacity grows linearly in d_k: the fitted "
              "exponent of capacity against d_k is 1.",
    anchor="§3.2 ('capacity is proportional to d_k')",
    provenance=Provenance.PAPER,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="OLS slope of log C(d_k) on log d_k, C = number of other pairs a typical stored pair "
                 "tolerates at SNR^{-1} = rho (conditional estimand, ||k_i||^2 = d_k, ||v_i||^2 = d_v)",
        distributions=_GAUSS + " (d_v = 8)",
        conditioning="d_k on the doubling grid d_min, 2 d_min, ..., d_max; one MC run per d_k",
        notes="With C = rho d_k exactly, the slope is 1 at every finite grid, so the check is the plain "
              "z*SE rule: the confidence interval of the fitted slope must contain 1.",
    ),
    params=(Param("d_min", 4, 256, description="smallest key dimension"),
            Param("d_max", 16, 1024, description="largest key dimension"),
            Param("rho", 0.05, 20.0, integer=False, description="target inverse SNR")),
    constraints=(Constraint("d_max >= 4 d_min (at least 3 grid points)", lambda p: p["d_max"] >= 4 * p["d_min"]),),
    derivation=th.capacity_exponent,
    symbol=r"\frac{d \log C}{d \log d_k}",
    measure=num.measure_capacity_exponent,
    trials={"quick": 300, "default": 400, "full": 800},
    grids={
        "quick": ({"d_min": 8, "d_max": 64, "rho": 1.0},),
        "default": ({"d_min": 8, "d_max": 64, "rho": 1.0}, {"d_min": 16, "d_max": 256, "rho": 0.5}),
        "full": ({"d_min": 16, "d_max": 256, "rho": 0.5}, {"d_min": 16, "d_max": 512, "rho": 2.0}),
    },
    negative_controls=(
        NegativeControl("sqrt_capacity", "capacity ~ sqrt(d_k)", prediction=lambda: sp.Rational(1, 2)),
        NegativeControl("quadratic_capacity", "capacity ~ d_k^2", prediction=lambda: sp.Integer(2)),
        NegativeControl("gaussian_finite_size", "capacity 1 + rho (d_k + 2) of the ratio estimand over "
                        "d_k = 8..64 (slope 0.86): the exact-value check tells the estimands apart",
                        prediction=lambda: sp.Float(0.86), applies_when=Constraint(
                            "d_min = 8, d_max = 64, rho = 1", lambda p: (p["d_min"], p["d_max"], p["rho"]) == (8, 64, 1.0))),
    ),
    strategy={"d_min": (4, 16), "d_max": (16, 64), "rho": (0.25, 4.0)},
))
