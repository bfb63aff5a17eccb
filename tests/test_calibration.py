"""Calibration: reseeded runs are summarised into spurious failures, z statistics, control acceptance and
resolution, and the command reports them."""

import json
import math

import numpy as np
import sympy as sp

from proofs_check.calibration import Z_SD_BAND, markdown, summarise
from proofs_check.engine import ClaimResult, ControlResult, PointResult, SymbolicResult
from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
from theory.derivation import Derivation


def _claim(cid="basics.fake.calibrated"):
    return Claim(id=cid, statement="fake", anchor="-", provenance=Provenance.SUITE, kind=Kind.STATISTICAL,
                 estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
                 derivation=lambda: Derivation("fake", sp.Float(1.0)), measure=lambda rng, n: None,
                 grids={m: ({"n": 1},) for m in ("quick", "default", "full")},
                 negative_controls=(NegativeControl("near", "1.1", prediction=lambda: sp.Float(1.1),
                                                    near_miss=True),))


def _point(z, *, verdict="pass", control="rejected", sep=12.0):
    c = ControlResult("near", 1.1, 1.0 + 0.01 * z, control, "", sep, True)
    return PointResult("basics.fake.calibrated", {"n": 1}, 1.0, 1.0 + 0.01 * z, 0.01, 1000, None, z, 0.0533,
                       verdict, (c,), 0.1, "fake", "", 0.0105, 1, 1000)


def _runs(zs, **kw):
    claim = _claim()
    sym = SymbolicResult(claim.id, "verified", (("verified", "x"),))
    return {seed: [ClaimResult(claim, sym, [_point(z, **kw)])] for seed, z in enumerate(zs, 1)}


def test_calibrated_runs_report_no_failure_and_normal_z():
    """Normal z-scores, every control rejected: no spurious failure, sd near 1, KS not rejecting."""
    zs = np.random.default_rng(0).standard_normal(400)
    report = summarise(_runs(zs), mode="quick")
    assert report["failed_runs"] == 0 and report["controls_accepted"] == 0
    (claim,) = report["claims"]
    assert Z_SD_BAND[0] <= claim["sd"] <= Z_SD_BAND[1] and claim["in_band"]
    assert claim["ks_p"] > 1e-3
    assert report["controls"][0]["min_separation"] == 12.0
    assert "| runs with a spurious failure | 0 of 400 | 0 |" in markdown(report)
    json.dumps(report)  # JSON-ready


def test_an_accepted_control_is_a_spurious_failure_and_counted():
    """A run whose point failed for lack of power is listed with its seed and the control counted."""
    runs = _runs([0.1, -0.2])
    claim = runs[2][0].claim
    runs[2] = [ClaimResult(claim, runs[2][0].symbolic, [_point(0.3, verdict="fail", control="accepted")])]
    report = summarise(runs, mode="quick")
    assert report["failed_runs"] == 1 and report["spurious_failures"][0]["seed"] == 2
    assert report["controls_accepted"] == 1


def test_overdispersed_z_is_outside_the_band():
    """z-scores with sd 2 (an SE half what it should be) put the claim outside the band."""
    zs = 2 * np.random.default_rng(1).standard_normal(400)
    report = summarise(_runs(zs), mode="quick")
    assert report["claims_outside_band"] == ["basics.fake.calibrated"]
    assert not math.isclose(report["claims"][0]["sd"], 1.0, rel_tol=0.3)


def test_calibrate_command_runs_reseeded_checks(tmp_path, capsys):
    """`amverify calibrate --runs 2` on an identity claim writes JSON and Markdown with two seeds."""
    from proofs_check.cli import main

    out = tmp_path / "cal.json"
    md = tmp_path / "cal.md"
    code = main(["calibrate", "basics.linear.memory_accumulation", "--runs", "2", "--quick", "-q",
                 "--json", str(out), "--md", str(md)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["schema"] == "amverify.calibration/1" and data["seeds"] == [1, 2] and data["failed_runs"] == 0
    assert "# amverify calibration" in md.read_text()
