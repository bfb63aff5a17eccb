"""Benchmark: chunked DeltaNet and DeltaFormer against their token loops (float64, T = 4096, d = 64).

Run from the repository root:

    python3 bench/update_bench.py                 # BLAS threads as the environment sets them
    python3 bench/update_bench.py --threads 1     # pin BLAS to one thread (set before numpy loads)

Each timing is the best of ``--repeats`` runs; both routes run in the same process on the same inputs,
and the script reports the ratio token-loop / chunked for every chunk size and the agreement of the
outputs. DeltaFormer uses softmax kernels in both stages (tau = sqrt(d)), beta = alpha = 1, w = k, as in
the companion's Listing 1.
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
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (set before numpy is imported)")
    p.add_argument("--only", choices=["deltanet", "deltaformer"], default=None)
    return p.parse_args()


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> int:
    args = parse()
    if args.threads is not None:
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

    if args.only in (None, "deltanet"):
        t_loop, ref = best_of(lambda: num.deltanet_recurrent(K, V, Q, beta), max(1, args.repeats - 1))
        print(f"DeltaNet token loop: {t_loop:.3f} s")
        for C in args.chunks:
            t, out = best_of(lambda: num.deltanet_chunked(K, V, Q, beta, C), args.repeats)
            gap = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
            print(f"  chunked C={C:4d}: {t:.4f} s  ratio {t_loop / t:6.1f}x  max rel gap {gap:.1e}")

    if args.only in (None, "deltaformer"):
        kernel = num.exp_kernel(float(np.sqrt(d)))
        kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True)
        t_loop, ref = best_of(lambda: num.deltaformer_recurrent(K, V, Q, **kw), max(1, args.repeats - 1))
        print(f"DeltaFormer token loop: {t_loop:.3f} s")
        t_par, out = best_of(lambda: num.deltaformer_parallel(K, V, Q, **kw), 1)
        gap = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
        print(f"  matrix form (T x T): {t_par:.4f} s  ratio {t_loop / t_par:6.1f}x  max rel gap {gap:.1e}")
        for C in args.chunks:
            t, out = best_of(lambda: num.deltaformer_chunked(K, V, Q, C=C, **kw), args.repeats)
            gap = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
            print(f"  chunked C={C:4d}: {t:.4f} s  ratio {t_loop / t:6.1f}x  max rel gap {gap:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
