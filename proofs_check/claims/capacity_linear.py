"""Section ``capacity``, topic ``linear``: retrieval SNR of the linear memory (paper §3, Eq. 7).

Four estimands, each with its exact finite-size value, then the paper's ``N/d_k`` as their
common limit and the linear growth of capacity in ``d_k``.

Every statistical point is planned (``proofs_check.engine``): ``trials`` is the batch size, the
first batch the pilot. Near-miss controls (``N`` for ``N - 1``, ``d_k + 1`` for ``d_k + 2``,
``d_k - 1`` for ``d_k - 2``, the slope of a neighbouring capacity definition) apply at every grid
point; grids are chosen so that each is resolved within the cap, and the ``applies_when`` bounds
say where that stops being affordable.
"""

from __future__ import annotations

import sympy as sp

from numerics import linear_memory as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 evaluate, register)
from theory import linear_memory as th
from theory.symbols import N, d_k, d_v, key_norm2, value_norm2

_N = Param("N", 2, 8192, description="number of stored pairs (N = 1 has no crosstalk to simulate)")
_DK = Param("d_k", 1, 1024, description="key dimension")
_DV = Param("d_v", 1, 1024, description="value dimension")
_GAUSS = "k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}) i.i.d. for all pairs; query q = k_i"
_BATCHES = {"quick": 2000, "default": 8000, "full": 16000}  # trials per batch (the pilot is one batch)


_RESOLVABLE = 2300  # v / s^2 below this: (1.25 x 10.53)^2 x 2300 ~ 400k trials, inside the default cap (64 x 8000)


def _resolvable(slip: str, s, v, v_text: str) -> Constraint:
    """Where a near-miss control of relative size ``s`` is resolvable within the default trial cap.

    A control ``s`` (relative) from the prediction needs about ``(1.25 SEPARATION)^2 v / s^2`` trials,
    ``v`` the estimator's per-trial relative variance (its closed form, stated in ``v_text``).
    """
    return Constraint(f"{slip} resolvable within the default trial cap: v/s^2 <= {_RESOLVABLE}, "
                      f"s the slip's relative size, v = {v_text} the per-trial relative variance",
                      lambda p: v(p) / s(p) ** 2 <= _RESOLVABLE)


def _m(p) -> int:
    return max(p["N"] - 1, 1)  # interfering pairs (N = 1: no crosstalk, every slip is trivially resolved)


# Per-trial relative variances of the reduced estimators (chi^2 moments; see numerics/linear_memory.py).
_V_CONDITIONAL = (lambda p: 2 / _m(p), "2/(N - 1)")
_V_MEAN = (lambda p: (1 + 2 / _m(p)) * (1 + 2 / (p["d_k"] - 4)) * (1 + 2 / (p["d_v"] - 4)) - 1,
           "(1 + 2/(N-1))(1 + 2/(d_k-4))(1 + 2/(d_v-4)) - 1")
_V_RATIO = (lambda p: (2 + 8 / (p["d_k"] + 2)) / p["d_k"] + 2 * (p["d_k"] + 2) / (p["d_k"] * _m(p)),
            "(2 + 8/(d_k+2))/d_k + 2(d_k+2)/(d_k (N-1))")
