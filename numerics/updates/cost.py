"""Counting the multiply-adds an implementation performs, by instrumenting its arrays.

:class:`CountedArray` is an ``ndarray`` subclass that adds to a shared :class:`MultiplyAddCounter`
every time a matrix product or a matrix inverse touches it, and hands the subclass on to every array
computed from it (through ``__array_ufunc__`` and ``__array_function__``), so code written for plain
arrays is counted without changing it. Cost model (the companion's, notes §5.4): a product of an
``m x k`` and a ``k x n`` matrix is ``m k n`` multiply-adds (``k n`` or ``m k`` for a vector); the
inverse of an ``n x n`` matrix is ``n^3``; elementwise work (exponentials, masks, scaling) is not
counted.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CountedArray", "MultiplyAddCounter", "matmul_multiply_adds"]


class MultiplyAddCounter:
    """A running total of multiply-adds; :meth:`wrap` makes arrays that report to it."""

    def __init__(self) -> None:
        self.count = 0

    def wrap(self, x) -> "CountedArray":
        view = np.asarray(x, dtype=float).view(CountedArray)
        view._counter = self
        return view


def matmul_multiply_adds(a_shape: tuple, b_shape: tuple) -> int:
    """Multiply-adds of ``a @ b`` for operands of these shapes (NumPy's matmul broadcasting).

    >>> matmul_multiply_adds((3, 4), (4, 5)), matmul_multiply_adds((4,), (4, 5)), matmul_multiply_adds((2, 3, 4), (4, 1))
    (60, 20, 24)
    """
    a = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    if a[-1] != b[-2]:
        raise ValueError(f"matmul shapes {a_shape!r} and {b_shape!r} do not align")
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    return math.prod(batch) * a[-2] * a[-1] * b[-1]


def _plain(x):
    if isinstance(x, CountedArray):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(i) for i in x)
    return x


class CountedArray(np.ndarray):
    """An array that counts the multiply-adds of products and inverses it takes part in (see the module)."""

    _counter: MultiplyAddCounter | None = None

    def __array_finalize__(self, obj) -> None:
        self._counter = getattr(obj, "_counter", None)

    def _wrap(self, result):
        if isinstance(result, tuple):
            return tuple(self._wrap(r) for r in result)
        if isinstance(result, np.ndarray) and not isinstance(result, CountedArray):
            result = result.view(CountedArray)
            result._counter = self._counter
        return result

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if ufunc is np.matmul and method == "__call__" and self._counter is not None:
            self._counter.count += matmul_multiply_adds(np.shape(inputs[0]), np.shape(inputs[1]))
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*(_plain(i) for i in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return self._wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        if func is np.linalg.inv and self._counter is not None:
            shape = np.shape(args[0])
            self._counter.count += math.prod(shape[:-2]) * shape[-1] ** 3
        return self._wrap(func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()}))
