"""``amverify figures``: write the capacity figures (SNR^{-1} vs N per kernel, capacity vs d_k) as PNG and PDF."""

from __future__ import annotations

import sys

from proofs_check.seeds import DEFAULT_SEED

EXIT_OK, EXIT_USAGE = 0, 2


def cmd_figures(args) -> int:
    from proofs_check.cli import check_output_dir
    from proofs_check.figures import MatplotlibMissing, write_figures

    check_output_dir(args.out, "--out")  # before the Monte Carlo points are computed
    mode = "full" if args.full else "quick"
    try:
        paths = write_figures(args.out, seed=args.seed, mode=mode)
    except MatplotlibMissing as exc:
        print(f"amverify figures: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in paths:
        print(path)
    return EXIT_OK


def register(subparsers) -> None:
    from proofs_check.cli import _nonnegative_int

    p = subparsers.add_parser("figures", help="write capacity figures (needs matplotlib)",
                              description="Write SNR^{-1}-vs-N curves per kernel and capacity-vs-d_k on a log "
                                          "scale (theory lines, Monte Carlo points with error bars) as PNG and PDF "
                                          "(TrueType fonts). Needs the 'plot' extra (matplotlib); exits 2 without "
                                          "it.")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    p.add_argument("--seed", type=_nonnegative_int, default=DEFAULT_SEED, help=f"root seed (default {DEFAULT_SEED})")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="few Monte Carlo points (default)")
    size.add_argument("--full", action="store_true", help="more Monte Carlo points and trials")
    p.set_defaults(func=cmd_figures)
