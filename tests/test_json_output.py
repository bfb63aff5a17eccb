"""JSON outputs: strict JSON (no NaN or infinity anywhere), every summary count present, and each output valid
against the JSON Schema shipped in the package (proofs_check/schemas)."""

import copy
import json
import math

import pytest

from proofs_check.cli import main
from proofs_check.report import SCHEMA_FILES, json_schema, json_text

jsonschema = pytest.importorskip("jsonschema")

# identities and statistical claims, quick grids: about a second
IDS = ["basics.linear.crosstalk_decomposition", "basics.linear.overcomplete_noise_floor",
       "capacity.linear.inverse_snr_ratio"]
# a point where a control does not apply: its prediction and measurement are NaN inside the engine
NA_POINT = ["capacity.exp.typical_tau2", "N=1000000", "d_k=32", "d_v=16"]


def strict_loads(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity, as RFC 8259 parsers (JavaScript, Go, jq) do."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def validate(instance, tag):
    schema = json_schema(tag)
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(instance)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("json") / "check.json"
    assert main(["check", "--quick", "-q", "--json", str(path), *IDS]) == 0
    return strict_loads(path.read_text())


def test_json_text_writes_null_for_non_finite_and_refuses_non_json():
    """NaN and infinities become null (also inside numpy scalars); an object JSON cannot hold raises."""
    import numpy as np

    text = json_text({"a": math.nan, "b": [math.inf, -math.inf], "c": np.float64("nan"), "d": np.int64(3)})
    assert strict_loads(text) == {"a": None, "b": [None, None], "c": None, "d": 3}
    with pytest.raises(TypeError):
        json_text({"x": {1, 2}})


def test_eval_json_is_strict_and_valid(capsys):
    """'eval --json' at a point where a control does not apply writes null, not a bare NaN, and fits its schema."""
    assert main(["eval", *NA_POINT, "--quick", "--json"]) == 0
    out = strict_loads(capsys.readouterr().out)
    assert out["schema"] == "amverify.eval/1"
    na = [c for c in out["controls"] if c["verdict"] == "n/a"]
    assert na and all(c["predicted"] is None and c["measured"] is None for c in na)
    validate(out, "amverify.eval/1")


def test_check_report_is_valid(quick_report):
    """A real quick 'check --json' report validates against amverify.report/1."""
    assert quick_report["schema"] == "amverify.report/1"
    validate(quick_report, "amverify.report/1")


def test_summary_has_every_count_even_zero(quick_report):
    """Claims, points, controls and symbolic statuses by verdict: every verdict present, zeros included."""
    s = quick_report["summary"]
    assert {k: s[k] for k in ("pass", "fail", "error", "underpowered", "cited")} == \
           {"pass": 3, "fail": 0, "error": 0, "underpowered": 0, "cited": 0}
    assert set(s["points"]) == {"pass", "fail", "error", "underpowered"} and s["points"]["fail"] == 0
    assert set(s["controls"]) == {"rejected", "accepted", "inconsistent", "error", "n/a"}
    assert s["controls"]["accepted"] == 0 and s["controls"]["rejected"] == s["controls_rejected"] > 0
    assert s["points"]["pass"] == sum(len(c["points"]) for c in quick_report["claims"])


def test_schema_rejects_what_it_must(quick_report):
    """The schema can fail: a missing zero count, a bare NaN's string stand-in, an unknown verdict, an extra key."""
    Error = jsonschema.ValidationError
    point = ("claims", 2, "points", 0)
    breakages = [
        lambda r: r["summary"].pop("fail"),
        lambda r: r["summary"]["controls"].pop("accepted"),
        lambda r: _at(r, point).__setitem__("measured", "nan"),
        lambda r: _at(r, point).__setitem__("verdict", "maybe"),
        lambda r: _at(r, point).__setitem__("unexpected", 1),
        lambda r: r.__setitem__("schema", "amverify.report/2"),
    ]
    for breakage in breakages:
        broken = copy.deepcopy(quick_report)
        breakage(broken)
        with pytest.raises(Error):
            validate(broken, "amverify.report/1")


def _at(obj, path):
    for key in path:
        obj = obj[key]
    return obj


def test_report_directory_json_is_valid(tmp_path, quick_report):
    """'report' writes a report.json that is still strict and valid after the round trip through --json."""
    src = tmp_path / "check.json"
    src.write_text(json.dumps(quick_report))
    assert main(["report", "--json", str(src), "--out", str(tmp_path / "r"), "--no-figures"]) == 0
    validate(strict_loads((tmp_path / "r" / "report.json").read_text()), "amverify.report/1")


def test_calibration_json_is_valid(tmp_path):
    """A real (two-seed, one-claim) 'calibrate --json' report validates against amverify.calibration/1."""
    path = tmp_path / "cal.json"
    assert main(["calibrate", "basics.linear.memory_accumulation", "--runs", "2", "--quick", "-q",
                 "--json", str(path), "--md", str(tmp_path / "cal.md")]) == 0
    validate(strict_loads(path.read_text()), "amverify.calibration/1")


def test_every_schema_is_shipped_and_names_its_tag():
    """Each output tag has a schema file in the package whose title is the tag."""
    for tag in SCHEMA_FILES:
        assert json_schema(tag)["title"] == tag
    with pytest.raises(KeyError, match="amverify.report/1"):
        json_schema("amverify.nothing/1")
