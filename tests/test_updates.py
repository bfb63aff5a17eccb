"""Update rules: token loop ≡ parallel ≡ chunked for every rule, DeltaFormer's forms and reductions,
the WY representation, and the optimiser-step view (numerics against theory)."""

import math
import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numerics import fixed_points as fp
from numerics import updates as num
from numerics.updates import chunked as chunked_forms
from numerics.updates import measures
from numerics.updates import parallel as parallel_forms
from theory import updates as th

RTOL = 1e-10


def rel_gap(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@st.composite
def sequences(draw, max_T=48, max_d=8):
    """A random problem: T, d_k, d_v, chunk size C (T need not be a multiple of C), gates, inputs."""
    T = draw(st.integers(1, max_T), label="T")
    d_k = draw(st.integers(1, max_d), label="d_k")
    d_v = draw(st.integers(1, max_d), label="d_v")
    C = draw(st.integers(1, max_T + 4), label="C")
    beta_max = draw(st.floats(0.05, 1.9), label="beta_max")
    alpha_min = draw(st.floats(0.2, 1.0), label="alpha_min")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    K = rng.standard_normal((T, d_k)) / np.sqrt(d_k)
    V = rng.standard_normal((T, d_v))
    Q = rng.standard_normal((T, d_k))
    beta = rng.uniform(0.0, beta_max, T)
    alpha = rng.uniform(alpha_min, 1.0, T)
    return dict(K=K, V=V, Q=Q, beta=beta, alpha=alpha, C=C)


ROUTES = {
    "linear_attention": (lambda p: num.linear_attention_recurrent(p["K"], p["V"], p["Q"]),
                         lambda p: num.linear_attention_parallel(p["K"], p["V"], p["Q"]),
                         lambda p: num.linear_attention_chunked(p["K"], p["V"], p["Q"], p["C"])),
    "decay": (lambda p: num.decayed_attention_recurrent(p["K"], p["V"], p["Q"], p["alpha"]),
              lambda p: num.decayed_attention_parallel(p["K"], p["V"], p["Q"], p["alpha"]),
              lambda p: num.decayed_attention_chunked(p["K"], p["V"], p["Q"], p["alpha"], p["C"])),
    "deltanet": (lambda p: num.deltanet_recurrent(p["K"], p["V"], p["Q"], p["beta"]),
                 lambda p: num.deltanet_parallel(p["K"], p["V"], p["Q"], p["beta"]),
                 lambda p: num.deltanet_chunked(p["K"], p["V"], p["Q"], p["beta"], p["C"])),
    "gated_deltanet": (lambda p: num.gated_deltanet_recurrent(p["K"], p["V"], p["Q"], p["alpha"], p["beta"]),
                       lambda p: num.gated_deltanet_parallel(p["K"], p["V"], p["Q"], p["alpha"], p["beta"]),
                       lambda p: num.gated_deltanet_chunked(p["K"], p["V"], p["Q"], p["alpha"], p["beta"], p["C"])),
    "softmax": (lambda p: num.softmax_attention_recurrent(p["K"], p["V"], p["Q"], 0.7),
                lambda p: num.softmax_attention_parallel(p["K"], p["V"], p["Q"], 0.7),
                lambda p: num.softmax_attention_chunked(p["K"], p["V"], p["Q"], 0.7, p["C"])),
}


@pytest.mark.parametrize("rule", sorted(ROUTES))
def test_recurrent_parallel_chunked_agree(rule):
    """For every rule the token loop, the matrix form and the chunked form agree to 1e-10 relative."""
    loop, parallel, chunked = ROUTES[rule]

    @settings(max_examples=25)
    @given(p=sequences())
    def run(p):
        ref = loop(p)
        assert ref.shape == (p["K"].shape[0], p["V"].shape[1])
        assert rel_gap(parallel(p), ref) <= RTOL
        assert rel_gap(chunked(p), ref) <= RTOL

    run()


GATED_DELTA_LOOPS = {  # (alpha used, beta used, delta rule) -> that rule's token loop
    (False, False, False): ROUTES["linear_attention"][0],
    (True, False, False): ROUTES["decay"][0],
    (False, True, True): ROUTES["deltanet"][0],
    (True, True, True): ROUTES["gated_deltanet"][0],
}


@settings(max_examples=40)
@given(p=sequences(), rule=st.sampled_from(sorted(GATED_DELTA_LOOPS)), group=st.integers(1, 5))
def test_chunk_pass_in_groups_on_a_second_thread(p, rule, group):
    """The chunk pass split into groups of chunks, with the batched work on a second thread (the
    path long sequences take), matches the token loop, and gives the same bits as one thread."""
    gated, with_beta, delta = rule
    args = (p["K"], p["V"], p["Q"], p["alpha"] if gated else None, p["beta"] if with_beta else None, p["C"], delta)
    threaded = chunked_forms._gated_delta_chunked(*args, group=group, threads=2)
    assert rel_gap(threaded, GATED_DELTA_LOOPS[rule](p)) <= RTOL
    assert np.array_equal(threaded, chunked_forms._gated_delta_chunked(*args, group=group, threads=False))


@settings(max_examples=40)
@given(p=sequences(), zero_share=st.floats(0.0, 0.5), negative_share=st.floats(0.0, 0.5),
       group=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_gated_forms_agree_with_zero_and_negative_gates(p, zero_share, negative_share, group, seed):
    """A gate of 0 (a gate exp(-a) underflows to it) cuts every product across it, but not the products
    after it; a negative gate flips their sign. The matrix form's decay mask once zeroed every pair after
    a zero gate (off by 1.8 from the loop) and the chunked form, dividing by cumulative gates, gave NaN."""
    rng = np.random.default_rng(seed)
    T = p["K"].shape[0]
    alpha = np.where(rng.random(T) < negative_share, -p["alpha"], p["alpha"])
    p = dict(p, alpha=np.where(rng.random(T) < zero_share, 0.0, alpha))
    for rule, delta in (("decay", False), ("gated_deltanet", True)):
        loop, parallel, chunked = ROUTES[rule]
        ref = loop(p)
        assert rel_gap(parallel(p), ref) <= RTOL
        assert rel_gap(chunked(p), ref) <= RTOL
        grouped = chunked_forms._gated_delta_chunked(p["K"], p["V"], p["Q"], p["alpha"], p["beta"] if delta else None,
                                                     p["C"], delta, group=group, threads=2)
        assert rel_gap(grouped, ref) <= RTOL


@settings(max_examples=6, deadline=None)
@given(T=st.integers(257, 700), C=st.sampled_from([7, 64, 100, 256]), seed=st.integers(0, 2**32 - 1))
def test_deltaformer_second_stage_on_a_second_thread(T, C, seed):
    """Past one second-stage block (256 rows) the softmax second stage runs on a second thread,
    block by block as U fills in: it matches the token loop and gives the same bits as one thread."""
    rng = np.random.default_rng(seed)
    K, Q = (rng.standard_normal((T, 4)) for _ in range(2))
    V = rng.standard_normal((T, 3))
    beta = rng.uniform(0.0, 1.0, T)
    kernel = num.exp_kernel(1.5)
    kw = dict(kappa1=kernel, kappa2=kernel, beta=beta, normalize1=True, normalize2=True)
    threaded = num.deltaformer_chunked(K, V, Q, C=C, threads=2, **kw)
    assert rel_gap(threaded, num.deltaformer_recurrent(K, V, Q, **kw)) <= RTOL
    assert np.array_equal(threaded, num.deltaformer_chunked(K, V, Q, C=C, threads=False, **kw))


def test_set_chunk_threads_takes_a_count_or_none_and_hands_back_the_previous_setting():
    previous = num.set_chunk_threads(3)
    try:
        assert num.chunk_threads() == 3 and num.chunk_threads(False) == 1 and num.chunk_threads(5) == 5
        assert num.set_chunk_threads(None) == 3
        assert num.chunk_threads() == chunked_forms.available_cores()
        for bad in (0, -1, 1.5, True, "2"):
            with pytest.raises(ValueError, match="whole number >= 1 or None"):
                num.set_chunk_threads(bad)
    finally:
        num.set_chunk_threads(previous)


def test_chunked_forms_follow_the_process_thread_setting_unless_a_call_says_otherwise(monkeypatch):
    """``threads=True`` means the process setting (a pool worker sets 1); an explicit count overrides it;
    the bits never change."""
    seen = []
    tasks = chunked_forms._Tasks

    def spy(threads):
        seen.append(threads)
        return tasks(threads)

    monkeypatch.setattr(chunked_forms, "_Tasks", spy)
    rng = np.random.default_rng(5)
    K, V, Q = (rng.standard_normal((300, 4)) for _ in range(3))
    kernel = num.exp_kernel(1.5)
    kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True, C=32)
    previous = num.set_chunk_threads(1)
    try:
        one = num.deltaformer_chunked(K, V, Q, **kw)
        three = num.deltaformer_chunked(K, V, Q, threads=3, **kw)
        num.set_chunk_threads(2)
        two = num.deltaformer_chunked(K, V, Q, **kw)
    finally:
        num.set_chunk_threads(previous)
    assert seen == [1, 3, 2]
    assert np.array_equal(one, three) and np.array_equal(one, two)
    started = []
    pool = chunked_forms.ThreadPoolExecutor
    monkeypatch.setattr(chunked_forms, "ThreadPoolExecutor", lambda **k: started.append(k) or pool(**k))
    K, V, Q = (rng.standard_normal((600, 4)) for _ in range(3))  # past 512 tokens: two groups of chunks
    K /= np.linalg.norm(K, axis=1, keepdims=True)
    beta = rng.uniform(0.0, 1.0, 600)
    previous = num.set_chunk_threads(1)
    try:
        alone = num.deltanet_chunked(K, V, Q, beta, C=16)
    finally:
        num.set_chunk_threads(previous)
    assert started == []
    assert np.array_equal(alone, num.deltanet_chunked(K, V, Q, beta, C=16, threads=2)) and len(started) == 1


def _small_blocks(prev: int, stage2: int):
    """Run with the first stage's column blocks and the second stage's row blocks made small."""
    saved = chunked_forms.PREV_BLOCK, chunked_forms.STAGE2_BLOCK

    class Blocks:
        def __enter__(self):
            chunked_forms.PREV_BLOCK, chunked_forms.STAGE2_BLOCK = prev, stage2

        def __exit__(self, *exc):
            chunked_forms.PREV_BLOCK, chunked_forms.STAGE2_BLOCK = saved

    return Blocks()


@settings(max_examples=6, deadline=None)
@given(T=st.integers(40, 160), C=st.sampled_from([5, 8, 16]), normalize=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_deltaformer_first_stage_in_row_blocks_on_any_number_of_threads(T, C, normalize, seed):
    """The products against earlier rows, split into blocks (here of 12 rows, so a chunk meets up to 13),
    and the second stage in blocks of 10 rows, match the token loop, and give the same bits on 1, 2 or 5
    threads (the split never depends on the cores)."""
    rng = np.random.default_rng(seed)
    K, Q = (rng.standard_normal((T, 4)) for _ in range(2))
    V = rng.standard_normal((T, 3))
    beta = rng.uniform(0.0, 1.0, T)
    kernel = num.exp_kernel(1.5)
    kw = dict(kappa1=kernel, kappa2=kernel, beta=beta, normalize1=normalize, normalize2=normalize)
    with _small_blocks(12, 10):
        outs = [num.deltaformer_chunked(K, V, Q, C=C, threads=n, **kw) for n in (1, 2, 5)]
    assert rel_gap(outs[0], num.deltaformer_recurrent(K, V, Q, **kw)) <= RTOL
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


@settings(max_examples=8, deadline=None)
@given(T=st.integers(30, 120), C=st.sampled_from([4, 7, 16]), seed=st.integers(0, 2**32 - 1),
       similarity=st.sampled_from(["k-k", "q-k", "-k-k"]))
def test_deltaformer_chunked_with_scores_that_overflow_or_underflow_exp(T, C, seed, similarity):
    """Scores up to +-1600 (exp overflows past 709, and a row whose scores are all below -745 sums to 0
    unshifted): the blocks that need it fall back to the row maximum as shift, blocks with and without
    a shift merge, and the chunked form still matches the token loop (which always shifts), with no
    floating-point warning, and gives the same bits on 1 or 3 threads."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((T, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    K = directions * rng.uniform(0.1, 40.0, (T, 1))
    Q = rng.standard_normal((T, 2)) * 20.0
    W = {"k-k": K, "q-k": Q, "-k-k": -K}[similarity]
    V = rng.standard_normal((T, 3))
    kernel = num.exp_kernel(1.0)
    kw = dict(kappa1=kernel, kappa2=kernel, alpha=rng.uniform(0.5, 1.5, T), beta=rng.uniform(0.0, 1.0, T),
              normalize1=True, normalize2=True)
    scores = W @ K.T
    assume(scores.max() > 750.0)  # unshifted exponentials overflow somewhere
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _small_blocks(8, 6):
            outs = [num.deltaformer_chunked(K, V, Q, W, C=C, threads=n, **kw) for n in (1, 3)]
    assert np.all(np.isfinite(outs[0]))
    assert rel_gap(outs[0], num.deltaformer_recurrent(K, V, Q, W, **kw)) <= RTOL
    assert np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_deltaformer_chunked_raises_an_error_met_on_any_thread(threads):
    """An error in a task (here the kernel, in the task of the second stage's rows against the first column
    block of U: one product for all of them) reaches the caller, and the call returns: the queued tasks
    are dropped and the threads stop."""
    rng = np.random.default_rng(3)
    T = 90
    K, Q, V = rng.standard_normal((T, 3)), rng.standard_normal((T, 3)), rng.standard_normal((T, 2))
    good = num.exp_kernel(1.0)

    def log_values(X, Y, out=None):
        if X is not None and X.shape[0] > 6 and Y.shape[0] == 8 and np.shares_memory(X, Q):
            raise RuntimeError("kernel failed")
        return good.log_values(X, Y, out=out)

    bad = num.Kernel("failing", lambda X, Y: np.exp(log_values(X, Y)), log_values, log_values_out=True)
    with _small_blocks(8, 6), pytest.raises(RuntimeError, match="kernel failed"):
        num.deltaformer_chunked(K, V, Q, kappa1=good, kappa2=bad, normalize1=True, normalize2=True, C=5,
                                threads=threads)


def test_deltaformer_chunked_rows_whose_unshifted_exponentials_all_underflow():
    """Every score of the first stage below -745 (exp(s) = 0 unshifted, for every block): the shifted
    fallback gives the token loop's softmax."""
    rng = np.random.default_rng(5)
    T = 40
    K = np.tile([[30.0, 0.0]], (T, 1)) + rng.uniform(-0.5, 0.5, (T, 2))
    W = -K  # w_t . k_i is about -900 for every pair
    V = rng.standard_normal((T, 3))
    kernel = num.exp_kernel(1.0)
    kw = dict(kappa1=kernel, kappa2=None, normalize1=True)
    assert (W @ K.T).max() < -745.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _small_blocks(8, 6):
            U = num.deltaformer_chunked(K, V, K, W, C=6, first_stage_only=True, **kw)
    U_ref = np.empty_like(V)
    for t in range(T):  # u_t = v_t - sum_{i<t} softmax_i(w_t . k_i) u_i, written out here
        if t == 0:
            U_ref[t] = V[t]
            continue
        s = W[t] @ K[:t].T
        p = np.exp(s - s.max())
        U_ref[t] = V[t] - (p / p.sum()) @ U_ref[:t]
    assert rel_gap(U, U_ref) <= RTOL


@pytest.fixture
def no_kept_arrays():
    """The chunked forms' kept work arrays emptied before and after the test."""
    with chunked_forms._spare_lock:
        chunked_forms._spare.clear()
    yield chunked_forms._spare
    with chunked_forms._spare_lock:
        chunked_forms._spare.clear()


def _keeps_work_arrays(run, K, V, spare) -> list:
    """Call ``run(K, V)`` twice and once on other inputs, asserting that the second call reuses the work
    arrays the first left in ``spare`` and gives the same bits, that no output shares their memory, and
    that the first output is untouched by the later calls. Returns the arrays the first call kept."""
    first = run(K, V)
    kept = list(spare)
    assert not any(np.shares_memory(first, a) for a in kept)
    saved = first.copy()
    second = run(K, V)
    assert all(any(a is b for b in spare) for a in kept)  # the same arrays, kept again
    assert np.array_equal(second, saved) and not any(np.shares_memory(second, a) for a in kept)
    run(2.0 * K, -V)
    assert np.array_equal(first, saved)  # untouched by a later call with other inputs
    return kept


@pytest.mark.parametrize("T, first_stage_only", [(1, True), (2, True), (300, True), (300, False)])
def test_deltaformer_chunked_keeps_its_work_arrays_and_returns_none_of_them(no_kept_arrays, T, first_stage_only):
    """A call leaves its work arrays for the next one, which reuses them and gives the same bits; what a
    call returns never shares their memory (at T = 1 ``U`` is a contiguous view of them: it is copied),
    so a later call cannot overwrite an earlier result."""
    rng = np.random.default_rng(11)
    K, Q, V = rng.standard_normal((T, 4)), rng.standard_normal((T, 4)), rng.standard_normal((T, 3))
    kernel = num.exp_kernel(1.5)
    kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True, C=16,
              first_stage_only=first_stage_only)
    kept = _keeps_work_arrays(lambda K, V: num.deltaformer_chunked(K, V, Q, **kw), K, V, no_kept_arrays)
    assert kept


@pytest.mark.parametrize("rule", ["deltanet", "linear"])
@pytest.mark.parametrize("threads", [False, True])
def test_chunked_state_passing_forms_keep_their_group_buffers(no_kept_arrays, rule, threads):
    """The state-passing chunked forms leave their group buffers (the states entering each chunk, and
    DeltaNet's U) for the next call, which reuses them and gives the same bits; the output never shares
    their memory, so a later call leaves an earlier result alone."""
    rng = np.random.default_rng(15)
    T = 700
    K, Q, V = rng.standard_normal((T, 4)), rng.standard_normal((T, 4)), rng.standard_normal((T, 3))
    if rule == "deltanet":
        beta = rng.uniform(0.0, 1.0, T)
        run = lambda K, V: num.deltanet_chunked(K, V, Q, beta, C=16, threads=threads)  # noqa: E731
    else:
        run = lambda K, V: num.linear_attention_chunked(K, V, Q, C=16, threads=threads)  # noqa: E731
    kept = _keeps_work_arrays(run, K, V, no_kept_arrays)
    assert len(kept) == (2 if rule == "deltanet" else 1)


def test_deltaformer_chunked_keeps_at_most_spare_bytes(no_kept_arrays, monkeypatch):
    """Kept work arrays never exceed SPARE_BYTES in all: with room for the largest only, only it is kept;
    with none, nothing."""
    rng = np.random.default_rng(12)
    T = 300
    K, Q, V = rng.standard_normal((T, 4)), rng.standard_normal((T, 4)), rng.standard_normal((T, 3))
    kernel = num.exp_kernel(1.5)
    kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True, C=16, threads=2)
    num.deltaformer_chunked(K, V, Q, **kw)
    sizes = sorted((a.nbytes for a in no_kept_arrays), reverse=True)
    assert len(sizes) == 4  # U with its ones column, K^T, a block of scores per thread
    no_kept_arrays.clear()
    monkeypatch.setattr(chunked_forms, "SPARE_BYTES", sizes[0])
    num.deltaformer_chunked(K, V, Q, **kw)
    assert [a.nbytes for a in no_kept_arrays] == [sizes[0]]
    no_kept_arrays.clear()
    monkeypatch.setattr(chunked_forms, "SPARE_BYTES", 0)
    num.deltaformer_chunked(K, V, Q, **kw)
    assert no_kept_arrays == []


