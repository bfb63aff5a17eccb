"""amverify's join: the claim ledger, the comparison engine and the command-line interface.

This is the only package that imports both :mod:`theory` (sympy) and :mod:`numerics` (numpy).
"""

__version__ = "0.1.0"
