"""Calibration: rerun the ledger under many independent root seeds and measure the verdicts themselves.

Every claim in the ledger is believed true, so across reseeded runs

* a run that fails is a **spurious failure** (a true claim rejected, a control accepted by chance,
  an underpowered point), unless a claim is in fact wrong: either way it must be looked at;
* each statistical claim's z-scores should look like draws from N(0, 1): mean near 0, standard
  deviation near 1, a Kolmogorov-Smirnov test against N(0, 1) that does not reject;
* each negative control should never be accepted, and its separation from the prediction (in SEs)
  shows how much margin the plan left;
* each statistical claim's pooled z (its points judged together) should look like N(0, 1) too;
* points planned again after their planned batches (later looks) show where pilots misjudged;
* each point's resolution shows what the check could detect.

:func:`calibrate` runs the tasks (the symbolic checks once, every point once per seed) and
:func:`summarise` turns the point results into the report (schema ``amverify.calibration/1``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from concurrent.futures import Executor
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy.stats import kstest

from proofs_check.engine import (ACCEPTED, NOT_APPLICABLE, RESOLUTION_TARGET, SEPARATION, Z, ClaimResult, Progress,
                                 assemble, check_symbolic, claim_tasks, run_tasks)
from proofs_check.ledger import Claim, Kind
from proofs_check.report import format_regime, format_resolution, idle_message, package_versions

__all__ = ["SCHEMA", "Z_SD_BAND", "calibrate", "markdown", "summarise"]

SCHEMA = "amverify.calibration/1"
Z_SD_BAND = (0.85, 1.15)  # target band for each statistical claim's z standard deviation


def calibrate(claims: Sequence[Claim], *, mode: str, seeds: Sequence[int], jobs: int = 1,
              executor: Executor | None = None,
              progress: Callable[[Progress], None] | None = None) -> dict[int, list[ClaimResult]]:
    """Check ``claims`` once per root seed; returns ``{seed: claim results}`` (symbolic checks run once; the
    points on ``executor`` or ``jobs`` workers as :func:`proofs_check.engine.run_tasks` says)."""
    symbolic = {c.id: check_symbolic(c) for c in claims}
    tasks = [t for seed in seeds for t in claim_tasks(claims, mode=mode, seed=seed, symbolic=False)]
    results = run_tasks(tasks, jobs=jobs, executor=executor, progress=progress)
    runs = {}
    for seed in seeds:
        mine = [(t, r) for t, r in zip(tasks, results) if t[3] == seed]
        runs[seed] = assemble(claims, [t for t, _ in mine], [r for _, r in mine], mode=mode, symbolic=symbolic)
    return runs


def _stats(z: Sequence[float]) -> dict[str, Any]:
    z = np.asarray(z, dtype=float)
    if z.size < 2:
        return {"n": int(z.size), "mean": None, "sd": None, "ks_p": None, "max_abs": None}
    return {"n": int(z.size), "mean": float(z.mean()), "sd": float(z.std(ddof=1)),
            "ks_p": float(kstest(z, "norm").pvalue), "max_abs": float(np.max(np.abs(z)))}


def summarise(runs: Mapping[int, Sequence[ClaimResult]], *, mode: str) -> dict[str, Any]:
    """The calibration report of reseeded runs (JSON-ready)."""
    failures = []
    z_by_claim: dict[str, list[float]] = defaultdict(list)
    pooled_by_claim: dict[str, list[float]] = defaultdict(list)
    replanned: list[dict[str, Any]] = []
    controls: dict[tuple[str, str], dict[str, Any]] = {}
    points: dict[tuple[str, str], dict[str, Any]] = {}
    claims_seen: dict[str, Claim] = {}
    for seed, results in runs.items():
        for cr in results:
            claims_seen[cr.claim.id] = cr.claim
            together = cr.pooled
            if together is not None:  # pooled only where every point has a finite z
                pooled_by_claim[cr.claim.id].append(together.z)
            if cr.verdict not in ("pass", "cited"):
                bad = [(format_regime(p.params), p.message) for p in cr.points if p.verdict != "pass"]
                if together is not None and together.verdict != "pass":
                    bad.append((f"pooled, {together.points} points", together.message))
                if cr.idle_controls:
                    bad.append(("controls", idle_message(cr.idle_controls, cr.mode)))
                for regime, why in bad or [("symbolic", cr.symbolic.message)]:
                    failures.append({"seed": seed, "claim": cr.claim.id, "verdict": cr.verdict,
                                     "regime": regime, "message": why})
            for p in cr.points:
                regime = format_regime(p.params)
                if p.looks > 1:
                    replanned.append({"seed": seed, "claim": cr.claim.id, "regime": regime, "looks": p.looks})
                if cr.claim.kind is Kind.STATISTICAL and p.z is not None and math.isfinite(p.z):
                    z_by_claim[cr.claim.id].append(p.z)
                rec = points.setdefault((cr.claim.id, regime), {
                    "claim": cr.claim.id, "regime": regime, "resolution": [], "trials": [], "seconds": []})
                if p.resolution is not None:
                    rec["resolution"].append(p.resolution)
                rec["trials"].append(p.trials)
                rec["seconds"].append(p.seconds)
                for c in p.controls:
                    if c.verdict == NOT_APPLICABLE:
                        continue
                    crec = controls.setdefault((cr.claim.id, c.name), {
                        "claim": cr.claim.id, "control": c.name, "near_miss": c.near_miss, "applied": 0,
                        "accepted": 0, "min_separation": None})
                    crec["applied"] += 1
                    crec["accepted"] += c.verdict == ACCEPTED
                    if c.separation is not None:
                        m = crec["min_separation"]
                        crec["min_separation"] = c.separation if m is None else min(m, c.separation)
    claims = []
    for cid, claim in claims_seen.items():
        if claim.kind is not Kind.STATISTICAL:
            continue
        st = _stats(z_by_claim[cid])
        st["claim"] = cid
        st["in_band"] = st["sd"] is not None and Z_SD_BAND[0] <= st["sd"] <= Z_SD_BAND[1]
        st["pooled_max_abs"] = max((abs(z) for z in pooled_by_claim[cid]), default=None)
        claims.append(st)
    point_rows = []
    for rec in points.values():
        res = [r for r in rec["resolution"] if math.isfinite(r)]
        point_rows.append({"claim": rec["claim"], "regime": rec["regime"],
                           "resolution_max": max(res) if res else None,
                           "resolution_median": float(np.median(res)) if res else None,
                           "trials_median": float(np.median(rec["trials"])),
                           "seconds_median": float(np.median(rec["seconds"]))})
    all_z = [z for zs in z_by_claim.values() for z in zs]
    target = RESOLUTION_TARGET[mode]
    over = [r for r in point_rows if r["resolution_max"] is not None and r["resolution_max"] > target]
    return {
        "schema": SCHEMA,
        "mode": mode,
        "seeds": sorted(runs),
        "runs": len(runs),
        "packages": package_versions(),
        "engine": {"z": Z, "separation": SEPARATION, "resolution_target": target, "z_sd_band": list(Z_SD_BAND)},
        "spurious_failures": failures,
        "failed_runs": len({f["seed"] for f in failures}),
        "z_overall": _stats(all_z),
        "pooled_overall": _stats([z for zs in pooled_by_claim.values() for z in zs]),
        "claims": sorted(claims, key=lambda c: c["claim"]),
        "claims_outside_band": [c["claim"] for c in claims if not c["in_band"]],
        "controls": sorted(controls.values(), key=lambda c: (c["claim"], c["control"])),
        "controls_accepted": sum(c["accepted"] for c in controls.values()),
        "points": point_rows,
        "points_over_resolution_target": [f"{r['claim']} {r['regime']}" for r in over],
        "points_planned_again": replanned,
    }


def _num(x, digits=3) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def markdown(report: Mapping[str, Any]) -> str:
    """The calibration report as Markdown."""
    zo = report["z_overall"]
    lines = [
        f"# amverify calibration ({report['mode']}, {report['runs']} runs)", "",
        f"Root seeds {report['seeds'][0]}..{report['seeds'][-1]}; z = {report['engine']['z']:.3f}, control "
        f"separation {report['engine']['separation']:.2f} SE, resolution target "
        f"{format_resolution(report['engine']['resolution_target'])}."
        + (f" Command: `{report['command']}`." if report.get("command") else "")
        + (f" Git commit {report['git']['commit'][:12]}{' (with uncommitted changes)' if report['git'].get('dirty') else ''}."
           if (report.get("git") or {}).get("commit") else "")
        + (f" {report['seconds']:.0f} s." if report.get("seconds") is not None else ""), "",
        "| measure | value | target |", "|---|---|---|",
        f"| runs with a spurious failure | {report['failed_runs']} of {report['runs']} | 0 |",
        f"| controls accepted by chance | {report['controls_accepted']} | 0 |",
        f"| statistical z-scores: n, mean, sd, KS p | {zo['n']}, {_num(zo['mean'])}, {_num(zo['sd'])}, "
        f"{_num(zo['ks_p'])} | mean 0, sd 1 |",
        f"| claims with z sd outside [{Z_SD_BAND[0]}, {Z_SD_BAND[1]}] | {len(report['claims_outside_band'])} "
        f"({', '.join(report['claims_outside_band']) or 'none'}) | 0 |",
    ]
    po = report.get("pooled_overall")
    if po is not None:  # reports before the pooled check have none
        lines.append(f"| pooled z per claim and run: n, mean, sd, KS p, max abs | {po['n']}, {_num(po['mean'])}, "
                     f"{_num(po['sd'])}, {_num(po['ks_p'])}, {_num(po['max_abs'])} | mean 0, sd 1, max below "
                     f"{report['engine']['z']:.2f} |")
    lines.append(f"| points over the resolution target | {len(report['points_over_resolution_target'])} | 0 |")
    if report.get("points_planned_again") is not None:
        lines.append(f"| points planned again after their planned batches (later looks) | "
                     f"{len(report['points_planned_again'])} | - |")
    lines.append("")
    if report["spurious_failures"]:
        lines += ["## Failures", "", "| seed | claim | regime | verdict | message |", "|---|---|---|---|---|"]
        lines += [f"| {f['seed']} | `{f['claim']}` | {f['regime']} | {f['verdict']} | {f['message']} |"
                  for f in report["spurious_failures"]]
        lines.append("")
    lines += ["## z-scores per statistical claim", "",
              "| claim | n | mean | sd | KS p | max abs z | max abs pooled z |", "|---|---|---|---|---|---|---|"]
    lines += [f"| `{c['claim']}` | {c['n']} | {_num(c['mean'])} | {_num(c['sd'])} | {_num(c['ks_p'])} | "
              f"{_num(c['max_abs'])} | {_num(c.get('pooled_max_abs'))} |" for c in report["claims"]]
    lines += ["", "## Negative controls", "", "| claim | control | near miss | applied | accepted | min separation (SE) |",
              "|---|---|---|---|---|---|"]
    lines += [f"| `{c['claim']}` | {c['control']} | {'yes' if c['near_miss'] else ''} | {c['applied']} | "
              f"{c['accepted']} | {_num(c['min_separation'])} |" for c in report["controls"]]
    lines += ["", "## Points", "", "| claim | regime | resolution (max) | resolution (median) | trials (median) | "
              "seconds (median) |", "|---|---|---|---|---|---|"]
    lines += [f"| `{p['claim']}` | {p['regime']} | {format_resolution(p['resolution_max'])} | "
              f"{format_resolution(p['resolution_median'])} | {_num(p['trials_median'], 6)} | "
              f"{_num(p['seconds_median'], 2)} |" for p in report["points"]]
    return "\n".join(lines) + "\n"
