r"""LaTeX that drops into a paper unchanged: escaped prose, breakable ids, long formulas broken into lines.

Everything here writes LaTeX that compiles with ``\usepackage{amsmath,amssymb,booktabs,longtable,array}``
in a standard ``article`` (docs/how-to/cite-a-number.md lists the preamble; ``tests/test_paper.py``
compiles a sample paper and fails on an error or on a box more than 1 pt too wide).

* :func:`prose` turns the suite's plain-text statements (``S k_i = v_i ||k_i||^2``, ``N <= d_k``) into
  text-mode LaTeX that reads as written under any font encoding: sub- and superscripts as
  ``\textsubscript``/``\textsuperscript``, ``||``, ``<``, ``>``, ``~`` and friends as math symbols, and the
  characters TeX reserves escaped.
* :func:`tex_id` sets a claim id in typewriter type with a break allowed after every ``.`` and ``_``.
* :func:`tex_width` estimates the width of math-mode LaTeX in em (10 pt at the default size) and
  :func:`break_math` cuts a formula at its top-level ``+``, ``-`` and relations into lines that fit a
  width, opening a too-wide ``\left( ... \right)`` or fraction so that its inside can be cut too.
* :func:`claims_table_tex` is the report's claims table: a ``longtable`` exactly ``\linewidth`` wide
  that breaks across pages, one row per claim and the claim's formula on its own full-width line.

>>> print(prose("N <= d_k: S k_i = v_i ||k_i||^2"))
N \ensuremath{\le} d\textsubscript{k}: S k\textsubscript{i} = v\textsubscript{i} \ensuremath{\|}k\textsubscript{i}\ensuremath{\|}\textsuperscript{2}
>>> tex_id("capacity.linear.inverse_snr")
'\\texttt{capacity.\\allowbreak linear.\\allowbreak inverse\\char95\\allowbreak snr}'
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

__all__ = ["TEXTWIDTH_EM", "break_math", "claims_table_tex", "prose", "tex_id", "tex_width"]

TEXTWIDTH_EM = 34.5  # \textwidth of a 10 pt article (345 pt) in em

# characters outside ASCII that the suite's prose uses, as LaTeX that needs no package or input encoding
_UNICODE = {"§": r"\S{}", "⊙": r"\ensuremath{\odot}", "≤": r"\ensuremath{\le}", "≥": r"\ensuremath{\ge}",
            "≠": r"\ensuremath{\ne}", "→": r"\ensuremath{\to}", "∞": r"\ensuremath{\infty}",
            "×": r"\ensuremath{\times}", "·": r"\ensuremath{\cdot}", "–": "--", "—": "---",
            "’": "'", "‘": "`",
            "“": "``", "”": "''", "é": r"\'e", "≈": r"\ensuremath{\approx}", "√": r"\ensuremath{\surd}",
            "±": r"\ensuremath{\pm}", "−": r"\ensuremath{-}", "…": r"\dots{}"}
# operators written in ASCII, longest first
_OPERATORS = [("||", r"\ensuremath{\|}"), ("<=", r"\ensuremath{\le}"), (">=", r"\ensuremath{\ge}"),
              ("!=", r"\ensuremath{\ne}"), ("->", r"\ensuremath{\to}"), ("<-", r"\ensuremath{\leftarrow}"),
              ("<", r"\ensuremath{<}"), (">", r"\ensuremath{>}"), ("|", r"\ensuremath{|}"),
              ("~", r"\ensuremath{\sim}"), ("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"),
              ("#", r"\#"), ("$", r"\$"), ("{", r"\{"), ("}", r"\}")]
_CLOSE = {"{": "}", "(": ")"}


def _script_argument(text: str, i: int) -> tuple[str, int]:
    """The argument of ``^`` or ``_`` at ``text[i]``: a ``{...}`` or ``(...)`` group (braces dropped), else a
    run of letters and digits (or one other character); returns it and the index after it."""
    if i >= len(text):
        return "", i
    ch = text[i]
    if ch in _CLOSE:
        depth, j = 0, i
        while j < len(text):
            depth += text[j] == ch
            depth -= text[j] == _CLOSE[ch]
            if depth == 0:
                inner = text[i + 1:j]
                return (inner if ch == "{" else f"({inner})"), j + 1
            j += 1
        return text[i + 1:], len(text)
    m = re.match(r"-?[A-Za-z0-9]+|.", text[i:])
    return m.group(0), i + len(m.group(0))


def prose(text: str) -> str:
    r"""Plain text with ASCII mathematics as text-mode LaTeX (see the module docstring).

    A ``_`` followed by three or more lower-case letters is a code identifier (``inverse_snr_ratio``) and is
    printed as an underscore; other ``_x`` and ``^x`` become sub- and superscripts.

    >>> print(prose("SNR^{-1} ~ N/d_k at 90% (see capacity.linear.inverse_snr_ratio)"))
    SNR\textsuperscript{-1} \ensuremath{\sim} N/d\textsubscript{k} at 90\% (see capacity.linear.inverse\_\allowbreak{}snr\_\allowbreak{}ratio)
    """
    text = text.replace("**", "^")  # sympy's power in messages
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "^_" and not (ch == "_" and re.match(r"[a-z]{3,}", text[i + 1:])):
            arg, i = _script_argument(text, i + 1)
            out.append(("\\textsuperscript{" if ch == "^" else "\\textsubscript{") + prose(arg) + "}")
            continue
        if ch == "_":
            out.append(r"\_\allowbreak{}")
            i += 1
            continue
        for ascii_op, tex in _OPERATORS:
            if text.startswith(ascii_op, i):
                out.append(tex)
                i += len(ascii_op)
                break
        else:
            if ord(ch) > 127:
                if ch not in _UNICODE:
                    raise ValueError(f"no LaTeX for the character {ch!r} (U+{ord(ch):04X}) in {text!r}; "
                                     "add it to proofs_check.latex._UNICODE")
                out.append(_UNICODE[ch])
            else:
                out.append(ch)
            i += 1
    return "".join(out)


def tex_id(claim_id: str) -> str:
    """A claim id in typewriter type, breakable after each ``.`` and ``_``."""
    # \char95 is the underscore glyph of the typewriter font (OT1 and T1): \_ would draw a rule that
    # copy-paste and pdftotext lose
    return r"\texttt{" + claim_id.replace("_", r"\char95\allowbreak ").replace(".", r".\allowbreak ") + "}"


# ----- width of math-mode LaTeX ------------------------------------------------------------------------------

_SPACES = {r"\,": 0.17, r"\:": 0.22, r"\;": 0.28, r"\!": -0.17, r"\ ": 0.33, r"\quad": 1.0, r"\qquad": 2.0}
_ZERO = {r"\left", r"\right", r"\displaystyle", r"\textstyle", r"\limits", r"\nolimits", r"\big", r"\Big",
         r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\biggl", r"\biggr"}
_RELATIONS = {r"\le", r"\leq", r"\ge", r"\geq", r"\ne", r"\neq", r"\to", r"\approx", r"\sim", r"\mid",
              r"\leftarrow", r"\rightarrow", r"\equiv", r"\propto", r"\in", r"\subset", r"\mapsto"}
_BINARY = {r"\pm", r"\mp", r"\times", r"\cdot", r"\odot", r"\otimes", r"\circ", r"\setminus", r"\wedge"}
_TEXTUAL = {r"\mathrm", r"\operatorname", r"\text", r"\mathit", r"\textrm", r"\mathbf", r"\texttt"}
_CHAR = {**{c: 0.4 for c in "()[]"}, ",": 0.45, ";": 0.45, ".": 0.28, "/": 0.5, "|": 0.28, "!": 0.3,
         "'": 0.3, "*": 0.5, ":": 0.5}


def _group(tex: str, i: int) -> tuple[str, int]:
    """The brace group (or single token) starting at ``tex[i]``; returns its inside and the index after it."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        depth = 0
        for j in range(i, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[j], 0) if tex[j - 1:j] != "\\" or j == i else 0
            if depth == 0:
                return tex[i + 1:j], j + 1
        return tex[i + 1:], len(tex)
    if tex[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
        return m.group(0), i + len(m.group(0))
    return tex[i], i + 1


def tex_width(tex: str) -> float:
    r"""Estimated width in em of math-mode LaTeX in display style (a deliberate over-estimate: the
    renderers use it to decide where a formula must be cut).

    >>> round(tex_width(r"\frac{N - 1}{d_{k} + 2}"), 1) < round(tex_width(r"N - 1 + d_{k} + 2"), 1)
    True
    """
    width, i = 0.0, 0
    while i < len(tex):
        ch = tex[i]
        if ch in " {}&":
            if ch == "{":
                inner, i = _group(tex, i)
                width += tex_width(inner)
                continue
            i += 1
            continue
        if ch in "^_":
            arg, i = _group(tex, i + 1)
            w = 0.7 * tex_width(arg)
            if i < len(tex) and tex[i] in "^_" and tex[i] != ch:  # both scripts: the wider counts
                arg2, i = _group(tex, i + 1)
                w = max(w, 0.7 * tex_width(arg2))
            width += w
            continue
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            cmd = m.group(0)
            i += len(cmd)
            if cmd in _SPACES:
                width += _SPACES[cmd]
            elif cmd in _ZERO:
                if i < len(tex) and cmd in (r"\left", r"\right"):
                    delim, i = _group(tex, i)
                    width += 0.0 if delim == "." else 0.55
            elif cmd in (r"\frac", r"\dfrac", r"\tfrac", r"\binom"):
                num, i = _group(tex, i)
                den, i = _group(tex, i)
                width += max(tex_width(num), tex_width(den)) + (0.9 if cmd == r"\binom" else 0.25)
            elif cmd == r"\sqrt":
                if tex[i:i + 1] == "[":
                    i = tex.index("]", i) + 1
                arg, i = _group(tex, i)
                width += tex_width(arg) + 0.9
            elif cmd in _TEXTUAL:
                arg, i = _group(tex, i)
                width += 0.62 * len(re.sub(r"\\[A-Za-z]+|[{}\\]", "x", arg))
            elif cmd in (r"\mathbb", r"\mathcal", r"\boldsymbol", r"\hat", r"\bar", r"\tilde", r"\vec"):
                arg, i = _group(tex, i)
                width += tex_width(arg) + 0.1
            elif cmd == r"\begin":
                env, i = _group(tex, i)
                end = tex.find(r"\end{" + env + "}", i)
                if env.endswith("matrix") and end > 0:  # as wide as its widest row
                    rows = tex[i:end].split(r"\\")
                    width += max(sum(tex_width(cell) + 1.0 for cell in row.split("&")) for row in rows)
                    i = end + len(env) + 6
            elif cmd == r"\end":
                _, i = _group(tex, i)
            elif cmd in _RELATIONS:
                width += 1.6
            elif cmd in _BINARY:
                width += 1.3
            elif cmd in (r"\sum", r"\prod", r"\int"):
                width += 1.5
            elif cmd in (r"\|", r"\{", r"\}"):
                width += 0.5
            elif cmd == r"\\":
                pass
            else:  # \alpha, \log, \infty, ...
                width += 0.6 if len(cmd) <= 7 else 0.5 * (len(cmd) - 1)
            continue
        if ch in "+-":
            width += 1.3
        elif ch in "=<>":
            width += 1.6
        elif ch.isdigit():
            width += 0.5
        elif ch.isalpha():
            width += 0.58
        else:
            width += _CHAR.get(ch, 0.5)
        i += 1
    return width


# ----- breaking formulas --------------------------------------------------------------------------------------

def _top_level_pieces(tex: str) -> list[str]:
    """Split math LaTeX before each top-level ``+``/``-``/``=``/``\\cdot`` (outside braces and ``\\left ... \\right``);
    the operator starts its piece."""
    pieces, start, depth, i = [], 0, 0, 0
    while i < len(tex):
        if tex.startswith(r"\left", i) and not tex[i + 5:i + 6].isalpha():
            depth += 1
            i += 5
            continue
        if tex.startswith(r"\right", i) and not tex[i + 6:i + 7].isalpha():
            depth -= 1
            i += 6
            continue
        ch = tex[i]
        if tex.startswith(r"\begin{", i) or tex.startswith(r"\end{", i):
            depth += 1 if tex[i + 1] == "b" else -1
            i += 4
            continue
        if ch == "\\":
            if depth == 0 and re.match(r"\\cdot(?![A-Za-z])", tex[i:]):
                pieces.append(tex[start:i])
                start = i
            i += 2 if i + 1 < len(tex) and not tex[i + 1].isalpha() else len(re.match(r"\\[A-Za-z]*", tex[i:]).group(0))
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch in "+-=" and i > 0 and tex[:i].strip() and tex[:i].rstrip()[-1] not in "({[=^_,":
            pieces.append(tex[start:i])
            start = i
        i += 1
    pieces.append(tex[start:])
    return [p for p in (p.strip() for p in pieces) if p]


def _left_groups(tex: str) -> list[tuple[int, int, int]]:
    r"""Top-level ``\left( ... \right)`` groups of ``tex``: ``(start, inner start, end of \right + delimiter)``."""
    groups, depth, i, open_at = [], 0, 0, None
    while i < len(tex):
        if tex.startswith(r"\left", i) and not tex[i + 5:i + 6].isalpha():
            if depth == 0:
                open_at = (i, i + 6)
            depth, i = depth + 1, i + 6
            continue
        if tex.startswith(r"\right", i) and not tex[i + 6:i + 7].isalpha():
            depth, i = depth - 1, i + 7
            if depth == 0 and open_at and tex[open_at[1] - 1] in "([":
                groups.append((open_at[0], open_at[1], i))
            continue
        if tex.startswith(r"\begin", i):
            depth += 1
        elif tex.startswith(r"\end", i):
            depth -= 1
        elif tex[i] == "{":
            depth += 1
        elif tex[i] == "}":
            depth -= 1
        i += 2 if tex[i] == "\\" else 1
    return groups


def _open_up(piece: str) -> list[str] | None:
    r"""A too-wide piece rewritten as pieces that can go on separate lines: its widest top-level
    ``\left( ... \right)`` group whose inside has several terms is cut (``\left( a \right.``,
    ``\left. + b \right)``); a leading fraction with a wide numerator is first written
    ``\frac{1}{den} num``. None when nothing can be cut."""
    sign = ""
    if piece[:1] in "+-=":
        sign, piece = piece[0] + " ", piece[1:].strip()
    if piece.startswith(r"\frac{"):
        num, j = _group(piece, 5)
        den, k = _group(piece, j)
        if tex_width(num) > tex_width(den):
            parts = _top_level_pieces(num)
            body = rf"\left({num}\right)" if len(parts) > 1 else num
            piece = rf"\frac{{1}}{{{den}}} {body} {piece[k:]}".strip()
    best = None
    for start, inner, end in _left_groups(piece):
        parts = _top_level_pieces(piece[inner:end - 7])
        wide = tex_width(piece[start:end]) >= 0.4 * tex_width(piece)  # cutting a small group gains nothing
        wider = best is None or tex_width(piece[start:end]) > tex_width(piece[best[0]:best[2]])
        if len(parts) > 1 and wide and wider:
            best = (start, inner, end, parts)
    if best is None:
        return None
    start, inner, end, parts = best
    before, opener, closer, after = piece[:start], piece[start:inner], piece[end - 7:end], piece[end:]
    return ([sign + before + opener + " " + parts[0] + r" \right."] +
            [r"\left. " + p + r" \right." for p in parts[1:-1]] + [r"\left. " + parts[-1] + " " + closer + after])


def break_math(tex: str, width: float, *, first: float | None = None) -> list[str]:
    r"""Cut math LaTeX into lines of estimated width at most ``width`` em (the first line at most ``first``).

    Lines are cut before top-level ``+``, ``-`` and ``=``; a piece still too wide is opened up
    (:func:`_open_up`) and cut inside. A piece that cannot be cut stays whole (the caller may summarise it).

    >>> break_math("a + b + c", 100)
    ['a + b + c']
    >>> break_math(r"\left(a + b + c\right)", 2.5)
    ['\\left( a \\right.', '\\left. + b \\right.', '\\left. + c \\right)']
    """
    first = width if first is None else first
    if tex_width(tex) <= first:
        return [tex]
    pieces: list[str] = []
    for piece in _top_level_pieces(tex):
        opened = _open_up(piece) if tex_width(piece) > width else None
        if opened:
            pieces += [q for p in opened for q in (break_math(p, width) if tex_width(p) > width else [p])]
        else:
            pieces.append(piece)
    lines, current = [], ""
    for piece in pieces:
        limit = first if not lines else width
        joined = f"{current} {piece}".strip()
        if current and tex_width(joined) > limit:
            lines.append(current)
            current = piece
        else:
            current = joined
    lines.append(current)
    return lines


# ----- the report's claims table ------------------------------------------------------------------------------

PREAMBLE = r"\usepackage{amsmath,amssymb,booktabs,longtable,array}"
_META = ("Provenance", "Kind", "Points", "Verdict")


def _measure(values: Sequence[str]) -> str:
    """LaTeX for the widest of ``values`` (a one-column tabular is as wide as its widest cell)."""
    return r"\begin{tabular}{@{}l@{}}" + r"\\".join(values) + r"\end{tabular}"


def claims_table_tex(report: Mapping[str, Any]) -> str:
    r"""The claims of a report as a ``longtable`` exactly ``\linewidth`` wide (``\small``), breaking across
    pages: per claim a row (id, provenance, kind, points passed, verdict) and the claim's formula on a
    full-width line under it, cut into lines where it is too wide. The id column takes what the other
    columns (as wide as their widest entry) leave."""
    claims = list(report.get("claims", []))
    rows = []
    for c in claims:
        points = c.get("points", [])
        passed = sum(p.get("verdict") == "pass" for p in points)
        rows.append((c, (prose(c["provenance"]), prose(c["kind"]),
                         f"{passed}/{len(points)}" if points else "--", prose(c["verdict"]))))
    columns = [[head, *(r[1][k] for r in rows)] for k, head in enumerate(_META)]
    lines = [
        "% amverify claims table (generated): \\input it where the table goes.",
        f"% Preamble: {PREAMBLE}",
        r"\begingroup\small",
        r"\ifdefined\amvIdWidth\else\newlength\amvIdWidth\newlength\amvCellWidth\fi",
        r"\setlength{\amvIdWidth}{\dimexpr\linewidth-8\tabcolsep\relax}",
    ]
    for column in columns:
        lines.append(r"\settowidth{\amvCellWidth}{" + _measure(column) + r"}\addtolength{\amvIdWidth}{-\amvCellWidth}")
    lines += [
        r"\begin{longtable}{@{}>{\raggedright\arraybackslash}p{\amvIdWidth}llrl@{}}",
        r"\toprule", r"Claim & " + " & ".join(_META) + r" \\", r"\midrule", r"\endfirsthead",
        r"\toprule", r"Claim & " + " & ".join(_META) + r" \\", r"\midrule", r"\endhead",
        r"\bottomrule", r"\endlastfoot",
    ]
    formula_width = TEXTWIDTH_EM * 0.9 / 0.9 - 2.5  # \small is 0.9 of the size; 1.5 em indent and a margin
    for c, meta in rows:
        lines.append(f"{tex_id(c['id'])} & " + " & ".join(meta) + r" \\*")
        formula = break_math(c.get("latex", ""), formula_width)
        if len(formula) > 4 or any(tex_width(line) > formula_width for line in formula):
            # too long for a table: the left-hand side, and where the formula is
            lhs = re.split(r" (?:=|\\to) ", c.get("latex", ""), maxsplit=1)[0]
            formula = [lhs + r" \quad \text{(long closed form: see the derivation)}"]
        cell = r"\newline\hspace*{1em}".join(f"$\\displaystyle {line}$" for line in formula)
        lines.append(r"\multicolumn{5}{@{\hspace{1.5em}}p{\dimexpr\linewidth-1.5em\relax}@{}}{" + cell + r"} \\[2pt]")
    lines += [r"\end{longtable}", r"\endgroup"]
    return "\n".join(lines) + "\n"
