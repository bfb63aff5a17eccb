"""``amverify derive``: render the claims' derivations, each step checked, as Markdown or LaTeX ``align`` blocks.

Exit 0 when every step marked for verification verifies; 1 when one fails (the step is named);
2 on bad usage. ``--check`` compares an ``--out`` directory with what would be written.
"""

from __future__ import annotations

import sys

__all__ = ["cmd_derive", "register"]


def cmd_derive(args) -> int:
    from proofs_check.cli import EXIT_FAIL, EXIT_OK, UsageError, check_output_dir, select_claims
    from proofs_check.derivations import REGENERATE, render, stale_files, write_documents

    claims = select_claims(args.ids, args.section)
    if args.check:
        if not args.out:
            raise UsageError("--check needs --out DIR")
        check_output_dir(args.out, "--out", writing=False)  # --check only reads the pages there
        stale = stale_files(claims, args.out, args.format)
        if stale:
            print(f"{args.out} is stale ({', '.join(stale)}); regenerate with: "
                  f"{REGENERATE.replace('docs/derivations', args.out)}"
                  + (" --format tex" if args.format == "tex" else ""), file=sys.stderr)
            return EXIT_FAIL
        print(f"{args.out} is up to date ({len(claims)} claim(s))")
        return EXIT_OK
    if args.out:
        check_output_dir(args.out, "--out")
        # the index lists every claim, so only a full regeneration writes it and prunes old files
        full = not args.ids and args.section is None
        docs = write_documents(claims, args.out, args.format, index=full, prune=full)
        print(f"wrote {len(docs)} derivation(s) to {args.out}")
    else:
        docs = [render(c, args.format) for c in claims]
        sys.stdout.write("\n".join(d.text for d in docs))
    failed = [(d.claim_id, f) for d in docs for f in d.failures]
    for claim_id, (index, why, detail) in failed:
        print(f"{claim_id}: step {index} ({why}) FAILED: {detail}", file=sys.stderr)
    return EXIT_FAIL if failed else EXIT_OK


def register(subparsers) -> None:
    from proofs_check.ledger import SECTIONS

    p = subparsers.add_parser(
        "derive", help="render the derivations, each step checked, as Markdown or LaTeX align blocks",
        description="Render each claim's sympy derivation with its id, paper anchor, provenance and a mark "
                    "per step (verified / assumed / cited). Exit 1 when a step fails verification.")
    p.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    p.add_argument("--section", choices=SECTIONS, help="only claims of this section")
    p.add_argument("--format", choices=("md", "tex"), default="md", help="Markdown (default) or LaTeX")
    p.add_argument("--out", metavar="DIR", help="write one file per claim (and an index) into DIR; "
                                                "default: print to stdout")
    p.add_argument("--check", action="store_true", help="exit 1 if DIR differs from what would be written")
    p.set_defaults(func=cmd_derive)
