"""Section ``ffn``: the feed-forward layer as an associative memory (paper §3; notes §3.3, §4.7).

``FFN(x) = W_2 sigma(W_1 x) = sum_i v_i sigma(k_i^T x)``: keys are the rows of ``W_1``, values the
columns of ``W_2``, ``N = d_ff`` slots. The notes recover only that the paper calls this a
"ReLU-like kernel" memory; the SNR values below are derived here (provenance ``suite``) except the
ReLU case, which the notes state as an inferred hypothesis (``reconstructed``).
"""

from __future__ import annotations

import math

import sympy as sp

from numerics import ffn as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 register)
from proofs_check.strategies import domain_strategy, off_typical_norms
from theory import ffn as th
from theory.symbols import N, d_v, key_norm2, value_norm2

_N = Param("N", 2, 65536, description="number of slots d_ff")
_D = Param("d", 1, 1024, description="model (key) dimension")
_DV = Param("d_v", 1, 1024, description="value (output) dimension")
_KN = Param("key_norm2", 1e-3, 1e4, integer=False, description="||k_i||^2 of the queried slot's key")
_VN = Param("value_norm2", 1e-3, 1e4, integer=False, description="||v_i||^2 of the queried slot's value")
_GAUSS = "rows of W_1 ~ N(0, I_d), columns of W_2 ~ N(0, I_{d_v}), i.i.d.; query x = k_i (slot i's key)"
_COND = "conditional on slot i: ||k_i||^2 = key_norm2, ||v_i||^2 = value_norm2"


def _caps(caps, kf=0.5, vf=1.5):
    return off_typical_norms(caps, key_dim="d", key_fraction=kf, value_fraction=vf)


def _grid(*points):
    return points


register(Claim(
    id="ffn.relu.inverse_snr",
    statement="A ReLU FFN read as a memory (query = a slot's key) has SNR^{-1} = (N-1) d_v / (2 ||k_i||^2 ||v_i||^2) "
              "with N = d_ff: linear-memory capacity up to a factor 2.",
    anchor="§3, FFN as associative memory (notes §3.3, §4.7: 'ReLU-like kernel'; formula inferred)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||FFN(k_i) - h_i v_i||^2 / (h_i^2 ||v_i||^2), h_i = ReLU(||k_i||^2)",
                      distributions=_GAUSS, conditioning=_COND),
    params=(_N, _D, _DV, _KN, _VN),
    derivation=th.inverse_snr_relu_ffn,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{FFN,ReLU}}",
    measure=num.measure_ffn_inverse_snr,
    fixed={"activation": "relu"},
    trials={"quick": 1500, "default": 3000, "full": 6000},
    grids={"quick": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0},
                          {"N": 257, "d": 32, "d_v": 16, "key_norm2": 40.0, "value_norm2": 16.0}),
           "default": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0},
                            {"N": 512, "d": 64, "d_v": 16, "key_norm2": 80.0, "value_norm2": 16.0},
                            {"N": 2048, "d": 128, "d_v": 16, "key_norm2": 128.0, "value_norm2": 16.0}),
           "full": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0},
                         {"N": 2048, "d": 128, "d_v": 16, "key_norm2": 128.0, "value_norm2": 16.0})},
    negative_controls=(
        NegativeControl("linear_value", "(N-1) d_v/(||k_i||^2 ||v_i||^2): the ReLU's half-wave ignored",
                        prediction=lambda: (N - 1) * d_v / (key_norm2 * value_norm2)),
        NegativeControl("gated", "the gated (ReGLU) value 3 (N-1) d_v/(2 ||k_i||^4 ||v_i||^2)",
                        prediction=lambda: th.inverse_snr_reglu().result),
    ),
    strategy=_caps({"N": (2, 128), "d": (4, 32), "d_v": (2, 12)}),
))

