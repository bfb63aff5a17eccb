"""The ``amverify`` command line: list, show, check and eval the claims of the ledger.

Exit codes: 0 every checked claim passes; 1 a claim fails, errors or is underpowered; 2 bad usage.
More subcommands are added by modules in :mod:`proofs_check.commands`, each defining
``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import textwrap
import time
from contextlib import ExitStack, contextmanager

from proofs_check import __version__
from proofs_check.ledger import SECTIONS, DomainError, Kind, UnknownClaimError, all_claims, get_claim
from proofs_check.seeds import DEFAULT_SEED

__all__ = ["add_cache_argument", "add_executor_arguments", "add_run_arguments", "build_parser", "check_output_dir",
           "main", "run_executor", "run_mode"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input that the parser could not catch (exit code 2)."""


def _int_at_least(text: str, least: int) -> int:
    """``text`` as an integer of at least ``least`` (0 or 1); the error names the bound the option has."""
    what = "a non-negative integer" if least == 0 else "a positive integer"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _nonnegative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1)


# --- list / show ---------------------------------------------------------------------------------

def cmd_list(args) -> int:
    from proofs_check.report import render_table

    rows = [[c.id, c.kind.value, c.provenance.value, textwrap.shorten(c.statement, 90)]
            for c in all_claims(args.section)]
    print(render_table(rows, ["claim", "kind", "provenance", "statement"]))
    print(f"\n{len(rows)} claim(s)")
    return EXIT_OK


def describe_claim(c) -> str:
    """The full record of a claim, as text."""
    e = c.estimand
    lines = [
        c.id, "=" * len(c.id), "",
        c.statement, "",
        f"kind:        {c.kind.value}",
        f"provenance:  {c.provenance.value}",
        f"paper:       {c.anchor}",
        f"LaTeX:       {c.latex()}",
        "",
        "estimand",
        f"  quantity:      {e.quantity}",
        f"  distributions: {e.distributions}",
        f"  conditioning:  {e.conditioning}",
    ]
    if e.notes:
        lines.append(f"  notes:         {e.notes}")
    lines += ["", "parameters"] + [f"  {p.describe()}" for p in c.params]
    if c.constraints:
        lines += ["  constraints: " + "; ".join(k.text for k in c.constraints)]
    if c.kind is not Kind.CITED:
        lines += ["", "negative controls (each must be rejected)"]
        for n in c.negative_controls:
            how = "wrong prediction" if n.prediction is not None else f"wrong numeric route '{n.variant}'"
            where = f" [where {n.applies_when.text}]" if n.applies_when is not None else ""
            near = " [near miss]" if n.near_miss else ""
            lines.append(f"  {n.name}{near}: {n.description} ({how}){where}")
        lines += ["", "regime grids"]
        for mode, grid in c.grids.items():
            trials = (f", pilot batch of {c.trials[mode]} trials, at most {c.max_batches} batches"
                      if c.trials else "")
            lines.append(f"  {mode} ({len(grid)} points{trials}):")
            lines += [f"    {dict(g)}" for g in grid]
        numeric = getattr(c.measure, "__module__", "?") + "." + getattr(c.measure, "__name__", "?")
        lines += ["", f"numeric side:  {numeric}"]
    symbolic = getattr(c.derivation, "__module__", "?") + "." + getattr(c.derivation, "__name__", "?")
    lines += [f"symbolic side: {symbolic}"]
    from proofs_check.engine import check_symbolic
    from proofs_check.ledger import origin

    status = check_symbolic(c)
    lines += [f"symbolic:      {status.describe()}"] + [f"  on trust: {u}" for u in status.unverified]
    lines += [f"registered in: {origin(c.id)}"]
    if c.citation:
        lines += [f"citation:      {c.citation}"]
    if c.notes:
        lines += ["", c.notes]
    return "\n".join(lines)


def cmd_show(args) -> int:
    print(describe_claim(get_claim(args.id)))
    return EXIT_OK


# --- check ---------------------------------------------------------------------------------------

