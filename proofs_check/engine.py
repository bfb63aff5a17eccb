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

A Monte Carlo point is therefore planned in stages (in the manner of Stein's two-stage
procedure): a pilot batch of ``claim.trials[mode]`` trials estimates the per-trial spread; the
plan then takes the number of batches that puts every applicable control at least
``SEPARATION`` SEs (inflated by :data:`PLAN_INFLATION` for the pilot's own error) from the
prediction and brings the point's resolution within :data:`RESOLUTION_TARGET` for the mode. Every
batch has its own random stream (:func:`proofs_check.seeds.batch_rng`) and the batches merge by
concatenation, so the result depends only on the seed and the plan. A control's wrong numeric
route draws from the same batch streams as the main route (common random numbers); routes whose
simulator computes them from one set of draws (``MonteCarlo.shared_variants``) run as one group,
one computation per batch, with each route's columns exactly those of its own call. A control that cannot be
separated within ``claim.max_batches`` batches makes the point *underpowered*: a verdict of its
own, naming the control and the trials it would need, that fails the run; so is a point whose final
resolution misses the mode's target (a bound or tolerance too wide to catch a wrong constant).

The pilot's plan can fall short: its SE is itself an estimate, and a route control's distance from
the prediction is as noisy as the route (a route 0.5 off with sd 6, planned from a 100-trial pilot,
was accepted by chance in 38 of 200 seeds). After the planned batches the point is looked at again,
up to :data:`LOOKS` times in all: any control still short of ``SEPARATION`` SEs, or a resolution
still missing its target, is planned anew from every batch so far (the same route then: 0 of 200
accepted, none short of ``SEPARATION``). A plan reads only SEs and the controls' distances from the
prediction, not the main estimate's z (a route control's distance shares the main route's noise,
though, as :func:`_look_again` says).

A point's **resolution** is the smallest relative error of the prediction the check is sure (at
the same budget) to detect: ``(SEPARATION * SE + bound + atol) / |predicted|``.

Scheduling never changes a number. :func:`check_point` runs a point in one process;
:func:`run_tasks` runs the same steps (prediction, pilot, later batches in chunks, merge in batch
order, comparison) as tasks on any :class:`concurrent.futures.Executor`, with the same result.
"""

from __future__ import annotations

import heapq
import math
import time
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from scipy.special import ndtri  # the normal quantile; scipy.stats (0.4 s to import) is not needed here

from numerics.estimate import Estimate, MonteCarlo, merge_columns, rows
from proofs_check.derivation_cache import DerivationCache, default_cache
from proofs_check.executors import (InlineExecutor, blas_one_thread, one_blas_thread, process_pool,
                                    thread_settings_kept)
from proofs_check.ledger import Claim, Kind, evaluate, get_claim
from proofs_check.seeds import batch_rng, canonical_params, point_rng

__all__ = [
    "ALPHA",
    "ClaimResult",
    "ControlResult",
    "FALSE_FAILURE_BUDGET",
    "MAX_CHECKS",
    "MIN_ESS",
    "LOOKS",
    "MIN_TRIALS",
    "PLAN_INFLATION",
    "PointResult",
    "PooledResult",
    "Progress",
    "RESOLUTION_TARGET",
    "SEPARATION",
    "SymbolicResult",
    "Z",
    "assemble",
    "check_claims",
    "check_point",
    "claim_tasks",
    "check_symbolic",
    "final_verdict",
    "is_pooled",
    "near_miss_required",
    "point_passes_with_power",
    "pooled",
    "run_tasks",
    "symbolic_status",
]

FALSE_FAILURE_BUDGET = 1e-4
MAX_CHECKS = 1000
ALPHA = FALSE_FAILURE_BUDGET / MAX_CHECKS  # per comparison (a point's check or one control)
Z = float(-ndtri(ALPHA / 2))  # two-sided Bonferroni, ~5.33 (scipy's norm.isf(q) is -ndtri(q))
SEPARATION = Z + float(-ndtri(ALPHA))  # a control this many SEs away is accepted with probability < ALPHA
PLAN_INFLATION = 1.25  # the pilot's SE is scaled up by this before planning (its own sampling error)
LOOKS = 3  # looks at the data that may plan a point's batches: the pilot's and at most two more (_look_again)
PILOT_DOUBT = 4.0  # a control the pilot finds this far beyond the cap's reach (its SE 2x too large) is short at once
RESOLUTION_TARGET = {"quick": 0.10, "default": 0.02, "full": 0.02}
MIN_ESS = 100.0
# A statistical estimate's SE at most this fraction of the estimate is the spread of rounding, not of draws:
# every trial gave the closed form (a zero-variance proposal, a tilt of 1). The ledger's smallest is 1e-4.
ROUNDING_SE = 1e-12
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
    task_seconds: tuple[float, ...] = ()  # each task of the point as scheduled: its pilot, then its batch chunks
    looks: int = 0  # looks at the data that planned its batches (1: the pilot's plan; 0: no plan)


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


@dataclass(frozen=True)
class PooledResult:
    """A statistical claim's points taken together (:func:`pooled`): the Stouffer z of their z-scores, the
    tolerance it is held to, the smallest relative error common to every point that it surely detects,
    and its verdict."""

    points: int
    z: float
    tolerance: float
    resolution: float | None
    verdict: str
    message: str = ""


def is_pooled(claim: Claim, points: int) -> bool:
    """Whether a claim with this many points is also judged together (:func:`pooled`): a statistical
    claim with two or more."""
    return claim.kind is Kind.STATISTICAL and points >= 2


def pooled(claim: Claim, points: Sequence[PointResult]) -> PooledResult | None:
    """The points of a statistical claim judged together: ``Z_pool = sum(s_i z_i) / sqrt(k)``, ``s_i`` the
    sign of the point's prediction (so a formula off by one factor moves every term the same way).

    Each point is held to ``Z`` SEs on its own, so a slip that moves every point the same way by less
    than a point's resolution passes them all (an ``m - 1`` divisor for ``m`` in a mean of 256 draws:
    z from 1.6 to 3.8 at the 5 points of ``capacity.exp.inverse_snr_conditional``, pooled 5.84). The
    points draw from independent streams, so for a true claim (its estimate centred on the prediction)
    ``Z_pool`` is a standard normal like each z; it is held to the same ``Z``, widened by the points'
    fixed tolerances (``atol``) in SE units, and counts as one more comparison in the false-failure
    budget. Its resolution is the smallest common factor error, a prediction ``(1 + r)`` times the truth
    at every point, that it detects with the controls' certainty:
    ``(SEPARATION sqrt(k) + sum(fixed_i / SE_i)) / sum(|predicted_i| / SE_i)``. (Summed plainly, the
    z of predictions of both signs would cancel such an error; no claim has one today.)

    Only statistical claims with at least two points, every one with a finite z and SE, are pooled: an
    asymptotic claim's estimate may sit anywhere within its finite-size bound, so its z is not centred.
    """
    if not is_pooled(claim, len(points)):
        return None
    if not all(p.z is not None and math.isfinite(p.z) and math.isfinite(p.standard_error)
               and p.standard_error > 0 and math.isfinite(p.tolerance) for p in points):
        return None
    k = len(points)
    z = sum(math.copysign(1.0, p.predicted) * p.z for p in points) / math.sqrt(k)
    allowance = sum(max(p.tolerance - Z * p.standard_error, 0.0) / p.standard_error for p in points)
    tolerance = Z + allowance / math.sqrt(k)
    scale = sum(abs(p.predicted) / p.standard_error for p in points)
    resolution = (SEPARATION * math.sqrt(k) + allowance) / scale if scale > 0 else None
    if abs(z) <= tolerance:
        return PooledResult(k, z, tolerance, resolution, PASS)
    if all(p.predicted >= 0 for p in points):
        side = "above" if z > 0 else "below"
    elif all(p.predicted <= 0 for p in points):
        side = "below" if z > 0 else "above"
    else:
        side = "further from zero than" if z > 0 else "nearer zero than"
    return PooledResult(k, z, tolerance, resolution, FAIL,
                        f"its {k} points together sit {side} the prediction: pooled z {z:.2f} beyond {tolerance:.2f}")


def idle_controls(claim: Claim, points: Sequence[PointResult]) -> list[str]:
    """The claim's declared negative controls that are ``n/a`` at every one of ``points`` (its grid in a
    mode): a control that applies nowhere cannot fail, so it shows no power, and a claim with one is
    underpowered. It happens when a slip makes a control's prediction the claim's own (the engine sets
    a control equal to the prediction aside as ``n/a``) or moves the grid or a condition so that the
    control never applies. Every control of the ledger applies at some point of every mode's grid."""
    if claim.kind is Kind.CITED or not points:
        return []
    used = {c.name for p in points for c in p.controls if c.verdict != NOT_APPLICABLE}
    return [c.name for c in claim.negative_controls if c.name not in used]


