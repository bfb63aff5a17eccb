"""Every registered claim: well-formed record, verified derivation, holds across random regimes,
and its negative controls are rejected where the claim passes."""

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpy as np

from numerics.estimate import MonteCarlo
from proofs_check.engine import (MAX_CHECKS, MIN_TRIALS, PASS, UNDERPOWERED, check_claims,
                                 check_point, check_symbolic, point_passes_with_power)
from proofs_check.ledger import MODES, SECTIONS, Kind, Provenance, all_claims
from proofs_check.seeds import point_rng
from proofs_check.strategies import params_strategy

CLAIMS = all_claims()
CHECKED = [c for c in CLAIMS if c.kind is not Kind.CITED]
IDS = [c.id for c in CLAIMS]
STATISTICAL = [c for c in CHECKED if c.kind in (Kind.STATISTICAL, Kind.ASYMPTOTIC)]


def test_ids_are_unique_and_dotted():
    """Claim ids are unique and read <section>.<topic>.<name> with a known section."""
    assert len(IDS) == len(set(IDS))
    for cid in IDS:
        section, topic, name = cid.split(".")
        assert section in SECTIONS and topic and name


@pytest.mark.parametrize("claim", CLAIMS, ids=IDS)
def test_record_is_complete(claim):
    """Each claim names its estimand, provenance, anchor, statement, and (unless cited) a negative control."""
    assert isinstance(claim.provenance, Provenance)
    assert claim.statement.strip() and claim.anchor.strip()
    assert claim.estimand.quantity and claim.estimand.distributions and claim.estimand.conditioning
    assert claim.latex()
    if claim.kind is not Kind.CITED:
        assert claim.negative_controls
        for mode, grid in claim.grids.items():
            for point in grid:
                claim.validate(point)  # every grid point lies in the claim's domain


@pytest.mark.parametrize("claim", CLAIMS, ids=IDS)
def test_symbolic_side_verifies(claim):
    """The claim's derivation has no failed step; it is 'verified' only when every step verified in sympy,
    'partial' when a step is assumed or cited, and a cited claim is 'cited', never 'verified'."""
    result = check_symbolic(claim)
    steps = [s for s, _ in result.steps]
    if claim.kind is Kind.CITED:
        assert result.status == "cited", result.message
    elif all(s == "verified" for s in steps):
        assert result.status == "verified", result.message
    else:
        assert result.status == "partial" and "failed" not in steps, result.message
        assert result.unverified and all(u.split(":")[0] in ("assumed", "cited") for u in result.unverified)


CITED_CLAIMS = [c for c in CLAIMS if c.kind is Kind.CITED]


@pytest.mark.parametrize("claim", CITED_CLAIMS, ids=[c.id for c in CITED_CLAIMS])
def test_cited_claim_names_its_source_and_is_never_verified(claim):
    """A cited claim gives a citation, has a cited derivation step and no numeric side, and checks as 'cited'."""

    assert claim.citation.strip()
    assert any(s.status == "cited" for s in claim.derivation().verify())
    assert claim.measure is None
    (result,) = check_claims([claim], mode="quick", seed=0)
    assert result.verdict == "cited" and result.points == [] and result.symbolic.status == "cited"


@pytest.mark.parametrize("claim", CHECKED, ids=[c.id for c in CHECKED])
def test_claim_holds_across_random_regimes(claim):
    """Across hypothesis-drawn parameters and seeds the claim's own comparison passes (a control that a
    random regime cannot separate makes the point underpowered, which says nothing against the claim)."""

    @settings(max_examples=6)
    @given(params=params_strategy(claim), seed=st.integers(0, 2**32 - 1))
    def run(params, seed):
        # one pilot-sized batch, no plan: a random regime tests the claim, not the plan's budget
        trials = claim.trials["quick"] if claim.trials is not None else None
        result = check_point(claim, params, seed=seed, mode="quick", trials=trials)
        assert math.isfinite(result.measured)
        assert result.verdict in (PASS, UNDERPOWERED), (
            f"{claim.id} at {params} seed={seed}: predicted {result.predicted}, measured "
            f"{result.measured} ± {result.standard_error} (z={result.z}) {result.message}")

    run()


@pytest.mark.parametrize("claim", CHECKED, ids=[c.id for c in CHECKED])
@pytest.mark.parametrize("seed", [0, 1])
def test_negative_controls_rejected_on_quick_grid(claim, seed):
    """At every quick-grid point the true claim passes and each applicable negative control is rejected."""
    for params in claim.grids["quick"]:
        result = point_passes_with_power(check_point(claim, params, seed=seed, mode="quick"))
        assert result.verdict in (PASS, UNDERPOWERED), (claim.id, params, result.message,
                                        [(c.name, c.verdict, c.predicted, c.measured) for c in result.controls])
        assert any(c.verdict == "rejected" for c in result.controls)


