"""Engine behaviour that an audit of the engine's own mutants found unguarded: each test here kills a
plausible slip in proofs_check/engine.py, seeds.py or ledger.py that the other tests and the ledger let
pass (the slip named in each docstring)."""

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from numerics.estimate import mean_of, monte_carlo
from proofs_check.engine import (PASS, PLAN_INFLATION, RESOLUTION_TARGET, SEPARATION, check_point,
                                 point_passes_with_power)
from proofs_check.ledger import (Claim, DomainError, Estimand, Kind, NegativeControl, Param, Provenance,
                                 get_claim)
from proofs_check.seeds import batch_rng, point_rng
from theory.derivation import Derivation


def _claim(routes, controls, *, prediction=10.0, batch=100, max_batches=400, kind=Kind.STATISTICAL, bound=None):
    """A Monte Carlo claim whose route ``v`` draws N(mean, sd^2) trials, ``routes[v] = (mean, sd)`` (``None``
    the main route; a mean of NaN makes that route's columns NaN)."""

    @monte_carlo(mean_of("y", "normal trials"))
    def measure(rng, *, n, trials, variant=None):
        mean, sd = routes[variant]
        return {"y": mean + sd * rng.standard_normal(trials)}

    return Claim(
        id="basics.fake.audited", statement="a test double", anchor="-", provenance=Provenance.SUITE, kind=kind,
        estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
        derivation=lambda: Derivation("fake", sp.Float(prediction)), measure=measure,
        grids={m: ({"n": 1},) for m in ("quick", "default", "full")},
        trials={m: batch for m in ("quick", "default", "full")}, max_batches=max_batches, negative_controls=tuple(controls), bound=bound,
    )


NEAR = NegativeControl("near", "prediction + 0.1", prediction=lambda: sp.Float(10.1), near_miss=True)


def test_a_route_control_that_returns_nan_is_an_error_and_fails_the_point():
    """A wrong route whose simulation overflows to NaN tells nothing: its verdict is 'error' and the point fails.
    Slip: an unknown control verdict defaulting to 'rejected' (the point passed)."""
    claim = _claim({None: (10.0, 1.0), "overflow": (np.nan, 1.0)},
                   [NEAR, NegativeControl("overflow", "a route that overflows", variant="overflow")])
    result = point_passes_with_power(check_point(claim, {"n": 1}, seed=0, mode="quick"))
    assert result.controls[1].verdict == "error"
    assert result.verdict != PASS


@pytest.mark.parametrize("seed", range(3))
def test_a_route_control_is_planned_from_its_own_spread(seed):
    """A route 5 above the prediction whose trials have sd 10 (the main route's: 1) needs about
    (SEPARATION x PLAN_INFLATION x 10 / 5)^2 trials; the plan sizes it from the route's pilot, not the main one's.
    Slip: the control's needs computed from the main route's SE (5.4 SE of separation instead of 10.5)."""
    claim = _claim({None: (10.0, 1.0), "noisy": (15.0, 10.0)}, [NegativeControl("noisy", "route +5", variant="noisy")])
    result = check_point(claim, {"n": 1}, seed=seed, mode="quick")
    expected = (SEPARATION * PLAN_INFLATION * 10 / 5) ** 2
    assert result.trials_needed >= 0.4 * expected
    assert result.controls[0].verdict == "rejected" and result.controls[0].separation >= 0.9 * SEPARATION


def test_the_trials_run_cover_the_trials_planned():
    """Whole batches round the plan up, never down. Slip: the batch count floored (14,100 trials for 14,136)."""
    result = check_point(_claim({None: (10.0, 1.0)}, [NEAR]), {"n": 1}, seed=0, mode="quick")
    assert result.trials >= result.trials_needed


def test_a_control_near_a_tiny_prediction_is_rejected_not_called_equal():
    """A control 5 % from a prediction of 1e-10 is a different value, not the prediction (n/a). Slip: equality
    judged with an absolute tolerance, which makes every control of a tiny prediction 'n/a'."""
    claim = _claim({None: (1e-10, 1e-12)}, [NegativeControl("near", "+5 %", prediction=lambda: sp.Float(1.05e-10),
                                                                 near_miss=True)], prediction=1e-10)
    assert check_point(claim, {"n": 1}, seed=0, mode="quick").controls[0].verdict == "rejected"