_V_SPHERE = (lambda p: 2 * (p["d_k"] - 1) / ((p["d_k"] + 2) * _m(p)), "2(d_k-1)/((d_k+2)(N-1))")
_V_LIMIT = (lambda p: 2 / p["d_k"] + 2 / p["N"], "about 2/d_k + 2/N (nested sizes; measured)")
_N_SLIP = lambda p: 1 / _m(p)  # noqa: E731  N for N - 1


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
    anchor="§3, the SNR definition (notes §4.2 [secondary]) and Eq. (7); suite: the exact conditional value "
           "(notes §4.3, claim 2 [inferred])",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E_{k_j, v_j, j != i} ||r||^2 / (c^2 ||v_i||^2), c = ||k_i||^2 (the paper's definition)",
        distributions=_GAUSS,
        conditioning="conditional on (k_i, v_i) with ||k_i||^2 = key_norm2, ||v_i||^2 = value_norm2",
        notes="Typical norms are key_norm2 = d_k and value_norm2 = d_v, where the value is (N - 1)/d_k; grid "
              "points set both norms off their typical values, so a formula blind to either fails. "
              "Simulated through the scores k_j^T k_i ~ N(0, ||k_i||^2) with the values integrated out; the "
              "memory read-out route is checked against it in tests/test_linear_memory.py.",
    ),
    params=(_N, _DK, _DV,
            Param("key_norm2", 1e-6, 1e6, integer=False, description="||k_i||^2 of the stored key"),
            Param("value_norm2", 1e-6, 1e6, integer=False, description="||v_i||^2 of the stored value")),
    derivation=th.inverse_snr_conditional,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{cond}}",
    measure=num.measure_inverse_snr_conditional,
    trials=_BATCHES,
    grids={
        "quick": ({"N": 9, "d_k": 4, "d_v": 4, "key_norm2": 2.0, "value_norm2": 6.0},
                  {"N": 33, "d_k": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0}),
        "default": ({"N": 9, "d_k": 4, "d_v": 4, "key_norm2": 2.0, "value_norm2": 6.0},
                    {"N": 65, "d_k": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0},
                    {"N": 257, "d_k": 64, "d_v": 64, "key_norm2": 32.0, "value_norm2": 48.0}),
        "full": ({"N": 9, "d_k": 4, "d_v": 4, "key_norm2": 2.0, "value_norm2": 6.0},
                 {"N": 257, "d_k": 64, "d_v": 64, "key_norm2": 32.0, "value_norm2": 48.0},
                 {"N": 1025, "d_k": 256, "d_v": 256, "key_norm2": 128.0, "value_norm2": 384.0}),
    },
    negative_controls=(
        NegativeControl("N_not_N_minus_1", "N d_v/(||k_i||^2 ||v_i||^2): the query's own pair counted as noise",
                        prediction=lambda: N * d_v / (key_norm2 * value_norm2),
                        applies_when=_resolvable("N for N - 1", _N_SLIP, *_V_CONDITIONAL),
                        near_miss=True),
        NegativeControl("typical_norms", "(N - 1)/d_k: the realised norms replaced by their typical values",
                        prediction=lambda: (N - 1) / d_k),
        NegativeControl("no_value_dim", "(N - 1)/(||k_i||^2 ||v_i||^2): the factor d_v dropped",
                        prediction=lambda: (N - 1) / (key_norm2 * value_norm2)),
    ),
    strategy=_norm_caps(0.5, 1.5),
))

