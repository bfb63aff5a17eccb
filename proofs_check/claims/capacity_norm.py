"""Section ``capacity``, topic ``norm``: QK-norm (unit keys and query) with a temperature (notes §4.6, a GAP).

The older ``capacity.norm.*`` claims (:mod:`.capacity_exp`) treat the softmax denominator and value means.
These two derive what L2-normalising keys and queries does to the exp kernel's SNR and to its optimal
temperature (provenance ``suite``; :mod:`theory.normalization`, :mod:`numerics.normalization`). The
linear kernel on the sphere is ``capacity.linear.inverse_snr_sphere``; a temperature cannot change it.
"""

from __future__ import annotations

import sympy as sp

from numerics import normalization as num
from proofs_check.claims.capacity_kernels import counting_the_query, resolvable
from proofs_check.ledger import Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance, register
from proofs_check.strategies import domain_strategy
from theory import normalization as th
from theory.symbols import N, d_k, d_v, tau, value_norm2

_SPHERE = ("k_j = g_j/||g_j||, g_j ~ N(0, I_{d_k}) (uniform on the unit sphere), v_j ~ N(0, I_{d_v}) i.i.d.; the "
           "stored key k_i is another unit key and the query")
_D = Param("d_k", 2, 1024, description="key dimension (>= 2)")
_T = Param("tau", 0.05, 64.0, integer=False, description="temperature (scores q^T k / tau with unit q, k)")
_D3 = Constraint("d_k >= 3 (a sphere one dimension smaller exists)", lambda q: q["d_k"] >= 3)


def _sphere():
    return th.inverse_snr_sphere_exp().result


def _gaussian_same_norm():
    """Gaussian keys N(0, I/d_k) (unit mean square norm) for the unit keys, the stored key at norm 1."""
    return (N - 1) * d_v / value_norm2 * sp.exp(2 / (d_k * tau**2) - 2 / tau)


def _pt(N, d_k, d_v, value_norm2, tau):
    return {"N": N, "d_k": d_k, "d_v": d_v, "value_norm2": value_norm2, "tau": tau}


_SPHERE_DEFAULT = (_pt(17, 8, 8, 6.0, 1.0), _pt(17, 16, 8, 10.0, 0.5), _pt(17, 32, 8, 10.0, 0.25))
register(Claim(
    id="capacity.norm.sphere_exp_conditional",
    statement="With QK-norm (unit keys and query) the exp kernel exp(q^T k/tau) has SNR^{-1} = (N-1)(d_v/||v_i||^2) "
              "e^{-2/tau} Gamma(d_k/2) tau^{d_k/2-1} I_{d_k/2-1}(2/tau), the same for every stored key: the "
              "conditional, its mean over k_i and the key part of the ratio of expectations coincide.",
    anchor="§3, normalization (notes §4.6: GAP); suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||r||^2 / (kappa(k_i,k_i)^2 ||v_i||^2), r = sum_{j!=i} v_j exp(k_j^T k_i/tau)",
                      distributions=_SPHERE, conditioning="conditional on ||v_i||^2 = value_norm2 (k_i enters only "
                                                          "through its unit norm)",
                      notes="Reduced form: t = g_1/sqrt(g_1^2 + chi^2(d_k - 1)) (the cosine of two uniform unit "
                            "vectors, drawn as such, not from its Beta law); values integrated exactly. Each term of "
                            "a trial lies in (0, 1]."),
    params=(Param("N", 2, 10**6, description="number of stored pairs"), _D,
            Param("d_v", 1, 1024, description="value dimension"),
            Param("value_norm2", 1e-3, 1e4, integer=False, description="||v_i||^2 of the stored value"), _T),
    derivation=th.inverse_snr_sphere_exp,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{QK\text{-}norm}}",
    measure=num.measure_sphere_exp,
    trials={"quick": 4000, "default": 8000, "full": 16000},
    grids={"quick": _SPHERE_DEFAULT[::2], "default": _SPHERE_DEFAULT,  # quick: gaussian_same_norm applies at d_k = 32
           "full": _SPHERE_DEFAULT + (_pt(33, 64, 16, 12.0, 0.25),)},
    negative_controls=(
        counting_the_query(_sphere),
        NegativeControl("sphere_dimension", "the sphere of R^{d_k - 1} (d_k - 1 for d_k in the Bessel order and "
                        "Gamma); its route draws the cosines one dimension down",
                        prediction=lambda: _sphere().subs(d_k, d_k - 1), route="sphere_dimension", near_miss=True,
                        applies_when=resolvable("d_k >= 3 and the d_k - 1 value", lambda: _sphere().subs(d_k, d_k - 1),
                                                 _sphere, given=_D3.holds)),
        NegativeControl("gaussian_same_norm", "Gaussian keys N(0, I/d_k) of unit mean square norm for unit keys: "
                        "(N-1)(d_v/||v_i||^2) exp(2/(d_k tau^2) - 2/tau)", prediction=_gaussian_same_norm,
                        applies_when=resolvable("the Gaussian value", _gaussian_same_norm, _sphere)),
        NegativeControl("signal_omitted", "the crosstalk not divided by the signal c^2 = e^{2/tau}",
                        variant="signal_omitted"),
    ),
    strategy=lambda claim: domain_strategy(claim, {"N": (2, 33), "d_k": (2, 24), "d_v": (1, 12),
                                                   "value_norm2": (1.0, 12.0), "tau": (0.5, 4.0)}),
))