def _progress_printer(stream, enabled: bool):
    """A ``progress`` callback for the engine: points, derivations and batches done, elapsed time and the
    time left, on ``stream`` (stderr). A terminal gets one line redrawn; a log gets a line per finished
    point or derivation."""
    interactive = stream.isatty()
    last_draw = [0.0]

    def show(p):
        if not enabled or (p.result is None and not interactive):
            return
        now = time.perf_counter()
        final = p.points_done == p.points_total and p.symbolic_done == p.symbolic_total
        if p.result is None and now - last_draw[0] < 0.2 and not final:
            return  # a terminal is redrawn at most five times a second between finished points
        last_draw[0] = now
        counts = f"{p.points_done}/{p.points_total} points"
        if p.symbolic_total:
            counts += f", {p.symbolic_done}/{p.symbolic_total} derivations"
        counts += f", {p.batches_done}/{p.batches_total} batches"
        left = f", ~{_duration(p.remaining)} left" if p.remaining is not None and not final else ""
        msg = f"[{counts}] {p.elapsed:.1f}s{left}"
        if p.result is not None:
            verdict = getattr(p.result, "verdict", getattr(p.result, "status", ""))
            msg += f"  {getattr(p.result, 'claim_id', '')}  {verdict}"
        if interactive:
            stream.write("\r\033[K" + msg + ("\n" if final else ""))
        else:
            stream.write(msg + "\n")
        stream.flush()
    return show


