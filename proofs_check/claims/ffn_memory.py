"""Section ``ffn``: the FFN read as a kernel memory, as an exact identity (paper §3; notes §3.3).

``W_2 sigma(W_1 x) = sum_i v_i sigma(k_i^T x)`` with ``k_i`` the rows of ``W_1`` and ``v_i`` the columns of
``W_2``; with a GLU, ``W_2 (sigma(W_1 x) * (W_3 x)) = sum_i v_i sigma(k_i^T x) (u_i^T x)``. The notes mark the
formula itself [inferred] (the paper says only "a ReLU-like kernel"), so the claim is ``reconstructed``.
It is what lets every ``ffn.*`` SNR claim treat a layer as ``N = d_ff`` memory slots.
"""

from __future__ import annotations

import sympy as sp

from numerics import ffn as num
from proofs_check.ledger import Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance, register
from theory import ffn as th


def _pt(N, d, d_v, activation, glu):
    return {"N": N, "d": d, "d_v": d_v, "activation": num.IDENTITY_ACTIVATIONS.index(activation),
            "glu": num.IDENTITY_GATING.index(glu)}


_IDENTITY_DEFAULT = (_pt(16, 16, 8, "relu", "none"), _pt(32, 8, 8, "gelu", "none"), _pt(24, 12, 6, "silu", "none"),
                     _pt(16, 16, 4, "exp", "none"), _pt(12, 12, 6, "identity", "none"),
                     _pt(32, 8, 8, "relu", "tied"), _pt(32, 8, 8, "silu", "untied"), _pt(16, 16, 8, "gelu", "untied"))
register(Claim(
    id="ffn.memory.slot_identity",
    statement="An FFN is a kernel memory with d_ff slots: W_2 sigma(W_1 x) = sum_i v_i sigma(k_i^T x) (k_i the rows of "
              "W_1, v_i the columns of W_2), and with a GLU W_2 (sigma(W_1 x) * W_3 x) = sum_i v_i sigma(k_i^T x) (u_i^T x), "
              "for every activation the suite covers (ReLU, GELU, SiLU, exp, identity; plain, tied and untied gates).",
    anchor="§3, FFN as associative memory (notes §3.3: 'a ReLU-like kernel'; the formula is the notes' inferred "
           "reading; the gated units: suite, the notes do not mention them)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max |layer - slot sum| / max |layer| over 8 inputs",
                      distributions="W_1 entries N(0, 1/d), W_2, W_3 and inputs standard normal",
                      conditioning="one draw; exact in exact arithmetic",
                      notes="activation: 0 ReLU, 1 GELU, 2 SiLU, 3 exp, 4 identity; glu: 0 none, 1 tied (W_3 = W_1), "
                            "2 untied. Symbolic side: an undefined sigma on 3 x 2 symbolic matrices (holds for every "
                            "activation). Numeric side: numerics.ffn.ffn_forward against a separate slot-by-slot loop."),
    params=(Param("N", 1, 512, description="number of slots d_ff"), Param("d", 1, 256, description="model dimension"),
            Param("d_v", 1, 256, description="output dimension"),
            Param("activation", 0, len(num.IDENTITY_ACTIVATIONS) - 1, description="0 relu, 1 gelu, 2 silu, 3 exp, 4 identity"),
            Param("glu", 0, len(num.IDENTITY_GATING) - 1, description="0 none, 1 tied gate, 2 untied gate")),
    derivation=th.ffn_slot_identity,
    prediction=lambda: sp.Integer(0),
    symbol=r"\max|W_2\sigma(W_1x) - \sum_i v_i\sigma(k_i^\top x)|",
    measure=num.measure_ffn_slot_identity,
    grids={"quick": _IDENTITY_DEFAULT[:1] + _IDENTITY_DEFAULT[5:7], "default": _IDENTITY_DEFAULT,
           "full": _IDENTITY_DEFAULT + (_pt(256, 64, 64, "exp", "untied"),)},
    negative_controls=(
        NegativeControl("keys_as_columns", "keys read from the columns of W_1 (the transposed layer)",
                        variant="keys_as_columns", applies_when=Constraint("N = d >= 2 (W_1 square, not a scalar)",
                                                lambda q: q["N"] == q["d"] >= 2)),
        NegativeControl("activation_outside", "sigma applied to the memory's output, sigma(sum_i v_i k_i^T x)",
                        variant="activation_outside",
                        applies_when=Constraint("N >= 2 and a nonlinear slot (ReLU is homogeneous: one slot "
                                                "with a positive value would commute with it)",
                                                lambda q: q["N"] >= 2 and (q["activation"] != 4 or q["glu"] != 0))),
        NegativeControl("gate_only", "a GLU slot read without its up projection u_i^T x", variant="gate_only",
                        applies_when=Constraint("a gated unit (glu = 1 or 2)", lambda q: q["glu"] != 0)),
    ),
    atol=1e-12,
    strategy={"N": (2, 24), "d": (1, 12), "d_v": (1, 8), "activation": (0, 4), "glu": (0, 2)},
))
