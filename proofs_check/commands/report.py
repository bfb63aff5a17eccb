"""``amverify report``: a citable report directory from a check run (or from a saved JSON report).

Writes into ``--out DIR``:

* ``report.json``   the JSON report (schema ``amverify.report/1``) with its provenance;
* ``summary.md``    a Markdown summary table with the provenance;
* ``macros.tex``    one ``\\newcommand`` per reported number (names: :mod:`proofs_check.citation`);
* ``claims.tex``    a LaTeX table of the claims;
* ``references.bib`` BibTeX for the paper and the suite;
* ``figures/``      the figures of the report's sections, with matplotlib (else a note says why not).

A report regenerated with the same seed and mode reproduces every number; only the keys in
:data:`proofs_check.report.VOLATILE_KEYS` (timings, date, machine) differ.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Mapping

__all__ = ["FILES", "cmd_report", "register", "summary_markdown", "write_report_dir"]

FILES = ("report.json", "summary.md", "macros.tex", "claims.tex", "references.bib")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|")


def _summary_text(s: Mapping[str, Any]) -> str:
    """The summary's counts in words: 'claims: 72 pass, 0 fail, ...; points: ...; controls: ...'."""
    from proofs_check.report import VERDICTS, format_resolution

    def counts(d):
        return ", ".join(f"{v} {k}" for k, v in d.items())

    parts = ["claims: " + counts({k: s[k] for k in VERDICTS if k in s})]
    parts += [f"{group}: {counts(s[group])}" for group in ("symbolic", "points", "controls")
              if isinstance(s.get(group), Mapping)]
    if isinstance(s.get("worst_resolution"), (int, float)):
        parts.append(f"worst resolution {format_resolution(s['worst_resolution'])}")
    return "; ".join(parts)


def _pm(measured: Any, se: Any) -> str:
    """``measured ± SE`` by the suite's rounding rule (a non-finite value is null in the JSON: '--')."""
    from proofs_check.uncertainty import format_pm

    if isinstance(measured, str) or isinstance(se, str):  # reports written before strict JSON
        return f"{measured} ± {se}" if se not in (None, 0) else str(measured)
    return format_pm(measured, se)