@pytest.mark.parametrize("mode", MODES)
def test_every_run_fits_the_false_failure_budget(mode):
    """The budget counts every comparison a true claim can fail: each statistical or asymptotic point's
    check, each of its controls, each paired control's agreement with its route, and each statistical
    claim's pooled z over two or more points. A run of any mode has at most MAX_CHECKS of them."""
    count = sum(len(c.grids[mode]) * (1 + len(c.negative_controls) + sum(n.route is not None for n in c.negative_controls))
                for c in STATISTICAL)
    count += sum(c.kind is Kind.STATISTICAL and len(c.grids[mode]) >= 2 for c in STATISTICAL)
    assert count <= MAX_CHECKS


@pytest.mark.parametrize("claim", STATISTICAL, ids=[c.id for c in STATISTICAL])
def test_statistical_claim_is_a_planned_monte_carlo(claim):
    """Every statistical or asymptotic numeric side runs in planned batches (a MonteCarlo) of at least
    MIN_TRIALS trials, so its power is planned from a pilot, never judged after the fact."""
    assert isinstance(claim.measure, MonteCarlo), f"{claim.id}: measure is not a numerics.estimate.MonteCarlo"
    assert claim.trials is not None and all(claim.trials[m] >= MIN_TRIALS for m in MODES)


@pytest.mark.parametrize("claim", STATISTICAL, ids=[c.id for c in STATISTICAL])
def test_statistical_claim_has_a_near_miss_control(claim):
    """Every statistical or asymptotic claim registers a near-miss control: a plausible slip a few percent
    from the truth (far controls prove nothing)."""
    assert any(c.near_miss for c in claim.negative_controls), f"{claim.id} has no near-miss control"


@pytest.mark.parametrize("claim", STATISTICAL, ids=[c.id for c in STATISTICAL])
def test_estimate_varies_across_seeds_with_its_own_standard_error(claim):
    """The numeric side is a simulation, not the closed form again: over 8 seeds its estimates spread, and
    the spread matches the standard error it reports (within a factor 3), so the SE is the estimator's own."""
    params = dict(claim.grids["quick"][0])
    kwargs = {**params, **claim.fixed}
    estimates, ses = [], []
    for seed in range(8):
        est = claim.measure(point_rng(seed, claim.id, params), trials=claim.trials["quick"], **kwargs)
        assert np.isfinite(est.estimate) and est.standard_error > 1e-9 * abs(est.estimate)
        estimates.append(est.estimate)
        ses.append(est.standard_error)
    ratio = np.std(estimates, ddof=1) / np.mean(ses)
    assert 1 / 3 <= ratio <= 3, f"{claim.id}: seed-to-seed spread / reported SE = {ratio:.3g}"


def test_evaluate_substitutes_every_parameter_at_once_and_leaves_bound_variables_bound():
    """Values at a point: a Max of symbols (substituted all at once), and an integral whose bound
    variable shares a parameter's name (the parameter outside it is substituted, the variable inside is not)."""
    import sympy as sp

    from proofs_check.ledger import evaluate

    x, a, n = sp.symbols("x a n", positive=True)
    assert evaluate(sp.Max(a * n, n + 3, sp.sqrt(n) * a), {"a": 1.5, "n": 4}) == 7.0
    assert evaluate(sp.Integral(x, (x, 0, a)) + x, {"x": 2, "a": 1.0}) == 2.5
    with pytest.raises(KeyError, match="needs parameter 'n'"):
        evaluate(a * n, {"a": 1})


# --- guards on the registrations themselves (a fresh-eye audit of the claim files, 2026-12-01) ------------

# A float identity's tolerance is float rounding: at most these (the largest in the ledger is 1e-8 absolute
# for finite-difference gradients and 1e-7 relative for a 120-term Taylor sum). An exact count is judged to
# less than 1. Loosened by 10^3-10^8 (a typo, a copy from a statistical claim), an identity still passed:
# its controls are gross slips far beyond any tolerance.
FLOAT_IDENTITY_ATOL, FLOAT_IDENTITY_RTOL = 1e-8, 1e-7
COUNT_IDENTITIES = {"update.deltaformer.chunked_cost": "multiply-adds counted exactly: any miscount is >= 1"}


@pytest.mark.parametrize("claim", [c for c in CHECKED if c.kind is Kind.IDENTITY], ids=lambda c: c.id)
def test_identity_tolerances_stay_at_rounding(claim):
    """An identity claim's tolerance is at the level of float rounding (or below 1 for an exact count)."""
    if claim.id in COUNT_IDENTITIES:
        assert claim.rtol == 0 and claim.atol < 1, COUNT_IDENTITIES[claim.id]
    else:
        assert claim.atol <= FLOAT_IDENTITY_ATOL and claim.rtol <= FLOAT_IDENTITY_RTOL, (claim.atol, claim.rtol)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b)) or a == b


@pytest.mark.parametrize("claim", [c for c in CHECKED if sum(k.prediction is not None for k in c.negative_controls)
                                   >= 2], ids=lambda c: c.id)