def test_deltaformer_chunked_calls_on_several_threads_at_once(no_kept_arrays):
    """Calls running at the same time on different threads each take their own work arrays: each gives
    what it gives alone."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(13)
    T = 400
    kernel = num.exp_kernel(1.5)
    kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True, C=32, threads=2)
    problems = [tuple(rng.standard_normal((T, 4)) for _ in range(3)) for _ in range(6)]
    alone = [num.deltaformer_chunked(K, V[:, :3], Q, **kw) for K, V, Q in problems]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda p: num.deltaformer_chunked(p[0], p[1][:, :3], p[2], **kw), problems * 3))
    assert all(np.array_equal(a, b) for a, b in zip(alone * 3, together))


def _blas_threads() -> set:
    from threadpoolctl import threadpool_info

    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_chunked_forms_run_with_one_blas_thread_and_restore_the_setting():
    """A chunked form brings its own threads: called from the main thread it runs with one BLAS thread, and
    the setting before it is back when it ends, also after an error; results are the bits of a run with
    BLAS pinned beforehand. Called from another thread it leaves the setting alone (threadpoolctl lets
    only one thread own OpenBLAS's limit)."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    seen = []

    @chunked_forms.one_blas_thread_while
    def probe(fail=False):
        seen.append(_blas_threads())
        if fail:
            raise RuntimeError("inside")

    rng = np.random.default_rng(3)
    K, V, Q = (rng.standard_normal((300, 8)) for _ in range(3))
    beta = rng.uniform(0, 1, 300)
    kernel = num.exp_kernel(2.0)
    kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True, C=32)
    with threadpool_limits(limits=1, user_api="blas"):
        pinned = [num.deltaformer_chunked(K, V, Q, **kw), num.deltanet_chunked(K, V, Q, beta, C=16)]
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        probe()
        with pytest.raises(RuntimeError, match="inside"):
            probe(fail=True)
        assert _blas_threads() == before
        with ThreadPoolExecutor(1) as pool:
            pool.submit(probe).result()
        free = [num.deltaformer_chunked(K, V, Q, **kw), num.deltanet_chunked(K, V, Q, beta, C=16)]
        assert _blas_threads() == before
    assert seen == [{1}, {1}, before]
    assert all(np.array_equal(a, b) for a, b in zip(pinned, free))
    inside = []  # the chunked DeltaFormer itself is wrapped: its kernel, called on this thread, sees one thread

    def log_values(X, Y, out=None):
        inside.append(_blas_threads())
        return kernel.log_values(X, Y, out=out)

    probing = num.Kernel("probe", kernel.values, log_values, log_values_out=True)
    with threadpool_limits(limits=2, user_api="blas"):
        num.deltaformer_chunked(K, V, Q, kappa1=probing, kappa2=probing, normalize1=True, normalize2=True, C=32,
                                threads=False)
    assert inside and all(t == {1} for t in inside)