def summary_markdown(report: Mapping[str, Any]) -> str:
    """A Markdown summary of a JSON report: provenance, then one row per claim and regime point."""
    from proofs_check.citation import number_text
    from proofs_check.report import format_regime, format_resolution

    git = report.get("git") or {}
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    packages = ", ".join(f"{k} {v}" for k, v in report.get("packages", {}).items())
    engine = report.get("engine", {})
    lines = [
        f"# amverify report ({report.get('mode')}, seed {report.get('root_seed')})", "",
        "| provenance | |", "|---|---|",
        f"| suite version | {report.get('suite_version')} |",
        f"| git commit | {commit} |",
        f"| root seed | {report.get('root_seed')} |",
        f"| mode | {report.get('mode')} |",
        f"| packages | {packages} |",
        f"| machine | {_cell((report.get('machine') or {}).get('platform', ''))} |",
        f"| date | {report.get('created')} |",
        f"| rule | pass iff \\|measured - predicted\\| <= z SE (+ bound), z = {number_text(engine.get('z'), 4)}; "
        f"each control at least {number_text(engine.get('separation'), 4)} SE away (planned) "
        f"(false-failure budget {engine.get('false_failure_budget')} over {engine.get('max_checks')} comparisons) |",
        "",
        "| claim | provenance | regime | predicted | measured ± SE | z | resolution | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in report.get("claims", []):
        if not c.get("points"):
            lines.append(f"| `{c['id']}` | {c['provenance']} | symbolic: {c['symbolic']['status']} | - | - | - | - "
                         f"| {c['verdict']} |")
        for p in c.get("points", []):
            verdict = p["verdict"] + (f" ({p['message']})" if p.get("message") else "")
            measured = _pm(p.get("measured"), p.get("standard_error"))
            res = p.get("resolution")
            lines.append(f"| `{c['id']}` | {c['provenance']} | {format_regime(p['params'])} | "
                         f"{number_text(p['predicted'])} | {measured} | {number_text(p.get('z'), 3)} | "
                         f"{format_resolution(res) if isinstance(res, (int, float)) else '-'} | {_cell(verdict)} |")
    lines += ["", "Summary: " + _summary_text(report.get("summary", {})), "",
              "Cite numbers with `macros.tex` (`\\input{macros}`), the claims with `claims.tex`, and the paper "
              "and the suite with `references.bib`."]
    return "\n".join(lines) + "\n"


def _figures(out_dir: str, seed: int, mode: str, sections: list[str]) -> str:
    """Write the figures of ``sections`` when matplotlib is there; one line saying what was written, or why not."""
    from proofs_check.figures import MatplotlibMissing, figure_sections, write_figures

    if not set(sections) & set(figure_sections()):
        return (f"figures skipped: none of the selected sections ({', '.join(sections) or 'none'}) has figures "
                f"(figures exist for: {', '.join(figure_sections())})")
    target = os.path.join(out_dir, "figures")
    try:
        written = write_figures(target, seed=seed, mode=mode, sections=sections)
    except MatplotlibMissing:
        return "figures skipped: matplotlib is not installed (pip install 'amverify[plot]')"
    return f"figures written to {target} ({len(written)} files, seed {seed}, mode {mode})"


def report_sections(report: Mapping[str, Any]) -> list[str]:
    """The ledger sections of a report's claims, in ledger order."""
    from proofs_check.ledger import SECTIONS

    present = {c["id"].split(".", 1)[0] for c in report.get("claims", [])}
    return [s for s in SECTIONS if s in present]


def write_report_dir(report: Mapping[str, Any], out_dir: str, *, figures: bool = True) -> list[str]:
    """Write every file of a report directory from a JSON report; return notes (e.g. figures skipped)."""
    from proofs_check.citation import bibtex, claims_table_tex, macros_tex
    from proofs_check.report import write_json

    os.makedirs(out_dir, exist_ok=True)
    notes = ([_figures(out_dir, int(report.get("root_seed", 0)), str(report.get("mode", "default")),
                       report_sections(report))] if figures else [])
    write_json(dict(report), os.path.join(out_dir, "report.json"))
    texts = {
        "summary.md": summary_markdown(report) + "".join(f"\n{n}\n" for n in notes),
        "macros.tex": macros_tex(report),
        "claims.tex": claims_table_tex(report),
        "references.bib": bibtex((report.get("git") or {}).get("commit")),
    }
    for name, text in texts.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    return notes


def cmd_report(args) -> int:
    from proofs_check.cli import (EXIT_FAIL, EXIT_OK, UsageError, _progress_printer, check_output_dir, run_executor,
                                  run_mode, select_claims)

    check_output_dir(args.out, "--out")  # before the run
    if args.json:
        if args.ids or args.section or args.quick or args.full:
            raise UsageError("--json reads a finished report: do not combine it with ids, --section, --quick or --full")
        try:
            with open(args.json, encoding="utf-8") as fh:
                report = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read the JSON report {args.json!r}: {exc}") from None
        if report.get("schema") != "amverify.report/1":
            raise UsageError(f"{args.json!r} is not an amverify.report/1 report (amverify check --json PATH)")
    else:
        from proofs_check.engine import check_claims
        from proofs_check.report import to_json_dict

        claims = select_claims(args.ids, args.section)
        mode = run_mode(args)
        with run_executor(args) as (executor, jobs):
            results = check_claims(claims, mode=mode, seed=args.seed, jobs=jobs, executor=executor,
                                   progress=_progress_printer(sys.stderr, not args.quiet), latex=True)
        report = to_json_dict(results, seed=args.seed, mode=mode)
    notes = write_report_dir(report, args.out, figures=not args.no_figures)
    for note in notes:
        print(note, file=sys.stderr)
    failed = [c["id"] for c in report.get("claims", []) if c.get("verdict") in ("fail", "error", "underpowered")]
    s = report.get("summary", {})
    print(f"report written to {args.out}: {', '.join(FILES)}; "
          + ", ".join(f"{s.get(k, 0)} {k}" for k in ("pass", "fail", "error", "underpowered", "cited")))
    if failed:
        print("failing: " + ", ".join(failed))
    return EXIT_FAIL if failed else EXIT_OK


def register(subparsers) -> None:
    from proofs_check.cli import add_cache_argument, add_run_arguments

    p = subparsers.add_parser(
        "report", help="write a citable report directory (JSON, Markdown, LaTeX macros and table, BibTeX)",
        description="Run the checks (or read a JSON report from 'amverify check --json') and write a "
                    "report directory a paper can cite: " + ", ".join(FILES) + " and figures/. "
                    "Exit 1 when a claim fails.")
    add_run_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write (created with its parents)")
    p.add_argument("--json", metavar="REPORT", help="build from this JSON report instead of running the checks")
    p.add_argument("--no-figures", action="store_true", help="do not write figures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_cache_argument(p)
    p.set_defaults(func=cmd_report)
