"""The comparison engine: turns a claim and a regime point into a verdict.

Rules (docs/explanation.md gives the reasoning):

* identity: pass iff ``|measured - predicted| <= atol + rtol |predicted|``;
* statistical: pass iff ``|measured - predicted| <= Z * SE + atol``;
* asymptotic: pass iff ``|measured - predicted| <= Z * SE + bound + atol``, where ``bound`` is the
  claim's finite-size bound from theory, and the claim's derivation (a sympy limit) verifies;
* a non-finite estimate or SE, or an effective sample size below :data:`MIN_ESS`, is an *error*,
  which fails the check: NaN is never a pass;
* at every grid point each negative control must be *rejected* by the same rule, or the point
  fails for lack of power.

``Z`` is set by a family-wise false-failure budget: :data:`FALSE_FAILURE_BUDGET` spread by
Bonferroni over at most :data:`MAX_CHECKS` statistical comparisons in a full ledger run
(a test keeps the ledger under that count).
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

from scipy.stats import norm

from proofs_check.ledger import Claim, Kind, evaluate, get_claim
from proofs_check.seeds import canonical_params, point_rng

__all__ = [
    "ClaimResult",
    "ControlResult",
    "FALSE_FAILURE_BUDGET",
    "MAX_CHECKS",
    "MIN_ESS",
    "PointResult",
    "SymbolicResult",
    "Z",
    "check_claims",
    "check_point",
    "check_symbolic",
    "point_passes_with_power",
]

FALSE_FAILURE_BUDGET = 1e-4
MAX_CHECKS = 1000
Z = float(norm.isf(FALSE_FAILURE_BUDGET / (2 * MAX_CHECKS)))  # two-sided Bonferroni, ~5.33
MIN_ESS = 100.0

PASS, FAIL, ERROR, CITED = "pass", "fail", "error", "cited"
REJECTED, ACCEPTED, NOT_APPLICABLE = "rejected", "accepted", "n/a"


@dataclass(frozen=True)
class ControlResult:
    name: str
    predicted: float
    measured: float
    verdict: str  # rejected (good) / accepted (no power) / error
    detail: str = ""


@dataclass(frozen=True)
class PointResult:
    claim_id: str
    params: dict
    predicted: float
    measured: float
    standard_error: float
    trials: int
    ess: float | None
    z: float | None
    tolerance: float
    verdict: str
    controls: tuple[ControlResult, ...]
    seconds: float
    method: str = ""
    message: str = ""


@dataclass(frozen=True)
class SymbolicResult:
    claim_id: str
    status: str  # verified / failed / cited (a cited claim's record builds) / none
    steps: tuple[tuple[str, str], ...] = ()  # (status, why)
    seconds: float = 0.0
    message: str = ""


@dataclass
class ClaimResult:
    claim: Claim
    symbolic: SymbolicResult
    points: list[PointResult] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.symbolic.status == "failed":  # a cited claim whose record cannot be built fails too
            return FAIL
        if self.claim.kind is Kind.CITED:
            return CITED
        if any(p.verdict == ERROR for p in self.points):
            return ERROR
        if any(p.verdict != PASS for p in self.points):
            return FAIL
        return PASS

    @property
    def seconds(self) -> float:
        return self.symbolic.seconds + sum(p.seconds for p in self.points)


def _compare(claim: Claim, predicted: float, est, params) -> tuple[str, float | None, float, str]:
    """Verdict, z, tolerance and message for one estimate against one prediction."""
    if not est.finite or not math.isfinite(predicted):
        return ERROR, None, math.nan, "non-finite estimate, SE or prediction"
    if est.ess is not None and est.ess < MIN_ESS:
        return ERROR, None, math.nan, f"effective sample size {est.ess:.1f} < {MIN_ESS:g}: estimate unreliable"
    diff = abs(est.estimate - predicted)
    se = est.standard_error
    atol = claim.atol * max(1.0, abs(predicted)) if claim.kind is not Kind.IDENTITY else claim.atol
    if claim.kind is Kind.IDENTITY:
        tol = claim.atol + claim.rtol * abs(predicted)
        z = None
    else:
        tol = Z * se + atol
        if claim.kind is Kind.ASYMPTOTIC:
            tol += abs(float(claim.bound(params)))
        z = (est.estimate - predicted) / se if se > 0 else None  # exact or deterministic: no z to report
    return (PASS if diff <= tol else FAIL), z, tol, ""


def _measure(claim: Claim, params: Mapping[str, Any], *, seed: int, trials: int | None, variant=None,
             replicate: int = 0):
    rng = point_rng(seed, claim.id, params, replicate)
    kwargs = dict(params)
    kwargs.update(claim.fixed)
    if trials is not None:
        kwargs["trials"] = trials
    if variant is not None:
        kwargs["variant"] = variant
    return claim.measure(rng, **kwargs)


def check_point(claim: Claim, params: Mapping[str, Any], *, seed: int, mode: str = "default",
                trials: int | None = None, replicate: int = 0, validate: bool = True) -> PointResult:
    """Measure one regime point, compare it with theory, and run every negative control."""
    start = time.perf_counter()
    if validate:
        params = claim.validate(params)
    if trials is None and claim.trials is not None:
        trials = claim.trials[mode]
    predicted = evaluate(claim.predicted_expr(), params)
    est = _measure(claim, params, seed=seed, trials=trials, replicate=replicate)
    verdict, z, tol, message = _compare(claim, predicted, est, params)
    controls = []
    for control in claim.negative_controls:
        if control.applies_when is not None and not control.applies_when.holds(params):
            controls.append(ControlResult(control.name, math.nan, math.nan, NOT_APPLICABLE,
                                          f"applies only where {control.applies_when.text}"))
            continue
        if control.prediction is not None:
            wrong = evaluate(control.prediction(), params)
            c_verdict, _, _, detail = _compare(claim, wrong, est, params)
            measured = est.estimate
        else:
            wrong = predicted
            c_est = _measure(claim, params, seed=seed, trials=trials, variant=control.variant, replicate=replicate)
            c_verdict, _, _, detail = _compare(claim, predicted, c_est, params)
            measured = c_est.estimate
        status = {PASS: ACCEPTED, FAIL: REJECTED}.get(c_verdict, ERROR)
        controls.append(ControlResult(control.name, wrong, float(measured), status, detail))
    return PointResult(claim.id, dict(params), predicted, est.estimate, est.standard_error, est.trials, est.ess,
                       z, tol, verdict, tuple(controls), time.perf_counter() - start, est.method, message)


def check_symbolic(claim: Claim) -> SymbolicResult:
    """Verify the claim's derivation step by step."""
    start = time.perf_counter()
    try:
        checks = claim.derivation().verify()
    except Exception as exc:  # a derivation that cannot even be built is a failure, named
        return SymbolicResult(claim.id, "failed", (), time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    status = "failed" if any(c.status == "failed" for c in checks) else "verified"
    if status == "verified" and claim.kind is Kind.CITED:
        status = CITED  # a literature fact is recorded, never reported as verified
    failed = [f"step {c.index} ({c.why}): {c.detail}" for c in checks if c.status == "failed"]
    return SymbolicResult(claim.id, status, tuple((c.status, c.why) for c in checks),
                          time.perf_counter() - start, "; ".join(failed))


def point_passes_with_power(result: PointResult) -> PointResult:
    """Fail a passing point whose negative controls were not all rejected (the check had no power)."""
    weak = [c.name for c in result.controls if c.verdict not in (REJECTED, NOT_APPLICABLE)]
    if result.verdict == PASS and weak:
        from dataclasses import replace

        return replace(result, verdict=FAIL, message=f"negative control(s) not rejected: {', '.join(weak)}")
    return result


# --- running many checks -------------------------------------------------------------------------

def _task(kind: str, claim_id: str, params, seed: int, mode: str):
    claim = get_claim(claim_id)
    if kind == "symbolic":
        return check_symbolic(claim)
    return point_passes_with_power(check_point(claim, params, seed=seed, mode=mode, validate=False))


def check_claims(claims: Sequence[Claim], *, mode: str = "default", seed: int, jobs: int = 1,
                 progress: Callable[[int, int, Any], None] | None = None) -> list[ClaimResult]:
    """Check claims over their ``mode`` grids; results are in ledger order whatever ``jobs`` is."""
    tasks: list[tuple[str, str, Any]] = []
    for claim in claims:
        tasks.append(("symbolic", claim.id, None))
        if claim.kind is not Kind.CITED:
            for params in claim.grids[mode]:
                tasks.append(("point", claim.id, dict(params)))
    results: dict[tuple[str, str, str], Any] = {}
    total = len(tasks)

    def done(i, task, res):
        results[(task[0], task[1], canonical_params(task[2] or {}))] = res
        if progress is not None:
            progress(i, total, res)

    if jobs <= 1:
        for i, task in enumerate(tasks, 1):
            done(i, task, _task(task[0], task[1], task[2], seed, mode))
    else:
        import multiprocessing

        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})  # one BLAS thread per worker on 2 cores
        try:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = {pool.submit(_task, t[0], t[1], t[2], seed, mode): t for t in tasks}
                from concurrent.futures import as_completed

                for i, fut in enumerate(as_completed(futures), 1):
                    done(i, futures[fut], fut.result())
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    out = []
    for claim in claims:
        cr = ClaimResult(claim, results[("symbolic", claim.id, canonical_params({}))])
        if claim.kind is not Kind.CITED:
            cr.points = [results[("point", claim.id, canonical_params(dict(p)))] for p in claim.grids[mode]]
        out.append(cr)
    return out


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def point_to_dict(p: PointResult) -> dict:
    d = asdict(p)
    d["controls"] = [asdict(c) for c in p.controls]
    return d
