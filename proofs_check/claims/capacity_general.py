"""Section ``capacity``, topic ``general``: the general-kernel SNR formula itself (paper §3, notes §4.4).

The paper states ``SNR^{-1}_kappa = N E_{k_j}[kappa^2(k_j, k_i)] / kappa^2(k_i, k_i)`` for any kernel. Made
exact (``N - 1`` other pairs, the value-norm factor ``d_v/||v_i||^2`` kept) it is
``(N - 1) d_v E[kappa^2 | k_i] / (kappa(k_i, k_i)^2 ||v_i||^2)`` (:func:`theory.kernels.inverse_snr_general`).
Two claims check it as a formula rather than through one kernel at a time:

* ``instances``: it specialises to the closed forms of the linear, polynomial, ReLU and exponential
  claims (sympy, branch by branch), and the numeric side evaluates it with each kernel's moment by
  scipy quadrature, sharing nothing with the sympy moments;
* ``rbf``: a Monte Carlo check at a kernel that is not a function of the inner product, the
  Gaussian kernel ``exp(-||x - y||^2/(2 tau))`` (on the sphere it is the exp kernel up to a constant).
"""

from __future__ import annotations

import sympy as sp

from numerics import kernels as num
from proofs_check.claims.capacity_kernels import counting_the_query
from proofs_check.ledger import Claim, Constraint, Estimand, Kind, NegativeControl, Param, Provenance, register
from proofs_check.strategies import off_typical_norms
from theory import kernels as th
from theory.symbols import N, d_k, key_norm2, tau, value_norm2

_N = Param("N", 2, 10**6, description="number of stored pairs")
_DV = Param("d_v", 1, 1024, description="value dimension")
_KN = Param("key_norm2", 1e-3, 1e4, integer=False, description="||k_i||^2 of the stored key")
_VN = Param("value_norm2", 1e-3, 1e4, integer=False, description="||v_i||^2 of the stored value")
_TAU = Param("tau", 0.5, 64.0, integer=False, description="temperature / bandwidth")
_GAUSS = "k_j ~ N(0, I_{d_k}), v_j ~ N(0, I_{d_v}) i.i.d. for the other pairs; query q = k_i"
_COND = "conditional on (k_i, v_i): ||k_i||^2 = key_norm2 (direction uniform), ||v_i||^2 = value_norm2"


def _pt(kernel, **kw):
    base = {"N": 17, "d_v": 8, "key_norm2": 12.0, "value_norm2": 8.0, "kernel": kernel, "p": 1, "tau": 2.0}
    return {**base, **kw}


def _instances_with(kernel, wrong):
    """The instance closed forms with branch ``kernel`` replaced by a ``wrong`` value."""
    values = list(th.instance_results())
    values[kernel] = wrong
    return th.by_kernel(values)


_INSTANCES = (_pt(0), _pt(1, p=3, key_norm2=5.0), _pt(2, value_norm2=3.0), _pt(3, tau=1.5), _pt(3, tau=4.0))
_NONZERO_MEAN = Constraint("a kernel whose noise has non-zero mean (ReLU, exp, even p)",
                           lambda q: q["kernel"] in (2, 3) or (q["kernel"] == 1 and q["p"] % 2 == 0))

register(Claim(
    id="capacity.general.instances",
    statement="The general-kernel formula SNR^{-1}_kappa = (N-1) d_v E[kappa^2(k_j,k_i) | k_i] / (kappa^2(k_i,k_i) "
              "||v_i||^2) specialises to the linear (kernel 0), polynomial (1), ReLU (2) and exponential (3) closed "
              "forms the ledger checks one by one.",
    anchor="§3, kernel mapping: the general-kernel SNR (notes §4.4; the paper, as review S6 quotes it, writes "
           "N for N - 1 and drops d_v/||v_i||^2)",
    provenance=Provenance.RECONSTRUCTED,
    kind=Kind.IDENTITY,
    estimand=Estimand(quantity="the general formula evaluated with E[kappa(Z)^2], Z ~ N(0, ||k_i||^2), by quadrature",
                      distributions=_GAUSS, conditioning=_COND,
                      notes="kernel: 0 linear x^T y, 1 (x^T y)^p, 2 ReLU(x^T y), 3 exp(x^T y/tau). Symbolic side: "
                            "sympy checks each branch against the instance claim's result. Numeric side: "
                            "scipy.integrate.quad of the kernel's square against the Gaussian density (relative "
                            "tolerance 1e-13), no sympy and no instance formula."),
    params=(_N, _DV, _KN, _VN, Param("kernel", 0, 3, description="0 linear, 1 polynomial, 2 ReLU, 3 exp"),
            Param("p", 1, 4, description="polynomial degree (kernel 1)"), _TAU),
    derivation=th.general_instances,
    symbol=r"\mathrm{SNR}^{-1}_\kappa",
    measure=num.measure_general_formula,
    grids={"quick": _INSTANCES[:4], "default": _INSTANCES, "full": _INSTANCES + (_pt(1, p=4, key_norm2=9.0),)},
    negative_controls=(
        NegativeControl("N_for_N_minus_1", "N in place of N - 1 (the count the reviews quote)",
                        prediction=lambda: th.general_instances().result.subs(N, N + 1), near_miss=True),
        NegativeControl("variance_for_second_moment", "Var kappa(Z) in place of E kappa(Z)^2 (the noise's mean "
                        "subtracted); numeric route", variant="variance", applies_when=_NONZERO_MEAN),
        NegativeControl("relu_variance", "ReLU branch with Var ReLU(Z) = ||k_i||^2 (1/2 - 1/(2 pi)) for E ReLU(Z)^2",
                        prediction=lambda: _instances_with(2, th.inverse_snr_relu().result * (1 - 1 / sp.pi)),
                        applies_when=Constraint("kernel = 2 (ReLU)", lambda q: q["kernel"] == 2)),
        NegativeControl("exp_sphere_typical", "exp branch at typical norm ||k_i||^2 = d_v (a slip of the stored "
                        "key's norm for the value's)", prediction=lambda: _instances_with(
                            3, th.inverse_snr_exp().result.subs(key_norm2, value_norm2)),
                        applies_when=Constraint("kernel = 3 (exp)", lambda q: q["kernel"] == 3)),
    ),
    atol=1e-12,
    rtol=1e-9,
    strategy={"N": (2, 64), "d_v": (1, 16), "key_norm2": (0.5, 20.0), "value_norm2": (0.5, 20.0),
              "kernel": (0, 3), "p": (1, 4), "tau": (1.0, 8.0)},
))


