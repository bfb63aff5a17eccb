"""Section ``capacity``: kernel memories (paper §3, "kernel mapping" and "exponential kernel").

Topics: ``poly`` (polynomial kernels and their feature map), ``kernel`` (ReLU), ``exp`` (the
exponential kernel of softmax attention, with its three estimands), ``expansion`` (the exp kernel
as the limit of the polynomial family), ``norm`` (the softmax denominator), ``compare`` (capacity
growth laws and the retrieval-accuracy cliff).
"""

from __future__ import annotations

import sympy as sp

from numerics import kernels as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 register)
from proofs_check.strategies import off_typical_norms
from theory import kernels as th
from theory.linear_memory import doubling_grid
from theory.symbols import N, d_k, d_v, key_norm2, p, tau, value_norm2

_N = Param("N", 2, 10**6, description="number of stored pairs")
_DK = Param("d_k", 1, 1024, description="key dimension")
_DV = Param("d_v", 1, 1024, description="value dimension")
_KN = Param("key_norm2", 1e-3, 1e4, integer=False, description="||k_i||^2 of the stored key")
_VN = Param("value_norm2", 1e-3, 1e4, integer=False, description="||v_i||^2 of the stored value")
_GAUSS = "k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}) i.i.d. for the other pairs; query q = k_i"
_COND = "conditional on (k_i, v_i): ||k_i||^2 = key_norm2 (direction uniform), ||v_i||^2 = value_norm2"
_SMALL_N = Constraint("N <= 9 (N - 1 vs N resolvable)", lambda q: q["N"] <= 9)


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

# --- exponential kernel -------------------------------------------------------------------------

_TAU = Param("tau", 0.5, 64.0, integer=False, description="temperature")
_EXP_HEAVY = ("Heavy-tailed: kappa^2 is log-normal with log-variance 4||k_i||^2/tau^2; the numeric side uses "
              "exact integration over the values and tilted importance sampling over the keys, and reports ESS.")

register(Claim(
    id="capacity.exp.inverse_snr_conditional",
    statement="For the exponential kernel exp(x^T y/tau) with Gaussian keys, E[kappa^2 | k_i] = "
              "exp(2||k_i||^2/tau^2) exactly (Gaussian MGF), so SNR^{-1} = (N-1) (d_v/||v_i||^2) "
              "exp(2 (1 - tau) ||k_i||^2 / tau^2).",
    anchor="§3, exponential kernel (notes §4.5; S6 formula truncated after 'N exp(2(', completion inferred)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E_{k_j, v_j} ||r||^2 / (exp(2||k_i||^2/tau) ||v_i||^2), r = sum_{j!=i} v_j exp(k_j^T k_i/tau)",
                      distributions=_GAUSS, conditioning=_COND, notes=_EXP_HEAVY),
    params=(_N, Param("d_k", 1, 256, description="key dimension"), _DV, _KN, _VN, _TAU),
    derivation=th.inverse_snr_exp,
    symbol=r"\mathrm{SNR}^{-1}_{\exp}",
    measure=num.measure_inverse_snr_exp,
    trials={"quick": 50, "default": 200, "full": 400},
    grids={"quick": ({"N": 1000, "d_k": 16, "d_v": 8, "key_norm2": 12.0, "value_norm2": 10.0, "tau": 2.0},
                     {"N": 9, "d_k": 64, "d_v": 16, "key_norm2": 80.0, "value_norm2": 16.0, "tau": 8.0}),
           "default": ({"N": 1000, "d_k": 16, "d_v": 8, "key_norm2": 12.0, "value_norm2": 10.0, "tau": 2.0},
                       {"N": 9, "d_k": 64, "d_v": 16, "key_norm2": 80.0, "value_norm2": 16.0, "tau": 8.0},
                       {"N": 10**6, "d_k": 64, "d_v": 64, "key_norm2": 60.0, "value_norm2": 64.0, "tau": 1.5}),
           "full": ({"N": 1000, "d_k": 16, "d_v": 8, "key_norm2": 12.0, "value_norm2": 10.0, "tau": 2.0},
                    {"N": 9, "d_k": 64, "d_v": 16, "key_norm2": 80.0, "value_norm2": 16.0, "tau": 8.0},
                    {"N": 10**6, "d_k": 128, "d_v": 64, "key_norm2": 120.0, "value_norm2": 64.0, "tau": 3.0})},
    negative_controls=(
        NegativeControl("typical_norms", "(N-1) exp(2 d_k (1-tau)/tau^2): typical norms plugged in",
                        prediction=lambda: (N - 1) * sp.exp(th.exp_typical_exponent())),
        NegativeControl("tau_not_squared", "exp(2(1-tau)||k_i||^2/tau): MGF exponent with tau for tau^2",
                        prediction=lambda: (N - 1) * d_v / value_norm2 * sp.exp(2 * (1 - tau) * key_norm2 / tau)),
        NegativeControl("N_not_N_minus_1", "N in place of N - 1", applies_when=_SMALL_N,
                        prediction=lambda: N * d_v / value_norm2 * sp.exp(2 * (1 - tau) * key_norm2 / tau**2)),
    ),
    atol=0.0,  # relative precision comes from the estimator's rounding-floored SE
    strategy=_off_typical({"N": (2, 5000), "d_k": (2, 48), "d_v": (2, 16), "tau": (0.75, 12.0)}),
))