register(Claim(
    id="capacity.linear.inverse_snr_mean",
    statement="Averaged over Gaussian stored pairs, the conditional inverse SNR is exactly "
              "(N - 1) d_v / ((d_k - 2)(d_v - 2)).",
    anchor="§3, Eq. (7); exact value: suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E_{k_i, v_i}[ (N - 1) d_v / (||k_i||^2 ||v_i||^2) ] (mean of the conditional value)",
        distributions=_GAUSS,
        conditioning="none: the stored pair is random too",
        notes="Finite for d_k, d_v > 2; the Monte Carlo SE is valid only for d_k, d_v > 4 (finite variance "
              "of 1/chi^2), hence the domain. Grid points keep d_k, d_v >= 10 so that the SE's own "
              "spread is finite too (E chi^{-8} needs d > 8).",
    ),
    params=(_N, Param("d_k", 5, 1024, description="key dimension (> 4: finite MC variance)"),
            Param("d_v", 5, 1024, description="value dimension (> 4: finite MC variance)")),
    derivation=th.inverse_snr_mean,
    symbol=r"\mathbb{E}_{k_i,v_i}\,\mathrm{SNR}^{-1}_{\mathrm{cond}}",
    measure=num.measure_inverse_snr_mean,
    trials={"quick": 4000, "default": 8000, "full": 16000},  # 1/chi^2 tails: a larger quick pilot
    grids={
        "quick": ({"N": 17, "d_k": 10, "d_v": 16}, {"N": 33, "d_k": 32, "d_v": 24}),
        "default": ({"N": 17, "d_k": 10, "d_v": 16}, {"N": 33, "d_k": 32, "d_v": 24},
                    {"N": 65, "d_k": 64, "d_v": 48}),
        "full": ({"N": 17, "d_k": 10, "d_v": 16}, {"N": 65, "d_k": 64, "d_v": 48}, {"N": 257, "d_k": 128, "d_v": 64}),
    },
    negative_controls=(
        NegativeControl("d_k_minus_1", "(N - 1) d_v/((d_k - 1)(d_v - 2)): E[1/chi^2(d_k)] taken as 1/(d_k - 1)",
                        prediction=lambda: (N - 1) * d_v / ((d_k - 1) * (d_v - 2)),
                        applies_when=_resolvable("d_k - 1 for d_k - 2", lambda p: 1 / (p["d_k"] - 1), *_V_MEAN),
                        near_miss=True),
        NegativeControl("d_v_minus_1", "(N - 1) d_v/((d_k - 2)(d_v - 1)): E[1/chi^2(d_v)] taken as 1/(d_v - 1)",
                        prediction=lambda: (N - 1) * d_v / ((d_k - 2) * (d_v - 1)),
                        applies_when=_resolvable("d_v - 1 for d_v - 2", lambda p: 1 / (p["d_v"] - 1), *_V_MEAN),
                        near_miss=True),
        NegativeControl("N_not_N_minus_1", "N d_v/((d_k - 2)(d_v - 2)): the query's own pair counted as noise",
                        prediction=lambda: N * d_v / ((d_k - 2) * (d_v - 2)),
                        applies_when=_resolvable("N for N - 1", _N_SLIP, *_V_MEAN),
                        near_miss=True),
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
    anchor="§3, Eq. (7); exact value: suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E||r||^2 / E[c^2 ||v_i||^2], c = ||k_i||^2",
        distributions=_GAUSS,
        conditioning="none; one query per trial (scores given k_i, values integrated), the trial is the unit "
                     "of the delta-method SE",
        notes="d_v cancels; the memory read-out route (every stored key queried through S) is checked against "
              "the reduced one in tests/test_linear_memory.py.",
    ),
    params=(_N, _DK, _DV),
    derivation=th.inverse_snr_ratio,
    symbol=r"\mathbb{E}\|r\|^2 / \mathbb{E}\|c\,v_i\|^2",
    measure=num.measure_inverse_snr_ratio,
    trials=_BATCHES,
    grids={
        "quick": ({"N": 16, "d_k": 4, "d_v": 4}, {"N": 32, "d_k": 16, "d_v": 8}),
        "default": ({"N": 16, "d_k": 4, "d_v": 4}, {"N": 64, "d_k": 16, "d_v": 8},
                    {"N": 128, "d_k": 64, "d_v": 64}),
        "full": ({"N": 16, "d_k": 4, "d_v": 4}, {"N": 128, "d_k": 64, "d_v": 64},
                 {"N": 512, "d_k": 256, "d_v": 64}),
    },
    negative_controls=(
        NegativeControl("d_k_plus_1", "(N - 1)/(d_k + 1): E||k_i||^4 taken as d_k (d_k + 1)",
                        prediction=lambda: (N - 1) / (d_k + 1), near_miss=True,
                        applies_when=_resolvable("d_k + 1 for d_k + 2", lambda p: 1 / (p["d_k"] + 1), *_V_RATIO)),
        NegativeControl("N_not_N_minus_1", "N/(d_k + 2): the query's own pair counted as noise",
                        prediction=lambda: N / (d_k + 2), near_miss=True,
                        applies_when=_resolvable("N for N - 1", _N_SLIP, *_V_RATIO)),
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
    anchor="§3, Eq. (7); unit keys as in Xiao's re-derivation (notes S8)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="E||r||^2 / E[c^2 ||v_i||^2], c = ||k_i||^2 = 1",
        distributions="k_j uniform on S^{d_k - 1}, v_j ~ N(0, I_{d_v}), i.i.d.; query q = k_i",
        conditioning="none; one query per trial (scores g_1/||g|| drawn given the query, values integrated)",
    ),
    params=(_N, _DK, _DV),
    derivation=th.inverse_snr_sphere,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{sphere}}",
    measure=num.measure_inverse_snr_sphere,
    trials=_BATCHES,
    grids={
        "quick": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 32, "d_k": 16, "d_v": 8}),
        "default": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 64, "d_k": 16, "d_v": 8},
                    {"N": 128, "d_k": 64, "d_v": 32}),
        "full": ({"N": 8, "d_k": 4, "d_v": 4}, {"N": 128, "d_k": 64, "d_v": 32},
                 {"N": 512, "d_k": 256, "d_v": 16}),
    },
    negative_controls=(
        NegativeControl("paper_asymptote", "N/d_k: N for N - 1 (the paper's asymptotic value used as exact)",
                        prediction=lambda: N / d_k, near_miss=True,
                        applies_when=_resolvable("N for N - 1", _N_SLIP, *_V_SPHERE)),
        NegativeControl("d_k_plus_1", "(N - 1)/(d_k + 1): E(k_j^T k_i)^2 from Beta(1/2, d_k/2) instead of "
                        "Beta(1/2, (d_k - 1)/2)", prediction=lambda: (N - 1) / (d_k + 1),
                        applies_when=_resolvable("d_k + 1 for d_k + 2", lambda p: 1 / (p["d_k"] + 1), *_V_SPHERE),
                        near_miss=True),
        NegativeControl("gaussian_value", "(N - 1)/(d_k + 2): the Gaussian-key value",
                        prediction=lambda: (N - 1) / (d_k + 2)),
        NegativeControl("value_norm_kept", "(N - 1) d_v/d_k: E||r||^2/c^2 without dividing by ||v_i||^2",
                        prediction=lambda: (N - 1) * d_v / d_k),
    ),
    strategy={"N": (2, 400), "d_k": (4, 48), "d_v": (4, 32)},
))

