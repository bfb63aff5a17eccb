"""Section ``update``: the unified memory-update framework, its matrix and chunked forms, fixed points,
DeltaFormer and the fast triangular inverse (paper §4; notes §5.1-5.4, §6 D.3)."""

from __future__ import annotations

import sympy as sp

from numerics import fixed_points as fp
from numerics import triangular_inverse as tri
from numerics import updates as num
from proofs_check.ledger import (Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance,
                                 evaluate, register)
from theory import updates as th

_DK = Param("d_k", 1, 256, description="key dimension")
_DV = Param("d_v", 1, 256, description="value dimension")
_T = Param("T", 1, 4096, description="sequence length")
_C = Param("C", 1, 512, description="chunk size")
_ZERO = lambda: 0  # noqa: E731  identity claims predict a zero discrepancy
_RANDOM_SEQ = ("k_t ~ N(0, I/d_k), q_t ~ N(0, I_{d_k}), v_t ~ N(0, I_{d_v}) i.i.d.; beta_t ~ U(0, beta_max), "
               "gates alpha_t ~ U(alpha_min, 1)")
_TWO_CHUNKS = Constraint("T > C (at least two chunks, so the carried state matters)", lambda p: p["T"] > p["C"])

# --- each rule is one optimiser step ---------------------------------------------------------

_OBJECTIVES = {
    "linear_attention": ("linear attention S + v k^T is one gradient step (rate 1) on L = -v^T S k",
                         (), ()),
    "decay": ("the forget-gated rule gamma S + v k^T is one gradient step (rate 1) on "
              "L = -v^T S k + (1 - gamma)/2 ||S||_F^2 (decay = L2 penalty)",
              (Param("gamma", 0.0, 1.0, integer=False, description="forget gate"),),
              (NegativeControl("penalty_not_halved", "penalty (1 - gamma) ||S||_F^2 (the 1/2 dropped)",
                               variant="penalty_not_halved"),)),
    "deltanet": ("DeltaNet S (I - beta k k^T) + beta v k^T is one SGD step with rate beta on 1/2 ||S k - v||^2",
                 (Param("beta", 0.01, 2.0, integer=False, description="write strength"),),
                 (NegativeControl("rate_one", "step size 1 instead of beta", variant="rate_one"),)),
    "gated_deltanet": ("gated DeltaNet alpha S (I - beta k k^T) + beta v k^T is one gradient step with rate "
                       "alpha beta on 1/2 ||S k - v/alpha||^2 + (1 - alpha)/(2 alpha beta) ||S||_F^2",
                       (Param("alpha", 0.05, 1.0, integer=False, description="gate"),
                        Param("beta", 0.05, 2.0, integer=False, description="write strength")),
                       (NegativeControl("rate_one", "step size 1 instead of alpha beta", variant="rate_one"),
                        NegativeControl("penalty_not_halved",
                                        "penalty (1 - alpha)/(alpha beta) ||S||_F^2 (the 1/2 dropped)",
                                        variant="penalty_not_halved"))),
}
_RULE_DEFAULTS = {"linear_attention": {}, "decay": {"gamma": 0.8}, "deltanet": {"beta": 0.7},
                  "gated_deltanet": {"alpha": 0.9, "beta": 0.6}}

for _rule, (_statement, _extra, _controls) in _OBJECTIVES.items():
    _base = _RULE_DEFAULTS[_rule]
    register(Claim(
        id=f"update.objective.{_rule}",
        statement=_statement[0].upper() + _statement[1:] + ".",
        anchor="secondary source S11 (Su Jianlin, 'A brief history of linear attention'; notes §5.1 table), not "
               "this paper: the paper's own table of objectives is a GAP (notes §5.1); the companion (S12 §3.1) "
               "gives the DeltaNet row in words; suite: a check of S11's formula, which the notes do not give as "
               "the paper's",
        provenance=Provenance.SUITE,
        kind=Kind.IDENTITY,
        estimand=Estimand(
            quantity="max relative difference between the rule's update and S - eta grad_S L, gradient by "
                     "central differences",
            distributions="S entries N(0, 1), k ~ N(0, I/d_k), v ~ N(0, I_{d_v})",
            conditioning="one random instance per point; exact for these quadratic losses up to rounding",
        ),
        params=(_DK, _DV) + _extra,
        derivation=(lambda r=_rule: th.optimizer_step(r, 2)),  # d = 3 too in tests/test_updates.py
        prediction=_ZERO,
        symbol=r"\max|S_t - (S_{t-1} - \eta\nabla_S\mathcal{L})|",
        measure=num.measure_optimizer_step,
        fixed={"rule": _rule},
        grids={
            "quick": ({"d_k": 2, "d_v": 2, **_base}, {"d_k": 3, "d_v": 3, **_base}),
            "default": ({"d_k": 2, "d_v": 2, **_base}, {"d_k": 3, "d_v": 3, **_base}, {"d_k": 8, "d_v": 5, **_base}),
            "full": ({"d_k": 2, "d_v": 2, **_base}, {"d_k": 8, "d_v": 5, **_base}, {"d_k": 24, "d_v": 16, **_base}),
        },
        negative_controls=(NegativeControl("ascent", "a step up the gradient", variant="ascent"),) + _controls,
        atol=1e-8,
        strategy={name: cap for name, cap in {"d_k": (1, 8), "d_v": (1, 8), "beta": (0.05, 1.9), "alpha": (0.1, 1.0),
                                              "gamma": (0.0, 1.0)}.items() if name in ("d_k", "d_v", *_base)},
    ))

# --- recurrent = parallel = chunked ----------------------------------------------------------

_FORMS = {
    "linear_attention": ("O = (Q K^T ⊙ M) V", (NegativeControl("no_carry", "state not carried across chunks",
                                                                variant="no_carry"),)),
    "decay": ("O = (Q K^T ⊙ Gamma) V", (NegativeControl("no_carry", "state not carried across chunks",
                                                         variant="no_carry"),
                                         NegativeControl("gates_ignored", "matrix and chunked forms run with every "
                                                         "gate 1", variant="gates_ignored"))),
    "deltanet": ("O = (Q K^T ⊙ M)(I + diag(beta)(K K^T ⊙ M^-))^{-1} diag(beta) V (beta = 1: the notes' form)",
                 (NegativeControl("full_mask", "M in place of M^- in the solve", variant="full_mask"),
                  NegativeControl("no_beta", "beta dropped from the matrix form", variant="no_beta"),
                  NegativeControl("no_carry", "state not carried across chunks", variant="no_carry"))),
    "gated_deltanet": ("O = (Q K^T ⊙ Gamma)(I + diag(beta)(K K^T ⊙ Gamma^-))^{-1} diag(beta) V",
                       (NegativeControl("full_mask", "Gamma in place of Gamma^- in the solve", variant="full_mask"),
                        NegativeControl("no_carry", "state not carried across chunks", variant="no_carry"),
                        NegativeControl("gates_ignored", "matrix and chunked forms run with every gate 1",
                                        variant="gates_ignored"))),
}
_FORM_GRIDS = {
    "quick": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8}, {"T": 64, "d_k": 16, "d_v": 8, "C": 16}),
    "default": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8}, {"T": 64, "d_k": 16, "d_v": 8, "C": 16},
                {"T": 300, "d_k": 32, "d_v": 16, "C": 64}, {"T": 1100, "d_k": 16, "d_v": 8, "C": 32}),
    "full": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8}, {"T": 300, "d_k": 32, "d_v": 16, "C": 64},
             {"T": 1000, "d_k": 64, "d_v": 64, "C": 48}),
}
# The chunked forms batch 512 tokens' worth of chunks at a time and prefetch the transforms two groups ahead:
# T = 1100 at C = 32 (35 chunks, groups of 16) and T = 1000 at C = 48 (21 chunks, groups of 10) run three groups,
# so the grouped pass (its buffer slots and prefetch) is checked, not only a single group's.
_FORMS_ANCHOR = ("matrix forms from secondary source S11 (Su Jianlin, 'A brief history of linear attention'; "
                 "notes §5.1), not this paper; chunked forms after the companion (notes §5.4); suite: a check of "
                 "S11's forms, which the notes do not give as the paper's")
