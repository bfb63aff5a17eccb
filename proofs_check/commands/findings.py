"""``amverify findings``: write ``docs/findings.md`` from the declarative table in :mod:`proofs_check.findings`.

For each statement of the paper the suite checks: what the paper says, what is exact, the relative gap at
typical sizes (computed from ``theory/``), where it holds and fails, and the claims behind it; then the
statements the suite does not check and why. ``amverify docs`` regenerates it too; a test fails when the
committed page is stale.
"""

from __future__ import annotations

import os
import sys

__all__ = ["cmd_findings", "register", "write_findings"]

DEFAULT_PATH = os.path.join("docs", "findings.md")


def write_findings(path: str) -> str:
    """Write the findings page to ``path`` and return its text."""
    from proofs_check.findings import findings_markdown

    text = findings_markdown()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return text


def cmd_findings(args) -> int:
    from proofs_check.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE
    from proofs_check.findings import REGENERATE, findings_markdown

    if args.out == "-":  # as check's --json/--md: '-' is standard output
        if args.check:
            print("--check compares a file: give --out PATH, not '-'", file=sys.stderr)
            return EXIT_USAGE
        sys.stdout.write(findings_markdown())
        return EXIT_OK
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as fh:
                current = fh.read()
        except FileNotFoundError:
            current = None
        except OSError as exc:  # a directory, or a path under a file: not a page to compare
            print(f"cannot read --out {args.out!r}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
        if current != findings_markdown():
            print(f"{args.out} is stale; regenerate with: {REGENERATE}", file=sys.stderr)
            return EXIT_FAIL
        print(f"{args.out} is up to date")
        return EXIT_OK
    try:
        write_findings(args.out)
    except OSError as exc:
        print(f"cannot write --out {args.out!r}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {args.out}")
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("findings", help="write docs/findings.md: what the paper says, what is exact, the gap",
                              description="Write the findings page: for each statement of the paper the suite checks, "
                                          "what is exact, the relative gap at typical sizes (computed from theory/), "
                                          "where it holds and fails and the claims behind it; then the statements "
                                          "not checked and why. Run from the repository root.")
    p.add_argument("--out", default=DEFAULT_PATH, metavar="PATH",
                   help=f"output file, '-' for stdout (default: {DEFAULT_PATH})")
    p.add_argument("--check", action="store_true", help="exit 1 if the file differs from what would be written")
    p.set_defaults(func=cmd_findings)