register(Claim(
    id="capacity.exp.optimal_temperature",
    statement="At a typical key (||k_i||^2 = d_k) the exp-kernel SNR^{-1} exponent 2 d_k (1 - tau)/tau^2 is "
              "minimised at tau = 2, where it equals -d_k/2.",
    anchor="§3, exponential kernel (notes §4.5 and claim 7: inferred optimum)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="argmin over tau of the numerically estimated typical-key SNR^{-1}",
                      distributions="k_j ~ N(0, I_{d_k}) (64 tilted draws, common random numbers across tau)",
                      conditioning="||k_i||^2 = d_k", notes="Bounded Brent minimisation, xatol 1e-9."),
    params=(Param("d_k", 9, 512, description="key dimension (>= 9 so that sqrt(d_k) != 2)"),),
    derivation=th.exp_typical_optimum,
    prediction=lambda: sp.Integer(2),
    symbol=r"\tau^*",
    measure=num.measure_exp_optimal_temperature,
    grids={"quick": ({"d_k": 16}, {"d_k": 64}), "default": ({"d_k": 16}, {"d_k": 64}, {"d_k": 256}),
           "full": ({"d_k": 16}, {"d_k": 64}, {"d_k": 512})},
    negative_controls=(NegativeControl("sqrt_d", "tau* = sqrt(d_k), the conventional scale", prediction=lambda: sp.sqrt(d_k)),
                       NegativeControl("unit", "tau* = 1", prediction=lambda: sp.Integer(1))),
    atol=1e-5,
    strategy={"d_k": (9, 128)},
))

register(Claim(
    id="capacity.exp.typical_tau2",
    statement="At a typical stored pair and tau = 2 the exp-kernel SNR^{-1} is (N - 1) e^{-d_k/2}: capacity "
              "exponential in d_k.",
    anchor="§3, exponential kernel (notes §4.5, claim 7; S8: softmax capacity O(e^{d/2}))",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="conditional SNR^{-1} at ||k_i||^2 = d_k, ||v_i||^2 = d_v, tau = 2",
                      distributions=_GAUSS, conditioning="typical stored pair", notes=_EXP_HEAVY),
    params=(_N, Param("d_k", 1, 256, description="key dimension"), _DV),
    derivation=th.inverse_snr_exp_typical,
    symbol=r"\mathrm{SNR}^{-1}_{\exp}(\tau=2)",
    measure=num.measure_inverse_snr_exp_typical,
    fixed={"tau_choice": 0},
    trials={"quick": 50, "default": 100, "full": 200},
    grids={"quick": ({"N": 4096, "d_k": 16, "d_v": 8}, {"N": 10**6, "d_k": 32, "d_v": 16}),
           "default": ({"N": 4096, "d_k": 16, "d_v": 8}, {"N": 10**6, "d_k": 32, "d_v": 16}, {"N": 100, "d_k": 64, "d_v": 64}),
           "full": ({"N": 4096, "d_k": 16, "d_v": 8}, {"N": 10**6, "d_k": 32, "d_v": 16}, {"N": 100, "d_k": 128, "d_v": 64})},
    negative_controls=(
        NegativeControl("mean_estimand", "(N-1) 2^{-d_k/2}: the mean-over-k_i decay taken for the typical one",
                        prediction=lambda: (N - 1) * 2 ** (-d_k / 2)),
        NegativeControl("sqrt_d_value", "(N-1) exp(-2(sqrt(d_k) - 1)): the tau = sqrt(d_k) value",
                        prediction=lambda: (N - 1) * sp.exp(-2 * (sp.sqrt(d_k) - 1)),
                        applies_when=Constraint("d_k != 4", lambda q: q["d_k"] != 4)),
    ),
    atol=0.0,  # relative precision comes from the estimator's rounding-floored SE
    strategy={"N": (2, 10**5), "d_k": (1, 64), "d_v": (1, 32)},
))