def _softmax_problem(seed: int, T: int):
    """``(K, V, Q, kw)``: keys and queries of width 4, values of width 3, softmax kernels (tau 1.5) in both
    stages, random beta, chunks of 5 rows; the problem of the scheduling tests below."""
    rng = np.random.default_rng(seed)
    K, Q = (rng.standard_normal((T, 4)) for _ in range(2))
    V = rng.standard_normal((T, 3))
    kernel = num.exp_kernel(1.5)
    kw = dict(kappa1=kernel, kappa2=kernel, beta=rng.uniform(0.0, 1.0, T), normalize1=True, normalize2=True, C=5)
    return K, V, Q, kw


@pytest.mark.parametrize("threads, ahead", [(1, 0), (2, 3), (3, 6), (5, 12)])
def test_deltaformer_chunked_exponentiates_first_block_scores_ahead_on_the_other_threads(monkeypatch, threads,
                                                                                          ahead):
    """While the first column block of U is being solved, the other threads compute the exponentiated
    scores of that block's first tasks: PREFETCH_GROUPS per thread beyond the first, as many as there
    are tasks at most. Worked out here for T = 200, C = 5, column blocks of 12 rows, second-stage blocks
    of 10 and tasks of up to 30 rows: the first block is complete at row 15, so its tasks are the chunks
    from row 20 (180 rows, 6 tasks) and the second-stage blocks from row 20 (6 tasks), 12 in all. Each
    task takes its scores when it runs, so the output is the same bits as with none computed ahead."""
    K, V, Q, kw = _softmax_problem(14, 200)
    monkeypatch.setattr(chunked_forms, "GROUP_ROWS", 30)
    taken = []
    exp_part = chunked_forms._exp_part

    def spy(*args, exps=None, **kwargs):
        taken.append(exps is not None)
        return exp_part(*args, exps=exps, **kwargs)

    with _small_blocks(12, 10):
        monkeypatch.setattr(chunked_forms, "_exp_part", spy)
        out = num.deltaformer_chunked(K, V, Q, threads=threads, **kw)
        assert sum(taken) == ahead
        monkeypatch.setattr(chunked_forms, "PREFETCH_GROUPS", 0)
        taken.clear()
        none_ahead = num.deltaformer_chunked(K, V, Q, threads=threads, **kw)
        assert sum(taken) == 0
    assert np.array_equal(out, none_ahead)
    assert rel_gap(out, num.deltaformer_recurrent(K, V, Q, **{k: v for k, v in kw.items() if k != "C"})) <= RTOL


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_deltaformer_chunked_queues_each_chunks_early_piece_from_three_threads(monkeypatch, threads):
    """A chunk's part from the most recent column block is split into the rows before the chunk before
    (the early piece) and the chunk before's rows; from EARLY_MIN_THREADS (3) threads on, the early
    piece is queued as a task as soon as its rows of U are known. Worked out for T = 40, C = 5, column
    blocks of 12 rows: after the chunk ending at row 5 the chunk at 10 gets rows 0-4 (its block [0, 12)
    holds row 9); after 10 nothing (row 14's block starts at 12); after 15 the chunk at 20 gets 12-14;
    after 20 nothing; after 25 the chunk at 30 gets 24; after 30 the chunk at 35 gets 24-29. On fewer
    threads the chunk pass computes the same pieces: the same bits."""
    K, V, Q, kw = _softmax_problem(21, 40)
    submitted = []
    submit = chunked_forms._Tasks.submit

    def spy(self, priority, fn, *args):
        if getattr(fn, "__name__", "") == "parts" and args[0] and args[3] - args[2] < 12:  # not a whole block
            submitted.append((args[1][0][0], args[2], args[3]))
        return submit(self, priority, fn, *args)

    monkeypatch.setattr(chunked_forms._Tasks, "submit", spy)
    with _small_blocks(12, 10):
        out = num.deltaformer_chunked(K, V, Q, threads=threads, **kw)
        one = num.deltaformer_chunked(K, V, Q, threads=1, **kw)
    queued = [(10, 0, 5), (20, 12, 15), (30, 24, 25), (35, 24, 30)]
    assert sorted(submitted) == (queued if threads >= chunked_forms.EARLY_MIN_THREADS else [])
    assert np.array_equal(out, one)
    assert rel_gap(out, num.deltaformer_recurrent(K, V, Q, **{k: v for k, v in kw.items() if k != "C"})) <= RTOL