register(Claim(
    id="ffn.gelu.inverse_snr",
    statement="A GELU FFN has E[GELU(Z)^2] = s^2 [1/4 + asin(s^2/(1+s^2))/(2 pi) + s^2/(pi (1+s^2) sqrt(1+2s^2))] "
              "(Z ~ N(0, s^2), s^2 = ||k_i||^2), hence SNR^{-1} = (N-1) d_v E[GELU(Z)^2]/(GELU(s^2)^2 ||v_i||^2); "
              "it approaches the ReLU value 1/(2 s^2) per slot at typical scale.",
    anchor="§3, FFN as associative memory (GELU: suite; closed form by Stein's lemma)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||FFN(k_i) - h_i v_i||^2 / (h_i^2 ||v_i||^2), h = GELU(W_1 k_i)",
                      distributions=_GAUSS, conditioning=_COND,
                      notes="Grid at small ||k_i||^2 where GELU and ReLU differ."),
    params=(_N, _D, _DV, _KN, _VN),
    derivation=th.inverse_snr_gelu,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{FFN,GELU}}",
    measure=num.measure_ffn_inverse_snr,
    fixed={"activation": "gelu"},
    trials={"quick": 2000, "default": 4000, "full": 8000},
    grids={"quick": _grid({"N": 65, "d": 8, "d_v": 8, "key_norm2": 0.5, "value_norm2": 8.0},
                          {"N": 129, "d": 16, "d_v": 4, "key_norm2": 1.0, "value_norm2": 6.0}),
           "default": _grid({"N": 65, "d": 8, "d_v": 8, "key_norm2": 0.5, "value_norm2": 8.0},
                            {"N": 129, "d": 16, "d_v": 4, "key_norm2": 1.0, "value_norm2": 6.0},
                            {"N": 1024, "d": 32, "d_v": 16, "key_norm2": 0.8, "value_norm2": 16.0}),
           "full": _grid({"N": 65, "d": 8, "d_v": 8, "key_norm2": 0.5, "value_norm2": 8.0},
                         {"N": 1024, "d": 32, "d_v": 16, "key_norm2": 0.8, "value_norm2": 16.0})},
    negative_controls=(
        NegativeControl("relu_value", "the ReLU value (N-1) d_v/(2 ||k_i||^2 ||v_i||^2)",
                        prediction=lambda: th.inverse_snr_relu_ffn().result),
    ),
    strategy=lambda claim: domain_strategy(claim, {"N": (16, 128), "d": (4, 16), "d_v": (2, 8),
                                                   "key_norm2": (0.3, 1.0), "value_norm2": (2.0, 8.0)}),
))

register(Claim(
    id="ffn.silu.inverse_snr",
    statement="A SiLU FFN has E[SiLU(Z)^2] = s^2/2 - E[Z^2 sigmoid'(Z)] (Z ~ N(0, s^2), s^2 = ||k_i||^2): the ReLU "
              "value minus a positive correction with no closed form (evaluated by quadrature), hence "
              "SNR^{-1} = (N-1) d_v E[SiLU(Z)^2]/(SiLU(s^2)^2 ||v_i||^2); at O(1) pre-activations it is neither the "
              "ReLU nor the GELU value.",
    anchor="§3, FFN as associative memory (notes §3.3: 'ReLU/GELU/SiLU'; SiLU value: suite)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||FFN(k_i) - h_i v_i||^2 / (h_i^2 ||v_i||^2), h = SiLU(W_1 k_i)",
                      distributions=_GAUSS, conditioning=_COND,
                      notes="The exact value reduces to one positive integral, E[Z^2 sigmoid'(Z)], evaluated by mpmath "
                            "quadrature to 30 digits (independent of the Monte Carlo side). Grid at ||k_i||^2 = 1 and 5, "
                            "where GELU differs from SiLU by -10% and +7%."),
    params=(_N, _D, _DV, _KN, _VN),
    derivation=th.inverse_snr_silu,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{FFN,SiLU}}",
    measure=num.measure_ffn_inverse_snr,
    fixed={"activation": "silu"},
    trials={"quick": 3000, "default": 6000, "full": 12000},
    grids={"quick": _grid({"N": 257, "d": 16, "d_v": 16, "key_norm2": 1.0, "value_norm2": 16.0},
                          {"N": 1024, "d": 32, "d_v": 16, "key_norm2": 5.0, "value_norm2": 16.0}),
           "default": _grid({"N": 257, "d": 16, "d_v": 16, "key_norm2": 1.0, "value_norm2": 16.0},
                            {"N": 257, "d": 16, "d_v": 16, "key_norm2": 1.5, "value_norm2": 16.0},
                            {"N": 1024, "d": 32, "d_v": 16, "key_norm2": 5.0, "value_norm2": 16.0}),
           "full": _grid({"N": 257, "d": 16, "d_v": 16, "key_norm2": 1.0, "value_norm2": 16.0},
                         {"N": 1024, "d": 32, "d_v": 16, "key_norm2": 5.0, "value_norm2": 16.0})},
    negative_controls=(
        NegativeControl("relu_value", "the ReLU value (N-1) d_v/(2 ||k_i||^2 ||v_i||^2)",
                        prediction=lambda: th.inverse_snr_relu_ffn().result),
        NegativeControl("gelu_value", "the GELU closed form (another smooth ReLU)",
                        prediction=lambda: th.inverse_snr_gelu().result),
    ),
    strategy=lambda claim: domain_strategy(claim, {"N": (16, 128), "d": (4, 16), "d_v": (2, 8),
                                                   "key_norm2": (0.3, 6.0), "value_norm2": (2.0, 16.0)}),
))

