"""The shared sympy symbols, named exactly like the claims' parameters.

Assumptions are attached so that simplification is deterministic
(``N`` and the dimensions are positive integers, norms are positive reals).
"""

import sympy as sp

__all__ = ["LATEX_NAMES", "latex", "N", "d", "d_k", "d_v", "key_norm2", "value_norm2", "rho", "alpha", "tau", "p"]

N = sp.Symbol("N", positive=True, integer=True)
d = sp.Symbol("d", positive=True, integer=True)
d_k = sp.Symbol("d_k", positive=True, integer=True)
d_v = sp.Symbol("d_v", positive=True, integer=True)
key_norm2 = sp.Symbol("key_norm2", positive=True)
value_norm2 = sp.Symbol("value_norm2", positive=True)
rho = sp.Symbol("rho", positive=True)
alpha = sp.Symbol("alpha", positive=True)
tau = sp.Symbol("tau", positive=True)
p = sp.Symbol("p", positive=True, integer=True)

LATEX_NAMES = {
    key_norm2: r"\|k_i\|^2",
    value_norm2: r"\|v_i\|^2",
}


def latex(expr) -> str:
    r"""LaTeX of a sympy expression with the suite's symbol names (e.g. ``key_norm2`` as ``\|k_i\|^2``)."""
    return sp.latex(sp.sympify(expr), symbol_names=LATEX_NAMES)
