r"""Citing the paper, the suite and the suite's numbers: BibTeX entries and LaTeX macros of a report.

Macro names (``macros.tex``)
----------------------------
Every reported number gets one ``\newcommand`` whose name is built from the claim id, the regime
point and the quantity. TeX control words contain letters only, so:

* each id segment and each parameter name is split on ``_`` and ``.``, and every part is
  capitalised: ``capacity.linear.inverse_snr_ratio`` becomes ``CapacityLinearInverseSnrRatio``;
* every digit is spelled as a capitalised word (``0`` -> ``Zero`` ... ``9`` -> ``Nine``), a decimal
  point as ``Point``, a minus sign as ``Minus`` and an exponent ``e`` as ``E``:
  ``key_norm2`` -> ``KeyNormTwo``, ``0.5`` -> ``ZeroPointFive``, ``1e-06`` -> ``OneEMinusSix``;
* the regime point is named by its parameters in the claim's order, ``<Name><Value>`` each, so
  it does not depend on the grid order or the mode: ``N=16, d_k=4, d_v=4`` -> ``NOneSixDKFourDVFour``;
* the quantity comes last: ``Predicted``, ``Measured``, ``Se`` (standard error), ``Z``,
  ``Trials``, ``Resolution`` (in percent: the smallest relative error the check surely detects),
  ``Pm`` (``measured \pm SE``, for math mode); per claim ``Verdict``.

So ``\amvCapacityLinearInverseSnrRatioNSixFourDKOneSixDVEightMeasured`` is the measured
ratio-estimand inverse SNR at ``N=64, d_k=16, d_v=8``. Suite-wide macros: ``\amvSuiteVersion``,
``\amvRootSeed``, ``\amvMode``, ``\amvCommit``, ``\amvZThreshold`` and counts that say what they
count: ``\amvClaimsTotal``, ``\amvClaimsChecked`` (all but the cited), ``\amvClaimsPassed``,
``\amvClaimsFailed``, ``\amvClaimsCited``. Numbers are rounded by :mod:`proofs_check.uncertainty`.
Capitalisation keeps ``inverse_snr`` and ``inversesnr`` apart
(``InverseSnr`` vs ``Inversesnr``); the two collisions the scheme cannot exclude by itself
(a ``.`` versus a ``_`` boundary, a digit versus its spelled word) are detected:
:func:`macro_table` raises :class:`MacroCollisionError` and a test runs it over the whole ledger.

>>> camel("capacity.linear.inverse_snr_ratio")
'CapacityLinearInverseSnrRatio'
>>> point_name({"N": 16, "d_k": 4, "key_norm2": 0.5})
'NOneSixDKFourKeyNormTwoZeroPointFive'
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

from proofs_check import __version__
from proofs_check.uncertainty import latex_number, latex_pm, rounded

__all__ = ["MacroCollisionError", "PAPER", "SUITE", "bibtex", "bibtex_entry", "camel", "claims_table_tex", "macro_table", "number_text",
           "macros_tex", "point_name"]

# The paper, as given by its arXiv page (notes §1, [exact-from-paper]); CITATION.cff repeats it
# and a test keeps the two in agreement.
PAPER = {
    "key": "zhong2025associative",
    "type": "misc",
    "title": "Understanding Transformer from the Perspective of Associative Memory",
    "authors": [("Zhong", "Shu"), ("Xu", "Mingyu"), ("Ao", "Tenglong"), ("Shi", "Guang")],
    "year": 2025,
    "eprint": "2505.19488",
    "archiveprefix": "arXiv",
    "primaryclass": "cs.LG",
    "doi": "10.48550/arXiv.2505.19488",
    "url": "https://arxiv.org/abs/2505.19488",
}

SUITE = {
    "key": "amverify",
    "type": "software",
    "title": "amverify: executable, checkable mathematics for ``Understanding Transformer from the "
             "Perspective of Associative Memory''",
    "authors": [("amverify developers", None)],
    "year": 2026,
    "version": __version__,
}

_DIGITS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
_SYMBOLS = {".": "Point", "-": "Minus", "+": "", "e": "E"}


class MacroCollisionError(ValueError):
    """Two different reported numbers would get the same macro name."""


def _spell(part: str) -> str:
    out = []
    for ch in part:
        if ch.isdigit():
            out.append(_DIGITS[int(ch)])
        elif ch.isalpha():
            out.append(ch)
        else:
            out.append(_SYMBOLS.get(ch, ""))
    return "".join(out)


def camel(text: str) -> str:
    """Letters-only CamelCase of an id or name: split on ``.`` and ``_``, capitalise, spell digits."""
    parts = [p for p in re.split(r"[._]", text) if p]
    return "".join(_spell(p[:1].upper() + p[1:]) for p in parts)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    if isinstance(v, (int, float)):
        return _spell(repr(v).replace("e-0", "e-").replace("e+0", "e+").replace("e", "E"))
    return camel(str(v))


def point_name(params: Mapping[str, Any]) -> str:
    """The regime point's part of a macro name: ``<Name><Value>`` per parameter, in the given order."""
    return "".join(camel(k) + _value(v) for k, v in params.items())


