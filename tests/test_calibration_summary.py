"""Calibration summary, Markdown and command on hand-built reseeded runs: every expected number below is worked
out by hand from the synthetic point results (never by running the summary), so a slip in a rate, a count, a
statistic, a sort, a key, a format or an exit code shows as a mismatch.

Kept fast: no real run; the command's tests replace :func:`proofs_check.calibration.calibrate` by a fake."""

from __future__ import annotations

import json
import math
import sys

import pytest
import sympy as sp
from scipy.stats import kstwo

from proofs_check import calibration
from proofs_check.calibration import Z_SD_BAND, markdown, summarise
from proofs_check.engine import SEPARATION, Z, ClaimResult, ControlResult, PointResult, SymbolicResult
from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
from theory.derivation import Derivation

MODES = ("quick", "default", "full")
ALPHA, BETA, ZETA = "basics.fake.alpha", "basics.fake.beta", "basics.fake.zeta"


def _claim(cid=ALPHA, *, kind=Kind.STATISTICAL, controls=("near",), grids=None):
    if kind is Kind.CITED:
        return Claim(id=cid, statement="fake", anchor="-", provenance=Provenance.PAPER, kind=kind,
                     estimand=Estimand("x", "none", "none"), params=(), measure=None, grids={},
                     derivation=lambda: Derivation("fake", sp.Float(1.0)), citation="someone 2020")
    return Claim(id=cid, statement="fake", anchor="-", provenance=Provenance.SUITE, kind=kind,
                 estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
                 derivation=lambda: Derivation("fake", sp.Float(1.0)), measure=lambda rng, n: None,
                 grids=grids or {m: ({"n": 1},) for m in MODES},
                 negative_controls=tuple(NegativeControl(c, c, prediction=lambda: sp.Float(2.0)) for c in controls),
                 bound=(lambda params: 0.0) if kind is Kind.ASYMPTOTIC else None)


def _ctl(name="near", verdict="rejected", sep=10.0, near_miss=False):
    return ControlResult(name, 2.0, 1.0, verdict, "", sep, near_miss)


def _pt(cid=ALPHA, n=1, *, z=0.0, verdict="pass", controls=(), resolution=0.01, trials=1000, seconds=0.1, looks=1,
        message="", trials_needed=None):
    se = 0.01
    return PointResult(claim_id=cid, params={"n": n}, predicted=1.0, measured=1.0 + (z or 0.0) * se, standard_error=se,
                       trials=trials, ess=None, z=z, tolerance=Z * se, verdict=verdict, controls=tuple(controls),
                       seconds=seconds, method="fake", message=message, resolution=resolution, batches=1,
                       trials_needed=trials if trials_needed is None else trials_needed, task_seconds=(),
                       looks=looks)


def _cr(claim, points=(), *, status="verified", message="", mode=None):
    return ClaimResult(claim, SymbolicResult(claim.id, status, message=message), list(points), mode=mode)


def _runs_of_z(zs, cid=ALPHA, kind=Kind.STATISTICAL):
    """One claim with one point per run, its z in run ``i`` (seed ``i + 1``) ``zs[i]``."""
    claim = _claim(cid, kind=kind)
    return {seed: [_cr(claim, [_pt(cid, z=z)])] for seed, z in enumerate(zs, 1)}


def _phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


# --- statistics of the z-scores -------------------------------------------------------------------------------

def test_z_statistics_are_the_sample_mean_sd_ks_p_and_largest_magnitude():
    """z = 1, -1, -3, 0: mean -0.75, sample sd (n - 1 divisor) sqrt(8.75 / 3), max |z| 3 and the exact
    Kolmogorov-Smirnov p of D = 0.341345 against N(0, 1) at n = 4, for the claim and overall alike.
    Slips: median or mean |z| for the mean, the n divisor or the variance for the sd, the KS statistic or
    the KS test of |z| for its p, the largest z or the sum of |z| for the largest magnitude."""
    zs = [1.0, -1.0, -3.0, 0.0]
    xs = sorted(zs)
    d = max(max((i + 1) / 4 - _phi(x), _phi(x) - i / 4) for i, x in enumerate(xs))
    assert d == pytest.approx(1 - _phi(-1.0) - 0.5, abs=1e-12)  # 0.5 - F(-1), the largest step gap
    expected = {"n": 4, "mean": -0.75, "sd": math.sqrt(8.75 / 3), "ks_p": float(kstwo.sf(d, 4)), "max_abs": 3.0}
    report = summarise(_runs_of_z(zs), mode="quick")
    (claim,) = report["claims"]
    for got in (claim, report["z_overall"]):
        assert {k: got[k] for k in expected} == pytest.approx(expected, rel=1e-9)
    assert claim["sd"] == pytest.approx(1.7078251, rel=1e-7)