def _duration(seconds: float) -> str:
    """``42s`` or ``3m05s``: a time left, to the second."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"


def select_claims(ids, sections):
    """The claims named by ``ids`` (all when empty), restricted to ``sections`` (a list; None for all).

    An empty selection is a usage error naming the ids and sections that exclude each other."""
    if isinstance(sections, str):
        sections = [sections]
    claims = [get_claim(i) for i in ids] if ids else all_claims()
    if sections:
        claims = [c for c in claims if c.section in sections]
    if not claims:
        # only a filter can empty the ledger: name both halves of it, so the clash is plain
        where = f"section {' or '.join(sections or ['(any)'])} (--section)"
        raise UsageError(f"no claims selected: none of {', '.join(ids)} is in {where}" if ids
                         else f"no claims selected: {where} has none")
    return claims


def check_output_path(path: str | None, option: str) -> None:
    """Refuse, before any work, an output file whose folder is missing or not writable (exit 2)."""
    import os

    if path is None or path == "-":
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory; give a file name")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"{option} {path!r}: {folder!r} is a file, not a folder")
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path!r} is not writable")


def check_output_dir(path: str, option: str, *, writing: bool = True) -> None:
    """Refuse, before any work, an output directory that is an existing file, or (``writing``) whose deepest
    existing folder (it is created with its missing parents) is not writable (exit 2)."""
    import os

    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is an existing file; give a directory")
    if not writing:
        return
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise UsageError(f"{option} {path!r}: {existing!r} is not a writable folder")


def prepare_run(args):
    """``(claims, mode)`` of a run from its arguments, after refusing unusable ``--json``/``--md`` paths."""
    check_output_path(args.json, "--json")
    check_output_path(args.md, "--md")
    if args.json == "-" and args.md == "-":
        raise UsageError("--json - and --md - both ask for stdout; give one of them a file")
    return select_claims(args.ids, args.section), run_mode(args)


def cmd_check(args) -> int:
    from proofs_check.engine import check_claims
    from proofs_check.report import markdown, render_table, summary_line, table_rows, to_json_dict, write_json

    claims, mode = prepare_run(args)
    started = time.perf_counter()
    with run_executor(args) as (executor, jobs):
        results = check_claims(claims, mode=mode, seed=args.seed, jobs=jobs, executor=executor,
                               progress=_progress_printer(sys.stderr, not args.quiet), latex=bool(args.json))
    # keep stdout pure JSON for '--json -', pure Markdown for '--md -'
    out = sys.stderr if "-" in (args.json, args.md) else sys.stdout
    print(render_table(table_rows(results)), file=out)
    failed = [cr.claim.id for cr in results if cr.verdict in ("fail", "error", "underpowered")]
    print("\n" + summary_line(results, mode=mode, seed=args.seed) + f"; {time.perf_counter() - started:.1f}s",
          file=out)
    if failed:
        print("failing: " + ", ".join(failed), file=out)
    if args.json:
        write_json(to_json_dict(results, seed=args.seed, mode=mode), args.json)
    if args.md == "-":
        sys.stdout.write(markdown(results, seed=args.seed, mode=mode))
    elif args.md:
        with open(args.md, "w", encoding="utf-8") as fh:
            fh.write(markdown(results, seed=args.seed, mode=mode))
    return EXIT_FAIL if failed else EXIT_OK


# --- eval ----------------------------------------------------------------------------------------

def parse_assignments(claim, pairs) -> dict:
    values = claim.default_params()
    given: set[str] = set()
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"expected name=value, got {pair!r}")
        if name not in claim.param_names:
            raise DomainError(f"{claim.id}: unknown parameter {name!r}; expected one of {list(claim.param_names)!r}")
        if name in given:
            raise UsageError(f"parameter {name!r} is given twice")
        given.add(name)
        values[name] = raw
    return claim.validate(values)


def cmd_eval(args) -> int:
    from proofs_check.engine import PASS, check_point, check_symbolic, final_verdict, point_to_dict
    from proofs_check.report import EVAL_SCHEMA, format_number, format_regime, format_resolution, json_text
    from proofs_check.uncertainty import format_pm

    claim = get_claim(args.id)
    if claim.kind is Kind.CITED:
        print(describe_claim(claim))
        print("\ncited fact: recorded, not verified")
        return EXIT_OK
    params = parse_assignments(claim, args.assignments)
    if args.trials is not None and claim.trials is None:
        raise UsageError(f"{claim.id} is not a Monte Carlo claim ({claim.kind.value}); --trials does not apply")
    from proofs_check.engine import MIN_TRIALS

    if args.trials is not None and args.trials < MIN_TRIALS:
        raise UsageError(f"--trials {args.trials} is too few: the z rule needs at least {MIN_TRIALS} trials "
                         "(below that the studentized estimate's tails are far heavier than normal)")
    symbolic = check_symbolic(claim)
    mode = run_mode(args)
    point = final_verdict(claim, check_point(claim, params, seed=args.seed, mode=mode, trials=args.trials), mode)
    if args.json:
        out = {"schema": EVAL_SCHEMA, **point_to_dict(point), "symbolic": symbolic.status, "seed": args.seed,
               "mode": mode, "latex": claim.latex()}
        print(json_text(out))
    else:
        print(f"{claim.id}  [{claim.kind.value}, {claim.provenance.value}]  {format_regime(point.params)}")
        print(f"  theory     {claim.latex()}")
        print(f"  predicted  {format_number(point.predicted, 8)}")
        se = f" (SE, {point.trials} trials"
        se += f" in {point.batches} batches" if point.batches > 1 else ""
        se += f", planned at {point.looks} looks" if point.looks > 1 else ""
        se += f", ESS {point.ess:.0f})" if point.ess is not None else ")"
        # value and SE rounded by one rule: two significant digits of the SE, the value to the same place
        print(f"  measured   {format_pm(point.measured, point.standard_error)}"
              f"{se if point.standard_error > 0 else ''}")
        print(f"  z          {format_number(point.z, 3) if point.z is not None else '-'}"
              f"   tolerance {format_number(point.tolerance, 3)}")
        if point.resolution is not None:
            print(f"  resolution {format_resolution(point.resolution)} (smallest relative error surely detected)")
        print(f"  symbolic   {symbolic.describe()}")
        print(f"  verdict    {point.verdict}{' (' + point.message + ')' if point.message else ''}")
        for c in point.controls:
            sep = f", {c.separation:.1f} SE away" if c.separation is not None else ""
            near = " [near miss]" if c.near_miss else ""
            what = c.detail if c.verdict == "n/a" else f"wrong value {format_number(c.predicted)}{sep}"
            print(f"  control    {c.name}{near}: {c.verdict} ({what})")
    return EXIT_OK if point.verdict == PASS and symbolic.status != "failed" else EXIT_FAIL


# --- parser --------------------------------------------------------------------------------------

def add_mode_arguments(p: argparse.ArgumentParser) -> None:
    """--quick / --full: the grid and resolution mode (default: the default grids, 2 % resolution)."""
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small grids, 10%% resolution target (seconds)")
    size.add_argument("--full", action="store_true", help="large grids, 2%% resolution target (minutes)")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options that select a check run: ids, --section, --quick/--full, --seed, --jobs (see run_mode)."""
    p.add_argument("ids", nargs="*", metavar="ID", help="claim ids (default: all)")
    p.add_argument("--section", choices=SECTIONS, action="append",
                   help="only claims of this section (repeat for several)")
    add_mode_arguments(p)
    p.add_argument("--seed", type=_nonnegative_int, default=DEFAULT_SEED, help=f"root seed (default {DEFAULT_SEED})")
    p.add_argument("--jobs", type=_positive_int, default=1, help="worker processes (results do not depend on it)")
    add_executor_arguments(p)


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """--executor / --scheduler: where the tasks run (the numbers are the same on every executor)."""
    p.add_argument("--executor", choices=("process", "dask"),
                   help="'process' (default): this process, or --jobs worker processes; 'dask': a dask.distributed "
                        "cluster (needs the 'distributed' extra), a local one of --jobs workers unless --scheduler")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask)")
    p.add_argument("--connect-timeout", type=_positive_float, default=10.0, metavar="SECONDS",
                   help="how long to keep trying to reach --scheduler before giving up with exit 2 (default 10)")