register(Claim(
    id="capacity.exp.typical_sqrt_d",
    statement="At a typical stored pair and the conventional tau = sqrt(d_k) the exp-kernel SNR^{-1} is "
              "(N - 1) exp(-2 (sqrt(d_k) - 1)): capacity grows like e^{2 sqrt(d_k)}, not e^{d_k/2}.",
    anchor="§3, exponential kernel (notes §4.5 and claim 8: inferred)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="conditional SNR^{-1} at ||k_i||^2 = d_k, ||v_i||^2 = d_v, tau = sqrt(d_k)",
                      distributions=_GAUSS, conditioning="typical stored pair", notes=_EXP_HEAVY),
    params=(_N, Param("d_k", 1, 256, description="key dimension"), _DV),
    derivation=th.inverse_snr_exp_sqrt_d,
    symbol=r"\mathrm{SNR}^{-1}_{\exp}(\tau=\sqrt{d_k})",
    measure=num.measure_inverse_snr_exp_typical,
    fixed={"tau_choice": 1},
    trials={"quick": 50, "default": 100, "full": 200},
    grids={"quick": ({"N": 4096, "d_k": 16, "d_v": 8}, {"N": 10**6, "d_k": 64, "d_v": 16}),
           "default": ({"N": 4096, "d_k": 16, "d_v": 8}, {"N": 10**6, "d_k": 64, "d_v": 16}, {"N": 100, "d_k": 128, "d_v": 64}),
           "full": ({"N": 4096, "d_k": 16, "d_v": 8}, {"N": 10**6, "d_k": 64, "d_v": 16}, {"N": 100, "d_k": 256, "d_v": 64})},
    negative_controls=(
        NegativeControl("optimal_tau_value", "(N-1) e^{-d_k/2}: the tau = 2 value",
                        prediction=lambda: (N - 1) * sp.exp(-d_k / 2),
                        applies_when=Constraint("d_k != 4", lambda q: q["d_k"] != 4)),
    ),
    atol=0.0,  # relative precision comes from the estimator's rounding-floored SE
    strategy={"N": (2, 10**5), "d_k": (5, 100), "d_v": (1, 32)},
))

