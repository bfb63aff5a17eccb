"""Figures: written as PNG and PDF when matplotlib is present; a clear exit 2 when it is not."""

import pytest

from proofs_check import cli


def test_figures_command_without_matplotlib_exits_2(monkeypatch, tmp_path, capsys):
    """With matplotlib unavailable the command names the missing extra and exits 2."""
    import proofs_check.figures as fig

    def missing():
        raise fig.MatplotlibMissing("figures need matplotlib: pip install 'amverify[plot]'")

    monkeypatch.setattr(fig, "_pyplot", missing)
    assert cli.main(["figures", "--out", str(tmp_path)]) == 2
    assert "matplotlib" in capsys.readouterr().err


@pytest.mark.slow
def test_write_figures_writes_png_and_pdf(tmp_path):
    """write_figures returns the four files it wrote (two figures, PNG and PDF)."""
    pytest.importorskip("matplotlib")
    from proofs_check.figures import write_figures

    paths = write_figures(tmp_path, seed=1, mode="quick")
    assert sorted(p.name for p in paths) == ["capacity_vs_d.pdf", "capacity_vs_d.png", "snr_vs_n.pdf", "snr_vs_n.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
