"""CITATION.cff: valid against the Citation File Format 1.2.0 schema and in agreement with ``amverify cite``.

The schema is the one shipped inside the ``cffconvert`` distribution (the CFF project's own
validator), read as package data without importing cffconvert; install it with the test extra.
"""

import copy
import json
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from proofs_check import __version__
from proofs_check.citation import PAPER

ROOT = Path(__file__).resolve().parents[1]


def _yaml_load(text):
    try:
        import yaml

        return yaml.safe_load(text)
    except ImportError:
        ruamel = pytest.importorskip("ruamel.yaml", reason="no YAML parser: pip install -e '.[test]'")
        return ruamel.YAML(typ="safe").load(text)


@pytest.fixture(scope="module")
def cff():
    return _yaml_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schema():
    try:
        files = metadata.distribution("cffconvert").files or []
    except metadata.PackageNotFoundError:
        pytest.skip("the CFF 1.2.0 schema ships with cffconvert: pip install -e '.[test]'")
    (path,) = [f for f in files if str(f).endswith("schemas/1.2.0/schema.json")]
    return json.loads(path.read_text(encoding="utf-8"))


def test_citation_cff_is_valid(cff, schema):
    """CITATION.cff validates against the CFF 1.2.0 JSON schema."""
    import jsonschema

    assert schema["$id"].endswith("/1.2.0/schema.json")
    jsonschema.validate(cff, schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("breakage", ["drop_authors", "bad_doi", "bad_type"])
def test_schema_rejects_broken_records(cff, schema, breakage):
    """The validation can fail: a record without authors, a malformed DOI or an unknown type is rejected."""
    import jsonschema

    broken = copy.deepcopy(cff)
    if breakage == "drop_authors":
        del broken["authors"]
    elif breakage == "bad_doi":
        broken["preferred-citation"]["doi"] = "arXiv 2505.19488"
    else:
        broken["preferred-citation"]["type"] = "preprint-ish"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, format_checker=jsonschema.FormatChecker())


def test_preferred_citation_is_the_paper(cff):
    """The preferred citation is the paper, with the same title, authors, year and DOI as ``amverify cite``."""
    paper = cff["preferred-citation"]
    assert paper["title"] == PAPER["title"]
    assert [(a["family-names"], a["given-names"]) for a in paper["authors"]] == PAPER["authors"]
    assert paper["year"] == PAPER["year"] and paper["doi"] == PAPER["doi"]


def test_citation_names_the_suite_at_its_version(cff):
    """The record names the suite at the version of the package and of pyproject.toml."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert cff["title"].startswith("amverify") and cff["type"] == "software"
    assert str(cff["version"]) == __version__ == pyproject["project"]["version"]
