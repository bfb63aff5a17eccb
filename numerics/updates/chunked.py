"""Chunked forms of the update rules: chunks of ``C`` tokens, ``T / C`` sequential steps.

Shapes as in :mod:`numerics.updates.recurrent`. Inside a chunk the rules use their matrix form
(:mod:`numerics.updates.parallel`); across chunks the linear rules carry the state ``S``
(the WY/UT representation) and the softmax forms combine the scores against earlier chunks and
inside the chunk by their log-sum-exp shares (notes §6 D.3).
"""

from __future__ import annotations

import functools
import heapq
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided
from scipy.linalg.blas import dtrsm

from numerics.updates.parallel import _causal_block, _decay_mask, _stage2_matrix

__all__ = [
    "PREV_BLOCK",
    "STAGE2_BLOCK",
    "available_cores",
    "chunk_threads",
    "decayed_attention_chunked",
    "deltaformer_chunked",
    "deltaformer_first_stage_listing",
    "deltanet_chunked",
    "gated_deltanet_chunked",
    "linear_attention_chunked",
    "set_chunk_threads",
    "softmax_attention_chunked",
]


_blas_state = {"controller": None, "depth": 0}


def one_blas_thread_while(fn):
    """``fn`` (a chunked form), called from the main thread, runs with one BLAS thread; the setting before
    it is restored when it ends.

    The chunked forms bring threads of their own (:func:`chunk_threads`); OpenBLAS's threads on top of them
    spin after each multi-threaded product and compete for the cores. Measured on the 2-core development
    VM (T = 4096, d = 64, C = 128): the chunked DeltaFormer took 0.33-0.36 s with OpenBLAS's default two
    threads against 0.063 s with one (on one thread of its own 0.34 against 0.126 s). The limit is set
    with threadpoolctl (libraries found once; 2 us a call when BLAS already has one thread, as in every
    ``amverify`` run, 20 us otherwise). It is process-wide, as OpenBLAS's setting is. Calls from other
    threads run with the setting as it is: threadpoolctl lets one thread at a time own OpenBLAS's limit
    and ignores the others (a main thread inside ``threadpool_limits`` keeps its own), so a program that
    runs the forms on threads of its own pins BLAS itself, as ``amverify``'s workers do.
    """

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            return fn(*args, **kwargs)
        if _blas_state["controller"] is None:
            from threadpoolctl import ThreadpoolController

            _blas_state["controller"] = ThreadpoolController().select(user_api="blas")
        controller = _blas_state["controller"]
        limiter = None
        if _blas_state["depth"] == 0 and any(lib.num_threads != 1 for lib in controller.lib_controllers):
            limiter = controller.limit(limits=1)
        _blas_state["depth"] += 1
        try:
            return fn(*args, **kwargs)
        finally:
            _blas_state["depth"] -= 1
            if limiter is not None:
                limiter.restore_original_limits()

    return call


def _ones(T, x):
    return np.ones(T) if x is None else np.asarray(x, dtype=float)


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


@one_blas_thread_while
def _gated_delta_chunked(K, V, Q, alpha, beta, C: int, delta: bool, variant=None, group: int | None = None,
                         threads: bool = True) -> np.ndarray:
    """Chunks of ``C`` tokens; the state ``S`` (``d_v x d_k``) is passed across chunk boundaries.

    Inside a chunk with incoming state ``S_0`` and local cumulative gates ``g_t = prod_{s<=t} alpha_s``
    (from the chunk start): ``alpha_t S_{t-1} = g_t S_0 + sum_{j<t} (g_t / g_j) u_j k_j^T``, where
    ``g_t / g_j`` stands for ``prod_{s=j+1}^t alpha_s`` (the chunk's decay mask ``Gamma``, computed without
    dividing, so that gates may be 0 or negative), so with the chunk's WY/UT transform
    ``T_c = (I + diag(beta)(K K^T ⊙ Gamma^-))^{-1}``

        U = T_c diag(beta) (V - diag(g) K S_0^T),
        O = diag(g) Q S_0^T + (Q K^T ⊙ Gamma) U,
        S_C = g_C S_0 + U^T diag(g_C / g) K.

    Only the pass that carries ``S`` is sequential: two ``C x d`` by ``d x d`` products and one
    ``C x C`` by ``C x d`` product per chunk, the least the recurrence needs. The rest is batched
    over ``group`` chunks at a time (default: 512 tokens' worth): the transforms ``T_c`` before a
    group's pass, and the outputs (which do not feed back) after it, from the states saved on entry
    to each chunk. With more than one group and more than one thread (:func:`chunk_threads`), a
    second thread does the batched work, the next group's transforms and the last group's outputs,
    while this one carries the state: NumPy releases the GIL inside the products, so the two run on
    two cores. Every number is computed by the same operations
    either way. Memory beyond the inputs: ``O(T C + group (d_v d_k + C d_v))``, the group buffers
    kept for the next call (:func:`_take`; nothing returned shares them). Cost
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
        a = _chunk_view(alpha, C, 1.0)
        g = np.cumprod(a, axis=1)  # (n, C) local cumulative gates
        G = _decay_mask(a)  # (n, C, C): g_t / g_j without dividing (a gate may be 0)
        decay = g[:, -1]
        gk, gq = g[:, :, None] * k, g[:, :, None] * q
        k_end = G[:, -1, :, None] * k  # (g_C / g_j) k_j
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
    worker = ThreadPoolExecutor(max_workers=1) if chunk_threads(threads) > 1 and len(starts) > 1 else None
    # groups cycle through a few reused buffers, kept between calls (_take): fresh arrays would pay for their
    # page faults (1,440 per call on one thread at T = 4096, d = 64, C = 64, against 1,056 when kept)
    slots = 3
    width = min(group, n)
    work = [_take(slots * width * dv * dk)] + ([_take(slots * width * C * dv)] if delta else [])
    states_buf = work[0][: slots * width * dv * dk].reshape(slots, width, dv, dk)
    U_buf = work[1][: slots * width * C * dv].reshape(slots, width, C, dv) if delta else None
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
        _give(work)
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
    one carries the state, where :func:`chunk_threads` allows more than one (``threads=False``, or a
    process set to one thread by :func:`set_chunk_threads`, keeps everything on this thread). The
    result is the same bits either way. C = 32 was fastest at d = 64 (``bench/update_bench.py``).
    """
    return _gated_delta_chunked(K, V, Q, None, _ones(K.shape[0], beta), C, delta=True,
                                variant=variant, threads=threads)


