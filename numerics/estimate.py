"""Result record, small estimators, and the batched Monte Carlo protocol shared by every numeric side.

A statistical numeric side is a :class:`MonteCarlo`: ``simulate`` draws one batch of independent
trials and returns per-trial columns; ``reduce`` turns the columns of any number of batches,
concatenated in batch order, into an :class:`Estimate`. Because batches merge by concatenation,
an estimate from batches ``0..B-1`` is the same number however the batches were scheduled.

**Routes from common random numbers.** A negative control's wrong route (``variant``) reads the
same batch stream as the main route. Where a variant applies a different function to the *same*
draws, taken in the same order, one set of draws serves every such route: the simulator then
declares those variants (``shared_variants``), accepts a tuple of variants (``None`` is the main
route) and returns one column mapping per variant, in order. Each mapping must be bit-for-bit what
the separate call with that single variant returns (same stream, same draws, same arithmetic), so
grouping changes the time a point takes and never a number; ``tests/test_shared_routes.py`` checks
it for every measure that declares shared variants. A variant that consumes the stream differently
(another dimension, another number of draws) is not declared and runs on its own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy.special import logsumexp

__all__ = ["Estimate", "MonteCarlo", "check_variant", "check_variants", "exact_value", "kish_ess_from_sums",
           "largest", "mean_estimate", "mean_of", "merge_columns", "monte_carlo", "ols_slope", "per_variant",
           "ratio_of", "ratio_of_means", "rows", "smallest", "weighted_mean_of"]


@dataclass(frozen=True)
class Estimate:
    """What a numeric side returns: a point estimate with its uncertainty.

    Attributes
    ----------
    estimate : float
        The estimated value of the claim's estimand.
    standard_error : float
        Standard error of ``estimate`` over independent trials (0 for exact
        or deterministic computations).
    trials : int
        Number of independent trials (the unit of the standard error).
    ess : float or None
        Effective sample size where the estimator weights its samples
        (importance sampling); ``None`` where every trial counts fully.
    method : str
        One line naming the estimator, recorded in reports.
    diagnostics : Mapping
        Anything else worth recording (e.g. raw sums), JSON-serialisable.
    """

    estimate: float
    standard_error: float
    trials: int
    ess: float | None = None
    method: str = ""
    diagnostics: Mapping[str, float] = field(default_factory=dict)

    @property
    def finite(self) -> bool:
        """True when estimate, standard error (and ESS, if any) are all finite."""
        values = [self.estimate, self.standard_error]
        if self.ess is not None:
            values.append(self.ess)
        return bool(np.all(np.isfinite(values)))


def exact_value(value: float, *, method: str, trials: int = 1, **diagnostics: float) -> Estimate:
    """An :class:`Estimate` of a deterministic computation (standard error 0)."""
    return Estimate(float(value), 0.0, int(trials), None, method, dict(diagnostics))


def largest(values) -> float:
    """The largest of ``values``, NaN when any of them is NaN.

    Python's ``max`` keeps a NaN only in first place (every comparison with NaN is false), so the worst
    gap over several routes taken with ``max`` would report agreement for a route that returned NaN;
    the engine turns a NaN estimate into an error, never a pass.

    >>> largest([1e-16, float("nan"), 2e-16]), max([1e-16, float("nan"), 2e-16])
    (nan, 2e-16)
    """
    return float(np.max(np.asarray(values, dtype=float)))


def smallest(values) -> float:
    """The smallest of ``values``, NaN when any of them is NaN (as :func:`largest`; for the least ESS over
    columns, which ``min`` would report finite when a later column's is NaN).

    >>> smallest([300.0, float("nan"), 200.0]), min([300.0, float("nan"), 200.0])
    (nan, 200.0)
    """
    return float(np.min(np.asarray(values, dtype=float)))


def mean_estimate(samples, *, method: str) -> Estimate:
    """Sample mean of independent per-trial values with its standard error.

    ``samples`` is a 1-D array with one value per independent trial.
    """
    x = np.asarray(samples, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"mean_estimate needs a 1-D array of at least 2 trials, got shape {x.shape!r}")
    n = x.size
    return Estimate(float(x.mean()), float(x.std(ddof=1) / np.sqrt(n)), int(n), None, method)


def ratio_of_means(numerators, denominators, *, method: str) -> Estimate:
    """Ratio of means ``mean(a) / mean(b)`` with a delta-method standard error.

    ``numerators[t]`` and ``denominators[t]`` come from the same trial ``t``;
    trials are independent. The delta method uses the paired covariance:
    ``Var(R) ~ (Var a - 2 R Cov(a, b) + R^2 Var b) / (n mean(b)^2)``.
    """
    a = np.asarray(numerators, dtype=float)
    b = np.asarray(denominators, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(
            f"ratio_of_means needs two 1-D arrays of equal length >= 2, got {a.shape!r} and {b.shape!r}"
        )
    n = a.size
    ma, mb = a.mean(), b.mean()
    ratio = ma / mb
    cov = np.cov(a, b, ddof=1)
    var = (cov[0, 0] - 2.0 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * mb**2)
    return Estimate(float(ratio), float(np.sqrt(max(var, 0.0))), int(n), None, method)


def ols_slope(x, y, y_se) -> tuple[float, float]:
    """Ordinary least-squares slope of ``y`` on ``x`` and its standard error from independent ``y`` errors.

    The slope is ``sum_i w_i y_i`` with ``w_i = (x_i - mean x) / sum_j (x_j - mean x)^2``, so its SE is
    ``sqrt(sum_i w_i^2 se_i^2)`` when the ``y_i`` are independent with standard errors ``se_i``.

    >>> ols_slope([0.0, 1.0, 2.0], [1.0, 3.0, 5.0], [0.1, 0.1, 0.1])[0]
    2.0
    """
    x = np.asarray(x, dtype=float)
    w = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    return float(w @ np.asarray(y, dtype=float)), float(np.sqrt(np.sum(w**2 * np.asarray(y_se, dtype=float) ** 2)))


def check_variant(variant, allowed) -> None:
    """Reject an unknown negative-control route name (``None`` is the correct computation)."""
    if variant is not None and variant not in allowed:
        raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(allowed)!r} or None")


def check_variants(variant, allowed) -> tuple:
    """The routes a simulator computes from one set of draws: ``(variant,)`` for a single route, the tuple
    itself for a group (see :class:`MonteCarlo`); every name checked by :func:`check_variant`.

    >>> check_variants(None, {"abs"}), check_variants((None, "abs"), {"abs"})
    ((None,), (None, 'abs'))
    """
    group = tuple(variant) if isinstance(variant, tuple) else (variant,)
    if not group:
        raise ValueError("an empty tuple of variants computes nothing")
    for v in group:
        check_variant(v, allowed)
    return group


def per_variant(variant, columns: Sequence):
    """What a simulator returns: the one mapping of ``columns`` for a single route, all of them (a tuple,
    in the order of the variants) when ``variant`` was a tuple."""
    return tuple(columns) if isinstance(variant, tuple) else columns[0]


# --- the batched Monte Carlo protocol -----------------------------------------------------------

Columns = Mapping[str, np.ndarray]


def merge_columns(batches: Sequence[Columns]) -> dict[str, np.ndarray]:
    """Concatenate the per-trial columns of several batches along the trial axis, in the order given.

    Every batch must have the same column names and the same number of rows in each of its columns.

    >>> merge_columns([{"y": np.array([1.0, 2.0])}, {"y": np.array([3.0])}])["y"].tolist()
    [1.0, 2.0, 3.0]
    """
    if not batches:
        raise ValueError("merge_columns needs at least one batch")
    names = set(batches[0])
    for i, b in enumerate(batches):
        if set(b) != names:
            raise ValueError(f"batch {i} has columns {sorted(b)!r}, expected {sorted(names)!r}")
        rows = {np.shape(v)[0] for v in b.values()}
        if len(rows) != 1:
            raise ValueError(f"batch {i} has columns of different lengths {sorted(rows)!r}")
    return {k: np.concatenate([np.asarray(b[k]) for b in batches], axis=0) for k in batches[0]}


def rows(columns: Columns) -> int:
    """The number of trials (rows) in a set of per-trial columns."""
    return int(np.shape(next(iter(columns.values())))[0])


class MonteCarlo:
    """A Monte Carlo numeric side split into a batch simulator and a reducer.

    ``simulate(rng, *, trials, variant=None, **params)`` returns a mapping of per-trial columns
    (each an array whose first axis has ``trials`` rows; trials independent). ``reduce(columns,
    **params)`` maps the merged columns of any number of batches to an :class:`Estimate`. Calling
    the object runs one batch and reduces it, so ``measure(rng, trials=400, **params)`` works as a
    plain function; the engine instead runs a planned number of batches, each from its own seed,
    and reduces their concatenation.

    ``shared_variants`` names the variants ``simulate`` can compute alongside the main route from
    the same draws (module docstring): called with ``variant`` a tuple of them (and ``None``), it
    returns a tuple of column mappings, one per variant, each equal bit for bit to that variant's own
    call. :meth:`simulate_routes` is the engine's entry point for such a group.
    """

    def __init__(self, simulate: Callable[..., Columns], reduce: Callable[..., "Estimate"],
                 shared_variants=frozenset()):
        self.simulate = simulate
        self.reduce = reduce
        self.shared_variants = frozenset(shared_variants)
        functools.update_wrapper(self, simulate)

    def simulate_routes(self, rng, *, trials: int, variants: Sequence, **kwargs) -> tuple[Columns, ...]:
        """The columns of each route in ``variants`` (``None`` the main route) from one set of draws.

        A single route is an ordinary :attr:`simulate` call; several must all be shared (``None`` or in
        :attr:`shared_variants`), else a :class:`ValueError` names the one that is not.
        """
        variants = tuple(variants)
        if len(variants) == 1:
            return (self.simulate(rng, trials=trials, variant=variants[0], **kwargs),) if variants[0] is not None \
                else (self.simulate(rng, trials=trials, **kwargs),)
        alone = [v for v in variants if v is not None and v not in self.shared_variants]
        if alone or len(set(variants)) != len(variants):
            raise ValueError(f"variants {variants!r}: a group needs distinct routes, each None or one of the shared "
                             f"variants {sorted(self.shared_variants)!r}")
        out = tuple(self.simulate(rng, trials=trials, variant=variants, **kwargs))
        if len(out) != len(variants):
            raise ValueError(f"{self!r} returned {len(out)} column sets for the {len(variants)} variants {variants!r}")
        return out

    def __call__(self, rng, *, trials: int, **kwargs) -> "Estimate":
        return self.reduce(self.simulate(rng, trials=trials, **kwargs), **kwargs)

    def __repr__(self) -> str:
        return f"<MonteCarlo {self.__module__}.{self.__qualname__}>"


def monte_carlo(reduce: Callable[..., "Estimate"], *, shared_variants=()
                ) -> Callable[[Callable[..., Columns]], MonteCarlo]:
    """Decorator: make a batch simulator a :class:`MonteCarlo` with the given reducer (and the variants it
    computes from the main route's draws, :attr:`MonteCarlo.shared_variants`)."""
    def wrap(simulate):
        return MonteCarlo(simulate, reduce, shared_variants)
    return wrap


def mean_of(column: str, method: str) -> Callable[..., Estimate]:
    """Reducer: the sample mean of one per-trial column with its standard error."""
    def reduce(columns: Columns, **_: Any) -> Estimate:
        return mean_estimate(columns[column], method=method)
    reduce.__name__ = f"mean_of_{column}"
    return reduce


def ratio_of(numerator: str, denominator: str, method: str) -> Callable[..., Estimate]:
    """Reducer: the ratio of the means of two per-trial columns (delta-method SE)."""
    def reduce(columns: Columns, **_: Any) -> Estimate:
        return ratio_of_means(columns[numerator], columns[denominator], method=method)
    reduce.__name__ = f"ratio_of_{numerator}_{denominator}"
    return reduce


def kish_ess_from_sums(log_sum: np.ndarray, log_sum_sq: np.ndarray) -> float:
    """Kish's ``(sum x)^2 / sum x^2`` over all weighted terms, from per-trial ``log sum x`` and ``log sum x^2``.

    Summing per-trial sums in log space merges batches exactly.
    """
    return float(np.exp(2.0 * logsumexp(log_sum) - logsumexp(log_sum_sq)))


def weighted_mean_of(column: str, method: str, *, log_sum: str = "log_sum", log_sum_sq: str = "log_sum_sq"
                     ) -> Callable[..., Estimate]:
    """Reducer for importance-sampled trials: the mean of ``column`` with Kish's ESS over every weighted term.

    Each trial also records ``log sum x`` and ``log sum x^2`` of its weighted terms (columns named
    ``log_sum`` and ``log_sum_sq``), from which the ESS of the whole sample follows exactly.
    """
    def reduce(columns: Columns, **_: Any) -> Estimate:
        est = mean_estimate(columns[column], method=method)
        ess = kish_ess_from_sums(columns[log_sum], columns[log_sum_sq])
        return Estimate(est.estimate, est.standard_error, est.trials, ess, est.method)
    reduce.__name__ = f"weighted_mean_of_{column}"
    return reduce
