"""The LaTeX the suite writes drops into a paper unchanged: a sample ``article`` that inputs the report's
``macros.tex`` and ``claims.tex`` and the derivations, from the paper's own folder, compiles with pdflatex
without an error or a box more than 1 pt too wide, shows every claim, and carries no raw sympy name.

Skipped (with the reason) where pdflatex or pdftotext is missing; ``.ci/run`` installs them where it can.
"""

import re
import shutil
import subprocess

import pytest

from proofs_check.cli import main
from proofs_check.latex import PREAMBLE

def _latex_missing() -> bool:
    if shutil.which("pdflatex") is None or shutil.which("pdftotext") is None or shutil.which("kpsewhich") is None:
        return True
    found = subprocess.run(["kpsewhich", "booktabs.sty", "longtable.sty"], capture_output=True, text=True).stdout
    return len(found.split()) < 2


pytestmark = pytest.mark.skipif(
    _latex_missing(),
    reason="pdflatex/pdftotext not installed (apt-get install texlive-latex-base texlive-latex-recommended "
           "poppler-utils)")

# claims whose LaTeX was broken once: sympy names (mu_norm2, key_scale2, noise2, truncated_kernel_*), an
# expanded symbolic matrix, a long formula, a long id, a cited claim, and numbers with an SE
SAMPLE = ("basics.linear.crosstalk_decomposition", "capacity.linear.inverse_snr_ratio", "capacity.norm.value_mean",
          "capacity.expansion.truncated_snr", "context.delta.bounded_error", "update.forms.gated_deltanet",
          "expressivity.householder.parity_needs_negative_eigenvalues", "ffn.gelu.inverse_snr")

# sympy names that reach LaTeX unprinted: a plain multi-letter word with a subscript (key_{scale2},
# noise_{2}, kernel_{id}), a command with a word as subscript (\mu_{norm2}), a function name with one
RAW_SYMPY = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}_\{|\\[A-Za-z]+_\{[a-z]{2,}\d*\}|\\operatorname\{[A-Za-z]{2,}\}_")
# what the PDF shows when text-mode LaTeX was not escaped (OT1 glyphs for <, >, |, ^)
GARBLE = ("¿", "¡", "—", "ˆ")
OVERFULL = re.compile(r"Overfull \\[hv]box \((\d+(?:\.\d+)?)pt too (?:wide|high)\)")


def paper(tmp_path, claim_ids, derivations):
    """A paper folder: paper.tex, the report under amv/, the derivations under deriv/; returns the log and
    the PDF text."""
    body = "\n".join([
        r"\documentclass{article}", PREAMBLE, r"\input{amv/macros}", r"\begin{document}",
        r"\section{Results}",
        r"Of \amvClaimsTotal{} claims, \amvClaimsChecked{} were checked and \amvClaimsPassed{} passed;"
        r" \amvClaimsCited{} are cited. At $N=32$, $d_k=16$, $d_v=8$ the measured inverse SNR is"
        r" $\amvCapacityLinearInverseSnrRatioNThreeTwoDKOneSixDVEightPm$ (theory"
        r" \amvCapacityLinearInverseSnrRatioNThreeTwoDKOneSixDVEightPredicted, SE"
        r" \amvCapacityLinearInverseSnrRatioNThreeTwoDKOneSixDVEightSe).",
        r"\input{amv/claims}", r"\section{Derivations}", derivations, r"\end{document}", ""])
    (tmp_path / "paper.tex").write_text(body, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=tmp_path,
                         capture_output=True, timeout=600)
    log = (tmp_path / "paper.log").read_text(encoding="latin-1")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert run.returncode == 0 and not errors, errors or log[-3000:]
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "paper.pdf", "-"], cwd=tmp_path, capture_output=True,
                          check=True).stdout.decode("utf-8")
    return log, text


def check_paper(tmp_path, claim_ids, log, text):
    overfull = [float(x) for x in OVERFULL.findall(log)]
    assert all(x <= 1.0 for x in overfull), f"boxes too wide/high by {sorted(overfull)[-5:]} pt"
    flat = re.sub(r"\s+", "", text)
    missing = [c for c in claim_ids if c not in flat]
    assert not missing, f"claims not in the PDF: {missing}"
    garbled = [g for g in GARBLE if g in text]
    assert not garbled, f"unescaped text in the PDF: {garbled}"
    for tex in [*tmp_path.glob("amv/*.tex"), *tmp_path.glob("deriv/*.tex")]:
        raw = RAW_SYMPY.findall(tex.read_text(encoding="utf-8"))
        assert not raw, f"raw sympy names in {tex.name}: {sorted(set(raw))}"


def test_sample_paper_compiles_cleanly(tmp_path):
    """A paper citing a sample of claims (the ones whose LaTeX once broke) compiles cleanly."""
    assert main(["report", "--out", str(tmp_path / "amv"), "--quick", "--no-figures", "-q", *SAMPLE]) == 0
    assert main(["derive", "--format", "tex", "--out", str(tmp_path / "deriv"), *SAMPLE]) == 0
    log, text = paper(tmp_path, SAMPLE, "\n".join(rf"\input{{deriv/{c}}}" for c in SAMPLE))
    check_paper(tmp_path, SAMPLE, log, text)
    # value and SE rounded by one rule: two significant digits of SE, the value to the same place
    m = re.search(r"inverse SNR is (\d+\.(\d+)) ± (0\.(0*)[1-9]\d) \(theory \S+, SE (\S+)\)", text)
    assert m and len(m.group(2)) == len(m.group(3)) - 2 and m.group(5) == m.group(3), text[:600]


@pytest.mark.slow
def test_whole_ledger_paper_compiles_cleanly(tmp_path):
    """Every claim's table row and derivation (``\\input{deriv/derivations}``) compile cleanly in one paper."""
    from proofs_check.ledger import all_claims

    ids = [c.id for c in all_claims()]
    assert main(["report", "--out", str(tmp_path / "amv"), "--quick", "--no-figures", "-q"]) == 0
    assert main(["derive", "--format", "tex", "--out", str(tmp_path / "deriv")]) == 0
    log, text = paper(tmp_path, ids, r"\input{deriv/derivations}")
    check_paper(tmp_path, ids, log, text)
