"""The FFN as an associative memory: ``FFN(x) = W_2 sigma(W_1 x) = sum_i v_i sigma(k_i^T x)`` (paper §3).

Keys are the rows ``k_i`` of ``W_1`` (``d_ff x d``), values the columns ``v_i`` of ``W_2``
(``d x d_ff``); the memory has ``N = d_ff`` slots. Querying slot ``i`` with ``x = k_i`` gives
``c v_i + r``, ``c = sigma(||k_i||^2)``, ``r = sum_{j != i} v_j sigma(k_j^T k_i)``, and with
Gaussian keys and zero-mean values the general-kernel calculus applies with
``kappa(x, y) = sigma(x^T y)``:

    SNR^{-1} = (N - 1) d_v E[sigma(Z)^2] / (sigma(||k_i||^2)^2 ||v_i||^2),  Z ~ N(0, ||k_i||^2).

>>> inverse_snr_exp_activation().result
d_v*(N - 1)*exp(2*beta*key_norm2*(beta - 1))/value_norm2
>>> inverse_snr_reglu().result
d_v*(3*N - 3)/(2*key_norm2**2*value_norm2)

Activations: ReLU (the "ReLU-like kernel" of the paper), ``exp(beta z)`` (a softmax-like slot
activation with pre-activation scale ``beta``), GELU ``z Phi(z)`` (closed form via Stein's lemma),
SiLU ``z sigmoid(z)`` (exact reduction to one positive integral, evaluated by quadrature),
and the gated unit (GLU) ``sigma(k^T x) (k'^T x)`` with tied gate and up keys ``k' = k``.
Threshold sparsity keeps pre-activations above ``t = a ||k_i||``; top-k sparsity is solved exactly
by order statistics (:class:`TopKTailMoment`) and tends to the threshold formula.
"""

from __future__ import annotations

from functools import cache, lru_cache

import mpmath

# sympy.stats (25 ms to import) is imported inside the functions that use it: a run whose
# derivations all come from the derivation cache never needs it, so every process starts that much sooner.
import sympy as sp

from theory.derivation import Derivation
from theory.kernels import E_kernel2, half_line_moment, inverse_snr_general, kernel_ii, relu_of
from theory.symbols import N, d_v, key_norm2, value_norm2

__all__ = [
    "a_threshold",
    "beta",
    "ffn_slot_identity",
    "gelu_inverse_snr_value",
    "glu_index",
    "inverse_snr_exp_activation",
    "inverse_snr_gelu",
    "inverse_snr_relu_ffn",
    "inverse_snr_reglu",
    "inverse_snr_silu",
    "inverse_snr_threshold",
    "inverse_snr_topk",
    "inverse_snr_untied_glu",
    "optimal_beta",
    "rho_target",
    "SigmoidSlopeMoment",
    "TopKTailMoment",
    "sparsity_gain",
    "std_normal_cdf",
    "up_proj2",
    "width_capacity",
]

beta = sp.Symbol("beta", positive=True)  # pre-activation scale of the slot activation
a_threshold = sp.Symbol("a", positive=True)  # activation threshold in units of ||k_i||
_a = sp.Symbol("s2", positive=True)
_z = sp.Symbol("z", real=True)
_zp = sp.Symbol("z", positive=True)  # a point of the positive half-line
_zn = sp.Symbol("z", negative=True)  # a point of the negative half-line
_margin = sp.Symbol("m", positive=True)  # ||k_i|| - a > 0: the threshold claim's constraint


def _gauss_density(var, z=_z):
    return sp.exp(-z**2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)


# The slot activations, each written once (ReLU is the ReLU kernel's theory.kernels.relu_of). A derivation's
# diagonal step ``sigma(||k_i||^2) = ...`` is verified by applying the activation to ``||k_i||^2``, and a second
# moment over the half-line ``z > 0`` (or ``z > a ||k_i||``) by integrating the activation there, with the
# condition that it vanishes below: a slip in an activation then fails the steps that use it instead of
# passing as a definition.
def _reglu(x):  # tied gated unit: ReLU(k^T x) (k^T x)
    return relu_of(x) * x


def _exp_activation(x):
    return sp.exp(beta * x)


def _threshold_relu(x):  # ReLU kept above t = a ||k_i||
    return sp.Piecewise((x, x > a_threshold * sp.sqrt(key_norm2)), (0, True))


