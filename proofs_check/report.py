"""Reports of a check run: the terminal table, the JSON report (``amverify.report/1``) and Markdown."""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import sys
from dataclasses import asdict
from typing import Any, Iterable, Sequence

from proofs_check import __version__
from proofs_check.engine import (ALPHA, FALSE_FAILURE_BUDGET, LOOKS, MAX_CHECKS, MIN_ESS, PLAN_INFLATION,
                                  RESOLUTION_TARGET, SEPARATION, Z, ClaimResult, point_to_dict)

__all__ = ["CONTROL_VERDICTS", "EVAL_SCHEMA", "POINT_VERDICTS", "SCHEMA", "SYMBOLIC_STATUSES", "VERDICTS",
           "format_number", "format_regime", "format_resolution", "git_commit", "json_schema", "json_text", "markdown",
           "package_versions", "render_table", "summary", "summary_line", "to_json_dict", "without_volatile",
           "write_json"]

SCHEMA = "amverify.report/1"
EVAL_SCHEMA = "amverify.eval/1"  # amverify eval --json
VOLATILE_KEYS = ("seconds", "task_seconds", "created", "machine")  # differ between runs of the same seed


def without_volatile(report: Any) -> Any:
    """A JSON report without the keys that differ between runs of one seed (:data:`VOLATILE_KEYS`): what two
    runs must agree on, whatever ran them."""
    if isinstance(report, dict):
        return {k: without_volatile(v) for k, v in report.items() if k not in VOLATILE_KEYS}
    if isinstance(report, list):
        return [without_volatile(v) for v in report]
    return report


def package_versions() -> dict[str, str]:
    """Versions of Python and the numeric stack, recorded in every report."""
    import numpy
    import scipy
    import sympy

    return {"amverify": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "sympy": sympy.__version__}


def git_commit() -> dict[str, Any]:
    """The git commit of the suite's source tree and whether it has uncommitted changes (None outside git)."""
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        if os.path.realpath(top) != os.path.realpath(root):  # an installed copy inside some other repository
            return {"commit": None, "dirty": None}
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": dirty}


def format_number(x: float | None, digits: int = 5) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def format_regime(params: dict) -> str:
    return " ".join(f"{k}={format_number(v, 4) if isinstance(v, float) else v}" for k, v in params.items())


def _measured(p) -> str:
    from proofs_check.uncertainty import format_pm

    return format_pm(p.measured, p.standard_error)  # two digits of SE, the value to the same place


def format_resolution(r: float | None) -> str:
    """A point's resolution as a percentage ('-' where it does not apply)."""
    if r is None:
        return "-"
    if not math.isfinite(r):
        return str(r)
    return f"{100 * r:.2g}%" if r < 0.1 else f"{100 * r:.0f}%"


def table_rows(results: Sequence[ClaimResult]) -> list[list[str]]:
    rows = []
    for cr in results:
        if not cr.points:
            rows.append([cr.claim.id, f"symbolic: {cr.symbolic.describe()}", "-", "-", "-", "-", cr.verdict,
                         f"{cr.symbolic.seconds:.2f}"])
        for p in cr.points:
            verdict = p.verdict if not p.message else f"{p.verdict} ({p.message})"
            rows.append([cr.claim.id, format_regime(p.params), format_number(p.predicted), _measured(p),
                         format_number(p.z, 3) if p.z is not None else "-", format_resolution(p.resolution),
                         verdict, f"{p.seconds:.2f}"])
        together = cr.pooled
        if together is not None:
            verdict = together.verdict if not together.message else f"{together.verdict} ({together.message})"
            rows.append([cr.claim.id, f"pooled, {together.points} points", "-", "-", format_number(together.z, 3),
                         format_resolution(together.resolution), verdict, "-"])
        idle = cr.idle_controls
        if idle:
            rows.append([cr.claim.id, "controls", "-", "-", "-", "-",
                         f"underpowered ({idle_message(idle, cr.mode)})", "-"])
        if cr.symbolic.status == "failed":
            rows.append([cr.claim.id, "symbolic", "-", "-", "-", "-", f"fail ({cr.symbolic.message})",
                         f"{cr.symbolic.seconds:.2f}"])
    return rows


def idle_message(idle: Sequence[str], mode: str | None) -> str:
    """Why a claim with controls that applied at no point of its grid is underpowered."""
    return (f"negative control(s) {', '.join(idle)} applied at no point of the {mode} grid: they cannot fail, so "
            f"the check shows no power against them")


HEADER = ["claim", "regime", "predicted", "measured ± SE", "z", "resolution", "verdict", "s"]