def test_no_two_prediction_controls_coincide_on_every_grid_point(claim):
    """Two wrong formulas of one claim that give the same value wherever both apply are one control counted
    twice: a copy-pasted control (its description names another slip than it computes), or a helper that
    collapsed to another control's value. Each must differ from every other at some point of some grid."""
    from proofs_check.ledger import evaluate

    controls = [k for k in claim.negative_controls if k.prediction is not None]
    values: dict[str, dict[tuple, float]] = {k.name: {} for k in controls}
    for mode in MODES:
        for point in claim.grids[mode]:
            key = tuple(sorted(point.items()))
            for k in controls:
                if k.applies_when is None or k.applies_when.holds(point):
                    values[k.name][key] = evaluate(k.prediction(), point)
    for i, a in enumerate(controls):
        for b in controls[i + 1:]:
            shared = values[a.name].keys() & values[b.name].keys()
            assert not shared or any(not _same(values[a.name][p], values[b.name][p]) for p in shared), (
                f"controls {a.name!r} and {b.name!r} coincide at every grid point where both apply")


def _coded(param) -> bool:
    """An integer parameter that selects a case by code (its description lists them: "0 linear, 1 ...")."""
    return param.integer and param.high - param.low <= 4 and param.description.lstrip().startswith(str(param.low))


@pytest.mark.parametrize("claim", [c for c in CHECKED if any(_coded(p) for p in c.params)], ids=lambda c: c.id)
def test_every_coded_case_is_on_the_default_and_full_grids(claim):
    """A claim over coded cases (kernels, activations, gate kinds, attention patterns) states each one: every
    case appears at some point of the default and the full grid (the quick grid may sample them)."""
    for p in (p for p in claim.params if _coded(p)):
        for mode in ("default", "full"):
            seen = {point[p.name] for point in claim.grids[mode]}
            assert seen == set(range(int(p.low), int(p.high) + 1)), (p.name, mode, sorted(seen))


# A point just outside a claim's stated domain, inside the parameters' ranges: the constraint's predicate must
# reject it as its text says (a loosened predicate -- a square dropped, a bound 10x wider, a probability 1e-2 for
# 1e-12 -- passed every grid point and every hypothesis draw, which stay well inside the domain).
_OUTSIDE = [
    ("ffn.sparsity.threshold", {"N": 65, "d": 16, "d_v": 8, "key_norm2": 4.0, "value_norm2": 12.0, "a": 2.5},
     "key_norm2 > a^2"),  # a < key_norm2 < a^2
    ("ffn.sparsity.topk", {"N": 129, "d": 16, "d_v": 8, "key_norm2": 3.0, "value_norm2": 12.0, "a": 1.0},
     "1e-12"),  # P(stored slot dropped) = 8.4e-8
    ("capacity.norm.value_mean", {"N": 64, "d_k": 8, "d_v": 4, "key_norm2": 2.4, "value_norm2": 4.0, "tau": 2.0,
                                  "mu_norm2": 1.0}, "1/2"),  # key_norm2 / tau^2 = 0.6
]


@pytest.mark.parametrize("claim_id, point, text", _OUTSIDE, ids=[c for c, _, _ in _OUTSIDE])
def test_a_point_just_outside_the_stated_domain_is_rejected(claim_id, point, text):
    from proofs_check.ledger import DomainError, get_claim

    claim = get_claim(claim_id)
    for p in claim.params:
        p.coerce(point[p.name])  # inside every parameter's own range
    with pytest.raises(DomainError, match=re.escape(text)):
        claim.validate(point)


@pytest.mark.parametrize("claim", [c for c in CHECKED if any(k.name == "N_not_N_minus_1" for k in c.negative_controls)],
                         ids=lambda c: c.id)
def test_counting_the_query_is_one_more_pair_of_noise(claim):
    """The near miss N_not_N_minus_1 counts the query's own pair as noise: N pairs in place of N - 1, so it is the
    prediction times N/(N - 1) wherever it applies (a helper that shifted N by 2 moved the near miss twice as far
    under the same name, and still passed)."""
    from proofs_check.ledger import evaluate

    control = next(k for k in claim.negative_controls if k.name == "N_not_N_minus_1")
    checked = 0
    for mode in MODES:
        for point in claim.grids[mode]:
            if control.applies_when is None or control.applies_when.holds(point):
                ratio = evaluate(control.prediction(), point) / evaluate(claim.predicted_expr(), point)
                assert ratio == pytest.approx(point["N"] / (point["N"] - 1), rel=1e-9), point
                checked += 1
    assert checked


def test_the_rbf_near_miss_drops_exactly_one_coordinates_factor():
    """capacity.general.rbf_conditional's near miss shifted_axis_dropped keeps (tau/(tau+2))^{(d_k-1)/2}: one
    coordinate's factor (tau/(tau+2))^{1/2} fewer, so it is the prediction times ((tau+2)/tau)^{1/2} at every
    point (d_k - 2 in its place moved the near miss twice as far under the same name, and passed)."""
    from proofs_check.ledger import evaluate, get_claim

    claim = get_claim("capacity.general.rbf_conditional")
    control = next(k for k in claim.negative_controls if k.name == "shifted_axis_dropped")
    for mode in MODES:
        for point in claim.grids[mode]:
            ratio = evaluate(control.prediction(), point) / evaluate(claim.predicted_expr(), point)
            assert ratio == pytest.approx(math.sqrt((point["tau"] + 2) / point["tau"]), rel=1e-9), point
