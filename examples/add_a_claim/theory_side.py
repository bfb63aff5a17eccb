"""Symbolic side: the fourth moment of a Gaussian key's norm, ``E||k||^4 = d_k (d_k + 2)``."""

from functools import cache

import sympy as sp
from sympy.stats import E, Normal

from theory.derivation import Derivation
from theory.symbols import d_k

# the two moments of one coordinate z ~ N(0, 1) that the expansion needs, named as they print
Ez2 = sp.Symbol(r"\mathbb{E}z^2", positive=True)
Ez4 = sp.Symbol(r"\mathbb{E}z^4", positive=True)


@cache
def key_norm_fourth_moment() -> Derivation:
    """``E||k||^4`` for ``k ~ N(0, I_{d_k})``, from ``||k||^4 = (sum_l z_l^2)^2``.

    The square of the sum has ``d_k`` terms ``z_l^4`` and ``d_k (d_k - 1)`` products ``z_l^2 z_m^2``
    of independent coordinates, so ``E||k||^4 = d_k E z^4 + d_k (d_k - 1) (E z^2)^2``.

    >>> key_norm_fourth_moment().result
    d_k*(d_k + 2)
    """
    z = Normal("z", 0, 1)
    return (
        Derivation("fourth moment of a Gaussian key's norm", d_k * Ez4 + d_k * (d_k - 1) * Ez2**2,
                   lhs=sp.Symbol(r"\mathbb{E}\|k\|^4"))
        .substitute(Ez4, 3, "E z^4 = 3 for z ~ N(0, 1) (sympy.stats)", proof=E(z**4))
        .substitute(Ez2, 1, "E z^2 = 1 (sympy.stats)", proof=E(z**2))
        .step(d_k * (d_k + 2), "collect: 3 d_k + d_k (d_k - 1) = d_k (d_k + 2)")
    )