for _rule, (_form, _controls) in _FORMS.items():
    register(Claim(
        id=f"update.forms.{_rule}",
        statement=f"The {_rule.replace('_', ' ')} token loop, its parallel form {_form}, and its chunked form "
                  f"(any chunk size C, T not necessarily a multiple of C) agree.",
        anchor=_FORMS_ANCHOR,
        provenance=Provenance.SUITE,
        kind=Kind.IDENTITY,
        estimand=Estimand(
            quantity="max over outputs of |parallel - loop| and |chunked - loop|, relative to max |loop| (the token "
                     "loop shares no helper with the other two forms)",
            distributions=_RANDOM_SEQ + " (beta_max = 1, alpha_min = 0.5)",
            conditioning="one random sequence per point; exact in exact arithmetic",
        ),
        params=(_T, _DK, _DV, _C),
        constraints=(_TWO_CHUNKS,),
        derivation=(lambda r=_rule: th.parallel_form(r)),
        prediction=_ZERO,
        symbol=r"\max|O_{\mathrm{route}} - O_{\mathrm{loop}}| / \max|O_{\mathrm{loop}}|",
        measure=num.measure_route_agreement,
        fixed={"rule": _rule},
        grids=_FORM_GRIDS,
        negative_controls=_controls,
        atol=1e-10,
        strategy={"T": (2, 80), "d_k": (1, 12), "d_v": (1, 6), "C": (1, 24)},
    ))

# --- the same forms with gates of any sign (the suite's own) ---------------------------------------
_SIGNED_GRIDS = {
    "quick": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8},),
    "default": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8}, {"T": 300, "d_k": 32, "d_v": 16, "C": 64},
                {"T": 1100, "d_k": 16, "d_v": 8, "C": 32}),
    "full": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8}, {"T": 300, "d_k": 32, "d_v": 16, "C": 64},
             {"T": 1000, "d_k": 64, "d_v": 64, "C": 48}),
}
_SIGNED_CONTROLS = (
    NegativeControl("gates_ignored", "matrix and chunked forms run with every gate 1", variant="gates_ignored"),
    NegativeControl("gates_abs", "matrix and chunked forms run with |alpha| (a mask from exp(cumsum(log |alpha|)) "
                                 "loses the signs)", variant="gates_abs"),
    NegativeControl("gates_clipped", "matrix and chunked forms run with max(alpha, 0) (a negative gate read as 0)",
                    variant="gates_clipped"),
    NegativeControl("zeros_as_one", "matrix and chunked forms run with each zero gate read as 1 (no gate): "
                                    "differs only where a gate is exactly 0, so the draws must contain some",
                    variant="zeros_as_one"),
)
for _rule in ("decay", "gated_deltanet"):
    register(Claim(
        id=f"update.signed_gates.{_rule}",
        statement=f"With gates alpha_t of either sign, some exactly 0, the {_rule.replace('_', ' ')} token loop equals "
                  f"its parallel form {_FORMS[_rule][0]} and its chunked form: the decay mask Gamma_tj = "
                  f"prod_(j<s<=t) alpha_s is a product, so a zero gate wipes the state and a negative one flips its "
                  f"sign in every form alike.",
        anchor="the suite's own: the notes give no gate range (S11's table, notes §5.1, has the usual decay "
               "gates in (0, 1]); negative gates (eigenvalues) are an extension studied for state tracking, beyond "
               "the notes",
        provenance=Provenance.SUITE,
        kind=Kind.IDENTITY,
        estimand=Estimand(
            quantity="max over outputs of |parallel - loop| and |chunked - loop|, relative to max |loop|",
            distributions=_RANDOM_SEQ + " (beta_max = 1, alpha_min = -1), then round(T/10) gates at distinct "
                                        "random positions set to 0",
            conditioning="one random sequence per point; exact in exact arithmetic",
        ),
        params=(_T, _DK, _DV, _C),
        constraints=(_TWO_CHUNKS,),
        derivation=(lambda r=_rule: th.parallel_form(r, signed=True)),
        prediction=_ZERO,
        symbol=r"\max|O_{\mathrm{route}} - O_{\mathrm{loop}}| / \max|O_{\mathrm{loop}}|",
        measure=num.measure_route_agreement,
        fixed={"rule": _rule, "alpha_min": -1.0, "zero_share": 0.1},
        grids=_SIGNED_GRIDS,
        negative_controls=_SIGNED_CONTROLS,
        atol=1e-10,
        strategy={"T": (2, 80), "d_k": (1, 12), "d_v": (1, 6), "C": (1, 24)},
    ))

register(Claim(
    id="update.forms.comba",
    statement="Gated DeltaNet alpha S (I - beta k k^T) + beta v k^T is the Comba form alpha S + alpha beta (v / alpha - "
              "S k) k^T: a decay, then a delta correction with rate alpha beta towards the rescaled target v / alpha.",
    anchor="secondary source S11 (notes §9 item 15; Su Jianlin, 'A brief history of linear attention'), not this "
           "paper; suite: a check of S11's identity",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max |O_Comba - O_gated| / max |O_gated| over a sequence, two token loops that share "
                               "no code",
                      distributions=_RANDOM_SEQ + " (alpha_min = 0.3, beta_max = 1)",
                      conditioning="one random sequence per point; exact in exact arithmetic"),
    params=(_T, _DK, _DV),
    derivation=(lambda: th.comba_form(2)),  # d = 3 too in tests/test_updates.py
    prediction=_ZERO,
    symbol=r"\max|O_{\mathrm{Comba}} - O_{\mathrm{gated}}|/\max|O_{\mathrm{gated}}|",
    measure=num.measure_comba_form,
    grids={"quick": ({"T": 12, "d_k": 4, "d_v": 3}, {"T": 64, "d_k": 16, "d_v": 8}),
           "default": ({"T": 12, "d_k": 4, "d_v": 3}, {"T": 64, "d_k": 16, "d_v": 8}, {"T": 300, "d_k": 32, "d_v": 16}),
           "full": ({"T": 12, "d_k": 4, "d_v": 3}, {"T": 300, "d_k": 32, "d_v": 16}, {"T": 1000, "d_k": 64, "d_v": 64})},
    negative_controls=(
        NegativeControl("target_not_rescaled", "target v instead of v / alpha", variant="target_not_rescaled"),
        NegativeControl("rate_beta", "rate beta instead of alpha beta", variant="rate_beta"),
    ),
    atol=1e-10,
    strategy={"T": (1, 60), "d_k": (1, 12), "d_v": (1, 6)},
))

# Temperatures differ from 1 at every point (and equal sqrt(d_k) at some), so a temperature applied the
# wrong way changes the outputs; the naive references compute it on their own.
_TAU = Param("tau", 0.05, 100.0, integer=False, description="softmax temperature (sqrt(d_k) in practice)")
_TAU1 = Param("tau1", 0.05, 100.0, integer=False, description="first-stage temperature")
_TAU2 = Param("tau2", 0.05, 100.0, integer=False, description="second-stage temperature")
_TAU_NOT_ONE = Constraint("a temperature != 1 (at tau = 1, 1/tau = tau: the slip is invisible)",
                          lambda p: any(p[n] != 1 for n in ("tau", "tau1", "tau2") if n in p))