@cache
def inverse_snr_relu_ffn() -> Derivation:
    """ReLU FFN: ``E[ReLU(Z)^2] = ||k_i||^2/2``, ``c = ||k_i||^2``: ``(N-1) d_v / (2 ||k_i||^2 ||v_i||^2)``."""
    proof = half_line_moment(relu_of)
    return (
        inverse_snr_general()
        .substitute(E_kernel2, key_norm2 / 2, "E[ReLU(Z)^2] = int_0^oo z^2 phi (ReLU is 0 for z <= 0)", proof=proof,
                    conditions=(relu_of(_zn), relu_of(sp.S.Zero)))
        .substitute(kernel_ii, key_norm2, "sigma(||k_i||^2) = ReLU(||k_i||^2) = ||k_i||^2",
                    proof=relu_of(key_norm2))
        .step((N - 1) * d_v / (2 * key_norm2 * value_norm2), "cancel")
    )


@cache
def inverse_snr_exp_activation() -> Derivation:
    """``sigma(z) = exp(beta z)``: ``SNR^{-1} = (N-1) (d_v/||v_i||^2) exp(2 beta (beta - 1) ||k_i||^2)``.

    The exp kernel at temperature ``tau = 1/beta``; at the unit scale ``beta = 1`` there is no gain
    at all (``SNR^{-1} = (N-1) d_v/||v_i||^2``), the optimum is ``beta = 1/2``.
    """
    from sympy.stats import E, Normal

    mgf = sp.simplify(E(_exp_activation(Normal("Z", 0, sp.sqrt(_a))) ** 2)).subs(_a, key_norm2)
    return (
        inverse_snr_general()
        .substitute(E_kernel2, sp.exp(2 * beta**2 * key_norm2), "Gaussian MGF at 2 beta", proof=mgf)
        .substitute(kernel_ii, sp.exp(beta * key_norm2), "sigma(||k_i||^2) = exp(beta ||k_i||^2)",
                    proof=_exp_activation(key_norm2))
        .step((N - 1) * d_v / value_norm2 * sp.exp(2 * beta * (beta - 1) * key_norm2), "collect the exponents")
    )


@cache
def optimal_beta() -> Derivation:
    """The exponent ``2 beta (beta - 1)`` is minimised at ``beta = 1/2`` (value ``-1/2``, i.e. ``e^{-||k_i||^2/2}``)."""
    f = 2 * beta * (beta - 1)
    return (
        Derivation("optimal pre-activation scale", sp.Matrix(sp.solve(sp.diff(f, beta), beta)),
                   lhs=sp.Symbol(r"\arg\min_\beta 2\beta(\beta-1)"))
        .step(sp.Matrix([sp.Rational(1, 2)]), "stationary point; the second derivative 4 > 0",
              check=f.subs(beta, sp.Rational(1, 2)) + sp.Rational(1, 2))
    )


@cache
def inverse_snr_reglu() -> Derivation:
    """Gated unit with tied keys, ``sigma(k^T x)(k^T x)`` with ``sigma = ReLU``: kernel ``z^2 1{z > 0}``.

    ``E[Z^4 1{Z > 0}] = 3 ||k_i||^4/2`` and ``c = ||k_i||^4``, so ``SNR^{-1} = 3 (N-1) d_v /
    (2 ||k_i||^4 ||v_i||^2)``: the crosstalk of a degree-2 kernel, capacity ~ d^2 instead of d.
    """
    proof = half_line_moment(_reglu)
    return (
        inverse_snr_general()
        .substitute(E_kernel2, 3 * key_norm2**2 / 2, "E[Z^4 1{Z>0}] = 3 ||k_i||^4 / 2 (the unit is 0 for z <= 0)",
                    proof=proof, conditions=(_reglu(_zn), _reglu(sp.S.Zero)))
        .substitute(kernel_ii, key_norm2**2, "ReLU(||k_i||^2) ||k_i||^2 = ||k_i||^4", proof=_reglu(key_norm2))
        .step(3 * (N - 1) * d_v / (2 * key_norm2**2 * value_norm2), "cancel")
    )


def std_normal_cdf(x):
    """``Phi(x) = (1 + erf(x / sqrt 2)) / 2`` as a sympy expression."""
    return (1 + sp.erf(x / sp.sqrt(2))) / 2


