"""Section ``capacity``: the exponential kernel of softmax attention (paper §3, "exponential kernel").

Topics: ``exp`` (the exp kernel's SNR under its three estimands, the optimal temperature, the
typical-key values at tau = 2 and tau = sqrt(d_k)), ``norm`` (the softmax denominator and value
means), ``compare`` (the e^{d_k/2} capacity growth).
"""

from __future__ import annotations

import sympy as sp

from numerics import exp_kernel as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 register)
from proofs_check.strategies import off_typical_norms
from theory import kernels as th
from theory.symbols import N, d_k, d_v, key_norm2, tau, value_norm2

_N = Param("N", 2, 10**6, description="number of stored pairs")
_DV = Param("d_v", 1, 1024, description="value dimension")
_KN = Param("key_norm2", 1e-3, 1e4, integer=False, description="||k_i||^2 of the stored key")
_VN = Param("value_norm2", 1e-3, 1e4, integer=False, description="||v_i||^2 of the stored value")
_GAUSS = "k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}) i.i.d. for the other pairs; query q = k_i"
_COND = "conditional on (k_i, v_i): ||k_i||^2 = key_norm2 (direction uniform), ||v_i||^2 = value_norm2"
_SMALL_N = Constraint("N <= 9 (N - 1 vs N resolvable)", lambda q: q["N"] <= 9)
_TAU = Param("tau", 0.5, 64.0, integer=False, description="temperature")
_EXP_HEAVY = ("Heavy-tailed: kappa^2 is log-normal with log-variance 4||k_i||^2/tau^2; the numeric side uses "
              "exact integration over the values and tilted importance sampling over the keys, and reports ESS.")
_MU = Param("mu_norm2", 0.0, 100.0, integer=False, description="||mu||^2 of the value mean")


def _off_typical(caps, kf=0.5, vf=1.5):
    return off_typical_norms(caps, key_fraction=kf, value_fraction=vf)


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