_ATTENTION_INPUTS = ("q_t, k_t (and w_t) ~ N(0, I_{d_k}), v_t ~ N(0, I_{d_v}) i.i.d., so q^T k / sqrt(d_k) has unit "
                     "variance")
_TAU_INVERTED = NegativeControl("tau_inverted", "every route run at 1/tau: the scores multiplied by the temperature "
                                "instead of divided (the shared-kernel slip that cancels between routes)",
                                variant="tau_inverted", applies_when=_TAU_NOT_ONE)

register(Claim(
    id="update.forms.softmax",
    statement="Causal softmax attention's token loop (the additive rule in the feature space of exp(x^T y / tau), "
              "normalized), its matrix form softmax(Q K^T / tau + log M) V and its chunked form (blocks over "
              "earlier chunks and inside the chunk recombined by their log-sum-exp shares) all equal the "
              "attention o_t = sum_{j<=t} exp(q_t^T k_j / tau) v_j / sum_{j<=t} exp(q_t^T k_j / tau), at any "
              "temperature tau.",
    anchor="matrix form from secondary source S11 (notes §5.1, §5.2 [secondary: S11 / inferred]), not this paper; "
           "chunked recombination after the companion's Listing 1 (notes §6 D.3); suite: a check of S11's form",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(
        quantity="max over the three forms of max |form - reference| / max |reference|, the reference an "
                 "independently written row-by-row softmax attention (numerics.updates.naive)",
        distributions=_ATTENTION_INPUTS,
        conditioning="one random sequence per point; exact in exact arithmetic",
    ),
    params=(_T, _DK, _DV, _C, _TAU),
    constraints=(_TWO_CHUNKS,),
    derivation=th.softmax_forms,
    prediction=_ZERO,
    symbol=r"\max|O_{\mathrm{form}} - O_{\mathrm{ref}}| / \max|O_{\mathrm{ref}}|",
    measure=num.measure_softmax_forms,
    grids={
        "quick": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8, "tau": 0.7},
                  {"T": 64, "d_k": 16, "d_v": 8, "C": 16, "tau": 4.0}),
        "default": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8, "tau": 0.7},
                    {"T": 64, "d_k": 16, "d_v": 8, "C": 16, "tau": 4.0},
                    {"T": 300, "d_k": 64, "d_v": 16, "C": 64, "tau": 8.0},
                    {"T": 64, "d_k": 256, "d_v": 8, "C": 16, "tau": 0.05}),
        "full": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8, "tau": 0.7},
                 {"T": 300, "d_k": 64, "d_v": 16, "C": 64, "tau": 8.0},
                 {"T": 1000, "d_k": 64, "d_v": 64, "C": 48, "tau": 8.0}),
    },
    negative_controls=(
        NegativeControl("no_recombine", "chunk softmax blocks added with equal weights", variant="no_recombine"),
        _TAU_INVERTED,
    ),
    atol=1e-10,
    strategy={"T": (2, 60), "d_k": (1, 12), "d_v": (1, 6), "C": (1, 24), "tau": (0.3, 5.0)},
    notes="tau = sqrt(d_k) at the second and third default points (4 = sqrt 16, 8 = sqrt 64). At the fourth "
          "(d_k = 256, tau = 0.05) scores reach about 1000, past exp's overflow at 709, so the chunked form's "
          "shifted blocks are checked too.",
))

# --- WY / UT, spectrum, contraction ----------------------------------------------------------

register(Claim(
    id="update.wy.product",
    statement="prod_i (I - beta_i k_i k_i^T) = I - sum_i w_i k_i^T with w_t = beta_t (k_t - sum_{i<t} (k_i^T k_t) w_i), "
              "i.e. W from the triangular solve (I + diag(beta)(K K^T ⊙ M^-)) W = diag(beta) K.",
    anchor="suite: not in the notes (the WY/UT representation behind chunked DeltaNet; suite derivation)",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max relative difference between the explicit product and I - W^T K",
                      distributions="k_i ~ N(0, I/d_k), beta_i ~ U(0, 1)", conditioning="one random instance"),
    params=(Param("n", 1, 512, description="number of factors"), _DK),
    derivation=th.wy_representation,
    prediction=_ZERO,
    symbol=r"\max|\prod_i(I - \beta_i k_i k_i^\top) - (I - W^\top K)|",
    measure=num.measure_wy_product,
    grids={"quick": ({"n": 5, "d_k": 4}, {"n": 32, "d_k": 16}),
           "default": ({"n": 5, "d_k": 4}, {"n": 32, "d_k": 16}, {"n": 128, "d_k": 64}),
           "full": ({"n": 5, "d_k": 4}, {"n": 128, "d_k": 64}, {"n": 256, "d_k": 128})},
    negative_controls=(NegativeControl("no_solve", "w_i = beta_i k_i without the triangular solve",
                                       variant="no_solve", applies_when=Constraint("n >= 2", lambda p: p["n"] >= 2)),),
    atol=1e-10,
    strategy={"n": (2, 40), "d_k": (1, 16)},
))

register(Claim(
    id="update.spectrum.eigenvalues",
    statement="I - beta k k^T has eigenvalue 1 with multiplicity d - 1 and eigenvalue 1 - beta ||k||^2.",
    anchor="suite: not in the notes, which mention no Householder products (DeltaNet's transition as a "
           "generalized Householder matrix; suite derivation)",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max |sorted eigenvalues - sorted {1 - x, 1, ..., 1}|, x = beta ||k||^2",
                      distributions="k ~ N(0, I_d), beta = x / ||k||^2", conditioning="one random key"),
    params=(Param("d_k", 2, 512, description="dimension"),
            Param("x", 0.0, 10.0, integer=False, description="beta ||k||^2")),
    derivation=th.householder_spectrum,
    prediction=_ZERO,
    symbol=r"\max|\lambda(I - \beta kk^\top) - \{1 - \beta\|k\|^2, 1, \dots\}|",
    measure=num.measure_householder_spectrum,
    grids={"quick": ({"d_k": 3, "x": 0.5}, {"d_k": 16, "x": 2.0}),
           "default": ({"d_k": 3, "x": 0.5}, {"d_k": 16, "x": 2.0}, {"d_k": 64, "x": 3.0}),
           "full": ({"d_k": 3, "x": 0.5}, {"d_k": 64, "x": 3.0}, {"d_k": 256, "x": 1.5})},
    negative_controls=(NegativeControl("unsquared_norm", "small eigenvalue 1 - beta ||k|| (norm not squared)",
                                       variant="unsquared_norm"),
                       NegativeControl("split_eigenvalue", "{1 - x/2, 1 - x/2, 1, ..., 1}: the right trace, the "
                                       "wrong spectrum", variant="split_eigenvalue")),
    atol=1e-10,
    strategy={"d_k": (2, 24), "x": (0.1, 6.0)},
))

