"""The numeric sides of the ``update`` claims: each draws its inputs, runs the forms under test and
returns the discrepancy the claim predicts to be zero (or the quantity it predicts), as an
:class:`numerics.estimate.Estimate`.

Measurement code is kept apart from the code under test (:mod:`numerics.updates.recurrent`,
``parallel``, ``chunked``, ``kernels``). Where the routes compared share a helper, they are compared
with the independently written references of :mod:`numerics.updates.naive` instead of with each other.
Every ``variant`` is a deliberately wrong route used as a negative control.
"""

from __future__ import annotations

import numpy as np

from numerics.estimate import Estimate, check_variant, exact_value, largest
from numerics.updates.chunked import (decayed_attention_chunked, deltaformer_chunked,
                                      deltaformer_first_stage_listing,
                                      deltanet_chunked, gated_deltanet_chunked, linear_attention_chunked,
                                      softmax_attention_chunked)
from numerics.updates.cost import MultiplyAddCounter
from numerics.updates.kernels import Kernel, exp_kernel, linear_kernel
from numerics.updates.naive import (deltaformer_first_stage_reference, deltaformer_reference,
                                   softmax_attention_reference)
from numerics.updates.parallel import (decayed_attention_parallel, deltaformer_parallel, deltanet_parallel,
                                       gated_deltanet_parallel, linear_attention_parallel, softmax_attention_parallel,
                                       wy_representation)
from numerics.updates.recurrent import (comba_recurrent, decayed_attention_recurrent, delta_rule_step, deltaformer_recurrent,
                                        deltanet_recurrent, gated_deltanet_recurrent, linear_attention_recurrent,
                                        softmax_attention_recurrent)

__all__ = [
    "max_relative_gap",
    "measure_chunked_cost",
    "measure_comba_form",
    "measure_contraction_factor",
    "measure_deltaformer_forms",
    "measure_deltaformer_listing",
    "measure_deltaformer_reduction",
    "measure_first_stage_amplification",
    "measure_householder_spectrum",
    "measure_optimizer_step",
    "measure_route_agreement",
    "measure_softmax_forms",
    "measure_wy_product",
    "rule_loss_gradient",
]


