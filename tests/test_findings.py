"""The findings page: a declarative table of the paper's statements, their exact values and gaps, kept current."""

import math
import re
from pathlib import Path

import pytest

from proofs_check.cli import main
from proofs_check.findings import (FINDINGS, REGENERATE, SUPPORTING_ONLY, UNCHECKED, findings_markdown,
                                   referenced_claim_ids)
from proofs_check.ledger import all_claims

ROOT = Path(__file__).resolve().parents[1]


def test_findings_page_is_current():
    """docs/findings.md is exactly what the findings table renders."""
    current = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert current == findings_markdown(), f"docs/findings.md is stale; regenerate with: {REGENERATE}"


def test_every_referenced_claim_exists_and_every_claim_is_referenced():
    """A finding names only registered claims, and each claim is behind some finding or listed as supporting-only
    (a new claim is added by naming it in a row)."""
    ids = {c.id for c in all_claims()}
    referenced = referenced_claim_ids()
    assert referenced <= ids, sorted(referenced - ids)
    assert set(SUPPORTING_ONLY) <= ids, sorted(set(SUPPORTING_ONLY) - ids)
    assert not referenced & set(SUPPORTING_ONLY), sorted(referenced & set(SUPPORTING_ONLY))
    assert ids <= referenced | set(SUPPORTING_ONLY), sorted(ids - referenced - set(SUPPORTING_ONLY))


def test_finding_ids_are_unique_and_numbered():
    """Findings are numbered F1, F2, ... in order (stable row numbers to cite)."""
    assert [f.id for f in FINDINGS] == [f"F{i}" for i in range(1, len(FINDINGS) + 1)]


def test_linear_row_gaps_match_the_four_estimands_computed_independently():
    """The paper's N/d_k against the four exact linear estimands at N = 256, d_k = d_v = 64 (floats written here)."""
    N, d, dv = 256, 64, 64
    exact = {"conditional, typical norms": (N - 1) / d, "mean over stored pairs": (N - 1) * dv / ((d - 2) * (dv - 2)),
             "ratio of expectations": (N - 1) / (d + 2), "unit-sphere keys": (N - 1) / d}
    row = next(f for f in FINDINGS if "capacity.linear.inverse_snr_ratio" in f.claims)
    gaps = {g.label: g.values() for g in row.gaps}
    for label, value in exact.items():
        paper, computed, rel = gaps[label]
        assert paper == pytest.approx(N / d) and computed == pytest.approx(value, rel=1e-12)
        assert rel == pytest.approx(N / d / value - 1, rel=1e-9)


def test_every_gap_is_finite_and_rendered():
    """Every gap evaluates to finite numbers and appears on the page with its sizes."""
    text = findings_markdown()
    for f in FINDINGS:
        for g in f.gaps:
            assert all(math.isfinite(x) for x in g.values()), (f.id, g.label)
            assert g.label in text


def test_unchecked_statements_have_a_reason_category():
    """Each unchecked statement says why: not recovered, not checkable, cited or not yet checked."""
    assert {u.why for u in UNCHECKED} <= {"not recovered", "not checkable", "cited", "not yet checked"}
    assert all(u.detail and u.source for u in UNCHECKED)


def test_findings_command_writes_and_checks(tmp_path, capsys):
    """``amverify findings --check`` fails on a missing page naming the regeneration command, passes after writing."""
    out = tmp_path / "findings.md"
    assert main(["findings", "--out", str(out), "--check"]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert main(["findings", "--out", str(out)]) == 0
    assert main(["findings", "--out", str(out), "--check"]) == 0
    assert re.search(r"\| F1 \|", out.read_text(encoding="utf-8"))


def test_findings_command_refuses_an_unwritable_path(tmp_path, capsys):
    """An --out that cannot be written (a directory) is bad usage: exit 2 with a message naming the path."""
    assert main(["findings", "--out", str(tmp_path)]) == 2
    assert "cannot write --out" in capsys.readouterr().err


def test_findings_out_dash_prints_the_page(capsys):
    """`amverify findings --out -` prints the page (as check's --json -) instead of writing a file named '-';
    with --check it is a usage error, since --check compares a file."""
    from proofs_check.cli import main
    from proofs_check.findings import findings_markdown

    assert main(["findings", "--out", "-"]) == 0
    assert capsys.readouterr().out == findings_markdown()
    assert main(["findings", "--out", "-", "--check"]) == 2
    assert "give --out PATH" in capsys.readouterr().err


def test_rows_the_notes_infer_say_so_and_never_call_their_value_the_papers():
    """The rows built on the notes' completions or hypotheses (tagged [inferred] in the notes: the exp kernel's
    completion and tau = 2, tau = sqrt(d_k), row normalization, the ReLU N/(2 d_k) 'not a paper claim', memory
    convergence) are marked in the row, and their gap column compares an 'inferred' value, not a 'paper' one."""
    from proofs_check.findings import FINDINGS, findings_markdown

    marked = {f.id for f in FINDINGS if f.inferred}
    assert {"F6", "F7", "F8", "F9", "F14"} <= marked
    rows = {line.split(" | ")[0][2:]: line for line in findings_markdown().splitlines() if line.startswith("| F")}
    for fid in marked:
        row = rows[fid]
        assert "*Inferred in the notes, not recovered from the paper:" in row
        assert ": paper " not in row and "paper/exact" not in row
    assert ": inferred 0.0002129 vs exact" in rows["F7"]
    assert all(": paper " in rows[f.id] for f in FINDINGS if f.gaps and not f.inferred)