def test_one_z_has_no_spread_and_two_have_one():
    """A claim with a single z reports n 1 and no mean, sd, KS p or maximum (None, not NaN); two z of 0.5 and
    -0.5 already have them: mean 0, sd sqrt(0.5), max 0.5. Slips: the cut at 1 or 3 values, n 0."""
    one = summarise(_runs_of_z([0.7]), mode="quick")["claims"][0]
    assert {k: one[k] for k in ("n", "mean", "sd", "ks_p", "max_abs")} == {
        "n": 1, "mean": None, "sd": None, "ks_p": None, "max_abs": None}
    two = summarise(_runs_of_z([0.5, -0.5]), mode="quick")["claims"][0]
    assert two["n"] == 2 and two["mean"] == pytest.approx(0.0, abs=1e-15)
    assert two["sd"] == pytest.approx(math.sqrt(0.5)) and two["max_abs"] == 0.5 and two["ks_p"] is not None


def test_only_finite_z_of_statistical_claims_are_summarised():
    """An asymptotic claim's z (not centred: its estimate may sit anywhere within its bound) and a point's
    missing or non-finite z are left out of the per-claim and overall statistics, and only statistical claims
    get a row. Slips: every kind's z taken, NaN/inf z taken, asymptotic claims listed."""
    stat, asym = _claim(ALPHA), _claim(BETA, kind=Kind.ASYMPTOTIC)
    runs = {1: [_cr(stat, [_pt(ALPHA, z=1.0)]), _cr(asym, [_pt(BETA, z=9.0)])],
            2: [_cr(stat, [_pt(ALPHA, z=-1.0)]), _cr(asym, [_pt(BETA, z=8.0)])],
            3: [_cr(stat, [_pt(ALPHA, z=math.nan)])],
            4: [_cr(stat, [_pt(ALPHA, z=math.inf)])],
            5: [_cr(stat, [_pt(ALPHA, z=None)])]}
    report = summarise(runs, mode="quick")
    assert [c["claim"] for c in report["claims"]] == [ALPHA]
    for got in (report["claims"][0], report["z_overall"]):
        assert got["n"] == 2 and got["mean"] == 0.0 and got["sd"] == pytest.approx(math.sqrt(2.0))
        assert got["max_abs"] == 1.0


def test_pooled_z_are_summarised_per_claim_and_overall():
    """Two points pooled by Stouffer: z (1, 1) pools to sqrt(2), z (-2, -1) to -3 / sqrt(2). The claim's
    largest pooled magnitude is 3 / sqrt(2); overall n 2, mean (sqrt(2) - 3 / sqrt(2)) / 2, sd 2.5. A claim
    with one point has no pooled z: None. Slips: the signed maximum, the tolerance for the z, the point z for
    the pooled summary, 0 for none."""
    grids = {m: ({"n": 1}, {"n": 2}) for m in MODES}
    two, one = _claim(ALPHA, grids=grids), _claim(BETA)
    runs = {1: [_cr(two, [_pt(ALPHA, 1, z=1.0), _pt(ALPHA, 2, z=1.0)]), _cr(one, [_pt(BETA, z=0.5)])],
            2: [_cr(two, [_pt(ALPHA, 1, z=-2.0), _pt(ALPHA, 2, z=-1.0)]), _cr(one, [_pt(BETA, z=-0.5)])]}
    report = summarise(runs, mode="quick")
    by = {c["claim"]: c for c in report["claims"]}
    assert by[ALPHA]["pooled_max_abs"] == pytest.approx(3 / math.sqrt(2))
    assert by[BETA]["pooled_max_abs"] is None
    po = report["pooled_overall"]
    assert po["n"] == 2 and po["mean"] == pytest.approx((math.sqrt(2) - 3 / math.sqrt(2)) / 2)
    assert po["sd"] == pytest.approx(2.5) and po["max_abs"] == pytest.approx(3 / math.sqrt(2))


# --- spurious failures ------------------------------------------------------------------------------------------

