"""Benchmark for the capacity and ffn sections: wall time of the quick checks, and peak memory of
exp-kernel retrieval at N = 10^6 stored keys against a dense baseline in the same process.

Run from the repository root:

    python3 bench/capacity_bench.py            # everything
    python3 bench/capacity_bench.py --memory   # only the retrieval memory measurement
    python3 bench/capacity_bench.py --timing   # only the check timings

Memory is measured with tracemalloc (numpy registers its buffers with it), so the number is the
peak of Python + numpy allocations during the call, and the process's ru_maxrss is printed too.
The dense baseline materialises all keys, all values and the (queries x N) score matrix; the
streamed routine (numerics.kernels.top1_accuracy) keeps O(chunk (d_k + d_v + queries)) floats.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from numerics.kernels import top1_accuracy  # noqa: E402

GIB = 2**30


def dense_top1_accuracy(rng, *, N, d_k, d_v, tau=2.0, queries=64):
    """Baseline: the same retrieval with every key, value and score held in memory at once."""
    K = rng.standard_normal((N, d_k))
    V = rng.standard_normal((N, d_v))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    idx = rng.choice(N, size=queries, replace=False)
    s = K[idx] @ K.T / tau
    w = np.exp(s - s.max(axis=1, keepdims=True))
    out = w @ V
    return float(np.mean((out @ V.T).argmax(axis=1) == idx))


def peak(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return value, top, seconds


def memory(n_large: int, n_dense: int, d_k: int, d_v: int) -> None:
    rng = np.random.default_rng(0)
    acc, top, sec = peak(lambda: top1_accuracy(rng, kernel="exp", N=n_large, d_k=d_k, d_v=d_v))
    print(f"streamed exp retrieval N={n_large:,} d_k={d_k} d_v={d_v}: peak {top / 2**20:.1f} MiB "
          f"({top / GIB:.3f} GiB, limit 1 GiB: {'ok' if top < GIB else 'EXCEEDED'}), {sec:.1f} s, top-1 acc {acc:.3f}")
    acc_s, top_s, sec_s = peak(lambda: top1_accuracy(np.random.default_rng(1), kernel="exp", N=n_dense, d_k=d_k, d_v=d_v))
    acc_d, top_d, sec_d = peak(lambda: dense_top1_accuracy(np.random.default_rng(1), N=n_dense, d_k=d_k, d_v=d_v))
    print(f"same process, N={n_dense:,}: streamed peak {top_s / 2**20:.1f} MiB in {sec_s:.2f} s; dense baseline peak "
          f"{top_d / 2**20:.1f} MiB in {sec_d:.2f} s; memory ratio dense/streamed {top_d / top_s:.1f}x, "
          f"time ratio streamed/dense {sec_s / sec_d:.2f}x")
    dense_at_large = top_d * n_large / n_dense
    print(f"dense baseline extrapolated to N={n_large:,}: {dense_at_large / GIB:.2f} GiB")
    print(f"process ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def timing() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")
    total = 0.0
    for section in ("capacity", "ffn"):
        cmd = [sys.executable, "-m", "proofs_check", "check", "--section", section, "--quick", "-q"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        sec = time.perf_counter() - t0
        total += sec
        last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        print(f"{' '.join(cmd[1:])}: exit {proc.returncode}, {sec:.1f} s wall  [{last}]")
    print(f"capacity + ffn quick: {total:.1f} s wall (target < 60 s on 2 cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--n", type=int, default=10**6, help="stored keys for the memory measurement")
    args = parser.parse_args()
    both = not (args.memory or args.timing)
    if args.memory or both:
        memory(args.n, 200_000, d_k=24, d_v=64)
    if args.timing or both:
        timing()


if __name__ == "__main__":
    main()