def render_table(rows: Iterable[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    """A plain aligned text table."""
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(out)


VERDICTS = ("pass", "fail", "error", "underpowered", "cited")  # of a claim
POINT_VERDICTS = ("pass", "fail", "error", "underpowered")
CONTROL_VERDICTS = ("rejected", "accepted", "inconsistent", "error", "n/a")
SYMBOLIC_STATUSES = ("verified", "partial", "failed", "cited")


def _counts(keys: Sequence[str], values: Iterable[str]) -> dict[str, int]:
    """How often each key occurs in ``values``: every key present, zeros included (an unknown value is added)."""
    out = dict.fromkeys(keys, 0)
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def summary(results: Sequence[ClaimResult]) -> dict[str, Any]:
    """Counts of a run, every count present even when zero: claims by verdict (top level), claims by symbolic
    status, regime points by verdict, negative controls by verdict; and the worst resolution."""
    points = [p for cr in results for p in cr.points]
    controls = [c for p in points for c in p.controls]
    counts: dict[str, Any] = _counts(VERDICTS, (cr.verdict for cr in results))
    counts["symbolic"] = _counts(SYMBOLIC_STATUSES, (cr.symbolic.status for cr in results))
    counts["points"] = _counts(POINT_VERDICTS, (p.verdict for p in points))
    counts["controls"] = _counts(CONTROL_VERDICTS, (c.verdict for c in controls))
    counts["controls_rejected"] = counts["controls"]["rejected"]
    counts["controls_total"] = sum(c.verdict != "n/a" for c in controls)
    together = [cr.pooled for cr in results]
    counts["pooled"] = _counts(("pass", "fail"), (t.verdict for t in together if t is not None))
    resolutions = [p.resolution for p in points if p.resolution is not None and math.isfinite(p.resolution)]
    counts["worst_resolution"] = max(resolutions) if resolutions else None
    return counts


def summary_line(results: Sequence[ClaimResult], *, mode: str, seed: int) -> str:
    """The one-line summary printed after a run."""
    s = summary(results)
    worst = s["worst_resolution"]
    return (f"{len(results)} claim(s), mode {mode}, seed {seed}: "
            + ", ".join(f"{s[k]} {k}" for k in VERDICTS)
            + f"; negative controls rejected {s['controls_rejected']}/{s['controls_total']}"
            + (f"; pooled checks passed {s['pooled']['pass']}/{s['pooled']['pass'] + s['pooled']['fail']}"
               if s["pooled"]["pass"] + s["pooled"]["fail"] else "")
            + (f"; worst resolution {format_resolution(worst)} (target {format_resolution(RESOLUTION_TARGET[mode])})"
               if worst is not None else ""))


def to_json_dict(results: Sequence[ClaimResult], *, seed: int, mode: str) -> dict[str, Any]:
    """The report as a JSON-ready dict (schema ``amverify.report/1``)."""
    claims = []
    for cr in results:
        c, together = cr.claim, cr.pooled
        claims.append({
            "id": c.id, "kind": c.kind.value, "provenance": c.provenance.value, "anchor": c.anchor,
            "statement": c.statement, "latex": cr.statement_latex(), "verdict": cr.verdict,
            "symbolic": {"status": cr.symbolic.status, "counts": cr.symbolic.counts,
                         "unverified": list(cr.symbolic.unverified), "message": cr.symbolic.message,
                         "steps": [{"status": s, "why": w} for s, w in cr.symbolic.steps],
                         "seconds": cr.symbolic.seconds},
            "points": [point_to_dict(p) for p in cr.points],
            "idle_controls": cr.idle_controls,
            "pooled": asdict(together) if together is not None else None,
            "seconds": cr.seconds,
        })
    return {
        "schema": SCHEMA,
        "suite_version": __version__,
        "root_seed": seed,
        "mode": mode,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "packages": package_versions(),
        "git": git_commit(),
        "engine": {"z": Z, "false_failure_budget": FALSE_FAILURE_BUDGET, "max_checks": MAX_CHECKS,
                   "alpha_per_comparison": ALPHA, "separation": SEPARATION, "plan_inflation": PLAN_INFLATION,
                   "resolution_target": RESOLUTION_TARGET[mode], "min_ess": MIN_ESS, "looks": LOOKS},
        "summary": summary(results),
        "claims": claims,
    }


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None  # strict JSON has no NaN/inf: null, and the point's verdict and message say why
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and type(x).__module__ == "numpy":  # numpy scalars
        return _jsonable(x.item())
    return x


SCHEMA_FILES = {SCHEMA: "report-1.json", EVAL_SCHEMA: "eval-1.json", "amverify.calibration/1": "calibration-1.json"}


def json_schema(tag: str) -> dict[str, Any]:
    """The JSON Schema (draft 7) of the output tagged ``tag`` (e.g. ``"amverify.report/1"``), shipped in
    the package as ``proofs_check/schemas/*.json``."""
    from importlib.resources import files

    if tag not in SCHEMA_FILES:
        raise KeyError(f"no schema for {tag!r}; known: {', '.join(sorted(SCHEMA_FILES))}")
    return json.loads(files("proofs_check").joinpath("schemas", SCHEMA_FILES[tag]).read_text(encoding="utf-8"))


def json_text(obj: Any) -> str:
    """``obj`` as strict JSON (RFC 8259): every non-finite float becomes ``null``; anything else that is not
    JSON raises, as would a NaN that slipped past (``allow_nan=False``)."""
    return json.dumps(_jsonable(obj), indent=2, sort_keys=False, allow_nan=False)


def write_json(report: dict, path: str) -> None:
    """Write ``report`` as strict JSON (:func:`json_text`) to ``path`` ('-': stdout)."""
    text = json_text(report)
    if path == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


def markdown(results: Sequence[ClaimResult], *, seed: int, mode: str) -> str:
    """A Markdown summary table of a run."""
    lines = [f"# amverify check ({mode}, seed {seed})", "",
             f"z = {Z:.3f}, control separation {SEPARATION:.2f} SE (family-wise false-failure budget "
             f"{FALSE_FAILURE_BUDGET:g} over {MAX_CHECKS} comparisons); resolution target "
             f"{format_resolution(RESOLUTION_TARGET[mode])}", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in table_rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    lines += ["", "Summary: " + summary_line(results, mode=mode, seed=seed)]
    return "\n".join(lines) + "\n"
