"""docs/: the generated catalogue is current, every relative link resolves, the CI workflow is well formed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from proofs_check.cli import main
from proofs_check.commands.docs import REGENERATE_CATALOGUE, catalogue_markdown
from proofs_check.ledger import Kind, all_claims

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_catalogue_is_current():
    """docs/reference/claims.md is exactly what the ledger generates."""
    current = (DOCS / "reference" / "claims.md").read_text(encoding="utf-8")
    assert current == catalogue_markdown(all_claims()), (
        f"docs/reference/claims.md is stale; regenerate with: {REGENERATE_CATALOGUE}")


def test_catalogue_lists_every_claim_with_its_status():
    """Each claim appears with its section heading, provenance and a derivation status."""
    text = (DOCS / "reference" / "claims.md").read_text(encoding="utf-8")
    for claim in all_claims():
        assert f"### {claim.id}" in text
        block = text.split(f"### {claim.id}", 1)[1].split("### ", 1)[0]
        assert f"provenance: {claim.provenance.value}" in block and "status: " in block
        if claim.kind is not Kind.CITED:
            assert all(f"`{n.name}`" in block for n in claim.negative_controls)


def test_docs_check_command_detects_staleness(tmp_path, capsys):
    """``amverify docs --check`` passes on a generated tree, fails naming the one stale page with the
    regeneration command, and passes again after ``docs``."""
    assert main(["docs", "--root", str(tmp_path)]) == 0
    page = next((tmp_path / "derivations").glob("capacity.*.md"))
    original = page.read_text(encoding="utf-8")
    page.write_text(original + "edited\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["docs", "--root", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert f"regenerate with: {REGENERATE_CATALOGUE}" in err and err.count(".md") == 1 and page.name in err
    page.write_text(original, encoding="utf-8")
    assert main(["docs", "--root", str(tmp_path), "--check"]) == 0


def test_docs_check_outside_a_checkout_refuses_clearly(tmp_path):
    """In a project that only installs amverify (its own docs/, no generated pages), ``python -m proofs_check
    docs --check`` exits 2 with one line saying what it compares, instead of calling every page stale."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# my project\n")
    run = subprocess.run([sys.executable, "-m", "proofs_check", "docs", "--check"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "not one: run it in an amverify checkout" in run.stderr
    assert not (tmp_path / "docs" / "reference").exists()


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_relative_links_resolve(page):
    """Every relative link of a docs page points at an existing file or directory."""
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"{page.relative_to(ROOT)} links to missing {target}"


def test_index_covers_the_four_kinds_of_documentation():
    """docs/index.md links the tutorial, the how-to guides, the explanation, the reference and the topics."""
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for target in ("tutorial.md", "how-to/add-a-claim.md", "how-to/evaluate-at-your-parameters.md",
                   "how-to/cite-a-number.md", "explanation.md", "reference/claims.md", "derivations/index.md",
                   "ci.md", "provenance.md"):
        assert f"]({target})" in index, target
    for page in sorted((DOCS / "topics").glob("*.md")):
        if page.name != "README.md":
            assert f"](topics/{page.name})" in index, f"docs/index.md does not link topics/{page.name}"


def test_ci_workflow_is_valid_yaml_that_uploads_the_report(monkeypatch):
    """The GitHub Actions workflow in docs/ci.md parses and runs check --json, then uploads the report."""
    yaml = pytest.importorskip("yaml")
    text = (DOCS / "ci.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    workflow = yaml.safe_load(block)
    steps = workflow["jobs"]["claims"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "amverify check" in runs and "--json amverify-report.json" in runs
    upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload and "amverify-report.json" in upload[0]["with"]["path"] and upload[0]["if"] == "always()"
    # the derivation cache is restored before the check, at the folder the suite uses on a Linux runner
    uses = [s.get("uses", "") for s in steps]
    cache = uses.index("actions/cache@v4")
    assert cache < next(i for i, s in enumerate(steps) if "amverify check" in s.get("run", ""))
    assert steps[cache]["with"]["path"] == "~/.cache/amverify"
    if sys.platform.startswith("linux"):  # the runner's: no XDG_CACHE_HOME set there
        from proofs_check.derivation_cache import user_cache_dir

        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        assert Path(user_cache_dir()) == Path("~/.cache/amverify").expanduser()


def test_the_readmes_ledger_counts_are_the_ledgers():
    """The README's counts of claims, cited facts and pooled checks in the default run follow the ledger (the
    negative controls in play are counted by a run: its summary line says so)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"The ledger has (\d+) claims\s+\((\d+) checked, (\d+) cited literature facts\), (\d+) negative"
                      r"\s+controls and (\d+) pooled checks in the default run", text)
    assert found, "the README's sentence on the ledger's size has changed: update this test with it"
    claims = all_claims()
    cited = sum(c.kind is Kind.CITED for c in claims)
    pooled = sum(c.kind is Kind.STATISTICAL and len(c.grids["default"]) >= 2 for c in claims)
    assert [int(found.group(i)) for i in (1, 2, 3, 5)] == [len(claims), len(claims) - cited, cited, pooled]


def test_every_macro_the_docs_quote_is_one_a_default_report_defines():
    """A LaTeX snippet copied from the docs must compile against a default run's macros.tex: each `\\amv...` macro
    quoted in the docs, the README or citation.py's docstring names a run-wide number or a point of a default
    grid (a fresh-clone review found the example citing N=128, d_k=16, d_v=8, which no grid holds)."""
    import proofs_check.citation as citation
    from proofs_check.derivations import TEX_HEADING

    report = {"claims": [{"id": c.id, "verdict": "pass",
                          "points": [{"params": {n: p[n] for n in c.param_names}} for p in c.grids.get("default", ())]}
                         for c in all_claims()]}
    defined = set(citation.macro_table(report)) | set(re.findall(r"\\providecommand\{\\(amv\w+)\}", TEX_HEADING))
    quoted = {}
    for path in [*PAGES, ROOT / "README.md", Path(citation.__file__)]:
        if "reference/claims.md" not in str(path) and "derivations" not in path.parts:
            for name in re.findall(r"\\(amv[A-Za-z]+)", path.read_text(encoding="utf-8")):
                quoted.setdefault(name, path.relative_to(ROOT).as_posix())
    assert any(name.endswith("Pm") for name in quoted)  # the per-point examples are among them
    assert {n: where for n, where in quoted.items() if n not in defined} == {}


def test_topic_tables_give_each_claim_its_registered_provenance():
    """A topic page's claim table whose last cell is a bare provenance (`paper`, `reconstructed`, `suite`) agrees
    with the registry (a relabelled claim would otherwise keep its old label in the prose pages)."""
    provenance = {c.id: c.provenance.value for c in all_claims()}
    wrong = []
    for page in sorted((DOCS / "topics").glob("*.md")):
        for line in page.read_text(encoding="utf-8").splitlines():
            row = re.match(r"\| `([a-z_.0-9]+)` \|.*\| (paper|reconstructed|suite) \|$", line.rstrip())
            if row and row.group(1) in provenance and provenance[row.group(1)] != row.group(2):
                wrong.append((page.name, row.group(1), row.group(2), provenance[row.group(1)]))
    assert wrong == []
