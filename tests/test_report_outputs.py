"""Numbers and labels a researcher cites, on synthetic reports with edge values (a sixth audit round,
2026-12-01: 40 mutants of the report, LaTeX, citation and CLI code, 19 survived; each test names the slip
it kills). Expected values are written out by hand from the inputs, never produced by the code under test."""

import json

import pytest

from proofs_check.citation import bibtex, macro_table
from proofs_check.cli import main
from proofs_check.latex import claims_table_tex
from proofs_check.uncertainty import format_value, latex_number


def _point(**over):
    point = {"params": {"N": 10}, "predicted": 1.0, "measured": 1.0, "standard_error": 0.01, "z": 0.0,
             "trials": 1000, "resolution": 0.017, "verdict": "pass"}
    point.update(over)
    return point


def _claim(cid, verdict="pass", points=None, kind="statistical", provenance="paper"):
    return {"id": cid, "verdict": verdict, "kind": kind, "provenance": provenance, "latex": "x = 1",
            "points": [_point()] if points is None else points}


def _report(claims, **over):
    report = {"schema": "amverify.report/1", "suite_version": "0", "root_seed": 1, "mode": "default",
              "engine": {"z": 5.32672}, "git": {"commit": "abc123def4567", "dirty": False},
              "summary": {}, "claims": claims}
    report.update(over)
    return report


def test_exact_numbers_keep_six_significant_digits():
    """An exact value (no SE) is shown to six significant digits (kills: one digit fewer)."""
    assert format_value(1.23456) == "1.23456"
    assert latex_number(1.23456) == "1.23456"


def test_measured_and_se_macros_carry_the_power_of_ten():
    """For numbers outside the plain range the Measured and Se macros hold the mantissa times its power of ten,
    as the Pm macro does (kills: the power of ten dropped from either, a number wrong by 10^9)."""
    table = macro_table(_report([_claim("basics.tiny.claim", points=[_point(measured=3.2e-9, standard_error=4.1e-11,
                                                                               predicted=3.2e-9)])]))
    stem = next(k[:-len("Measured")] for k in table if k.endswith("Measured"))
    for name in ("Measured", "Se", "Pm"):
        assert r"10^{-9}" in table[stem + name] or r"10^{-11}" in table[stem + name], (name, table[stem + name])
    assert "3.2" in table[stem + "Measured"] and "0.041" in table[stem + "Se"]


def test_claim_count_macros_count_what_they_name():
    """ClaimsFailed counts failed, in error and underpowered claims; ClaimsCited the cited ones, from the summary's
    cited count (kills: underpowered left out; the cited count read from another key)."""
    claims = [_claim("basics.a.one"), _claim("basics.a.two", "underpowered"), _claim("basics.a.three", "fail"),
              _claim("basics.a.four", "cited", points=[]), _claim("basics.a.five", "cited", points=[])]
    table = macro_table(_report(claims, summary={"pass": 1, "fail": 1, "underpowered": 1, "cited": 2, "error": 0}))
    assert table["amvClaimsFailed"] == "2"
    assert table["amvClaimsCited"] == "2"
    assert table["amvClaimsChecked"] == "3"


def test_z_threshold_and_resolution_macros():
    """The z threshold keeps four significant digits (5.327) and a resolution is in percent (0.017 -> 1.7)
    (kills: three digits; the fraction printed under a percent label)."""
    table = macro_table(_report([_claim("basics.a.one")]))
    assert table["amvZThreshold"] == "5.327"
    assert table[next(k for k in table if k.endswith("Resolution"))] == "1.7"


def test_bibtex_names_the_commit_of_the_suite():
    """amverify cite and references.bib name the git commit the numbers came from (kills: the note dropped)."""
    assert "git commit abc123" in bibtex("abc123")
    assert "git commit" not in bibtex(None)


def test_claims_table_counts_passed_points_and_puts_each_label_in_its_column():
    """claims.tex shows points passed as pass/total (an underpowered point is not passed) and provenance before
    kind, as its header says (kills: every non-failing point counted; the two columns swapped)."""
    claim = _claim("basics.a.one", "underpowered", kind="identity", provenance="suite",
                   points=[_point(), _point(params={"N": 20}, verdict="underpowered")])
    tex = claims_table_tex(_report([claim]))
    row = next(line for line in tex.splitlines() if line.endswith(r"\\*") and "1/2" in line)
    assert row.index("suite") < row.index("identity")
    assert "2/2" not in tex


def _reports_dir(tmp_path, verdict, dirty=False):
    report = _report([_claim("basics.a.one", verdict, points=[_point(verdict=verdict)])],
                     git={"commit": "abc123def4567", "dirty": dirty})
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    out = tmp_path / "out"
    return path, out