def gelu_inverse_snr_value() -> sp.Expr:
    """The value :func:`inverse_snr_gelu` derives (its last step), without building the derivation:
    ``(N-1) d_v s^2 [1/4 + asin(s^2/(1+s^2))/(2 pi) + s^2/(pi (1+s^2) sqrt(1+2s^2))] / (GELU(s^2)^2 ||v_i||^2)``."""
    s2 = key_norm2
    second = s2 * (sp.Rational(1, 4) + sp.asin(s2 / (1 + s2)) / (2 * sp.pi)
                   + s2 / (sp.pi * (1 + s2) * sp.sqrt(1 + 2 * s2)))
    return (N - 1) * d_v * second / ((s2 * std_normal_cdf(s2)) ** 2 * value_norm2)


@cache
def inverse_snr_gelu() -> Derivation:
    """GELU ``z Phi(z)``: ``E[GELU(Z)^2] = s^2 [1/4 + asin(s^2/(1+s^2))/(2 pi) + s^2/(pi (1+s^2) sqrt(1+2s^2))]``.

    Every step is verified in sympy, from two facts about ``Z ~ N(0, s^2)`` with density ``phi_s``:

    * Stein's lemma ``E[Z g(Z)] = s^2 E[g'(Z)]`` (integration by parts: ``z g phi_s - s^2 g' phi_s`` is the
      exact derivative of ``-s^2 g phi_s``, which vanishes at both infinities). With ``g = z Phi^2``,
      ``E[Z^2 Phi^2] = s^2 (E[Phi^2] + 2 E[Z Phi phi])``; with ``g = Phi phi`` and ``phi' = -z phi``,
      ``E[Z Phi phi] = s^2 (E[phi^2] - E[Z Phi phi])``, solved for ``E[Z Phi phi]``. Sympy checks the
      exact derivatives, the limits and ``phi' = -z phi``, and solves the linear relation itself.
    * The heat equation ``d/ds^2 E[f(Z)] = E[f''(Z)]/2`` (``d phi_s/ds^2 = phi_s''/2``, then integration by
      parts twice). With ``f = Phi^2``, ``f'' = 2 phi^2 - 2 z Phi phi``, so ``d/ds^2 E[Phi^2] = E[phi^2] -
      E[Z Phi phi] = E[phi^2]/(1 + s^2)`` and ``E[Phi^2] = 1/4`` at ``s^2 = 0``: the closed form
      ``1/4 + asin(s^2/(1+s^2))/(2 pi)`` (Sheppard's orthant probability) is the solution, which sympy
      checks by its derivative and its value at 0.

    ``E[phi(Z)^2] = 1/(2 pi sqrt(1 + 2 s^2))`` is integrated by sympy. Signal ``c = GELU(||k_i||^2)``.
    """
    s2 = key_norm2
    E_phi2 = sp.Symbol(r"\mathbb{E}\varphi(Z)^2", positive=True)
    E_Phi2 = sp.Symbol(r"\mathbb{E}\Phi(Z)^2", positive=True)
    E_ZPhiphi = sp.Symbol(r"\mathbb{E}Z\Phi(Z)\varphi(Z)", real=True)
    Phi, phi = std_normal_cdf(_z), sp.exp(-_z**2 / 2) / sp.sqrt(2 * sp.pi)
    density = _gauss_density(s2)

    def stein(g):  # z g phi_s - s^2 g' phi_s minus the derivative of -s^2 g phi_s: zero pointwise
        return sp.diff(-s2 * g * density, _z) - (_z * g * density - s2 * sp.diff(g, _z) * density)

    # the boundary terms -s^2 g phi_s vanish at both ends: |z Phi^2| <= |z| and |Phi phi| <= 1, and z phi_s, phi_s -> 0
    boundary = [sp.limit(g * density, _z, end) for g in (_z, sp.S.One) for end in (sp.oo, -sp.oo)]

    # the two Stein relations, solved by sympy for E[Z Phi phi] and substituted into E[Z^2 Phi^2]
    relation = E_ZPhiphi - s2 * (E_phi2 - E_ZPhiphi)  # linear in E[Z Phi phi]: its root is -f(0)/f'
    cross = -relation.subs(E_ZPhiphi, 0) / sp.diff(relation, E_ZPhiphi)
    stein_proof = s2 * (E_Phi2 + 2 * cross)
    second = s2 * (E_Phi2 + 2 * s2 * E_phi2 / (1 + s2))
    phi2 = 1 / (2 * sp.pi * sp.sqrt(1 + 2 * s2))
    # phi^2 phi_s is the Gaussian exp(-w z^2) times a constant; sympy integrates exp(-w z^2) for a symbol w > 0
    w = sp.Symbol("w", positive=True)
    weight = 1 + 1 / (2 * s2)
    scale = 1 / (2 * sp.pi * sp.sqrt(2 * sp.pi * s2))
    proof_phi2 = (scale * sp.integrate(sp.exp(-w * _z**2), (_z, -sp.oo, sp.oo))).subs(w, weight)
    sheppard = sp.Rational(1, 4) + sp.asin(s2 / (1 + s2)) / (2 * sp.pi)
    rate = (phi2 - cross).subs(E_phi2, phi2)  # d/ds^2 E[Phi^2] = E[phi^2] - E[Z Phi phi]
    gelu_ii = s2 * std_normal_cdf(s2)
    return (
        inverse_snr_general()
        .substitute(kernel_ii, gelu_ii, "sigma(||k_i||^2) = ||k_i||^2 Phi(||k_i||^2)",
                    proof=(_z * Phi).subs(_z, s2))
        .substitute(E_kernel2, second, "Stein's lemma with g = z Phi^2, then g = Phi phi: E[Z^2 Phi^2] = "
                    "s^2 (E Phi^2 + 2 s^2 E phi^2/(1+s^2))", proof=stein_proof,
                    conditions=(stein(_z * Phi**2), stein(Phi * phi), sp.diff(Phi, _z) - phi,
                                sp.diff(phi, _z) + _z * phi, *boundary))
        .substitute(E_phi2, phi2, "Gaussian integral of phi^2", proof=proof_phi2,
                    conditions=(phi**2 * density - scale * sp.exp(-weight * _z**2),))
        .substitute(E_Phi2, sheppard, "heat equation: d/ds^2 E Phi^2 = E[(Phi^2)'']/2 = E phi^2/(1+s^2), "
                    "E Phi^2 = 1/4 at s^2 = 0 (Sheppard's orthant probability)", proof=sheppard,
                    conditions=(sp.diff(density, s2) - sp.diff(density, _z, 2) / 2,
                                sp.diff(Phi**2, _z, 2) - (2 * phi**2 - 2 * _z * Phi * phi),
                                sp.diff(sheppard, s2) - rate, sheppard.subs(s2, 0) - Phi.subs(_z, 0) ** 2))
        .step(gelu_inverse_snr_value(), "collect the terms")
    )


