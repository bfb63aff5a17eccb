"""Benchmark: chunked DeltaNet and DeltaFormer against their token loops (float64, T = 4096, d = 64).

Run from the repository root:

    python3 bench/update_bench.py                 # BLAS pinned to one thread (the default)
    python3 bench/update_bench.py --threads 0     # BLAS threads as the environment sets them

Both routes run in the same process on the same inputs; each timing (the bound's products too) is
the best of ``--repeats`` runs. For every chunk size the script reports the ratio token loop /
chunked form, once as the library runs it (threads of its own: chunked DeltaNet puts the batched
work on a second thread; chunked DeltaFormer splits its first stage's products against earlier rows
over one thread per available core and runs second-stage blocks on the same threads) and once on
this thread alone, and the agreement of the outputs. DeltaFormer uses softmax kernels in both stages
(tau = sqrt(d)), beta = alpha = 1, w = k, as in the companion's Listing 1.

BLAS is pinned to one thread by default because the chunked forms bring their own threads:
OpenBLAS's workers spin for a while after each multi-threaded call, and on a 2-core machine they
then compete with that thread (measured: chunked DeltaFormer 2-3x slower with 2 BLAS threads).

For DeltaFormer the script also measures what bounds any float64 form that does the same arithmetic
as the loop (about 2 T^2 d multiply-adds and T^2 exponentials, which the loop does as matrix-vector
products): it cannot take less time than that arithmetic at the best matrix-product rate and the
exponential rate this process measures, spread over the cores. A second bound does the same
arithmetic at the best rates BLAS reaches in the shapes a chunked form multiplies in (inner dimension
d for the scores, d columns for the values), which on this machine are below the large square product's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=4096)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--chunks", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads, set before numpy is imported (0: leave the environment alone)")
    p.add_argument("--only", choices=["deltanet", "deltaformer"], default=None)
    return p.parse_args()


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def arithmetic_floor(T: int, d: int, rng, best_of, *, exp_repeats: int, repeats: int = 5):
    """One core's time for the arithmetic every DeltaFormer form must do at ``T`` tokens of width ``d``:
    ``(flops, rate, pairs, per_exp, floor)``. Per stage T(T-1)/2 (first) or T(T+1)/2 (second) scores,
    each a d-long dot product, an exponential, and a d-long row of the product with U; the rate is the
    best matrix-product rate this process reaches (the chunked form's shape, and a large square product
    where BLAS is at its most efficient), each product the best of ``repeats``. ``best_of(fn, repeats)``
    returns ``(seconds, result)``."""
    import numpy as np  # after main() has set the BLAS threads

    pairs = T * (T - 1) // 2 + T * (T + 1) // 2
    flops = 2 * 2 * pairs * d
    rate = 0.0
    for m, k, n in ((256, d, T), (1024, 1024, 1024)):
        A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        t_mm, _ = best_of(lambda: A @ B, repeats)
        rate = max(rate, 2 * m * k * n / t_mm)
    per_exp = _per_exp(T, rng, best_of, exp_repeats)
    return flops, rate, pairs, per_exp, flops / rate + pairs * per_exp


SHAPE_ROWS, SHAPE_COLS = (128, 256), (512, 1024, 2048)


def shape_floor(T: int, d: int, rng, best_of, *, exp_repeats: int, repeats: int = 5):
    """The same arithmetic as :func:`arithmetic_floor`, with each product at the best rate BLAS reaches in
    the shapes a chunked form multiplies in: scores ``(m, d) @ (d, n)`` (inner dimension ``d``) and the
    exponentials times ``U``, ``(m, n) @ (n, d)`` (``d`` columns), for row blocks ``m`` in
    :data:`SHAPE_ROWS` and column blocks ``n`` in :data:`SHAPE_COLS` (the chunked DeltaFormer uses
    ``m = 128``, ``n = 1024``). Operands in cache, as in the 1024^3 product of the other bound.
    Returns ``(score_rate, value_rate, per_exp, floor)``: one core's time."""
    import numpy as np

    pairs = T * (T - 1) // 2 + T * (T + 1) // 2
    score_rate = value_rate = 0.0
    for m in SHAPE_ROWS:
        for n in SHAPE_COLS:
            A, B = rng.standard_normal((m, d)), rng.standard_normal((d, n))
            E, Z = rng.standard_normal((m, n)), rng.standard_normal((n, d))
            score_rate = max(score_rate, 2 * m * d * n / best_of(lambda: A @ B, repeats)[0])
            value_rate = max(value_rate, 2 * m * n * d / best_of(lambda: E @ Z, repeats)[0])
    per_exp = _per_exp(T, rng, best_of, exp_repeats)
    floor = 2 * pairs * d / score_rate + 2 * pairs * d / value_rate + pairs * per_exp
    return score_rate, value_rate, per_exp, floor