@dataclass
class ClaimResult:
    claim: Claim
    symbolic: SymbolicResult
    points: list[PointResult] = field(default_factory=list)
    latex: str | None = None  # the claim's statement in LaTeX when the run rendered it (Claim.latex otherwise)
    mode: str | None = None  # the mode whose whole grid ``points`` holds (a run of check), None otherwise

    @property
    def idle_controls(self) -> list[str]:
        """The declared controls that applied at no point of the claim's grid (:func:`idle_controls`)."""
        return idle_controls(self.claim, self.points) if self.mode is not None else []

    def statement_latex(self) -> str:
        """The claim's statement in LaTeX: as the run's worker rendered it, else rendered here."""
        return self.latex if self.latex is not None else self.claim.latex()

    @property
    def pooled(self) -> PooledResult | None:
        """The claim's points judged together (:func:`pooled`), or None where that does not apply."""
        return pooled(self.claim, self.points)

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
        together = self.pooled
        if together is not None and together.verdict == FAIL:
            return FAIL
        if any(p.verdict == UNDERPOWERED for p in self.points) or self.idle_controls:
            return UNDERPOWERED
        return PASS

    @property
    def seconds(self) -> float:
        return self.symbolic.seconds + sum(p.seconds for p in self.points)


# --- one comparison ------------------------------------------------------------------------------

def _fixed_tolerance(claim: Claim, predicted: float, params, bound: float | None = None) -> float:
    """The part of a statistical/asymptotic tolerance that does not shrink with trials: atol and bound
    (``bound``: the asymptotic claim's finite-size bound at ``params`` when already evaluated)."""
    tol = claim.atol * max(1.0, abs(predicted))
    if claim.kind is Kind.ASYMPTOTIC:
        tol += abs(float(claim.bound(params) if bound is None else bound))
    return tol


def _compare(claim: Claim, predicted: float, est: Estimate, params,
             bound: float | None = None) -> tuple[str, float | None, float, str]:
    """Verdict, z, tolerance and message for one estimate against one prediction."""
    if not est.finite or not math.isfinite(predicted):
        return ERROR, None, math.nan, "non-finite estimate, SE or prediction"
    if est.ess is not None and est.ess < MIN_ESS:
        return ERROR, None, math.nan, f"effective sample size {est.ess:.1f} < {MIN_ESS:g}: estimate unreliable"
    if claim.kind is not Kind.IDENTITY and not est.standard_error > ROUNDING_SE * abs(est.estimate):
        return ERROR, None, math.nan, (f"standard error {est.standard_error:.3g}, 0 to rounding: a statistical "
                                       "estimate without sampling variance re-evaluates a closed form instead of "
                                       "simulating it")
    diff = abs(est.estimate - predicted)
    se = est.standard_error
    if claim.kind is Kind.IDENTITY:
        tol = claim.atol + claim.rtol * abs(predicted)
        z = None
    else:
        tol = Z * se + _fixed_tolerance(claim, predicted, params, bound)
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
#
# A point runs in four steps, which the scheduler (run_tasks) may place on different workers:
# _prepare (prediction and applicable controls), _pilot (one batch of every route, then the plan),
# _group_batches (any range of further batches of one group of routes, each batch from its own stream)
# and _conclude (merge every route's batches in batch order, reduce, compare). check_point runs them
# in sequence.

@dataclass(frozen=True)
class _Setup:
    """A point's prediction and its controls, by name: those in play, those paired with a route, those n/a."""

    predicted: float
    applicable: tuple[tuple[str, float], ...]  # (control name, wrong value) of each applicable control
    paired: tuple[tuple[str, float], ...]  # prediction controls whose route realises their slip
    skipped: dict[str, ControlResult]
    bound: float | None = None  # an asymptotic claim's finite-size bound at the point


def _prepare(claim: Claim, params, *, cache="default") -> _Setup:
    """The point's prediction, its controls' wrong values and where they apply, and the asymptotic bound:
    pure functions of the claim's code, so kept between runs in the derivation cache (``cache`` as in
    :func:`check_symbolic`)."""
    store = default_cache() if cache == "default" else cache
    # the key covers the code that computes the values: this function, the prediction's expression, its evaluation
    memo = store.predictions(claim, params, code=(_prepare, Claim.predicted_expr, evaluate)) \
        if store is not None else None
    remembered = memo.value if memo is not None else (lambda name, compute: compute())
    predicted = remembered("", lambda: evaluate(claim.predicted_expr(), params))
    bound = None
    if claim.bound is not None and claim.kind is Kind.ASYMPTOTIC:
        bound = remembered("bound", lambda: float(claim.bound(params)))
    applicable: list[tuple[str, float]] = []
    paired: list[tuple[str, float]] = []  # wrong formulas checked against their own routes
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
                paired.append((control.name, wrong))
            if _same_value(wrong, predicted):
                skipped[control.name] = ControlResult(control.name, wrong, math.nan, NOT_APPLICABLE,
                                                      "equals the prediction at this point",
                                                      near_miss=control.near_miss)
                continue
        else:
            wrong = predicted
        applicable.append((control.name, wrong))
    if memo is not None:
        memo.save()
    return _Setup(predicted, tuple(applicable), tuple(paired), skipped, bound)


