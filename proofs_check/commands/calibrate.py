"""``amverify calibrate``: rerun the ledger under independent root seeds and report how the verdicts behave.

Reports spurious failures, each statistical claim's z mean, standard deviation and KS p-value,
each negative control's acceptance count and smallest separation, and each point's resolution,
as JSON (``--json``, schema ``amverify.calibration/1``) and Markdown (``--md``, or stdout).
Exit 0 when no run failed, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import sys
import time

__all__ = ["cmd_calibrate", "register"]


def cmd_calibrate(args) -> int:
    from proofs_check.calibration import calibrate, markdown, summarise
    from proofs_check.cli import EXIT_FAIL, EXIT_OK, _progress_printer, prepare_run, run_executor
    from proofs_check.report import git_commit, write_json

    claims, mode = prepare_run(args)
    seeds = list(range(args.first_seed, args.first_seed + args.runs))
    commit = git_commit()  # of the code that runs, read before the run
    started = time.perf_counter()
    with run_executor(args) as (executor, jobs):
        runs = calibrate(claims, mode=mode, seeds=seeds, jobs=jobs, executor=executor,
                         progress=_progress_printer(sys.stderr, not args.quiet))
    report = summarise(runs, mode=mode)
    report["seconds"] = time.perf_counter() - started
    report["git"] = commit
    report["command"] = "amverify " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["calibrate"] else None
    text = markdown(report)
    if args.json:
        write_json(report, args.json)
    if args.md:
        with open(args.md, "w", encoding="utf-8") as fh:
            fh.write(text)
    if not args.md or args.json == "-":
        (sys.stderr if args.json == "-" else sys.stdout).write(text)
    print(f"{args.runs} run(s) in {report['seconds']:.0f}s: {report['failed_runs']} with a failure, "
          f"{report['controls_accepted']} control(s) accepted", file=sys.stderr)
    return EXIT_FAIL if report["failed_runs"] else EXIT_OK


def register(subparsers) -> None:
    from proofs_check.cli import (_nonnegative_int, _positive_int, add_cache_argument, add_executor_arguments,
                                  add_mode_arguments)
    from proofs_check.ledger import SECTIONS

    p = subparsers.add_parser(
        "calibrate", help="rerun the ledger under many root seeds and measure spurious failures and z-scores",
        description="Rerun the checks under --runs independent root seeds (first-seed, first-seed + 1, ...) "
                    "and report spurious failures, each statistical claim's z mean, sd and KS p-value against "
                    "N(0, 1), each control's acceptance count and separation, and each point's resolution. "
                    "Exit 1 when any run failed.")
    p.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    p.add_argument("--section", choices=SECTIONS, action="append", help="only this section (repeatable)")
    add_mode_arguments(p)
    p.add_argument("--runs", type=_positive_int, required=True, help="number of reseeded runs")
    p.add_argument("--first-seed", type=_nonnegative_int, default=1, help="root seed of the first run (default 1)")
    p.add_argument("--jobs", type=_positive_int, default=1, help="worker processes (results do not depend on it)")
    add_executor_arguments(p)
    p.add_argument("--json", metavar="PATH", help="write the JSON report (amverify.calibration/1); '-' for stdout")
    p.add_argument("--md", metavar="PATH", help="write the Markdown report (default: print it)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_cache_argument(p)
    p.set_defaults(func=cmd_calibrate)