def test_every_failing_part_of_every_failing_run_is_listed_with_its_seed_and_verdict():
    """Each run's failing points (fail, underpowered, error: each with its own message), a pooled failure, idle
    controls and, with nothing else to show, the symbolic check are each a row; a cited claim and a passing
    claim are none. Four rows from three failing runs out of four.
    Slips: cited or underpowered or error not counted, only failing points, only the first row, the pooled or
    idle-control or symbolic row dropped or inverted, the verdict, seed or message taken from elsewhere,
    rows counted for runs."""
    grids = {m: ({"n": 1}, {"n": 2}) for m in MODES}
    alpha, cited = _claim(ALPHA, grids=grids), _claim("basics.fake.cited", kind=Kind.CITED)
    idle, sym = _claim(BETA, controls=("far",)), _claim(ZETA)
    runs = {
        1: [_cr(alpha, [_pt(ALPHA, 1, z=4.0), _pt(ALPHA, 2, z=4.0)]),  # each passes, pooled 8 / sqrt(2) fails
            _cr(cited, status="cited")],
        2: [_cr(alpha, [_pt(ALPHA, 1, z=0.1), _pt(ALPHA, 2, z=-0.1)]),
            _cr(sym, [_pt(ZETA, z=0.2)], status="failed", message="step 2 does not simplify"),
            _cr(cited, status="failed", message="the record does not build")],
        3: [_cr(alpha, [_pt(ALPHA, 1, z=0.1, verdict="fail", message="too far"),
                        _pt(ALPHA, 2, z=0.2, verdict="underpowered", message="short")]),
            _cr(idle, [_pt(BETA, z=0.3, controls=[_ctl("far", "n/a", None)])], mode="quick"),
            _cr(sym, [_pt(ZETA, z=0.0, verdict="error", message="boom")])],
        4: [_cr(alpha, [_pt(ALPHA, 1, z=0.3), _pt(ALPHA, 2, z=-0.3)]), _cr(cited, status="cited")],
    }
    report = summarise(runs, mode="quick")
    pooled_msg = f"its 2 points together sit above the prediction: pooled z {8 / math.sqrt(2):.2f} beyond {Z:.2f}"
    idle_msg = ("negative control(s) far applied at no point of the quick grid: they cannot fail, so the check "
                "shows no power against them")
    assert report["spurious_failures"] == [
        {"seed": 1, "claim": ALPHA, "verdict": "fail", "regime": "pooled, 2 points", "message": pooled_msg},
        {"seed": 2, "claim": ZETA, "verdict": "fail", "regime": "symbolic", "message": "step 2 does not simplify"},
        {"seed": 2, "claim": "basics.fake.cited", "verdict": "fail", "regime": "symbolic",
         "message": "the record does not build"},
        {"seed": 3, "claim": ALPHA, "verdict": "fail", "regime": "n=1", "message": "too far"},
        {"seed": 3, "claim": ALPHA, "verdict": "fail", "regime": "n=2", "message": "short"},
        {"seed": 3, "claim": BETA, "verdict": "underpowered", "regime": "controls", "message": idle_msg},
        {"seed": 3, "claim": ZETA, "verdict": "error", "regime": "n=1", "message": "boom"},
    ]
    assert report["failed_runs"] == 3 and report["runs"] == 4
    text = markdown(report)
    assert "| runs with a spurious failure | 3 of 4 | 0 |" in text
    assert f"| 3 | `{BETA}` | controls | underpowered | {idle_msg} |" in text


def test_a_single_failed_run_gets_a_failures_section_and_a_clean_report_none():
    """One failed run is listed under '## Failures'; a report without failures has no such section.
    Slip: the section shown only for more than one failed run."""
    claim = _claim()
    runs = {1: [_cr(claim, [_pt(z=0.0)])], 2: [_cr(claim, [_pt(z=9.0, verdict="fail", message="far off")])]}
    text = markdown(summarise(runs, mode="quick"))
    assert "## Failures" in text and f"| 2 | `{ALPHA}` | n=1 | fail | far off |" in text
    assert "## Failures" not in markdown(summarise({1: runs[1]}, mode="quick"))


# --- later looks, points, resolution ----------------------------------------------------------------------------

