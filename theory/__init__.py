"""Symbolic side of amverify: sympy derivations of the paper's formulas.

This package never imports :mod:`numerics`; see ``tests/test_independence.py``.
Every formula a claim checks is the result of a :class:`theory.derivation.Derivation`.
"""

from theory.derivation import Derivation, DerivationError, Step, StepCheck, is_zero

__all__ = ["Derivation", "DerivationError", "Step", "StepCheck", "is_zero"]
