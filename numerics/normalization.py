"""Monte Carlo of QK-norm retrieval: unit keys and query, exp kernel ``exp(x^T y/tau)``, Gaussian values.

A key ``k_j = g_j/||g_j||`` (``g_j ~ N(0, I_{d_k})``) is uniform on the unit sphere; the stored key ``k_i``
is another such key and the query. By rotation invariance only ``t_j = k_j^T k_i`` matters, and it has the
law of the first coordinate of a uniform unit vector: ``t = g_1/sqrt(g_1^2 + X)``, ``g_1 ~ N(0, 1)``,
``X ~ chi^2(d_k - 1)`` independent (drawn that way, not from its Beta law). The values are integrated
exactly: given the keys, ``E_V ||r||^2 = d_v sum_j kappa(t_j)^2``. The signal is ``c = e^{1/tau}``, so
a trial is ``y = d_v sum_j e^{2(t_j - 1)/tau}/||v_i||^2``: every term lies in ``(0, 1]`` (no heavy tail).

Working set: about 2^20 draws at a time.
"""

from __future__ import annotations

import numpy as np

from numerics.estimate import check_variant, check_variants, mean_of, monte_carlo, per_variant, ratio_of

__all__ = ["measure_sphere_exp", "measure_sphere_halving", "sphere_cosines"]

_BLOCK = 1 << 20


def sphere_cosines(rng, d_k: int, size: tuple[int, ...], *, variant=None) -> np.ndarray:
    """``t = k_j^T k_i`` for independent uniform unit vectors in ``R^{d_k}``, shape ``size``.

    Variant ``"sphere_dimension"`` draws unit vectors of ``R^{d_k - 1}``: the sphere ``S^{d_k - 1}`` (of
    ``R^{d_k}``) taken for a sphere in ``d_k - 1`` coordinates.
    """
    dim = d_k - 1 if variant == "sphere_dimension" else d_k
    g = rng.standard_normal(size)
    rest = rng.chisquare(dim - 1, size) if dim > 1 else np.zeros(size)
    return g / np.sqrt(g * g + rest)


def _check(N, d_k, value_norm2, tau, trials):
    if N < 2 or d_k < 2 or trials < 2:
        raise ValueError(f"N={N!r} must be >= 2, d_k={d_k!r} >= 2 (a sphere with more than two points) and "
                         f"trials={trials!r} >= 2")
    if not (value_norm2 > 0 and tau > 0):
        raise ValueError(f"value_norm2={value_norm2!r} and tau={tau!r} must be positive")


@monte_carlo(mean_of("y", "QK-norm exp kernel: t = g_1/sqrt(g_1^2 + chi^2(d_k - 1)), values integrated exactly"),
             shared_variants={"signal_omitted"})
def measure_sphere_exp(rng, *, N: int, d_k: int, d_v: int, value_norm2: float, tau: float, trials: int = 2000,
                       variant=None) -> dict:
    """Conditional SNR^{-1} with unit keys and query (module docstring); column ``y``.

    Variant ``"signal_omitted"`` reports the crosstalk ``d_v sum_j e^{2 t_j/tau}/||v_i||^2`` without dividing by
    the signal ``c^2 = e^{2/tau}``; ``"sphere_dimension"`` draws the cosines in one dimension fewer
    (:func:`sphere_cosines`). ``"signal_omitted"`` reads the main route's cosines, so
    ``variant=(None, "signal_omitted")`` computes both from one set of draws; ``"sphere_dimension"``
    draws other numbers and runs on its own.
    """
    group = check_variants(variant, {"signal_omitted", "sphere_dimension"})
    if "sphere_dimension" in group and (d_k < 3 or len(group) > 1):
        raise ValueError(f"variant 'sphere_dimension' needs d_k >= 3 (got {d_k!r}) and its own draws (got {group!r})")
    _check(N, d_k, value_norm2, tau, trials)
    shifts = [0.0 if v == "signal_omitted" else 1.0 for v in group]
    cosines = "sphere_dimension" if group == ("sphere_dimension",) else None
    ys = [np.empty(trials) for _ in group]
    step = max(1, _BLOCK // (N - 1))
    for s in range(0, trials, step):
        n = min(step, trials - s)
        t = sphere_cosines(rng, d_k, (n, N - 1), variant=cosines)
        for shift, y in zip(shifts, ys):
            y[s:s + n] = np.exp(2.0 * (t - shift) / tau).sum(axis=1)
    return per_variant(variant, [{"y": d_v * y / value_norm2} for y in ys])


@monte_carlo(ratio_of("half", "whole", "QK-norm exp kernel: ratio of the mean crosstalk at tau/2 and at tau, "
                                       "common cosines, delta-method SE"))
def measure_sphere_halving(rng, *, d_k: int, tau: float, cosines: int = 16, trials: int = 2000, variant=None) -> dict:
    """``g(tau/2)/g(tau)``, ``g(tau) = E e^{2(t - 1)/tau}``, from the same cosines at both temperatures.

    Each trial draws ``cosines`` independent ``t`` and records the two sums (columns ``half``, ``whole``);
    the estimate is the ratio of their means. Variant ``"sphere_dimension"``: cosines from one dimension
    fewer (:func:`sphere_cosines`).
    """
    check_variant(variant, {"sphere_dimension"})
    _check(2, d_k, 1.0, tau, trials)
    if variant == "sphere_dimension" and d_k < 3:
        raise ValueError(f"variant 'sphere_dimension' needs d_k >= 3, got {d_k!r}")
    t = sphere_cosines(rng, d_k, (trials, cosines), variant=variant)
    return {"half": np.exp(4.0 * (t - 1.0) / tau).sum(axis=1), "whole": np.exp(2.0 * (t - 1.0) / tau).sum(axis=1)}
