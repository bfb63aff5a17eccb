"""The documentation site's strict build passes, and fails on a page missing from the nav or a broken link."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # .ci/run installs the docs extra before the slow tier


@pytest.fixture
def site(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra (pip install -e '.[docs]') builds the site")
    pytest.importorskip("pymdownx", reason="the docs extra (pip install -e '.[docs]') builds the site")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def _build(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder / "site")],
                          cwd=folder, capture_output=True, text=True, timeout=600)


def test_site_builds_strict(site):
    """The documentation as committed builds with no warning."""
    done = _build(site)
    assert done.returncode == 0, done.stderr[-3000:]


def test_page_missing_from_nav_fails_the_build(site):
    """A hand-written page that the nav does not list, or a derivation page the index does not link, fails."""
    (site / "docs" / "how-to" / "orphan.md").write_text("# Orphan\n", encoding="utf-8")
    (site / "docs" / "derivations" / "basics.removed.claim.md").write_text("# stale\n", encoding="utf-8")
    done = _build(site)
    assert done.returncode != 0
    assert "how-to/orphan.md" in done.stderr and "derivations/basics.removed.claim.md" in done.stderr


def test_broken_link_or_anchor_fails_the_build(site):
    """A link to a missing page, or to a missing anchor of an existing page, fails the build."""
    page = site / "docs" / "tutorial.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[gone](no-such-page.md) [anchor](explanation.md#no-such)\n",
                    encoding="utf-8")
    done = _build(site)
    assert done.returncode != 0
    assert "no-such-page.md" in done.stderr and "#no-such" in done.stderr