def _sigmoid(x):
    return 1 / (1 + sp.exp(-x))


@lru_cache(maxsize=256)
def _sigmoid_slope_moment(s2_mpf: tuple, prec: int):
    """``E[Z^2 sigmoid'(Z)]``, ``Z ~ N(0, s2)``, by tanh-sinh quadrature at ``prec + 20`` bits (cached: the
    engine evaluates the same value for a claim and for the controls that use it)."""
    with mpmath.workprec(prec + 20):
        s2 = mpmath.mpf(s2_mpf)
        sd = mpmath.sqrt(s2)
        points = sorted({mpmath.mpf(0), sd, 4 * sd, 12 * sd, mpmath.mpf(2), mpmath.mpf(40)}) + [mpmath.inf]
        integrand = lambda z: z**2 * mpmath.exp(-z**2 / (2 * s2)) / (4 * mpmath.cosh(z / 2) ** 2)  # noqa: E731
        return 2 * mpmath.quad(integrand, points) / mpmath.sqrt(2 * mpmath.pi * s2)


class SigmoidSlopeMoment(sp.Function):
    """``E[Z^2 sigmoid'(Z)]`` for ``Z ~ N(0, s2)``, ``sigmoid'(z) = 1/(4 cosh(z/2)^2)``.

    It has no closed form that sympy finds; numerical values (``evalf``, hence
    :func:`proofs_check.ledger.evaluate`) come from mpmath's tanh-sinh quadrature of
    ``2 int_0^inf z^2 sigmoid'(z) phi_s(z) dz`` at the requested precision plus 20 guard bits, with
    breakpoints at the Gaussian's and the sigmoid's scales so that every ``s2`` is resolved.
    """

    nargs = 1
    is_real = True

    @classmethod
    def eval(cls, s2):
        if s2.is_zero:
            return sp.S.Zero
        return None

    def _eval_is_positive(self):
        return self.args[0].is_positive

    def _eval_evalf(self, prec):
        arg = self.args[0].evalf(prec)
        if not arg.is_Number:
            return None
        return sp.Expr._from_mpmath(_sigmoid_slope_moment(arg._to_mpmath(prec + 20)._mpf_, prec), prec)

    def _latex(self, printer, exp=None):
        body = r"\mathbb{E}\left[Z^{2}\sigma'(Z)\right]_{Z\sim\mathcal{N}(0,\,%s)}" % printer._print(self.args[0])
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)