register(Claim(
    id="ffn.exp.inverse_snr",
    statement="With slot activation exp(beta z) the FFN is the exp-kernel memory at tau = 1/beta: SNR^{-1} = "
              "(N-1) (d_v/||v_i||^2) exp(2 beta (beta - 1) ||k_i||^2); at beta = 1 there is no gain at all, the "
              "optimum beta = 1/2 gives exp(-||k_i||^2/2).",
    anchor="§3, FFN as associative memory (exp activation: suite)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||FFN(k_i) - h_i v_i||^2 / (h_i^2 ||v_i||^2), h = exp(beta W_1 k_i)",
                      distributions=_GAUSS, conditioning=_COND,
                      notes="Values integrated exactly, keys by tilted importance sampling (ESS reported)."),
    params=(_N, Param("d", 1, 256, description="model dimension"), _DV, _KN, _VN,
            Param("beta", 0.05, 2.0, integer=False, description="pre-activation scale")),
    derivation=th.inverse_snr_exp_activation,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{FFN},\exp}",
    measure=num.measure_ffn_exp,
    trials={"quick": 50, "default": 100, "full": 200},
    grids={"quick": _grid({"N": 4096, "d": 16, "d_v": 8, "key_norm2": 12.0, "value_norm2": 8.0, "beta": 1.0},
                          {"N": 4096, "d": 32, "d_v": 8, "key_norm2": 40.0, "value_norm2": 8.0, "beta": 0.25}),
           "default": _grid({"N": 4096, "d": 16, "d_v": 8, "key_norm2": 12.0, "value_norm2": 8.0, "beta": 1.0},
                            {"N": 4096, "d": 32, "d_v": 8, "key_norm2": 40.0, "value_norm2": 8.0, "beta": 0.25},
                            {"N": 65536, "d": 64, "d_v": 16, "key_norm2": 60.0, "value_norm2": 16.0, "beta": 0.125}),
           "full": _grid({"N": 4096, "d": 16, "d_v": 8, "key_norm2": 12.0, "value_norm2": 8.0, "beta": 1.0},
                         {"N": 65536, "d": 64, "d_v": 16, "key_norm2": 60.0, "value_norm2": 16.0, "beta": 0.125})},
    negative_controls=(
        NegativeControl("always_optimal", "(N-1) (d_v/||v_i||^2) e^{-||k_i||^2/2}: the optimum assumed at any scale",
                        prediction=lambda: (N - 1) * d_v / value_norm2 * sp.exp(-key_norm2 / 2),
                        applies_when=Constraint("|beta - 1/2| > 0.01", lambda q: abs(q["beta"] - 0.5) > 0.01)),
        NegativeControl("unit_scale", "the beta = 1 value (N-1) d_v/||v_i||^2 at any scale",
                        prediction=lambda: (N - 1) * d_v / value_norm2,
                        applies_when=Constraint("|beta - 1| > 0.01", lambda q: abs(q["beta"] - 1) > 0.01)),
    ),
    atol=0.0,  # relative precision comes from the estimator's rounding-floored SE
    strategy=_caps({"N": (2, 4096), "d": (4, 32), "d_v": (2, 16), "beta": (0.1, 0.4)}),
))

