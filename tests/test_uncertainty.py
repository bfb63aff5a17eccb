"""Numbers are rounded by their uncertainty: two significant digits of SE, the value to the same place."""

import math
import re

import pytest
from hypothesis import given, strategies as st

from proofs_check.citation import macro_table
from proofs_check.uncertainty import format_pm, format_se, latex_pm

# expected strings computed by hand from the rule (not by running the code)
CASES = [
    (7.01209, 0.04832, "7.012 ± 0.048"),  # the example: six digits on the value before
    (0.24965, 0.000383, "0.24965 ± 0.00038"),
    (3.4966, 0.0041, "3.4966 ± 0.0041"),
    (1.0, 0.0996, "1.00 ± 0.10"),  # SE rounds up into a third digit: the place moves
    (5.0, 0.00996, "5.000 ± 0.010"),
    (1234.5, 48.0, "1234 ± 48"),
    (7.0, 480.0, "10 ± 480"),  # the place is left of the point: tens
    (-0.0012, 0.00034, "-0.00120 ± 0.00034"),
    (-0.00001, 0.0012, "0.0000 ± 0.0012"),  # no '-0.0000'
    (3.2e-9, 4.1e-11, "(3.200 ± 0.041)e-9"),
    (123456789.0, 12345.0, "(1.23457 ± 0.00012)e8"),
    (2.72861e-16, 0.0, "2.72861e-16"),  # exact: no '± 0'
    (3.5, None, "3.5"),
    (0.25, 0.0, "0.25"),
    (12, None, "12"),
]


@pytest.mark.parametrize("value, se, expected", CASES)
def test_hand_computed_cases(value, se, expected):
    """Each case prints exactly as the rule, applied by hand, says."""
    assert format_pm(value, se) == expected


def test_latex_form_matches_text():
    """The LaTeX form carries the same digits as the text form."""
    assert latex_pm(7.01209, 0.04832) == r"7.012 \pm 0.048"
    assert latex_pm(3.2e-9, 4.1e-11) == r"\left(3.200 \pm 0.041\right) \times 10^{-9}"
    assert latex_pm(2.72861e-16, 0) == r"2.72861 \times 10^{-16}"


def _parse(text):
    m = re.fullmatch(r"\(?(-?[\d.]+) ± ([\d.]+)\)?(?:e(-?\d+))?", text)
    assert m, text
    scale = 10.0 ** int(m.group(3) or 0)
    decimals = len(m.group(1).split(".")[1]) if "." in m.group(1) else 0
    return m.group(1), m.group(2), scale, decimals


@given(value=st.floats(-1e12, 1e12, allow_nan=False), se=st.floats(1e-12, 1e10))
def test_printed_numbers_are_the_rounded_ones(value, se):
    """Value and SE printed to one place; each within half a unit of that place of the truth, the SE
    with two significant digits."""
    text = format_pm(value, se)
    v, s, scale, decimals = _parse(text)
    assert (len(s.split(".")[1]) if "." in s else 0) == decimals
    unit = scale * 10.0 ** -decimals
    trailing = len(s) - len(s.rstrip("0")) if "." not in s else 0  # a place left of the point: 480, 12000
    unit *= 10.0 ** trailing
    assert abs(float(v) * scale - value) <= 0.5 * unit * (1 + 1e-9) + 1e-12 * abs(value)
    assert abs(float(s) * scale - se) <= 0.5 * unit * (1 + 1e-9)
    digits = s.replace(".", "").lstrip("0").rstrip("0") if "." not in s else s.replace(".", "").lstrip("0")
    assert len(digits) <= 2 and float(s) > 0
    assert format_se(value, se) == (s if scale == 1 else f"{s}e{round(math.log10(scale))}")


def test_macros_agree_with_each_other():
    """The Measured, Se and Pm macros of one point carry the same rounded digits; counts name what they count."""
    report = {"summary": {"pass": 1, "cited": 1}, "claims": [
        {"id": "capacity.linear.demo", "verdict": "pass",
         "points": [{"params": {"N": 8}, "predicted": 7.0, "measured": 7.01209, "standard_error": 0.04832,
                     "z": 0.25, "trials": 100, "resolution": 0.01, "verdict": "pass"}]},
        {"id": "expressivity.circuits.demo", "verdict": "cited", "points": []}]}
    m = macro_table(report)
    stem = "amvCapacityLinearDemoNEight"
    assert m[stem + "Measured"] == "7.012" and m[stem + "Se"] == "0.048"
    assert m[stem + "Pm"] == r"\ensuremath{7.012 \pm 0.048}" and m[stem + "Predicted"] == "7"
    assert (m["amvClaimsTotal"], m["amvClaimsChecked"], m["amvClaimsPassed"], m["amvClaimsCited"],
            m["amvClaimsFailed"]) == ("2", "1", "1", "1", "0")