@pytest.mark.parametrize("verdict, code", [("pass", 0), ("underpowered", 1), ("fail", 1), ("error", 1)])
def test_report_exit_code_follows_the_verdicts(tmp_path, capsys, verdict, code):
    """amverify report exits 1 and names the claim when a claim fails, is in error or is underpowered (kills: an
    underpowered claim reported as success)."""
    path, out = _reports_dir(tmp_path, verdict)
    assert main(["report", "--json", str(path), "--out", str(out), "--no-figures"]) == code
    assert ("failing: basics.a.one" in capsys.readouterr().out) == bool(code)


def test_report_directory_records_the_commit_and_a_dirty_tree(tmp_path):
    """references.bib carries the commit and summary.md says the tree had uncommitted changes (kills: the commit
    left out of references.bib; the dirty marker hidden)."""
    path, out = _reports_dir(tmp_path, "pass", dirty=True)
    main(["report", "--json", str(path), "--out", str(out), "--no-figures"])
    assert "git commit abc123def4567" in (out / "references.bib").read_text()
    assert "(with uncommitted changes)" in (out / "summary.md").read_text()


def test_check_exits_1_on_an_underpowered_claim(monkeypatch, capsys):
    """amverify check exits 1 and lists an underpowered claim as failing (kills: only fail and error counted)."""
    import proofs_check.engine as engine

    real = engine.check_claims

    def underpowered(*args, **kwargs):
        results = real(*args, **kwargs)
        cls = type(results[0])
        monkeypatch.setattr(cls, "verdict", property(lambda self: "underpowered"))
        return results

    monkeypatch.setattr(engine, "check_claims", underpowered)
    assert main(["check", "--quick", "-q", "basics.linear.memory_accumulation"]) == 1
    assert "failing: basics.linear.memory_accumulation" in capsys.readouterr().out


def test_eval_json_records_the_mode_and_a_failed_derivation_fails(monkeypatch, capsys):
    """eval --json records the mode it ran in; eval exits 1 when the claim's derivation fails even if the point
    passes (kills: mode written as 'default'; the symbolic status ignored)."""
    import proofs_check.engine as engine

    assert main(["eval", "basics.linear.memory_accumulation", "--quick", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "quick"
    real = engine.check_symbolic

    def failed(claim):
        result = real(claim)
        import dataclasses

        return dataclasses.replace(result, status="failed")

    monkeypatch.setattr(engine, "check_symbolic", failed)
    assert main(["eval", "basics.linear.memory_accumulation"]) == 1


def test_summary_counts_only_applicable_controls_and_json_records_the_modes_target():
    """The summary's controls_total leaves out n/a controls ('rejected 2/2', not 2/3), and the JSON report records
    the resolution target of the mode it ran in (kills: n/a counted; the default target in a quick report)."""
    from proofs_check.engine import RESOLUTION_TARGET, check_claims
    from proofs_check.ledger import get_claim
    from proofs_check.report import summary, to_json_dict

    from types import SimpleNamespace

    import sympy as sp

    from numerics.estimate import Estimate
    from proofs_check.engine import ClaimResult, check_point
    from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
    from theory.derivation import Derivation

    claim = Claim(id="basics.fake.identity", statement="-", anchor="-", provenance=Provenance.SUITE, kind=Kind.IDENTITY,
                  estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
                  derivation=lambda: Derivation("fake", sp.Integer(1)), measure=lambda rng, n: Estimate(1.0, 0.0, 1),
                  grids={m: ({"n": 1},) for m in ("quick", "default", "full")},
                  negative_controls=(NegativeControl("two", "2", prediction=lambda: sp.Integer(2)),
                                     NegativeControl("three", "3", prediction=lambda: sp.Integer(3)),
                                     NegativeControl("same", "1: n/a here", prediction=lambda: sp.Integer(1))))
    point = check_point(claim, {"n": 1}, seed=0)
    assert sorted(c.verdict for c in point.controls) == ["n/a", "rejected", "rejected"]
    counts = summary([ClaimResult(claim, SimpleNamespace(status="verified", seconds=0.0), [point])])
    assert (counts["controls_rejected"], counts["controls_total"]) == (2, 2)
    results = check_claims([get_claim("capacity.linear.inverse_snr_ratio")], mode="quick", seed=3)
    report = to_json_dict(results, seed=3, mode="quick")
    assert report["engine"]["resolution_target"] == RESOLUTION_TARGET["quick"] != RESOLUTION_TARGET["default"]