def test_an_asymptotic_bound_is_not_charged_to_the_trials():
    """The finite-size bound widens the tolerance by a fixed amount; the trials are planned for the rest of the
    resolution target. A bound of 1 % of the prediction still leaves a default point within 2 %.
    Slip: the plan treating the bound as part of the separation target (underpowered at 3.6 %)."""
    far = NegativeControl("far", "twice", prediction=lambda: sp.Float(20.0))
    claim = _claim({None: (10.0, 1.0)}, [far], kind=Kind.ASYMPTOTIC, bound=lambda p: 0.1)
    result = check_point(claim, {"n": 1}, seed=0, mode="default")
    assert result.verdict == PASS and result.resolution <= RESOLUTION_TARGET["default"]


def test_streams_differ_between_points_claims_batches_and_replicates():
    """Every point, claim, batch and replicate draws its own stream. Slips: the parameters left out of the
    hash (every point of a claim drew the same numbers) and the spawn key (replicate + batch,) (batch 1 of
    replicate 0 was batch 0 of replicate 1)."""
    draw = lambda g: tuple(g.standard_normal(4))  # noqa: E731
    streams = [
        draw(point_rng(7, "x.y.z", {"N": 3})), draw(point_rng(7, "x.y.z", {"N": 4})),
        draw(point_rng(7, "x.y.w", {"N": 3})), draw(point_rng(7, "x.y.z", {"N": 3}, replicate=1)),
        draw(batch_rng(7, "x.y.z", {"N": 3}, 0)), draw(batch_rng(7, "x.y.z", {"N": 3}, 1)),
        draw(batch_rng(7, "x.y.z", {"N": 4}, 1)), draw(batch_rng(7, "x.y.z", {"N": 3}, 0, replicate=1)),
        draw(batch_rng(7, "x.y.z", {"N": 3}, 1, replicate=1)),
    ]
    assert len(set(streams)) == len(streams)
    assert draw(batch_rng(7, "x.y.z", {"N": 3}, 1)) == draw(batch_rng(7, "x.y.z", {"N": 3}, 1))  # and stable


def test_a_fractional_value_of_an_integer_parameter_is_refused():
    """``N=2.5`` names the constraint instead of running N = 2. Slip: the integer check dropped (int() truncated)."""
    with pytest.raises(DomainError, match="must be an integer"):
        Param("N", 1, 10).coerce("2.5")
    with pytest.raises(DomainError, match="must be an integer"):
        get_claim("basics.linear.orthonormal_noise_free").validate({"N": "2.5", "d_k": "4", "d_v": "2"})


def test_constraints_are_checked_on_the_parsed_values():
    """``N = 10 > d_k = 9`` breaks ``N <= d_k`` whether the values come as numbers or as the strings of a command
    line ("10" <= "9" as text). Slip: the constraint evaluated on the raw values."""
    claim = get_claim("basics.linear.orthonormal_noise_free")
    for values in ({"N": 10, "d_k": 9, "d_v": 2}, {"N": "10", "d_k": "9", "d_v": "2"}):
        with pytest.raises(DomainError):
            claim.validate(values)


def test_eval_judges_a_point_by_the_same_rules_as_check(capsys):
    """In default mode a point where no near-miss control applies is underpowered (exit 1) under ``eval`` as under
    ``check``; quick mode does not require one. Slip found by the audit: eval and the pytest plugin applied the
    control rule but not the near-miss rule, so they passed a point check would not."""
    from proofs_check.cli import main

    args = ["eval", "capacity.linear.inverse_snr_conditional", "N=4000", "--no-cache"]
    assert main(args) == 1
    assert "underpowered (no near-miss control applies" in capsys.readouterr().out
    assert main([*args, "--quick"]) == 0


def test_the_double_passes_when_nothing_is_wrong():
    """The double itself is sound: with no slip its point passes with every control rejected (so the tests above
    fail for the slip, not for the double)."""
    result = point_passes_with_power(check_point(_claim({None: (10.0, 1.0)}, [NEAR]), {"n": 1}, seed=0,
                                                 mode="quick"))
    assert result.verdict == PASS and result.controls[0].verdict == "rejected"


# --- later looks (engine._look_again) -------------------------------------------------------------
#
# A route control's distance from the prediction is measured by its own noisy pilot. Planned from that
# distance alone, a route 0.5 off with sd 6 was accepted by chance (a false failure) in 38 of 200 seeds
# and ended short of SEPARATION in 110; looked at again after its planned batches, 0 and 0.

NOISY_ROUTE = {None: (10.0, 1.0), "noisy": (10.5, 6.0)}