@cache
def inverse_snr_silu() -> Derivation:
    """SiLU ``z sigmoid(z)``: ``E[SiLU(Z)^2] = s^2/2 - E[Z^2 sigmoid'(Z)]``, ``Z ~ N(0, s^2)``.

    Pointwise ``sigmoid^2 = sigmoid - sigmoid'`` (as ``sigmoid' = sigmoid (1 - sigmoid)``), so
    ``E[Z^2 sigmoid(Z)^2] = E[Z^2 sigmoid(Z)] - E[Z^2 sigmoid'(Z)]``; and ``sigmoid(z) + sigmoid(-z) = 1``
    with ``Z`` symmetric gives ``E[Z^2 sigmoid(Z)] = E[Z^2]/2 = s^2/2``, the ReLU value. Both pointwise
    identities are verified by sympy. What is left, ``E[Z^2 sigmoid'(Z)] > 0``, has no closed form:
    it is :class:`SigmoidSlopeMoment`, evaluated by quadrature. SiLU's second moment is therefore
    exactly the ReLU one minus a positive correction. Signal ``c = SiLU(||k_i||^2)``.
    """
    from sympy.stats import E, Normal

    s2 = key_norm2
    silu_ii = s2 * _sigmoid(s2)
    slope = sp.diff(_sigmoid(_z), _z)
    half_second = E(Normal("Z", 0, sp.sqrt(s2)) ** 2) / 2
    return (
        inverse_snr_general()
        .substitute(kernel_ii, silu_ii, "sigma(||k_i||^2) = ||k_i||^2 sigmoid(||k_i||^2)",
                    proof=(_z * _sigmoid(_z)).subs(_z, s2))
        .substitute(E_kernel2, s2 / 2 - SigmoidSlopeMoment(s2),
                    "E[SiLU(Z)^2] = E[Z^2 sigmoid(Z)] - E[Z^2 sigmoid'(Z)] (sigmoid^2 = sigmoid - sigmoid'), "
                    "and E[Z^2 sigmoid(Z)] = E[Z^2]/2 (sigmoid(z) + sigmoid(-z) = 1, Z symmetric)",
                    proof=half_second - SigmoidSlopeMoment(s2),
                    conditions=(_sigmoid(_z) ** 2 - (_sigmoid(_z) - slope), _sigmoid(_z) + _sigmoid(-_z) - 1))
    )


@cache
def inverse_snr_threshold() -> Derivation:
    """ReLU FFN keeping only activations above ``t = a ||k_i||`` (top-k sparsity, ``k ~ (N-1) Q(a) + 1``).

    ``E[Z^2 1{Z > a s}] = s^2 (Q(a) + a phi(a))`` for ``Z ~ N(0, s^2)``, ``Q = 1 - Phi``; the signal is
    kept when ``||k_i||^2 > t``. Hence ``SNR^{-1} = (N-1) d_v (Q(a) + a phi(a)) / (||k_i||^2 ||v_i||^2)``.
    """
    # substitute z = s u: the kept second moment is s^2 int_a^oo u^2 phi(u) du (u = a + p, p > 0, is kept)
    s = sp.sqrt(key_norm2)
    above = a_threshold + _zp
    kept = key_norm2 * sp.integrate((_threshold_relu(s * above) / s) ** 2 * _gauss_density(1, above), (_zp, 0, sp.oo))
    tail = 1 - std_normal_cdf(a_threshold) + a_threshold * sp.exp(-a_threshold**2 / 2) / sp.sqrt(2 * sp.pi)
    return (
        inverse_snr_general()
        .substitute(E_kernel2, key_norm2 * tail, "int_{a s}^oo z^2 phi_s(z) dz = s^2 (Q(a) + a phi(a)) (0 below a s)",
                    proof=kept, conditions=(_threshold_relu(s * (a_threshold - _zp)), _threshold_relu(s * a_threshold)))
        .substitute(kernel_ii, key_norm2, "the stored slot is above threshold (||k_i|| > a): sigma = ||k_i||^2",
                    proof=_threshold_relu(key_norm2).subs(a_threshold, s - _margin))
        .step((N - 1) * d_v * tail / (key_norm2 * value_norm2), "cancel")
    )