def test_points_planned_again_are_those_with_more_than_one_look():
    """looks 0 (no plan) and 1 (the pilot's plan) are not listed; 2 and 3 are, with their own count.
    Slips: >= 1, > 2, the count shifted."""
    grids = {m: tuple({"n": n} for n in range(1, 5)) for m in MODES}
    claim = _claim(grids=grids)
    runs = {7: [_cr(claim, [_pt(n=n, looks=looks) for n, looks in zip(range(1, 5), (0, 1, 2, 3))])]}
    assert summarise(runs, mode="quick")["points_planned_again"] == [
        {"seed": 7, "claim": ALPHA, "regime": "n=3", "looks": 2},
        {"seed": 7, "claim": ALPHA, "regime": "n=4", "looks": 3}]


def test_point_rows_take_the_largest_and_median_finite_resolution_and_median_trials_and_seconds():
    """Per point over three runs: n=1 resolutions 0.01, 0.06, 0.02 (max 0.06, median 0.02, mean 0.03), trials
    1000, 3000, 8000 (median 3000; the plan asked for twice as many), seconds 0.1, 0.5, 0.2 (median 0.2);
    n=2 resolutions 1.5, inf, None: only 1.5 is finite. At the quick target 0.10, n=2 (1.5) and n=3 (max
    0.2, median 0.05) are over it, n=4 (exactly 0.10) and n=1 (0.06: over the default target only) are not.
    Slips: resolutions of 1 or more dropped, non-finite ones kept, min or last for max, mean for median,
    trials asked for or the first run's, the largest time, the median against the target, >=, the default
    target, the regime left out of the list."""
    grids = {m: tuple({"n": n} for n in range(1, 5)) for m in MODES}
    claim = _claim(grids=grids)
    per_run = [(0.01, 1000, 0.1, 1.5, 0.2), (0.06, 3000, 0.5, math.inf, 0.05), (0.02, 8000, 0.2, None, 0.05)]
    runs = {seed: [_cr(claim, [_pt(n=1, resolution=r1, trials=t, seconds=s, trials_needed=2 * t),
                               _pt(n=2, resolution=r2), _pt(n=3, resolution=r3), _pt(n=4, resolution=0.1)])]
            for seed, (r1, t, s, r2, r3) in enumerate(per_run, 1)}
    report = summarise(runs, mode="quick")
    rows = {r["regime"]: r for r in report["points"]}
    assert rows["n=1"] == {"claim": ALPHA, "regime": "n=1", "resolution_max": 0.06,
                           "resolution_median": pytest.approx(0.02), "trials_median": 3000.0,
                           "seconds_median": pytest.approx(0.2)}
    assert rows["n=2"]["resolution_max"] == 1.5 and rows["n=2"]["resolution_median"] == 1.5
    assert rows["n=3"]["resolution_max"] == 0.2 and rows["n=3"]["resolution_median"] == pytest.approx(0.05)
    assert report["engine"]["resolution_target"] == 0.10
    assert report["points_over_resolution_target"] == [f"{ALPHA} n=2", f"{ALPHA} n=3"]
    text = markdown(report)
    assert "| points over the resolution target | 2 | 0 |" in text
    assert f"| `{ALPHA}` | n=1 | 6% | 2% | 3000 | 0.2 |" in text


# --- negative controls ------------------------------------------------------------------------------------------

def test_controls_count_applications_and_acceptances_and_keep_the_smallest_separation():
    """alpha/near over four runs: rejected at 3 SE, accepted at -0.5 SE (within a fixed tolerance), rejected
    at 4 SE, n/a: applied 3, accepted 1, smallest separation -0.5. alpha/far: an error, then rejected at 10, 8,
    9: applied 4, accepted 0 (an error is not an acceptance), smallest 8. beta/near (same name, other claim)
    accepted twice; beta/early rejected once. Three acceptances in all; rows sorted by claim then control.
    Slips: n/a counted, acceptances not counted as applied, any non-rejection counted as accepted, only the
    last acceptance kept, max or last or |separation| for the minimum, near miss lost, controls of two
    claims merged by name, controls with an acceptance counted instead of acceptances, the largest count,
    rows sorted by control name alone."""
    alpha, beta = _claim(ALPHA, controls=("near", "far")), _claim(BETA, controls=("near", "early"))
    near = [("rejected", 3.0), ("accepted", -0.5), ("rejected", 4.0), ("n/a", None)]
    far = [("error", None), ("rejected", 10.0), ("rejected", 8.0), ("rejected", 9.0)]
    runs = {}
    for seed, ((nv, ns), (fv, fs)) in enumerate(zip(near, far), 1):
        runs[seed] = [_cr(alpha, [_pt(ALPHA, controls=[_ctl("near", nv, ns, True), _ctl("far", fv, fs)])])]
        if seed <= 2:
            runs[seed].append(_cr(beta, [_pt(BETA, controls=[_ctl("near", "accepted", 1.0 - seed),
                                                             _ctl("early", "rejected" if seed == 1 else "n/a",
                                                                  7.0 if seed == 1 else None)])]))
    report = summarise(runs, mode="quick")
    assert report["controls"] == [
        {"claim": ALPHA, "control": "far", "near_miss": False, "applied": 4, "accepted": 0, "min_separation": 8.0},
        {"claim": ALPHA, "control": "near", "near_miss": True, "applied": 3, "accepted": 1, "min_separation": -0.5},
        {"claim": BETA, "control": "early", "near_miss": False, "applied": 1, "accepted": 0, "min_separation": 7.0},
        {"claim": BETA, "control": "near", "near_miss": False, "applied": 2, "accepted": 2, "min_separation": -1.0},
    ]
    assert report["controls_accepted"] == 3
    text = markdown(report)
    assert "| controls accepted by chance | 3 | 0 |" in text
    assert f"| `{ALPHA}` | near | yes | 3 | 1 | -0.5 |" in text and f"| `{ALPHA}` | far |  | 4 | 0 | 8 |" in text


