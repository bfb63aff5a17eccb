"""The amverify command line: exit codes, messages naming the problem, deterministic reports."""

import json
import re

import pytest

from proofs_check.cli import main
from proofs_check.report import SCHEMA, without_volatile


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits on usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_ids_and_provenance(capsys):
    """`amverify list` prints every id with its provenance."""
    code, out, _ = run(capsys, "list", "--section", "capacity")
    assert code == 0
    assert "capacity.linear.inverse_snr_ratio" in out and "suite" in out
    assert "basics." not in out


def test_show_prints_the_full_record(capsys):
    """`amverify show` prints LaTeX, estimand, anchor and negative controls."""
    code, out, _ = run(capsys, "show", "capacity.linear.inverse_snr_ratio")
    assert code == 0
    for needle in ("\\frac{N - 1}{d_{k} + 2}", "estimand", "Eq. (7)", "negative controls", "paper_asymptote"):
        assert needle in out


@pytest.mark.parametrize("argv, needle", [
    (("show", "capacity.linear.nope"), "unknown claim id"),
    (("eval", "capacity.linear.inverse_snr_ratio", "d_k=0"), "d_k=0 is outside its domain"),
    (("eval", "capacity.linear.inverse_snr_ratio", "N=ten"), "N='ten' is not a number"),
    (("eval", "capacity.linear.inverse_snr_ratio", "M=3"), "unknown parameter 'M'"),
    (("eval", "capacity.linear.inverse_snr_ratio", "N"), "expected name=value"),
    (("eval", "basics.linear.orthonormal_noise_free", "N=9", "d_k=4"), "N <= d_k"),
    (("eval", "capacity.linear.inverse_snr_ratio", "N=nan"), "must be finite"),
    (("eval", "basics.linear.crosstalk_decomposition", "--trials", "5"), "not a Monte Carlo claim"),
    (("eval", "capacity.linear.inverse_snr_ratio", "--trials", "1"), "too few"),
    (("eval", "capacity.linear.inverse_snr_ratio", "N=3", "N=4"), "given twice"),
    (("check", "--json", "/no/such/dir/r.json"), "does not exist"),
    (("check", "--md", "/no/such/dir/r.md"), "does not exist"),
    (("check", "--seed", "-1"), "non-negative integer"),
    (("check", "--jobs", "0"), "positive integer"),
    (("check", "--section", "nowhere"), "invalid choice"),
    (("check", "--quick", "--full"), "not allowed with"),
    # ids and a section that exclude each other: the message names both, for each command that selects claims
    (("check", "capacity.linear.inverse_snr_ratio", "--section", "ffn"),
     "none of capacity.linear.inverse_snr_ratio is in section ffn (--section)"),
    (("derive", "capacity.linear.inverse_snr_ratio", "basics.linear.memory_accumulation", "--section", "ffn"),
     "none of capacity.linear.inverse_snr_ratio, basics.linear.memory_accumulation is in section ffn"),
    (("check", "capacity.linear.inverse_snr_ratio", "--section", "basics", "--section", "ffn"),
     "is in section basics or ffn"),
    (("report", "capacity.linear.inverse_snr_ratio", "--section", "ffn", "--out", "/tmp"),
     "no claims selected: none of"),
    (("frobnicate",), "invalid choice"),
])
def test_bad_input_exits_2_naming_the_problem(capsys, argv, needle):
    """Bad usage exits with code 2 and a message naming the constraint."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert needle in err


def test_eval_at_user_parameters(capsys):
    """`amverify eval` plans the point as check does, prints both sides, SE, z, resolution and verdict,
    and exits 0 on a pass."""
    code, out, _ = run(capsys, "eval", "capacity.linear.inverse_snr_ratio", "N=300", "d_k=48", "--quick")
    assert code == 0, out
    assert "predicted  5.98" in out  # (300 - 1)/(48 + 2)
    assert "verdict    pass" in out and "± " in out and "resolution" in out


def test_eval_json(capsys):
    """`amverify eval --json` prints a machine-readable result."""
    code, out, _ = run(capsys, "eval", "capacity.linear.inverse_snr_ratio", "N=64", "d_k=16", "--json", "--quick")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "pass"
    assert data["predicted"] == pytest.approx(63 / 18)


def test_eval_with_too_few_trials_is_underpowered_not_a_pass(capsys):
    """With a fixed trial count that cannot separate a control, eval says 'underpowered' and exits 1
    (it used to print 'pass' while both controls were accepted)."""
    code, out, _ = run(capsys, "eval", "capacity.linear.inverse_snr_ratio", "--trials", "100")
    assert code == 1
    assert "underpowered" in out or "fail" in out


def test_check_takes_several_sections(capsys):
    """`--section` repeats: both sections run (it used to keep only the last)."""
    code, out, _ = run(capsys, "check", "--section", "basics", "--section", "update", "--quick", "-q",
                       "update.wy.product", "basics.linear.memory_accumulation", "capacity.linear.inverse_snr_ratio")
    assert "update.wy.product" in out and "basics.linear.memory_accumulation" in out
    assert "capacity.linear.inverse_snr_ratio" not in out


def test_report_out_naming_a_file_exits_2(capsys, tmp_path):
    """`report --out` naming an existing file is refused before any work."""
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run(capsys, "report", "--out", str(f))
    assert code == 2 and "existing file" in err


def test_check_json_report_is_deterministic(capsys, tmp_path):
    """The same seed gives the same JSON report (timings, date and machine aside)."""
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        code, out, _ = run(capsys, "check", "capacity.linear.inverse_snr_ratio", "basics.linear.crosstalk_decomposition",
                           "--quick", "--seed", "11", "--json", str(path), "-q")
        assert code == 0
    a, b = (json.loads(p.read_text()) for p in paths)
    assert a["schema"] == SCHEMA and a["root_seed"] == 11
    assert {"numpy", "scipy", "sympy", "python"} <= set(a["packages"])
    point = a["claims"][0]["points"][0]
    assert {"predicted", "measured", "standard_error", "z", "verdict", "controls", "seconds"} <= set(point)
    assert without_volatile(a) == without_volatile(b)


def test_check_writes_markdown_and_table(capsys, tmp_path):
    """`check --md` writes a Markdown table and the terminal gets the aligned table and a summary."""
    md = tmp_path / "r.md"
    code, out, err = run(capsys, "check", "basics.linear.memory_accumulation", "--quick", "--md", str(md))
    assert code == 0
    assert "predicted" in out and "measured ± SE" in out and "1 pass" in out
    assert "[" in err  # progress went to stderr
    assert "| claim |" in md.read_text()


def test_check_exits_1_when_a_claim_fails(capsys, monkeypatch):
    """A failing claim makes `check` exit 1 and be named."""
    import dataclasses

    import sympy as sp

    from proofs_check import ledger

    claim = ledger.get_claim("capacity.linear.inverse_snr_ratio")
    wrong = dataclasses.replace(claim, prediction=lambda: sp.Symbol("N") / sp.Symbol("d_k"))
    monkeypatch.setitem(ledger._REGISTRY, claim.id, wrong)
    code, out, _ = run(capsys, "check", claim.id, "--quick", "-q")
    assert code == 1
    assert "failing: capacity.linear.inverse_snr_ratio" in out


def test_check_json_to_stdout_is_pure_json(capsys):
    """`check --json -` keeps stdout parseable: the table goes to stderr."""
    code, out, err = run(capsys, "check", "basics.linear.memory_accumulation", "--quick", "--json", "-", "-q")
    assert code == 0
    assert json.loads(out)["schema"] == SCHEMA
    assert "measured ± SE" in err


def test_check_markdown_to_stdout_is_pure_markdown(capsys, tmp_path):
    """`check --md -` prints the Markdown summary on stdout, the same as `--md FILE` writes, the table on stderr;
    `--json -` with `--md -` is a usage error."""
    argv = ("check", "basics.linear.memory_accumulation", "--quick", "-q")
    code, out, err = run(capsys, *argv, "--md", "-")
    assert code == 0
    assert out.startswith("# amverify check (quick, seed ") and "measured ± SE" in err
    path = tmp_path / "summary.md"
    assert run(capsys, *argv, "--md", str(path))[0] == 0
    seconds = re.compile(r"\| [0-9.]+ \|$", re.M)  # the rows' last column is the point's wall time
    assert seconds.sub("|", out) == seconds.sub("|", path.read_text(encoding="utf-8"))
    code, out, err = run(capsys, *argv, "--md", "-", "--json", "-")
    assert code == 2 and out == ""
    assert "give one of them a file" in err