def gated_deltanet_chunked(K, V, Q, alpha, beta, C: int = 64, *, variant=None, threads: bool = True) -> np.ndarray:
    """Chunked gated DeltaNet (``threads``: see :func:`deltanet_chunked`)."""
    return _gated_delta_chunked(K, V, Q, np.asarray(alpha, float), np.asarray(beta, float), C, delta=True,
                                variant=variant, threads=threads)


def _row_shift(S: np.ndarray) -> np.ndarray:
    """The shift of a block's exponentials: each row's maximum, 0 for a row with no finite score."""
    m = S.max(axis=1)
    return np.where(np.isfinite(m), m, 0.0)


def _shifted_exp(S: np.ndarray):
    """``(exp(S - m), Z)`` with ``m`` the row maximum and ``Z`` the row log-sum-exp (``-inf`` if empty)."""
    if S.shape[1] == 0:
        return np.zeros(S.shape), np.full(S.shape[0], -np.inf)
    m = _row_shift(S)
    E = np.subtract(S, m[:, None])
    np.exp(E, out=E)  # in place: these blocks are the largest arrays of the chunked forms
    with np.errstate(divide="ignore"):
        return E, m + np.log(E.sum(axis=1))


def _prev_summary(S_prev: np.ndarray, X_prev: np.ndarray):
    """``(E @ X_prev, row sums of E, m)`` with ``E = exp(S_prev - m)``, ``m`` the row maximum (0 where none)."""
    rows = S_prev.shape[0]
    if S_prev.shape[1] == 0:
        return np.zeros((rows, X_prev.shape[1])), np.zeros(rows), np.zeros(rows)
    m = _row_shift(S_prev)
    E = np.subtract(S_prev, m[:, None])
    np.exp(E, out=E)  # in place: these blocks are the largest arrays of the chunked forms
    return E @ X_prev, E.sum(axis=1), m


def _softmax_blocks(S_prev: np.ndarray, S_intra: np.ndarray, X_prev: np.ndarray, variant=None):
    """Combine a block of scores over earlier chunks and a masked block inside the chunk.

    Returns ``(P_prev @ X_prev, P_intra)`` where ``P = softmax`` over both blocks together. Each block
    is normalized on its own (``Z_prev``, ``Z_intra`` = row log-sum-exps) and re-weighted by its share
    of the full normalizer: ``sigma(Z_prev - Z_intra)`` and ``sigma(Z_intra - Z_prev)`` (notes §6 D.3).
    ``variant="no_recombine"`` adds the two normalized blocks with equal weights 1 (a control).
    """
    P_prev, sum_prev, m_prev = _prev_summary(S_prev, X_prev)
    with np.errstate(divide="ignore"):
        z_prev = np.where(sum_prev > 0, m_prev + np.log(np.where(sum_prev > 0, sum_prev, 1.0)), -np.inf)
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
    norm_prev = np.where(has_prev, share_prev / np.maximum(sum_prev, np.finfo(float).tiny), 0.0)
    norm_intra = np.where(has_intra, share_intra / np.maximum(E_intra.sum(axis=1), np.finfo(float).tiny), 0.0)
    return norm_prev[:, None] * P_prev, norm_intra[:, None] * E_intra


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


PREV_BLOCK = 1280  # columns (rows of U) per block of the products against earlier rows (fixed: results never
# depend on the cores). At d = 64, C = 128, two threads, in-process against 1024: 0.976-0.983 of the time at
# T = 4096, 0.988 at 3072, 0.979 at 5120, 0.965-0.970 at 6144 (less CPU: fewer, longer products); 1152,
# 1408, 1536 and 2048 were no better, 512 and 256 7 % and 19 % slower (more NumPy calls per pair)
STAGE2_BLOCK = 128  # rows per second-stage block (fixed, like PREV_BLOCK)
GROUP_ROWS = 384  # rows per task against one column block, all in one product (fixed, like PREV_BLOCK, so the
# bits never depend on the cores). At T = 4096, d = 64, C = 128, in-process against 256 rows: 0.980-0.982 of
# the time on two threads, 0.984 on one (the block packed for more rows); 128 and 512-768 were no better
HELP = (math.inf, 0)  # a waiting thread runs any queued task meanwhile: the cores stay busy
EARLY_MIN_THREADS = 3  # calls on at least this many threads queue each chunk's early piece as a task (below: the
# chunk pass computes it, where the rows of U it reads were just written). The split is the same either way, so
# are the bits. On two threads the pass is less than half a thread's work: against the unsplit part, queuing the
# piece measured 1.012 of the time, computing it in the pass 1.007-1.009 (T = 4096, in-process, 100 pairs); from
# about four threads on the pass, not the work, would bound a call
PREFETCH_GROUPS = 3  # per thread beyond the first: tasks against the first column block whose exponentiated
# scores are computed while that block of U is still being solved (the other threads are idle then)
_LOW_SUM = 1e-250  # an unshifted block's row sum below this (about e^-575) is recomputed with the row max as shift
SPARE_BYTES = 64 << 20  # at most this much of the chunked forms' work arrays is kept between calls