# --- the band, sorting, top-level fields ------------------------------------------------------------------------

def test_band_is_closed_at_0_85_and_1_15_and_a_claim_without_an_sd_is_outside_it():
    """z = +-a have sd a sqrt(2): a = 0.58 gives 0.820 (below 0.85, above 0.8), a = 0.834 gives 1.179 (above
    1.15, below 1.2), a = 0.7 gives 0.990 (inside); a claim with one z has no sd and cannot show it is
    calibrated. Claims are listed sorted, whatever order the runs name them in.
    Slips: the band widened, a missing sd counted as in the band or left off the list, claims unsorted."""
    assert Z_SD_BAND == (0.85, 1.15)
    low, high, good, lone = _claim("basics.fake.low"), _claim("basics.fake.high"), _claim(ALPHA), _claim(ZETA)
    runs = {s: [_cr(lone, [_pt(ZETA, z=0.3)])] if s == 1 else [] for s in (1, 2)}
    for s, sign in ((1, 1.0), (2, -1.0)):
        runs[s] += [_cr(claim, [_pt(claim.id, z=sign * a)]) for claim, a in ((high, 0.834), (low, 0.58), (good, 0.7))]
    report = summarise(runs, mode="quick")
    assert [c["claim"] for c in report["claims"]] == [ALPHA, "basics.fake.high", "basics.fake.low", ZETA]
    assert [c["in_band"] for c in report["claims"]] == [True, False, False, False]
    assert sorted(report["claims_outside_band"]) == ["basics.fake.high", "basics.fake.low", ZETA]
    assert report["engine"]["z_sd_band"] == [0.85, 1.15]


def test_band_ends_are_inside(monkeypatch):
    """z = 0, 1, 2 have sd exactly 1: inside a band that ends or starts at 1 (the band is closed, as the
    report's '[low, high]' says). Slip: strict comparisons."""
    claim = _claim()
    runs = {s: [_cr(claim, [_pt(z=z)])] for s, z in enumerate((0.0, 1.0, 2.0), 1)}
    for band in ((0.8, 1.0), (1.0, 1.2)):
        monkeypatch.setattr(calibration, "Z_SD_BAND", band)
        assert summarise(runs, mode="quick")["claims"][0]["in_band"]


def test_top_level_fields_seeds_runs_engine_and_keys():
    """Seeds sorted whatever the runs' order, their count, the engine's z and control separation, and the
    schema's keys. Slips: seeds in dict order, the count off by one, z for the separation, renamed keys."""
    claim = _claim()
    runs = {s: [_cr(claim, [_pt(z=0.1 * s)])] for s in (5, 3, 4)}
    report = summarise(runs, mode="default")
    assert report["seeds"] == [3, 4, 5] and report["runs"] == 3 and report["mode"] == "default"
    assert report["engine"]["z"] == Z and report["engine"]["separation"] == SEPARATION
    assert SEPARATION > Z + 3  # the two differ: a control must sit further away than a failing prediction
    assert report["spurious_failures"] == [] and report["points_planned_again"] == []
    assert report["engine"]["resolution_target"] == 0.02
    assert markdown(report).startswith("# amverify calibration (default, 3 runs)\n\nRoot seeds 3..5;")