register(Claim(
    id="capacity.exp.inverse_snr_mean",
    statement="Averaged over Gaussian stored pairs, the exp-kernel conditional SNR^{-1} is "
              "(N-1) d_v/(d_v-2) ((tau^2 + 4 tau - 4)/tau^2)^{-d_k/2}; at tau = 2 it decays only like 2^{-d_k/2}, "
              "because short stored keys dominate the mean.",
    anchor="§3, exponential kernel; mean estimand: suite (method guide §1)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E_{k_i, v_i}[ conditional SNR^{-1} ]", distributions=_GAUSS + "; k_i, v_i Gaussian too",
                      conditioning="none", notes="Relative variance ((1+2c)^2/(1+4c))^{d_k/2}, c = 2(tau-1)/tau^2, "
                      "so plain sampling of k_i suffices for d_k <= 24 at tau >= 1 (domain); needs d_v > 4 for a "
                      "finite-variance E 1/||v_i||^2."),
    params=(_N, Param("d_k", 1, 24, description="key dimension (<= 24: ESS of the k_i average)"),
            Param("d_v", 5, 1024, description="value dimension (> 4)"),
            Param("tau", 1.0, 64.0, integer=False, description="temperature (>= 1)")),
    derivation=th.inverse_snr_exp_mean,
    symbol=r"\mathbb{E}_{k_i,v_i}\mathrm{SNR}^{-1}_{\exp}",
    measure=num.measure_inverse_snr_exp_mean,
    trials={"quick": 8000, "default": 16000, "full": 32000},
    grids={"quick": ({"N": 1000, "d_k": 16, "d_v": 16, "tau": 2.0}, {"N": 50, "d_k": 8, "d_v": 8, "tau": 4.0}),
           "default": ({"N": 1000, "d_k": 16, "d_v": 16, "tau": 2.0}, {"N": 50, "d_k": 8, "d_v": 8, "tau": 4.0},
                       {"N": 10**6, "d_k": 20, "d_v": 64, "tau": 2.0}),
           "full": ({"N": 1000, "d_k": 16, "d_v": 16, "tau": 2.0}, {"N": 50, "d_k": 8, "d_v": 8, "tau": 4.0},
                    {"N": 10**6, "d_k": 24, "d_v": 64, "tau": 2.0})},
    negative_controls=(
        NegativeControl("typical_plug_in", "(N-1) d_v/(d_v-2) exp(2 d_k (1-tau)/tau^2): typical key plugged in",
                        prediction=lambda: (N - 1) * d_v / (d_v - 2) * sp.exp(th.exp_typical_exponent())),
        NegativeControl("typical_keys_route", "stored keys fixed at ||k_i||^2 = d_k", variant="typical_keys"),
    ),
    strategy={"N": (2, 10**4), "d_k": (2, 16), "d_v": (8, 32), "tau": (1.5, 6.0)},
))

