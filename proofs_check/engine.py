"""The comparison engine: turns a claim and a regime point into a verdict.

Rules (docs/explanation.md gives the reasoning):

* identity: pass iff ``|measured - predicted| <= atol + rtol |predicted|``;
* statistical: pass iff ``|measured - predicted| <= Z * SE + atol``;
* asymptotic: pass iff ``|measured - predicted| <= Z * SE + bound + atol``, where ``measured`` is the
  numeric side's extrapolation to the limit and ``bound`` a finite-size bound from theory derived
  without the prediction; the claim's derivation (a sympy limit) verifies;
* a non-finite estimate or SE, an effective sample size below :data:`MIN_ESS`, or a statistical or
  asymptotic estimate with standard error 0 (a "simulation" that re-evaluates a closed form) is an
  *error*, which fails the check: NaN is never a pass;
* at every grid point each applicable negative control must be *rejected* by the same rule, or the
  point fails for lack of power. A control whose wrong value equals the prediction at that point
  (a slip that changes nothing there) is not applicable.

Power is planned, never hoped for. ``Z`` and the power margin are both set by one family-wise
budget: :data:`FALSE_FAILURE_BUDGET` spread by Bonferroni over at most :data:`MAX_CHECKS`
comparisons per run, where a comparison is a point's check *or* one of its controls. A true claim
fails a comparison either when its estimate lands more than ``Z`` SEs from the truth (two-sided
probability :data:`ALPHA`) or when a control is accepted by chance; a control sitting ``s`` SEs
from the prediction is accepted with probability about ``Phi(Z - s)``, which is below ``ALPHA`` once
``s >= SEPARATION = Z + Phi^{-1}(1 - ALPHA)`` (about 10.5).

A Monte Carlo point is therefore planned in two stages (in the manner of Stein's two-stage
procedure): a pilot batch of ``claim.trials[mode]`` trials estimates the per-trial spread; the
plan then takes the number of batches that puts every applicable control at least
``SEPARATION`` SEs (inflated by :data:`PLAN_INFLATION` for the pilot's own error) from the
prediction and brings the point's resolution within :data:`RESOLUTION_TARGET` for the mode. Every
batch has its own random stream (:func:`proofs_check.seeds.batch_rng`) and the batches merge by
concatenation, so the result depends only on the seed and the plan. A control's wrong numeric
route draws from the same batch streams as the main route (common random numbers). A control that cannot be
separated within ``claim.max_batches`` batches makes the point *underpowered*: a verdict of its
own, naming the control and the trials it would need, that fails the run; so is a point whose final
resolution misses the mode's target (a bound or tolerance too wide to catch a wrong constant). The
plan reads only the
pilot's spread (and, for a route control, its pilot distance from the prediction), never the
main estimate's z.

A point's **resolution** is the smallest relative error of the prediction the check is sure (at
the same budget) to detect: ``(SEPARATION * SE + bound + atol) / |predicted|``.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from scipy.stats import norm

from numerics.estimate import Estimate, MonteCarlo, merge_columns, rows
from proofs_check.derivation_cache import default_cache
from proofs_check.ledger import Claim, Kind, NegativeControl, evaluate, get_claim
from proofs_check.seeds import batch_rng, canonical_params, point_rng

__all__ = [
    "ALPHA",
    "ClaimResult",
    "ControlResult",
    "FALSE_FAILURE_BUDGET",
    "MAX_CHECKS",
    "MIN_ESS",
    "MIN_TRIALS",
    "PLAN_INFLATION",
    "PointResult",
    "RESOLUTION_TARGET",
    "SEPARATION",
    "SymbolicResult",
    "Z",
    "assemble",
    "check_claims",
    "check_point",
    "claim_tasks",
    "check_symbolic",
    "near_miss_required",
    "point_passes_with_power",
    "run_tasks",
    "symbolic_status",
]

FALSE_FAILURE_BUDGET = 1e-4
MAX_CHECKS = 1000
ALPHA = FALSE_FAILURE_BUDGET / MAX_CHECKS  # per comparison (a point's check or one control)
Z = float(norm.isf(ALPHA / 2))  # two-sided Bonferroni, ~5.33
SEPARATION = Z + float(norm.isf(ALPHA))  # a control this many SEs away is accepted with probability < ALPHA
PLAN_INFLATION = 1.25  # the pilot's SE is scaled up by this before planning (its own sampling error)
RESOLUTION_TARGET = {"quick": 0.10, "default": 0.02, "full": 0.02}
MIN_ESS = 100.0
# The z rule treats the studentized estimate as normal; with n trials it is closer to Student's t with
# n - 1 degrees of freedom, whose two-sided tail beyond Z is 4e-5 at n = 20, 6e-7 at n = 100 and 1.2e-7
# (ALPHA) only near n = 1000. No Monte Carlo batch (and no pilot) is smaller than MIN_TRIALS.
MIN_TRIALS = 100

PASS, FAIL, ERROR, CITED, UNDERPOWERED = "pass", "fail", "error", "cited", "underpowered"
REJECTED, ACCEPTED, NOT_APPLICABLE, INCONSISTENT = "rejected", "accepted", "n/a", "inconsistent"
VERIFIED, PARTIAL, FAILED = "verified", "partial", "failed"


@dataclass(frozen=True)
class ControlResult:
    name: str
    predicted: float
    measured: float
    verdict: str  # rejected (good) / accepted (no power) / error / n/a
    detail: str = ""
    separation: float | None = None  # |wrong - predicted| in SEs (after any fixed tolerance); None if exact
    near_miss: bool = False


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
    resolution: float | None = None  # smallest relative error surely detected (statistical/asymptotic)
    batches: int = 0  # Monte Carlo batches run (0: a single deterministic or unplanned computation)
    trials_needed: int | None = None  # what the plan asked for (may exceed the cap: underpowered)


@dataclass(frozen=True)
class SymbolicResult:
    claim_id: str
    status: str  # verified / partial / failed / cited (a cited claim's record builds) / none
    steps: tuple[tuple[str, str], ...] = ()  # (status, why)
    seconds: float = 0.0
    message: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """Steps by status: verified, assumed, cited, failed."""
        out = {"verified": 0, "assumed": 0, "cited": 0, "failed": 0}
        for status, _ in self.steps:
            out[status] = out.get(status, 0) + 1
        return out

    @property
    def unverified(self) -> tuple[str, ...]:
        """The justifications of the steps taken on trust (assumed or cited), in order."""
        return tuple(f"{status}: {why}" for status, why in self.steps if status in ("assumed", "cited"))

    def describe(self) -> str:
        """``verified``, ``partial (5 verified, 1 cited)`` and so on: the status with its counts."""
        if self.status not in (PARTIAL, CITED) or not self.steps:
            return self.status
        c = self.counts
        parts = [f"{c[k]} {k}" for k in ("verified", "assumed", "cited") if c[k]]
        return f"{self.status} ({', '.join(parts)})"


@dataclass
class ClaimResult:
    claim: Claim
    symbolic: SymbolicResult
    points: list[PointResult] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.symbolic.status == FAILED:  # a cited claim whose record cannot be built fails too
            return FAIL
        if self.claim.kind is Kind.CITED:
            return CITED
        if any(p.verdict == ERROR for p in self.points):
            return ERROR
        if any(p.verdict == FAIL for p in self.points):
            return FAIL
        if any(p.verdict == UNDERPOWERED for p in self.points):
            return UNDERPOWERED
        return PASS

    @property
    def seconds(self) -> float:
        return self.symbolic.seconds + sum(p.seconds for p in self.points)


# --- one comparison ------------------------------------------------------------------------------

def _fixed_tolerance(claim: Claim, predicted: float, params) -> float:
    """The part of a statistical/asymptotic tolerance that does not shrink with trials: atol and bound."""
    tol = claim.atol * max(1.0, abs(predicted))
    if claim.kind is Kind.ASYMPTOTIC:
        tol += abs(float(claim.bound(params)))
    return tol


def _compare(claim: Claim, predicted: float, est: Estimate, params) -> tuple[str, float | None, float, str]:
    """Verdict, z, tolerance and message for one estimate against one prediction."""
    if not est.finite or not math.isfinite(predicted):
        return ERROR, None, math.nan, "non-finite estimate, SE or prediction"
    if est.ess is not None and est.ess < MIN_ESS:
        return ERROR, None, math.nan, f"effective sample size {est.ess:.1f} < {MIN_ESS:g}: estimate unreliable"
    if claim.kind is not Kind.IDENTITY and not est.standard_error > 0:
        return ERROR, None, math.nan, ("standard error 0: a statistical estimate without sampling variance "
                                       "re-evaluates a closed form instead of simulating it")
    diff = abs(est.estimate - predicted)
    se = est.standard_error
    if claim.kind is Kind.IDENTITY:
        tol = claim.atol + claim.rtol * abs(predicted)
        z = None
    else:
        tol = Z * se + _fixed_tolerance(claim, predicted, params)
        z = (est.estimate - predicted) / se if se > 0 else None  # exact or deterministic: no z to report
    return (PASS if diff <= tol else FAIL), z, tol, ""


def _measure(claim: Claim, params: Mapping[str, Any], rng, *, trials: int | None, variant=None):
    kwargs = dict(params)
    kwargs.update(claim.fixed)
    if trials is not None:
        kwargs["trials"] = trials
    if variant is not None:
        kwargs["variant"] = variant
    return claim.measure(rng, **kwargs)


def _kwargs(claim: Claim, params, variant=None) -> dict:
    kwargs = dict(params)
    kwargs.update(claim.fixed)
    if variant is not None:
        kwargs["variant"] = variant
    return kwargs


def _same_value(a: float, b: float) -> bool:
    """Equal up to float rounding, relative to the values (predictions can be 1e-12 and smaller)."""
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b)) or a == b


def _separation(gap: float, se: float) -> float | None:
    if se <= 0:
        return None
    return gap / se


# --- planned Monte Carlo -------------------------------------------------------------------------

class _Route:
    """One Monte Carlo route of a point (the main route or a control's wrong route): its batches so far."""

    def __init__(self, claim: Claim, params, seed: int, replicate: int, batch_size: int, variant=None):
        self.claim, self.params, self.seed, self.replicate = claim, params, seed, replicate
        self.batch_size, self.variant = batch_size, variant
        self.kwargs = _kwargs(claim, params, variant)
        self.batches: list[Mapping] = []

    def run(self, n_batches: int) -> None:
        while len(self.batches) < n_batches:
            b = len(self.batches)
            rng = batch_rng(self.seed, self.claim.id, self.params, b, self.replicate)
            self.batches.append(self.claim.measure.simulate(rng, trials=self.batch_size, **self.kwargs))

    def estimate(self) -> Estimate:
        return self.claim.measure.reduce(merge_columns(self.batches), **self.kwargs)

    @property
    def trials(self) -> int:
        return sum(rows(b) for b in self.batches)


def _trials_for(se_pilot: float, n_pilot: int, gap: float) -> float:
    """Trials that bring ``SEPARATION * SE`` down to ``gap``, the SE scaled as 1/sqrt(trials) from the pilot."""
    if se_pilot <= 0:
        return 0.0
    if gap <= 0 or not math.isfinite(gap):
        return math.inf
    return n_pilot * (SEPARATION * PLAN_INFLATION * se_pilot / gap) ** 2


def _planned_point(claim: Claim, params, predicted: float, controls, paired=(), *, seed: int, mode: str,
                   trials: int | None, replicate: int):
    """Run a Monte Carlo point by its plan; returns the main estimate, control estimates and plan facts.

    ``controls`` are the applicable (control, wrong value) pairs; ``paired`` the prediction controls
    whose route realises their slip (run alongside, not planned: their check is agreement)."""
    batch_size = trials if trials is not None else claim.trials[mode]
    fixed = _fixed_tolerance(claim, predicted, params)
    main = _Route(claim, params, seed, replicate, batch_size)
    main.run(1)
    pilot = main.estimate()
    routes = {c.name: _Route(claim, params, seed, replicate, batch_size, c.variant)
              for c, wrong in controls if c.variant is not None}
    routes.update({c.name: _Route(claim, params, seed, replicate, batch_size, c.route) for c, wrong in paired})
    for r in routes.values():
        r.run(1)
    needs: dict[str, float] = {}
    if pilot.finite:
        target = RESOLUTION_TARGET[mode] * abs(predicted) - fixed
        needs["resolution"] = _trials_for(pilot.standard_error, main.trials, target)
        for c, wrong in controls:
            if c.variant is None:
                needs[c.name] = _trials_for(pilot.standard_error, main.trials, abs(wrong - predicted) - fixed)
            else:
                est_c = routes[c.name].estimate()
                if est_c.finite:
                    needs[c.name] = _trials_for(est_c.standard_error, routes[c.name].trials,
                                                abs(est_c.estimate - predicted) - fixed)
    cap = claim.max_batches * batch_size
    needed = max([batch_size] + [n for n in needs.values()])
    short = [name for name, n in needs.items() if n > cap and name != "resolution"]
    if trials is not None:  # a fixed trial count (amverify eval --trials): one batch, no plan
        n_batches = 1
        short = [name for name, n in needs.items() if n > batch_size and name != "resolution"]
    else:
        n_batches = int(min(claim.max_batches, max(1, math.ceil(min(needed, cap) / batch_size))))
    if not short:
        main.run(n_batches)
        for r in routes.values():
            r.run(n_batches)
    estimates = {name: r.estimate() for name, r in routes.items()}
    needed_int = None if not math.isfinite(needed) else int(math.ceil(needed))
    return main.estimate(), estimates, len(main.batches), needed_int, short, needs


def check_point(claim: Claim, params: Mapping[str, Any], *, seed: int, mode: str = "default",
                trials: int | None = None, replicate: int = 0, validate: bool = True) -> PointResult:
    """Measure one regime point (by its plan, for Monte Carlo claims), compare it with theory, and
    run every applicable negative control.

    Parameters outside the claim's domain raise :class:`proofs_check.ledger.DomainError`; any other
    exception raised while measuring or evaluating is the point's *error* verdict, with the
    exception named, so one broken claim does not stop a run.
    """
    start = time.perf_counter()
    if validate:
        params = claim.validate(params)
    try:
        return _check_point(claim, params, seed=seed, mode=mode, trials=trials, replicate=replicate, start=start)
    except Exception as exc:  # noqa: BLE001 - reported as the point's verdict, never swallowed silently
        return PointResult(claim.id, dict(params), math.nan, math.nan, math.nan, 0, None, None, math.nan, ERROR, (),
                           time.perf_counter() - start, "", f"{type(exc).__name__}: {exc}")


def _check_point(claim: Claim, params: Mapping[str, Any], *, seed: int, mode: str, trials: int | None,
                 replicate: int, start: float) -> PointResult:
    # predictions (and where controls apply) are pure functions of the claim code: kept between runs
    store = default_cache()
    memo = store.predictions(claim, params, code=(evaluate,)) if store is not None else None
    remembered = memo.value if memo is not None else (lambda name, compute: compute())
    predicted = remembered("", lambda: evaluate(claim.predicted_expr(), params))
    if claim.bound is not None:  # an asymptotic claim's finite-size bound (theory-side too): kept likewise
        bound = remembered("bound", lambda: float(claim.bound(params)))
        claim = replace(claim, bound=lambda _params, _value=bound: _value)
    applicable: list[tuple[NegativeControl, float]] = []
    paired: list[tuple[NegativeControl, float]] = []  # wrong formulas checked against their own routes
    skipped: dict[str, ControlResult] = {}
    for control in claim.negative_controls:
        if control.applies_when is not None and not remembered(
                f"applies_when {control.name}", lambda: float(control.applies_when.holds(params))):
            skipped[control.name] = ControlResult(control.name, math.nan, math.nan, NOT_APPLICABLE,
                                                  f"applies only where {control.applies_when.text}",
                                                  near_miss=control.near_miss)
            continue
        if control.prediction is not None:
            wrong = remembered(control.name, lambda: evaluate(control.prediction(), params))
            if control.route is not None:
                paired.append((control, wrong))
            if _same_value(wrong, predicted):
                skipped[control.name] = ControlResult(control.name, wrong, math.nan, NOT_APPLICABLE,
                                                      "equals the prediction at this point",
                                                      near_miss=control.near_miss)
                continue
        else:
            wrong = predicted
        applicable.append((control, wrong))
    if memo is not None:
        memo.save()

    planned = isinstance(claim.measure, MonteCarlo) and claim.kind is not Kind.IDENTITY
    n_batches, needed, short, route_est = 0, None, [], {}
    if planned:
        est, route_est, n_batches, needed, short, needs = _planned_point(
            claim, params, predicted, applicable, paired, seed=seed, mode=mode, trials=trials,
            replicate=replicate)
    else:
        if trials is None and claim.trials is not None:
            trials = claim.trials[mode]
        est = _measure(claim, params, point_rng(seed, claim.id, params, replicate), trials=trials)
        route_est = {c.name: _measure(claim, params, point_rng(seed, claim.id, params, replicate), trials=trials,
                                      variant=c.route) for c, _ in paired}
    verdict, z, tol, message = _compare(claim, predicted, est, params)
    fixed = _fixed_tolerance(claim, predicted, params) if claim.kind is not Kind.IDENTITY else 0.0

    results = {}
    for control, wrong in applicable:
        if control.prediction is not None:
            c_verdict, _, _, detail = _compare(claim, wrong, est, params)
            measured, sep = est.estimate, _separation(abs(wrong - predicted) - fixed, est.standard_error)
        else:
            if planned:
                c_est = route_est[control.name]
            else:
                c_est = _measure(claim, params, point_rng(seed, claim.id, params, replicate), trials=trials,
                                 variant=control.variant)
            c_verdict, _, _, detail = _compare(claim, predicted, c_est, params)
            measured = c_est.estimate
            sep = _separation(abs(c_est.estimate - predicted) - fixed, c_est.standard_error) \
                if c_est.finite else None
        status = {PASS: ACCEPTED, FAIL: REJECTED}.get(c_verdict, ERROR)
        results[control.name] = ControlResult(control.name, wrong, float(measured), status, detail, sep,
                                              control.near_miss)
    results.update(skipped)
    for control, wrong in paired:
        # the control's wrong formula must be what its own route measures, or the formula is wrong
        r_est = route_est[control.name]
        agree, _, _, detail = _compare(claim, wrong, r_est, params)
        if agree != PASS:
            why = detail or (f"its route '{control.route}' measures {r_est.estimate:.6g} ± {r_est.standard_error:.2g}, "
                             f"not the formula's {wrong:.6g}")
            results[control.name] = ControlResult(control.name, wrong, float(r_est.estimate),
                                                  ERROR if agree == ERROR else INCONSISTENT, why,
                                                  results[control.name].separation, control.near_miss)
    controls = tuple(results[c.name] for c in claim.negative_controls)

    if not planned and claim.kind is not Kind.IDENTITY:
        # an unplanned statistical point (a numeric side that is not a MonteCarlo): its power is judged
        # after the fact, by the same separation the plan would have asked for
        short = [c.name for c in controls if c.separation is not None and c.separation < SEPARATION]
        needs = {c.name: (est.trials * (SEPARATION / c.separation) ** 2 if c.separation > 0 else math.inf)
                 for c in controls if c.name in short}
    resolution = None
    if claim.kind is not Kind.IDENTITY and est.finite and predicted != 0:
        resolution = (SEPARATION * est.standard_error + fixed) / abs(predicted)
    target = RESOLUTION_TARGET[mode]
    missed_target = (planned and trials is None and resolution is not None and verdict == PASS
                     and not short and resolution > target)
    if (short or missed_target) and verdict == PASS:
        # underpowered means: the claim agreed, but a control could not be decided or the check could not
        # reach the resolution its mode promises (a bound or tolerance too wide to catch a wrong constant)
        verdict = UNDERPOWERED
        if not planned:
            limit = f" with {est.trials} trials (unplanned numeric side)"
        elif trials is not None:
            limit = f" with {trials} trials"
        else:
            limit = f" within the cap of {claim.max_batches} x {claim.trials[mode]} trials"
        if short:
            message = "cannot separate " + ", ".join(
                f"{name} (needs {_fmt_trials(needs[name])} trials)" for name in short) + limit
        else:
            message = (f"resolution {100 * resolution:.2g}% misses the {100 * target:.2g}% target "
                       f"(needs {_fmt_trials(needs.get('resolution', math.inf))} trials){limit}")
    return PointResult(claim.id, dict(params), predicted, est.estimate, est.standard_error, est.trials, est.ess,
                       z, tol, verdict, controls, time.perf_counter() - start, est.method, message, resolution,
                       n_batches, needed)


def _fmt_trials(n: float) -> str:
    return "unbounded" if not math.isfinite(n) else f"{int(math.ceil(n)):,}"


def symbolic_status(kind: Kind, checks) -> str:
    """``verified`` only when every step verified in sympy; ``partial`` when a step is assumed or cited
    (and none failed); ``failed`` when one failed; ``cited`` for a literature fact whose record builds."""
    if any(c.status == "failed" for c in checks):
        return FAILED
    if kind is Kind.CITED:
        return CITED  # a literature fact is recorded, never reported as verified
    return VERIFIED if all(c.status == "verified" for c in checks) else PARTIAL


def check_symbolic(claim: Claim, *, cache="default") -> SymbolicResult:
    """Verify the claim's derivation step by step (status as in :func:`symbolic_status`).

    A result computed before from the same code is read from the derivation cache instead
    (:mod:`proofs_check.derivation_cache`; ``cache="default"`` is the user's, ``None`` none); it is the
    fresh result in every field but ``seconds``, which is the time the lookup took."""
    start = time.perf_counter()
    store = default_cache() if cache == "default" else cache
    key = store.symbolic_key(claim, code=(check_symbolic, _verify_symbolic, symbolic_status)) \
        if store is not None else None
    record = store.load(key) if key is not None else None
    if record is not None:
        return SymbolicResult(claim.id, record["status"], tuple((s, w) for s, w in record["steps"]),
                              time.perf_counter() - start, record["message"])
    result = _verify_symbolic(claim, start)
    if key is not None and result.steps:  # a derivation that could not be built is never kept
        store.save(key, {"status": result.status, "steps": [list(s) for s in result.steps],
                         "message": result.message})
    return result


def _verify_symbolic(claim: Claim, start: float) -> SymbolicResult:
    try:
        checks = claim.derivation().verify()
    except Exception as exc:  # a derivation that cannot even be built is a failure, named
        return SymbolicResult(claim.id, FAILED, (), time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    status = symbolic_status(claim.kind, checks)
    failed = [f"step {c.index} ({c.why}): {c.detail}" for c in checks if c.status == "failed"]
    return SymbolicResult(claim.id, status, tuple((c.status, c.why) for c in checks),
                          time.perf_counter() - start, "; ".join(failed))


def point_passes_with_power(result: PointResult) -> PointResult:
    """Fail a passing point whose negative controls were not all rejected (the check had no power), or
    whose paired control's formula disagrees with its own route (the control itself is wrong)."""
    wrong = [f"{c.name} ({c.detail})" for c in result.controls if c.verdict == INCONSISTENT]
    weak = [c.name for c in result.controls if c.verdict not in (REJECTED, NOT_APPLICABLE, INCONSISTENT)]
    if result.verdict != PASS or not (weak or wrong):
        return result
    parts = ([f"negative control(s) not rejected: {', '.join(weak)}"] if weak else []) + \
        ([f"control formula(s) disagree with their routes: {'; '.join(wrong)}"] if wrong else [])
    return replace(result, verdict=FAIL, message="; ".join(parts))


# --- running many checks -------------------------------------------------------------------------

def near_miss_required(claim: Claim, result: PointResult, mode: str) -> PointResult:
    """At a default-grid point a statistical or asymptotic claim must have a near-miss control in play.

    A passing point where every near-miss control is ``n/a`` (not resolvable there, or collapsed onto
    the prediction) is *underpowered*: the check could not tell the claim from its most plausible
    slip. Quick and full grids may hold points beyond any near miss (N = 10^6), so only the default
    run enforces it.
    """
    if (mode != "default" or result.verdict != PASS or claim.kind not in (Kind.STATISTICAL, Kind.ASYMPTOTIC)
            or not any(c.near_miss for c in claim.negative_controls)):
        return result
    if any(c.near_miss and c.verdict != NOT_APPLICABLE for c in result.controls):
        return result
    return replace(result, verdict=UNDERPOWERED, message="no near-miss control applies at this default point")


def _task(kind: str, claim_id: str, params, seed: int, mode: str):
    claim = get_claim(claim_id)
    if kind == "symbolic":
        return check_symbolic(claim)
    point = point_passes_with_power(check_point(claim, params, seed=seed, mode=mode, validate=False))
    return near_miss_required(claim, point, mode)


def run_tasks(tasks: Sequence[tuple], *, jobs: int = 1,
              progress: Callable[[int, int, Any], None] | None = None) -> list:
    """Run ``_task(*t)`` for every task tuple ``(kind, claim_id, params, seed, mode)``; results in task order.

    With ``jobs > 1`` the tasks go to a pool of spawned processes, each pinned to one BLAS thread
    (the machines have 2 cores); a task's result depends only on its tuple, never on the worker.
    """
    results: list = [None] * len(tasks)
    total = len(tasks)
    if jobs <= 1:
        for i, task in enumerate(tasks):
            results[i] = _task(*task)
            if progress is not None:
                progress(i + 1, total, results[i])
        return results
    import multiprocessing
    from concurrent.futures import as_completed

    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})  # one BLAS thread per worker on 2 cores
    try:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_task, *t): i for i, t in enumerate(tasks)}
            for n, fut in enumerate(as_completed(futures), 1):
                i = futures[fut]
                results[i] = fut.result()
                if progress is not None:
                    progress(n, total, results[i])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return results


