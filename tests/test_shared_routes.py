"""Routes from common random numbers: a grouped simulation gives every route exactly its own call's columns.

A measure that declares ``shared_variants`` computes those routes and the main one from one set of
draws (``numerics.estimate.MonteCarlo``); the engine relies on each route's columns being bit for bit
what the separate call gives, so that grouping never changes a number.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from numerics.estimate import MonteCarlo, check_variants, monte_carlo, per_variant
from proofs_check.engine import _kwargs, _route_groups, check_point
from proofs_check.ledger import NegativeControl, all_claims
from proofs_check.seeds import batch_rng

SHARED = [c for c in all_claims() if isinstance(c.measure, MonteCarlo) and c.measure.shared_variants]
POINTS = [pytest.param(c, params, id=f"{c.id}-{mode}{i}") for c in SHARED for mode in ("quick", "default")
          for i, params in enumerate(c.grids[mode])]


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_the_route_controls_that_redraw_identical_numbers_are_shared():
    """The measures converted to one set of draws (a guard against losing one silently)."""
    ids = {c.id for c in SHARED}
    assert {"ffn.glu.reglu_inverse_snr", "capacity.kernel.relu_conditional", "ffn.width.capacity",
            "capacity.linear.paper_limit", "context.softmax.regression_limit"} <= ids


@pytest.mark.parametrize("claim, params", POINTS)
def test_grouped_call_equals_separate_calls_exactly(claim, params):
    """Every declared shared variant and the main route from one call: each route's columns equal, bit for
    bit, those of its own call on the same batch stream (three batches, quick batch size)."""
    variants = (None, *sorted(claim.measure.shared_variants))
    kwargs = _kwargs(claim, params)
    trials = claim.trials["quick"]
    for b in range(3):
        grouped = claim.measure.simulate_routes(batch_rng(7, claim.id, params, b), trials=trials,
                                                variants=variants, **kwargs)
        assert len(grouped) == len(variants)
        for variant, columns in zip(variants, grouped):
            alone = claim.measure.simulate(batch_rng(7, claim.id, params, b), trials=trials,
                                           **_kwargs(claim, params, variant))
            assert set(columns) == set(alone)
            for name in alone:
                assert _same_bits(columns[name], alone[name]), (variant, name)


def _draws(reduce_column="y", *, wrong_stream=False):
    """A toy measure: y = x (main) or 2 x (variant "double"); ``wrong_stream`` makes the grouped call draw
    the variant's numbers afresh, which breaks the contract."""
    @monte_carlo(lambda columns, **_: None, shared_variants={"double"})
    def measure(rng, *, trials, variant=None):
        group = check_variants(variant, {"double"})
        x = rng.standard_normal(trials)
        outs = []
        for v in group:
            if v == "double" and wrong_stream and len(group) > 1:
                x = rng.standard_normal(trials)
            outs.append({reduce_column: 2.0 * x if v == "double" else x})
        return per_variant(variant, outs)
    return measure


def test_the_equality_check_catches_a_group_that_redraws():
    """The check above can fail: a grouped call that draws the variant's numbers again differs from its own call."""
    good, bad = _draws(), _draws(wrong_stream=True)
    for measure, same in ((good, True), (bad, False)):
        grouped = measure.simulate_routes(np.random.default_rng(1), trials=50, variants=(None, "double"))
        alone = measure.simulate(np.random.default_rng(1), trials=50, variant="double")
        assert _same_bits(grouped[1]["y"], alone["y"]) is same


def test_a_group_needs_shared_variants():
    measure = _draws()
    with pytest.raises(ValueError, match="shared"):
        measure.simulate_routes(np.random.default_rng(0), trials=10, variants=(None, "triple"))
    with pytest.raises(ValueError, match="distinct"):
        measure.simulate_routes(np.random.default_rng(0), trials=10, variants=(None, None))
    with pytest.raises(ValueError, match="unknown variant"):
        measure.simulate(np.random.default_rng(0), trials=10, variant=(None, "triple"))


def test_route_groups_put_shared_routes_with_the_main_one():
    claim = next(c for c in SHARED if c.id == "capacity.norm.sphere_exp_conditional")
    routes = {None: None, "signal_omitted": "signal_omitted", "sphere_dimension": "sphere_dimension"}
    assert _route_groups(claim, routes) == [((None, None), ("signal_omitted", "signal_omitted")),
                                            (("sphere_dimension", "sphere_dimension"),)]


def test_a_point_is_the_same_with_and_without_sharing():
    """The engine's result for a point with a shared route control equals the one with every route alone."""
    claim = next(c for c in SHARED if c.id == "ffn.glu.reglu_inverse_snr")
    params = dict(claim.grids["quick"][0])
    alone = dataclasses.replace(claim, measure=MonteCarlo(claim.measure.simulate, claim.measure.reduce))
    a = check_point(claim, params, seed=11, mode="quick")
    b = check_point(alone, params, seed=11, mode="quick")
    assert a.verdict == b.verdict and a.batches == b.batches
    assert (a.measured, a.standard_error) == (b.measured, b.standard_error)
    assert [(c.name, c.measured, c.verdict) for c in a.controls] == [(c.name, c.measured, c.verdict)
                                                                     for c in b.controls]
    assert any(isinstance(c, NegativeControl) and c.variant in claim.measure.shared_variants
               for c in claim.negative_controls)
