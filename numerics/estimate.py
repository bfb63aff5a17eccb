"""Result record and small estimators shared by every Monte Carlo routine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

__all__ = ["Estimate", "check_variant", "exact_value", "mean_estimate", "ratio_of_means"]


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


def check_variant(variant, allowed) -> None:
    """Reject an unknown negative-control route name (``None`` is the correct computation)."""
    if variant is not None and variant not in allowed:
        raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(allowed)!r} or None")
