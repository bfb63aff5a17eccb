r"""Numbers rounded by their uncertainty: the one rule every table, macro and report uses.

A measured value with a standard error is printed with **two significant digits of the SE** and
the value rounded **to the same decimal place** (the convention of siunitx's ``\num{7.012(48)}``):

>>> format_pm(7.01209, 0.04832)
'7.012 ± 0.048'
>>> format_pm(0.24965, 0.000383)
'0.24965 ± 0.00038'
>>> format_pm(1234.5, 48.0)
'1234 ± 48'
>>> format_pm(3.2e-9, 4.1e-11)
'(3.200 ± 0.041)e-9'

The SE is rounded first; when rounding carries it into a third digit (0.0996 -> 0.100) the place is
recomputed so that it still shows two (0.10). Values that are exact (SE 0 or absent, e.g. an
identity's residual or a predicted value) have no uncertainty to round by: they are shown with
:data:`EXACT_DIGITS` significant digits and no ``± 0``:

>>> format_pm(2.72861e-16, 0.0)
'2.72861e-16'
>>> format_pm(0.25, None)
'0.25'
>>> format_value(3.5)
'3.5'

Very small or very large numbers switch to a power of ten shared by value and SE. :func:`rounded`
gives the pieces (value, SE, decimals, exponent) so that the plain-text and LaTeX renderings
(:func:`format_pm`, :func:`latex_pm`) cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["EXACT_DIGITS", "Rounded", "format_pm", "format_se", "format_value", "latex_number", "latex_pm",
           "rounded"]

EXACT_DIGITS = 6  # significant digits of a number without uncertainty (trailing zeros dropped)
SE_DIGITS = 2  # significant digits of a standard error
_FIXED_RANGE = (-3, 6)  # numbers of magnitude 10^-3 .. 10^6 are printed without an exponent


@dataclass(frozen=True)
class Rounded:
    """``value ± se`` rounded by the rule: both strings carry ``decimals`` digits after the point of the
    mantissa, and the true numbers are ``mantissa × 10^exponent``. ``se`` is None for an exact value."""

    value: str
    se: str | None
    exponent: int  # 0 unless the numbers are very small or large


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _exact(x: float, digits: int) -> Rounded:
    if x == 0:
        return Rounded("0", None, 0)
    exponent = math.floor(math.log10(abs(float(f"{x:.{digits - 1}e}"))))
    if _FIXED_RANGE[0] - 1 <= exponent < _FIXED_RANGE[1]:
        return Rounded(f"{x:.{digits}g}", None, 0)
    mantissa = f"{x / 10**exponent:.{digits - 1}f}".rstrip("0").rstrip(".")
    return Rounded(mantissa, None, exponent)


def rounded(value: float, se: float | None = None, *, digits: int = EXACT_DIGITS) -> Rounded:
    """Round ``value`` by its standard error (two significant digits of ``se``, value to the same place);
    an exact value (``se`` None, 0 or not finite) gets ``digits`` significant digits."""
    if not _finite(value):
        return Rounded(str(value), None if not _finite(se) or not se else str(se), 0)
    if isinstance(value, int) and not se:
        return Rounded(str(value), None, 0)
    if not _finite(se) or se <= 0:
        return _exact(float(value), digits)
    place = math.floor(math.log10(se)) - (SE_DIGITS - 1)  # power of ten of the SE's last printed digit
    if round(se / 10**place) >= 10**SE_DIGITS:  # 0.0996 -> 0.100: one digit too many, move the place up
        place += 1
    big = max(abs(value), se)
    fixed = big < 10**_FIXED_RANGE[1] and (big >= 10**_FIXED_RANGE[0] or place >= -6)
    exponent = 0 if fixed else math.floor(math.log10(big))
    decimals = exponent - place
    scale = 10.0**exponent
    if decimals >= 0:
        text, se_text = f"{value / scale:.{decimals}f}", f"{se / scale:.{decimals}f}"
    else:  # the place is left of the point: round to tens, hundreds, ...
        unit = 10**-decimals
        text, se_text = str(int(round(value / scale / unit)) * unit), str(int(round(se / scale / unit)) * unit)
    return Rounded(text.lstrip("-") if float(text) == 0 else text, se_text, exponent)


def format_pm(value: float | None, se: float | None, *, digits: int = EXACT_DIGITS) -> str:
    """Plain text ``value ± se`` by the rule (exact values without ``± 0``; '-' for a missing value)."""
    if value is None:
        return "-"
    r = rounded(value, se, digits=digits)
    if r.se is None:
        return r.value if r.exponent == 0 else f"{r.value}e{r.exponent}"
    body = f"{r.value} ± {r.se}"
    return body if r.exponent == 0 else f"({body})e{r.exponent}"


def format_value(value: float | None, *, digits: int = EXACT_DIGITS) -> str:
    """An exact number (a prediction, a threshold) with ``digits`` significant digits, plain text."""
    return format_pm(value, None, digits=digits)


def format_se(value: float | None, se: float | None) -> str:
    """The SE alone exactly as :func:`format_pm` prints it beside the value ('-' when there is none)."""
    if value is None or not _finite(se) or not se:
        return "-"
    r = rounded(value, se)
    return r.se if r.exponent == 0 else f"{r.se}e{r.exponent}"


def _latex_times(body: str, exponent: int, paren: bool) -> str:
    if exponent == 0:
        return body
    return (rf"\left({body}\right)" if paren else body) + rf" \times 10^{{{exponent}}}"


def latex_pm(value: float | None, se: float | None, *, digits: int = EXACT_DIGITS) -> str:
    r"""LaTeX (math mode) of ``value ± se``: ``7.012 \pm 0.048``; an exact value alone."""
    if value is None:
        return "\\text{--}"
    r = rounded(value, se, digits=digits)
    if r.se is None:
        return _latex_times(_latex_minus(r.value), r.exponent, False)
    return _latex_times(f"{_latex_minus(r.value)} \\pm {r.se}", r.exponent, True)


def latex_number(value: float | None, *, digits: int = EXACT_DIGITS) -> str:
    """LaTeX (math mode) of an exact number."""
    return latex_pm(value, None, digits=digits)


def _latex_minus(text: str) -> str:
    return text if _finite_text(text) else f"\\text{{{text}}}"


def _finite_text(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