_spare: list = []  # float64 work arrays of finished calls (1-D), for the next call: see _take
_spare_lock = threading.Lock()


def _take(size: int) -> np.ndarray:
    """A float64 work array of at least ``size`` numbers (contents undefined): the smallest large enough
    one kept by an earlier call (:func:`_give`), else a new one.

    The chunked DeltaFormer's largest arrays (``U`` with its ones column, ``K^T``, one block of scores
    per thread) are about 2 MB each at T = 4096, d = 64, the chunked DeltaNet's state and ``U``
    buffers about 1.2 MB: allocated anew on every call, the C library gives their pages back to the
    OS when they are freed, and the next call pays a page fault per 4 kB page again (about 2 us each
    on the development VM). Kept here, they are written into memory already mapped."""
    with _spare_lock:
        fits = [i for i, a in enumerate(_spare) if a.size >= size]
        if fits:
            return _spare.pop(min(fits, key=lambda i: _spare[i].size))
    return np.empty(size)


def _give(arrays) -> None:
    """Keep ``arrays`` (from :func:`_take`, no longer used) for later calls, up to :data:`SPARE_BYTES` in all
    (the largest kept first)."""
    with _spare_lock:
        for a in sorted(arrays, key=lambda a: a.size, reverse=True):
            if sum(b.nbytes for b in _spare) + a.nbytes <= SPARE_BYTES:
                _spare.append(a)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_CHUNK_THREADS: int | None = None  # set_chunk_threads; None: every available core


def set_chunk_threads(n: int | None) -> int | None:
    """The threads a chunked form called with ``threads=True`` (the default) uses, for this whole process:
    ``n`` (at least 1), or ``None`` for one per available core (the default); returns the previous setting.

    A process that is one worker among several, each on its own core, sets 1, so that the workers do
    not each start a thread per core. No result depends on it: every chunked form gives the same bits
    on any number of threads. An explicit ``threads=`` argument of a call overrides it."""
    global _CHUNK_THREADS
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_chunk_threads needs a whole number >= 1 or None, got {n!r}")
    previous, _CHUNK_THREADS = _CHUNK_THREADS, n
    return previous


def chunk_threads(threads: bool | int = True) -> int:
    """The threads a chunked form runs on for its ``threads`` argument: ``True`` the process setting
    (:func:`set_chunk_threads`, else every available core), ``False`` one, a number that number."""
    if threads is True:
        return _CHUNK_THREADS if _CHUNK_THREADS is not None else available_cores()
    return 1 if threads is False else max(1, int(threads))


def _exp_part(log_values, X, Y, Z1, out=None, causal: bool = False, exps=None):
    """One block's part of a softmax: ``(exp(S - m) @ Z1, m)`` with ``S = log_values(X, Y)`` and ``Z1`` the
    values with a ones column last, so the product's last column is the row sums of the exponentials.

    The first try uses no shift (``m = None``, meaning 0): one product, one exponential in place, one
    product, no pass for a row maximum. Its result is kept when everything is finite and every row
    sums to at least :data:`_LOW_SUM`: then nothing overflowed, and the largest terms, which carry the
    sum to the last bit, are far above the subnormal range (a row of at most ``2^53`` terms summing to
    ``>= e^-575`` has its largest above ``e^-612``; terms more than 37 below the largest do not reach
    the last bit). Otherwise the block is recomputed with ``m`` = the row maximum, as
    :func:`_prev_summary` does. Both represent the same sums exactly to rounding; which one a block
    takes depends only on its numbers, never on the thread that computes it. ``out``: a scratch array
    of the scores' shape for ``log_values(X, Y, out=out)`` (a kernel with ``log_values_out``).
    ``causal``: the last ``len(X)`` rows of ``Y`` are the rows of ``X`` themselves, of which row ``i``
    sees ``j <= i`` only (a second-stage block's earlier rows and its own causal block in one product).
    ``exps``: ``exp(log_values(X, Y))`` computed beforehand (:func:`_scores_exp`, the same operations), in
    place of the first try's first two steps.
    """
    n = X.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        if exps is not None:
            S = exps
        elif out is None:
            S = _exp_in_place(log_values(X, Y))
        else:
            S = log_values(X, Y, out=out)
            np.exp(S, out=S)
        if causal:  # an overflow above the diagonal leaves inf * 0 = nan: caught below
            S[:, S.shape[1] - n:] *= _lower(n, False)
        P = S @ Z1
        if math.isfinite(P.sum()) and P[:, -1].min(initial=np.inf) >= _LOW_SUM:
            return P, None
    S = log_values(X, Y)
    if causal:
        S[:, S.shape[1] - n:] = np.where(_lower(n, False) > 0, S[:, S.shape[1] - n:], -np.inf)
    m = _row_shift(S)
    return _exp_in_place(S - m[:, None]) @ Z1, m