def number_text(x: Any, digits: int = 6) -> str:
    if x is None:
        return "--"
    if isinstance(x, str):  # NaN / inf as strings, in reports written before strict JSON (now null)
        return x
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def macro_table(report: Mapping[str, Any]) -> dict[str, str]:
    """``{macro name (without backslash): replacement text}`` for every number of a JSON report."""
    table: dict[str, str] = {}
    origin: dict[str, str] = {}

    def put(name: str, value: str, where: str) -> None:
        name = "amv" + name
        if name in table and origin[name] != where:
            raise MacroCollisionError(f"macro \\{name} names both {origin[name]} and {where}")
        table[name], origin[name] = value, where

    summary = report.get("summary", {})
    claims = report.get("claims", [])
    put("SuiteVersion", str(report.get("suite_version", "")), "suite version")
    put("RootSeed", str(report.get("root_seed", "")), "root seed")
    put("Mode", str(report.get("mode", "")), "mode")
    put("Commit", str((report.get("git") or {}).get("commit") or "unknown")[:12], "git commit")
    put("ZThreshold", number_text(report.get("engine", {}).get("z"), 4), "z threshold")
    # counts that say what they count: cited claims are recorded, not checked, so they are neither
    # passed nor failed (ClaimsPassed/ClaimsChecked is the pass rate of the checked claims)
    verdicts = [c.get("verdict") for c in claims]
    put("ClaimsTotal", str(len(claims)), "claims in the report")
    put("ClaimsChecked", str(sum(v != "cited" for v in verdicts)), "claims checked (not cited)")
    put("ClaimsPassed", str(summary.get("pass", verdicts.count("pass"))), "claims passed")
    put("ClaimsFailed", str(sum(v in ("fail", "error", "underpowered") for v in verdicts)),
        "claims failed, in error or underpowered")
    put("ClaimsCited", str(summary.get("cited", verdicts.count("cited"))), "claims cited (recorded, not checked)")
    for claim in claims:
        base = camel(claim["id"])
        put(base + "Verdict", claim["verdict"], f"{claim['id']} verdict")
        for p in claim.get("points", []):
            where = f"{claim['id']} at {p['params']}"
            stem = base + point_name(p["params"])
            measured, se = _number(p.get("measured")), _number(p.get("standard_error"))
            put(stem + "Predicted", _math(latex_number(_number(p.get("predicted")))), where + " predicted")
            # value, SE and value ± SE are rounded by one rule (proofs_check.uncertainty), so they agree
            r = rounded(measured, se) if measured is not None else None
            put(stem + "Measured", _math(latex_number(measured) if r is None or r.se is None
                                         else _scaled(r.value, r.exponent)), where + " measured")
            put(stem + "Se", _math(_scaled(r.se, r.exponent)) if r is not None and r.se is not None else "--",
                where + " SE")
            put(stem + "Z", number_text(p.get("z"), 3), where + " z")
            put(stem + "Trials", number_text(p.get("trials")), where + " trials")
            res = p.get("resolution")
            put(stem + "Resolution", number_text(100 * res, 2) if isinstance(res, (int, float)) else "--",
                where + " resolution (percent)")
            put(stem + "Pm", _math(latex_pm(measured, se)), where + " measured ± SE")
    return table


def _number(x: Any) -> float | None:
    """A JSON number as a float; None when absent or null (non-finite); old reports' "nan" strings give NaN."""
    if x is None:
        return None
    try:
        return float(x) if not isinstance(x, int) or isinstance(x, bool) else x
    except (TypeError, ValueError):
        return float("nan")


def _scaled(mantissa: str, exponent: int) -> str:
    return mantissa if exponent == 0 else f"{mantissa} \\times 10^{{{exponent}}}"


def _math(tex: str) -> str:
    """Math-mode LaTeX as macro text usable in text and in math (plain digits stay plain)."""
    return tex if re.fullmatch(r"[0-9.]+", tex) else f"\\ensuremath{{{tex}}}"


def macros_tex(report: Mapping[str, Any]) -> str:
    """``macros.tex``: one ``\\newcommand`` per reported number; ``\\input`` it from a paper."""
    lines = ["% amverify report macros: \\input{macros} and write e.g. \\amvRootSeed.",
             "% Names: claim id + regime point + quantity, letters only (docs/how-to/cite-a-number.md).",
             f"% suite {report.get('suite_version')}, seed {report.get('root_seed')}, mode {report.get('mode')}"]
    for name, value in macro_table(report).items():
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")
    return "\n".join(lines) + "\n"


def claims_table_tex(report: Mapping[str, Any]) -> str:
    """The report's claims table (rendered by :func:`proofs_check.latex.claims_table_tex`)."""
    from proofs_check.latex import claims_table_tex as render

    return render(report)


def _bib_authors(authors) -> str:
    return " and ".join(f"{{{family}}}" if given is None else f"{family}, {given}" for family, given in authors)


def bibtex_entry(record: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> str:
    fields = {"title": "{" + record["title"] + "}", "author": _bib_authors(record["authors"]),
              "year": str(record["year"])}
    for key in ("eprint", "archiveprefix", "primaryclass", "doi", "url", "version"):
        if key in record:
            fields[{"archiveprefix": "archivePrefix", "primaryclass": "primaryClass"}.get(key, key)] = str(record[key])
    fields.update(extra or {})
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@{record['type']}{{{record['key']},\n{body}\n}}\n"


def bibtex(commit: str | None = None) -> str:
    """BibTeX entries for the paper and for the suite (with the git commit when known)."""
    extra = {"note": f"git commit {commit}"} if commit else None
    return bibtex_entry(PAPER) + "\n" + bibtex_entry(SUITE, extra)