register(Claim(
    id="update.spectrum.contraction",
    statement="Along k the delta rule scales by |1 - beta ||k||^2|: it contracts iff 0 < beta ||k||^2 < 2 "
              "(the interval is solved by sympy), and beta ||k||^2 = 2 is a reflection (I - 2kk^T/||k||^2)^2 = I.",
    anchor="suite: not in the notes (DeltaNet's stability along k; suite derivation)",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="||(I - beta k k^T) k|| / ||k||", distributions="k ~ N(0, I_d), beta = x / ||k||^2",
                      conditioning="one random key"),
    params=(Param("d_k", 1, 512, description="dimension"),
            Param("x", 0.0, 10.0, integer=False, description="beta ||k||^2")),
    derivation=(lambda: th.contraction_factor(2)),
    prediction=th.contraction_value,
    symbol=r"\|(I - \beta kk^\top)k\|/\|k\|",
    measure=num.measure_contraction_factor,
    grids={"quick": ({"d_k": 3, "x": 0.5}, {"d_k": 8, "x": 2.0}, {"d_k": 8, "x": 3.0}),
           "default": ({"d_k": 3, "x": 0.5}, {"d_k": 8, "x": 2.0}, {"d_k": 8, "x": 3.0}, {"d_k": 64, "x": 1.5}),
           "full": ({"d_k": 3, "x": 0.5}, {"d_k": 8, "x": 2.0}, {"d_k": 64, "x": 3.0}, {"d_k": 256, "x": 1.5})},
    negative_controls=(
        NegativeControl("no_abs", "1 - x (sign ignored)", prediction=lambda: 1 - th.x_s,
                        applies_when=Constraint("x > 1 (where 1 - x < 0)", lambda p: p["x"] > 1)),
        NegativeControl("exponential", "exp(-x) (a decay guess)", prediction=lambda: sp.exp(-th.x_s),
                        applies_when=Constraint("x > 0", lambda p: p["x"] > 0)),
    ),
    atol=1e-10,
    strategy={"d_k": (1, 24), "x": (0.0, 6.0)},
))

# --- fixed points ----------------------------------------------------------------------------

register(Claim(
    id="update.fixed_point.delta_interpolation",
    statement="Presenting N <= d_k independent unit keys cyclically, the delta rule with 0 < beta ||k||^2 < 2 "
              "converges to the minimum-norm interpolating memory V^T (K K^T)^{-1} K (every interpolating "
              "memory is a fixed point; each step shrinks the error energy by x (2 - x) ||E k||^2 / ||k||^2, "
              "positive exactly on 0 < x < 2; iterates from 0 stay in the keys' row space). At x = 2 each "
              "step is a reflection and the error never shrinks.",
    anchor="§4 memory convergence (notes §5.6 hypothesis); suite derivation",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="||S_E - S*||_F / ||S*||_F after E = 2^log2_epochs cyclic epochs",
                      distributions="unit keys (normalized Gaussian rows), values N(0, I_{d_v})",
                      conditioning="one random set of pairs; epochs composed exactly as affine maps"),
    params=(Param("N", 1, 256, description="pairs"), _DK, _DV,
            Param("x", 0.01, 1.99, integer=False, description="beta ||k||^2 (= beta for unit keys)"),
            Param("log2_epochs", 8, 40, description="log2 of the number of epochs")),
    constraints=(Constraint("N <= d_k", lambda p: p["N"] <= p["d_k"]),),
    derivation=th.delta_fixed_point,
    prediction=_ZERO,
    symbol=r"\|S_E - S^\star\|_F/\|S^\star\|_F",
    measure=fp.measure_delta_interpolation,
    grids={"quick": ({"N": 3, "d_k": 4, "d_v": 3, "x": 1.0, "log2_epochs": 24},
                     {"N": 8, "d_k": 16, "d_v": 4, "x": 1.5, "log2_epochs": 24}),
           "default": ({"N": 3, "d_k": 4, "d_v": 3, "x": 1.0, "log2_epochs": 24},
                       {"N": 8, "d_k": 16, "d_v": 4, "x": 1.5, "log2_epochs": 24},
                       {"N": 32, "d_k": 64, "d_v": 8, "x": 0.3, "log2_epochs": 28}),
           "full": ({"N": 3, "d_k": 4, "d_v": 3, "x": 1.0, "log2_epochs": 24},
                    {"N": 32, "d_k": 64, "d_v": 8, "x": 0.3, "log2_epochs": 28},
                    {"N": 100, "d_k": 128, "d_v": 8, "x": 1.0, "log2_epochs": 30})},
    negative_controls=(NegativeControl("additive", "the additive rule in place of the delta rule",
                                       variant="additive"),
                       NegativeControl("reflection", "x = 2, the edge of the step-size interval (a reflection)",
                                       variant="reflection")),
    atol=1e-8,
    strategy={"N": (1, 6), "d_k": (6, 16), "d_v": (1, 4), "x": (0.2, 1.8), "log2_epochs": (24, 28)},
    notes="N <= d_k / 2 in the test search space keeps random unit keys well conditioned; at N = d_k the "
          "convergence rate depends on the smallest singular value of K.",
))

register(Claim(
    id="update.fixed_point.delta_least_squares",
    statement="With N > d_k pairs, the batch delta rule S <- S + beta (V^T K - S K^T K) converges to the "
              "least-squares memory V^T K (K^T K)^{-1} iff 0 < beta < 2 / lambda_max(K^T K); presented one "
              "pair at a time with a constant beta it ends in a limit cycle off the least-squares memory.",
    anchor="§4 memory convergence (notes §5.6 hypothesis); suite derivation",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="||S_n - S*||_F / ||S*||_F after n batch iterations, beta = step_fraction * 2/lambda_max",
                      distributions="keys N(0, I_{d_k}), values N(0, I_{d_v})", conditioning="one random set"),
    params=(Param("N", 2, 4096, description="pairs"), _DK, _DV,
            Param("step_fraction", 0.01, 0.99, integer=False, description="beta lambda_max / 2"),
            Param("iterations", 1, 100000, description="batch iterations")),
    constraints=(Constraint("N >= 4 d_k (well-conditioned K^T K)", lambda p: p["N"] >= 4 * p["d_k"]),),
    derivation=th.least_squares_step_condition,
    prediction=_ZERO,
    symbol=r"\|S_n - S^\star\|_F/\|S^\star\|_F",
    measure=fp.measure_delta_least_squares,
    grids={"quick": ({"N": 16, "d_k": 4, "d_v": 3, "step_fraction": 0.5, "iterations": 400},
                     {"N": 64, "d_k": 8, "d_v": 3, "step_fraction": 0.5, "iterations": 400}),
           "default": ({"N": 16, "d_k": 4, "d_v": 3, "step_fraction": 0.5, "iterations": 400},
                       {"N": 64, "d_k": 8, "d_v": 3, "step_fraction": 0.5, "iterations": 400},
                       {"N": 256, "d_k": 32, "d_v": 8, "step_fraction": 0.8, "iterations": 1000}),
           "full": ({"N": 16, "d_k": 4, "d_v": 3, "step_fraction": 0.5, "iterations": 400},
                    {"N": 256, "d_k": 32, "d_v": 8, "step_fraction": 0.8, "iterations": 1000},
                    {"N": 1024, "d_k": 64, "d_v": 8, "step_fraction": 0.8, "iterations": 2000})},
    negative_controls=(NegativeControl("cyclic", "pairs presented one at a time with constant beta",
                                       variant="cyclic"),
                       NegativeControl("beyond_limit", "beta = 2.05 / lambda_max, just past the step-size limit",
                                       variant="beyond_limit")),
    atol=1e-8,
    strategy={"N": (8, 80), "d_k": (1, 8), "d_v": (1, 4), "step_fraction": (0.3, 0.9), "iterations": (600, 800)},
))