def _scores_exp(log_values, X, Y, out):
    """``exp(log_values(X, Y))`` written into ``out`` (a C-contiguous float64 array of the scores' shape), by
    the operations :func:`_exp_part` would use: its first try, ahead of the values it multiplies."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(log_values(X, Y, out=out), out=out)


def _exp_diagonal(log_values, X, Y, strict: bool):
    """``(E, s, m)`` for a square block of causal scores (``j <= i``, or ``j < i`` when ``strict``):
    ``E = exp(S - m)`` with the hidden entries 0, ``s`` its row sums, ``m`` the shift (``None`` or the
    row maximum, 0 for a row with nothing visible), chosen as in :func:`_exp_part`."""
    n = X.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        E = _exp_in_place(log_values(X, Y))
        E *= _lower(n, strict)  # an overflow above the diagonal leaves inf * 0 = nan: caught below
        s = E.sum(axis=1)
        if math.isfinite(s.sum()) and s[int(strict):].min(initial=np.inf) >= _LOW_SUM:
            return E, s, None
    S = np.where(_lower(n, strict) > 0, log_values(X, Y), -np.inf)
    m = _row_shift(S)
    E = _exp_in_place(S - m[:, None])
    return E, E.sum(axis=1), m


def _unit_lower_solve(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``X = (I + L)^{-1} B`` with ``L`` the strictly lower part of the square ``A`` (its diagonal and upper
    part are never read), as ``solve_triangular(A, B, lower=True, unit_diagonal=True)``. A C-ordered float64
    ``B`` is overwritten and ``X`` returned in its memory; other arrays are copied by SciPy's wrapper first
    (the right-hand side the chunked DeltaFormer builds is always C-ordered float64).

    BLAS ``dtrsm`` solves the transposed system ``X^T (I + L)^T = B^T`` from the right: a C-ordered array
    is the Fortran-ordered transpose, so neither ``A`` nor ``B`` is copied (SciPy's ``solve_triangular``
    copies both into Fortran order and goes through LAPACK ``trtrs``). At C = 128 and 64 columns about
    46 against 72 us; in the chunked DeltaFormer 0.984 of the time at T = 4096 and 0.990 at 6144 on two
    threads (in-process, alternated calls). The rounding differs from ``trtrs`` in the last bits."""
    return dtrsm(1.0, A.T, B.T, side=1, lower=0, diag=1, overwrite_b=True).T


@functools.lru_cache(maxsize=16)
def _lower(n: int, strict: bool) -> np.ndarray:
    """The causal mask of an ``n x n`` block as 0/1 floats (read-only, shared)."""
    mask = _causal_block(n, strict).astype(float)
    mask.flags.writeable = False
    return mask


def _exp_in_place(S: np.ndarray) -> np.ndarray:
    """``exp(S)``, in place when ``S`` is a float64 array of its own (the score blocks are the largest arrays)."""
    if S.dtype == np.float64 and S.base is None and S.flags.writeable and S.flags.c_contiguous:
        return np.exp(S, out=S)
    return np.exp(S)


def _merge_parts(parts):
    """The parts of disjoint column blocks of the same rows (in their order) as one: ``sum_b e^{m_b - M} P_b``
    with ``M`` the largest shift among blocks with a nonzero row sum (0 for a row without one)."""
    if all(m is None for _, m in parts):
        P = parts[0][0]  # a part's rows are its own (fresh from _exp_part): summed into in place
        for P_b, _ in parts[1:]:
            P += P_b
        return P, None
    ms = [np.zeros(len(P_b)) if m is None else m for P_b, m in parts]
    has = [P_b[:, -1] > 0 for P_b, _ in parts]
    M = np.max([np.where(h, m, -np.inf) for h, m in zip(has, ms)], axis=0)
    M = np.where(np.isfinite(M), M, 0.0)
    P = 0.0
    for (P_b, _), h, m in zip(parts, has, ms):
        P = P + np.where(h, np.exp(np.where(h, m - M, 0.0)), 0.0)[:, None] * P_b
    return P, M


def _shares(s_prev, m_prev, s_intra, m_intra, variant=None):
    """Per-row weights ``(c_prev, c_intra)`` of the earlier-row and in-chunk parts of a softmax: the parts
    have row sums ``s`` at shifts ``m`` (``None``: 0), so ``c = e^{m - M} / sum_b e^{m_b - M} s_b`` weights
    each by its share of the full normalizer (the log-sum-exp recombination of notes §6 D.3, written
    with sums). ``variant="no_recombine"``: each part normalized on its own, ``c = 1 / s`` (a control)."""
    has_prev, has_intra = s_prev > 0, s_intra > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if variant == "no_recombine":
            return np.where(has_prev, 1.0 / s_prev, 0.0), np.where(has_intra, 1.0 / s_intra, 0.0)
        if m_prev is None and m_intra is None:
            a, b = has_prev.astype(float), has_intra.astype(float)
        else:
            m_prev = np.zeros(len(s_prev)) if m_prev is None else m_prev
            m_intra = np.zeros(len(s_intra)) if m_intra is None else m_intra
            M = np.maximum(np.where(has_prev, m_prev, -np.inf), np.where(has_intra, m_intra, -np.inf))
            M = np.where(np.isfinite(M), M, 0.0)
            a = np.where(has_prev, np.exp(m_prev - M), 0.0)
            b = np.where(has_intra, np.exp(m_intra - M), 0.0)
        total = a * s_prev + b * s_intra
        inv = np.where(total > 0, 1.0 / total, 0.0)
    return a * inv, b * inv