def _rbf():
    return th.inverse_snr_rbf().result


register(Claim(
    id="capacity.general.rbf_conditional",
    statement="For the Gaussian kernel exp(-||x-y||^2/(2 tau)) with Gaussian keys the general formula gives "
              "SNR^{-1} = (N-1) (d_v/||v_i||^2) (tau/(tau+2))^{d_k/2} exp(-||k_i||^2/(tau+2)): like the exp kernel, "
              "crosstalk per pair exponentially small in d_k.",
    anchor="§3, general-kernel SNR (notes §4.4) at a kernel the paper does not treat; suite",
    provenance=Provenance.SUITE,
    kind=Kind.STATISTICAL,
    estimand=Estimand(quantity="E ||r||^2 / (kappa(k_i,k_i)^2 ||v_i||^2), r = sum_{j!=i} v_j exp(-||k_j-k_i||^2/(2 tau))",
                      distributions=_GAUSS, conditioning=_COND,
                      notes="Reduced form: with k_i rotated onto the first axis, ||k_j - k_i||^2 = (g - ||k_i||)^2 + "
                            "chi^2(d_k - 1); values integrated exactly. tests/test_kernels.py checks it against the "
                            "full read-out. The squared kernel is bounded by 1: no heavy tail."),
    params=(_N, Param("d_k", 1, 1024, description="key dimension"), _DV, _KN, _VN,
            Param("tau", 0.05, 4096.0, integer=False, description="bandwidth (2 tau is the kernel's squared length)")),
    derivation=th.inverse_snr_rbf,
    symbol=r"\mathrm{SNR}^{-1}_{\mathrm{RBF}}",
    measure=num.measure_inverse_snr_rbf,
    trials={"quick": 4000, "default": 8000, "full": 16000},
    grids={"quick": ({"N": 17, "d_k": 8, "d_v": 4, "key_norm2": 8.0, "value_norm2": 6.0, "tau": 8.0},
                     {"N": 9, "d_k": 4, "d_v": 8, "key_norm2": 2.0, "value_norm2": 8.0, "tau": 2.0}),
           "default": ({"N": 17, "d_k": 8, "d_v": 4, "key_norm2": 8.0, "value_norm2": 6.0, "tau": 8.0},
                       {"N": 9, "d_k": 4, "d_v": 8, "key_norm2": 2.0, "value_norm2": 8.0, "tau": 2.0},
                       {"N": 33, "d_k": 16, "d_v": 16, "key_norm2": 24.0, "value_norm2": 16.0, "tau": 32.0}),
           "full": ({"N": 17, "d_k": 8, "d_v": 4, "key_norm2": 8.0, "value_norm2": 6.0, "tau": 8.0},
                    {"N": 9, "d_k": 4, "d_v": 8, "key_norm2": 2.0, "value_norm2": 8.0, "tau": 2.0},
                    {"N": 33, "d_k": 16, "d_v": 16, "key_norm2": 24.0, "value_norm2": 16.0, "tau": 32.0},
                    {"N": 33, "d_k": 64, "d_v": 16, "key_norm2": 64.0, "value_norm2": 16.0, "tau": 128.0})},
    negative_controls=(
        counting_the_query(_rbf),
        NegativeControl("shifted_axis_dropped", "(tau/(tau+2))^{(d_k-1)/2}: the factor of the shifted coordinate "
                        "kept only in the exponential", prediction=lambda: _rbf().subs(d_k, d_k - 1), near_miss=True),
        NegativeControl("offset_forgotten", "distances to the origin, not to k_i: the factor exp(-||k_i||^2/(tau+2)) "
                        "dropped", prediction=lambda: _rbf() * sp.exp(key_norm2 / (tau + 2)), route="centred"),
        NegativeControl("exp_kernel_value", "the exp-kernel value at the same tau (the kernels agree only on the "
                        "sphere)", prediction=lambda: th.inverse_snr_exp().result),
    ),
    strategy=off_typical_norms({"N": (2, 33), "d_k": (2, 16), "d_v": (2, 12), "tau": (2.0, 16.0)},
                               key_fraction=0.5, value_fraction=1.5),
))