def _halving():
    return th.sphere_halving_ratio().result


def _gaussian_halving():
    """The halving ratio of Gaussian keys at typical norm d_k (their optimum tau = 2 carried over)."""
    e = lambda t: sp.exp(2 * (1 - t) * d_k / t**2)  # noqa: E731
    return e(tau / 2) / e(tau)


register(Claim(
    id="capacity.norm.sphere_temperature",
    statement="With QK-norm the exp kernel's crosstalk g(tau) = E e^{2(k_j^T k_i - 1)/tau} strictly increases with tau: "
              "halving the temperature multiplies SNR^{-1} by g(tau/2)/g(tau) < 1 at every tau, so there is no finite "
              "optimal temperature (g ~ Gamma(d_k/2) tau^{(d_k-1)/2}/(2 sqrt(pi)) as tau -> 0), unlike tau* = 2 for "
              "Gaussian keys.",
    anchor="§3, normalization and temperature (notes §4.6: GAP); suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="g(tau/2)/g(tau), g(tau) = E exp(2 (t - 1)/tau), t = k_j^T k_i for unit keys",
                      distributions="k_j, k_i independent and uniform on the unit sphere of R^{d_k}",
                      conditioning="none (rotation invariant)",
                      notes="Simulated at each tau from the same cosines at tau and tau/2 (common random numbers), "
                            "ratio of means with a delta-method SE: the optimum is located by simulating the "
                            "crosstalk at two temperatures, not by optimising the formula. The monotonicity itself "
                            "is sympy's derivative of e^{2(t-1)/tau} (theory.normalization.sphere_monotone)."),
    params=(_D, _T),
    derivation=th.sphere_halving_ratio,
    symbol=r"g(\tau/2)/g(\tau)",
    measure=num.measure_sphere_halving,
    trials={"quick": 4000, "default": 8000, "full": 16000},
    grids={"quick": ({"d_k": 8, "tau": 2.0}, {"d_k": 16, "tau": 1.0}),
           "default": ({"d_k": 8, "tau": 2.0}, {"d_k": 16, "tau": 1.0}, {"d_k": 32, "tau": 0.5}),
           "full": ({"d_k": 8, "tau": 2.0}, {"d_k": 16, "tau": 1.0}, {"d_k": 32, "tau": 0.5}, {"d_k": 64, "tau": 4.0})},
    negative_controls=(
        NegativeControl("sphere_dimension", "d_k - 1 for d_k (the sphere of R^{d_k - 1}); its route draws the "
                        "cosines one dimension down", prediction=lambda: _halving().subs(d_k, d_k - 1),
                        route="sphere_dimension", near_miss=True,
                        applies_when=resolvable("d_k >= 3 and the d_k - 1 ratio", lambda: _halving().subs(d_k, d_k - 1),
                                                 _halving, given=_D3.holds)),
        NegativeControl("gaussian_optimum", "the Gaussian-key ratio at typical norm (optimum tau = 2 carried over to "
                        "normalised keys)", prediction=_gaussian_halving),
        NegativeControl("no_gain", "ratio 1: temperature irrelevant, as for the linear kernel",
                        prediction=lambda: sp.Integer(1)),
    ),
    strategy={"d_k": (2, 32), "tau": (0.5, 4.0)},
))