register(Claim(
    id="ffn.glu.reglu_inverse_snr",
    statement="A gated unit with tied gate and up keys, ReLU(k_i^T x)(k_i^T x), stores with the kernel z^2 1{z>0}: "
              "SNR^{-1} = 3 (N-1) d_v / (2 ||k_i||^4 ||v_i||^2), so capacity grows like d^2 (a degree-2 kernel) "
              "instead of d for the plain ReLU FFN.",
    anchor="§3, FFN design insights (notes §4.7: gating functions; GAP, derived here)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||FFN(k_i) - h_i v_i||^2 / (h_i^2 ||v_i||^2), h = ReLU(W_1 x) * (W_1 x)",
                      distributions=_GAUSS, conditioning=_COND),
    params=(_N, _D, _DV, _KN, _VN),
    derivation=th.inverse_snr_reglu,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{ReGLU}}",
    measure=num.measure_ffn_inverse_snr,
    fixed={"activation": "relu", "glu": "tied"},
    trials={"quick": 2000, "default": 4000, "full": 8000},
    grids={"quick": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0},
                          {"N": 257, "d": 24, "d_v": 8, "key_norm2": 30.0, "value_norm2": 8.0}),
           "default": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0},
                            {"N": 512, "d": 32, "d_v": 8, "key_norm2": 40.0, "value_norm2": 8.0},
                            {"N": 2048, "d": 64, "d_v": 16, "key_norm2": 64.0, "value_norm2": 16.0}),
           "full": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0},
                         {"N": 2048, "d": 64, "d_v": 16, "key_norm2": 64.0, "value_norm2": 16.0})},
    negative_controls=(
        NegativeControl("relu_value", "the plain ReLU FFN value", prediction=lambda: th.inverse_snr_relu_ffn().result),
        NegativeControl("ungated", "gate removed: the pure quadratic kernel (crosstalk twice as large)",
                        variant="ungated"),
    ),
    strategy=_caps({"N": (2, 256), "d": (4, 32), "d_v": (2, 12)}),
))

_A = Param("a", 0.05, 3.0, integer=False, description="activation threshold in units of ||k_i||")
register(Claim(
    id="ffn.sparsity.threshold",
    statement="Keeping only ReLU activations above a ||k_i|| gives SNR^{-1} = (N-1) d_v (Q(a) + a phi(a)) / "
              "(||k_i||^2 ||v_i||^2): the gain over the dense FFN is 1/(2 (Q(a) + a phi(a))), far less than the "
              "fraction of slots removed, because the crosstalk lives in the largest activations.",
    anchor="§3, FFN design insights (notes §4.7: sparsity; GAP, derived here)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||sum_{j != i} v_j ReLU(z_j) 1{z_j > a ||k_i||}||^2 / (||k_i||^4 ||v_i||^2), "
                               "z_j = k_j^T k_i",
                      distributions=_GAUSS, conditioning=_COND + "; the stored slot is kept (||k_i||^2 > a ||k_i||)"),
    params=(_N, _D, _DV, _KN, _VN, _A),
    constraints=(Constraint("key_norm2 > a^2 (the queried slot passes its own threshold)",
                            lambda q: q["key_norm2"] > q["a"] ** 2),),
    derivation=th.inverse_snr_threshold,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{FFN},a}",
    measure=num.measure_ffn_sparsity,
    trials={"quick": 2000, "default": 4000, "full": 8000},
    grids={"quick": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0, "a": 1.0},
                          {"N": 257, "d": 32, "d_v": 8, "key_norm2": 24.0, "value_norm2": 8.0, "a": 2.0}),
           "default": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0, "a": 1.0},
                            {"N": 257, "d": 32, "d_v": 8, "key_norm2": 24.0, "value_norm2": 8.0, "a": 2.0},
                            {"N": 2048, "d": 64, "d_v": 16, "key_norm2": 64.0, "value_norm2": 16.0, "a": 1.0}),
           "full": _grid({"N": 65, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0, "a": 1.0},
                         {"N": 2048, "d": 64, "d_v": 16, "key_norm2": 64.0, "value_norm2": 16.0, "a": 1.0})},
    negative_controls=(
        NegativeControl("fraction_kept", "noise proportional to the fraction of active slots: (N-1) d_v Q(a)/"
                        "(||k_i||^2 ||v_i||^2)",
                        prediction=lambda: (N - 1) * d_v * (1 - th.std_normal_cdf(th.a_threshold))
                        / (key_norm2 * value_norm2)),
        NegativeControl("dense", "the dense ReLU value (sparsity has no effect)",
                        prediction=lambda: th.inverse_snr_relu_ffn().result),
    ),
    strategy=_caps({"N": (16, 128), "d": (8, 32), "d_v": (2, 8), "a": (0.8, 2.0)}, kf=1.0, vf=1.0),
))