register(Claim(
    id="capacity.exp.inverse_snr_ratio",
    statement="The ratio of expectations E||r||^2 / E[kappa(k_i,k_i)^2 ||v_i||^2] for the exp kernel is "
              "(N-1) ((1 - 4/tau)/(1 - 4/tau^2))^{d_k/2}, finite only for tau > 4 (E exp(2||k_i||^2/tau) diverges "
              "otherwise).",
    anchor="§3, exponential kernel; ratio estimand: suite (method guide §1)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E||r||^2 / E[exp(2||k_i||^2/tau) ||v_i||^2]", distributions=_GAUSS + "; k_i, v_i Gaussian",
                      conditioning="none",
                      notes="The denominator has infinite variance under plain sampling for tau <= 8: numerator "
                            "and denominator are sampled independently, k_i from the exponential tilt of each."),
    params=(_N, Param("d_k", 1, 64, description="key dimension"), _DV,
            Param("tau", 4.5, 64.0, integer=False, description="temperature (> 4 for a finite value)")),
    derivation=th.inverse_snr_exp_ratio,
    symbol=r"\mathbb{E}\|r\|^2/\mathbb{E}\|c\,v_i\|^2",
    measure=num.measure_inverse_snr_exp_ratio,
    trials={"quick": 4000, "default": 8000, "full": 16000},
    grids={"quick": ({"N": 100, "d_k": 8, "d_v": 8, "tau": 6.0}, {"N": 1000, "d_k": 16, "d_v": 16, "tau": 12.0}),
           "default": ({"N": 100, "d_k": 8, "d_v": 8, "tau": 6.0}, {"N": 1000, "d_k": 16, "d_v": 16, "tau": 12.0},
                       {"N": 10**6, "d_k": 32, "d_v": 16, "tau": 8.0}),
           "full": ({"N": 100, "d_k": 8, "d_v": 8, "tau": 6.0}, {"N": 1000, "d_k": 16, "d_v": 16, "tau": 12.0},
                    {"N": 10**6, "d_k": 64, "d_v": 16, "tau": 16.0})},
    negative_controls=(
        NegativeControl("typical_plug_in", "(N-1) exp(2 d_k (1-tau)/tau^2): the typical-key value",
                        prediction=lambda: (N - 1) * sp.exp(th.exp_typical_exponent())),
        NegativeControl("mean_estimand", "(N-1) ((tau^2+4tau-4)/tau^2)^{-d_k/2}: the mean of the conditional value",
                        prediction=lambda: (N - 1) * ((tau**2 + 4 * tau - 4) / tau**2) ** (-d_k / 2)),
    ),
    strategy={"N": (2, 10**4), "d_k": (4, 24), "d_v": (2, 16), "tau": (5.0, 16.0)},
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

# --- normalization ------------------------------------------------------------------------------

register(Claim(
    id="capacity.norm.softmax_invariance",
    statement="Dividing the exp-kernel weights by the softmax denominator Z scales signal and noise alike: "
              "||r||^2/(c^2 ||v_i||^2) is unchanged in every realisation, so every SNR estimand is unchanged.",
    anchor="§3, normalization (notes §4.6 (i): inferred)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max relative difference of the per-query ratio with and without 1/Z",
                      distributions="keys N(0, I_{d_k}), values N(0, I_{d_v}); 16 stored keys queried",
                      conditioning="one memory; exact in exact arithmetic"),
    params=(Param("N", 2, 4096, description="stored pairs"), Param("d_k", 1, 256, description="key dimension"),
            Param("d_v", 1, 256, description="value dimension"), _TAU),
    derivation=th.normalization_invariance,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max|\rho_{\mathrm{softmax}} - \rho_{\exp}|/\rho_{\exp}",
    measure=num.measure_normalization_invariance,
    grids={"quick": ({"N": 64, "d_k": 8, "d_v": 4, "tau": 2.0}, {"N": 512, "d_k": 32, "d_v": 16, "tau": 5.6}),
           "default": ({"N": 64, "d_k": 8, "d_v": 4, "tau": 2.0}, {"N": 512, "d_k": 32, "d_v": 16, "tau": 5.6},
                       {"N": 4096, "d_k": 64, "d_v": 32, "tau": 8.0}),
           "full": ({"N": 64, "d_k": 8, "d_v": 4, "tau": 2.0}, {"N": 4096, "d_k": 64, "d_v": 32, "tau": 8.0})},
    negative_controls=(NegativeControl("noise_only", "only the noise divided by Z", variant="noise_only"),),
    atol=1e-9,
    strategy={"N": (2, 512), "d_k": (2, 32), "d_v": (1, 16), "tau": (1.0, 8.0)},
))