def max_relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max |b|`` (the scale floored at the smallest normal float)."""
    scale = max(float(np.max(np.abs(b))), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def _random_sequence(rng, T, d_k, d_v):
    """Keys scaled to ``||k|| ~ 1`` (so ``beta ||k||^2 < 2`` for ``beta < 2``), Gaussian values and queries."""
    K = rng.standard_normal((T, d_k)) / np.sqrt(d_k)
    return K, rng.standard_normal((T, d_v)), rng.standard_normal((T, d_k))


def rule_loss_gradient(rule: str, S, k, v, *, beta=1.0, alpha=1.0, gamma=1.0, h: float = 1e-3,
                       penalty_half: float = 0.5):
    """``(grad, rate)``: the loss gradient by central differences (exact for these quadratic losses up to
    rounding) and the step size; the losses are those of :mod:`theory.updates` (written again here).

    ``penalty_half`` is the 1/2 in front of the ``||S||_F^2`` penalties (another value is a wrong loss).
    """
    def loss(X):
        if rule == "linear_attention":
            return -v @ X @ k
        if rule == "decay":
            return -v @ X @ k + penalty_half * (1 - gamma) * np.sum(X**2)
        if rule == "deltanet":
            r = X @ k - v
            return 0.5 * r @ r
        if rule == "gated_deltanet":
            r = X @ k - v / alpha
            return 0.5 * r @ r + penalty_half * (1 - alpha) / (alpha * beta) * np.sum(X**2)
        raise ValueError(f"unknown rule {rule!r}")
    grad = np.empty_like(S)
    for idx in np.ndindex(S.shape):
        E = np.zeros_like(S)
        E[idx] = h
        grad[idx] = (loss(S + E) - loss(S - E)) / (2 * h)
    rate = {"linear_attention": 1.0, "decay": 1.0, "deltanet": beta, "gated_deltanet": alpha * beta}[rule]
    return grad, rate


def measure_optimizer_step(rng, *, rule: str, d_k: int, d_v: int, beta: float = 1.0, alpha: float = 1.0,
                           gamma: float = 1.0, variant=None) -> Estimate:
    """Max relative gap between the rule's update and ``S - eta grad L`` (numerical gradient), random S, k, v.

    Variants: ``"ascent"`` steps up the gradient; ``"rate_one"`` uses step 1 instead of the rule's rate;
    ``"penalty_not_halved"`` drops the 1/2 of the ``||S||_F^2`` penalty (decay, gated DeltaNet).
    """
    check_variant(variant, {"ascent", "rate_one", "penalty_not_halved"})
    S = rng.standard_normal((d_v, d_k))
    k = rng.standard_normal(d_k) / np.sqrt(d_k)
    v = rng.standard_normal(d_v)
    grad, rate = rule_loss_gradient(rule, S, k, v, beta=beta, alpha=alpha, gamma=gamma,
                                    penalty_half=1.0 if variant == "penalty_not_halved" else 0.5)
    if variant == "rate_one":
        rate = 1.0
    sign = 1.0 if variant == "ascent" else -1.0
    sgd = S + sign * rate * grad
    update = {
        "linear_attention": lambda: S + np.outer(v, k),
        "decay": lambda: gamma * S + np.outer(v, k),
        "deltanet": lambda: delta_rule_step(S, k, v, beta),
        "gated_deltanet": lambda: delta_rule_step(S, k, v, beta, alpha),
    }[rule]()
    return exact_value(max_relative_gap(sgd, update), method="rule vs central-difference gradient step, float64")


def measure_comba_form(rng, *, T: int, d_k: int, d_v: int, alpha_min: float = 0.3, variant=None) -> Estimate:
    """Max relative gap between gated DeltaNet's token loop and the same rule written in the Comba form
    (:func:`numerics.updates.recurrent.comba_recurrent`, a separate loop); inputs :func:`_random_sequence`,
    ``alpha_t ~ U(alpha_min, 1)``, ``beta_t ~ U(0, 1)``. Variants: the Comba form's ``"target_not_rescaled"``
    and ``"rate_beta"``.
    """
    check_variant(variant, {"target_not_rescaled", "rate_beta"})
    K, V, Q = _random_sequence(rng, T, d_k, d_v)
    alpha = rng.uniform(alpha_min, 1.0, T)
    beta = rng.uniform(0.0, 1.0, T)
    return exact_value(max_relative_gap(comba_recurrent(K, V, Q, alpha, beta, variant=variant),
                                        gated_deltanet_recurrent(K, V, Q, alpha, beta)),
                       method="Comba-form loop vs gated DeltaNet loop, float64")


_WRONG_GATES = {"gates_ignored": np.ones_like, "gates_abs": np.abs, "gates_clipped": lambda a: np.maximum(a, 0.0),
                "zeros_as_one": lambda a: np.where(a == 0, 1.0, a)}


def measure_route_agreement(rng, *, rule: str, T: int, d_k: int, d_v: int, C: int, beta_max: float = 1.0,
                            alpha_min: float = 0.5, zero_share: float = 0.0, variant=None) -> Estimate:
    """Max relative gap of the parallel and the chunked form against the token loop, for the four linear rules.

    Inputs: :func:`_random_sequence`, ``beta_t ~ U(0, beta_max)``, gates ``alpha_t ~ U(alpha_min, 1)``
    (``alpha_min`` in ``[-1, 1]``: negative gates flip the state's sign), then ``round(zero_share T)`` gates
    (at least one) at distinct random positions set to exactly 0 (the state wiped; drawn only when
    ``zero_share > 0``, so the other draws are those of ``zero_share = 0``; a fixed count, so that a
    control that differs only at zero gates is never accepted by a draw without any). The token loop (:mod:`numerics.updates.recurrent`) shares no
    helper with the matrix and chunked forms, so it is their reference. Variants (wrong routes):
    ``"full_mask"`` (M in place of M^- in the solve), ``"no_beta"``, ``"no_carry"`` (state not passed
    between chunks); for the gated rules the matrix and chunked forms handed other gates than the loop:
    ``"gates_ignored"`` (every gate 1), ``"gates_abs"`` (``|alpha|``: a decay mask built from
    ``exp(cumsum(log |alpha|))`` loses the signs), ``"gates_clipped"`` (``max(alpha, 0)``: a negative
    gate read as 0) and ``"zeros_as_one"`` (a zero gate read as no gate, as a mask that skips ``log 0``
    would; it differs from the truth only where a gate is exactly 0).
    """
    check_variant(variant, {"full_mask", "no_beta", "no_carry", *_WRONG_GATES})
    if not -1.0 <= alpha_min <= 1.0:
        raise ValueError(f"alpha_min={alpha_min!r} must be in [-1, 1] (gates are drawn from U(alpha_min, 1))")
    if not 0.0 <= zero_share <= 1.0:
        raise ValueError(f"zero_share={zero_share!r} must be a probability in [0, 1]")
    K, V, Q = _random_sequence(rng, T, d_k, d_v)
    beta = rng.uniform(0.0, beta_max, T)
    alpha = rng.uniform(alpha_min, 1.0, T)
    if zero_share > 0:  # a fixed count, not a coin per gate: a short sequence always has some (T = 37: 4)
        alpha[rng.choice(T, size=max(1, round(zero_share * T)), replace=False)] = 0.0
    gates = _WRONG_GATES[variant](alpha) if variant in _WRONG_GATES else alpha  # handed to the forms under test
    par_variant = variant if variant in ("full_mask", "no_beta") else None
    chunk_variant = variant if variant == "no_carry" else None
    if rule == "linear_attention":
        ref = linear_attention_recurrent(K, V, Q)
        routes = [linear_attention_parallel(K, V, Q), linear_attention_chunked(K, V, Q, C, variant=chunk_variant)]
    elif rule == "decay":
        ref = decayed_attention_recurrent(K, V, Q, alpha)
        routes = [decayed_attention_parallel(K, V, Q, gates),
                  decayed_attention_chunked(K, V, Q, gates, C, variant=chunk_variant)]
    elif rule == "deltanet":
        ref = deltanet_recurrent(K, V, Q, beta)
        routes = [deltanet_parallel(K, V, Q, beta, variant=par_variant),
                  deltanet_chunked(K, V, Q, beta, C, variant=chunk_variant)]
    elif rule == "gated_deltanet":
        ref = gated_deltanet_recurrent(K, V, Q, alpha, beta)
        routes = [gated_deltanet_parallel(K, V, Q, gates, beta, variant=par_variant),
                  gated_deltanet_chunked(K, V, Q, gates, beta, C, variant=chunk_variant)]
    else:
        raise ValueError(f"unknown rule {rule!r}; expected one of linear_attention, decay, deltanet, gated_deltanet")
    gaps = [max_relative_gap(r, ref) for r in routes]
    return exact_value(largest(gaps), method="token loop vs parallel and chunked, float64",
                       parallel=gaps[0], chunked=gaps[1])


def _attention_inputs(rng, T, d_k, d_v):
    """Queries, keys (and DeltaFormer's write keys) ``N(0, I_{d_k})``, values ``N(0, I_{d_v})``: at
    ``tau = sqrt(d_k)`` the scores ``q^T k / tau`` have unit variance, as in attention layers."""
    return (rng.standard_normal((T, d_k)), rng.standard_normal((T, d_k)), rng.standard_normal((T, d_v)),
            rng.standard_normal((T, d_k)))


def _code_temperature(tau: float, variant) -> float:
    """The temperature handed to the code under test: ``1 / tau`` for the ``"tau_inverted"`` control, the
    same outputs as a kernel that multiplies the scores by ``tau`` where it should divide."""
    return 1.0 / tau if variant == "tau_inverted" else tau


def measure_softmax_forms(rng, *, T: int, d_k: int, d_v: int, C: int, tau: float, variant=None) -> Estimate:
    """Max relative gap of causal softmax attention's token loop, matrix form and chunked form from the
    naive reference :func:`numerics.updates.naive.softmax_attention_reference`, at temperature ``tau``.

    Inputs: :func:`_attention_inputs`. Variants (wrong routes): ``"no_recombine"`` (chunk blocks added
    with equal weights), ``"tau_inverted"`` (every route run at ``1 / tau``: the temperature applied the
    wrong way, which a check at ``tau = 1`` cannot see).
    """
    check_variant(variant, {"no_recombine", "tau_inverted"})
    Q, K, V, _ = _attention_inputs(rng, T, d_k, d_v)
    ref = softmax_attention_reference(Q, K, V, tau)
    t = _code_temperature(tau, variant)
    routes = [softmax_attention_recurrent(K, V, Q, t), softmax_attention_parallel(K, V, Q, t),
              softmax_attention_chunked(K, V, Q, t, C, variant=variant if variant == "no_recombine" else None)]
    gaps = [max_relative_gap(r, ref) for r in routes]
    return exact_value(largest(gaps), method="softmax token loop, matrix and chunked forms vs naive reference, float64",
                       loop=gaps[0], parallel=gaps[1], chunked=gaps[2])


def measure_deltaformer_forms(rng, *, T: int, d_k: int, d_v: int, C: int, tau1: float, tau2: float,
                              beta_max: float = 1.0, variant=None) -> Estimate:
    """Max relative gap of DeltaFormer's token loop, matrix form and chunked form from the naive reference
    :func:`numerics.updates.naive.deltaformer_reference`; softmax kernels (normalized ``exp(x^T y / tau)``)
    in both stages, temperatures ``tau1`` (first stage) and ``tau2`` (second stage).

    Inputs: :func:`_attention_inputs` (write keys ``W`` too), ``alpha ~ U(0.5, 1.5)``, ``beta ~ U(0, beta_max)``.
    Variants: ``"causal_first_stage"`` (matrix form lets the first stage see ``i = t``), ``"no_recombine"``
    (chunked form adds the two softmax blocks with equal weight), ``"tau_inverted"`` (both kernels built
    at ``1 / tau``: the shared kernel multiplying by the temperature), ``"alpha_dropped"`` (every route run
    with ``alpha = 1``, the reference with the drawn ``alpha``: the write not scaled).
    """
    check_variant(variant, {"causal_first_stage", "no_recombine", "tau_inverted", "alpha_dropped"})
    Q, K, V, W = _attention_inputs(rng, T, d_k, d_v)
    alpha = rng.uniform(0.5, 1.5, T)
    beta = rng.uniform(0.0, beta_max, T)
    ref = deltaformer_reference(Q, K, V, W, alpha, beta, tau1, tau2)
    kw = dict(kappa1=exp_kernel(_code_temperature(tau1, variant)), kappa2=exp_kernel(_code_temperature(tau2, variant)),
              alpha=np.ones(T) if variant == "alpha_dropped" else alpha, beta=beta, normalize1=True, normalize2=True)
    routes = [deltaformer_recurrent(K, V, Q, W, **kw),
              deltaformer_parallel(K, V, Q, W, variant=variant if variant == "causal_first_stage" else None, **kw),
              deltaformer_chunked(K, V, Q, W, C=C, variant=variant if variant == "no_recombine" else None, **kw)]
    gaps = [max_relative_gap(r, ref) for r in routes]
    return exact_value(largest(gaps),
                       method="DeltaFormer token loop, matrix and chunked forms vs naive reference, float64",
                       loop=gaps[0], parallel=gaps[1], chunked=gaps[2])


LISTING_SEQUENCES = 4  # Listing 1's check runs B = 2 batches of H = 2 heads: four independent sequences


def measure_deltaformer_listing(rng, *, T: int, d_k: int, C: int, similarity: int, variant=None) -> Estimate:
    """The companion's Listing 1 check: DeltaFormer's first stage, chunked against the token loop.

    ``u_t = v_t - sum_{i<t} softmax_{i<t}(w_t . k_i / sqrt(D)) u_i`` (``alpha = beta = 1``, ``D = d_k``),
    with ``w = k`` (``similarity=0``: Listing 1's k-k) or ``w = q`` (``similarity=1``: the q-k form of
    flash-linear-attention's ``deltaformer_attn(q, k, v)`` op). ``K``, ``V``, ``Q`` are standard normal
    ``(T, D)`` as the listing's ``torch.randn``, for :data:`LISTING_SEQUENCES` independent sequences.
    Returns ``max |U_chunked - U_loop|`` (absolute, as the listing's ``allclose``) over two chunked routes,
    :func:`numerics.updates.chunked.deltaformer_chunked` (triangular solve) and
    :func:`numerics.updates.chunked.deltaformer_first_stage_listing` (the listing's explicit inverse), the
    loop being the independently written :func:`numerics.updates.naive.deltaformer_first_stage_reference`.

    Variants: ``"tau_inverted"`` (the chunked form's kernel built at ``1/sqrt(D)``: scores multiplied by
    ``sqrt(D)`` instead of divided), ``"similarity_swapped"`` (the chunked form run with the other
    similarity), ``"no_recombine"`` (earlier-chunk and in-chunk softmax blocks added with equal weights).
    """
    check_variant(variant, {"tau_inverted", "similarity_swapped", "no_recombine"})
    if similarity not in (0, 1):
        raise ValueError(f"similarity must be 0 (k-k, Listing 1) or 1 (q-k, fla's op), got {similarity!r}")
    tau = float(np.sqrt(d_k))
    kernel = exp_kernel(_code_temperature(tau, variant))
    gaps, max_abs_u = [], 0.0
    for _ in range(LISTING_SEQUENCES):
        K, V, Q = (rng.standard_normal((T, d_k)) for _ in range(3))
        W = K if similarity == 0 else Q  # the write keys of the similarity checked
        ref = deltaformer_first_stage_reference(W, K, V, tau)
        max_abs_u = max(max_abs_u, float(np.max(np.abs(ref))))
        # the control runs the other similarity, named on its own (not as "not W"), so that a point whose W
        # were the wrong one would meet its control's inputs and have it accepted
        W_code = (Q if similarity == 0 else K) if variant == "similarity_swapped" else W
        U = deltaformer_chunked(K, V, Q, W_code, kappa1=kernel, kappa2=None,
                                normalize1=True, C=C, variant=variant if variant == "no_recombine" else None,
                                first_stage_only=True)
        gaps.append(float(np.max(np.abs(U - ref))))
        if variant != "no_recombine":  # the listing's own organisation (explicit inverse) recombines by construction
            U_listing = deltaformer_first_stage_listing(K, V, W_code, tau=_code_temperature(tau, variant), C=C)
            gaps.append(float(np.max(np.abs(U_listing - ref))))
    return exact_value(largest(gaps), method="chunked first stage vs naive token loop, float64, 4 sequences",
                       max_abs_u=max_abs_u)


def measure_chunked_cost(rng, *, T: int, d_k: int, C: int, variant=None) -> Estimate:
    """Multiply-adds of DeltaFormer's chunked first stage organised as Listing 1
    (:func:`numerics.updates.chunked.deltaformer_first_stage_listing`, explicit chunk inverse), counted by
    running it on instrumented arrays (:mod:`numerics.updates.cost`: a product ``(m x k)(k x n)`` is
    ``m k n``, an ``n x n`` inverse ``n^3``). Inputs ``K``, ``V`` standard normal ``(T, d_k)`` (the count does
    not depend on the values), k-k similarity, scale ``1/sqrt(d_k)``.
    """
    check_variant(variant, set())
    counter = MultiplyAddCounter()
    K, V = rng.standard_normal((T, d_k)), rng.standard_normal((T, d_k))
    deltaformer_first_stage_listing(counter.wrap(K), counter.wrap(V), tau=float(np.sqrt(d_k)), C=C)
    return exact_value(float(counter.count), method="multiply-adds counted on instrumented arrays")


def measure_deltaformer_reduction(rng, *, reduction: str, T: int, d_k: int, d_v: int, tau: float | None = None,
                                  variant=None) -> Estimate:
    """Max relative gap between a reduced DeltaFormer and the model it reduces to.

    ``reduction="softmax"``: ``beta = 0``, ``alpha = 1``, ``kappa_2`` normalized ``exp(x^T y / tau)``; the token
    loop and the matrix form against the naive causal softmax attention
    (:func:`numerics.updates.naive.softmax_attention_reference`), inputs :func:`_attention_inputs`.
    ``reduction="deltanet"``: ``kappa_1 = kappa_2 = x^T y`` unnormalized, ``w = k``, ``alpha = beta`` against
    DeltaNet's token loop (which shares no code with DeltaFormer's), inputs :func:`_random_sequence`.
    Variants: ``"beta_on"`` (softmax case with ``beta = 1``), ``"tau_inverted"`` (softmax case with the
    kernels at ``1 / tau``), ``"alpha_one"`` (DeltaNet case with ``alpha = 1``: the un-rescaled write).
    """
    check_variant(variant, {"beta_on", "tau_inverted", "alpha_one"})
    if reduction == "softmax":
        if tau is None:
            raise ValueError("the softmax reduction needs a temperature tau")
        Q, K, V, _ = _attention_inputs(rng, T, d_k, d_v)
        beta = np.ones(T) if variant == "beta_on" else np.zeros(T)
        kernel = exp_kernel(_code_temperature(tau, variant))
        kw = dict(kappa1=kernel, kappa2=kernel, beta=beta, normalize1=True, normalize2=True)
        target = softmax_attention_reference(Q, K, V, tau)
        outs = [deltaformer_recurrent(K, V, Q, **kw), deltaformer_parallel(K, V, Q, **kw)]
    elif reduction == "deltanet":
        K, V, Q = _random_sequence(rng, T, d_k, d_v)
        beta = rng.uniform(0.1, 1.0, T)
        alpha = np.ones(T) if variant == "alpha_one" else beta
        target = deltanet_recurrent(K, V, Q, beta)
        outs = [deltaformer_recurrent(K, V, Q, kappa1=linear_kernel(), kappa2=linear_kernel(), alpha=alpha,
                                      beta=beta)]
    else:
        raise ValueError(f"unknown reduction {reduction!r}; expected 'softmax' or 'deltanet'")
    return exact_value(largest([max_relative_gap(o, target) for o in outs]),
                       method=f"DeltaFormer reduced to {reduction} vs its target, float64")


def measure_first_stage_amplification(rng, *, T: int, pattern: int, variant=None) -> Estimate:
    """``||(I + A)^{-1}||_inf`` (largest absolute row sum) of DeltaFormer's first stage, read off the model.

    The first stage is run through :func:`deltaformer_parallel` with values ``V = I_T``, so that
    ``U = (I + A)^{-1}`` itself. ``pattern=0``: the constant kernel ``kappa_1 = 2``, normalized over
    ``i < t``: uniform causal attention (2, not 1, so that a kernel left unnormalized gives ``2T - 1``,
    not 2 as the constant 1 would). ``pattern=1``: one-hot position keys ``k_i = e_i``, write keys
    ``w_t = e_{t-1}`` and the linear kernel, normalized: every token attends to its predecessor.
    ``pattern=2``: the same keys, ``w_t = e_0``: every token attends to the first, so that the column
    sums of ``U`` (``T`` in the first column) differ from its row sums (2). Every ``A`` is exact in
    float64 (entries ``1/(t-1)`` or 0/1). ``rng`` is unused (deterministic inputs).
    """
    check_variant(variant, set())
    if pattern not in (0, 1, 2):
        raise ValueError(f"pattern must be 0 (uniform), 1 (predecessor) or 2 (first token), got {pattern!r}")
    eye = np.eye(T)
    if pattern == 0:
        kappa1 = Kernel("two", lambda X, Y: np.full((X.shape[0], Y.shape[0]), 2.0))
        K = W = np.zeros((T, 1))
    else:
        kappa1 = linear_kernel()
        W = np.vstack([np.zeros((1, T)), eye[:-1]]) if pattern == 1 else np.tile(eye[:1], (T, 1))
        K = eye
    _, U = deltaformer_parallel(K, eye, K, W, kappa1=kappa1, kappa2=linear_kernel(), normalize1=True,
                                return_u=True)
    return exact_value(float(np.max(np.abs(U).sum(axis=1))),
                       method="largest absolute row sum of U = (I + A)^{-1} from the model with V = I, float64")


def measure_wy_product(rng, *, n: int, d_k: int, beta_max: float = 1.0, variant=None) -> Estimate:
    """Max relative gap between ``prod_i (I - beta_i k_i k_i^T)`` (left to right) and ``I - W^T K``.

    Variant ``"no_solve"``: ``w_i = beta_i k_i`` (the first-order guess without the triangular solve).
    """
    check_variant(variant, {"no_solve"})
    K = rng.standard_normal((n, d_k)) / np.sqrt(d_k)
    beta = rng.uniform(0.0, beta_max, n)
    P = np.eye(d_k)
    for k, b in zip(K, beta):
        P = P @ (np.eye(d_k) - b * np.outer(k, k))
    W = beta[:, None] * K if variant == "no_solve" else wy_representation(K, beta)
    return exact_value(max_relative_gap(np.eye(d_k) - W.T @ K, P), method="WY product vs explicit product")


def measure_householder_spectrum(rng, *, d_k: int, x: float, variant=None) -> Estimate:
    """Max gap between the sorted eigenvalues of ``I - beta k k^T`` (random k, ``beta = x / ||k||^2``) and
    ``{1 - x, 1, ..., 1}``. Variant ``"unsquared_norm"`` predicts ``1 - beta ||k||`` for the small eigenvalue;
    ``"split_eigenvalue"`` predicts ``{1 - x/2, 1 - x/2, 1, ..., 1}`` (``d_k >= 2``): the right trace
    ``d_k - x`` but the wrong spectrum, which a check of the trace alone would accept."""
    check_variant(variant, {"unsquared_norm", "split_eigenvalue"})
    k = rng.standard_normal(d_k)
    beta = x / float(k @ k)
    eig = np.sort(np.linalg.eigvalsh(np.eye(d_k) - beta * np.outer(k, k)))
    low = ([1 - x / 2, 1 - x / 2] if variant == "split_eigenvalue"
           else [1 - beta * np.sqrt(k @ k)] if variant == "unsquared_norm" else [1 - x])  # the eigenvalues below 1
    predicted = np.sort(np.concatenate([low, np.ones(d_k - len(low))]))
    return exact_value(float(np.max(np.abs(eig - predicted))), method="numpy eigvalsh vs predicted spectrum")


def measure_contraction_factor(rng, *, d_k: int, x: float) -> Estimate:
    """``||(I - beta k k^T) k|| / ||k||`` for a random key with ``beta ||k||^2 = x``."""
    k = rng.standard_normal(d_k)
    beta = x / float(k @ k)
    return exact_value(float(np.linalg.norm(k - beta * k * (k @ k)) / np.linalg.norm(k)),
                       method="norm of the updated key direction")
