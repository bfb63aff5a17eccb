"""Kernels for the kernelized rules (softmax attention, DeltaFormer): ``kappa(x, y)`` on rows of two matrices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Kernel", "exp_kernel", "linear_kernel"]


@dataclass(frozen=True)
class Kernel:
    """A pairwise kernel ``kappa(x_a, y_b)``: ``values(X, Y)`` maps ``(n, d)``, ``(m, d)`` to ``(n, m)``.

    ``log_values`` (when not None) returns ``log kappa`` in a numerically safe way; it is needed to
    normalize a kernel (softmax) in the chunked DeltaFormer, where normalizers are combined by
    log-sum-exp. ``log_values_out``: ``log_values`` also takes ``out=`` (a C-contiguous float64 array
    of the result's shape) and writes the same numbers there, so the chunked forms can reuse one
    buffer per thread instead of allocating a block of scores per product. Any callable with the same
    signature can stand in for ``values``.
    """

    name: str
    values: Callable[[np.ndarray, np.ndarray], np.ndarray]
    log_values: Callable[..., np.ndarray] | None = None
    log_values_out: bool = False

    def __call__(self, X, Y):
        return self.values(X, Y)


def linear_kernel() -> Kernel:
    """``kappa(x, y) = x^T y``."""
    return Kernel("linear", lambda X, Y: X @ Y.T)


def exp_kernel(tau: float) -> Kernel:
    """``kappa(x, y) = exp(x^T y / tau)``; normalized over visible positions it is softmax attention.

    ``tau`` is the temperature (``sqrt(d)`` in the companion's Listing 1 and in public implementations).

    >>> float(exp_kernel(2.0)(np.array([[1.0, 1.0]]), np.array([[1.0, 3.0]]))[0, 0]) == float(np.exp(2.0))
    True
    """
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"the temperature tau must be positive and finite, got {tau!r}")

    def log_values(X, Y, out=None):
        return np.matmul(X / tau, Y.T, out=out)

    return Kernel(f"exp(x.y/{tau:g})", lambda X, Y: np.exp(log_values(X, Y)), log_values, log_values_out=True)