def _is_planned(claim: Claim) -> bool:
    return isinstance(claim.measure, MonteCarlo) and claim.kind is not Kind.IDENTITY


Group = tuple  # ((route key, variant), ...): routes computed from one set of draws


def _route_groups(claim: Claim, routes: Mapping[str | None, str | None]) -> list[Group]:
    """The routes of a point in groups computed together: the main route with every route whose variant its
    simulator shares (:attr:`numerics.estimate.MonteCarlo.shared_variants`), then each other route alone.

    >>> from numerics.estimate import MonteCarlo
    >>> claim = type("C", (), {"measure": MonteCarlo(None, None, {"abs"})})()
    >>> _route_groups(claim, {None: None, "abs_kernel": "abs", "other": "wide"})
    [((None, None), ('abs_kernel', 'abs')), (('other', 'wide'),)]
    """
    shared = claim.measure.shared_variants
    main = tuple((key, v) for key, v in routes.items() if v is None or v in shared)
    return [main] + [((key, v),) for key, v in routes.items() if not (v is None or v in shared)]


def _group_batches(claim: Claim, params, group: Group, *, seed: int, replicate: int, batch_size: int, start: int,
                   stop: int) -> dict[str | None, list[Mapping]]:
    """Each route's columns of batches ``start .. stop - 1`` of a group (:func:`_route_groups`): one call of the
    simulator per batch for all its routes, each batch from its own stream. A route's columns are those its
    own ``simulate`` call gives it (the simulator's contract), so grouping changes no number."""
    variants = tuple(dict.fromkeys(v for _, v in group))  # distinct, in order (two controls may share a route)
    kwargs = _kwargs(claim, params)
    out: dict[str | None, list[Mapping]] = {key: [] for key, _ in group}
    for b in range(start, stop):
        columns = dict(zip(variants, claim.measure.simulate_routes(batch_rng(seed, claim.id, params, b, replicate),
                                                                   trials=batch_size, variants=variants, **kwargs)))
        for key, v in group:
            out[key].append(columns[v])
    return out


@dataclass
class _Plan:
    """A planned point after its pilot: its routes, their batches so far, and how many batches each runs.

    ``routes`` maps a route's key (``None`` for the main route, else the control's name) to the
    variant its simulation takes; ``groups`` partitions them into the groups computed from one set of
    draws (:func:`_route_groups`); ``columns`` holds each route's batches in batch order."""

    batch_size: int
    routes: dict[str | None, str | None]
    columns: dict[str | None, list[Mapping]]
    n_batches: int
    needed: int | None
    short: list[str]
    needs: dict[str, float]
    batch_seconds: dict[str | None, float] = field(default_factory=dict)  # each group's pilot batch (by its first key)
    groups: list[Group] = field(default_factory=list)
    fixed: bool = False  # a fixed trial count (eval --trials): no plan, so no later look
    looks: int = 1  # looks at the data that planned batches: the pilot's, then each of _look_again's that grew it
    reduced: dict = field(default_factory=dict)  # (route key, batches) -> Estimate: each merge reduced once

    @property
    def complete(self) -> bool:
        """Every route has all the batches the plan runs (the pilot alone when the point is short)."""
        return bool(self.short) or all(len(c) >= self.n_batches for c in self.columns.values())

    @property
    def batches_run(self) -> int:
        return len(self.columns[None])

    def trials(self, key) -> int:
        return sum(rows(b) for b in self.columns[key])

    def later_seconds(self) -> float:
        """Seconds that every group's batches still to run should take, by each group's timed pilot batch."""
        return sum((self.n_batches - self.batches_run) * self.batch_seconds.get(group[0][0], 0.0)
                   for group in self.groups)

    def estimate(self, claim: Claim, params, key) -> Estimate:
        """The route's estimate from its batches so far (reduced once per number of batches: columns only grow)."""
        memo = (key, len(self.columns[key]))
        if memo not in self.reduced:
            self.reduced[memo] = claim.measure.reduce(merge_columns(self.columns[key]),
                                                      **_kwargs(claim, params, self.routes[key]))
        return self.reduced[memo]


def _trials_for(se_pilot: float, n_pilot: int, gap: float) -> float:
    """Trials that bring ``SEPARATION * SE`` down to ``gap``, the SE scaled as 1/sqrt(trials) from the pilot."""
    if se_pilot <= 0:
        return 0.0
    if gap <= 0 or not math.isfinite(gap):
        return math.inf
    return n_pilot * (SEPARATION * PLAN_INFLATION * se_pilot / gap) ** 2


def _cap(claim: Claim, batch_size: int) -> int:
    """The most trials a point of ``claim`` runs: ``max_batches`` batches of ``batch_size``."""
    return claim.max_batches * batch_size


def _reach(claim: Claim, batch_size: int) -> float:
    """The largest need (inflated, as :func:`_trials_for` gives it) that the cap can still meet: its SE
    without the inflation asks for at most the cap's trials. A need between the cap and this is planned
    to the cap, and the looks after it judge what the cap gave."""
    return _cap(claim, batch_size) * PLAN_INFLATION ** 2


def _batches_for(claim: Claim, need: float, batch_size: int) -> int:
    """The batches a need of ``need`` trials plans: at least one, and the cap's for a need above the cap."""
    return int(min(claim.max_batches, max(1, math.ceil(min(need, _cap(claim, batch_size)) / batch_size))))