register(Claim(
    id="update.fixed_point.additive_growth",
    statement="The additive rule has no fixed point (S = S + V^T K needs V^T K = 0): presenting a fixed set "
              "of pairs E times gives ||S_E||_F = E ||V^T K||_F, linear growth in the number of presentations.",
    anchor="§4 memory convergence (notes §5.6 hypothesis); suite derivation",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="||S_E||_F / ||V^T K||_F", distributions="keys, values Gaussian",
                      conditioning="one random set of pairs"),
    params=(Param("N", 1, 1024, description="pairs"), _DK, _DV, Param("E", 1, 10000, description="epochs")),
    derivation=th.additive_growth,
    symbol=r"\|S_E\|_F/\|V^\top K\|_F",
    measure=fp.measure_additive_growth,
    grids={"quick": ({"N": 5, "d_k": 3, "d_v": 2, "E": 7}, {"N": 20, "d_k": 8, "d_v": 4, "E": 50}),
           "default": ({"N": 5, "d_k": 3, "d_v": 2, "E": 7}, {"N": 20, "d_k": 8, "d_v": 4, "E": 50},
                       {"N": 64, "d_k": 16, "d_v": 8, "E": 200}),
           "full": ({"N": 5, "d_k": 3, "d_v": 2, "E": 7}, {"N": 64, "d_k": 16, "d_v": 8, "E": 200},
                    {"N": 128, "d_k": 32, "d_v": 8, "E": 1000})},
    negative_controls=(NegativeControl("sqrt_growth", "sqrt(E) (random-walk growth)", prediction=lambda: sp.sqrt(th.E_s),
                                       applies_when=Constraint("E >= 2", lambda p: p["E"] >= 2)),),
    atol=1e-9,
    rtol=1e-12,
    strategy={"N": (1, 12), "d_k": (1, 6), "d_v": (1, 4), "E": (2, 40)},
))

def _gap_at_least(slip: str, fraction: float) -> Constraint:
    """Where a decay control differs from the prediction by at least ``fraction`` of it (resolvable at 2 %)."""
    def holds(p):
        truth = evaluate(th.decay_stationary_energy().result, p)
        return abs(evaluate(th.decay_energy_variant(slip), p) - truth) >= fraction * abs(truth)
    return Constraint(f"|{slip} - prediction| >= {fraction:.0%} of the prediction", holds)


register(Claim(
    id="update.fixed_point.decay_stationary",
    statement="With i.i.d. Gaussian pairs the decayed memory converges in distribution: "
              "E||S_t||_F^2 = d_k d_v (1 - gamma^{2t})/(1 - gamma^2) -> d_k d_v / (1 - gamma^2).",
    anchor="§4 gated attention, memory convergence (notes §5.1, §5.6 hypothesis); suite derivation",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||S_t||_F^2 for S_t = gamma S_{t-1} + v_t k_t^T, S_0 = 0",
                      distributions="k_t ~ N(0, I_{d_k}), v_t ~ N(0, I_{d_v}) i.i.d.",
                      conditioning="none; one trial = one stream of t pairs, the recurrence simulated as written",
                      notes="The first three default points have gamma^{2t} >= 2.8 %, so the transient and its "
                            "exponent are exercised; the last is stationary to 7e-4."),
    params=(Param("t", 1, 10000, description="stream length"), _DK, _DV,
            Param("gamma", 0.0, 0.999, integer=False, description="forget gate")),
    derivation=th.decay_stationary_energy,
    symbol=r"\mathbb{E}\|S_t\|_F^2",
    measure=fp.measure_decay_energy,
    trials={"quick": 2000, "default": 8000, "full": 16000},
    grids={"quick": ({"t": 3, "d_k": 8, "d_v": 4, "gamma": 0.7}, {"t": 40, "d_k": 8, "d_v": 4, "gamma": 0.9}),
           "default": ({"t": 10, "d_k": 4, "d_v": 3, "gamma": 0.9}, {"t": 5, "d_k": 6, "d_v": 6, "gamma": 0.7},
                       {"t": 2, "d_k": 8, "d_v": 8, "gamma": 0.2}, {"t": 120, "d_k": 8, "d_v": 4, "gamma": 0.97}),
           "full": ({"t": 10, "d_k": 4, "d_v": 3, "gamma": 0.9}, {"t": 5, "d_k": 6, "d_v": 6, "gamma": 0.7},
                    {"t": 2, "d_k": 8, "d_v": 8, "gamma": 0.2}, {"t": 600, "d_k": 8, "d_v": 4, "gamma": 0.99})},
    negative_controls=(
        NegativeControl("one_term_short", "t - 1 writes counted: (1 - gamma^{2(t-1)}) in the transient",
                        prediction=lambda: th.decay_energy_variant("one_term_short"), near_miss=True,
                        applies_when=_gap_at_least("one_term_short", 0.01)),
        NegativeControl("one_term_long", "t + 1 writes counted: (1 - gamma^{2(t+1)}) in the transient",
                        prediction=lambda: th.decay_energy_variant("one_term_long"), near_miss=True,
                        applies_when=_gap_at_least("one_term_long", 0.01)),
        NegativeControl("decay_after_write", "S_t = gamma (S_{t-1} + v_t k_t^T): every decay exponent one too high "
                        "(a factor gamma^2; 2-10 % off for gamma in 0.95-0.99)",
                        prediction=lambda: th.decay_energy_variant("decay_after_write"), near_miss=True),
        NegativeControl("stationary_only", "d_k d_v / (1 - gamma^2), the transient dropped",
                        prediction=lambda: th.decay_energy_variant("stationary_only"),
                        applies_when=_gap_at_least("stationary_only", 0.01)),
        NegativeControl("first_power", "1 - gamma for 1 - gamma^2 in the denominator (20 % off at gamma = 0.2)",
                        prediction=lambda: th.decay_energy_variant("first_power")),
        NegativeControl("additive", "t d_k d_v (no forgetting)", prediction=lambda: th.decay_energy_variant("additive")),
    ),
    strategy={"t": (2, 30), "d_k": (2, 6), "d_v": (1, 4), "gamma": (0.3, 0.85)},
))

# --- DeltaFormer -----------------------------------------------------------------------------

register(Claim(
    id="update.deltaformer.forms",
    statement="DeltaFormer's token loop u_t = alpha_t v_t - beta_t sum_{i<t} softmax_i(w_t^T k_i / tau_1) u_i, "
              "o_t = sum_{i<=t} softmax_i(q_t^T k_i / tau_2) u_i equals its matrix form U = (I + A)^{-1} diag(alpha) V, "
              "O = A_2 U and its chunked form (cross-chunk softmax recombined by log-sum-exp shares), at any "
              "temperatures tau_1, tau_2.",
    anchor="§4 DeltaFormer; notes §5.3, §5.4, §6 D.3 (companion Eqs. 8-9, Listing 1; the formula is inferred in the "
           "notes from the companion's text)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max over the three forms of max |form - reference| / max |reference|, the reference "
                               "an independently written row-by-row DeltaFormer (numerics.updates.naive)",
                      distributions=_ATTENTION_INPUTS + "; alpha_t ~ U(0.5, 1.5), beta_t ~ U(0, 1)",
                      conditioning="one random sequence per point; exact in exact arithmetic"),
    params=(_T, _DK, _DV, _C, _TAU1, _TAU2),
    constraints=(_TWO_CHUNKS,),
    derivation=th.deltaformer_forms,
    prediction=_ZERO,
    symbol=r"\max|O_{\mathrm{form}} - O_{\mathrm{ref}}|/\max|O_{\mathrm{ref}}|",
    measure=num.measure_deltaformer_forms,
    grids={
        "quick": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8, "tau1": 0.7, "tau2": 2.0},
                  {"T": 64, "d_k": 16, "d_v": 8, "C": 16, "tau1": 4.0, "tau2": 4.0}),
        "default": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8, "tau1": 0.7, "tau2": 2.0},
                    {"T": 64, "d_k": 16, "d_v": 8, "C": 16, "tau1": 4.0, "tau2": 4.0},
                    {"T": 300, "d_k": 64, "d_v": 16, "C": 64, "tau1": 3.0, "tau2": 8.0},
                    {"T": 1400, "d_k": 16, "d_v": 8, "C": 48, "tau1": 3.0, "tau2": 4.0},
                    {"T": 64, "d_k": 256, "d_v": 8, "C": 16, "tau1": 0.05, "tau2": 0.05}),
        "full": ({"T": 37, "d_k": 4, "d_v": 3, "C": 8, "tau1": 0.7, "tau2": 2.0},
                 {"T": 300, "d_k": 64, "d_v": 16, "C": 64, "tau1": 3.0, "tau2": 8.0},
                 {"T": 1000, "d_k": 64, "d_v": 64, "C": 48, "tau1": 8.0, "tau2": 8.0},
                 {"T": 2600, "d_k": 16, "d_v": 8, "C": 64, "tau1": 3.0, "tau2": 4.0}),
    },
    negative_controls=(
        NegativeControl("causal_first_stage", "first stage sees i = t (not strictly causal)",
                        variant="causal_first_stage"),
        NegativeControl("no_recombine", "chunk softmax blocks added with equal weights", variant="no_recombine"),
        _TAU_INVERTED,
        NegativeControl("alpha_dropped", "every form run with alpha = 1 (the write not scaled)",
                        variant="alpha_dropped"),
    ),
    atol=1e-10,
    strategy={"T": (2, 60), "d_k": (1, 8), "d_v": (1, 4), "C": (1, 16), "tau1": (0.3, 5.0), "tau2": (0.3, 5.0)},
    notes="tau_2 = sqrt(d_k) at every default point (2 = sqrt 4, 4 = sqrt 16, 8 = sqrt 64), tau_1 = sqrt(d_k) at the "
          "second (the companion's Listing 1 uses 1/sqrt(D) in both stages). The chunked form splits its products "
          "against earlier rows into column blocks of 1280 rows: T = 1400 (default; C = 48 puts the block boundary "
          "inside a chunk) and T = 2600 (full; two whole blocks and a partial one) check that path, which shorter "
          "sequences never reach. At d_k = 256, tau = 0.05 the scores pass exp's overflow at 709: every block "
          "of the chunked form takes its shifted route (row maxima, shares recombined by their shifts), which "
          "unit-variance scores never reach.",
))

