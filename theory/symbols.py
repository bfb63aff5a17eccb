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
# symbols defined in the topic modules, named here by their sympy name (the key variance sigma^2 of theory.kernels)
LATEX_NAMES_BY_NAME = {
    "key_var": r"\sigma^2",  # theory.kernels: key variance
    "key_scale2": r"s^2",  # theory.context: keys N(0, s^2 I)
    "noise2": r"\sigma_\varepsilon^2",  # theory.context: value-noise variance
    "mu_norm2": r"\|\mu\|^2",  # theory.kernels: squared norm of the value mean
    "pattern": r"\mathrm{pattern}",  # theory.updates: 0 uniform, 1 predecessor attention
    "up_proj2": r"(u_i^\top k_i)^2",  # theory.ffn: the queried slot's up projection of its own key
    "query_norm2": r"\|q\|^2",  # theory.context: squared norm of the query
    "dv_head": r"d_{v,h}",  # theory.multihead: value width of one head
    "glu": r"\mathrm{glu}",  # theory.ffn: 0 ReLU, 1 tied gated unit
}


def latex(expr) -> str:
    r"""LaTeX of a sympy expression with the suite's symbol names (e.g. ``key_norm2`` as ``\|k_i\|^2``).

    >>> latex(key_norm2 / sp.Symbol(r"\|K K^\top\|_F^2"))
    '\\frac{\\|k_i\\|^2}{\\|K K^\\top\\|_F^2}'
    """
    expr = sp.sympify(expr)
    names = dict(LATEX_NAMES)
    names.update({s: LATEX_NAMES_BY_NAME[s.name] for s in expr.free_symbols
                  if isinstance(s, sp.Symbol) and s.name in LATEX_NAMES_BY_NAME})
    # a symbol named in LaTeX (e.g. the placeholder ``\|K K^\top\|_F^2``) is printed as written:
    # sympy would otherwise read its ``_`` and ``^`` as subscripts
    names.update({s: s.name for s in expr.free_symbols if isinstance(s, sp.Symbol) and "\\" in s.name})
    return sp.latex(expr, symbol_names=names, inv_trig_style="full")