def _topk_count(N, a):
    """``k = floor((N-1) Q(a) + 1/2) + 1`` as sympy: the measure's ``round`` (no ties: ``Q(a)`` is
    irrational for ``a > 0``)."""
    return sp.floor((N - 1) * (1 - th.std_normal_cdf(a)) + sp.Rational(1, 2)) + 1


def _topk_stored_slot_kept(q) -> bool:
    """The stored slot is among the top k unless k of the N-1 others exceed ||k_i||^2, i.e. z_j/s > s:
    P(Bin(N-1, Q(s)) >= k). The exact value assumes it is kept; require the failure below 1e-12."""
    from scipy.stats import binom

    s = math.sqrt(q["key_norm2"])
    k = num.topk_active(q["N"], q["a"])
    return binom.sf(k - 1, q["N"] - 1, 0.5 * math.erfc(s / math.sqrt(2))) <= 1e-12


register(Claim(
    id="ffn.sparsity.topk",
    statement="Top-k activation sparsity with k = round((N-1) Q(a)) + 1 active slots has exactly SNR^{-1} = "
              "d_v M(N-1, k-1) / (||k_i||^2 ||v_i||^2), M(n, m) = E[sum of the m largest ReLU(X_j)^2] over n "
              "standard normals = n E[Q(c) + c phi(c)], c = max(Phi^{-1}(B), 0), B ~ Beta(n-m, m): the threshold "
              "formula at a random quantile, which it approaches as N grows (0.6% below it at N = 1025, a = 1.5).",
    anchor="§3, FFN design insights (sparsity; suite)",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||FFN_topk(k_i) - h_i v_i||^2 / (h_i^2 ||v_i||^2), k = round((N-1) Q(a)) + 1",
                      distributions=_GAUSS, conditioning=_COND + "; the stored slot is among the k kept",
                      notes="M is evaluated by quadrature over the Beta law (mpmath, 30 digits). The stored slot is "
                            "dropped, making the estimate infinite, with probability P(Bin(N-1, Q(||k_i||)) >= k), "
                            "held below 1e-12 by a constraint."),
    params=(Param("N", 3, 65536, description="slots"), _D, _DV, _KN, _VN, _A),
    constraints=(Constraint("P(stored slot not among the top k) <= 1e-12", _topk_stored_slot_kept),),
    derivation=th.inverse_snr_topk,
    prediction=lambda: th.inverse_snr_topk().result.subs(sp.Symbol("k", positive=True, integer=True),
                                                         _topk_count(N, th.a_threshold)),
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{FFN,top}k}",
    measure=num.measure_ffn_sparsity,
    fixed={"variant": "topk"},
    trials={"quick": 1000, "default": 2000, "full": 4000},
    grids={"quick": _grid({"N": 1025, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0, "a": 1.5},),
           "default": _grid({"N": 1025, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0, "a": 1.5},
                            {"N": 65, "d": 16, "d_v": 8, "key_norm2": 16.0, "value_norm2": 12.0, "a": 1.0},
                            {"N": 4096, "d": 32, "d_v": 8, "key_norm2": 32.0, "value_norm2": 8.0, "a": 2.0}),
           "full": _grid({"N": 1025, "d": 16, "d_v": 8, "key_norm2": 8.0, "value_norm2": 12.0, "a": 1.5},
                         {"N": 65, "d": 16, "d_v": 8, "key_norm2": 16.0, "value_norm2": 12.0, "a": 1.0},
                         {"N": 4096, "d": 32, "d_v": 8, "key_norm2": 32.0, "value_norm2": 8.0, "a": 2.0})},
    negative_controls=(
        NegativeControl("dense", "the dense ReLU value", prediction=lambda: th.inverse_snr_relu_ffn().result),
        NegativeControl("fraction_kept", "each of the k - 1 other kept slots carries E[Z^2] = ||k_i||^2: "
                        "d_v (k-1)/(||k_i||^2 ||v_i||^2)",
                        prediction=lambda: d_v * (_topk_count(N, th.a_threshold) - 1) / (key_norm2 * value_norm2)),
    ),
    strategy=lambda claim: domain_strategy(claim, {"N": (64, 1100), "d": (8, 16), "d_v": (4, 8),
                                                   "key_norm2": (8.0, 16.0), "value_norm2": (4.0, 12.0),
                                                   "a": (1.0, 2.0)}),
))