def _needs(claim: Claim, params, setup: _Setup, plan: _Plan, mode: str, *, look: int) -> dict[str, float]:
    """The trials each requirement of a point needs, from its batches so far: ``resolution`` (the mode's
    target) and each applicable control (``SEPARATION`` SEs from the prediction), each with the SE
    inflated by :data:`PLAN_INFLATION`. Empty when the main estimate is not finite.

    A need is *beyond the cap* when even its SE without the inflation asks for more trials than the cap
    allows (:func:`_reach`); the pilot plans the cap for it, and a later look calls it short. A
    prediction control's distance is known; a route control's is its own estimate's distance from the
    prediction, as noisy as that estimate. Where that distance is beyond the cap while the distance
    plus ``Z`` SEs would not be, the plan does not take it at its word: at the pilot (``look`` 1) it
    plans for the hopeful distance and lets a later look decide on more trials; at a later look it
    plans the cap. A fixed trial count (no later look) takes the distance as measured."""
    fixed = _fixed_tolerance(claim, setup.predicted, params, setup.bound)
    controls = {c.name: c for c in claim.negative_controls}
    est = plan.estimate(claim, params, None)
    needs: dict[str, float] = {}
    predicted = setup.predicted
    if not est.finite:
        return needs
    cap, reach = _cap(claim, plan.batch_size), _reach(claim, plan.batch_size)
    target = RESOLUTION_TARGET[mode] * abs(predicted) - fixed
    needs["resolution"] = _trials_for(est.standard_error, plan.trials(None), target)
    for name, wrong in setup.applicable:
        if controls[name].variant is None:
            needs[name] = _trials_for(est.standard_error, plan.trials(None), abs(wrong - predicted) - fixed)
            continue
        est_c = plan.estimate(claim, params, name)
        if not est_c.finite:
            continue
        gap = abs(est_c.estimate - predicted)
        need = _trials_for(est_c.standard_error, plan.trials(name), gap - fixed)
        if need > reach and not plan.fixed:
            hopeful = _trials_for(est_c.standard_error, plan.trials(name), gap + Z * est_c.standard_error - fixed)
            if hopeful <= reach:
                need = hopeful if look == 1 else float(cap)
        needs[name] = need
    return needs


def _look_again(claim: Claim, params, setup: _Setup, plan: _Plan, mode: str) -> bool:
    """After a point's planned batches: plan more if a requirement is still unmet; True if the plan grew.

    The pilot planned from its own SEs and, for a route control, from its own noisy distance, so its
    plan can fall short: a control ends fewer than ``SEPARATION`` SEs away (and may be accepted by
    chance, a false failure), or the resolution misses its target. Another look reads the needs again
    from every batch so far (:func:`_needs`) and, where one is unmet without the pilot's inflation,
    plans the batches it asks for (inflated), within the cap; a control beyond the cap even so makes
    the point short (underpowered). A point is looked at :data:`LOOKS` times at most, the pilot's
    included (a look that plans nothing more ends the point). A point whose plan was enough is unchanged
    by it. A look reads SEs and the controls' distances from the prediction, not the main estimate's
    z; but a route control drawn from the main route's streams has a distance that shares the main
    route's noise, so a plan can lean on the main z through it. In the most correlated test double (a
    route that is the main route's draws scaled by 6 and shifted), the main z had mean -0.28 and sd
    0.88 over 1,500 seeds with the pilot's plan alone, and mean +0.04, sd 0.99 with later looks."""
    if plan.fixed or plan.short or plan.looks >= LOOKS:
        return False
    have = plan.trials(None)
    needs = _needs(claim, params, setup, plan, mode, look=plan.looks + 1)
    # met: the SE without the pilot's inflation reaches the requirement with the trials already run
    unmet = {name: n for name, n in needs.items() if n > have * PLAN_INFLATION ** 2}
    if not unmet:
        return False
    plan.needs.update(unmet)
    short = [name for name, n in unmet.items() if n > _reach(claim, plan.batch_size) and name != "resolution"]
    if short:
        plan.short = short
        return False
    # a need above the cap (the resolution's, or an inflated one within reach) plans the cap, as at the pilot
    need = max(unmet.values())
    n_batches = _batches_for(claim, need, plan.batch_size)
    if n_batches <= plan.n_batches:
        return False
    plan.n_batches, plan.looks = n_batches, plan.looks + 1
    if math.isfinite(need):
        plan.needed = max(plan.needed or 0, math.ceil(need))
    return True


def _pilot(claim: Claim, params, setup: _Setup, *, seed: int, mode: str, trials: int | None,
           replicate: int) -> _Plan:
    """Run the pilot batch of every route of a Monte Carlo point and plan its batches.

    The routes are the main one, each applicable control's wrong route (planned: it must end
    ``SEPARATION`` SEs from the prediction) and each paired control's route (run alongside, not
    planned: its check is agreement with its own formula)."""
    batch_size = trials if trials is not None else claim.trials[mode]
    controls = {c.name: c for c in claim.negative_controls}
    routes: dict[str | None, str | None] = {None: None}
    routes.update({name: controls[name].variant for name, _ in setup.applicable if controls[name].variant is not None})
    routes.update({name: controls[name].route for name, _ in setup.paired})
    groups = _route_groups(claim, routes)
    columns: dict[str | None, list[Mapping]] = {}
    batch_seconds: dict[str | None, float] = {}
    for group in groups:
        tick = time.perf_counter()
        columns.update(_group_batches(claim, params, group, seed=seed, replicate=replicate, batch_size=batch_size,
                                      start=0, stop=1))
        batch_seconds[group[0][0]] = time.perf_counter() - tick
    columns = {key: columns[key] for key in routes}  # route order, whatever the grouping
    plan = _Plan(batch_size, routes, columns, 1, None, [], {}, batch_seconds, groups, fixed=trials is not None)
    needs = _needs(claim, params, setup, plan, mode, look=1)
    needed = max([batch_size] + [n for n in needs.values()])
    # a need the cap cannot meet by the pilot's numbers plans the cap, and a later look, on every batch so
    # far, decides whether it is short (a pilot's SE can be off either way: it saw an outlier, or none);
    # only a need the cap could not meet with an SE half the pilot's is short at once
    short = [name for name, n in needs.items()
             if n > PILOT_DOUBT * _reach(claim, batch_size) and name != "resolution"]
    if trials is not None:  # a fixed trial count (amverify eval --trials): one batch, no plan
        n_batches = 1
        short = [name for name, n in needs.items() if n > batch_size and name != "resolution"]
    else:
        n_batches = _batches_for(claim, needed, batch_size)
    plan.n_batches, plan.short, plan.needs = n_batches, short, needs
    plan.needed = None if not math.isfinite(needed) else int(math.ceil(needed))
    return plan


def _run_later_batches(claim: Claim, params, plan: _Plan, *, seed: int, replicate: int) -> None:
    """Run every group's batches still to run in this process, each route's appended in batch order."""
    start = plan.batches_run
    for group in plan.groups:
        for key, later in _group_batches(claim, params, group, seed=seed, replicate=replicate,
                                         batch_size=plan.batch_size, start=start, stop=plan.n_batches).items():
            plan.columns[key] += later


def check_point(claim: Claim, params: Mapping[str, Any], *, seed: int, mode: str = "default",
                trials: int | None = None, replicate: int = 0, validate: bool = True) -> PointResult:
    """Measure one regime point (by its plan, for Monte Carlo claims), compare it with theory, and
    run every applicable negative control, all in this process.

    Parameters outside the claim's domain raise :class:`proofs_check.ledger.DomainError`; any other
    exception raised while measuring or evaluating is the point's *error* verdict, with the
    exception named, so one broken claim does not stop a run. :func:`run_tasks` gives the same
    result with the point's batches spread over workers. BLAS runs on one thread meanwhile, as in a
    pool worker (:mod:`proofs_check.executors`: more threads may change a result's last bit).
    """
    if validate:
        params = claim.validate(params)
    with blas_one_thread():
        return _check_point(claim, params, seed=seed, mode=mode, trials=trials, replicate=replicate)