register(Claim(
    id="capacity.linear.paper_limit",
    statement="The paper's SNR^{-1} ~ N/d_k is the limit of the exact estimands as N and d_k grow together: "
              "the ratio estimand simulated at (N, d_k), (2N, 2 d_k), (4N, 4 d_k) and extrapolated "
              "quadratically in 1/d_k reaches N/d_k (the finite-size values, the extrapolation and its "
              "bound are the suite's; the limit is the paper's).",
    anchor="§3, Eq. (7) (notes §4.3, from reviews S4-S6); finite-size half: suite",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.ASYMPTOTIC,
    estimand=Estimand(
        quantity="lim_{s -> oo} E||r||^2 / E[c^2 ||v_i||^2] at (s N, s d_k): Monte Carlo ratio-of-means at "
                 "s = 1, 2, 4, extrapolated to 1/d_k -> 0 through the quadratic in 1/d_k (weights 1/3, -2, 8/3)",
        distributions=_GAUSS,
        conditioning="none; the three sizes are simulated independently in every trial; joint delta-method SE",
        notes="The symbolic side proves lim exact/(N/d_k) = 1 for the conditional (typical norms), mean, ratio "
              "and sphere estimands. The bound is the extrapolation's own bias on the suite's exact ratio "
              "(N - 1)/(d_k + 2), an O(d_k^-3) term computed without the paper's formula, so a wrong limit "
              "cannot widen its own tolerance. Provenance: the limit is the paper's statement as the reviews "
              "report it (reconstructed); the exact finite-size values, the extrapolation and its bound are the "
              "suite's.",
    ),
    params=(_N, Param("d_k", 2, 1024, description="key dimension of the smallest size")),
    derivation=th.paper_limit,
    prediction=th.inverse_snr_paper,
    bound=lambda p: abs(evaluate(th.ratio_limit_extrapolation_bias(), p)),
    symbol=r"\mathrm{SNR}^{-1}",
    measure=num.measure_inverse_snr_ratio_limit,
    trials=_BATCHES,
    grids={
        "quick": ({"N": 8, "d_k": 32}, {"N": 32, "d_k": 32}),
        "default": ({"N": 8, "d_k": 32}, {"N": 32, "d_k": 32}, {"N": 128, "d_k": 32}),
        "full": ({"N": 8, "d_k": 32}, {"N": 128, "d_k": 32}, {"N": 256, "d_k": 64}),
    },
    negative_controls=(
        NegativeControl("largest_size_as_limit", "(4N - 1)/(4 d_k + 2): the limit read off the largest size "
                        "simulated, without extrapolating; its formula is checked against that reading of the "
                        "same draws", prediction=th.ratio_at_largest_scale, near_miss=True, route="largest_size",
                        applies_when=_resolvable("the limit read off (4N, 4 d_k)",
                                                 lambda p: (2 * p["N"] + p["d_k"]) / (p["N"] * (4 * p["d_k"] + 2)),
                                                 *_V_LIMIT)),
        NegativeControl("double", "2N/d_k", prediction=lambda: 2 * N / d_k),
        NegativeControl("half", "N/(2 d_k)", prediction=lambda: N / (2 * d_k)),
    ),
    strategy={"N": (2, 64), "d_k": (4, 32)},
))