@contextmanager
def run_executor(args):
    """``(executor, jobs)`` for the engine from --executor, --scheduler and --jobs: ``(None, jobs)`` for this
    process or a pool of worker processes, else a dask cluster's executor and how many tasks it runs at once."""
    kind = args.executor or ("dask" if args.scheduler else "process")
    if kind == "process":
        if args.scheduler:
            raise UsageError("--scheduler needs --executor dask")
        yield None, args.jobs
        return
    from proofs_check.executors import ExecutorUnavailable, dask_executor

    with ExitStack() as stack:
        try:
            executor, slots = stack.enter_context(dask_executor(args.scheduler, workers=args.jobs,
                                                                    timeout=args.connect_timeout))
        except ExecutorUnavailable as exc:
            raise UsageError(str(exc)) from None
        yield executor, slots


def add_cache_argument(p: argparse.ArgumentParser) -> None:
    """--no-cache: verify derivations and evaluate predictions afresh (proofs_check.derivation_cache)."""
    p.add_argument("--no-cache", action="store_true",
                   help="do not read or write the derivation cache ($AMVERIFY_CACHE_DIR, else the user cache "
                        "folder); results are the same either way")


def run_mode(args) -> str:
    """The grid mode chosen by --quick / --full."""
    return "quick" if args.quick else "full" if args.full else "default"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amverify",
        description="Check the claims of 'Understanding Transformer from the Perspective of Associative "
                    "Memory' (arXiv 2505.19488): sympy derivations cross-checked by Monte Carlo.",
        epilog="Exit codes: 0 all checked claims pass, 1 a claim fails, errors or is underpowered, 2 bad usage. "
               "Start with 'amverify list', then 'amverify check --quick'.",
    )
    parser.add_argument("--version", action="version", version=f"amverify {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list claim ids, provenance and statements")
    p.add_argument("--section", choices=SECTIONS, help="only this section")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one claim's full record")
    p.add_argument("id", help="claim id, e.g. capacity.linear.inverse_snr_ratio")
    add_cache_argument(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("check", help="check claims over their regime grids",
                       description="Run claims over their regime grids and print predicted vs measured "
                                   "with SE, z and verdict. Exit 0 only when every claim passes.")
    add_run_arguments(p)
    p.add_argument("--json", metavar="PATH", help="write the JSON report (amverify.report/1); '-' for stdout")
    p.add_argument("--md", metavar="PATH", help="write a Markdown summary; '-' for stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_cache_argument(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("eval", help="evaluate one claim at your own parameters",
                       description="Evaluate one claim at chosen parameters, e.g. "
                                   "'amverify eval capacity.linear.inverse_snr_ratio N=300 d_k=48'. "
                                   "Unset parameters take the first default regime point. The verdict follows "
                                   "the same power rule as check: a control that is not rejected fails the "
                                   "point, and one the trials cannot separate makes it underpowered.")
    p.add_argument("id", help="claim id")
    p.add_argument("assignments", nargs="*", metavar="name=value", help="parameter values")
    p.add_argument("--trials", type=_positive_int,
                   help="Monte Carlo trials in one batch, no plan (default: planned from a pilot batch, as in check)")
    add_mode_arguments(p)
    p.add_argument("--seed", type=_nonnegative_int, default=DEFAULT_SEED, help=f"root seed (default {DEFAULT_SEED})")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_cache_argument(p)
    p.set_defaults(func=cmd_eval)

    import proofs_check.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "jobs", 1) > 1 and getattr(args, "executor", None) in (None, "process") \
            and not getattr(args, "scheduler", None):
        from proofs_check.executors import start_pool_server

        start_pool_server()  # its imports run while this process loads the claims
    try:
        if getattr(args, "no_cache", False):
            from proofs_check.derivation_cache import disabled

            with disabled():
                return args.func(args)
        return args.func(args)
    except (DomainError, UnknownClaimError, UsageError) as exc:
        print(f"amverify {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
