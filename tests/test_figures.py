"""Figures: PNG and PDF with TrueType fonts when matplotlib is present, only for the sections asked; exit 2 without it."""

import re

import pytest

from proofs_check import cli


def _fonts(pdf: bytes) -> set[str]:
    """The /Subtype of every font dictionary in a PDF (matplotlib writes them uncompressed)."""
    return {m.decode() for m in re.findall(rb"/Type\s*/Font\b[^>]*?/Subtype\s*/(\w+)", pdf)} | \
           {m.decode() for m in re.findall(rb"/Subtype\s*/(\w+)[^>]*?/Type\s*/Font\b", pdf)}


def test_figures_command_without_matplotlib_exits_2(monkeypatch, tmp_path, capsys):
    """With matplotlib unavailable the command names the missing extra and exits 2."""
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # 'import matplotlib' raises ImportError
    assert cli.main(["figures", "--out", str(tmp_path)]) == 2
    assert "matplotlib" in capsys.readouterr().err


def test_sections_without_figures_write_nothing(tmp_path, monkeypatch):
    """A section that has no figure draws nothing and needs no matplotlib."""
    import proofs_check.figures as fig

    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    assert fig.write_figures(tmp_path / "f", seed=1, mode="default", sections=["ffn"]) == []
    assert not (tmp_path / "f").exists()


def test_every_ledger_mode_is_accepted_and_others_are_refused(tmp_path, monkeypatch):
    """quick, default and full all draw (the report passes its own mode through); anything else is refused."""
    pytest.importorskip("matplotlib")
    import proofs_check.figures as fig

    seen = []
    monkeypatch.setattr(fig, "FIGURES", (("demo", "capacity", lambda plt, out, seed, mode: seen.append(mode) or []),))
    for mode in ("quick", "default", "full"):
        fig.write_figures(tmp_path, seed=1, mode=mode)
    assert seen == ["quick", "default", "full"]
    with pytest.raises(ValueError, match="'quick', 'default', 'full'"):
        fig.write_figures(tmp_path, seed=1, mode="fast")


def test_pdf_fonts_are_truetype_not_type3(tmp_path, monkeypatch):
    """A figure with mathtext in its labels and legend embeds TrueType (Type 42) fonts, never Type 3."""
    pytest.importorskip("matplotlib")
    import proofs_check.figures as fig

    def draw(plt, out, seed, mode):
        f, ax = plt.subplots()
        ax.plot([1, 2], [3, 4], label=r"exp $\tau=\sqrt{d_k}$")
        ax.set_xlabel(r"$\mathrm{SNR}^{-1}$")
        ax.legend()
        return fig._save(plt, f, out / "demo")

    monkeypatch.setattr(fig, "FIGURES", (("demo", "capacity", draw),))
    fig.write_figures(tmp_path, seed=1, mode="quick")
    fonts = _fonts((tmp_path / "demo.pdf").read_bytes())
    assert "Type3" not in fonts and fonts & {"TrueType", "Type0", "CIDFontType2"}, fonts
    # the check can fail: matplotlib's own default embeds Type 3
    import matplotlib.pyplot as plt

    f, ax = plt.subplots()
    ax.set_xlabel(r"$\tau$")
    with plt.rc_context({"pdf.fonttype": 3}):
        f.savefig(tmp_path / "type3.pdf")
    plt.close(f)
    assert "Type3" in _fonts((tmp_path / "type3.pdf").read_bytes())


@pytest.mark.slow
def test_write_figures_writes_png_and_pdf(tmp_path):
    """write_figures returns the four files it wrote (two figures, PNG and PDF), with TrueType fonts and
    mathtext (no plain-text 'tau=' in the labels)."""
    pytest.importorskip("matplotlib")
    from proofs_check.figures import write_figures

    paths = write_figures(tmp_path, seed=1, mode="quick")
    assert sorted(p.name for p in paths) == ["capacity_vs_d.pdf", "capacity_vs_d.png", "snr_vs_n.pdf", "snr_vs_n.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    for pdf in (p for p in paths if p.suffix == ".pdf"):
        assert "Type3" not in _fonts(pdf.read_bytes()), pdf.name
