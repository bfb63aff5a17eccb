"""Measure the wall time of the commands the documentation quotes, and write docs/reference/timings.md.

The README, the tutorial and the topic pages cite this generated page instead of typing seconds by
hand, so a quoted time always names the machine, the load and the commit it was measured on. Each
command runs once, as a fresh process (start-up, imports and sympy included), in a scratch folder,
exactly as a reader would type it; its exit code is recorded beside its time. The page also keeps
the first rows of the default run's table, which the README shows as sample output.

Run from the repository root (about ten minutes on 2 cores; the machine should be otherwise idle,
and the load average at the start and the end is recorded so a busy run can be told apart):

    python3 bench/doc_timings.py                 # everything, writes docs/reference/timings.md
                                                 # (after every command: a stopped run keeps what it measured)
    python3 bench/doc_timings.py --no-tests      # without the test-suite run (saves ~2-3 min)
    python3 bench/doc_timings.py --out -         # print the page instead of writing it
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reference" / "timings.md"
SECTIONS = ("basics", "capacity", "ffn", "update", "expressivity", "context")
SAMPLE_ROWS = ("capacity.linear.inverse_snr_ratio", "capacity.linear.paper_limit")

# (label, argv after 'amverify'); the report runs get a fresh output folder in the scratch directory.
# Cheapest first: the page is rewritten after every command, so an interrupted run still leaves the
# commands it finished (and says which are missing).
RUNS = (
    ("tutorial: one claim, quick", ["check", "capacity.linear.inverse_snr_ratio", "--quick"]),
    ("README: one claim, default", ["check", "capacity.linear.inverse_snr_ratio"]),
    ("quick check of every claim", ["check", "--quick"]),
    ("default check of every claim", ["check"]),
    ("default check, two processes", ["check", "--jobs", "2"]),
    *((f"section {s}, {mode}", ["check", "--section", s] + (["--quick"] if mode == "quick" else []))
      for s in SECTIONS for mode in ("quick", "default")),
    ("report, quick", ["report", "--out", "report-quick", "--quick"]),
    ("report, default", ["report", "--out", "report-default", "--seed", "20250526"]),
    ("full check, two processes", ["check", "--full", "--jobs", "2"]),
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _adopt_orphans() -> bool:
    """Make this process the subreaper of its descendants (Linux ``PR_SET_CHILD_SUBREAPER``): a ``--jobs``
    run's pool workers are children of its fork server, which the command leaves running as it exits, so
    their CPU time reaches ``RUSAGE_CHILDREN`` only if the orphaned server comes back to us to be reaped.
    False where the platform has no such call (CPU times of parallel runs then miss the workers)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # 36: PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap_orphans(deadline: float = 30.0) -> None:
    """Wait for every descendant the finished command left behind (its fork server ends once it sees the
    command gone), so their CPU time is counted."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def run(argv: list[str], cwd: str, env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (the process and its workers), exit code and stdout of ``argv`` in ``cwd``.
    The wall time stops when the command exits; the CPU time includes the workers it left to be reaped."""
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seconds = time.perf_counter() - start
    _reap_orphans()
    return seconds, _children_cpu() - cpu, done.returncode, done.stdout


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "git commit": commit,
        "cores": str(os.cpu_count()),
        "processor": cpu,
        "python": platform.python_version(),
        "packages": ", ".join(f"{p} {version(p)}" for p in ("numpy", "scipy", "sympy")),
        "BLAS threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset (OpenBLAS default)"),
    }


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


WARM_LABEL, WARM_COMMAND = "default check of every claim, derivation cache warm", "amverify check"
TESTS_LABEL, TESTS_COMMAND = "test suite (README's command: default, not slow)", "python -m pytest -n auto"


