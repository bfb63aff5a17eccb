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
then compete with that thread (measured: chunked DeltaFormer 2-3x slower with 2 BLAS threads). The
chunked forms now pin BLAS themselves while they run (called from the main thread, as here), so
``--threads 0`` changes only the token loops, the matrix form and the bound's products.

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


SHAPE_ROWS, SHAPE_COLS = (128, 256, 384), (512, 1024, 1280, 2048)


class BoundKernels:
    """The kernels of the DeltaFormer bounds at ``T`` tokens of width ``d``, operands and outputs made
    once (so a timing never includes allocating or first touching an output), each timing the best of
    ``repeats`` runs (``best_of(fn, repeats)`` returns ``(seconds, result)``).

    Per stage T(T-1)/2 (first) or T(T+1)/2 (second) scores, each a d-long dot product, an
    exponential, and a d-long row of the product with U: ``pairs`` of them, ``4 pairs d`` flops."""

    def __init__(self, T: int, d: int, rng, best_of):
        import numpy as np  # after main() has set the BLAS threads

        self.np, self.best_of, self.T, self.d = np, best_of, T, d
        self.pairs = T * (T - 1) // 2 + T * (T + 1) // 2
        self.flops = 2 * 2 * self.pairs * d
        # the chunked form's shape and a large square product, where BLAS is at its most efficient
        self.products = [self._product(rng, m, k, n) for m, k, n in ((256, d, T), (1024, 1024, 1024))]
        # scores (m, d) @ (d, n) and the exponentials times U, (m, n) @ (n, d), per shape
        self.shapes = [(self._product(rng, m, d, n), self._product(rng, m, n, d))
                       for m in SHAPE_ROWS for n in SHAPE_COLS]
        self.x = rng.standard_normal(256 * T)
        self.y = np.empty_like(self.x)

    def _product(self, rng, m: int, k: int, n: int):
        A, B, C = rng.standard_normal((m, k)), rng.standard_normal((k, n)), self.np.empty((m, n))
        return 2 * m * k * n, lambda: self.np.matmul(A, B, out=C)

    def _rate(self, product, repeats: int) -> float:
        flops, run = product
        return flops / self.best_of(run, repeats)[0]

    def per_exp(self, repeats: int) -> float:
        """Seconds per float64 exponential (``np.exp`` over 256 T numbers)."""
        return self.best_of(lambda: self.np.exp(self.x, out=self.y), repeats)[0] / self.x.size

    def arithmetic(self, *, exp_repeats: int, repeats: int = 5):
        """One core's time for the arithmetic every DeltaFormer form must do: ``(flops, rate, pairs,
        per_exp, floor)``, the rate the best matrix-product rate measured."""
        rate = max(self._rate(p, repeats) for p in self.products)
        per_exp = self.per_exp(exp_repeats)
        return self.flops, rate, self.pairs, per_exp, self.flops / rate + self.pairs * per_exp

    def shape(self, *, exp_repeats: int, repeats: int = 5):
        """The same arithmetic with each product at the best rate BLAS reaches in the shapes a chunked form
        multiplies in: scores (inner dimension ``d``) and values (``d`` columns), for row blocks ``m`` in
        :data:`SHAPE_ROWS` and column blocks ``n`` in :data:`SHAPE_COLS` (the chunked DeltaFormer uses
        ``m = 128`` and ``384``, ``n = 1280``); operands in cache, as in the 1024^3 product of the other bound.
        Returns ``(score_rate, value_rate, per_exp, floor)``: one core's time."""
        score_rate = max(self._rate(scores, repeats) for scores, _ in self.shapes)
        value_rate = max(self._rate(values, repeats) for _, values in self.shapes)
        per_exp = self.per_exp(exp_repeats)
        half = 2 * self.pairs * self.d
        return score_rate, value_rate, per_exp, half / score_rate + half / value_rate + self.pairs * per_exp


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
        kernels = BoundKernels(T, d, rng, best_of)  # operands made once for both bounds
        flops, rate, pairs, per_exp, floor = kernels.arithmetic(exp_repeats=20, repeats=args.repeats)
        # a single-threaded BLAS measures one core's rate; otherwise the rate may already span the cores
        cores = (os.cpu_count() or 1) if args.threads == 1 else 1
        print(f"  bound: {flops / 1e9:.2f} GFlop at {rate / 1e9:.1f} GFlop/s (best product rate) and "
              f"{pairs / 1e6:.1f} M exponentials at {per_exp * 1e9:.1f} ns: {floor:.3f} s of one core's work, "
              f"{floor / cores:.3f} s over {cores} core(s): no form doing this arithmetic can beat "
              f"{t_loop / (floor / cores):.1f}x here; chunked C={best_C} reaches {floor / cores / times[best_C]:.0%}")
        score_rate, value_rate, _, shaped = kernels.shape(exp_repeats=20, repeats=args.repeats)
        print(f"  bound at the shapes the algorithm uses ({SHAPE_ROWS} rows x {SHAPE_COLS} columns, d = {d}): "
              f"scores at {score_rate / 1e9:.1f}, values at {value_rate / 1e9:.1f} GFlop/s: "
              f"{shaped / cores:.3f} s over {cores} core(s); chunked C={best_C} reaches "
              f"{shaped / cores / times[best_C]:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