@lru_cache(maxsize=256)
def _top_tail_moment(n: int, m: int, prec: int):
    """``M(n, m)`` of :class:`TopKTailMoment` at ``prec + 20`` bits (cached)."""
    with mpmath.workprec(prec + 20):
        a, b = n - m, m
        log_norm = mpmath.log(mpmath.beta(a, b))

        def integrand(x):  # Beta(a, b) density at u = Phi(x), times du/dx = phi(x), times h(max(x, 0))
            lower, upper = mpmath.ncdf(x), mpmath.ncdf(-x)
            if lower <= 0 or upper <= 0:
                return mpmath.mpf(0)
            density = mpmath.exp((a - 1) * mpmath.log(lower) + (b - 1) * mpmath.log(upper) - log_norm)
            c = max(x, 0)
            return density * mpmath.npdf(x) * (mpmath.ncdf(-c) + c * mpmath.npdf(c))

        # breakpoints: 0 (the kink of h(max(x, 0))), and the Beta law's mean a/n mapped to x with
        # its standard deviation (mapped by the local slope of Phi^{-1}) on either side
        mean = mpmath.mpf(a) / n
        centre = mpmath.sqrt(2) * mpmath.erfinv(2 * mean - 1)
        spread = mpmath.sqrt(mpmath.mpf(a) * b / (n * n * (n + 1))) / mpmath.npdf(centre)
        points = {mpmath.mpf(0)} | {centre + j * spread for j in (-12, -4, 0, 4, 12)}
        nodes = [-mpmath.inf, *sorted(points), mpmath.inf]
        return n * mpmath.quad(integrand, nodes, method="gauss-legendre")


class TopKTailMoment(sp.Function):
    """``E[sum_{r=1}^{m} ReLU(X_(r))^2]``: the kept second moment of the ``m`` largest of ``n`` i.i.d.
    standard normals (``X_(1) >= X_(2) >= ...``), arguments ``(n, m)``.

    Order statistics give ``sum_{r<=m} f_(r)(x) = n phi(x) P(Bin(n-1, Q(x)) <= m-1)`` and the binomial
    tail is a Beta CDF, ``P(B <= Phi(x))`` with ``B ~ Beta(n-m, m)``; by Fubini the moment is
    ``n E[h(max(Phi^{-1}(B), 0))]`` with ``h(c) = Q(c) + c phi(c) = int_c^oo x^2 phi(x) dx``: the
    threshold formula at a random quantile threshold. Numerical values (``evalf``) integrate that
    in ``x = Phi^{-1}(u)`` over the Beta density (in log space, stable for any ``n``) with mpmath's
    Gauss-Legendre quadrature, breakpoints at the law's mean and its spread, and 20 guard bits.
    """

    nargs = 2
    is_real = True

    @classmethod
    def eval(cls, n, m):
        if m.is_zero:
            return sp.S.Zero
        if n.is_Integer and m.is_Integer and m >= n:
            return n / 2  # every ReLU(X)^2 kept: n E[ReLU(X)^2] = n/2
        return None

    def _eval_evalf(self, prec):
        n, m = (arg.evalf(prec) for arg in self.args)
        if not (n.is_Number and m.is_Number):
            return None
        return sp.Expr._from_mpmath(_top_tail_moment(int(n), int(m), prec), prec)

    def _latex(self, printer, exp=None):
        body = r"M_{%s}\!\left(%s\right)" % (printer._print(self.args[1]), printer._print(self.args[0]))
        return body if exp is None else r"%s^{%s}" % (body, exp)