def _per_exp(T: int, rng, best_of, repeats: int) -> float:
    """Seconds per float64 exponential (``np.exp`` over 256 T numbers)."""
    import numpy as np

    x = rng.standard_normal(256 * T)
    t_exp, _ = best_of(lambda: np.exp(x), repeats)
    return t_exp / x.size


def main() -> int:
    args = parse()
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import numpy as np

    from numerics import updates as num

    rng = np.random.default_rng(20250526)
    T, d = args.T, args.d
    K = rng.standard_normal((T, d)) / np.sqrt(d)
    V = rng.standard_normal((T, d))
    Q = rng.standard_normal((T, d)) / np.sqrt(d)
    beta = rng.uniform(0.0, 1.0, T)
    print(f"T={T} d={d} float64, BLAS threads={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, "
          f"cpus={os.cpu_count()}, best of {args.repeats}")

    gap = num.max_relative_gap  # max |out - ref| / max |ref|

    def report(name, t_loop, ref, run):
        times = {}
        for C in args.chunks:
            t2, out = best_of(lambda: run(C, True), args.repeats)
            t1, _ = best_of(lambda: run(C, False), args.repeats)
            times[C] = t2
            print(f"  chunked C={C:4d}: {t2:.4f} s  ratio {t_loop / t2:6.1f}x   "
                  f"(one thread: {t1:.4f} s, {t_loop / t1:5.1f}x)  max rel gap {gap(out, ref):.1e}")
        return times

    if args.only in (None, "deltanet"):
        t_loop, ref = best_of(lambda: num.deltanet_recurrent(K, V, Q, beta), max(1, args.repeats // 2))
        print(f"DeltaNet token loop: {t_loop:.3f} s")
        report("DeltaNet", t_loop, ref,
               lambda C, threads: num.deltanet_chunked(K, V, Q, beta, C, threads=threads))

    if args.only in (None, "deltaformer"):
        kernel = num.exp_kernel(float(np.sqrt(d)))
        kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True)
        t_loop, ref = best_of(lambda: num.deltaformer_recurrent(K, V, Q, **kw), max(1, args.repeats // 2))
        print(f"DeltaFormer token loop: {t_loop:.3f} s")
        naive = num.deltaformer_reference(Q, K, V, K, np.ones(T), np.ones(T), float(np.sqrt(d)), float(np.sqrt(d)))
        print(f"  token loop vs the naive reference (numerics.updates.naive): max rel gap {gap(ref, naive):.1e}")
        t_par, out = best_of(lambda: num.deltaformer_parallel(K, V, Q, **kw), 1)
        print(f"  matrix form (T x T): {t_par:.4f} s  ratio {t_loop / t_par:6.1f}x  max rel gap {gap(out, ref):.1e}")
        times = report("DeltaFormer", t_loop, ref,
                       lambda C, threads: num.deltaformer_chunked(K, V, Q, C=C, threads=threads, **kw))
        best_C = min(times, key=times.get)
        flops, rate, pairs, per_exp, floor = arithmetic_floor(T, d, rng, best_of, exp_repeats=20, repeats=args.repeats)
        # a single-threaded BLAS measures one core's rate; otherwise the rate may already span the cores
        cores = (os.cpu_count() or 1) if args.threads == 1 else 1
        print(f"  bound: {flops / 1e9:.2f} GFlop at {rate / 1e9:.1f} GFlop/s (best product rate) and "
              f"{pairs / 1e6:.1f} M exponentials at {per_exp * 1e9:.1f} ns: {floor:.3f} s of one core's work, "
              f"{floor / cores:.3f} s over {cores} core(s): no form doing this arithmetic can beat "
              f"{t_loop / (floor / cores):.1f}x here; chunked C={best_C} reaches {floor / cores / times[best_C]:.0%}")
        score_rate, value_rate, _, shaped = shape_floor(T, d, rng, best_of, exp_repeats=20, repeats=args.repeats)
        print(f"  bound at the shapes the algorithm uses ({SHAPE_ROWS} rows x {SHAPE_COLS} columns, d = {d}): "
              f"scores at {score_rate / 1e9:.1f}, values at {value_rate / 1e9:.1f} GFlop/s: "
              f"{shaped / cores:.3f} s over {cores} core(s); chunked C={best_C} reaches "
              f"{shaped / cores / times[best_C]:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