register(Claim(
    id="update.deltaformer.listing1",
    statement="The companion's Listing 1 configuration: the first stage u_t = v_t - sum_{i<t} softmax_i(w_t^T k_i / "
              "sqrt(D)) u_i (alpha = beta = 1), with k-k similarity (w = k, Listing 1) or q-k similarity (w = q, the "
              "form of flash-linear-attention's deltaformer_attn(q, k, v) op), computed chunk by chunk (C = 32; "
              "earlier chunks through one softmax block, recombined by log-sum-exp shares, then (I + A)^{-1} inside "
              "the chunk) equals the token loop; at B = 2, H = 2, T = 1024, D = 64 (full mode) as the listing checks, "
              "to 1e-10 in float64 (the listing asserts atol 1e-5 in float32).",
    anchor="notes §6 D.3 and §9 item 20 ([companion] Listing 1); the q-k form: notes §5.3 [impl: fla], §8",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max over 4 sequences (B = 2 x H = 2) of max |U_chunked - U_loop| (absolute, as the "
                               "listing's allclose), the loop an independently written row-by-row first stage "
                               "(numerics.updates.naive.deltaformer_first_stage_reference)",
                      distributions="K, V, Q ~ N(0, 1) entries, (T, D) each (the listing's torch.randn); scale "
                                    "1/sqrt(D), so the scores w^T k / sqrt(D) have unit variance",
                      conditioning="four random sequences per point; exact in exact arithmetic"),
    params=(Param("T", 2, 4096, description="sequence length"), Param("d_k", 1, 256, description="head dimension D"),
            _C, Param("similarity", 0, 1, description="0: k-k (Listing 1), 1: q-k (fla's op)")),
    constraints=(_TWO_CHUNKS, Constraint("d_k >= 2 (at D = 1 the scale 1/sqrt(D) equals sqrt(D))",
                                         lambda p: p["d_k"] >= 2)),
    derivation=th.deltaformer_forms,
    prediction=_ZERO,
    symbol=r"\max|U_{\mathrm{chunked}} - U_{\mathrm{loop}}|",
    measure=num.measure_deltaformer_listing,
    grids={
        "quick": ({"T": 128, "d_k": 16, "C": 32, "similarity": 0}, {"T": 128, "d_k": 16, "C": 32, "similarity": 1}),
        "default": ({"T": 256, "d_k": 64, "C": 32, "similarity": 0}, {"T": 256, "d_k": 64, "C": 32, "similarity": 1},
                    {"T": 100, "d_k": 16, "C": 32, "similarity": 0}, {"T": 1300, "d_k": 16, "C": 32, "similarity": 1}),
        "full": ({"T": 1024, "d_k": 64, "C": 32, "similarity": 0}, {"T": 1024, "d_k": 64, "C": 32, "similarity": 1},
                 {"T": 100, "d_k": 16, "C": 32, "similarity": 0}, {"T": 2600, "d_k": 16, "C": 32, "similarity": 0}),
    },
    negative_controls=(
        NegativeControl("tau_inverted", "the chunked form's scores multiplied by sqrt(D) instead of divided",
                        variant="tau_inverted"),
        NegativeControl("similarity_swapped", "the chunked form run with the other similarity (q-k for k-k, or "
                        "k-k for q-k)", variant="similarity_swapped"),
        NegativeControl("no_recombine", "earlier-chunk and in-chunk softmax blocks added with equal weights",
                        variant="no_recombine"),
    ),
    atol=1e-10,
    strategy={"T": (3, 80), "d_k": (2, 16), "C": (1, 24), "similarity": (0, 1)},
    notes="Which similarity each public form computes: docs/topics/updates.md. T = 1300 (default) and 2600 (full) "
          "reach the chunked form's column blocks of 1280 earlier rows.",
))

register(Claim(
    id="update.deltaformer.chunked_cost",
    statement="DeltaFormer's chunked first stage, organised as the companion's Listing 1 (per chunk: scores and one "
              "softmax block against all earlier rows, the in-chunk scores, the C x C inverse, its product with the "
              "right-hand side), costs exactly T^2 D + T C D + T C^2 multiply-adds when C divides T: the companion's "
              "O(T^2 d + T C d + T C^2) holds with constant 1 in every term.",
    anchor="notes §5.4 and §9 item 29 ([companion] §3.4; Listing 1's comment 'O(T/C (TCD + C^2 D)) = O(T^2 D + TCD + "
           "TC^2)'); the exact count: suite",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="multiply-adds counted by running numerics.updates.chunked."
                               "deltaformer_first_stage_listing on instrumented arrays (numerics.updates.cost)",
                      distributions="K, V ~ N(0, 1) entries, (T, D) (the count does not depend on the values)",
                      conditioning="cost model: (m x k)(k x n) = m k n, an n x n inverse n^3 (the listing's torch.inverse, "
                                   "'O(C^3)'); elementwise work (exponentials, masks, scaling) not counted",
                      notes="The suite's own chunked form solves the chunk system by forward substitution instead of "
                            "inverting it: T^2 D + T D (C - 1)/2 with d_v = D, no T C^2 term (docs/topics/updates.md)."),
    params=(Param("T", 1, 8192, description="sequence length"), Param("d_k", 1, 512, description="head dimension D"),
            _C),
    constraints=(Constraint("C divides T (equal chunks, as the listing assumes)", lambda p: p["T"] % p["C"] == 0),),
    derivation=th.chunked_cost,
    symbol=r"\#\mathrm{multiply\text{-}adds}",
    measure=num.measure_chunked_cost,
    grids={"quick": ({"T": 64, "d_k": 8, "C": 16}, {"T": 128, "d_k": 16, "C": 32}),
           "default": ({"T": 64, "d_k": 8, "C": 16}, {"T": 256, "d_k": 64, "C": 32}, {"T": 96, "d_k": 16, "C": 96}),
           "full": ({"T": 64, "d_k": 8, "C": 16}, {"T": 1024, "d_k": 64, "C": 32}, {"T": 96, "d_k": 16, "C": 96})},
    negative_controls=(
        NegativeControl("no_inverse", "T^2 D + T C D: the C^3 inverse per chunk left out (the near miss)",
                        prediction=lambda: th.chunked_cost_variant("no_inverse"), near_miss=True),
        NegativeControl("recurrence", "T^2 D, the token loop's cost", prediction=lambda: th.chunked_cost_variant(
                        "recurrence")),
        NegativeControl("upper_bound", "2 T^2 D + 2 T C D + T C^2: every chunk charged the whole sequence",
                        prediction=lambda: th.chunked_cost_variant("upper_bound")),
    ),
    atol=0.5,
    strategy={"T": (1, 96), "d_k": (1, 16), "C": (1, 32)},
))

