"""``amverify report`` and ``amverify cite``: citable outputs, provenance, and reproduction from the seed."""

import json
import re
import sys
import types

import pytest

from proofs_check import __version__
from proofs_check.citation import MacroCollisionError, camel, macro_table, point_name
from proofs_check.cli import main
from proofs_check.ledger import Kind, all_claims
from proofs_check.report import VOLATILE_KEYS

# a statistical claim (numbers depend on the seed) and an identity claim, quick grids: ~1 s
IDS = ["capacity.linear.inverse_snr_ratio", "basics.linear.overcomplete_noise_floor"]


def _strip(x):
    """A JSON report without the keys that legitimately differ between runs (timings, date, machine)."""
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in VOLATILE_KEYS}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def _report(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(["report", "--out", str(out), "--quick", "-q", "--no-figures", *extra, *IDS])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    return _report(tmp, "a"), _report(tmp, "b"), _report(tmp, "c", "--seed", "7")


def test_report_writes_every_file(runs):
    """The report directory holds the JSON report, Markdown, macros, LaTeX table and BibTeX."""
    for name in ("report.json", "summary.md", "macros.tex", "claims.tex", "references.bib"):
        assert (runs[0] / name).stat().st_size > 0, name


def test_report_carries_provenance(runs):
    """Suite version, git commit (key present), package versions, root seed, machine and date are recorded."""
    report = json.loads((runs[0] / "report.json").read_text())
    assert report["suite_version"] == __version__
    assert "commit" in report["git"] and "dirty" in report["git"]
    assert {"numpy", "scipy", "sympy", "python"} <= set(report["packages"])
    assert report["root_seed"] == 20250526 and report["mode"] == "quick"
    assert report["machine"]["platform"] and re.match(r"\d{4}-\d\d-\d\dT", report["created"])
    summary = (runs[0] / "summary.md").read_text()
    for text in ("suite version", "git commit", "root seed", "numpy", "date"):
        assert text in summary


def test_summary_md_states_every_count(runs):
    """summary.md's summary line gives every count in words, the zeros too."""
    line = next(x for x in (runs[0] / "summary.md").read_text().splitlines() if x.startswith("Summary: "))
    assert line.startswith("Summary: claims: 2 pass, 0 fail, 0 error, 0 underpowered, 0 cited; symbolic: ")
    assert "; points: " in line and " 0 accepted, 0 inconsistent, 0 error, " in line


def test_same_seed_reproduces_every_number(runs):
    """Two reports from the same seed agree on every number and every cited file; another seed does not."""
    a, b, c = runs
    ja, jb, jc = (json.loads((r / "report.json").read_text()) for r in runs)
    assert _strip(ja) == _strip(jb)
    for name in ("macros.tex", "claims.tex", "references.bib"):
        assert (a / name).read_text() == (b / name).read_text(), name
    measured = lambda j: [p["measured"] for cl in j["claims"] for p in cl["points"] if cl["kind"] == "statistical"]
    assert measured(ja) != measured(jc)  # the reproduction test can fail: the seed matters
    assert (a / "macros.tex").read_text() != (c / "macros.tex").read_text()


def test_report_from_json_equals_direct_run(tmp_path, runs):
    """``check --json`` then ``report --json`` writes the same macros as running the report directly."""
    path = tmp_path / "check.json"
    assert main(["check", "--quick", "-q", "--json", str(path), *IDS]) == 0
    assert main(["report", "--json", str(path), "--out", str(tmp_path / "r"), "--no-figures"]) == 0
    assert (tmp_path / "r" / "macros.tex").read_text() == (runs[0] / "macros.tex").read_text()


def test_report_rejects_non_reports(tmp_path):
    """A file that is not an amverify report is a usage error (exit 2)."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/else"}')
    assert main(["report", "--json", str(bad), "--out", str(tmp_path / "r")]) == 2


def test_macros_are_valid_tex_and_name_the_numbers(runs):
    """Every macro is a letters-only control word, defined once, with the documented name for the number."""
    text = (runs[0] / "macros.tex").read_text()
    names = re.findall(r"\\newcommand\{\\([^}]*)\}", text)
    assert names and len(names) == len(set(names))
    assert all(re.fullmatch(r"amv[A-Za-z]+", n) for n in names)
    report = json.loads((runs[0] / "report.json").read_text())
    point = report["claims"][0]["points"][0]
    assert point["params"] == {"N": 16, "d_k": 4, "d_v": 4}
    macro = r"\newcommand{\amvCapacityLinearInverseSnrRatioNOneSixDKFourDVFourPredicted}{2.5}"
    assert macro in text  # (16 - 1)/(4 + 2), from theory
    assert f"\\newcommand{{\\amvRootSeed}}{{{report['root_seed']}}}" in text


def test_macro_names_are_unique_over_the_whole_ledger():
    """Every claim and regime point of every mode gets its own macro names."""
    claims = []
    for c in all_claims():
        if c.kind is Kind.CITED:
            continue
        points = {json.dumps(dict(p), sort_keys=True): dict(p) for grid in c.grids.values() for p in grid}
        claims.append({"id": c.id, "verdict": "pass", "points": [
            {"params": p, "predicted": 1.0, "measured": 1.0, "standard_error": 0.1, "z": 0.0, "trials": 1}
            for p in points.values()]})
    table = macro_table({"claims": claims})
    assert len(table) == 7 + sum(1 + 7 * len(c["points"]) for c in claims)


def test_macro_collisions_are_detected():
    """Ids that differ only in a '.' versus '_' boundary would share names: the table refuses them."""
    claims = [{"id": "capacity.a_b.c", "verdict": "pass", "points": []},
              {"id": "capacity.a.b_c", "verdict": "pass", "points": []}]
    with pytest.raises(MacroCollisionError, match="capacity.a.b_c"):
        macro_table({"claims": claims})


@pytest.mark.parametrize("text, name", [
    ("capacity.linear.inverse_snr_ratio", "CapacityLinearInverseSnrRatio"),
    ("key_norm2", "KeyNormTwo"),
    ("ffn.relu.tau4_bound", "FfnReluTauFourBound"),
])
def test_camel(text, name):
    """Ids and names become letters-only CamelCase with digits spelled out."""
    assert camel(text) == name


def test_point_names_spell_numbers():
    """Regime points are named by parameters and spelled values, floats included."""
    assert point_name({"rho": 0.5, "d_max": 64}) == "RhoZeroPointFiveDMaxSixFour"
    assert point_name({"eps": 1e-06}) == "EpsOneEMinusSix"
    assert point_name({"x": 2.0}) == point_name({"x": 2})


@pytest.fixture
def fake_figures(monkeypatch):
    """Replace the drawing of the capacity figures by a stub that records its mode and writes one file."""
    import proofs_check.figures as fig

    calls = []

    def draw(plt, out, seed, mode):
        calls.append((seed, mode))
        (out / "stub.png").write_bytes(b"png")
        return [out / "stub.png"]

    monkeypatch.setattr(fig, "FIGURES", (("stub", "capacity", draw),))
    monkeypatch.setattr(fig, "_pyplot", lambda: types.SimpleNamespace(rc_context=lambda rc: _NoContext()))
    return calls


class _NoContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_default_mode_report_and_report_from_check_json_write_figures(tmp_path, fake_figures, capsys):
    """The documented forms 'report --out DIR' (default mode) and 'report --json check.json --out DIR' exit 0
    and hand their mode (default) to the figures."""
    assert main(["report", "--out", str(tmp_path / "direct"), "-q", *IDS]) == 0
    assert (tmp_path / "direct" / "figures" / "stub.png").exists()
    check = tmp_path / "check.json"
    assert main(["check", "-q", "--json", str(check), *IDS]) == 0
    assert main(["report", "--json", str(check), "--out", str(tmp_path / "from_json")]) == 0
    assert fake_figures == [(20250526, "default"), (20250526, "default")]
    assert "figures written" in (tmp_path / "from_json" / "summary.md").read_text()
    assert (tmp_path / "direct" / "macros.tex").read_text() == (tmp_path / "from_json" / "macros.tex").read_text()


def test_out_directory_is_created_with_its_parents(tmp_path):
    """'--out reports/v1' in a fresh folder creates both levels; a path under a file is refused (exit 2)."""
    one = ["--quick", "-q", "--no-figures", "basics.linear.overcomplete_noise_floor"]
    assert main(["report", "--out", str(tmp_path / "reports" / "v1"), *one]) == 0
    assert (tmp_path / "reports" / "v1" / "report.json").exists()
    (tmp_path / "file").write_text("")
    assert main(["report", "--out", str(tmp_path / "file" / "v1"), *one]) == 2


def test_only_the_selected_sections_get_figures(tmp_path, fake_figures, capsys):
    """A report of a section without figures writes no figures/ and says so in one line."""
    assert main(["report", "--out", str(tmp_path / "r"), "--quick", "-q", "basics.linear.overcomplete_noise_floor"]) == 0
    assert fake_figures == [] and not (tmp_path / "r" / "figures").exists()
    notes = [line for line in capsys.readouterr().err.splitlines() if "figures" in line]
    assert notes == ["figures skipped: none of the selected sections (basics) has figures "
                     "(figures exist for: capacity)"]


def test_figures_skipped_with_a_note_without_matplotlib(tmp_path, monkeypatch, runs, capsys):
    """Without matplotlib the report still exits 0, and stderr and summary.md say in one line why there are
    no figures."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # 'import matplotlib' raises ImportError
    assert main(["report", "--json", str(runs[0] / "report.json"), "--out", str(tmp_path / "out")]) == 0
    note = "figures skipped: matplotlib is not installed (pip install 'amverify[plot]')"
    assert note in (tmp_path / "out" / "summary.md").read_text()
    assert [line for line in capsys.readouterr().err.splitlines() if "figures" in line] == [note]
    assert not (tmp_path / "out" / "figures").exists()


def test_cite_prints_paper_and_suite(capsys):
    """``amverify cite`` prints balanced BibTeX entries for the paper and for the suite."""
    assert main(["cite"]) == 0
    out = capsys.readouterr().out
    assert "@misc{zhong2025associative," in out and "@software{amverify," in out
    assert "eprint = {2505.19488}" in out and f"version = {{{__version__}}}" in out
    assert out.count("{") == out.count("}")
    assert main(["cite", "--paper"]) == 0
    assert "@software" not in capsys.readouterr().out


def test_failing_claim_exits_1_and_is_still_reported(tmp_path, monkeypatch):
    """A claim that fails makes the report exit 1, and the files say so (verdict macro, summary row)."""
    import sympy as sp

    from numerics.estimate import exact_value
    from proofs_check import ledger
    from proofs_check.ledger import Claim, Estimand, NegativeControl, Param, Provenance
    from theory.derivation import Derivation

    x = sp.Symbol("x", positive=True)
    claim = Claim(id="basics.demo.wrong_double", statement="demo: the measurement equals x", anchor="none",
                  provenance=Provenance.SUITE, kind=Kind.IDENTITY, estimand=Estimand("x", "none", "none"),
                  params=(Param("x", 1, 10),), derivation=lambda: Derivation("x", x),
                  measure=lambda rng, x: exact_value(2.0 * x, method="doubles by design"),
                  grids={m: ({"x": 3},) for m in ("quick", "default", "full")},
                  negative_controls=(NegativeControl("zero", "0", prediction=lambda: 0 * x),), atol=1e-9)
    all_claims()
    monkeypatch.setitem(ledger._REGISTRY, claim.id, claim)
    out = tmp_path / "r"
    assert main(["report", "--out", str(out), "--quick", "-q", "--no-figures", claim.id]) == 1
    macros = (out / "macros.tex").read_text()
    assert r"\newcommand{\amvBasicsDemoWrongDoubleVerdict}{fail}" in macros
    assert r"\newcommand{\amvBasicsDemoWrongDoubleXThreeMeasured}{6}" in macros
    assert "| `basics.demo.wrong_double` | suite | x=3 | 3 | 6 | -- | - | fail |" in (out / "summary.md").read_text()