# --- Markdown ---------------------------------------------------------------------------------------------------

def test_markdown_numbers_have_three_significant_digits_and_name_each_column():
    """z = 1, -1, -3, 0 (mean -0.75, sd 1.7078, max 3), pooled max none, a clean claim list 'none', the
    commit without uncommitted changes, a trials median of 123456 shown whole.
    Slips: fixed decimals or two digits, the mean in the sd column, the point max in the pooled column,
    'none' dropped, the dirty flag read from the commit, the trials median at three digits."""
    claim = _claim()
    runs = {s: [_cr(claim, [_pt(z=z, trials=123456)])] for s, z in enumerate((1.0, -1.0, -3.0, 0.0), 1)}
    report = summarise(runs, mode="quick")
    report["claims_outside_band"] = []  # as if in the band, to see the empty list's 'none'
    report["git"] = {"commit": "0123456789abcdef", "dirty": False}
    text = markdown(report)
    assert "| statistical z-scores: n, mean, sd, KS p | 4, -0.75, 1.71, " in text
    assert f"| `{ALPHA}` | 4 | -0.75 | 1.71 | " in text and "| 3 | - |\n" in text
    assert "| claims with z sd outside [0.85, 1.15] | 0 (none) | 0 |" in text
    assert " Git commit 0123456789ab." in text and "uncommitted" not in text
    assert f"| `{ALPHA}` | n=1 | 1% | 1% | 123456 | 0.1 |" in text
    report["git"]["dirty"] = True
    assert " Git commit 0123456789ab (with uncommitted changes)." in markdown(report)


# --- calibrate(): one task list, results split by seed ----------------------------------------------------------

def test_calibrate_runs_each_seed_once_and_gives_each_seed_its_own_results(monkeypatch):
    """Three seeds, two claims whose default grids (2 and 1 points) differ from their quick grids: one call of
    run_tasks with every seed's points, the workers, executor and progress passed on, the symbolic check run
    once per claim and shared, and each seed's claim results built from that seed's point results over the
    mode's grid. Slips: one claim's symbolic check, the first seed everywhere, the seeds' results swapped,
    the quick grid, the workers dropped."""
    grids = {"quick": ({"n": 1},), "default": ({"n": 1}, {"n": 2}), "full": ({"n": 1},)}
    claims = [_claim(ALPHA, grids=grids), _claim(BETA)]
    calls = {"symbolic": [], "run_tasks": []}

    def fake_symbolic(claim):
        calls["symbolic"].append(claim.id)
        return SymbolicResult(claim.id, "verified", message=claim.id)

    def fake_run_tasks(tasks, *, jobs, executor, progress):
        calls["run_tasks"].append((list(tasks), jobs, executor, progress))
        return [_pt(t[1], t[2]["n"], z=t[3] + t[2]["n"] / 10) for t in tasks]

    monkeypatch.setattr(calibration, "check_symbolic", fake_symbolic)
    monkeypatch.setattr(calibration, "run_tasks", fake_run_tasks)
    executor, progress = object(), print
    runs = calibration.calibrate(claims, mode="default", seeds=[7, 8, 9], jobs=3, executor=executor,
                                 progress=progress)
    assert calls["symbolic"] == [ALPHA, BETA]
    ((tasks, jobs, ex, pr),) = calls["run_tasks"]
    assert (jobs, ex, pr) == (3, executor, progress) and len(tasks) == 9
    assert sorted({t[3] for t in tasks}) == [7, 8, 9] and {t[4] for t in tasks} == {"default"}
    assert list(runs) == [7, 8, 9]
    for seed, results in runs.items():
        assert [cr.claim.id for cr in results] == [ALPHA, BETA]
        assert [cr.symbolic.message for cr in results] == [ALPHA, BETA] and {cr.mode for cr in results} == {"default"}
        assert [[p.z for p in cr.points] for cr in results] == [[seed + 0.1, seed + 0.2], [seed + 0.1]]


# --- the command ------------------------------------------------------------------------------------------------

REAL_ID = "basics.linear.memory_accumulation"


