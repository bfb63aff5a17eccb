"""``amverify cite``: print the BibTeX entries for the paper and for the suite."""

from __future__ import annotations

__all__ = ["cmd_cite", "register"]


def cmd_cite(args) -> int:
    from proofs_check.citation import PAPER, SUITE, bibtex_entry, bibtex
    from proofs_check.report import git_commit

    commit = git_commit()["commit"]
    if args.paper:
        print(bibtex_entry(PAPER), end="")
    elif args.suite:
        print(bibtex_entry(SUITE, {"note": f"git commit {commit}"} if commit else None), end="")
    else:
        print(bibtex(commit), end="")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("cite", help="print BibTeX for the paper and the suite",
                              description="Print BibTeX entries: the paper (arXiv 2505.19488) and this suite "
                                          "(with the git commit when run from a checkout).")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--paper", action="store_true", help="only the paper")
    which.add_argument("--suite", action="store_true", help="only the suite")
    p.set_defaults(func=cmd_cite)