_REDUCTION_ANCHOR = "§4 DeltaFormer (companion §3.2 degenerate cases; notes §5.3)"

register(Claim(
    id="update.deltaformer.reduces_to_softmax",
    statement="With beta = 0, alpha = 1 and a normalized exponential kappa_2(q, k) = exp(q^T k / tau), DeltaFormer "
              "is causal softmax attention at temperature tau.",
    anchor=_REDUCTION_ANCHOR,
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max over DeltaFormer's token loop and matrix form of max |DeltaFormer - reference| / "
                               "max |reference|, the reference an independently written row-by-row softmax attention",
                      distributions=_ATTENTION_INPUTS, conditioning="one random sequence per point"),
    params=(_T, _DK, _DV, _TAU),
    derivation=th.deltaformer_reduces_to_softmax,
    prediction=_ZERO,
    symbol=r"\max|O_{\mathrm{DeltaFormer}} - O_{\mathrm{softmax}}|/\max|O_{\mathrm{softmax}}|",
    measure=num.measure_deltaformer_reduction,
    fixed={"reduction": "softmax"},
    grids={"quick": ({"T": 12, "d_k": 4, "d_v": 3, "tau": 2.0}, {"T": 40, "d_k": 8, "d_v": 4, "tau": 0.6}),
           "default": ({"T": 12, "d_k": 4, "d_v": 3, "tau": 2.0}, {"T": 40, "d_k": 8, "d_v": 4, "tau": 0.6},
                       {"T": 200, "d_k": 36, "d_v": 8, "tau": 6.0}),
           "full": ({"T": 12, "d_k": 4, "d_v": 3, "tau": 2.0}, {"T": 200, "d_k": 36, "d_v": 8, "tau": 6.0},
                    {"T": 800, "d_k": 64, "d_v": 16, "tau": 8.0})},
    negative_controls=(NegativeControl("beta_on", "beta = 1 (the delta correction left on)", variant="beta_on"),
                       _TAU_INVERTED),
    constraints=(Constraint("T >= 2", lambda p: p["T"] >= 2),),
    atol=1e-10,
    strategy={"T": (2, 40), "d_k": (1, 8), "d_v": (1, 4), "tau": (0.3, 5.0)},
    notes="tau = sqrt(d_k) at the first and third default points.",
))

register(Claim(
    id="update.deltaformer.reduces_to_deltanet",
    statement="With kappa_1 = kappa_2 = x^T y (unnormalized), w = k and alpha = beta, DeltaFormer is DeltaNet "
              "with per-token beta.",
    anchor=_REDUCTION_ANCHOR,
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max |DeltaFormer - DeltaNet| / max |DeltaNet| (two token loops that share no code)",
                      distributions=_RANDOM_SEQ, conditioning="one random sequence per point"),
    params=(_T, _DK, _DV),
    derivation=th.deltaformer_reduces_to_deltanet,
    prediction=_ZERO,
    symbol=r"\max|O_{\mathrm{DeltaFormer}} - O_{\mathrm{DeltaNet}}|/\max|O_{\mathrm{DeltaNet}}|",
    measure=num.measure_deltaformer_reduction,
    fixed={"reduction": "deltanet"},
    grids={"quick": ({"T": 12, "d_k": 4, "d_v": 3}, {"T": 40, "d_k": 8, "d_v": 4}),
           "default": ({"T": 12, "d_k": 4, "d_v": 3}, {"T": 40, "d_k": 8, "d_v": 4}, {"T": 200, "d_k": 32, "d_v": 8}),
           "full": ({"T": 12, "d_k": 4, "d_v": 3}, {"T": 200, "d_k": 32, "d_v": 8}, {"T": 800, "d_k": 64, "d_v": 16})},
    negative_controls=(NegativeControl("alpha_one", "alpha = 1 while beta varies (the write not rescaled)",
                                       variant="alpha_one"),),
    constraints=(Constraint("T >= 2", lambda p: p["T"] >= 2),),
    atol=1e-10,
    strategy={"T": (2, 40), "d_k": (1, 8), "d_v": (1, 4)},
))

register(Claim(
    id="update.deltaformer.first_stage_amplification",
    statement="DeltaFormer's first stage U = (I + A)^{-1} V amplifies V by ||(I + A)^{-1}||_inf <= T for any "
              "normalized kappa_1 (A strictly causal, row sums <= 1): attention to the predecessor attains T, "
              "uniform attention gives 2 at every T, and so does attention to the first token (whose column of U "
              "sums to T), while the second stage O = A_2 U has ||A_2||_inf = 1. Computing "
              "u is the less stable step, by up to the context length, and the sharper kappa_1 the worse.",
    anchor="§4 DeltaFormer stability (companion App. F: 'the stability of the calculation for u is weaker than "
           "that for o'; the bound and both values: suite)",
    provenance=Provenance.SUITE,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="largest absolute row sum of U = (I + A)^{-1}, read from the model run with V = I_T",
                      distributions="deterministic: pattern 0 kappa_1 = 2, a constant (uniform attention over "
                                    "i < t); pattern 1 one-hot keys k_i = e_i, write keys w_t = e_{t-1}, linear "
                                    "kappa_1 (the predecessor); pattern 2 the same keys, w_t = e_0 (the first token)",
                      conditioning="none",
                      notes="The upper bound T over all row-substochastic A is tested as a hypothesis property "
                            "(tests/test_updates.py); the check measures the three patterns."),
    params=(Param("T", 2, 4096, description="sequence length"),
            Param("pattern", 0, 2, description="0 uniform causal attention, 1 attention to the predecessor, "
                                               "2 attention to the first token")),
    derivation=(lambda: th.first_stage_amplification(5)),
    prediction=th.first_stage_amplification_value,
    symbol=r"\|(I + A)^{-1}\|_\infty",
    measure=num.measure_first_stage_amplification,
    grids={"quick": ({"T": 8, "pattern": 0}, {"T": 8, "pattern": 1}, {"T": 64, "pattern": 1}, {"T": 64, "pattern": 2}),
           "default": ({"T": 8, "pattern": 0}, {"T": 256, "pattern": 0}, {"T": 8, "pattern": 1},
                       {"T": 256, "pattern": 1}, {"T": 256, "pattern": 2}),
           "full": ({"T": 8, "pattern": 0}, {"T": 1024, "pattern": 0}, {"T": 8, "pattern": 1},
                    {"T": 1024, "pattern": 1}, {"T": 1024, "pattern": 2})},
    negative_controls=(
        NegativeControl("second_stage_bound", "1, the second stage's amplification", prediction=lambda: sp.Integer(1)),
        NegativeControl("always_T", "T for every pattern (uniform or first-token attention as unstable as the "
                        "predecessor's; for the first token, also the 1-norm, its column sums)",
                        prediction=lambda: th.T_s,
                        applies_when=Constraint("pattern != 1 and T >= 3",
                                                lambda p: p["pattern"] != 1 and p["T"] >= 3)),
        NegativeControl("always_2", "2 for every pattern (sharp attention as stable as uniform)",
                        prediction=lambda: sp.Integer(2),
                        applies_when=Constraint("pattern = 1 and T >= 3", lambda p: p["pattern"] == 1 and p["T"] >= 3)),
    ),
    atol=1e-9,
    strategy={"T": (2, 200), "pattern": (0, 2)},
))

