"""Mutation testing: does the ledger kill plausible bugs in the code it checks?

Run from the repository root:

    python3 bench/mutation.py                    # every mutant of bench/mutants.py, default mode
    python3 bench/mutation.py --list             # the catalogue
    python3 bench/mutation.py --validate         # every mutant applies to the current tree (no runs)
    python3 bench/mutation.py --only ID [ID ...] --jobs 2 --json out.json --md out.md
    python3 bench/mutation.py --catalogue section  # the section engineers' own mutants instead
    python3 bench/mutation.py --catalogue audit    # the fresh-eye audit's mutants

The default catalogue (:data:`mutants.MUTANTS`) was written by an independent review from ``theory/``,
``numerics/`` and the paper notes before its author read the claims or tests; it is the measure of
the ledger. :data:`mutants.SECTION_MUTANTS` holds mutants written by the engineers who hardened a
section, knowing its checks; :data:`mutants.AUDIT_MUTANTS` those of a later fresh-eye audit, written
before reading either catalogue.

Each mutant of the catalogue (:data:`mutants.MUTANTS`) replaces one exact snippet of one file of
``theory/`` or ``numerics/``, or of a claim's registration in ``proofs_check/claims/`` (a bound, a grid;
the snippet must occur exactly once). For each mutant, one at a time,
the script copies the tracked files of the repository into a scratch directory, applies the
mutant there, and runs ``python -m proofs_check check`` in default mode on the claims that can
reach the mutated file. A mutant is **killed** when that run exits non-zero (a claim fails, errs or
is underpowered), and the report names the claims that failed.

Which claims can reach a file is read from the static import graph: a claim registered in
``proofs_check/claims/<m>.py`` can run the code of every repository module that ``<m>`` imports,
directly or through other repository modules. Claims that cannot reach the mutated file would
produce exactly the unmutated results, so leaving them out changes no verdict, only the time.
The unmutated baseline of the same claims must pass first, or the mutant is not run.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def tracked_files(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def module_path(name: str, root: Path) -> Path | None:
    parts = name.split(".")
    for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
        if candidate.exists():
            return candidate
    return None


def imports_of(path: Path, root: Path) -> set[Path]:
    """Repository modules imported by the module at ``path`` (absolute imports only, as the suite uses)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[Path] = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            p = module_path(n, root)
            if p is not None and p != path:
                found.add(p)
    return found


def reach(path: Path, root: Path) -> set[Path]:
    """Every repository module reachable from ``path`` through imports (including itself)."""
    seen, todo = {path}, [path]
    while todo:
        for nxt in imports_of(todo.pop(), root):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def claim_modules_reaching(target: Path, root: Path) -> list[str]:
    """Names of the ``proofs_check.claims`` modules whose import closure contains ``target``."""
    out = []
    for p in sorted((root / "proofs_check" / "claims").glob("*.py")):
        if p.name != "__init__.py" and target.resolve() in {q.resolve() for q in reach(p, root)}:
            out.append(p.stem)
    return out


CLAIM_IDS_BY_MODULE = (
    "import json, sys\n"
    "from proofs_check.ledger import all_claims, origin\n"
    "mods = {'proofs_check.claims.' + m for m in sys.argv[1:]}\n"
    "print(json.dumps([c.id for c in all_claims() if origin(c.id) in mods]))\n"
)


