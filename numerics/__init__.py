"""Monte Carlo side of amverify: numpy/scipy simulations of associative memories.

This package never imports :mod:`theory`; see ``tests/test_independence.py``.
"""

from numerics.estimate import Estimate

__all__ = ["Estimate"]
