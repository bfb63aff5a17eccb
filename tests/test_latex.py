"""The LaTeX the suite writes compiles (run where pdflatex is installed; skipped elsewhere)."""

import shutil
import subprocess

import pytest

from proofs_check.cli import main
from proofs_check.latex import PREAMBLE as LATEX_PREAMBLE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (apt-get install texlive-latex-base)"),
]

PREAMBLE = r"\documentclass{article}\usepackage[utf8]{inputenc}" + LATEX_PREAMBLE


def compile_ok(tmp_path, body: str) -> str:
    (tmp_path / "doc.tex").write_text(PREAMBLE + "\n" + body, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                         capture_output=True, encoding="utf-8", errors="replace", timeout=300)
    # pdflatex echoes source lines (e.g. in overfull-box warnings) in its own 8-bit encoding
    errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
    assert run.returncode == 0, errors or run.stdout[-2000:]
    return run.stdout


def test_every_derivation_compiles(tmp_path):
    """`amverify derive --format tex` output for every claim compiles in one document."""
    assert main(["derive", "--format", "tex", "--out", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.glob("*.tex") if p.name != "derivations.tex")
    body = r"\begin{document}" + "".join(rf"\input{{{f}}}" for f in files) + r"\end{document}"
    compile_ok(tmp_path, body)


def test_report_macros_and_table_compile(tmp_path, capsys):
    """A report's macros.tex and claims.tex compile and a macro expands to its number."""
    out = tmp_path / "report"
    main(["report", "--out", str(out), "--quick", "--no-figures", "-q",
          "capacity.linear.inverse_snr_ratio", "expressivity.circuits.inversion_nc2"])
    body = (r"\input{report/macros.tex}\begin{document}"
            r"ratio: \amvCapacityLinearInverseSnrRatioNThreeTwoDKOneSixDVEightPm."
            r"\input{report/claims.tex}\end{document}")
    compile_ok(tmp_path, body)