class _Tasks:
    """Tasks on ``threads`` threads, this one included: ``threads - 1`` workers take the queued task with
    the lowest ``(priority, order submitted)``; a thread that waits for tasks (:meth:`wait`) runs
    those not started yet itself, and queued tasks up to a priority. With one thread a task runs when
    a wait needs it, so its result is merged soon after instead of held with all the others. A task's
    result is the same whichever thread runs it."""

    def __init__(self, threads: int):
        self._heap: list = []
        self._cv = threading.Condition()
        self._order = 0
        self._closed = False
        self._workers = [threading.Thread(target=self._work, daemon=True) for _ in range(threads - 1)]
        for t in self._workers:
            t.start()

    @property
    def workers(self) -> int:
        """The threads besides the calling one."""
        return len(self._workers)

    def submit(self, priority, fn, *args) -> "_Task":
        task = _Task(fn, args)
        if not self._workers:  # run by the wait that needs it: parts are not all held at once
            return task
        with self._cv:
            heapq.heappush(self._heap, (priority, self._order, task))
            self._order += 1
            self._cv.notify()
        return task

    def _claim(self, task: "_Task") -> bool:
        with self._cv:
            if task.started:
                return False
            task.started = True
            return True

    def _take(self, max_priority):
        """The next queued task not started yet, if its priority is at most ``max_priority`` (claimed)."""
        with self._cv:
            while self._heap and self._heap[0][2].started:
                heapq.heappop(self._heap)
            if self._heap and self._heap[0][0] <= max_priority:
                task = heapq.heappop(self._heap)[2]
                task.started = True
                return task
        return None

    def _work(self) -> None:
        while True:
            with self._cv:
                while True:
                    while self._heap and self._heap[0][2].started:
                        heapq.heappop(self._heap)
                    if self._heap or self._closed:
                        break
                    self._cv.wait()
                if not self._heap:
                    return
                task = heapq.heappop(self._heap)[2]
                task.started = True
            task.run()

    def wait(self, tasks, max_priority=None) -> list:
        """The results of ``tasks``, running those not started yet here; while one runs elsewhere, this
        thread takes queued tasks of priority at most ``max_priority`` (none when ``None``)."""
        for task in tasks:
            if not task.done.is_set() and self._claim(task):
                task.run()
            while not task.done.is_set():
                other = None if max_priority is None else self._take(max_priority)
                if other is None:
                    task.done.wait()
                else:
                    other.run()
        return [task.result() for task in tasks]

    def close(self) -> None:
        """Stop the workers once their current task is done; queued tasks are dropped (after an error
        nobody waits for them)."""
        with self._cv:
            self._closed = True
            self._heap.clear()
            self._cv.notify_all()
        for t in self._workers:
            t.join()


class _Task:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args
        self.started = False
        self.done = threading.Event()
        self.value = self.error = None

    def run(self) -> None:
        self.started = True
        try:
            self.value = self.fn(*self.args)
        except BaseException as exc:  # re-raised by result() in the waiting thread
            self.error = exc
        self.done.set()

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


