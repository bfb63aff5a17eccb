"""Section ``capacity``, topic ``multihead``: H heads of width d_k/H against one head of width d_k.

The notes (§4.4) record a second capacity strategy of the paper as a gap, possibly multi-head attention.
These claims derive what heads do to one retrieval (provenance ``suite``): see :mod:`theory.multihead` for
the model (keys and values cut into H blocks, one head per block, outputs concatenated) and the estimand
(noise energy over signal energy of the concatenated output, stored key norm split equally over heads).
Parameters are per head, ``d_k = H d_head`` and ``d_v = H dv_head``, so every ``H`` is admissible; ``H = 1``
points are the single-head claims' values. The simulation draws full keys and cuts them into blocks
(:mod:`numerics.multihead`); its wrong route ``full_key_scores`` lets every head score with the whole key.
"""

from __future__ import annotations

import sympy as sp

from numerics import multihead as num
from proofs_check.claims.capacity_kernels import counting_the_query
from proofs_check.ledger import Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance, register
from proofs_check.strategies import domain_strategy
from theory import multihead as th
from theory.symbols import d_v

dv_head = th.dv_head

_PARAMS = (Param("N", 2, 10**5, description="number of stored pairs"),
           Param("H", 1, 64, description="number of heads"),
           Param("d_head", 1, 256, description="key width of one head (d_k = H d_head)"),
           Param("dv_head", 1, 256, description="value width of one head (d_v = H dv_head)"),
           Param("key_norm2", 1e-3, 1e4, integer=False, description="||k_i||^2 of the whole stored key"),
           Param("value_norm2", 1e-3, 1e4, integer=False, description="||v_i||^2 of the whole stored value"))
_GAUSS = "k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}) i.i.d. for the other pairs, cut into H blocks; query q = k_i"
_COND = ("conditional on (k_i, v_i): ||k_i^(h)||^2 = key_norm2/H in every head (directions uniform), "
         "||v_i||^2 = value_norm2")
_SPLIT = Constraint("H >= 2 (one head is the single-head memory)", lambda q: q["H"] >= 2)


def _per_head(expr):
    """A theory expression in ``d_v`` written with the per-head value width ``d_v = H dv_head``."""
    return expr.subs(d_v, th.H * dv_head)


def _linear():
    return _per_head(th.inverse_snr_multihead_linear().result)


def _exp():
    return _per_head(th.inverse_snr_multihead_exp().result)


def _strategy(caps):
    return lambda claim: domain_strategy(claim, caps, derived={
        "key_norm2": lambda q: 0.5 * q["H"] * q["d_head"], "value_norm2": lambda q: 1.5 * q["H"] * q["dv_head"]})


def _pt(N, H, d_head, dv_head, key_norm2, value_norm2, **extra):
    return {"N": N, "H": H, "d_head": d_head, "dv_head": dv_head, "key_norm2": key_norm2, "value_norm2": value_norm2,
            **extra}