@cache
def inverse_snr_topk() -> Derivation:
    """Top-k sparsity, exactly: ``SNR^{-1} = d_v M(N-1, k-1) / (||k_i||^2 ||v_i||^2)``.

    The queried slot's activation ``||k_i||^2`` is kept (it is among the ``k`` largest unless ``k``
    of the other ``N - 1`` pre-activations ``Z_j ~ N(0, s^2)`` exceed it); the others kept are then
    the ``k - 1`` largest ``ReLU(Z_j)``, whose squares sum to ``s^2 M(N-1, k-1)`` in expectation
    (:class:`TopKTailMoment`). ``(N-1) E[sigma^2]`` of the general form is that kept total. As ``N``
    grows with ``k/N -> Q(a)`` the Beta quantile concentrates at ``Phi(a)`` and ``M/(N-1) -> Q(a) +
    a phi(a)``: the threshold formula :func:`inverse_snr_threshold` is the limit.
    """
    k_active = sp.Symbol("k", positive=True, integer=True)
    kept = key_norm2 * TopKTailMoment(N - 1, k_active - 1) / (N - 1)
    return (
        inverse_snr_general()
        .cite(kept * (N - 1) * d_v / (kernel_ii**2 * value_norm2),
              "order statistics (David & Nagaraja, Order Statistics, 3rd ed., §2.1): the k - 1 other slots kept "
              "carry E[sum of the k - 1 largest ReLU(Z_j)^2] = s^2 M(N-1, k-1), with the queried slot kept")
        .substitute(kernel_ii, key_norm2, "the stored slot is kept: sigma = ReLU(||k_i||^2) = ||k_i||^2",
                    proof=relu_of(key_norm2))
        .step(d_v * TopKTailMoment(N - 1, k_active - 1) / (key_norm2 * value_norm2), "cancel")
    )


def sparsity_gain() -> sp.Expr:
    """SNR gain of threshold sparsity over the dense ReLU FFN: ``1 / (2 (Q(a) + a phi(a)))``."""
    return sp.simplify(inverse_snr_relu_ffn().result / inverse_snr_threshold().result)


# --- the FFN is a kernel memory: the slot identity ------------------------------------------------

@cache
def ffn_slot_identity(d_ff: int = 3, dim: int = 2, d_out: int = 2) -> Derivation:
    """``W_2 (sigma(W_1 x) * (W_3 x)) = sum_i v_i sigma(k_i^T x) (u_i^T x)`` for any ``sigma``, symbolically.

    ``k_i`` are the rows of ``W_1`` (``d_ff x dim``), ``u_i`` the rows of ``W_3`` (the GLU's up projection;
    ``u_i^T x = 1`` recovers the plain FFN), ``v_i`` the columns of ``W_2`` (``d_out x d_ff``); ``sigma`` is
    an undefined sympy function applied elementwise, so the identity holds for every activation. Checked on
    symbolic matrices of the given (small) sizes; the result is the zero vector.
    """
    sigma = sp.Function("sigma")
    W1 = sp.Matrix(d_ff, dim, lambda i, j: sp.Symbol(f"k_{i}{j}", real=True))
    W3 = sp.Matrix(d_ff, dim, lambda i, j: sp.Symbol(f"u_{i}{j}", real=True))
    W2 = sp.Matrix(d_out, d_ff, lambda i, j: sp.Symbol(f"v_{j}{i}", real=True))
    x = sp.Matrix(dim, 1, lambda i, _: sp.Symbol(f"x_{i}", real=True))
    hidden = (W1 * x).applyfunc(sigma).multiply_elementwise(W3 * x)
    layer = W2 * hidden
    slots = sum((W2[:, i] * sigma((W1[i, :] * x)[0]) * (W3[i, :] * x)[0] for i in range(d_ff)), sp.zeros(d_out, 1))
    return (
        Derivation(f"FFN as a sum over {d_ff} slots (d = {dim}, d_v = {d_out})", layer - slots,
                   lhs=sp.Symbol(r"W_2(\sigma(W_1x)\odot W_3x) - \sum_i v_i\,\sigma(k_i^\top x)\,u_i^\top x"))
        .step(sp.zeros(d_out, 1), "row i of W_1 x is k_i^T x; column i of W_2 multiplies hidden unit i")
    )


# --- the untied gated unit ------------------------------------------------------------------------

up_proj2 = sp.Symbol("up_proj2", positive=True)  # (u_i^T k_i)^2: the queried slot's up projection of its own key