def test_one_thread_runs_a_task_when_a_wait_needs_it():
    """With one thread a submitted task waits for the wait that needs it (its result is merged soon after,
    not held with all the others); with workers it is queued for them."""
    ran = []
    tasks = chunked_forms._Tasks(1)
    task = tasks.submit((0, 0), ran.append, "a")
    assert ran == [] and not task.started
    assert tasks.wait([task]) == [None] and ran == ["a"]
    tasks.close()
    tasks = chunked_forms._Tasks(2)
    try:
        task = tasks.submit((0, 0), ran.append, "b")
        assert tasks.wait([task]) == [None] and ran == ["a", "b"]
    finally:
        tasks.close()


@settings(max_examples=25)
@given(p=sequences(max_T=40, max_d=6), tau1=st.floats(0.5, 4.0), tau2=st.floats(0.5, 4.0),
       normalize1=st.booleans(), normalize2=st.booleans())
def test_deltaformer_token_loop_matrix_and_chunks_agree(p, tau1, tau2, normalize1, normalize2):
    """DeltaFormer with exponential kernels (normalized or not, separate alpha, beta, write keys) agrees across forms."""
    rng = np.random.default_rng(int(p["beta"].sum() * 1e6) % 2**32)
    W = rng.standard_normal(p["K"].shape) / np.sqrt(p["K"].shape[1])
    kw = dict(kappa1=num.exp_kernel(tau1), kappa2=num.exp_kernel(tau2), alpha=p["alpha"] + 0.3, beta=p["beta"],
              normalize1=normalize1, normalize2=normalize2)
    ref = num.deltaformer_recurrent(p["K"], p["V"], p["Q"], W, **kw)
    assert rel_gap(num.deltaformer_parallel(p["K"], p["V"], p["Q"], W, **kw), ref) <= RTOL
    assert rel_gap(num.deltaformer_chunked(p["K"], p["V"], p["Q"], W, C=p["C"], **kw), ref) <= RTOL


def test_deltaformer_first_stage_row_whose_weights_sum_to_zero_reads_nothing_in_every_form():
    """A signed kernel normalized over i < t can have weights summing to 0 (the linear kernel, a write key
    orthogonal to every earlier key). The matrix form reads nothing there; the token loop divided by 0
    and the NaN spread to every later row."""
    K = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -1.0]])
    W = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])  # w_2 = 0: row 2's weights sum to 0
    V, Q = np.arange(8.0).reshape(4, 2), np.ones((4, 2))
    kw = dict(kappa1=num.linear_kernel(), kappa2=num.linear_kernel(), alpha=np.ones(4), beta=np.ones(4),
              normalize1=True)
    loop = num.deltaformer_recurrent(K, V, Q, W, **kw)
    O, U = num.deltaformer_parallel(K, V, Q, W, return_u=True, **kw)
    assert np.all(np.isfinite(loop))
    np.testing.assert_array_equal(U[2], V[2])  # nothing read: u_2 = alpha_2 v_2
    assert rel_gap(O, loop) <= RTOL


