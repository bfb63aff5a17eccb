"""Benchmarks and measurements for the expressivity section (not tests; numbers go in the docs).

1. Speed of the exact swap construction at n = 32, T = 500 (target: well under a second), as
   absolute time and as a ratio to a baseline run in the same process: the parallel form
   ``U = (I + A)^{-1} V`` by one triangular solve of the same size.
2. Where it fails: decoded failure rate against n/d for the kernels round, identity (linear,
   DeltaNet-style), exp and softmax, with coherent keys (where they exist) and with random unit
   keys, next to the rate of a tracker that ignores every swap.
3. The dimension needed: the largest coherent prefix of a stream of i.i.d. random unit vectors
   against d, its fitted growth rate, and the limit rate -(1/4) ln(1 - eps^2); and what the KU cache
   of the construction costs against the n^2 state of an exact linear-kernel tracker.

The section's mutants live with the others in ``bench/mutants.py`` (``SECTION_MUTANTS``) and run with
``python3 bench/mutation.py --catalogue section --section expressivity``.

Run from the repository root: ``python3 bench/expressivity_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import statistics
import sys
import time

import numpy as np
import sympy as sp
from scipy.linalg import solve_triangular

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from numerics import expressivity as ex  # noqa: E402
from theory import expressivity as th  # noqa: E402


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_speed(repeats: int) -> None:
    rng = np.random.default_rng(0)
    n, T, d = 32, 500, 160
    keys = ex.coherent_unit_keys(rng, n, d)
    swaps = ex.random_swaps(rng, n, T)
    values = np.eye(n)
    K, V = ex.swap_tokens(keys, values, swaps)
    A = np.tril(np.rint(K @ K.T), -1)
    U_loop = ex.kernel_u_recursion(K, K, V)
    assert np.array_equal(U_loop, solve_triangular(np.eye(len(K)) + A, V, lower=True, unit_diagonal=True))
    keygen = _median_seconds(lambda: ex.coherent_unit_keys(np.random.default_rng(1), n, d), repeats)
    full = _median_seconds(lambda: ex.track_swaps(keys, values, swaps), repeats)
    loop = _median_seconds(lambda: ex.kernel_u_recursion(K, K, V), repeats)
    baseline = _median_seconds(
        lambda: solve_triangular(np.eye(len(K)) + np.tril(np.rint(K @ K.T), -1), V, lower=True, unit_diagonal=True),
        repeats)
    print(f"## speed (n={n}, T={T}, d={d}, {len(K)} tokens; median of {repeats})")
    print(f"key sampling (greedy, coherence < 1/8):     {keygen * 1e3:8.2f} ms")
    print(f"track_swaps (u-recursion + every read-out): {full * 1e3:8.2f} ms")
    print(f"u-recursion loop alone:                     {loop * 1e3:8.2f} ms")
    print(f"baseline: one triangular solve (I + A)U = V: {baseline * 1e3:7.2f} ms")
    print(f"ratio loop / triangular solve:              {loop / baseline:8.1f} x")
    print(f"ratio track_swaps / triangular solve:       {full / baseline:8.1f} x\n")


KERNELS = [("round", 1.0), ("identity", 1.0), ("exp", 1.0), ("softmax", 0.1), ("softmax", 1.0)]


def _keys(rng, n: int, d: int, coherent: bool) -> np.ndarray:
    if coherent:
        return ex.coherent_unit_keys(rng, n, d)
    keys = rng.standard_normal((n, d))
    return keys / np.linalg.norm(keys, axis=1, keepdims=True)


def _rates(n: int, d: int, T: int, rng, coherent: bool) -> list[float]:
    """Failure rate per kernel, plus the rate of a tracker that ignores every swap (last entry)."""
    keys = _keys(rng, n, d, coherent)
    swaps = ex.random_swaps(rng, n, T)
    truth = ex.tracked_positions(n, swaps)
    out = []
    for kernel, tau in KERNELS:
        with np.errstate(all="ignore"):
            read_outs, _, _ = ex.track_swaps(keys, np.eye(n), swaps, kernel=kernel, tau=tau)
        finite = np.all(np.isfinite(read_outs))
        out.append(ex.decode_failure_rate(read_outs, truth) if finite else math.nan)
    out.append(float(np.mean(truth != np.arange(n))))
    return out


def bench_failure(d: int, sizes, T: int, reps: int, coherent: bool) -> None:
    keys = "coherent keys (greedy code, |k_i^T k_j| < 1/8)" if coherent else "random unit keys"
    print(f"## decoded failure rate vs n/d ({keys}, d={d}, T={T} swaps, every step and position, "
          f"mean of {reps} runs; nan = overflow)")
    names = [f"{k}(tau={t:g})" if k in ("exp", "softmax") else k for k, t in KERNELS] + ["ignore swaps"]
    print("n/d      n  " + "  ".join(name.rjust(16) for name in names))
    for n in sizes:
        runs = [_rates(n, d, T, np.random.default_rng([n, d, i, coherent]), coherent) for i in range(reps)]
        cells = [f"{statistics.mean(col):16.3f}" for col in zip(*runs)]
        print(f"{n / d:<6.3g} {n:4d}  " + "  ".join(cells))
    print()


def bench_dimension(eps: float, dims, trials: int) -> None:
    rng = np.random.default_rng(5)
    print(f"## largest coherent prefix of i.i.d. unit vectors (eps={eps}, {trials} streams per d)")
    print("   d   median n_max   first-moment n*(d) (exact)")
    logs = []
    for dim in dims:
        sizes = [ex.largest_coherent_prefix(rng, dim, eps) for _ in range(trials)]
        n_star = math.exp(float(th.log_first_moment_size(dim, eps)))
        logs.append(math.log(statistics.median(sizes)))
        print(f"{dim:4d}   {statistics.median(sizes):12.1f}   {n_star:10.1f}")
    slope = float(np.polyfit(np.asarray(dims, dtype=float), logs, 1)[0])
    rate = float(th.coherence_rate().subs(th.eps, eps))
    print(f"fitted d log(median n_max)/dd = {slope:.4f}; limit rate -(1/4) ln(1 - eps^2) = {rate:.4f}\n")


def _first_moment_dimension(n: int, eps) -> int:
    """Smallest d with n(n-1)/2 p_d(eps) < 1 (exact p_d; p_d decreases in d): a coherent set then exists."""
    def ok(dim):
        return n * (n - 1) / 2 * float(th.violation_probability().subs({th.d: dim, th.eps: eps}).evalf(20)) < 1

    low, high = 2, 4
    while not ok(high):
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return high


def _greedy_dimension(n: int) -> int:
    """Smallest d at which the random greedy code of the construction finds n keys with coherence < 1/8."""
    dim = 2
    while True:
        try:
            ex.coherent_unit_keys(np.random.default_rng([n, dim]), n, dim, max_draws=20_000)
            return dim
        except ValueError:
            dim += max(1, dim // 16)


def bench_cache(sizes, greedy_sizes) -> None:
    """KU-cache floats at T = n swaps (the periodic-rewrite regime) against the n^2 state of a linear tracker."""
    eps = sp.Rational(1, 8)
    print("## KU cache of the swap construction at T = n (eps = 1/8) against the n^2 linear-kernel state")
    print("      n   d*(n) first moment   d greedy   cache one-hot v   cache v = keys         n^2   ratio (v = keys)")
    for n in sizes:
        d_star = _first_moment_dimension(n, eps)
        greedy = f"{_greedy_dimension(n):10d}" if n in greedy_sizes else " " * 10
        one_hot, coded = 2 * n * (d_star + n), 2 * n * 2 * d_star
        print(f"{n:7d}   {d_star:18d}   {greedy}   {one_hot:15.3g}   {coded:14.3g}   {n * n:9.3g}   {coded / n**2:10.3g}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    bench_speed(repeats=3 if args.quick else 7)
    reps = 1 if args.quick else 3
    bench_failure(d=256, sizes=(8, 16, 32, 64), T=200, reps=reps, coherent=True)
    bench_failure(d=32, sizes=(8, 16, 32, 64, 128, 256), T=200, reps=reps, coherent=False)
    bench_dimension(0.5, [16, 32, 48, 64], trials=20 if args.quick else 60)
    bench_cache((5, 16, 32, 64, 1024, 10_000, 100_000), greedy_sizes=(5, 16, 32, 64))


if __name__ == "__main__":
    main()