@cache
def inverse_snr_untied_glu() -> Derivation:
    """Gated unit with independent gate and up keys, slot response ``ReLU(g_j^T x) (u_j^T x)``, queried at ``x = g_i``.

    For another slot ``z = g_j^T g_i`` and ``w = u_j^T g_i`` are independent ``N(0, ||g_i||^2)`` (independent
    rows), so ``E[ReLU(z)^2 w^2] = (||g_i||^2/2) ||g_i||^2``; the queried slot gives ``c = ||g_i||^2 (u_i^T g_i)``.
    Hence ``SNR^{-1} = (N - 1) d_v / (2 (u_i^T g_i)^2 ||v_i||^2)``: the gate key's norm cancels and only the up
    projection of the slot's own key is left. At its typical size ``(u_i^T g_i)^2 = ||g_i||^2`` this is the plain
    ReLU FFN's value; the tied unit (``u_i = g_i``) has ``3 (N-1) d_v/(2 ||g_i||^4 ||v_i||^2)``, a factor
    ``||g_i||^2/3 ~ d/3`` smaller. Averaged over ``u_i`` the value is infinite (``E[1/w^2] = oo`` for a Gaussian ``w``).

    >>> inverse_snr_untied_glu().result
    d_v*(N - 1)/(2*up_proj2*value_norm2)
    """
    from sympy.stats import E, Normal

    relu2 = half_line_moment(relu_of)
    up = E(Normal("W", 0, sp.sqrt(_a)) ** 2).subs(_a, key_norm2)
    return (
        inverse_snr_general()
        .substitute(E_kernel2, key_norm2**2 / 2, "E[ReLU(z)^2 w^2] = E[ReLU(z)^2] E[w^2] = (||g_i||^2/2) ||g_i||^2 "
                    "(gate and up rows independent; ReLU is 0 for z <= 0)", proof=relu2 * up,
                    conditions=(relu_of(_zn),))
        .substitute(kernel_ii, key_norm2 * sp.sqrt(up_proj2),
                    "c = ReLU(||g_i||^2) (u_i^T g_i); c^2 = ||g_i||^4 (u_i^T g_i)^2",
                    proof=relu_of(key_norm2) * sp.sqrt(up_proj2))
        .step((N - 1) * d_v / (2 * up_proj2 * value_norm2), "the gate key's norm cancels")
    )


# --- width ------------------------------------------------------------------------------------------

rho_target = sp.Symbol("rho", positive=True)  # the target SNR^{-1}
glu_index = sp.Symbol("glu", integer=True, nonnegative=True)  # 0 plain ReLU FFN, 1 tied ReLU-gated unit


@cache
def width_capacity() -> Derivation:
    """At fixed ``d`` the slot SNR^{-1} is ``(d_ff - 1) g`` (``g`` the per-slot crosstalk, independent of ``d_ff``), so
    the widest FFN whose slots are still retrieved at ``SNR^{-1} <= rho`` has ``d_ff* = 1 + rho/g``:

    * ReLU: ``g = d_v/(2 ||k_i||^2 ||v_i||^2)``, ``d_ff* = 1 + 2 rho ||k_i||^2 ||v_i||^2/d_v`` (about ``1 + 2 rho d``);
    * tied ReLU-gated unit: ``g = 3 d_v/(2 ||k_i||^4 ||v_i||^2)``, ``d_ff* = 1 + 2 rho ||k_i||^4 ||v_i||^2/(3 d_v)``
      (about ``1 + 2 rho d^2/3``).

    Width adds slots but not retrievable ones: beyond ``d_ff*`` every slot's SNR falls below the target.

    >>> width_capacity().result
    Piecewise((1 + 2*key_norm2*rho*value_norm2/d_v, Eq(glu, 0)), (1 + 2*key_norm2**2*rho*value_norm2/(3*d_v), True))
    """
    solved = [sp.solve(sp.Eq(d.result, rho_target), N)[0] for d in (inverse_snr_relu_ffn(), inverse_snr_reglu())]
    values = [1 + 2 * rho_target * key_norm2 * value_norm2 / d_v,
              1 + 2 * rho_target * key_norm2**2 * value_norm2 / (3 * d_v)]
    start = sp.Piecewise((solved[0], sp.Eq(glu_index, 0)), (solved[1], True))
    return (
        Derivation("widest FFN at a target SNR^{-1}", start, lhs=sp.Symbol(r"d_{ff}^*"))
        .step(sp.Piecewise((values[0], sp.Eq(glu_index, 0)), (values[1], True)),
              "solve (d_ff - 1) g = rho for d_ff (ReLU: ffn.relu.inverse_snr; tied gate: ffn.glu.reglu_inverse_snr)",
              check=sp.Matrix([s - v for s, v in zip(solved, values)]))
    )