def claim_tasks(claims: Sequence[Claim], *, mode: str, seed: int, symbolic: bool = True) -> list[tuple]:
    """The task tuples of one run: each claim's symbolic check, then its ``mode`` grid points."""
    tasks: list[tuple] = []
    for claim in claims:
        if symbolic:
            tasks.append(("symbolic", claim.id, None, seed, mode))
        if claim.kind is not Kind.CITED:
            tasks += [("point", claim.id, dict(params), seed, mode) for params in claim.grids[mode]]
    return tasks


def assemble(claims: Sequence[Claim], tasks: Sequence[tuple], results: Sequence, *, mode: str,
             symbolic: Mapping[str, SymbolicResult] | None = None) -> list[ClaimResult]:
    """Claim results in ledger order from task results (``symbolic`` supplies checks run elsewhere)."""
    by_key = {(t[0], t[1], canonical_params(t[2] or {})): r for t, r in zip(tasks, results)}
    out = []
    for claim in claims:
        sym = symbolic[claim.id] if symbolic is not None else by_key[("symbolic", claim.id, canonical_params({}))]
        cr = ClaimResult(claim, sym)
        if claim.kind is not Kind.CITED:
            cr.points = [by_key[("point", claim.id, canonical_params(dict(p)))] for p in claim.grids[mode]]
        out.append(cr)
    return out


def check_claims(claims: Sequence[Claim], *, mode: str = "default", seed: int, jobs: int = 1,
                 progress: Callable[[int, int, Any], None] | None = None) -> list[ClaimResult]:
    """Check claims over their ``mode`` grids; results are in ledger order whatever ``jobs`` is."""
    tasks = claim_tasks(claims, mode=mode, seed=seed)
    return assemble(claims, tasks, run_tasks(tasks, jobs=jobs, progress=progress), mode=mode)


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def point_to_dict(p: PointResult) -> dict:
    d = asdict(p)
    d["controls"] = [asdict(c) for c in p.controls]
    return d