@settings(max_examples=20)
@given(p=sequences(max_T=40, max_d=6))
def test_deltaformer_with_linear_kernels_is_deltanet(p):
    """kappa_1 = kappa_2 = x^T y, w = k, alpha = beta: DeltaFormer is DeltaNet with per-token beta (chunked too)."""
    kw = dict(kappa1=num.linear_kernel(), kappa2=num.linear_kernel(), alpha=p["beta"], beta=p["beta"])
    ref = num.deltanet_recurrent(p["K"], p["V"], p["Q"], p["beta"])
    assert rel_gap(num.deltaformer_recurrent(p["K"], p["V"], p["Q"], **kw), ref) <= RTOL
    assert rel_gap(num.deltaformer_chunked(p["K"], p["V"], p["Q"], C=p["C"], **kw), ref) <= RTOL


def test_deltaformer_accepts_plain_kernel_callables():
    """Any callable (X, Y) -> (n, m) works as a kernel; normalizing it divides by the visible sum."""
    rng = np.random.default_rng(0)
    K, V, Q = rng.standard_normal((9, 3)), rng.standard_normal((9, 2)), rng.standard_normal((9, 3))
    relu = lambda X, Y: np.maximum(X @ Y.T, 0.0) + 0.1  # noqa: E731  positive, so normalizable
    ref = num.deltaformer_recurrent(K, V, Q, kappa1=relu, kappa2=relu, normalize1=True, normalize2=True)
    par = num.deltaformer_parallel(K, V, Q, kappa1=relu, kappa2=relu, normalize1=True, normalize2=True)
    assert rel_gap(par, ref) <= RTOL
    with pytest.raises(ValueError, match="log_values"):
        num.deltaformer_chunked(K, V, Q, kappa1=relu, kappa2=relu, normalize1=True, C=4)


@pytest.mark.parametrize("variant", ["full_mask", "no_beta"])
def test_wrong_parallel_routes_are_detected(variant):
    """The M-for-M^- and missing-beta mistakes change DeltaNet's output (negative controls have power)."""
    rng = np.random.default_rng(1)
    K, V, Q = rng.standard_normal((20, 4)) / 2, rng.standard_normal((20, 3)), rng.standard_normal((20, 4))
    beta = rng.uniform(0.1, 0.9, 20)
    ref = num.deltanet_recurrent(K, V, Q, beta)
    assert rel_gap(num.deltanet_parallel(K, V, Q, beta, variant=variant), ref) > 1e-3