@one_blas_thread_while
def deltaformer_chunked(K, V, Q, W=None, *, kappa1, kappa2, alpha=None, beta=None, normalize1: bool = False,
                        normalize2: bool = False, C: int = 64, variant=None, threads: bool | int = True,
                        first_stage_only: bool = False) -> np.ndarray:
    """DeltaFormer chunk by chunk (notes §6, D.3): ``T / C`` sequential steps.

    For the chunk of rows ``r`` the first stage is ``(I + diag(beta_r) A_rr) U_r = diag(alpha_r) V_r -
    diag(beta_r) A_{r,prev} U_prev``, with products against all earlier rows of ``U`` and a ``C x C``
    triangular solve. With ``normalize1`` the scores against earlier chunks and the strictly causal
    scores inside the chunk are exponentiated separately and recombined by their shares of the full
    normalizer (:func:`_shares`; ``kappa1`` must provide ``log_values``). The second stage is
    attention with values ``U`` (chunked softmax when ``normalize2``). ``variant="no_recombine"``
    breaks the recombination.

    Every product against earlier rows is split into fixed column blocks of :data:`PREV_BLOCK` rows
    of ``U`` (the last one partial). A block's part is ``exp(S) @ [U, 1]`` (:func:`_exp_part`: the
    ones column gives the row sums; no shift unless the numbers demand one), and a row block's parts
    are summed in column order (:func:`_merge_parts`). As soon as a column block of ``U`` is complete
    its parts for all later chunks and second-stage row blocks (:data:`STAGE2_BLOCK` rows) are queued
    as tasks, several row blocks per task in one product (:data:`GROUP_ROWS`). A chunk's part from the
    most recent column block (its rows before the chunk) is two parts: the early piece, its rows before
    the chunk before, and the chunk before's own rows. On :data:`EARLY_MIN_THREADS` threads or more the
    early piece is queued as soon as its rows of ``U`` are known, while the chunk before is solved, so
    the sequential chunk pass computes only the chunk before's part, the in-chunk block and the solve
    (about half the time it took with the whole partial block, which bounded the call from about four
    threads on); on fewer threads the pass computes the early piece itself, where its rows were just
    written. A second-stage row block is finished (its partial block, its causal block, the recombination) once
    the first stage has produced its rows. On ``threads`` threads (``True``: the process setting of
    :func:`set_chunk_threads`, by default one per available core; ``False`` or 1: this thread only)
    the other threads take queued tasks, first-stage parts first,
    and a thread that waits for a task runs it or any other queued one meanwhile; NumPy releases the
    GIL in the products and exponentials, so the threads use the cores. Every part is computed by
    the same operations whichever thread runs it and the split never depends on the thread count:
    the result is the same bits for any. Until the first column block of ``U`` is complete the other
    threads would mostly wait: they compute the exponentiated scores of that block's first tasks
    (:data:`PREFETCH_GROUPS` per thread beyond the first, a ``GROUP_ROWS x PREV_BLOCK`` array each),
    which need no ``U``, and those tasks then only multiply. ``first_stage_only`` returns ``U`` and
    skips the second stage (the companion's Listing 1 computes only ``U``). The largest work arrays
    (``U`` with its ones column, ``K^T``, a block of scores per thread, the scores computed ahead) are
    kept for the next call (:func:`_take`, at most :data:`SPARE_BYTES`); nothing returned shares their
    memory.
    """
    T = K.shape[0]
    dv = V.shape[1]
    W = K if W is None else W
    if first_stage_only:
        kappa2, normalize2 = None, False
    alpha, beta = _ones(T, alpha), _ones(T, beta)
    log1 = getattr(kappa1, "log_values", None)
    if normalize1 and log1 is None:
        raise ValueError(f"normalize1 in the chunked form needs a kernel with log_values, got {kappa1!r}")
    work = [_take(T * (dv + 1)), _take(K.shape[1] * T)]  # returned to _give when the call ends
    U1 = work[0][: T * (dv + 1)].reshape(T, dv + 1)  # U with a ones column: products with it carry the row sums
    U = U1[:, :dv]
    log2 = getattr(kappa2, "log_values", None) if normalize2 else None
    out = np.empty((T, dv)) if log2 is not None else None
    n_threads = chunk_threads(threads)
    tasks = _Tasks(n_threads if T > C else 1)
    # K^T in rows (Kt[:, b0:b1].T is K[b0:b1]; the products read it without transposing): the first column
    # block copied here at once (the first chunks read it), the rest on another thread meanwhile
    B = PREV_BLOCK
    Kt = work[1][: K.size].reshape(K.shape[1], T)
    np.copyto(Kt[:, :B], K[:B].T)
    Kt_copied = tasks.submit((-1, 0), np.copyto, Kt[:, B:], K[B:].T) if T > B else None
    units1 = [(r0, min(r0 + C, T)) for r0 in range(0, T, C)]  # the chunks
    units2 = [(r0, min(r0 + STAGE2_BLOCK, T)) for r0 in range(0, T, STAGE2_BLOCK)] if out is not None else []
    full1 = {r0: [] for r0, _ in units1}  # rows -> [(task, index)]: their parts from whole column blocks, in order
    full2 = {r0: [] for r0, _ in units2}

    # one buffer of scores per thread, for kernels that write into one (kept between calls, as U1 and Kt)
    local = threading.local()
    size = max(C, STAGE2_BLOCK, GROUP_ROWS) * (B + STAGE2_BLOCK)
    buffers = [_take(size) for _ in range(n_threads if T > C else 1)]
    work += buffers

    def kt(stop: int):
        """``K^T``, its columns up to ``stop`` copied."""
        if stop > B and Kt_copied is not None:
            tasks.wait([Kt_copied])
        return Kt

    def scratch(kernel, rows: int, cols: int):
        if not getattr(kernel, "log_values_out", False):
            return None
        buf = getattr(local, "scores", None)
        if buf is None:
            buf = local.scores = buffers.pop()
        if buf.size < rows * cols:
            buf = local.scores = np.empty(rows * cols)
        return buf[: rows * cols].reshape(rows, cols)

    def groups(units) -> list:
        """``units`` (consecutive row blocks) in groups of at most :data:`GROUP_ROWS` rows, one task each."""
        found, group = [], []
        for unit in units:
            if group and unit[1] - group[0][0] > GROUP_ROWS:
                found.append(group)
                group = []
            group.append(unit)
        return found + [group] if group else found

    # Until the first column block of U is complete the other threads have little to do (the second-stage
    # blocks finished so far): they compute the exponentiated scores of that block's first tasks meanwhile,
    # which need K, W and Q only. The task later takes them (or computes them itself if none has started):
    # the same operations whichever thread, so the same bits as without.
    ahead: dict = {}  # (first, g0, g1) -> the task computing exp(scores) of that group against rows 0 .. B - 1
    # (the first block of K^T, copied above)
    if tasks.workers and T > B and normalize1 and out is not None and getattr(kappa1, "log_values_out", False) \
            and getattr(kappa2, "log_values_out", False):
        complete = min(-(-B // C) * C, T)  # the chunk end at which the first block is complete (see queue below)
        plan = [(True, g) for g in groups([u for u in units1 if u[0] >= B and u[0] != complete])]
        plan += [(False, g) for g in groups([u for u in units2 if u[0] >= B])]
        for first, g in plan[: PREFETCH_GROUPS * tasks.workers]:
            g0, g1 = g[0][0], g[-1][1]
            buf = _take((g1 - g0) * B)
            work.append(buf)
            X, log = (W, log1) if first else (Q, log2)
            ahead[first, g0, g1] = tasks.submit((3, g0), _scores_exp, log, X[g0:g1], Kt[:, :B].T,
                                                buf[: (g1 - g0) * B].reshape(g1 - g0, B))

    def parts(first: bool, units, b0: int, b1: int) -> list:
        """The parts of the consecutive row blocks ``units`` (first stage: chunks; second: blocks of queries)
        from rows ``b0 .. b1 - 1`` of ``U``: one product for all their rows (the column block is packed
        once), cut into each row block's part."""
        Y, Z = kt(b1)[:, b0:b1].T, U1[b0:b1]
        if not first or normalize1:
            X, log, kernel = (W, log1, kappa1) if first else (Q, log2, kappa2)
            g0, g1 = units[0][0], units[-1][1]
            early = ahead.pop((first, g0, g1), None) if (b0, b1) == (0, B) else None
            if early is not None:
                P, m = _exp_part(log, X[g0:g1], Y, Z, exps=tasks.wait([early])[0])
            else:
                P, m = _exp_part(log, X[g0:g1], Y, Z, scratch(kernel, g1 - g0, b1 - b0))
            return [(P[r0 - g0:r1 - g0], None if m is None else m[r0 - g0:r1 - g0]) for r0, r1 in units]
        return [(kappa1(W[r0:r1], K[b0:b1]) @ U[b0:b1], None) for r0, r1 in units]

    def queue(first: bool, units, b0: int, b1: int) -> None:
        """Tasks for the parts of ``units`` from the column block ``b0 .. b1 - 1``, :data:`GROUP_ROWS` rows each;
        first-stage parts before second-stage ones, the rows needed soonest first."""
        index = full1 if first else full2
        for group in groups(units):
            task = tasks.submit((0 if first else 1, group[0][0]), parts, first, group, b0, b1)
            for i, (r0, _) in enumerate(group):
                index[r0].append((task, i))

    def collect(pending, max_priority) -> list:
        """The parts ``pending`` (``(task, index)`` pairs) once their tasks are done, each taken out of its
        task's results (its memory is reused as soon as it is merged)."""
        found = []
        for result, (_, i) in zip(tasks.wait([task for task, _ in pending], max_priority), pending):
            found.append(result[i])
            result[i] = None
        return found

    def recent_block(r0: int) -> int:
        """The first row of the column block that holds row ``r0 - 1``: where a chunk's early piece starts."""
        return ((r0 - 1) // B) * B

    def gathered(first: bool, r0: int, r1: int, max_priority=None):
        """The merged part of rows ``r0 .. r1 - 1`` from all rows of ``U`` before ``r0``: the parts of the
        whole column blocks (queued earlier, or computed here for a block not queued for these rows)
        and of the rest of the last block, in column order. For a chunk (``first``) the rest of the last
        block is two parts: its rows before the chunk before (the early piece, queued earlier on
        :data:`EARLY_MIN_THREADS` threads or more, else computed here) and the chunk before's rows."""
        found = collect(full1.pop(r0) if first else full2.pop(r0), max_priority)
        split = first and r0 > C
        b0 = recent_block(r0) if split else (r0 // B) * B
        for j in range(len(found), b0 // B):
            found += parts(first, [(r0, r1)], j * B, (j + 1) * B)
        if split:
            # the most recent block's rows before the chunk before (the early piece), then the chunk before's
            # rows (the last piece): only the last piece waits for the solve just done
            task = early.pop(r0, None)
            if task is not None:
                found += tasks.wait([task], max_priority)[0]
            elif b0 < r0 - C:
                found += parts(first, [(r0, r1)], b0, r0 - C)
            found += parts(first, [(r0, r1)], max(b0, r0 - C), r0)
        elif b0 < r0:
            found += parts(first, [(r0, r1)], b0, r0)
        return _merge_parts(found) if found else (np.zeros((r1 - r0, dv + 1)), None)

    def second_finish(r0: int, r1: int) -> None:
        """Second-stage rows ``r0 .. r1 - 1`` from their parts and the causal block on their own rows.

        The causal block is one more column block: summed with the others it gives the softmax over
        ``j <= t`` at once (the recombination by shares with all shifts equal). Only the control
        ``no_recombine`` keeps it apart, to normalize it on its own."""
        if variant != "no_recombine":
            found = collect(full2.pop(r0), HELP)
            b0 = (r0 // B) * B
            Y, Z = kt(r1)[:, b0:r1].T, U1[b0:r1]
            found.append(_exp_part(log2, Q[r0:r1], Y, Z, scratch(kappa2, r1 - r0, r1 - b0), causal=True))
            P, _ = _merge_parts(found)
            np.divide(P[:, :dv], P[:, dv:], out=out[r0:r1])
            return
        P_prev, m_prev = gathered(False, r0, r1, max_priority=HELP)
        E, s_in, m_in = _exp_diagonal(log2, Q[r0:r1], K[r0:r1], strict=False)
        c_prev, c_in = _shares(P_prev[:, dv], m_prev, s_in, m_in, variant)
        rows = out[r0:r1]
        np.matmul(E * c_in[:, None], U[r0:r1], out=rows)
        rows += c_prev[:, None] * P_prev[:, :dv]

    early: dict = {}  # chunk start -> the task computing its early piece (see gathered)
    queue_early = n_threads >= EARLY_MIN_THREADS
    blocks_done = 0  # column blocks of U whose parts for later rows are queued
    next2 = 0  # next second-stage block to finish
    finishing = []
    try:
        for start, stop in units1:
            sl = slice(start, stop)
            n = stop - start
            w = W[sl]
            P_prev, m_prev = gathered(True, start, stop, max_priority=HELP)
            b = beta[sl][:, None]
            if normalize1:
                E, s_in, m_in = _exp_diagonal(log1, w, K[sl], strict=True)
                c_prev, c_in = _shares(P_prev[:, dv], m_prev, s_in, m_in, variant)
                A_rr = E * (b * c_in[:, None])
                correction = c_prev[:, None] * P_prev[:, :dv]
            else:
                A_rr = np.where(_causal_block(n, strict=True), kappa1(w, K[sl]), 0.0) * b
                correction = P_prev[:, :dv]
            # the solve reads only the strictly lower part: I + diag(beta) A_rr
            U1[sl, dv] = 1.0
            rhs = alpha[sl][:, None] * V[sl] - b * correction
            U[sl] = _unit_lower_solve(A_rr, rhs)
            while (blocks_done + 1) * B <= stop:  # a column block of U is complete: its parts for all later rows
                b0, b1 = blocks_done * B, (blocks_done + 1) * B
                # the next chunk reads this block at once: this thread computes that part (gathered)
                queue(True, [u for u in units1 if u[0] >= b1 and u[0] != stop], b0, b1)
                queue(False, [u for u in units2 if u[0] >= b1], b0, b1)
                blocks_done += 1
            # the chunk after next: its early piece, from the most recent block's rows up to here, while the next
            # chunk is solved
            later = stop + C
            if queue_early and later < T and recent_block(later) < stop:
                early[later] = tasks.submit((0, later), parts, True, [(later, min(later + C, T))],
                                            recent_block(later), stop)
            # second-stage blocks whose rows of U are known: after all queued parts, so that what is left
            # when the chunk pass ends is these short tasks, which both threads share
            while next2 < len(units2) and units2[next2][1] <= stop:
                finishing.append(tasks.submit((2, units2[next2][0]), second_finish, *units2[next2]))
                next2 += 1
        tasks.wait(finishing, max_priority=(math.inf, 0))
    finally:
        tasks.close()
        _give(work)
    if out is not None:
        return out
    if first_stage_only:
        return U.copy()  # never a view: U1's memory is kept for the next call
    return _stage2_matrix(kappa2, Q, K, normalize2) @ U


def deltaformer_first_stage_listing(K, V, W=None, *, tau: float, C: int) -> np.ndarray:
    """DeltaFormer's first stage organised as the companion's Listing 1 (notes §6 D.3), with the explicit
    inverse of the chunk system:

        u_t = v_t - sum_{i<t} softmax_{i<t}(w_t . k_i / tau) u_i      (alpha = beta = 1).

    Per chunk of rows ``r`` (size ``n``) and earlier rows ``p``: the scores against ``p`` and their softmax
    block (``P_p``, log-sum-exp ``Z_p``), the strictly causal scores inside the chunk (softmax block
    ``P_r``, ``Z_r``), each re-weighted by its share ``sigma(Z_p - Z_r)``, ``sigma(Z_r - Z_p)``, then
    ``U_r = (I + A)^{-1} (V_r - share_p P_p U_p)`` with ``A = share_r P_r`` and ``(I + A)^{-1}`` formed
    by ``numpy.linalg.inv`` (the listing's ``torch.inverse``). Matrix products and the inverse only go
    through ``@`` and ``numpy.linalg.inv``, so an instrumented array counts every multiply-add
    (:mod:`numerics.updates.cost`). Shapes: ``K``, ``W`` ``(T, D)``; ``V`` ``(T, d_v)``; returns ``U``.
    """
    T = K.shape[0]
    W = K if W is None else W
    U = np.zeros_like(V, dtype=float)
    for start in range(0, T, C):
        stop = min(start + C, T)
        n = stop - start
        intra = np.where(_causal_block(n, strict=True), (W[start:stop] @ K[start:stop].T) / tau, -np.inf)
        prev = (W[start:stop] @ K[:start].T) / tau if start else np.zeros((n, 0))
        E_prev, z_prev = _shifted_exp(prev)
        E_intra, z_intra = _shifted_exp(intra)
        z = np.logaddexp(z_prev, z_intra)
        with np.errstate(invalid="ignore"):
            share_prev = np.where(np.isfinite(z_prev), np.exp(z_prev - z), 0.0)
            share_intra = np.where(np.isfinite(z_intra), np.exp(z_intra - z), 0.0)
        sums_prev, sums_intra = E_prev.sum(axis=1), E_intra.sum(axis=1)
        A = np.where(np.isfinite(z_intra)[:, None], E_intra * (share_intra / np.where(sums_intra > 0, sums_intra, 1))
                     [:, None], 0.0)
        rhs = V[start:stop]
        if start:
            weights = E_prev * (share_prev / sums_prev)[:, None]
            rhs = rhs - weights @ U[:start]
        U[start:stop] = np.linalg.inv(np.eye(n) + A) @ rhs
    return U