_LINEAR_DEFAULT = (_pt(33, 1, 16, 8, 12.0, 6.0), _pt(33, 4, 4, 2, 12.0, 6.0), _pt(17, 8, 8, 4, 48.0, 40.0))
register(Claim(
    id="capacity.multihead.linear",
    statement="H linear heads of width d_k/H (outputs concatenated) have SNR^{-1} = H (N-1) d_v / (||k_i||^2 ||v_i||^2): "
              "H times one head of width d_k, so capacity rho d_k/H: heads cost linear capacity.",
    anchor="§3, capacity strategies (notes §4.4: strategy 2 is a GAP, possibly multi-head); suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||r||^2 / sum_h c_h^2 ||v_i^(h)||^2, r the concatenated heads' crosstalk",
                      distributions=_GAUSS, conditioning=_COND,
                      notes="Full keys drawn and cut into blocks; values integrated exactly (numerics.multihead)."),
    params=_PARAMS,
    derivation=th.inverse_snr_multihead_linear,
    prediction=_linear,
    symbol=r"\mathrm{SNR}^{-1}_{H,\mathrm{lin}}",
    measure=num.measure_multihead_inverse_snr,
    fixed={"kernel": "linear"},
    trials={"quick": 2000, "default": 4000, "full": 8000},
    grids={"quick": _LINEAR_DEFAULT[:2], "default": _LINEAR_DEFAULT,
           "full": _LINEAR_DEFAULT + (_pt(33, 16, 4, 4, 64.0, 64.0),)},
    negative_controls=(
        counting_the_query(_linear),
        NegativeControl("single_head", "the single-head value (N-1) d_v/(||k_i||^2 ||v_i||^2): keys not split; its "
                        "route lets every head score with the whole key", prediction=lambda: _linear().subs(th.H, 1)
                        * th.H, route="full_key_scores", applies_when=_SPLIT),
        NegativeControl("H_squared", "H^2 (the value split counted a second time)",
                        prediction=lambda: _linear() * th.H, applies_when=_SPLIT),
    ),
    strategy=_strategy({"N": (2, 33), "H": (1, 8), "d_head": (1, 8), "dv_head": (1, 4)}),
))

_TAU = Param("tau", 0.5, 64.0, integer=False, description="temperature of every head")
_EXP_DEFAULT = (_pt(17, 1, 16, 8, 16.0, 8.0, tau=2.0), _pt(17, 4, 4, 2, 16.0, 8.0, tau=2.0),
                _pt(33, 4, 8, 4, 32.0, 16.0, tau=2.0))
register(Claim(
    id="capacity.multihead.exp",
    statement="H exp-kernel heads exp(x^T y/tau) of width d_k/H have SNR^{-1} = (N-1)(d_v/||v_i||^2) "
              "exp(2(1-tau)||k_i||^2/(H tau^2)): the exponent is divided by H, so at tau = 2 and typical keys "
              "(N-1) e^{-d_k/(2H)} against (N-1) e^{-d_k/2}: capacity e^{d_k/(2H)}, heads cost it exponentially.",
    anchor="§3, capacity strategies (notes §4.4: strategy 2 is a GAP, possibly multi-head); suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||r||^2 / sum_h c_h^2 ||v_i^(h)||^2, r the concatenated heads' crosstalk",
                      distributions=_GAUSS, conditioning=_COND,
                      notes="Full keys cut into blocks; values integrated exactly; each block of the other keys drawn "
                            "from a partially tilted proposal (log-variance of each weighted term capped at 1, Kish "
                            "ESS reported). Default grid at the optimum tau = 2 and typical norms ||k_i||^2 = d_k."),
    params=_PARAMS + (_TAU,),
    derivation=th.inverse_snr_multihead_exp,
    prediction=_exp,
    symbol=r"\mathrm{SNR}^{-1}_{H,\exp}",
    measure=num.measure_multihead_inverse_snr,
    fixed={"kernel": "exp"},
    trials={"quick": 4000, "default": 8000, "full": 16000},
    grids={"quick": _EXP_DEFAULT[:2], "default": _EXP_DEFAULT,
           "full": _EXP_DEFAULT + (_pt(17, 4, 4, 4, 16.0, 16.0, tau=8.0),)},
    negative_controls=(
        counting_the_query(_exp),
        NegativeControl("single_head", "the single-head value (exponent not divided by H); its route lets every head "
                        "score with the whole key", prediction=lambda: _exp().subs(th.H, 1).subs(dv_head, th.H * dv_head),
                        route="full_key_scores", applies_when=_SPLIT),
        NegativeControl("sqrt_H", "exponent divided by sqrt(H): the block norm ||k_i||/sqrt(H) used where its square "
                        "belongs", prediction=lambda: _exp().subs(th.H, sp.sqrt(th.H)).subs(dv_head, sp.sqrt(th.H) * dv_head),
                        applies_when=_SPLIT),
    ),
    strategy=_strategy({"N": (2, 33), "H": (1, 8), "d_head": (1, 6), "dv_head": (1, 4), "tau": (1.0, 8.0)}),
))