@settings(max_examples=30)
@given(n=st.integers(1, 20), d=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_wy_representation_matches_the_product(n, d, seed):
    """prod_i (I - beta_i k_i k_i^T) = I - W^T K with W from the triangular solve."""
    rng = np.random.default_rng(seed)
    K = rng.standard_normal((n, d)) / np.sqrt(d)
    beta = rng.uniform(0, 1.5, n)
    P = np.eye(d)
    for k, b in zip(K, beta):
        P = P @ (np.eye(d) - b * np.outer(k, k))
    assert np.max(np.abs(P - (np.eye(d) - num.wy_representation(K, beta).T @ K))) <= 1e-12


@pytest.mark.parametrize("rule", th.RULES)
@pytest.mark.parametrize("d", [2, 3])
def test_optimizer_step_symbolic(rule, d):
    """Each rule is exactly one gradient step on its loss (sympy, d = 2 and 3)."""
    assert [c.status for c in th.optimizer_step(rule, d).verify()] == ["verified"]


def test_wrong_loss_fails_symbolically():
    """Dropping the L2 penalty from the decay loss breaks the identity: the symbolic check can fail."""
    S = sp.Matrix(2, 2, lambda a, b: sp.Symbol(f"S_{a}{b}"))
    k = sp.Matrix(sp.symbols("k0 k1"))
    v = sp.Matrix(sp.symbols("v0 v1"))
    _, _, update = th.rule_loss("decay", S, k, v)
    loss = -(v.T * S * k)[0, 0]
    grad = sp.Matrix(2, 2, lambda a, b: sp.diff(loss, S[a, b]))
    assert (update - (S - grad)).applyfunc(sp.simplify) != sp.zeros(2, 2)


@pytest.mark.parametrize("rule", th.RULES)
def test_numeric_gradient_step_matches_rule(rule):
    """The central-difference gradient step equals the rule (the numeric side of the objective claims)."""
    rng = np.random.default_rng(3)
    est = num.measure_optimizer_step(rng, rule=rule, d_k=5, d_v=4, beta=0.4, alpha=0.7, gamma=0.6)
    assert est.estimate < 1e-8


def test_contraction_interval_and_reflection():
    """|1 - beta||k||^2| < 1 exactly on 0 < x < 2; at x = 2 the factor is a reflection (det -1, involution)."""
    assert th.contraction_interval() == sp.Interval.open(0, 2)
    rng = np.random.default_rng(4)
    k = rng.standard_normal(5)
    H = np.eye(5) - 2 * np.outer(k, k) / (k @ k)
    assert np.allclose(H @ H, np.eye(5)) and np.isclose(np.linalg.det(H), -1.0)


def _quadratic_features(X):
    """psi(x) = vec(x x^T), so psi(x)^T psi(y) = (x^T y)^2: a finite feature space for the kernel trick."""
    return np.einsum("ti,tj->tij", X, X).reshape(X.shape[0], -1)


@settings(max_examples=15)
@given(p=sequences(max_T=30, max_d=4))
def test_kernel_delta_rule_is_the_delta_rule_in_feature_space(p):
    """DeltaFormer with kappa = (x^T y)^2 (alpha = beta, w = k) equals DeltaNet run on explicit features psi(k), psi(q),
    and with beta = 0 the additive feature-space memory sum_j v_j psi(k_j)^T read at psi(q) (notes §5.2-5.3)."""
    square = lambda X, Y: (X @ Y.T) ** 2  # noqa: E731
    K, V, Q, beta = p["K"], p["V"], p["Q"], p["beta"]
    feature_delta = num.deltanet_recurrent(_quadratic_features(K), V, _quadratic_features(Q), beta)
    kernel_delta = num.deltaformer_recurrent(K, V, Q, kappa1=square, kappa2=square, alpha=beta, beta=beta)
    assert rel_gap(kernel_delta, feature_delta) <= RTOL
    feature_additive = num.linear_attention_recurrent(_quadratic_features(K), V, _quadratic_features(Q))
    kernel_additive = num.deltaformer_recurrent(K, V, Q, kappa1=square, kappa2=square, beta=np.zeros(len(K)))
    assert rel_gap(kernel_additive, feature_additive) <= RTOL


@settings(max_examples=30)
@given(n=st.integers(1, 4), C=st.integers(1, 40), scale=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_blocked_unit_lower_inverse_matches_forward_substitution(n, C, scale, seed):
    """The batched blocked inverse of I + A (any C, padded to a power of two) equals scipy's
    forward substitution against the identity."""
    from scipy.linalg import solve_triangular

    rng = np.random.default_rng(seed)
    A = np.tril(rng.standard_normal((n, C, C)) * scale / np.sqrt(C), -1)
    X = chunked_forms._unit_lower_inverses(A)
    assert X.shape == (n, C, C)
    assert np.array_equal(chunked_forms._unit_lower_inverses(A.astype(np.float32)), chunked_forms._unit_lower_inverses(
        A.astype(np.float32).astype(np.float64)))  # any input dtype is read as float64, never misread
    for c in range(n):
        ref = solve_triangular(np.eye(C) + A[c], np.eye(C), lower=True, unit_diagonal=True)
        assert rel_gap(X[c], ref) <= RTOL


@settings(max_examples=40)
@given(n=st.integers(1, 40), m=st.integers(1, 9), scale=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_unit_lower_solve_reads_only_the_strict_lower_part(n, m, scale, seed):
    """The chunked DeltaFormer's solve (BLAS dtrsm on the transposes) equals forward substitution with
    I + tril(A, -1), written out here row by row, whatever the diagonal and the upper part of A hold."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)) * scale / np.sqrt(n) + np.triu(rng.standard_normal((n, n)) * 10.0)
    B = rng.standard_normal((n, m))
    ref = np.empty((n, m))
    for i in range(n):
        ref[i] = B[i] - A[i, :i] @ ref[:i]
    rhs = B.copy()
    X = chunked_forms._unit_lower_solve(A, rhs)
    assert X.shape == (n, m) and np.shares_memory(X, rhs)  # a C-ordered float64 right-hand side: solved in place
    assert rel_gap(X, ref) <= RTOL
    other = np.asfortranarray(B)  # any other is copied first and left as it was
    assert np.array_equal(chunked_forms._unit_lower_solve(A, other), X) and np.array_equal(other, B)
    A32 = A.astype(np.float32)  # any input dtype is read as float64, never misread
    assert np.array_equal(chunked_forms._unit_lower_solve(A32, B.copy()),
                          chunked_forms._unit_lower_solve(A32.astype(np.float64), B.copy()))


@settings(max_examples=40)
@given(T=st.integers(2, 60), d=st.integers(1, 6), tau=st.floats(0.05, 5.0), mass=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**32 - 1))
def test_first_stage_amplification_is_at_most_T(T, d, tau, mass, seed):
    """For any strictly causal A with non-negative rows summing to at most 1 (a normalized kappa_1 scaled by
    beta <= 1), 1 <= ||(I + A)^{-1}||_inf <= T (the claim update.deltaformer.first_stage_amplification),
    both for softmax attention from random keys at any temperature and for arbitrary such A; the second
    stage's normalized matrix has infinity norm 1."""
    rng = np.random.default_rng(seed)
    K, W, Q = (rng.standard_normal((T, d)) for _ in range(3))
    kernel = num.exp_kernel(tau)
    _, U = num.deltaformer_parallel(K, np.eye(T), Q, W, kappa1=kernel, kappa2=kernel, beta=np.full(T, mass),
                                    normalize1=True, return_u=True)
    assert 1.0 - 1e-12 <= np.abs(U).sum(axis=1).max() <= T * (1 + 1e-9)
    raw = np.tril(rng.exponential(size=(T, T)) ** 3, -1)  # heavy-tailed rows, then scaled to sums <= mass
    sums = raw.sum(axis=1, keepdims=True)
    A = np.divide(raw, sums, out=np.zeros_like(raw), where=sums > 0) * mass
    X = np.linalg.inv(np.eye(T) + A)
    assert 1.0 - 1e-12 <= np.abs(X).sum(axis=1).max() <= T * (1 + 1e-9)
    assert np.allclose(parallel_forms._stage2_matrix(kernel, Q, K, True).sum(axis=1), 1.0)


def test_public_chunked_forms_take_the_threaded_path_past_512_tokens():
    """At T = 1100 the public chunked rules run in groups on a second thread (default group: 512
    tokens): same bits as one thread, and the token loop's values."""
    rng = np.random.default_rng(11)
    T, d = 1100, 4
    K = rng.standard_normal((T, d)) / 2
    V, Q = rng.standard_normal((T, d)), rng.standard_normal((T, d))
    beta, alpha = rng.uniform(0.0, 1.0, T), rng.uniform(0.9, 1.0, T)
    for chunked, loop in (
        (lambda th: num.deltanet_chunked(K, V, Q, beta, C=16, threads=th), lambda: num.deltanet_recurrent(K, V, Q, beta)),
        (lambda th: num.gated_deltanet_chunked(K, V, Q, alpha, beta, C=32, threads=th),
         lambda: num.gated_deltanet_recurrent(K, V, Q, alpha, beta)),
        (lambda th: num.linear_attention_chunked(K, V, Q, 64, threads=th), lambda: num.linear_attention_recurrent(K, V, Q)),
    ):
        threaded = chunked(True)
        assert np.array_equal(threaded, chunked(False))
        assert rel_gap(threaded, loop()) <= RTOL


def test_default_ledger_reaches_the_grouped_pass_and_the_column_blocks(monkeypatch):
    """The default grids check the chunked forms' long-sequence paths, not only short sequences: each linear
    rule has a point that runs at least three groups of chunks (transforms are prefetched two groups ahead),
    and DeltaFormer's forms and Listing 1 each have a point past one column block of earlier rows
    (:data:`numerics.updates.chunked.PREV_BLOCK`). A fresh audit found both paths unreached by the ledger
    (a mutant in each survived ``check``)."""
    from proofs_check.ledger import get_claim

    groups = []
    real_later = chunked_forms._later

    def counting(worker, fn, *args):
        groups.append(fn.__name__)
        return real_later(worker, fn, *args)

    monkeypatch.setattr(chunked_forms, "_later", counting)
    for rule in ("linear_attention", "decay", "deltanet", "gated_deltanet"):
        most = 0
        for point in get_claim(f"update.forms.{rule}").grids["default"]:
            groups.clear()
            measures.measure_route_agreement(np.random.default_rng(0), rule=rule, **point)
            most = max(most, groups.count("outputs"))  # one call per group of chunks
        assert most >= 3, rule
    for claim_id in ("update.deltaformer.forms", "update.deltaformer.listing1"):
        assert max(p["T"] for p in get_claim(claim_id).grids["default"]) > chunked_forms.PREV_BLOCK, claim_id


# --- temperatures and the independent references -----------------------------------------------

@settings(max_examples=20, deadline=None)
@given(T=st.integers(1, 30), d=st.integers(1, 8), d_v=st.integers(1, 4), C=st.integers(1, 12),
       tau=st.one_of(st.floats(0.2, 6.0), st.just(None)), seed=st.integers(0, 2**32 - 1))
def test_softmax_forms_match_the_naive_reference(T, d, d_v, C, tau, seed):
    """Loop, matrix and chunked softmax attention equal the row-by-row reference at any temperature,
    tau = sqrt(d) included (None draws it)."""
    tau = np.sqrt(d) if tau is None else tau
    rng = np.random.default_rng(seed)
    Q, K, V = rng.standard_normal((T, d)), rng.standard_normal((T, d)), rng.standard_normal((T, d_v))
    ref = num.softmax_attention_reference(Q, K, V, tau)
    assert rel_gap(num.softmax_attention_recurrent(K, V, Q, tau), ref) <= RTOL
    assert rel_gap(num.softmax_attention_parallel(K, V, Q, tau), ref) <= RTOL
    assert rel_gap(num.softmax_attention_chunked(K, V, Q, tau, C), ref) <= RTOL


@settings(max_examples=20, deadline=None)
@given(p=sequences(max_T=30, max_d=6), tau1=st.floats(0.3, 5.0), tau2=st.one_of(st.floats(0.3, 5.0), st.just(None)))
def test_deltaformer_forms_match_the_naive_reference(p, tau1, tau2):
    """DeltaFormer's loop, matrix and chunked forms with softmax kernels equal the independent reference
    (tau2 = sqrt(d_k) when None is drawn)."""
    K, V, Q = p["K"] * np.sqrt(p["K"].shape[1]), p["V"], p["Q"]
    tau2 = np.sqrt(K.shape[1]) if tau2 is None else tau2
    W = np.roll(Q, 1, axis=0)
    alpha, beta = p["alpha"] + 0.3, p["beta"] / 2
    ref = num.deltaformer_reference(Q, K, V, W, alpha, beta, tau1, tau2)
    kw = dict(kappa1=num.exp_kernel(tau1), kappa2=num.exp_kernel(tau2), alpha=alpha, beta=beta, normalize1=True,
              normalize2=True)
    assert rel_gap(num.deltaformer_recurrent(K, V, Q, W, **kw), ref) <= RTOL
    assert rel_gap(num.deltaformer_parallel(K, V, Q, W, **kw), ref) <= RTOL
    assert rel_gap(num.deltaformer_chunked(K, V, Q, W, C=p["C"], **kw), ref) <= RTOL


def _kernel_multiplying_by_tau(tau):
    """The slip the ledger must catch: a kernel that multiplies the scores by tau instead of dividing."""
    return num.Kernel("exp(x.y*tau)", lambda X, Y: np.exp((X * tau) @ Y.T), lambda X, Y: (X * tau) @ Y.T)


@pytest.mark.parametrize("d_k, tau1, tau2", [(4, 0.7, 2.0), (16, 4.0, 4.0)])
def test_a_kernel_multiplying_by_tau_is_caught(monkeypatch, d_k, tau1, tau2):
    """With exp_kernel replaced by the multiply-by-tau mutant, all three DeltaFormer routes still agree
    with each other (the slip cancels between them) but not with the naive reference: the forms and
    reduction measurements report a gap far above their 1e-10 tolerance. At tau = 1 the slip is invisible."""
    rng = np.random.default_rng(5)
    healthy = measures.measure_deltaformer_forms(rng, T=20, d_k=d_k, d_v=3, C=6, tau1=tau1, tau2=tau2)
    assert healthy.estimate <= 1e-12
    monkeypatch.setattr(measures, "exp_kernel", _kernel_multiplying_by_tau)
    broken = measures.measure_deltaformer_forms(np.random.default_rng(5), T=20, d_k=d_k, d_v=3, C=6, tau1=tau1,
                                                tau2=tau2)
    assert broken.estimate > 1e-3
    spread = max(broken.diagnostics[r] for r in ("loop", "parallel", "chunked")) - \
        min(broken.diagnostics[r] for r in ("loop", "parallel", "chunked"))
    assert spread < 1e-9 * broken.estimate + 1e-12  # the routes agree with one another: only the reference sees it
    reduced = measures.measure_deltaformer_reduction(np.random.default_rng(5), reduction="softmax", T=20, d_k=d_k,
                                                     d_v=3, tau=tau2)
    assert reduced.estimate > 1e-3
    at_one = measures.measure_deltaformer_forms(np.random.default_rng(5), T=20, d_k=d_k, d_v=3, C=6, tau1=1.0, tau2=1.0)
    assert at_one.estimate <= 1e-12


@pytest.mark.parametrize("measure, kwargs", [
    (measures.measure_softmax_forms, dict(T=20, d_k=4, d_v=3, C=6, tau=2.0)),
    (measures.measure_deltaformer_forms, dict(T=20, d_k=4, d_v=3, C=6, tau1=0.7, tau2=2.0)),
    (measures.measure_deltaformer_reduction, dict(reduction="softmax", T=20, d_k=4, d_v=3, tau=2.0)),
])
def test_tau_inverted_control_is_far_from_zero(measure, kwargs):
    """The tau_inverted negative control (the routes run at 1/tau) is rejected by a wide margin."""
    assert measure(np.random.default_rng(0), **kwargs).estimate <= 1e-12
    assert measure(np.random.default_rng(0), variant="tau_inverted", **kwargs).estimate > 1e-2


def test_references_reject_a_bad_temperature():
    """The references name the constraint on tau."""
    z = np.zeros((2, 1))
    with pytest.raises(ValueError, match="tau"):
        num.softmax_attention_reference(z, z, z, 0.0)
    with pytest.raises(ValueError, match="tau"):
        num.exp_kernel(-1.0)


def test_recombined_softmax_row_is_the_softmax_row_and_swapped_shares_are_not():
    """The symbolic chunked forms rest on this: a softmax row split into two blocks, each normalized and
    re-weighted by sigma(Z_prev - Z_intra), sigma(Z_intra - Z_prev), is the full row; swapping the shares is not."""
    e = sp.Matrix(1, 4, lambda _r, i: sp.exp(sp.Symbol(f"s_{i}", real=True) / th.tau_s))
    full = th._softmax_row(e, 0, range(4))
    split = th._recombined_row(e, 0, range(2), range(2, 4))
    assert all(sp.simplify(full[i] - split[i]) == 0 for i in range(4))
    z_prev, z_intra = (sp.log(sum(e[0, j] for j in block)) for block in (range(2), range(2, 4)))
    wrong = 1 / (1 + sp.exp(z_prev - z_intra)) * th._softmax_row(e, 0, range(2))[0]
    assert sp.simplify(wrong - full[0]) != 0


# --- fixed points --------------------------------------------------------------------------------

def test_decay_energy_is_a_genuine_monte_carlo():
    """The decayed-memory energy is simulated: its estimate changes with the seed, its SE is the spread
    of the per-trial energies over sqrt(trials), and it agrees with d_k d_v (1 - gamma^{2t})/(1 - gamma^2)."""
    params = dict(t=6, d_k=4, d_v=3, gamma=0.8)
    exact = 12 * (1 - 0.8**12) / (1 - 0.8**2)
    estimates = [fp.measure_decay_energy(np.random.default_rng(s), trials=4000, **params) for s in range(3)]
    assert len({e.estimate for e in estimates}) == 3
    columns = fp.measure_decay_energy.simulate(np.random.default_rng(0), trials=4000, **params)
    assert columns["energy"].shape == (4000,)
    assert estimates[0].standard_error == pytest.approx(columns["energy"].std(ddof=1) / np.sqrt(4000))
    for e in estimates:
        assert abs(e.estimate - exact) <= 5 * e.standard_error


def test_decay_energy_matches_the_update_rule_itself():
    """The simulation's recurrence is the library's decayed rule: with the same draws, ||S_t||_F^2 from
    decayed_attention_recurrent's state (read out with the identity as queries) equals the simulated one."""
    rng = np.random.default_rng(3)
    t, d_k, d_v, gamma = 5, 3, 2, 0.6
    energy = fp.measure_decay_energy.simulate(rng, t=t, d_k=d_k, d_v=d_v, gamma=gamma, trials=1)["energy"][0]
    rng = np.random.default_rng(3)
    V, K = np.empty((t, d_v)), np.empty((t, d_k))
    for s in range(t):
        V[s], K[s] = rng.standard_normal((1, d_v, 1)).ravel(), rng.standard_normal((1, 1, d_k)).ravel()
    S = np.stack([num.decayed_attention_recurrent(K, V, np.tile(e, (t, 1)), np.full(t, gamma))[-1]
                  for e in np.eye(d_k)], axis=1)
    assert energy == pytest.approx(float(np.sum(S**2)), rel=1e-12)


def test_decay_controls_differ_by_their_slip():
    """The near-miss predictions are the stated slips (sympy): one write short or long, decay after the write."""
    right = th.decay_stationary_energy().result
    t, g = th.t_s, th.gamma_s
    assert sp.simplify(th.decay_energy_variant("one_term_short") - right
                       - th.d_k_s * th.d_v_s * (g ** (2 * t) - g ** (2 * t - 2)) / (1 - g**2)) == 0
    assert sp.simplify(th.decay_energy_variant("one_term_long") - right.subs(t, t + 1)) == 0
    with pytest.raises(ValueError, match="unknown slip"):
        th.decay_energy_variant("typo")


def test_step_size_edges_do_not_converge():
    """At x = beta ||k||^2 = 2 the cyclic delta rule reflects the error (distance stays 1); past 2/lambda_max the
    batch rule diverges; inside both intervals they converge."""
    rng = np.random.default_rng(1)
    inside = fp.measure_delta_interpolation(rng, N=3, d_k=5, d_v=2, x=1.9, log2_epochs=20)
    edge = fp.measure_delta_interpolation(np.random.default_rng(1), N=3, d_k=5, d_v=2, x=1.9, log2_epochs=20,
                                          variant="reflection")
    assert inside.estimate < 1e-8 and edge.estimate == pytest.approx(1.0, abs=1e-6)
    ok = fp.measure_delta_least_squares(rng, N=20, d_k=4, d_v=2, step_fraction=0.95, iterations=500)
    past = fp.measure_delta_least_squares(np.random.default_rng(2), N=20, d_k=4, d_v=2, step_fraction=0.95,
                                          iterations=500, variant="beyond_limit")
    assert ok.estimate < 1e-8 and past.estimate > 1e6


@pytest.mark.parametrize("name", ["delta_fixed_point", "least_squares_step_condition", "decay_stationary_energy",
                                  "deltaformer_forms", "softmax_forms", "deltaformer_reduces_to_softmax",
                                  "deltaformer_reduces_to_deltanet"])
def test_derivations_verify_every_step(name):
    """The fixed-point, form and reduction derivations verify in sympy with no assumed or cited step."""
    assert {c.status for c in getattr(th, name)().verify()} == {"verified"}


def test_comba_form_verifies_at_three_dimensions():
    """The Comba form of gated DeltaNet verifies on a symbolic 3 x 3 memory too (the ledger uses 2 x 2)."""
    from theory import updates as tu

    assert [c.status for c in tu.comba_form(3).verify()] == ["verified"]


def test_comba_measure_compares_with_gated_deltanets_own_loop(monkeypatch):
    """The Comba check's reference is gated DeltaNet's token loop: a reference 1 % off shows as a 1 % gap.
    Both controls vary the Comba side, so a measure comparing the Comba loop with itself would still
    reject them; only this sees the reference."""
    real = measures.gated_deltanet_recurrent
    assert measures.measure_comba_form(np.random.default_rng(0), T=20, d_k=4, d_v=3).estimate < 1e-12
    monkeypatch.setattr(measures, "gated_deltanet_recurrent", lambda *a, **k: 1.01 * real(*a, **k))
    gap = measures.measure_comba_form(np.random.default_rng(0), T=20, d_k=4, d_v=3).estimate
    assert 0.009 < gap < 0.011


@settings(max_examples=20)
@given(n=st.integers(1, 6), d=st.integers(1, 6), beta=st.floats(0.05, 1.5), epochs=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
def test_cyclic_delta_is_the_epoch_map_applied_epoch_times(n, d, beta, epochs, seed):
    """The step-by-step passes (cyclic_delta) and the composed affine epoch (epoch_map: S -> S P + c) are
    written apart; from S_0 = 0 one epoch is c, and E epochs are the map applied E times."""
    rng = np.random.default_rng(seed)
    K, V = rng.standard_normal((n, d)) / np.sqrt(d), rng.standard_normal((n, 3))
    P, c = fp.epoch_map(K, V, beta)
    S = np.zeros_like(c)
    for _ in range(epochs):
        S = S @ P + c
    np.testing.assert_allclose(fp.cyclic_delta(K, V, beta, epochs), S, rtol=1e-10, atol=1e-12)


def test_instrumented_count_matches_hand_counts():
    """The multiply-add counter charges m k n per product and n^3 per inverse, through derived arrays."""
    from numerics.updates.cost import MultiplyAddCounter

    counter = MultiplyAddCounter()
    A = counter.wrap(np.ones((3, 4)))
    B = np.ones((4, 5))
    C = (2.0 * A) @ B  # the scaled copy still counts
    np.linalg.inv(np.eye(5) + C[:, :5].T @ C[:, :5])
    assert counter.count == 3 * 4 * 5 + 5 * 3 * 5 + 5**3


@settings(max_examples=20, deadline=None)
@given(chunks=st.integers(1, 6), C=st.integers(1, 12), D=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_listing_organisation_costs_exactly_the_formula_and_matches_the_loop(chunks, C, D, seed):
    """Listing 1's chunked first stage equals the token loop and costs T^2 D + T C D + T C^2 (C divides T)."""
    from numerics.updates.chunked import deltaformer_first_stage_listing
    from numerics.updates.cost import MultiplyAddCounter
    from numerics.updates.naive import deltaformer_first_stage_reference

    T = chunks * C
    rng = np.random.default_rng(seed)
    K, V = rng.standard_normal((T, D)), rng.standard_normal((T, D))
    counter = MultiplyAddCounter()
    U = deltaformer_first_stage_listing(counter.wrap(K), counter.wrap(V), tau=np.sqrt(D), C=C)
    assert counter.count == T * T * D + T * C * D + T * C * C
    np.testing.assert_allclose(np.asarray(U), deltaformer_first_stage_reference(K, K, V, np.sqrt(D)),
                               rtol=1e-10, atol=1e-10)


def test_the_softmax_forms_claim_has_a_point_past_exps_overflow():
    """update.forms.softmax states its chunked form holds "at any temperature": its default grid keeps a point
    whose scores q^T k / tau (q, k ~ N(0, I_{d_k}): standard deviation d_k^{1/2} / tau) pass exp's overflow at
    709 by a wide margin, so that the shifted blocks are exercised (a point moved to tau = sqrt(d_k) passed
    with that route never run)."""
    from proofs_check.ledger import get_claim

    spreads = [math.sqrt(p["d_k"]) / p["tau"] for p in get_claim("update.forms.softmax").grids["default"]]
    assert max(spreads) > 709 / 3  # the largest of T^2 / 2 scores is about 3-4 standard deviations out


@pytest.mark.parametrize("rule", ["linear_attention", "decay", "deltanet", "gated_deltanet"])
def test_the_forms_claims_run_three_chunk_groups_at_a_default_point(rule):
    """The chunked state-passing forms batch 512 tokens' worth of chunks per group and prefetch two groups ahead;
    a default point of update.forms.<rule> runs at least three groups, so the grouped pass (its buffer slots and
    prefetch) is checked in the default run and not only a single group (T = 1100 at C = 32: 35 chunks, groups
    of 16; a point moved to T = 500 ran one)."""
    from proofs_check.ledger import get_claim

    groups = [math.ceil(math.ceil(p["T"] / p["C"]) / max(1, 512 // p["C"]))
              for p in get_claim(f"update.forms.{rule}").grids["default"]]
    assert max(groups) >= 3