def _check_point(claim: Claim, params: Mapping[str, Any], *, seed: int, mode: str, trials: int | None,
                 replicate: int) -> PointResult:
    start = time.perf_counter()
    setup = None
    try:
        setup = _prepare(claim, params)
        if not _is_planned(claim):
            return _unplanned(claim, params, setup, seed=seed, mode=mode, trials=trials, replicate=replicate,
                              start=start)
        plan = _pilot(claim, params, setup, seed=seed, mode=mode, trials=trials, replicate=replicate)
        if not plan.short:
            _run_later_batches(claim, params, plan, seed=seed, replicate=replicate)
            while _look_again(claim, params, setup, plan, mode):
                _run_later_batches(claim, params, plan, seed=seed, replicate=replicate)
        return _conclude_planned(claim, params, setup, plan, mode=mode, trials=trials,
                                 seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - reported as the point's verdict, never swallowed silently
        return _error_point(claim, params, exc, time.perf_counter() - start, setup=setup)


def _error_point(claim: Claim, params, exc: BaseException | str, seconds: float, task_seconds=None, *,
                 setup: _Setup | None = None) -> PointResult:
    """A point's error verdict; its prediction too when the error came after the point was prepared (a
    measurement that raised), so a failure report shows what was expected."""
    message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    predicted = setup.predicted if setup is not None else math.nan
    return PointResult(claim.id, dict(params), predicted, math.nan, math.nan, 0, None, None, math.nan, ERROR, (),
                       seconds, "", message, task_seconds=tuple(task_seconds or (seconds,)))


def _unplanned(claim: Claim, params, setup: _Setup, *, seed: int, mode: str, trials: int | None, replicate: int,
               start: float) -> PointResult:
    """An identity, or a numeric side that is not a MonteCarlo: one computation from the point's stream."""
    if trials is None and claim.trials is not None:
        trials = claim.trials[mode]
    controls = {c.name: c for c in claim.negative_controls}
    est = _measure(claim, params, point_rng(seed, claim.id, params, replicate), trials=trials)
    route_est = {name: _measure(claim, params, point_rng(seed, claim.id, params, replicate), trials=trials,
                                variant=controls[name].route) for name, _ in setup.paired}
    route_est.update({name: _measure(claim, params, point_rng(seed, claim.id, params, replicate), trials=trials,
                                     variant=controls[name].variant)
                      for name, _ in setup.applicable if controls[name].prediction is None})
    return _conclude(claim, params, setup, est, route_est, planned=False, n_batches=0, needed=None, short=[],
                     needs={}, mode=mode, trials=trials, seconds=time.perf_counter() - start)


def _conclude_planned(claim: Claim, params, setup: _Setup, plan: _Plan, *, mode: str, trials: int | None,
                      seconds: float, task_seconds=None) -> PointResult:
    """Merge each route's batches in batch order, reduce, and compare (the last step of a planned point)."""
    tick = time.perf_counter()
    est = plan.estimate(claim, params, None)
    route_est = {key: plan.estimate(claim, params, key) for key in plan.routes if key is not None}
    seconds += time.perf_counter() - tick
    return _conclude(claim, params, setup, est, route_est, planned=True, n_batches=len(plan.columns[None]),
                     needed=plan.needed, short=plan.short, needs=plan.needs, mode=mode, trials=trials,
                     seconds=seconds, task_seconds=task_seconds, looks=0 if plan.fixed else plan.looks)


def _conclude(claim: Claim, params, setup: _Setup, est: Estimate, route_est: Mapping[str, Estimate], *,
              planned: bool, n_batches: int, needed: int | None, short: list[str], needs: Mapping[str, float],
              mode: str, trials: int | None, seconds: float, task_seconds=None, looks: int = 0) -> PointResult:
    """The verdict of a point and of each of its controls, from the main and route estimates."""
    tick = time.perf_counter()
    predicted = setup.predicted
    controls_by_name = {c.name: c for c in claim.negative_controls}
    verdict, z, tol, message = _compare(claim, predicted, est, params, setup.bound)
    fixed = _fixed_tolerance(claim, predicted, params, setup.bound) if claim.kind is not Kind.IDENTITY else 0.0

    results = {}
    for name, wrong in setup.applicable:
        control = controls_by_name[name]
        if control.prediction is not None:
            c_verdict, _, _, detail = _compare(claim, wrong, est, params, setup.bound)
            measured, sep = est.estimate, _separation(abs(wrong - predicted) - fixed, est.standard_error)
        else:
            c_est = route_est[name]
            c_verdict, _, _, detail = _compare(claim, predicted, c_est, params, setup.bound)
            measured = c_est.estimate
            sep = _separation(abs(c_est.estimate - predicted) - fixed, c_est.standard_error) \
                if c_est.finite else None
        status = {PASS: ACCEPTED, FAIL: REJECTED}.get(c_verdict, ERROR)
        results[name] = ControlResult(name, wrong, float(measured), status, detail, sep, control.near_miss)
    results.update(setup.skipped)
    for name, wrong in setup.paired:
        control = controls_by_name[name]
        # the control's wrong formula must be what its own route measures, or the formula is wrong
        r_est = route_est[name]
        agree, _, _, detail = _compare(claim, wrong, r_est, params, setup.bound)
        if agree != PASS:
            why = detail or (f"its route '{control.route}' measures {r_est.estimate:.6g} ± {r_est.standard_error:.2g}, "
                             f"not the formula's {wrong:.6g}")
            results[name] = ControlResult(name, wrong, float(r_est.estimate),
                                          ERROR if agree == ERROR else INCONSISTENT, why,
                                          results[name].separation, control.near_miss)
    controls = tuple(results[c.name] for c in claim.negative_controls)

    short = list(short)
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
    seconds += time.perf_counter() - tick
    return PointResult(claim.id, dict(params), predicted, est.estimate, est.standard_error, est.trials, est.ess,
                       z, tol, verdict, controls, seconds, est.method, message, resolution,
                       n_batches, needed, tuple(task_seconds) if task_seconds is not None else (seconds,), looks)

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
    return replace(result, verdict=UNDERPOWERED,
                   message="no near-miss control applies at this point (a default-mode check needs one)")


def final_verdict(claim: Claim, point: PointResult, mode: str) -> PointResult:
    """A point's verdict after the power rules: controls rejected, paired formulas consistent, a near miss
    (default mode). ``check``, ``eval`` and the pytest plugin all judge a point by it."""
    return near_miss_required(claim, point_passes_with_power(point), mode)


# --- scheduling: a run as tasks on any executor --------------------------------------------------
#
# A run's tasks (claim_tasks) are claims' symbolic checks and points. They are scheduled in three
# steps, each a kind of task an executor runs:
#
# 1. _claim_task, once per claim: its symbolic check (when the run asks for it) and the prediction
#    and controls of each of its points (_prepare), so a claim's derivation is built once per run;
# 2. _pilot_task, once per point: the pilot batch of every route and the plan (_pilot); a point that
#    is not Monte Carlo, needs no more batches, or whose later batches should take less than
#    FINISH_IN_PILOT_SECONDS (timed by its pilot batch) runs them and finishes here;
# 3. _batch_task: a chunk of a route group's later batches (the routes computed from one set of
#    draws, _route_groups); a group's batches after the pilot are split into at most CHUNKS_PER_ROUTE
#    chunks, of a size that depends only on the plan.
#
# The driver merges each route's batches in batch order and concludes (_finish_pending). The numbers
# are therefore check_point's, for any executor and any number of workers.

CHUNKS_PER_ROUTE = 8

# A point whose later batches should take less than this finishes in its pilot task rather than being
# split into chunks: its chunks would buy little parallel time and cost the transfer of their per-trial
# columns to the driver, which merges them there. In the default run, 127 of the 131 planned points
# have less than 0.5 s of later batches each; together they are 12.2 of the 15.0 s of batch work and
# sent 353 of the 358 MB of pickled columns as chunks (capacity.compare.poly_exponent at p = 3 alone
# sent 46 MB for 0.09 s of draws). Default run, --jobs 2, alternated with the code before: 12.5-12.8 s
# against 12.9-13.7 s; 0.25, 1 and 5 s measured alike within the VM's noise. Which points split
# depends on the pilot's timing; no number does (a batch draws the same wherever it runs).
FINISH_IN_PILOT_SECONDS = 0.5

# Tasks on an executor at once, per worker: enough that a worker finds its next task queued while the
# driver concludes a point (merging and reducing a point's columns took up to 0.3 s in the default
# run, and a worker gets through a dozen short tasks meanwhile), few enough that the priority queue
# still decides what runs near the end. Default run, --jobs 2, 2 cores, each worker's time waiting for
# a task: 0.62-0.75 s with 2, 0.56-0.64 s with 4, 0.30-0.40 s with 8, 0.05-0.09 s with 16, 0.23-0.31 s
# with 32 (the last tasks queued behind others). Those waits were measured while every planned point was
# split into chunks; since short points finish in their pilot task (FINISH_IN_PILOT_SECONDS) each worker
# waits 0.08-0.13 s in all (traced), and the window was not measured again.
WINDOW_PER_WORKER = 16


def _chunks(n_batches: int, first: int = 1) -> list[tuple[int, int]]:
    """The batch ranges ``[start, stop)`` from ``first`` (after the pilot, batch 0, unless a later look
    extends a plan) up to ``n_batches`` that run as one task each.

    >>> _chunks(1), _chunks(4), _chunks(20)
    ([], [(1, 2), (2, 3), (3, 4)], [(1, 4), (4, 7), (7, 10), (10, 13), (13, 16), (16, 19), (19, 20)])
    >>> _chunks(30, first=20)
    [(20, 22), (22, 24), (24, 26), (26, 28), (28, 30)]
    """
    if n_batches <= first:
        return []
    size = -(-(n_batches - first) // CHUNKS_PER_ROUTE)
    return [(b, min(b + size, n_batches)) for b in range(first, n_batches, size)]


def _claim_task(claim_id: str, params_list: Sequence[Mapping], symbolic: bool, cache_folder: str | None,
                latex: bool, *, pooled: bool):
    """Step 1: the claim's :class:`SymbolicResult` (or None) and, per point, its :class:`_Setup` (or the
    error that stopped it, as text) with the seconds it took; and with ``latex`` the claim's statement in
    LaTeX (None if it cannot be rendered: the report then renders it, meeting the error there).
    ``cache_folder`` is the derivation cache the driver uses (None: none): a worker's own environment
    may say otherwise (a fork server keeps the environment it started with; a cluster's workers have
    theirs).

    The LaTeX is rendered here because here the claim's derivation is already built (or its cache keys
    computed): rendered by the driver after a ``--jobs 2`` run it took 0.65 s with the cache warm and
    6.4 s without (quick grid), with the workers idle."""
    if pooled:
        one_blas_thread()
    claim = get_claim(claim_id)
    store = DerivationCache(cache_folder) if cache_folder is not None else None
    result = check_symbolic(claim, cache=store) if symbolic else None
    setups = []
    for params in params_list:
        tick = time.perf_counter()
        try:
            setup: Any = _prepare(claim, params, cache=store)
        except Exception as exc:  # noqa: BLE001 - the point's error verdict, as in check_point
            setup = f"{type(exc).__name__}: {exc}"
        setups.append((setup, time.perf_counter() - tick))
    text = None
    if latex:
        try:
            text = claim.latex(cache=store)
        except Exception:  # noqa: BLE001, S110 - rendered again for the report, which shows the error
            pass
    return result, setups, text


def _pilot_task(claim_id: str, params, seed: int, mode: str, setup: _Setup, finish_below: float, *, pooled: bool):
    """Step 2: a finished :class:`PointResult` or a :class:`_Pending` with the plan; and the batches run. A
    point whose later batches should take less than ``finish_below`` seconds runs them here and finishes
    (the driver's FINISH_IN_PILOT_SECONDS: a worker's module may not be the driver's)."""
    if pooled:
        one_blas_thread()
    start = time.perf_counter()
    claim = get_claim(claim_id)
    try:
        if not _is_planned(claim):
            return _unplanned(claim, params, setup, seed=seed, mode=mode, trials=None, replicate=0, start=start), 0
        plan = _pilot(claim, params, setup, seed=seed, mode=mode, trials=None, replicate=0)
        if not plan.complete and plan.later_seconds() < finish_below:
            _run_later_batches(claim, params, plan, seed=seed, replicate=0)
        while (plan.complete and _look_again(claim, params, setup, plan, mode)
               and plan.later_seconds() < finish_below):
            _run_later_batches(claim, params, plan, seed=seed, replicate=0)
        batches = len(plan.groups) * plan.batches_run
        if plan.complete:
            return _conclude_planned(claim, params, setup, plan, mode=mode, trials=None,
                                     seconds=time.perf_counter() - start), batches
        return _Pending(setup, plan, time.perf_counter() - start), batches
    except Exception as exc:  # noqa: BLE001 - the point's error verdict, as in check_point
        return _error_point(claim, params, exc, time.perf_counter() - start, setup=setup), 0


def _batch_task(claim_id: str, params, group: Group, seed: int, batch_size: int, start: int, stop: int, *,
                pooled: bool):
    """Step 3: batches ``start .. stop - 1`` of one group of routes, by route key (or the error that stopped
    them, as text); and seconds."""
    if pooled:
        one_blas_thread()
    tick = time.perf_counter()
    try:
        columns: Any = _group_batches(get_claim(claim_id), params, group, seed=seed, replicate=0,
                                      batch_size=batch_size, start=start, stop=stop)
    except Exception as exc:  # noqa: BLE001 - the point's error verdict, as in check_point
        columns = f"{type(exc).__name__}: {exc}"
    return columns, time.perf_counter() - tick


@dataclass
class _Pending:
    """A planned point between its pilot and its last batch (held by the driver)."""

    setup: _Setup
    plan: _Plan
    seconds: float  # the pilot task's
    chunks: dict[tuple[str | None, int], tuple[Any, float]] = field(default_factory=dict)  # (group's key, start) -> result
    ranges: list[tuple[int, int]] = field(default_factory=list)  # the batch ranges of the round of chunks under way
    task_seconds: list[float] = field(default_factory=list)  # each task's seconds so far: the pilot's, then its chunks'

    def __post_init__(self):
        self.task_seconds = self.task_seconds or [self.seconds]


def _merge_round(claim: Claim, params, pending: _Pending) -> PointResult | None:
    """Append a round of a point's chunks to its routes in batch order; the point's error if a chunk failed."""
    plan = pending.plan
    pending.task_seconds += [pending.chunks[(group[0][0], start)][1] for group in plan.groups
                             for start, _ in pending.ranges]
    leader = {key: group[0][0] for group in plan.groups for key, _ in group}
    for key in plan.routes:  # the first failure in route and batch order, as check_point meets it
        for start, _ in pending.ranges:
            columns = pending.chunks[(leader[key], start)][0]
            if isinstance(columns, str):
                return _error_point(claim, params, columns, sum(pending.task_seconds), pending.task_seconds,
                                    setup=pending.setup)
            plan.columns[key] += columns[key]
    pending.chunks, pending.ranges = {}, []
    return None


def _finish_pending(claim: Claim, params, pending: _Pending, mode: str) -> PointResult | None:
    """Merge a round of a point's chunks and conclude (in the driver); None when another look at the point
    (:func:`_look_again`) asks for more batches, which its plan then counts."""
    error = _merge_round(claim, params, pending)
    if error is not None:
        return error
    seconds = sum(pending.task_seconds)
    try:
        if _look_again(claim, params, pending.setup, pending.plan, mode):
            return None
        return _conclude_planned(claim, params, pending.setup, pending.plan, mode=mode, trials=None, seconds=seconds,
                                 task_seconds=pending.task_seconds)
    except Exception as exc:  # noqa: BLE001
        return _error_point(claim, params, exc, seconds, pending.task_seconds, setup=pending.setup)


@dataclass(frozen=True)
class Progress:
    """Where a run stands, handed to the ``progress`` callback of :func:`run_tasks` after every task.

    ``batches_total`` grows as pilots plan their points; ``remaining`` (seconds) is an estimate, or
    None before five points have finished; ``result`` is the point or symbolic result that just
    finished, if any."""

    points_done: int
    points_total: int
    symbolic_done: int
    symbolic_total: int
    batches_done: int
    batches_total: int
    elapsed: float
    remaining: float | None
    result: Any = None


class _Run:
    """The driver of one run: a priority queue of tasks, at most ``window`` of them on the executor at once.

    Claim tasks go first (everything waits on them), then chunks of planned points (largest estimated
    cost first: the pilot timed one batch of each group of routes), then pilots in task order. The order
    changes only the time a run takes, never a number."""

    def __init__(self, tasks: Sequence[tuple], progress, latex: dict[str, str] | None = None):
        self.tasks, self.progress, self.latex = list(tasks), progress, latex
        self.results: list = [None] * len(self.tasks)
        self.queue: list = []
        self.seq = 0
        # claim id -> (index of its symbolic task or None, [(params, [indices of its point tasks])])
        self.claims: dict[str, tuple[int | None, list[tuple[Mapping, list[int]]]]] = {}
        for i, (kind, claim_id, params, _, _) in enumerate(self.tasks):
            symbolic, points = self.claims.setdefault(claim_id, (None, []))
            if kind == "symbolic":
                self.claims[claim_id] = (i, points)
                continue
            for p, indices in points:
                if canonical_params(p) == canonical_params(params):
                    indices.append(i)
                    break
            else:
                points.append((params, [i]))
        self.prepared: dict[int, float] = {}  # point task -> seconds its prediction and controls took
        self.pending: dict[int, _Pending] = {}
        self.outstanding: dict[int, int] = {}  # point task -> chunks not yet back
        self.points_total = sum(t[0] == "point" for t in self.tasks)
        self.symbolic_total = len(self.tasks) - self.points_total
        self.points_done = self.symbolic_done = self.batches_done = self.batches_queued = 0
        self.point_work: list[float] = []  # seconds of each finished point
        self.queued_cost = 0.0  # estimated seconds of the chunks queued or running
        self.start = time.perf_counter()

    def _push(self, rank: int, order, fn, args: tuple, tag: tuple) -> None:
        heapq.heappush(self.queue, (rank, order, self.seq, fn, args, tag))
        self.seq += 1

    def run(self, executor, window: int, pooled: bool, slots: int) -> list:
        self.slots = slots
        store = default_cache()  # this process's decision (--no-cache, AMVERIFY_CACHE_DIR) goes with each task
        folder = str(store.root) if store is not None else None
        for order, (claim_id, (symbolic, points)) in enumerate(self.claims.items()):
            self._push(0, order, _claim_task, (claim_id, [p for p, _ in points], symbolic is not None, folder,
                                               self.latex is not None), ("claim", claim_id))
        running: dict = {}
        while self.queue or running:
            while self.queue and len(running) < window:
                _, _, _, fn, args, tag = heapq.heappop(self.queue)
                running[executor.submit(fn, *args, pooled=pooled)] = tag
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:  # in any order: a result never depends on when it arrived
                self._handle(running.pop(future), future.result())
        return self.results

    def _handle(self, tag: tuple, value) -> None:
        kind = tag[0]
        if kind == "claim":
            self._claim_done(tag[1], *value)
            return
        i = tag[1]
        _, claim_id, params, _, mode = self.tasks[i]
        finished = None
        if kind == "pilot":
            outcome, batches = value
            self.batches_done += batches
            if isinstance(outcome, _Pending):
                self._schedule_chunks(i, outcome)
            else:
                finished = self._point_done(i, outcome)
        else:
            key, start, stop, estimate = tag[2:]
            pending = self.pending[i]
            pending.chunks[(key, start)] = value
            self.batches_done += stop - start
            self.batches_queued -= stop - start
            self.queued_cost -= estimate
            self.outstanding[i] -= 1
            if self.outstanding[i] == 0:
                point = _finish_pending(get_claim(claim_id), params, pending, mode)
                if point is None:  # another look planned more batches
                    self._schedule_chunks(i, pending)
                else:
                    del self.pending[i], self.outstanding[i]
                    finished = self._point_done(i, point)
        self._report(finished)

    def _claim_done(self, claim_id: str, symbolic: SymbolicResult | None, setups, latex: str | None) -> None:
        if latex is not None:  # rendered only when the run asked for it (self.latex is a dict)
            self.latex[claim_id] = latex
        index, points = self.claims[claim_id]
        if index is not None:
            self.results[index] = symbolic
            self.symbolic_done += 1
            self._report(symbolic)
        claim = get_claim(claim_id)
        for (params, indices), (setup, seconds) in zip(points, setups):
            for i in indices:
                self.prepared[i] = seconds
                if isinstance(setup, str):
                    self._report(self._point_done(i, _error_point(claim, params, setup, 0.0, ())))
                else:
                    _, _, params_i, seed, mode = self.tasks[i]
                    self._push(2, i, _pilot_task, (claim_id, params_i, seed, mode, setup, FINISH_IN_PILOT_SECONDS),
                               ("pilot", i))

    def _schedule_chunks(self, i: int, pending: _Pending) -> None:
        _, claim_id, params, seed, _ = self.tasks[i]
        plan = pending.plan
        pending.ranges = ranges = _chunks(plan.n_batches, first=plan.batches_run)
        self.pending[i] = pending
        self.outstanding[i] = len(ranges) * len(plan.groups)
        for group in plan.groups:
            key = group[0][0]
            for start, stop in ranges:
                estimate = (stop - start) * plan.batch_seconds.get(key, 0.0)
                self.batches_queued += stop - start
                self.queued_cost += estimate
                self._push(1, -estimate, _batch_task, (claim_id, params, group, seed, plan.batch_size, start, stop),
                           ("chunk", i, key, start, stop, estimate))

    def _point_done(self, i: int, point: PointResult) -> PointResult:
        """Record a finished point: its prediction's time added, then the power rules of the run."""
        _, claim_id, _, _, mode = self.tasks[i]
        point = replace(point, seconds=point.seconds + self.prepared.get(i, 0.0))
        self.results[i] = point = final_verdict(get_claim(claim_id), point, mode)
        self.points_done += 1
        self.point_work.append(point.seconds)
        return point

    def _report(self, finished) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.start
        remaining = None
        if len(self.point_work) >= 5:
            unplanned = self.points_total - self.points_done - len(self.pending)
            work_left = unplanned * sum(self.point_work) / len(self.point_work) + max(self.queued_cost, 0.0)
            remaining = work_left / self.slots
        self.progress(Progress(self.points_done, self.points_total, self.symbolic_done, self.symbolic_total,
                               self.batches_done, self.batches_done + self.batches_queued, elapsed, remaining,
                               finished))


def run_tasks(tasks: Sequence[tuple], *, jobs: int = 1, executor: Executor | None = None,
              progress: Callable[[Progress], None] | None = None, latex: dict[str, str] | None = None) -> list:
    """Run every task tuple ``(kind, claim_id, params, seed, mode)`` (kind ``symbolic`` or ``point``); results
    in task order, each a :class:`SymbolicResult` or a :class:`PointResult` equal to :func:`check_point`'s.

    Without ``executor``: in this process when ``jobs`` is 1, else on a pool of ``jobs`` worker
    processes kept for the whole run. With ``executor`` (any :class:`concurrent.futures.Executor`, such
    as a dask cluster's, whose workers run one task at a time per process: sympy is not thread-safe),
    ``jobs`` is how many tasks it runs at once. Every task runs with one BLAS thread. ``jobs`` 1 gives
    this process its own setting back when the run ends; with workers that are threads of this process
    (a thread pool) the run tries to, but OpenBLAS ignores a raise of its thread count while another
    thread that lowered it is alive, so the setting may stay at one until the pool is shut down and it
    is set again. No result depends on ``jobs`` or on the executor.

    With a ``latex`` dict, each claim's task also renders the claim's statement in LaTeX (where its
    derivation is built) into it, by claim id, for a report to use.
    """
    run = _Run(tasks, progress, latex)
    if executor is not None:
        with thread_settings_kept():  # this process's own thread settings back after in-process workers
            return run.run(executor, window=WINDOW_PER_WORKER * max(jobs, 1), pooled=True, slots=max(jobs, 1))
    if jobs <= 1:
        with blas_one_thread():
            return run.run(InlineExecutor(), window=1, pooled=False, slots=1)
    with process_pool(jobs) as pool:
        return run.run(pool, window=WINDOW_PER_WORKER * jobs, pooled=True, slots=jobs)


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
             symbolic: Mapping[str, SymbolicResult] | None = None,
             latex: Mapping[str, str] | None = None) -> list[ClaimResult]:
    """Claim results in ledger order from task results (``symbolic`` supplies checks run elsewhere, ``latex``
    statements rendered by the run, :func:`run_tasks`)."""
    by_key = {(t[0], t[1], canonical_params(t[2] or {})): r for t, r in zip(tasks, results)}
    out = []
    for claim in claims:
        sym = symbolic[claim.id] if symbolic is not None else by_key[("symbolic", claim.id, canonical_params({}))]
        cr = ClaimResult(claim, sym, latex=(latex or {}).get(claim.id), mode=mode)
        if claim.kind is not Kind.CITED:
            cr.points = [by_key[("point", claim.id, canonical_params(dict(p)))] for p in claim.grids[mode]]
        out.append(cr)
    return out


def check_claims(claims: Sequence[Claim], *, mode: str = "default", seed: int, jobs: int = 1,
                 executor: Executor | None = None,
                 progress: Callable[[Progress], None] | None = None, latex: bool = False) -> list[ClaimResult]:
    """Check claims over their ``mode`` grids (tasks run as :func:`run_tasks` says); results are in ledger
    order, and the same whatever ``jobs`` and ``executor`` are. ``latex``: render each claim's statement
    in the run (:attr:`ClaimResult.latex`), for a report that shows it."""
    tasks = claim_tasks(claims, mode=mode, seed=seed)
    rendered: dict[str, str] | None = {} if latex else None
    results = run_tasks(tasks, jobs=jobs, executor=executor, progress=progress, latex=rendered)
    return assemble(claims, tasks, results, mode=mode, latex=rendered)


def point_to_dict(p: PointResult) -> dict:
    d = asdict(p)
    d["controls"] = [asdict(c) for c in p.controls]
    return d