_MU = Param("mu_norm2", 0.0, 100.0, integer=False, description="||mu||^2 of the value mean")
register(Claim(
    id="capacity.norm.value_mean",
    statement="With values mu + N(0, I) the exp-kernel crosstalk gains a coherent term: SNR^{-1} = [(N-1)(d_v + ||mu||^2) "
              "e^{2||k_i||^2/tau^2} + (N-1)(N-2) ||mu||^2 e^{||k_i||^2/tau^2}] e^{-2||k_i||^2/tau}/||v_i||^2, growing like "
              "N^2; subtracting mu (exact only after softmax normalization, whose weights sum to 1) restores the zero-mean SNR.",
    anchor="§3, normalization (notes §4.6: GAP; derived here)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||sum_{j!=i} kappa_j v_j||^2 / (kappa_ii^2 ||v_i||^2)",
                      distributions="k_j ~ N(0, I_{d_k}), v_j = mu + N(0, I_{d_v}) i.i.d.", conditioning=_COND,
                      notes="Plain read-out MC (no analytic integration); domain key_norm2/tau^2 <= 1/2 keeps "
                            "the log-normal weights light enough."),
    params=(_N, Param("d_k", 1, 256, description="key dimension"), _DV, _KN, _VN, _TAU, _MU),
    constraints=(Constraint("key_norm2 / tau^2 <= 1/2", lambda q: q["key_norm2"] <= 0.5 * q["tau"] ** 2),),
    derivation=th.inverse_snr_value_mean,
    symbol=r"\mathrm{SNR}^{-1}_{\exp,\mu}",
    measure=num.measure_inverse_snr_value_mean,
    trials={"quick": 3000, "default": 6000, "full": 12000},
    grids={"quick": ({"N": 50, "d_k": 8, "d_v": 8, "key_norm2": 2.0, "value_norm2": 8.0, "tau": 2.0, "mu_norm2": 0.25},
                     {"N": 200, "d_k": 16, "d_v": 4, "key_norm2": 8.0, "value_norm2": 4.0, "tau": 4.0, "mu_norm2": 1.0}),
           "default": ({"N": 50, "d_k": 8, "d_v": 8, "key_norm2": 2.0, "value_norm2": 8.0, "tau": 2.0, "mu_norm2": 0.25},
                       {"N": 200, "d_k": 16, "d_v": 4, "key_norm2": 8.0, "value_norm2": 4.0, "tau": 4.0, "mu_norm2": 1.0}),
           "full": ({"N": 50, "d_k": 8, "d_v": 8, "key_norm2": 2.0, "value_norm2": 8.0, "tau": 2.0, "mu_norm2": 0.25},
                    {"N": 1000, "d_k": 32, "d_v": 16, "key_norm2": 16.0, "value_norm2": 16.0, "tau": 8.0, "mu_norm2": 0.5})},
    negative_controls=(
        NegativeControl("mean_ignored", "the zero-mean formula (mu ignored)",
                        prediction=lambda: th.inverse_snr_exp().result),
        NegativeControl("incoherent_mean", "the mean counted as extra variance only, without the (N-1)(N-2) term",
                        prediction=lambda: th.inverse_snr_value_mean().result.subs(N - 2, 0)),
        NegativeControl("centered_route", "values centered before storing", variant="centered"),
    ),
    strategy=_off_typical({"N": (3, 100), "d_k": (4, 16), "d_v": (2, 8), "tau": (3.0, 6.0), "mu_norm2": (0.1, 2.0)},
                          kf=0.25, vf=1.0),
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


register(Claim(
    id="capacity.compare.exp_slope",
    statement="At tau = 2 and typical keys the exp kernel's capacity grows like e^{d_k/2}: the fitted slope of "
              "log N* against d_k is 1/2 (the mean estimand would give log(2)/2).",
    anchor="§3, exponential kernel (notes claim 7; S8: O(e^{d/2}))",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.ASYMPTOTIC,
    estimand=Estimand(quantity="OLS slope of log N* on d_k (d_k = d_min, d_min + 4, ..., d_max), typical stored pair",
                      distributions=_GAUSS + " (d_v = 8)", conditioning="||k_i||^2 = d_k, ||v_i||^2 = d_v",
                      notes="Bound: distance from 1/2 of the exact slope of log(1 + rho e^{d/2}) on the same grid."),
    params=(Param("d_min", 4, 64, description="smallest d_k"), Param("d_max", 12, 256, description="largest d_k"),
            Param("rho", 0.05, 20.0, integer=False, description="target SNR^{-1}")),
    constraints=(Constraint("d_max >= d_min + 8", lambda q: q["d_max"] >= q["d_min"] + 8),),
    derivation=th.capacity_exp_slope,
    prediction=lambda: sp.Rational(1, 2),
    bound=lambda q: abs(th.capacity_exp_slope_finite_size(range(q["d_min"], q["d_max"] + 1, 4), q["rho"]) - 0.5),
    symbol=r"\frac{d\log N^*}{d\,d_k}",
    measure=num.measure_exp_capacity_slope,
    trials={"quick": 20, "default": 40, "full": 80},
    grids={"quick": ({"d_min": 8, "d_max": 32, "rho": 1.0},),
           "default": ({"d_min": 8, "d_max": 32, "rho": 1.0}, {"d_min": 16, "d_max": 128, "rho": 0.1}),
           "full": ({"d_min": 8, "d_max": 32, "rho": 1.0}, {"d_min": 16, "d_max": 256, "rho": 0.1})},
    negative_controls=(NegativeControl("mean_estimand_slope", "slope log(2)/2 of the mean over k_i",
                                       prediction=lambda: sp.log(2) / 2),
                       NegativeControl("sqrt_d_slope", "slope 1/4", prediction=lambda: sp.Rational(1, 4))),
    atol=1e-9,
    strategy={"d_min": (4, 16), "d_max": (24, 48), "rho": (0.25, 4.0)},
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