# --- fast triangular inverse -----------------------------------------------------------------

register(Claim(
    id="update.triangular.fast_inverse",
    statement="For strictly lower-triangular A of size 2^m, (I + A)^{-1} = (I - A) prod_{j=1}^{m-1} (I + A^{2^j}) "
              "exactly (nilpotency); in float64, for DeltaFormer's row-stochastic A, it matches forward substitution.",
    anchor="secondary source S15 (notes §5.4), which attributes the algorithm to this paper; where the paper "
           "states it (D.3.1?) is a GAP",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="max |fast - forward substitution| / max |forward substitution|",
                      distributions="A = DeltaFormer's first stage for a sharp kappa_1: rows (1 - 0.02) e_{t-1} + "
                                    "0.02 softmax(Gaussian scores) (row-stochastic; A^{2^j} of order 1 for every j < m)",
                      conditioning="one random matrix; the breakdown for other entry laws and precisions is "
                                   "measured in bench/triangular_inverse_errors.py (docs/topics/updates.md)"),
    params=(Param("m", 1, 10, description="log2 of the size"),),
    derivation=th.fast_inverse_identity,
    prediction=_ZERO,
    symbol=r"\max|X_{\mathrm{fast}} - X_{\mathrm{fwd}}|/\max|X_{\mathrm{fwd}}|",
    measure=tri.measure_fast_inverse_exactness,
    grids={"quick": ({"m": 2}, {"m": 5}), "default": ({"m": 2}, {"m": 5}, {"m": 7}),
           "full": ({"m": 2}, {"m": 7}, {"m": 9})},
    negative_controls=(NegativeControl("no_first_factor", "the factor (I - A) dropped", variant="no_first_factor"),
                       NegativeControl("one_fewer", "one squaring short (the product stops at A^{2^{m-2}})",
                                       variant="one_fewer", applies_when=Constraint("m >= 2", lambda p: p["m"] >= 2))),
    atol=1e-10,
    strategy={"m": (1, 7)},
))

_S15_ANCHOR = ("secondary source S15 (notes §5.4, §9 item 22: 'max relative error exceeds 10^3 in float32 and gives "
               "NaN in float16' at n = 128 for entries U[0, 1/2)); where the paper states the algorithm is a GAP")
_S15_LAW = ("A strictly lower-triangular, size c, entries i.i.d. U[0, 1/2) below the diagonal (S15's law); "
            "float32/float16 inputs rounded from float64")
_SIZE = Param("c", 4, 512, description="matrix size (a power of 2)")
_POWER_OF_TWO = Constraint("c a power of 2", lambda p: p["c"] & (p["c"] - 1) == 0)
_HALF_SIZE_UNSTABLE_FROM = Constraint("c <= 128 (at c = 256 the half size, 128, is itself unstable)",
                                      lambda p: p["c"] <= 128)

register(Claim(
    id="update.triangular.fast_inverse_float32_error",
    statement="S15's float32 instability, confirmed as a threshold: at c = 128 with entries U[0, 1/2) the median "
              "relative error of the float32 fast inverse over 64 draws is above 10^3 (medians 2.0e3-2.7e3 over 9 "
              "seeds; single draws go as low as 3e2, so 'above 10^3' holds for the median, not for every matrix), "
              "while float32 forward substitution stays at 3e-7, and the fast inverse on DeltaFormer's own "
              "row-stochastic A at 1.5e-7.",
    anchor=_S15_ANCHOR,
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="min(1, median error / 10^3), error = max |X_32 - X_ref| / max |X_ref|, X_ref forward "
                               "substitution in float64, median over 64 draws (1 exactly when the median is >= 10^3)",
                      distributions=_S15_LAW,
                      conditioning="64 random matrices per point; the median, minimum and maximum are in the report's "
                                   "diagnostics",
                      notes="The mechanism (theory.updates.fast_inverse_growth, fast_inverse_peak): the powers "
                            "A^{2^j} the algorithm forms reach E(A^32)_{127,0} = C(126, 31)/4^32 = 1.5e10, and the "
                            "inverse is an alternating sum of them."),
    params=(_SIZE,),
    constraints=(_POWER_OF_TWO, Constraint("c >= 128 (the size S15 names; below it the error is below 10^3)",
                                           lambda p: p["c"] >= 128)),
    derivation=th.fast_inverse_float32_threshold,
    symbol=r"\min(1, \mathrm{median}\,\mathrm{err}_{32} / 10^3)",
    measure=tri.measure_fast_inverse_float32_error,
    grids={"quick": ({"c": 128},), "default": ({"c": 128},), "full": ({"c": 128}, {"c": 256})},
    negative_controls=(
        NegativeControl("forward_substitution", "the stable method (float32 forward substitution): median 3e-7",
                        variant="forward_substitution"),
        NegativeControl("row_stochastic", "the fast inverse on DeltaFormer's softmax rows: median 1.5e-7",
                        variant="row_stochastic"),
        NegativeControl("half_size", "the same law at c / 2 = 64: median 5e-3", variant="half_size",
                        applies_when=_HALF_SIZE_UNSTABLE_FROM),
        NegativeControl("threshold_x10", "the same law held to 10^4: the median (about 2e3) falls short, so a "
                        "threshold set too low is seen", variant="threshold_x10",
                        applies_when=Constraint("c <= 128 (at c = 256 the median, about 8e14, passes 10^4 too)",
                                                lambda p: p["c"] <= 128)),
    ),
    atol=1e-12,
    strategy={"c": (128, 128)},
))

register(Claim(
    id="update.triangular.fast_inverse_float16_nan",
    statement="S15's float16 instability, confirmed: at c = 128 with entries U[0, 1/2) every draw (16 of 16) of the "
              "float16 fast inverse (products accumulated in float32, rounded to float16) contains NaN, while "
              "float16 forward substitution, the fast inverse in float32 and the fast inverse on DeltaFormer's "
              "row-stochastic A never do.",
    anchor=_S15_ANCHOR,
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="fraction of 16 draws whose float16 fast inverse has no NaN",
                      distributions=_S15_LAW, conditioning="16 random matrices per point",
                      notes="The powers reach about 1.5e10 > 65504, float16's largest value: a product overflows to "
                            "inf and inf - inf is NaN. NumPy's own float16 products give the same NaN but take 0.5 s "
                            "per inverse at c = 128."),
    params=(_SIZE,),
    constraints=(_POWER_OF_TWO, Constraint("c >= 128", lambda p: p["c"] >= 128)),
    derivation=th.fast_inverse_float16_nan,
    symbol=r"P(\text{no NaN})",
    measure=tri.measure_fast_inverse_float16_nan,
    grids={"quick": ({"c": 128},), "default": ({"c": 128},), "full": ({"c": 128}, {"c": 256})},
    negative_controls=(
        NegativeControl("forward_substitution", "float16 forward substitution (finite at every draw)",
                        variant="forward_substitution"),
        NegativeControl("float32", "the fast inverse in float32 (finite at every draw)", variant="float32"),
        NegativeControl("row_stochastic", "the fast inverse on DeltaFormer's softmax rows", variant="row_stochastic"),
    ),
    atol=1e-12,
    strategy={"c": (128, 128)},
))