def claims_of_modules(modules: list[str], workdir: Path) -> list[str]:
    """Claim ids registered by the given claims modules, asked of the ledger of ``workdir``."""
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", CLAIM_IDS_BY_MODULE, *modules], cwd=workdir, env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def run_check(workdir: Path, ids: list[str], jobs: int, out_json: Path, timeout: int, mode: str
              ) -> tuple[int, dict | None, float]:
    """Run ``check`` on ``ids`` in ``workdir``; returns (exit code, JSON report or None, seconds)."""
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "proofs_check", "check", "-q", "--jobs", str(jobs), "--json", str(out_json), *ids]
    if mode != "default":
        cmd.append(f"--{mode}")
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        return -1, None, time.perf_counter() - start
    seconds = time.perf_counter() - start
    report = None
    if out_json.exists():
        try:
            report = json.loads(out_json.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            report = None
    return code, report, seconds


def failing_claims(report: dict | None) -> list[str]:
    if not report:
        return []
    return [c["id"] for c in report.get("claims", []) if c.get("verdict") not in ("pass", "cited")]


def copy_tree(root: Path, dest: Path) -> None:
    for rel in tracked_files(root):
        src = root / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def apply(mutant, workdir: Path) -> None:
    path = workdir / mutant.file
    text = path.read_text(encoding="utf-8")
    count = text.count(mutant.old)
    if count != 1:
        raise ValueError(f"mutant {mutant.id}: snippet occurs {count} times in {mutant.file} (need exactly 1)")
    path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


def validate(mutants, root: Path) -> list[str]:
    problems = []
    for m in mutants:
        if not m.file.startswith(("theory/", "numerics/", "proofs_check/claims/")):
            problems.append(f"{m.id}: {m.file} is not in theory/, numerics/ or proofs_check/claims/")
            continue
        path = root / m.file
        if not path.exists():
            problems.append(f"{m.id}: no file {m.file}")
            continue
        n = path.read_text(encoding="utf-8").count(m.old)
        if n != 1:
            problems.append(f"{m.id}: snippet occurs {n} times in {m.file}")
        if m.old == m.new:
            problems.append(f"{m.id}: the mutant changes nothing")
    ids = [m.id for m in mutants]
    problems += [f"duplicate id {i}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    return problems


def markdown(results: list[dict], mode: str) -> str:
    killed = [r for r in results if r["status"] == "killed"]
    survived = [r for r in results if r["status"] == "survived"]
    lines = [f"# Mutation testing ({mode} mode)", "",
             f"{len(killed)} of {len(results)} mutants killed by the ledger "
             f"({100 * len(killed) / max(1, len(results)):.1f} %); {len(survived)} survived.", "",
             "| mutant | file | section | kind | status | killed by | seconds |", "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| `{r['id']}` | {r['file']} | {r['section']} | {r['kind']} | {r['status']} | "
                     f"{', '.join(r['killed_by']) or '-'} | {r['seconds']:.0f} |")
    if survived:
        lines += ["", "## Survivors", ""]
        lines += [f"* `{r['id']}` ({r['file']}): {r['description']}. Why it survives: {r['survives_because'] or 'not yet explained'}"
                  for r in survived]
    return "\n".join(lines) + "\n"


def main() -> int:
    from mutants import AUDIT_MUTANTS, MUTANTS, SECTION_MUTANTS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--catalogue", choices=("review", "section", "audit"), default="review",
                   help="the independent review's catalogue (default), the section engineers' mutants, or the "
                        "fresh-eye audit's")
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    p.add_argument("--section", help="run only the mutants of this section of the paper")
    p.add_argument("--list", action="store_true", help="list the catalogue and exit")
    p.add_argument("--validate", action="store_true", help="check that every mutant applies, then exit")
    p.add_argument("--mode", choices=("quick", "default", "full"), default="default")
    p.add_argument("--jobs", type=int, default=2, help="worker processes of each ledger run")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per ledger run")
    p.add_argument("--json", help="write the results as JSON")
    p.add_argument("--md", help="write the results as Markdown")
    args = p.parse_args()
    mutants = list({"review": MUTANTS, "section": SECTION_MUTANTS, "audit": AUDIT_MUTANTS}[args.catalogue])
    if args.only:
        unknown = sorted(set(args.only) - {m.id for m in mutants})
        if unknown:
            p.error(f"unknown mutant id(s) {unknown}")
        mutants = [m for m in mutants if m.id in args.only]
    if args.section:
        mutants = [m for m in mutants if m.section == args.section]
    if args.list:
        for m in mutants:
            print(f"{m.id:45s} {m.section:12s} {m.kind:18s} {m.file}: {m.description}")
        print(f"\n{len(mutants)} mutant(s)")
        return 0
    problems = validate(mutants, ROOT)
    if problems:
        print("catalogue problems:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    if args.validate:
        print(f"{len(mutants)} mutant(s) apply cleanly")
        return 0
    results = []
    baselines: dict[tuple[str, ...], bool] = {}
    with tempfile.TemporaryDirectory(prefix="amverify-mutants-") as tmp:
        base = Path(tmp) / "base"
        copy_tree(ROOT, base)
        for i, m in enumerate(mutants, 1):
            modules = claim_modules_reaching(base / m.file, base)
            ids = claims_of_modules(modules, base)
            key = tuple(ids)
            if key not in baselines:
                code, report, secs = run_check(base, ids, args.jobs, Path(tmp) / "baseline.json", args.timeout,
                                               args.mode)
                baselines[key] = code == 0
                print(f"baseline of {len(ids)} claim(s): exit {code} in {secs:.0f}s "
                      f"{failing_claims(report) or ''}", file=sys.stderr)
            work = Path(tmp) / f"m{i}"
            shutil.copytree(base, work)
            apply(m, work)
            if not baselines[key]:
                status, code, report, secs = "baseline fails", None, None, 0.0
            else:
                code, report, secs = run_check(work, ids, args.jobs, Path(tmp) / f"m{i}.json", args.timeout, args.mode)
                status = "killed" if code != 0 else "survived"
            shutil.rmtree(work)
            killed_by = failing_claims(report)
            results.append({"id": m.id, "file": m.file, "section": m.section, "kind": m.kind,
                            "description": m.description, "survives_because": m.survives_because,
                            "status": status, "exit": code, "killed_by": killed_by, "claims_run": len(ids),
                            "seconds": secs})
            print(f"[{i}/{len(mutants)}] {m.id}: {status} {killed_by[:4]} ({secs:.0f}s)", file=sys.stderr)
    killed = sum(r["status"] == "killed" for r in results)
    print(f"{killed}/{len(results)} killed ({100 * killed / max(1, len(results)):.1f} %)")
    if args.json:
        Path(args.json).write_text(json.dumps({"mode": args.mode, "catalogue": args.catalogue, "results": results},
                                              indent=2, allow_nan=False) + "\n")
    if args.md:
        Path(args.md).write_text(markdown(results, args.mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