def test_a_route_control_planned_from_a_noisy_pilot_is_planned_again_until_separated():
    """The route needs about 25,000 trials of the 30,000 its cap allows. Slips: the plan taken at the pilot's
    word (no later look); a later look that reads only the main route's needs; a later look that plans for
    the hopeful distance (:func:`engine._needs`) instead of the cap (46 of 200 seeds short of SEPARATION,
    5 accepted): controls accepted or short of SEPARATION in several of these seeds."""
    claim = _claim(NOISY_ROUTE, [NegativeControl("noisy", "route +0.5, sd 6", variant="noisy")], max_batches=300)
    results = [point_passes_with_power(check_point(claim, {"n": 1}, seed=seed, mode="quick")) for seed in range(40)]
    assert all(r.verdict == PASS and r.controls[0].verdict == "rejected" for r in results)
    # the third look plans from a precise distance, so a control may end a hair short of SEPARATION at most
    assert sum(r.controls[0].separation < SEPARATION for r in results) <= 2
    assert min(r.controls[0].separation for r in results) >= 0.9 * SEPARATION
    assert max(r.looks for r in results) >= 2


def test_a_point_whose_plan_was_enough_is_looked_at_once():
    """A precise route and a near miss: the pilot's plan meets every requirement, so nothing is planned
    again (a later look that planned anyway would change the ledger's numbers). Slip: the unmet test
    made with the pilot's inflation (most points would be planned again)."""
    claim = _claim({None: (10.0, 1.0), "far": (15.0, 1.0)}, [NEAR, NegativeControl("far", "+5", variant="far")])
    for seed in range(5):
        result = check_point(claim, {"n": 1}, seed=seed, mode="quick")
        assert result.looks == 1 and result.trials == 100 * -(-result.trials_needed // 100)


def test_a_route_control_beyond_the_cap_at_a_later_look_makes_the_point_underpowered():
    """A route 0.05 off with sd 6 needs about 2.5 million trials; with a cap of 2,000 its pilot cannot tell
    (the distance plus Z SEs would fit), so a later look decides: short, the point underpowered and the
    control named. Slip: the hopeful distance taken as the distance at every look (the control is then
    accepted and the point fails, or passes by chance)."""
    claim = _claim({None: (10.0, 1.0), "noisy": (10.05, 6.0)},
                   [NegativeControl("noisy", "route +0.05, sd 6", variant="noisy")], max_batches=20)
    for seed in range(5):
        result = check_point(claim, {"n": 1}, seed=seed, mode="quick")
        assert result.verdict == "underpowered" and "cannot separate noisy" in result.message
        assert 100 < result.trials <= 2000


def test_a_fixed_trial_count_takes_a_route_controls_distance_as_measured():
    """eval --trials has no later look: a control its one batch cannot separate is short (underpowered), not
    planned for a hopeful distance. A route about 10 SEs off at 500 trials needs about 870 (short); its
    hopeful distance, 15 SEs, would need 370. Slip: the hopeful distance at a fixed trial count (with a cap
    of one batch, as here, the control is then judged at 10 SEs and the point passes)."""
    claim = _claim({None: (10.0, 1.0), "noisy": (12.68, 6.0)},
                   [NegativeControl("noisy", "route +2.68, sd 6", variant="noisy")], max_batches=1)
    for seed in range(5):
        result = check_point(claim, {"n": 1}, seed=seed, mode="quick", trials=500)
        assert result.verdict == "underpowered" and "cannot separate noisy" in result.message
        assert result.trials == 500 and result.looks == 0


def test_a_plan_from_a_pilot_without_outliers_is_planned_again():
    """Trials of sd 1 with a 1 % chance of sd 30 (sd 3.2 in all), a control 20 % off: a pilot of 100 trials
    without an outlier (a third of the seeds) plans for sd 1, a tenth of the trials the 10 % resolution target
    of quick mode needs (and the control a quarter of that). Slip: no later look, or a later look that skips
    the resolution (the point then misses its target: underpowered)."""

    @monte_carlo(mean_of("y", "normal trials with rare outliers"))
    def measure(rng, *, n, trials, variant=None):
        z = rng.standard_normal(trials)
        return {"y": 10.0 + np.where(rng.random(trials) < 0.01, 30.0, 1.0) * z}

    off = NegativeControl("off", "prediction + 20 %", prediction=lambda: sp.Float(12.0), near_miss=True)
    claim = replace(_claim({None: (10.0, 1.0)}, [off]), measure=measure)
    results = [check_point(claim, {"n": 1}, seed=seed, mode="quick") for seed in range(30)]
    assert all(r.verdict == PASS and r.resolution <= RESOLUTION_TARGET["quick"] for r in results)
    assert all(r.controls[0].verdict == "rejected" and r.controls[0].separation >= SEPARATION for r in results)
    assert max(r.looks for r in results) >= 2


def test_no_point_is_looked_at_more_than_looks_times(monkeypatch):
    """With LOOKS lowered to 2 some of these seeds still want a third look; none gets it. Slip: the limit
    tested with '>' (one look too many)."""
    from proofs_check import engine

    monkeypatch.setattr(engine, "LOOKS", 2)
    claim = _claim(NOISY_ROUTE, [NegativeControl("noisy", "route +0.5, sd 6", variant="noisy")], max_batches=300)
    looks = [check_point(claim, {"n": 1}, seed=seed, mode="quick").looks for seed in range(40)]
    assert max(looks) == 2


def test_a_resolution_beyond_the_cap_at_a_later_look_plans_the_cap():
    """A later look plans the cap for a resolution its inflated need puts beyond it, as the pilot does: the
    trials the cap allows may meet the target. Trials of sd 1 with 1 % outliers of sd 30, a cap of 1,500
    trials: no seed may end underpowered short of the cap. Slip (found by review): a later look dropping
    such a resolution need (5 of 60 seeds underpowered after 600-1,200 trials)."""

    @monte_carlo(mean_of("y", "normal trials with rare outliers"))
    def measure(rng, *, n, trials, variant=None):
        z = rng.standard_normal(trials)
        return {"y": 10.0 + np.where(rng.random(trials) < 0.01, 30.0, 1.0) * z}

    off = NegativeControl("off", "prediction + 20 %", prediction=lambda: sp.Float(12.0), near_miss=True)
    claim = replace(_claim({None: (10.0, 1.0)}, [off], max_batches=15), measure=measure)
    for seed in range(60):
        result = check_point(claim, {"n": 1}, seed=seed, mode="quick")
        assert result.verdict == PASS or result.trials == 1500, (seed, result.trials, result.message)


def test_a_prediction_controls_plan_counts_the_asymptotic_bound():
    """A control 0.5 off an asymptotic prediction whose bound is 0.1 is 0.4 from the tolerance's edge: the plan
    puts it SEPARATION SEs beyond the bound. Slip: the distance taken without the bound (separations 9.6-10.7)."""
    claim = _claim({None: (10.0, 1.0)}, [NegativeControl("near", "+0.5", prediction=lambda: sp.Float(10.5),
                                                         near_miss=True)], kind=Kind.ASYMPTOTIC, bound=lambda p: 0.1)
    for seed in range(3):
        assert check_point(claim, {"n": 1}, seed=seed, mode="quick").controls[0].separation >= SEPARATION


def test_a_route_controls_plan_reads_its_own_distance_not_the_main_estimate():
    """The main route's mean moved (the same draws): every plan stays as it was. Slip: a route's distance
    measured from the main estimate instead of the prediction (the plan then moves with the main z)."""
    controls = [NegativeControl("r", "route +0.5", variant="r")]
    for seed in range(5):
        plans = [check_point(_claim({None: (main, 6.0), "r": (100.5, 1.0)}, controls, prediction=100.0),
                             {"n": 1}, seed=seed, mode="quick") for main in (100.0, 100.3)]
        assert len({(p.trials, p.trials_needed, p.looks) for p in plans}) == 1


def test_later_seconds_count_the_batches_still_to_run():
    """A plan of 5 batches with 3 run has 2 left (the pilot timed at 1 s per batch). Slip: counted from the
    pilot (4 s; only where a point's later batches run changes)."""
    from proofs_check.engine import _Plan

    plan = _Plan(100, {None: None}, {None: [{"y": np.zeros(100)}] * 3}, 5, None, [], {}, {None: 1.0},
                 [((None, None),)])
    assert plan.later_seconds() == 2.0


def test_a_route_control_near_the_cap_is_run_to_the_cap_and_not_accepted():
    """The route needs about 25,000 trials of the 20,000 its cap allows: a later look that still finds the
    distance beyond the cap, while the distance plus Z SEs is not, plans the cap and judges the control
    there (rejected in every seed). Slip: a later look planning for the hopeful distance again (fewer
    trials than the cap: a control accepted by chance)."""
    claim = _claim(NOISY_ROUTE, [NegativeControl("noisy", "route +0.5, sd 6", variant="noisy")], max_batches=200)
    results = [point_passes_with_power(check_point(claim, {"n": 1}, seed=seed, mode="quick")) for seed in range(60)]
    assert all(r.controls[0].verdict == "rejected" for r in results)