@pytest.fixture
def fake_run(monkeypatch):
    """Replace the run by a fake: records the seeds, mode and progress switch; seed 6 fails (one failing run
    with two failing points) unless ``state['all_pass']``."""
    from proofs_check import cli, report

    grids = {m: ({"n": 1}, {"n": 2}) for m in MODES}
    claim = _claim(grids=grids)
    state = {"all_pass": False}

    def fake_calibrate(claims, *, mode, seeds, jobs, executor, progress):
        state.update(seeds=list(seeds), mode=mode, jobs=jobs, claims=[c.id for c in claims])
        out = {}
        for s in seeds:
            bad = s == 6 and not state["all_pass"]
            verdict = "fail" if bad else "pass"
            out[s] = [_cr(claim, [_pt(n=1, z=0.1, verdict=verdict), _pt(n=2, z=-0.1, verdict=verdict)])]
        return out

    def fake_printer(stream, enabled):
        state["progress_enabled"] = enabled
        return None

    monkeypatch.setattr(calibration, "calibrate", fake_calibrate)
    monkeypatch.setattr(cli, "_progress_printer", fake_printer)
    monkeypatch.setattr(report, "git_commit", lambda: {"commit": "feedface" * 5, "dirty": False})
    return state


def _main(monkeypatch, argv):
    from proofs_check.cli import main

    monkeypatch.setattr(sys, "argv", ["amverify"] + argv)
    return main(argv)


def test_command_runs_consecutive_seeds_from_first_seed_and_exits_1_on_a_failed_run(fake_run, monkeypatch, tmp_path,
                                                                                    capsys):
    """--runs 3 --first-seed 5: seeds 5, 6, 7 at the quick grid; seed 6 fails at two points: exit 1, one failed
    run (not two failures) in the JSON and the closing line, the command line and commit recorded, the
    Markdown written. -q turns progress off. Slips: a run short, the first seed ignored, other seed
    sequences, no exit code, the exit read from controls, the commit or command dropped, -q inverted, the
    failure rows counted as runs, the report's mode taken from elsewhere."""
    out, md = tmp_path / "cal.json", tmp_path / "cal.md"
    argv = ["calibrate", REAL_ID, "--runs", "3", "--first-seed", "5", "--quick", "-q", "--json", str(out),
            "--md", str(md)]
    assert _main(monkeypatch, argv) == 1
    assert fake_run["seeds"] == [5, 6, 7] and fake_run["mode"] == "quick" and fake_run["claims"] == [REAL_ID]
    assert fake_run["progress_enabled"] is False
    data = json.loads(out.read_text())
    assert data["seeds"] == [5, 6, 7] and data["runs"] == 3 and data["mode"] == "quick"
    assert data["failed_runs"] == 1 and len(data["spurious_failures"]) == 2 and data["controls_accepted"] == 0
    assert data["engine"]["resolution_target"] == 0.10
    assert data["git"] == {"commit": "feedface" * 5, "dirty": False}
    assert data["command"] == "amverify " + " ".join(argv)
    assert md.read_text().startswith("# amverify calibration (quick, 3 runs)\n\nRoot seeds 5..7;")
    err = capsys.readouterr().err
    assert "3 run(s) in " in err and "s: 1 with a failure, 0 control(s) accepted" in err


def test_command_exits_0_when_every_run_passes_and_defaults_to_first_seed_1(fake_run, monkeypatch, capsys):
    """No failed run: exit 0. Without --first-seed the seeds are 1, 2 (so seed 6 is not run); without -q
    progress is on; without --md the Markdown goes to stdout. Slips: default first seed 0, progress off."""
    assert _main(monkeypatch, ["calibrate", REAL_ID, "--runs", "2", "--quick"]) == 0
    assert fake_run["seeds"] == [1, 2] and fake_run["progress_enabled"] is True
    assert capsys.readouterr().out.startswith("# amverify calibration (quick, 2 runs)")


def test_command_json_to_stdout_keeps_stdout_json_and_markdown_on_stderr(fake_run, monkeypatch, tmp_path, capsys):
    """--json -: stdout is the JSON report alone (the Markdown goes to stderr), with or without --md.
    Slips: the Markdown written to stdout too, '-' not written, --md then silencing the stderr copy."""
    fake_run["all_pass"] = True
    for extra in ([], ["--md", str(tmp_path / "cal.md")]):
        assert _main(monkeypatch, ["calibrate", REAL_ID, "--runs", "2", "--quick", "-q", "--json", "-"] + extra) == 0
        cap = capsys.readouterr()
        assert json.loads(cap.out)["schema"] == "amverify.calibration/1"
        assert "# amverify calibration (quick, 2 runs)" in cap.err