register(Claim(
    id="capacity.linear.capacity_slope",
    statement="At a fixed target SNR the linear memory's capacity grows linearly in d_k: the fitted "
              "exponent of capacity against d_k is 1.",
    anchor="§3 ('capacity is proportional to d_k'; notes §4.3, from reviews S4-S6)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.STATISTICAL,
    estimand=Estimand(
        quantity="OLS slope of log C(d_k) on log d_k, C = number of other pairs a typical stored pair "
                 "tolerates at SNR^{-1} = rho (conditional estimand, ||k_i||^2 = d_k, ||v_i||^2 = d_v)",
        distributions=_GAUSS + " (d_v = 8)",
        conditioning="d_k on the doubling grid d_min, 2 d_min, ..., d_max; every trial draws once at each d_k",
        notes="With C = rho d_k exactly, the slope is 1 at every finite grid, so the check is the plain "
              "z*SE rule. Neighbouring capacity definitions have finite-grid slopes a few per cent away "
              "(ratio estimand rho (d_k + 2), mean estimand rho (d_k - 2)(d_v - 2)/d_v, pairs counted "
              "with the query 1 + rho d_k): the near-miss controls.",
    ),
    params=(Param("d_min", 4, 256, description="smallest key dimension"),
            Param("d_max", 16, 1024, description="largest key dimension"),
            Param("rho", 0.05, 20.0, integer=False, description="target inverse SNR")),
    constraints=(Constraint("d_max >= 4 d_min (at least 3 grid points)", lambda p: p["d_max"] >= 4 * p["d_min"]),),
    derivation=th.capacity_exponent,
    symbol=r"\frac{d \log C}{d \log d_k}",
    measure=num.measure_capacity_exponent,
    trials=_BATCHES,
    grids={
        "quick": ({"d_min": 8, "d_max": 64, "rho": 1.0},),
        "default": ({"d_min": 8, "d_max": 64, "rho": 1.0}, {"d_min": 16, "d_max": 256, "rho": 0.5}),
        "full": ({"d_min": 16, "d_max": 256, "rho": 0.5}, {"d_min": 16, "d_max": 512, "rho": 2.0}),
    },
    negative_controls=(
        NegativeControl("ratio_estimand_capacity", "slope of rho (d_k + 2) over the grid: capacity defined by "
                        "the ratio-of-expectations estimand", near_miss=True,
                        prediction=lambda: th.capacity_slope_of(th.capacity_ratio_estimand())),
        NegativeControl("mean_estimand_capacity", "slope of rho (d_k - 2)(d_v - 2)/d_v over the grid: capacity "
                        "defined by the mean over the stored pair", near_miss=True,
                        prediction=lambda: th.capacity_slope_of(th.capacity_mean_estimand().subs(d_v, 8))),
        NegativeControl("counting_query", "slope of 1 + rho d_k over the grid: capacity counted as stored pairs N "
                        "rather than interfering pairs N - 1", near_miss=True,
                        prediction=lambda: th.capacity_slope_of(th.capacity_counting_query())),
        NegativeControl("sqrt_capacity", "capacity ~ sqrt(d_k)", prediction=lambda: sp.Rational(1, 2)),
        NegativeControl("quadratic_capacity", "capacity ~ d_k^2", prediction=lambda: sp.Integer(2)),
    ),
    strategy={"d_min": (4, 16), "d_max": (16, 64), "rho": (0.25, 4.0)},
))
