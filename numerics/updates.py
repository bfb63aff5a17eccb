"""Memory update rules (paper §4): token-by-token references and their parallel and chunked forms.

Shapes, shared by every function: keys ``K`` and queries ``Q`` are ``(T, d_k)`` (one token per
row), values ``V`` are ``(T, d_v)``, per-token scalars ``beta`` (write strength) and ``alpha`` /
``gamma`` (gate, decay) are ``(T,)``. The memory ``S`` is ``(d_v, d_k)``, starts at ``S_0 = 0``,
and the output ``O`` is ``(T, d_v)`` with row ``o_t = S_t q_t`` (the state *after* writing token t).

Rules (recurrences, ``t = 1..T``):

* linear attention (additive): ``S_t = S_{t-1} + v_t k_t^T``;
* decay / forget gate:        ``S_t = gamma_t S_{t-1} + v_t k_t^T``;
* DeltaNet:                   ``S_t = S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T``;
* gated DeltaNet:             ``S_t = alpha_t S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T``.

All four are one function in their parallel and chunked forms. Writing the new content as
``u_t = beta_t (v_t - alpha_t S_{t-1} k_t)`` (``u_t = v_t`` for the additive rules) gives
``S_t = alpha_t S_{t-1} + u_t k_t^T``, hence ``S_t = sum_{j<=t} Gamma_{tj} u_j k_j^T`` with the decay
mask ``Gamma_{tj} = prod_{s=j+1}^{t} alpha_s`` (``Gamma_tt = 1``, zero above the diagonal), and

    (I + diag(beta) (K K^T ⊙ Gamma^-)) U = diag(beta) V,      O = (Q K^T ⊙ Gamma) U,

where ``Gamma^- = Gamma - I`` (strictly lower). At ``alpha = beta = 1`` this is the notes' DeltaNet form
``O = (Q K^T ⊙ M)(I + K K^T ⊙ M^-)^{-1} V``. The chunked form applies the same solve inside chunks
of ``C`` tokens and carries the state ``S`` across chunk boundaries (the WY/UT representation).

Softmax attention is the additive rule in the feature space of ``kappa(x, y) = exp(x^T y / tau)``,
normalized: ``o_t = sum_{j<=t} kappa(k_j, q_t) v_j / sum_{j<=t} kappa(k_j, q_t)``.

DeltaFormer (notes §5.3) is the delta rule in a kernel's feature space, with two kernels, gates
``alpha``, ``beta`` and write keys ``W`` (``(T, d_k)``):

    u_t = alpha_t v_t - beta_t sum_{i<t} kappa_1(w_t, k_i) u_i,      o_t = sum_{i<=t} kappa_2(q_t, k_i) u_i,

the first stage strictly causal (``i < t``), each kernel optionally normalized over its visible
positions (softmax). Matrix form: ``U = (I + A)^{-1} diag(alpha) V`` with ``A_{ti} = beta_t
kappa_1(w_t, k_i)`` strictly lower-triangular.

Everything is float64 unless a ``dtype`` says otherwise.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided
from scipy.linalg import solve_triangular

from numerics.estimate import Estimate, check_variant, exact_value

__all__ = [
    "Kernel",
    "decayed_attention_chunked",
    "decayed_attention_parallel",
    "decayed_attention_recurrent",
    "delta_rule_step",
    "deltaformer_chunked",
    "deltaformer_parallel",
    "deltaformer_recurrent",
    "deltanet_chunked",
    "deltanet_parallel",
    "deltanet_recurrent",
    "exp_kernel",
    "gated_deltanet_chunked",
    "gated_deltanet_parallel",
    "gated_deltanet_recurrent",
    "linear_attention_chunked",
    "linear_attention_parallel",
    "linear_attention_recurrent",
    "linear_kernel",
    "measure_contraction_factor",
    "measure_deltaformer_forms",
    "measure_deltaformer_reduction",
    "measure_first_stage_amplification",
    "measure_householder_spectrum",
    "measure_optimizer_step",
    "measure_route_agreement",
    "measure_wy_product",
    "rule_loss_gradient",
    "softmax_attention_chunked",
    "softmax_attention_parallel",
    "softmax_attention_recurrent",
    "wy_representation",
]


# --- token-by-token references ---------------------------------------------------------------

def _ones(T, x):
    return np.ones(T) if x is None else np.asarray(x, dtype=float)


def delta_rule_step(S: np.ndarray, k: np.ndarray, v: np.ndarray, beta: float, alpha: float = 1.0) -> np.ndarray:
    """One gated delta-rule write: ``alpha S (I - beta k k^T) + beta v k^T`` (``alpha = 1``: DeltaNet)."""
    return alpha * (S - beta * np.outer(S @ k, k)) + beta * np.outer(v, k)


def linear_attention_recurrent(K, V, Q) -> np.ndarray:
    """Additive memory ``S_t = S_{t-1} + v_t k_t^T``, ``o_t = S_t q_t``; returns ``(T, d_v)``."""
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        S = S + np.outer(V[t], K[t])
        out[t] = S @ Q[t]
    return out


def decayed_attention_recurrent(K, V, Q, gamma) -> np.ndarray:
    """Forget-gated memory ``S_t = gamma_t S_{t-1} + v_t k_t^T``, ``o_t = S_t q_t``; ``gamma`` is ``(T,)``."""
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        S = gamma[t] * S + np.outer(V[t], K[t])
        out[t] = S @ Q[t]
    return out


def deltanet_recurrent(K, V, Q, beta=None) -> np.ndarray:
    """DeltaNet ``S_t = S_{t-1}(I - beta_t k_t k_t^T) + beta_t v_t k_t^T`` (one SGD step with rate
    ``beta_t`` on ``1/2 ||S k_t - v_t||^2``), ``o_t = S_t q_t``; ``beta`` is ``(T,)`` (default ones)."""
    beta = _ones(K.shape[0], beta)
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        S = delta_rule_step(S, K[t], V[t], beta[t])
        out[t] = S @ Q[t]
    return out


def gated_deltanet_recurrent(K, V, Q, alpha, beta) -> np.ndarray:
    """Gated DeltaNet ``S_t = alpha_t S_{t-1}(I - beta_t k_t k_t^T) + beta_t v_t k_t^T``, ``o_t = S_t q_t``."""
    S = np.zeros((V.shape[1], K.shape[1]))
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        S = delta_rule_step(S, K[t], V[t], beta[t], alpha[t])
        out[t] = S @ Q[t]
    return out


def softmax_attention_recurrent(K, V, Q, tau: float) -> np.ndarray:
    """Causal softmax attention as a normalized additive kernel memory, one token at a time.

    The memory after token t is the cache ``{(k_j, v_j)}_{j<=t}`` (the feature-space sum
    ``sum_j v_j phi(k_j)^T`` with ``phi(x)^T phi(y) = exp(x^T y / tau)``); the read-out is
    ``o_t = sum_{j<=t} exp(k_j^T q_t / tau) v_j / sum_{j<=t} exp(k_j^T q_t / tau)``, shifted by the
    row maximum (a common factor) so that it never overflows.
    """
    out = np.empty((K.shape[0], V.shape[1]))
    for t in range(K.shape[0]):
        scores = K[: t + 1] @ Q[t] / tau
        weights = np.exp(scores - scores.max())
        out[t] = weights @ V[: t + 1] / weights.sum()
    return out


# --- kernels for DeltaFormer -----------------------------------------------------------------

@dataclass(frozen=True)
class Kernel:
    """A pairwise kernel ``kappa(x_a, y_b)``: ``values(X, Y)`` maps ``(n, d)``, ``(m, d)`` to ``(n, m)``.

    ``log_values`` (when not None) returns ``log kappa`` in a numerically safe way; it is needed to
    normalize a kernel (softmax) in the chunked DeltaFormer, where normalizers are combined by
    log-sum-exp. Any callable with the same signature can stand in for ``values``.
    """

    name: str
    values: Callable[[np.ndarray, np.ndarray], np.ndarray]
    log_values: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    def __call__(self, X, Y):
        return self.values(X, Y)


def linear_kernel() -> Kernel:
    """``kappa(x, y) = x^T y``."""
    return Kernel("linear", lambda X, Y: X @ Y.T)


def exp_kernel(tau: float) -> Kernel:
    """``kappa(x, y) = exp(x^T y / tau)``; normalized over visible positions it is softmax attention."""
    return Kernel(f"exp(x.y/{tau:g})", lambda X, Y: np.exp((X / tau) @ Y.T), lambda X, Y: (X / tau) @ Y.T)


def _kernel_weights(kernel, x, Y, normalize: bool) -> np.ndarray:
    """``kappa(x, y_i)`` over the rows of ``Y`` (normalized to sum 1 if asked, via logs when possible)."""
    if Y.shape[0] == 0:
        return np.zeros(0)
    log_values = getattr(kernel, "log_values", None)
    if normalize and log_values is not None:
        s = log_values(x[None, :], Y)[0]
        w = np.exp(s - s.max())
        return w / w.sum()
    w = np.asarray(kernel(x[None, :], Y))[0]
    return w / w.sum() if normalize else w


def deltaformer_recurrent(K, V, Q, W=None, *, kappa1, kappa2, alpha=None, beta=None,
                          normalize1: bool = False, normalize2: bool = False) -> np.ndarray:
    """DeltaFormer, token by token (notes §5.3, companion Eqs. 8-9).

    ``u_t = alpha_t v_t - beta_t sum_{i<t} a1(w_t, k_i) u_i`` and ``o_t = sum_{i<=t} a2(q_t, k_i) u_i``
    where ``a1 = kappa1`` normalized over ``i < t`` if ``normalize1`` (``u_1 = alpha_1 v_1``: nothing
    is visible) and ``a2 = kappa2`` normalized over ``i <= t`` if ``normalize2``.

    K, Q, W: ``(T, d_k)`` (``W`` defaults to ``K``: k-k similarity); V: ``(T, d_v)``; alpha, beta:
    ``(T,)`` (default ones); kappa1, kappa2: callables ``(X (n, d), Y (m, d)) -> (n, m)``, e.g.
    :func:`exp_kernel`, :func:`linear_kernel`. Returns ``O`` of shape ``(T, d_v)``; the rows of ``U``
    are the first-stage outputs (see :func:`deltaformer_parallel` for both).
    """
    T = K.shape[0]
    W = K if W is None else W
    alpha, beta = _ones(T, alpha), _ones(T, beta)
    U = np.empty((T, V.shape[1]))
    out = np.empty((T, V.shape[1]))
    for t in range(T):
        a1 = _kernel_weights(kappa1, W[t], K[:t], normalize1)
        U[t] = alpha[t] * V[t] - beta[t] * (a1 @ U[:t])
        a2 = _kernel_weights(kappa2, Q[t], K[: t + 1], normalize2)
        out[t] = a2 @ U[: t + 1]
    return out


# --- masks and the shared parallel form ------------------------------------------------------

def _decay_mask(alpha: np.ndarray) -> np.ndarray:
    """``Gamma_{tj} = prod_{s=j+1}^{t} alpha_s`` for ``t >= j``, else 0 (log-space cumulative sums)."""
    T = alpha.shape[0]
    with np.errstate(divide="ignore"):
        L = np.cumsum(np.log(alpha))
    diff = L[:, None] - L[None, :]
    mask = np.tril(np.ones((T, T), dtype=bool))
    G = np.zeros((T, T))
    G[mask] = np.exp(diff[mask])
    # a zero gate makes L = -inf; products across it are 0, and exactly 1 on the diagonal
    G[np.isnan(G)] = 0.0
    np.fill_diagonal(G, 1.0)
    return G


def _gated_delta_parallel(K, V, Q, alpha, beta, delta: bool, variant=None) -> np.ndarray:
    """``(I + diag(beta)(K K^T ⊙ Gamma^-)) U = diag(beta) V``, ``O = (Q K^T ⊙ Gamma) U``.

    ``delta=False`` is the additive rule (``U = V``). ``variant`` selects wrong routes used as
    negative controls: ``"full_mask"`` uses ``Gamma`` (diagonal included) in the solve,
    ``"no_beta"`` drops ``beta``.
    """
    G = _decay_mask(alpha)
    if not delta:
        return (Q @ K.T * G) @ V
    b = np.ones_like(beta) if variant == "no_beta" else beta
    strict = G - np.eye(len(G)) if variant != "full_mask" else G
    system = np.eye(len(G)) + b[:, None] * (K @ K.T * strict)
    U = solve_triangular(system, b[:, None] * V, lower=True, unit_diagonal=variant != "full_mask")
    return (Q @ K.T * G) @ U


def linear_attention_parallel(K, V, Q) -> np.ndarray:
    """``O = (Q K^T ⊙ M) V`` with the causal mask ``M`` (diagonal included)."""
    return _gated_delta_parallel(K, V, Q, np.ones(K.shape[0]), None, delta=False)


def decayed_attention_parallel(K, V, Q, gamma) -> np.ndarray:
    """``O = (Q K^T ⊙ Gamma) V`` with the decay mask ``Gamma_{tj} = prod_{s=j+1}^t gamma_s``."""
    return _gated_delta_parallel(K, V, Q, np.asarray(gamma, float), None, delta=False)


def deltanet_parallel(K, V, Q, beta=None, *, variant=None) -> np.ndarray:
    """``O = (Q K^T ⊙ M)(I + diag(beta)(K K^T ⊙ M^-))^{-1} diag(beta) V`` (``beta = 1``: the notes' form)."""
    beta = _ones(K.shape[0], beta)
    return _gated_delta_parallel(K, V, Q, np.ones(K.shape[0]), beta, delta=True, variant=variant)


def gated_deltanet_parallel(K, V, Q, alpha, beta, *, variant=None) -> np.ndarray:
    """``O = (Q K^T ⊙ Gamma)(I + diag(beta)(K K^T ⊙ Gamma^-))^{-1} diag(beta) V``."""
    return _gated_delta_parallel(K, V, Q, np.asarray(alpha, float), np.asarray(beta, float), delta=True,
                                 variant=variant)


def softmax_attention_parallel(K, V, Q, tau: float) -> np.ndarray:
    """``O = softmax(Q K^T / tau + log M) V`` (row-wise softmax over the causal mask)."""
    T = K.shape[0]
    scores = np.where(np.tril(np.ones((T, T), dtype=bool)), Q @ K.T / tau, -np.inf)
    P = np.exp(scores - scores.max(axis=1, keepdims=True))
    return (P / P.sum(axis=1, keepdims=True)) @ V


# --- chunked forms ---------------------------------------------------------------------------

def _chunk_view(X: np.ndarray, C: int, fill: float = 0.0) -> np.ndarray:
    """``X`` (``(T, ...)``) padded at the end to a multiple of ``C`` and reshaped to ``(T/C, C, ...)``."""
    T = X.shape[0]
    pad = (-T) % C
    if pad:
        X = np.concatenate([X, np.full((pad,) + X.shape[1:], fill)])
    return X.reshape((-1, C) + X.shape[1:])


def _unit_lower_inverses(A: np.ndarray) -> np.ndarray:
    """``(I + A_c)^{-1}`` for a batch of strictly lower-triangular ``A`` (``(n, C, C)``).

    Blocked inversion, bottom-up: with the inverses ``X11``, ``X22`` of the two diagonal halves of a
    ``2s x 2s`` diagonal block known, the block's inverse has lower-left part ``-X22 A21 X11``
    (as exact as forward substitution, unlike the power-series doubling of
    :func:`numerics.triangular_inverse.fast_inverse`). Each level is two batched products over every
    chunk and every diagonal block at once (strided views, no copies), so ``log2 C`` levels cost two
    NumPy calls each. Only matrix products are used: BLAS ``trsm`` would be cheaper in arithmetic,
    but a multi-threaded OpenBLAS leaves its workers spinning after it, which slowed the chunk pass
    that follows by a fifth on 2 cores (``bench/update_bench.py``). ``C`` that is not a power of two
    is padded with identity rows.
    """
    n, C, _ = A.shape
    size = 1 << max(C - 1, 0).bit_length()
    X = np.broadcast_to(np.eye(size), (n, size, size)).copy()
    # the strided views below share one set of strides: A must be a contiguous float64 copy like X
    A = np.ascontiguousarray(A, dtype=X.dtype)
    if size != C:
        A = np.pad(A, ((0, 0), (0, size - C), (0, size - C)))
    item = X.itemsize
    s = 1
    while s < size:
        shape = (n, size // (2 * s), 2 * s, 2 * s)
        strides = (size * size * item, 2 * s * (size + 1) * item, size * item, item)
        Xd = as_strided(X, shape, strides)
        Ad = as_strided(A, shape, strides)
        Xd[..., s:, :s] = -(Xd[..., s:, s:] @ (Ad[..., s:, :s] @ Xd[..., :s, :s]))
        s *= 2
    return X[:, :C, :C]


def _gated_delta_chunked(K, V, Q, alpha, beta, C: int, delta: bool, variant=None, group: int | None = None,
                         threads: bool = True) -> np.ndarray:
    """Chunks of ``C`` tokens; the state ``S`` (``d_v x d_k``) is passed across chunk boundaries.

    Inside a chunk with incoming state ``S_0`` and local cumulative gates ``g_t = prod_{s<=t} alpha_s``
    (from the chunk start): ``alpha_t S_{t-1} = g_t S_0 + sum_{j<t} (g_t / g_j) u_j k_j^T``, so with the
    chunk's WY/UT transform ``T_c = (I + diag(beta)(K K^T ⊙ Gamma^-))^{-1}``

        U = T_c diag(beta) (V - diag(g) K S_0^T),
        O = diag(g) Q S_0^T + (Q K^T ⊙ Gamma) U,
        S_C = g_C S_0 + U^T diag(g_C / g) K.

    Only the pass that carries ``S`` is sequential: two ``C x d`` by ``d x d`` products and one
    ``C x C`` by ``C x d`` product per chunk, the least the recurrence needs. The rest is batched
    over ``group`` chunks at a time (default: 512 tokens' worth): the transforms ``T_c`` before a group's pass, and the outputs
    (which do not feed back) after it, from the states saved on entry to each chunk. With more than
    one group and ``threads``, a second thread does the batched work, the next group's transforms
    and the last group's outputs, while this one carries the state: NumPy releases the GIL inside
    the products, so the two run on two cores. Every number is computed by the same operations
    either way. Memory beyond the inputs: ``O(T C + group (d_v d_k + C d_v))``. Cost
    ``O(T C d + T d^2)``.

    ``alpha=None`` means no gate. ``variant="no_carry"`` forgets the state between chunks (a
    control). The sequence is padded at the end with zero keys, values and queries (gate 1, beta 0),
    which changes no earlier output.
    """
    T, dk = K.shape
    dv = V.shape[1]
    group = max(1, 512 // C) if group is None else group
    k, v, q = _chunk_view(K, C), _chunk_view(V, C), _chunk_view(Q, C)
    n = k.shape[0]
    lower = np.tril(np.ones((C, C), dtype=bool))
    if alpha is None:
        g, G, decay = None, lower, None
        gk, gq, k_end = k, q, k
    else:
        log_g = np.cumsum(np.log(_chunk_view(alpha, C, 1.0)), axis=1)  # (n, C) local log cumulative gates
        g = np.exp(log_g)
        G = np.where(lower, np.exp(np.where(lower, log_g[:, :, None] - log_g[:, None, :], 0.0)), 0.0)
        decay = g[:, -1]
        gk, gq = g[:, :, None] * k, g[:, :, None] * q
        k_end = (g[:, -1:] / g)[:, :, None] * k
    b = _chunk_view(beta, C)[:, :, None] if delta else None
    strict = G & ~np.eye(C, dtype=bool) if g is None else G * ~np.eye(C, dtype=bool)
    out = np.empty((n, C, dv))

    def transforms(g0: int, g1: int):
        """``T_c``, ``beta v`` and ``beta g k`` for chunks ``g0 .. g1 - 1``."""
        A = k[g0:g1] @ k[g0:g1].transpose(0, 2, 1)
        A *= b[g0:g1]
        A *= strict if g is None else strict[g0:g1]
        return _unit_lower_inverses(A), b[g0:g1] * v[g0:g1], b[g0:g1] * gk[g0:g1]

    def outputs(g0: int, g1: int, states: np.ndarray, U: np.ndarray) -> None:
        o = out[g0:g1]
        np.matmul(gq[g0:g1], states.transpose(0, 2, 1), out=o)
        P = q[g0:g1] @ k[g0:g1].transpose(0, 2, 1)  # (Q K^T ⊙ Gamma) per chunk
        P *= G if g is None else G[g0:g1]
        o += P @ U

    starts = list(range(0, n, group))
    worker = ThreadPoolExecutor(max_workers=1) if threads and len(starts) > 1 else None
    # groups cycle through a few reused buffers (fresh arrays would pay for their page faults)
    slots = 3
    width = min(group, n)
    states_buf = np.empty((slots, width, dv, dk))
    U_buf = np.empty((slots, width, C, dv)) if delta else None
    r = np.empty((C, dv))
    pending: list = [None] * slots
    S = np.zeros((dv, dk))  # the state entering chunk c
    try:
        ready = {}
        for index in range(min(2, len(starts))) if delta else ():
            ready[index] = _later(worker, transforms, starts[index], min(starts[index] + group, n))
        for index, g0 in enumerate(starts):
            g1 = min(g0 + group, n)
            slot = index % slots
            if pending[slot] is not None:
                pending[slot].result()  # that group's outputs are done with this slot
            states = states_buf[slot, : g1 - g0]
            U = U_buf[slot, : g1 - g0] if delta else v[g0:g1]
            if delta:
                T_c, bv, bgk = ready.pop(index).result()
            for c in range(g0, g1):
                states[c - g0] = S
                u = U[c - g0]
                if delta:  # u = T_c (beta v - beta g k S_0^T)
                    j = c - g0
                    np.matmul(bgk[j], S.T, out=r)
                    np.subtract(bv[j], r, out=r)
                    np.matmul(T_c[j], r, out=u)
                if variant == "no_carry":
                    S = np.zeros((dv, dk))
                    continue
                if decay is not None:
                    S *= decay[c]
                S += u.T @ k_end[c]
            pending[slot] = _later(worker, outputs, g0, g1, states, U)
            if delta and index + 2 < len(starts):
                nxt = starts[index + 2]
                ready[index + 2] = _later(worker, transforms, nxt, min(nxt + group, n))
        for future in pending:
            if future is not None:
                future.result()
    finally:
        if worker is not None:
            worker.shutdown(wait=True)
    return out.reshape(-1, dv)[:T]


class _Ready:
    """A finished computation with the ``result()`` of a future (the single-thread path)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _later(worker: ThreadPoolExecutor | None, fn, *args):
    """``fn(*args)`` on the worker thread (a future), or now when there is no worker (a :class:`_Ready`)."""
    return worker.submit(fn, *args) if worker is not None else _Ready(fn(*args))


def linear_attention_chunked(K, V, Q, C: int, *, variant=None, threads: bool = True) -> np.ndarray:
    """Chunked additive memory (state carried across chunks; ``threads``: see :func:`deltanet_chunked`)."""
    return _gated_delta_chunked(K, V, Q, None, None, C, delta=False, variant=variant, threads=threads)


def decayed_attention_chunked(K, V, Q, gamma, C: int, *, variant=None, threads: bool = True) -> np.ndarray:
    """Chunked forget-gated memory."""
    return _gated_delta_chunked(K, V, Q, np.asarray(gamma, float), None, C, delta=False, variant=variant,
                                threads=threads)


def deltanet_chunked(K, V, Q, beta=None, C: int = 64, *, variant=None, threads: bool = True) -> np.ndarray:
    """Chunked DeltaNet (WY/UT form inside chunks, state carried across).

    Past 512 tokens the batched work (chunk transforms, outputs) runs on a second thread while this
    one carries the state; ``threads=False`` keeps everything on this thread. The result is the same
    bits either way. C = 32 was fastest at d = 64 (``bench/update_bench.py``).
    """
    return _gated_delta_chunked(K, V, Q, None, _ones(K.shape[0], beta), C, delta=True,
                                variant=variant, threads=threads)


def gated_deltanet_chunked(K, V, Q, alpha, beta, C: int = 64, *, variant=None, threads: bool = True) -> np.ndarray:
    """Chunked gated DeltaNet (``threads``: see :func:`deltanet_chunked`)."""
    return _gated_delta_chunked(K, V, Q, np.asarray(alpha, float), np.asarray(beta, float), C, delta=True,
                                variant=variant, threads=threads)


def _lse_rows(S: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp, ``-inf`` for an empty or fully masked row."""
    if S.shape[1] == 0:
        return np.full(S.shape[0], -np.inf)
    m = S.max(axis=1)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(S - safe[:, None]).sum(axis=1))


def _shifted_exp(S: np.ndarray):
    """``(exp(S - m), Z)`` with ``m`` the row maximum and ``Z`` the row log-sum-exp (``-inf`` if empty)."""
    if S.shape[1] == 0:
        return np.zeros(S.shape), np.full(S.shape[0], -np.inf)
    m = S.max(axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    E = np.subtract(S, m[:, None])
    np.exp(E, out=E)  # in place: these blocks are the largest arrays of the chunked forms
    with np.errstate(divide="ignore"):
        return E, m + np.log(E.sum(axis=1))


def _softmax_blocks(S_prev: np.ndarray, S_intra: np.ndarray, X_prev: np.ndarray, variant=None):
    """Combine a block of scores over earlier chunks and a masked block inside the chunk.

    Returns ``(P_prev @ X_prev, P_intra)`` where ``P = softmax`` over both blocks together. Each block
    is normalized on its own (``Z_prev``, ``Z_intra`` = row log-sum-exps) and re-weighted by its share
    of the full normalizer: ``sigma(Z_prev - Z_intra)`` and ``sigma(Z_intra - Z_prev)`` (notes §6 D.3).
    ``variant="no_recombine"`` adds the two normalized blocks with equal weights 1 (a control).
    """
    E_prev, z_prev = _shifted_exp(S_prev)
    E_intra, z_intra = _shifted_exp(S_intra)
    has_prev, has_intra = np.isfinite(z_prev), np.isfinite(z_intra)
    if variant == "no_recombine":
        share_prev, share_intra = has_prev.astype(float), has_intra.astype(float)
    else:
        z = np.logaddexp(z_prev, z_intra)
        with np.errstate(invalid="ignore"):
            share_prev = np.where(has_prev, np.exp(z_prev - z), 0.0)  # = sigma(Z_prev - Z_intra)
            share_intra = np.where(has_intra, np.exp(z_intra - z), 0.0)
    # exp(S - m) / exp(Z - m) is the block's own softmax; exp(Z - m) = row sum of E
    norm_prev = np.where(has_prev, share_prev / np.maximum(E_prev.sum(axis=1), np.finfo(float).tiny), 0.0)
    norm_intra = np.where(has_intra, share_intra / np.maximum(E_intra.sum(axis=1), np.finfo(float).tiny), 0.0)
    prev_part = norm_prev[:, None] * (E_prev @ X_prev) if X_prev.shape[0] else np.zeros((S_prev.shape[0], X_prev.shape[1]))
    return prev_part, norm_intra[:, None] * E_intra


def _causal_block(n: int, strict: bool) -> np.ndarray:
    return np.tril(np.ones((n, n), dtype=bool), k=-1 if strict else 0)


def _causal_softmax_rows(scores, Q, K, X, start: int, stop: int, variant=None) -> np.ndarray:
    """Rows ``start .. stop - 1`` of causal softmax attention with values ``X``: ``sum_{i<=t} p_ti x_i``.

    ``scores(Q_rows, K_rows)`` gives the logits. The block against earlier rows and the causal block
    inside the row range are combined by :func:`_softmax_blocks` (log-sum-exp shares).
    """
    q = Q[start:stop]
    intra = np.where(_causal_block(stop - start, strict=False), scores(q, K[start:stop]), -np.inf)
    prev_part, p_intra = _softmax_blocks(scores(q, K[:start]), intra, X[:start], variant)
    return prev_part + p_intra @ X[start:stop]


def softmax_attention_chunked(K, V, Q, tau: float, C: int = 64, *, variant=None) -> np.ndarray:
    """Causal softmax attention chunk by chunk: the scores against earlier chunks and the causal
    scores inside the chunk are normalized separately and recombined by their log-sum-exp shares."""
    T = K.shape[0]
    out = np.empty((T, V.shape[1]))
    for start in range(0, T, C):
        stop = min(start + C, T)
        out[start:stop] = _causal_softmax_rows(lambda X, Y: X @ Y.T / tau, Q, K, V, start, stop, variant)
    return out


def _stage2_matrix(kappa2, Q, K, normalize2: bool) -> np.ndarray:
    T = K.shape[0]
    mask = np.tril(np.ones((T, T), dtype=bool))
    log_values = getattr(kappa2, "log_values", None)
    if normalize2 and log_values is not None:
        s = np.where(mask, log_values(Q, K), -np.inf)
        P = np.exp(s - s.max(axis=1, keepdims=True))
    else:
        P = np.where(mask, kappa2(Q, K), 0.0)
    return P / P.sum(axis=1, keepdims=True) if normalize2 else P


def deltaformer_parallel(K, V, Q, W=None, *, kappa1, kappa2, alpha=None, beta=None, normalize1: bool = False,
                         normalize2: bool = False, return_u: bool = False, variant=None):
    """DeltaFormer in matrix form: ``U = (I + A)^{-1} diag(alpha) V``, ``O = A_2 U``.

    ``A_{ti} = beta_t a1(w_t, k_i)`` for ``i < t`` (strictly lower-triangular, rows normalized over
    ``i < t`` if ``normalize1``), ``(A_2)_{ti} = a2(q_t, k_i)`` for ``i <= t``. Solved by forward
    substitution (``O(T^2 d)``). ``variant="causal_first_stage"`` lets the first stage see ``i = t`` too
    (a wrong route). Returns ``O`` (and ``U`` if ``return_u``).
    """
    T = K.shape[0]
    W = K if W is None else W
    alpha, beta = _ones(T, alpha), _ones(T, beta)
    strict = _causal_block(T, strict=variant != "causal_first_stage")
    log_values = getattr(kappa1, "log_values", None)
    if normalize1 and log_values is not None:
        s = np.where(strict, log_values(W, K), -np.inf)
        z = _lse_rows(s)
        A1 = np.where(np.isfinite(z)[:, None], np.exp(s - np.where(np.isfinite(z), z, 0.0)[:, None]), 0.0)
    else:
        A1 = np.where(strict, kappa1(W, K), 0.0)
        if normalize1:
            sums = A1.sum(axis=1, keepdims=True)
            A1 = np.divide(A1, sums, out=np.zeros_like(A1), where=sums != 0)
    system = np.eye(T) + beta[:, None] * A1
    U = solve_triangular(system, alpha[:, None] * V, lower=True)
    O = _stage2_matrix(kappa2, Q, K, normalize2) @ U
    return (O, U) if return_u else O


def deltaformer_chunked(K, V, Q, W=None, *, kappa1, kappa2, alpha=None, beta=None, normalize1: bool = False,
                        normalize2: bool = False, C: int = 64, variant=None, threads: bool = True) -> np.ndarray:
    """DeltaFormer chunk by chunk (notes §6, D.3): ``T / C`` sequential steps.

    For the chunk of rows ``r`` the first stage is ``(I + diag(beta_r) A_rr) U_r = diag(alpha_r) V_r -
    diag(beta_r) A_{r,prev} U_prev``, with one matrix product against all earlier rows of ``U`` and a
    ``C x C`` triangular solve. With ``normalize1`` the scores against earlier chunks and the strictly
    causal scores inside the chunk are normalized separately and recombined by their log-sum-exp
    shares (``kappa1`` must provide ``log_values``). The second stage is attention with values ``U``
    (chunked softmax when ``normalize2``). ``variant="no_recombine"`` breaks the recombination.

    The second stage has no sequential dependence of its own: with ``normalize2`` it runs in row
    blocks of ``max(C, 256)``, each started as soon as the first stage has produced the rows of ``U``
    it reads. With ``threads`` and more than one block, a second thread runs them while this one
    goes on with the first stage (NumPy releases the GIL in the products and exponentials); the
    results are the same bits either way.
    """
    T = K.shape[0]
    W = K if W is None else W
    alpha, beta = _ones(T, alpha), _ones(T, beta)
    if normalize1 and getattr(kappa1, "log_values", None) is None:
        raise ValueError(f"normalize1 in the chunked form needs a kernel with log_values, got {kappa1!r}")
    U = np.empty((T, V.shape[1]))
    blocked2 = normalize2 and getattr(kappa2, "log_values", None) is not None
    out = np.empty_like(U) if blocked2 else None
    block = max(C, 256)

    def second_stage(start: int, stop: int) -> None:
        out[start:stop] = _causal_softmax_rows(kappa2.log_values, Q, K, U, start, stop, variant)

    worker = ThreadPoolExecutor(max_workers=1) if blocked2 and threads and T > block else None
    futures = []
    next_row = 0  # first row of the next second-stage block
    try:
        for start in range(0, T, C):
            sl = slice(start, min(start + C, T))
            n = sl.stop - start
            w = W[sl]
            if normalize1:
                intra = np.where(_causal_block(n, strict=True), kappa1.log_values(w, K[sl]), -np.inf)
                prev_part, A_rr = _softmax_blocks(kappa1.log_values(w, K[:start]), intra, U[:start], variant)
            else:
                A_rr = np.where(_causal_block(n, strict=True), kappa1(w, K[sl]), 0.0)
                prev_part = kappa1(w, K[:start]) @ U[:start]
            b = beta[sl][:, None]
            system = np.eye(n) + b * A_rr
            U[sl] = solve_triangular(system, alpha[sl][:, None] * V[sl] - b * prev_part, lower=True,
                                     unit_diagonal=True)
            # second-stage blocks whose rows of U are all known now
            while blocked2 and next_row < T and min(next_row + block, T) <= sl.stop:
                stop = min(next_row + block, T)
                futures.append(_later(worker, second_stage, next_row, stop))
                next_row = stop
        for future in futures:
            future.result()
    finally:
        if worker is not None:
            worker.shutdown(wait=True)
    if blocked2:
        return out
    return _stage2_matrix(kappa2, Q, K, normalize2) @ U


# --- WY / UT representation ------------------------------------------------------------------

def wy_representation(K: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``W`` (``(n, d)``) with ``prod_{i=1}^{n} (I - beta_i k_i k_i^T) = I - W^T K`` (product left to right).

    ``w_t = beta_t (k_t - sum_{i<t} (k_i^T k_t) w_i)``, i.e. the triangular solve
    ``(I + diag(beta)(K K^T ⊙ M^-)) W = diag(beta) K`` (the DeltaNet solve with values ``K``).
    """
    n = K.shape[0]
    system = np.eye(n) + beta[:, None] * np.tril(K @ K.T, k=-1)
    return solve_triangular(system, beta[:, None] * K, lower=True, unit_diagonal=True)


# --- numeric sides of the `update` claims ----------------------------------------------------

def _max_relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(b))), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def _random_sequence(rng, T, d_k, d_v):
    """Keys scaled to ``||k|| ~ 1`` (so ``beta ||k||^2 < 2`` for ``beta < 2``), Gaussian values and queries."""
    K = rng.standard_normal((T, d_k)) / np.sqrt(d_k)
    return K, rng.standard_normal((T, d_v)), rng.standard_normal((T, d_k))


def rule_loss_gradient(rule: str, S, k, v, *, beta=1.0, alpha=1.0, gamma=1.0, h: float = 1e-3):
    """``(grad, rate)``: the loss gradient by central differences (exact for these quadratic losses up to
    rounding) and the step size; the losses are those of :mod:`theory.updates` (written again here)."""
    def loss(X):
        if rule == "linear_attention":
            return -v @ X @ k
        if rule == "decay":
            return -v @ X @ k + (1 - gamma) / 2 * np.sum(X**2)
        if rule == "deltanet":
            r = X @ k - v
            return 0.5 * r @ r
        if rule == "gated_deltanet":
            r = X @ k - v / alpha
            return 0.5 * r @ r + (1 - alpha) / (2 * alpha * beta) * np.sum(X**2)
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

    Variants: ``"ascent"`` steps up the gradient; ``"rate_one"`` uses step 1 instead of the rule's rate.
    """
    check_variant(variant, {"ascent", "rate_one"})
    S = rng.standard_normal((d_v, d_k))
    k = rng.standard_normal(d_k) / np.sqrt(d_k)
    v = rng.standard_normal(d_v)
    grad, rate = rule_loss_gradient(rule, S, k, v, beta=beta, alpha=alpha, gamma=gamma)
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
    return exact_value(_max_relative_gap(sgd, update), method="rule vs central-difference gradient step, float64")


def measure_route_agreement(rng, *, rule: str, T: int, d_k: int, d_v: int, C: int, beta_max: float = 1.0,
                            alpha_min: float = 0.5, tau: float = 1.0, variant=None) -> Estimate:
    """Max relative gap of the parallel and the chunked form against the token loop (random inputs).

    ``beta_t ~ U(0, beta_max)``, gates ``alpha_t ~ U(alpha_min, 1)``; softmax uses temperature ``tau``.
    Variants (wrong routes): ``"full_mask"`` (M in place of M^- in the solve), ``"no_beta"``,
    ``"no_carry"`` (state not passed between chunks), ``"no_recombine"`` (softmax blocks added with
    equal weight).
    """
    check_variant(variant, {"full_mask", "no_beta", "no_carry", "no_recombine"})
    K, V, Q = _random_sequence(rng, T, d_k, d_v)
    beta = rng.uniform(0.0, beta_max, T)
    alpha = rng.uniform(alpha_min, 1.0, T)
    par_variant = variant if variant in ("full_mask", "no_beta") else None
    chunk_variant = variant if variant in ("no_carry", "no_recombine") else None
    if rule == "linear_attention":
        ref = linear_attention_recurrent(K, V, Q)
        routes = [linear_attention_parallel(K, V, Q), linear_attention_chunked(K, V, Q, C, variant=chunk_variant)]
    elif rule == "decay":
        ref = decayed_attention_recurrent(K, V, Q, alpha)
        routes = [decayed_attention_parallel(K, V, Q, alpha),
                  decayed_attention_chunked(K, V, Q, alpha, C, variant=chunk_variant)]
    elif rule == "deltanet":
        ref = deltanet_recurrent(K, V, Q, beta)
        routes = [deltanet_parallel(K, V, Q, beta, variant=par_variant),
                  deltanet_chunked(K, V, Q, beta, C, variant=chunk_variant)]
    elif rule == "gated_deltanet":
        ref = gated_deltanet_recurrent(K, V, Q, alpha, beta)
        routes = [gated_deltanet_parallel(K, V, Q, alpha, beta, variant=par_variant),
                  gated_deltanet_chunked(K, V, Q, alpha, beta, C, variant=chunk_variant)]
    elif rule == "softmax":
        ref = softmax_attention_recurrent(K, V, Q, tau)
        routes = [softmax_attention_parallel(K, V, Q, tau),
                  softmax_attention_chunked(K, V, Q, tau, C, variant=chunk_variant)]
    else:
        raise ValueError(f"unknown rule {rule!r}")
    gaps = [_max_relative_gap(r, ref) for r in routes]
    return exact_value(max(gaps), method="token loop vs parallel and chunked, float64",
                       parallel=gaps[0], chunked=gaps[1])


def measure_deltaformer_forms(rng, *, T: int, d_k: int, d_v: int, C: int, tau1: float = 1.0, tau2: float = 1.0,
                              beta_max: float = 1.0, variant=None) -> Estimate:
    """Token loop vs matrix form vs chunked DeltaFormer, softmax kernels (normalized exp) in both stages.

    Random write keys ``W``, ``alpha ~ U(0.5, 1.5)``, ``beta ~ U(0, beta_max)``. Variants:
    ``"causal_first_stage"`` (matrix form lets the first stage see ``i = t``), ``"no_recombine"``
    (chunked form adds the two softmax blocks with equal weight).
    """
    check_variant(variant, {"causal_first_stage", "no_recombine"})
    K, V, Q = _random_sequence(rng, T, d_k, d_v)
    W = rng.standard_normal((T, d_k)) / np.sqrt(d_k)
    alpha = rng.uniform(0.5, 1.5, T)
    beta = rng.uniform(0.0, beta_max, T)
    kw = dict(kappa1=exp_kernel(tau1), kappa2=exp_kernel(tau2), alpha=alpha, beta=beta, normalize1=True,
              normalize2=True)
    ref = deltaformer_recurrent(K, V, Q, W, **kw)
    par = deltaformer_parallel(K, V, Q, W, variant=variant if variant == "causal_first_stage" else None, **kw)
    chk = deltaformer_chunked(K, V, Q, W, C=C, variant=variant if variant == "no_recombine" else None, **kw)
    gaps = [_max_relative_gap(par, ref), _max_relative_gap(chk, ref)]
    return exact_value(max(gaps), method="DeltaFormer token loop vs matrix vs chunked, float64",
                       parallel=gaps[0], chunked=gaps[1])


def measure_deltaformer_reduction(rng, *, reduction: str, T: int, d_k: int, d_v: int, tau: float = 1.0,
                                  variant=None) -> Estimate:
    """Max relative gap between a reduced DeltaFormer (token loop) and the model it reduces to.

    ``reduction="softmax"``: ``beta = 0``, ``alpha = 1``, ``kappa_2`` normalized ``exp(x^T y / tau)`` against
    causal softmax attention (:func:`softmax_attention_parallel`). ``reduction="deltanet"``:
    ``kappa_1 = kappa_2 = x^T y`` unnormalized, ``w = k``, ``alpha = beta`` against DeltaNet's token loop.
    Variants: ``"beta_on"`` (softmax case with ``beta = 1``), ``"alpha_one"`` (DeltaNet case with ``alpha = 1``:
    the un-rescaled write).
    """
    check_variant(variant, {"beta_on", "alpha_one"})
    K, V, Q = _random_sequence(rng, T, d_k, d_v)
    if reduction == "softmax":
        beta = np.ones(T) if variant == "beta_on" else np.zeros(T)
        out = deltaformer_recurrent(K, V, Q, kappa1=exp_kernel(tau), kappa2=exp_kernel(tau), beta=beta,
                                    normalize1=True, normalize2=True)
        target = softmax_attention_parallel(K, V, Q, tau)
    elif reduction == "deltanet":
        beta = rng.uniform(0.1, 1.0, T)
        alpha = np.ones(T) if variant == "alpha_one" else beta
        out = deltaformer_recurrent(K, V, Q, kappa1=linear_kernel(), kappa2=linear_kernel(), alpha=alpha, beta=beta)
        target = deltanet_recurrent(K, V, Q, beta)
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    return exact_value(_max_relative_gap(out, target), method=f"DeltaFormer reduced to {reduction}, float64")


def measure_first_stage_amplification(rng, *, T: int, pattern: int, variant=None) -> Estimate:
    """``||(I + A)^{-1}||_inf`` (largest absolute row sum) of DeltaFormer's first stage, read off the model.

    The first stage is run through :func:`deltaformer_parallel` with values ``V = I_T``, so that
    ``U = (I + A)^{-1}`` itself. ``pattern=0``: the constant kernel ``kappa_1 = 1``, normalized over
    ``i < t``: uniform causal attention. ``pattern=1``: one-hot position keys ``k_i = e_i``, write keys
    ``w_t = e_{t-1}`` and the linear kernel, normalized: every token attends to its predecessor. Both
    ``A`` are exact in float64 (entries ``1/(t-1)`` or 0/1). ``rng`` is unused (deterministic inputs).
    """
    check_variant(variant, set())
    if pattern not in (0, 1):
        raise ValueError(f"pattern must be 0 (uniform) or 1 (predecessor), got {pattern!r}")
    eye = np.eye(T)
    if pattern == 0:
        kappa1 = Kernel("one", lambda X, Y: np.ones((X.shape[0], Y.shape[0])))
        K = W = np.zeros((T, 1))
    else:
        kappa1 = linear_kernel()
        K, W = eye, np.vstack([np.zeros((1, T)), eye[:-1]])
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
    return exact_value(_max_relative_gap(np.eye(d_k) - W.T @ K, P), method="WY product vs explicit product")


def measure_householder_spectrum(rng, *, d_k: int, x: float, variant=None) -> Estimate:
    """Max gap between the sorted eigenvalues of ``I - beta k k^T`` (random k, ``beta = x / ||k||^2``) and
    ``{1 - x, 1, ..., 1}``. Variant ``"unsquared_norm"`` predicts ``1 - beta ||k||`` for the small eigenvalue."""
    check_variant(variant, {"unsquared_norm"})
    k = rng.standard_normal(d_k)
    beta = x / float(k @ k)
    eig = np.sort(np.linalg.eigvalsh(np.eye(d_k) - beta * np.outer(k, k)))
    small = 1 - beta * np.sqrt(k @ k) if variant == "unsquared_norm" else 1 - x
    predicted = np.sort(np.concatenate([[small], np.ones(d_k - 1)]))
    return exact_value(float(np.max(np.abs(eig - predicted))), method="numpy eigvalsh vs predicted spectrum")


def measure_contraction_factor(rng, *, d_k: int, x: float) -> Estimate:
    """``||(I - beta k k^T) k|| / ||k||`` for a random key with ``beta ||k||^2 = x``."""
    k = rng.standard_normal(d_k)
    beta = x / float(k @ k)
    return exact_value(float(np.linalg.norm(k - beta * k * (k @ k)) / np.linalg.norm(k)),
                       method="norm of the updated key direction")