def measure(tests: bool, write) -> None:
    """Run every command, calling ``write(page text)`` after each one."""
    amverify = [sys.executable, "-m", "proofs_check"]
    facts = machine()
    if not _adopt_orphans():
        facts["CPU time"] = "without the workers of --jobs runs (no PR_SET_CHILD_SUBREAPER here)"
    facts["load average at start (1/5/15 min)"] = load()
    planned = [(label, "amverify " + " ".join(argv)) for label, argv in RUNS] + [(WARM_LABEL, WARM_COMMAND)]
    if tests:
        planned.append((TESTS_LABEL, TESTS_COMMAND))
    rows, sample = [], []

    def record(label, cmd, result):
        seconds, cpu, code, _ = result
        rows.append((label, cmd, seconds, cpu, code))
        print(f"{seconds:7.1f} s  {cpu:7.1f} s CPU  exit {code}  {cmd}", file=sys.stderr)
        facts["load average at end (1/5/15 min)"] = load()
        write(page(rows, sample, facts, [p for p in planned if p[0] not in {r[0] for r in rows}]))

    with tempfile.TemporaryDirectory(prefix="amverify-timings-") as scratch:
        for i, (label, argv) in enumerate(RUNS):
            # a first run: its own empty derivation cache, so the sympy derivations are timed too
            env = dict(os.environ, AMVERIFY_CACHE_DIR=os.path.join(scratch, f"cache-{i}"))
            result = run(amverify + argv, scratch, env)
            if argv == ["check"]:
                lines = result[3].splitlines()
                sample = lines[:1] + [line for line in lines if line.split(" ", 1)[0] in SAMPLE_ROWS]
                warm_env = env
            record(label, "amverify " + " ".join(argv), result)
        record(WARM_LABEL, WARM_COMMAND, run(amverify + ["check"], scratch, warm_env))
        if tests:
            record(TESTS_LABEL, TESTS_COMMAND,
                   run([sys.executable, "-m", "pytest", "-n", "auto", "-q", "-p", "no:cacheprovider"], str(ROOT)))


def page(rows, sample, facts, missing=()) -> str:
    lines = [
        "<!-- generated by bench/doc_timings.py; do not edit: python3 bench/doc_timings.py -->",
        "# Timings of the documented commands",
        "",
        "Wall time of each command as a fresh process and a first run (start-up, imports and the sympy "
        "derivations included: each command starts with an empty derivation cache; the one row marked "
        "warm reruns the default check with the cache its first run wrote, as a second run does), "
        "measured once by `python3 bench/doc_timings.py` on the machine below, and the CPU "
        "time of the process and its workers. When the load average exceeds the cores, other processes "
        "share them and the wall times run long; the CPU time barely moves, and on an idle machine a "
        "one-process run takes about its CPU time (`--jobs 2` about half of it). Results do not depend "
        "on `--jobs`; only the time does. A non-zero exit code is a failure of that command, recorded "
        "as it happened.",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in facts.items()]
    lines += ["", "| what | command | wall time | CPU time | exit code |", "|---|---|---|---|---|"]
    lines += [f"| {label} | `{cmd}` | {seconds:.1f} s | {cpu:.1f} s | {code} |"
              for label, cmd, seconds, cpu, code in rows]
    if missing:
        lines += ["", "Not measured in this run (it was stopped before them): "
                  + ", ".join(f"`{cmd}`" for _, cmd in missing) + "."]
    if sample:
        lines += ["", "## Sample output", "",
                  "The default run's rows (`amverify check`) of the claims in the README's sample, as printed: "
                  "the same numbers as `amverify check capacity.linear.inverse_snr_ratio` there, whatever else runs.",
                  "", "```", *sample, "```"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(PAGE), help=f"output page, '-' for stdout (default {PAGE.relative_to(ROOT)})")
    parser.add_argument("--no-tests", action="store_true", help="skip timing the test suite")
    args = parser.parse_args(argv)
    final = []

    def write(text: str) -> None:
        final[:] = [text]
        if args.out != "-":
            Path(args.out).write_text(text, encoding="utf-8")
    measure(not args.no_tests, write)
    if args.out == "-":
        print(final[0], end="")
    else:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
