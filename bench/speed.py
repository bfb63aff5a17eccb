"""Benchmark: every speed target of issue 13 as a ratio measured in one run, printed as one table.

Run from the repository root (a few minutes on 2 cores; ``--skip-default`` and ``--skip-deltaformer``
leave out the longest parts):

    python3 bench/speed.py                       # everything
    python3 bench/speed.py --skip-default        # no default-mode check runs (the longest part)
    python3 bench/speed.py --jobs 16 --full      # on a 16-core machine: issue 13's targets there

What it measures, each against a baseline taken in this run:

* **check**: wall time of ``amverify check`` (a subprocess each) in default mode with ``--jobs 1`` and
  ``--jobs N`` (``--jobs``, default 2), alternated ``--repeats`` times (the ratio of the medians, and
  the parallel efficiency ratio / N; the point task time of each, whose ratio is what running side
  by side costs the work itself, and the ratio that work allows: the last ``--jobs 1`` run's time
  over its time outside points plus the ``--jobs N`` point time over N), and in quick mode, cold
  (``--no-cache``) and warm (derivation cache primed); the critical path is read from
  the ``--jobs N`` run's JSON report: a point's pilot task plus its longest chunk of batches (its
  chunks run side by side), the longest chain no number of workers can shorten; the point task time
  over it is how many workers the run could keep busy at best. The start-up: how long after launch a
  ``check --quick --jobs 2`` process has its claims loaded and planned, and its pool its first worker
  (with a fork server, the worker is forked once the server has imported the ledger); no task starts
  earlier, so 16 workers take at least that plus the ``--jobs 1`` point work over 16, which bounds the
  parallel efficiency at 16 workers (issue 13's target) from measurements here. With ``--full``, ``check --full
  --jobs N`` twice: a first run (which fills the cache with the full grid's predictions) and one with
  the cache warm. The cache lives in a temporary folder, never the user's.
* **symbolic phase**: every claim's symbolic check in this process, first into an empty derivation
  cache (cold), then again (warm); the ratio cold / warm.
* **heavy read-out points** (the FFN and ReLU-kernel points of issue 13's table, default grid): the
  time their simulations take (every ``simulate`` call of the point, timed in the engine's own run
  of it), against (a) a 512 x 512 float64 matrix product's multiply-add rate and (b) the
  generator's own rate for the normal draws the estimator needs (measured with ``standard_normal``
  of the same total size): ratio (b) "RNG/sim" >= 0.5 is "within 2x". What is counted: ``N - 1``
  draws per trial of each ``simulate`` call; a call that computes several routes from one set of
  draws (a route control sharing the main route's numbers, ``MonteCarlo.shared_variants``) counts
  them once, as it draws them once, and its time is the shared call's. For an activation that costs
  more than the draw (GELU's ``Phi``, SiLU's logistic) a second row per point measures the floor:
  the generator plus the activation evaluated on the same count, in the estimator's blocks and
  buffers; "RNG/floor" is the most RNG/sim can be for that form, and "sim at x of the floor" how
  close the simulation comes to it.
* **chunked DeltaFormer** (softmax kernels, T = ``--T``, d = 64): the token loop against the chunked
  form on every core and on one thread (best of ``--deltaformer-repeats`` calls each, 20 by default:
  on the development VM a best of 5 moved by several per cent with the machine's speed), and the share of
  the arithmetic bound of ``bench/update_bench.py`` (2 T^2 d multiply-adds and T^2 exponentials at
  this process's best product and exponential rates, over the cores) the chunked form reaches, and its
  share of the same arithmetic at the rates BLAS reaches in the d-wide product shapes a chunked form
  uses. Both shares again as paired estimates: ``--deltaformer-rounds`` rounds, each one call on every
  core followed at once by each of the bound's kernels (best of 2), the share taken round by round
  (median, quartiles and range reported). A slow moment of the machine then slows both sides of a
  round, where a best of calls over a best of kernel timings taken at other moments moves with it
  (one run here read 93 % when the others read 70-72 %). Last, the throughput of the form's part
  (scores, exponentials, product with ``[U, 1]``) with a thread per core at once over one core's:
  the shape bound at that throughput is what the machine allows the form's kernels side by side. And
  its critical path (:func:`deltaformer_chain`): the sequential chunk pass, timed on one thread outside
  the queued tasks; the one-thread time over it is the most any number of cores can gain (work over
  span), and the token loop's time over it the most the form can reach over the loop at this
  machine's per-core speeds (issue 13's 15x with 16 cores). The loop is timed as the best of 3.

Times are wall-clock: on a machine shared with other work the ratios move; run it on an idle one.
The timed ``amverify`` processes may write compiled bytecode, as an installed package has it, even
where ``PYTHONDONTWRITEBYTECODE`` is set.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

HEAVY = ("ffn.glu.reglu_inverse_snr", "ffn.relu.inverse_snr", "ffn.sparsity.threshold", "ffn.sparsity.topk",
         "ffn.silu.inverse_snr", "ffn.gelu.inverse_snr", "capacity.kernel.relu_conditional")


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-default", action="store_true", help="no default-mode check runs (--jobs 1 and N)")
    p.add_argument("--skip-quick", action="store_true", help="no quick-mode check runs")
    p.add_argument("--skip-symbolic", action="store_true", help="no in-process symbolic phase")
    p.add_argument("--skip-points", action="store_true", help="no heavy read-out points")
    p.add_argument("--skip-deltaformer", action="store_true", help="no chunked DeltaFormer")
    p.add_argument("--T", type=int, default=4096, help="DeltaFormer sequence length (default 4096)")
    p.add_argument("--deltaformer-repeats", type=int, default=20, metavar="R",
                   help="chunked DeltaFormer timed as the best of R calls on each thread count, the bound's "
                        "products as the best of R and its exponential of max(10, 2 R) (default 20; "
                        "bench/update_bench.py uses 5)")
    p.add_argument("--deltaformer-rounds", type=int, default=10, metavar="N",
                   help="paired rounds for the chunked DeltaFormer's share of the bound: a call, then the "
                        "bound's kernels at once, each the best of 2 (default 10)")
    p.add_argument("--repeats", type=int, default=3,
                   help="alternated --jobs 1 / --jobs N runs of the default check (medians reported; default 3)")
    p.add_argument("--jobs", type=int, default=2, metavar="N",
                   help="workers of the parallel runs (default 2; 16 for issue 13's targets on a 16-core machine)")
    p.add_argument("--full", action="store_true",
                   help="also time `check --full --jobs N`: a first run, then one with the cache warm")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = p.parse_args()
    if args.jobs < 2 or min(args.repeats, args.deltaformer_repeats, args.deltaformer_rounds) < 1:
        p.error(f"--jobs must be at least 2, --repeats, --deltaformer-repeats and --deltaformer-rounds at least 1, "
                f"got {args.jobs}, {args.repeats}, {args.deltaformer_repeats} and {args.deltaformer_rounds}")
    return args


from update_bench import best_of  # noqa: E402  (bench/ is this script's folder)


def _child_env(cache: str) -> dict:
    """The environment of a timed child: the derivation cache in ``cache`` and used, and compiled bytecode
    allowed (an installed package has it; with ``PYTHONDONTWRITEBYTECODE`` set, as on the development VM,
    every process recompiles each module whose bytecode is stale, 10-20 ms a changed module)."""
    env = dict(os.environ, AMVERIFY_CACHE_DIR=cache)
    env.pop("AMVERIFY_NO_CACHE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_check(args: list[str], cache: str) -> tuple[float, int]:
    env = _child_env(cache)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "proofs_check", "check", "-q", *args], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - start, proc.returncode


# A `check` run whose first ProcessPoolExecutor.submit reports, on stderr, when it was called (the claims
# loaded and planned in this process) and when it returned: with a fork server, submit waits until the
# server has imported the ledger and forked the first worker, so no task can start before that moment.
_START_UP_PROBE = """
import sys, time
import concurrent.futures.process as cfp
submit, seen = cfp.ProcessPoolExecutor.submit, []
def timed(self, *args, **kwargs):
    called = time.time()
    future = submit(self, *args, **kwargs)
    if not seen:
        seen.append(called)
        print(f"start-up {called!r} {time.time()!r}", file=sys.stderr, flush=True)
    return future
cfp.ProcessPoolExecutor.submit = timed
from proofs_check.cli import main
sys.exit(main(sys.argv[1:]))
"""
TARGET_WORKERS = 16  # issue 13's parallel-efficiency target is set at 16 workers


def start_up(cache: str, repeats: int) -> tuple[float, float]:
    """Medians over ``repeats`` runs of ``check --quick --jobs 2`` of the seconds from launching the process
    until (a) it has loaded and planned the claims and (b) its pool's first worker exists (the earliest a
    task can start). A first run, not counted, writes the bytecode (:func:`_child_env`) and warms the cache."""
    env = _child_env(cache)
    loaded, ready = [], []
    for i in range(repeats + 1):
        launch = time.time()
        proc = subprocess.run([sys.executable, "-c", _START_UP_PROBE, "check", "-q", "--quick", "--jobs", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        marks = [line.split()[1:] for line in proc.stderr.splitlines() if line.startswith("start-up ")]
        if proc.returncode != 0 or not marks:
            raise RuntimeError(f"the start-up probe failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        if i:
            loaded.append(float(marks[0][0]) - launch)
            ready.append(float(marks[0][1]) - launch)
    return statistics.median(loaded), statistics.median(ready)


def matmul_rate(np) -> float:
    """Multiply-adds per second of a 512 x 512 float64 product, best of 5."""
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((512, 512)), rng.standard_normal((512, 512))
    t, _ = best_of(lambda: A @ B, 5)
    return 512**3 / t


def normal_seconds(np, count: int) -> float:
    """Seconds the generator takes for ``count`` standard normals, in blocks of at most 2^20 (best of 3)."""
    rng = np.random.default_rng(2)

    def draw():
        left = count
        while left > 0:
            rng.standard_normal(min(left, 1 << 20))
            left -= 1 << 20
    return best_of(draw, 3)[0]


def activation_floor_seconds(np, count: int, activation: str) -> float:
    """Seconds for ``count`` standard normals and the FFN ``activation`` on them, drawn and evaluated as the
    reduced estimator does (blocks of ``SCORE_BLOCK`` numbers, one reused buffer each; best of 3)."""
    from numerics.ffn import ACTIVATIONS
    from numerics.kernels import SCORE_BLOCK

    rng = np.random.default_rng(3)
    sigma = ACTIVATIONS[activation]
    z, h = np.empty(SCORE_BLOCK), np.empty(SCORE_BLOCK)

    def draw_and_activate():
        left = count
        while left > 0:
            n = min(left, SCORE_BLOCK)
            rng.standard_normal(out=z[:n])
            sigma(z[:n], out=h[:n])
            left -= n
    return best_of(draw_and_activate, 3)[0]


COSTLY_ACTIVATIONS = ("gelu", "silu")  # activations that cost about as much as the draw or more


def heavy_points(rows: list) -> None:
    import numpy as np

    from proofs_check import engine
    from proofs_check.ledger import get_claim

    rate = matmul_rate(np)
    for claim_id in HEAVY:
        claim = get_claim(claim_id)
        simulate = claim.measure.simulate
        spent = {"seconds": 0.0, "draws": 0, "routes": 0}

        def timed(rng, *, trials, _simulate=simulate, **kwargs):
            start = time.perf_counter()
            out = _simulate(rng, trials=trials, **kwargs)
            spent["seconds"] += time.perf_counter() - start
            spent["draws"] += trials * (kwargs["N"] - 1)  # the N - 1 scores of a trial, once per call
            variant = kwargs.get("variant")
            spent["routes"] += len(variant) if isinstance(variant, tuple) else 1
            return out
        claim.measure.simulate = timed
        try:
            for params in claim.grids["default"]:
                spent.update(seconds=0.0, draws=0, routes=0)
                start = time.perf_counter()
                point = engine.check_point(claim, dict(params), seed=20250526, mode="default", validate=False)
                wall = time.perf_counter() - start
                rng_s = normal_seconds(np, spent["draws"])
                label = f"{claim_id} N={params['N']}" + (f" a={params['a']:g}" if "a" in params else "")
                per_call = spent["routes"] / max(point.batches, 1)
                rows.append({"what": label, "value": f"{spent['seconds']:.3f} s simulating "
                             f"({wall:.2f} s point, {point.verdict}, resolution {100 * (point.resolution or 0):.2f}%, "
                             f"{per_call:.0f} route(s) per batch)",
                             "ratio": f"{spent['draws'] / spent['seconds'] / rate:.1%} of matmul; "
                                      f"RNG/sim {rng_s / spent['seconds']:.2f}",
                             "seconds": spent["seconds"], "draws": spent["draws"], "rng_seconds": rng_s,
                             "matmul_rate": rate})
                activation = claim.fixed.get("activation")
                if activation in COSTLY_ACTIVATIONS and claim.fixed.get("glu") is None:
                    floor = activation_floor_seconds(np, spent["draws"], activation)
                    rows.append({"what": f"{label}: floor, generator + {activation} on the same count",
                                 "value": f"{floor:.3f} s ({rng_s:.3f} s of it drawing)",
                                 "ratio": f"RNG/floor {rng_s / floor:.2f}; sim at {floor / spent['seconds']:.0%} "
                                          "of the floor", "floor_seconds": floor})
        finally:
            claim.measure.simulate = simulate


def symbolic_phase(rows: list) -> None:
    from proofs_check.derivation_cache import DerivationCache
    from proofs_check.engine import check_symbolic
    from proofs_check.ledger import all_claims

    claims = all_claims()
    with tempfile.TemporaryDirectory() as folder:
        store = DerivationCache(folder)
        start = time.perf_counter()
        cold = [check_symbolic(c, cache=store) for c in claims]
        t_cold = time.perf_counter() - start
        start = time.perf_counter()
        warm = [check_symbolic(c, cache=store) for c in claims]
        t_warm = time.perf_counter() - start
    same = all((a.status, a.steps, a.message) == (b.status, b.steps, b.message) for a, b in zip(cold, warm))
    rows.append({"what": f"symbolic phase, {len(claims)} claims: cold / warm cache", "value":
                 f"{t_cold:.2f} s / {t_warm:.3f} s (results identical: {same})", "ratio": f"{t_cold / t_warm:.0f}x",
                 "cold": t_cold, "warm": t_warm})


def part_scaling(np, T: int, d: int, rng, cores: int, repeats: int = 3) -> float:
    """All cores' throughput over one core's for the chunked DeltaFormer's part (scores of a task's rows,
    ``GROUP_ROWS``, against a column block of K, ``PREV_BLOCK`` rows, exponentials in place, the product
    with ``[U, 1]``), a thread per core on operands of its own, 16 parts each over changing row and
    column blocks; each timing the best of ``repeats``. The machine's own limit on running the form's
    kernels side by side."""
    from numerics.updates.chunked import GROUP_ROWS, PREV_BLOCK

    rows, cols = min(GROUP_ROWS, T), min(PREV_BLOCK, T)

    def operands():
        Kt = rng.standard_normal((d, T)) / np.sqrt(d)
        U1 = np.ones((T, d + 1))
        U1[:, :d] = rng.standard_normal((T, d))
        return rng.standard_normal((T, d)) / d, Kt, U1, np.empty((rows, cols)), np.empty((rows, d + 1))

    data = [operands() for _ in range(cores)]

    def parts(i: int) -> None:
        X, Kt, U1, S, P = data[i]
        for j in range(16):
            g0, b0 = (j * rows) % (T - rows + 1), (j * cols) % (T - cols + 1)
            np.matmul(X[g0:g0 + rows], Kt[:, b0:b0 + cols], out=S)
            np.exp(S, out=S)
            np.matmul(S, U1[b0:b0 + cols], out=P)

    def together() -> None:
        threads = [threading.Thread(target=parts, args=(i,)) for i in range(cores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    t_one, _ = best_of(lambda: parts(0), repeats)
    t_all, _ = best_of(together, repeats)
    return cores * t_one / t_all


def deltaformer_chain(call, repeats: int) -> tuple[float, float]:
    """``(chain, total)`` seconds, medians over ``repeats`` one-thread calls of ``call()``: the chunked
    DeltaFormer's critical path and its whole time on one thread.

    On one thread a queued task runs when a wait needs it, so a call's time splits into its tasks (the
    parts against whole column blocks, the second-stage blocks, copies: work any free thread could do
    ahead) and the rest, the sequential chunk pass (the parts from each chunk's partial last block, the
    diagonal blocks, shares, solves, merges), which no number of threads shortens. The chain is that
    rest plus the own time (nested tasks excluded) of the last second-stage block, which can only
    start once the pass has produced its rows. It is a lower bound on the wall time for any number of
    threads: it assumes every queued task done by the time the pass needs it and no slowdown from
    threads sharing caches and memory. Measured with each chunk's early piece queued as a task, as calls
    on ``EARLY_MIN_THREADS`` threads or more do (on fewer the pass computes it: the chain of two threads,
    which are bound by their work, not by it)."""
    from numerics.updates import chunked

    task_class = getattr(chunked, "_Task", None)
    if task_class is None or not callable(getattr(task_class, "run", None)):  # pragma: no cover - guards a rename
        raise RuntimeError("numerics.updates.chunked._Task.run not found: deltaformer_chain times tasks through it")
    run = task_class.run
    local = threading.local()
    spent = {"tasks": 0.0, "finish": (-1, 0.0)}  # finish: (first row, own time) of the last second-stage block

    def timed_run(task) -> None:
        stack = local.__dict__.setdefault("stack", [])
        stack.append(0.0)  # time of the tasks this one runs inside it
        start = time.perf_counter()
        try:
            run(task)
        finally:
            elapsed, nested = time.perf_counter() - start, stack.pop()
            if stack:
                stack[-1] += elapsed
            else:
                spent["tasks"] += elapsed
            if getattr(task.fn, "__name__", "") == "second_finish" and task.args[0] > spent["finish"][0]:
                spent["finish"] = (task.args[0], elapsed - nested)

    chains, totals = [], []
    task_class.run = timed_run
    min_threads, chunked.EARLY_MIN_THREADS = chunked.EARLY_MIN_THREADS, 1
    try:
        for _ in range(repeats):
            spent.update(tasks=0.0, finish=(-1, 0.0))
            start = time.perf_counter()
            call()
            total = time.perf_counter() - start
            chains.append(total - spent["tasks"] + spent["finish"][1])
            totals.append(total)
    finally:
        task_class.run = run
        chunked.EARLY_MIN_THREADS = min_threads
    return statistics.median(chains), statistics.median(totals)


def deltaformer(rows: list, T: int, repeats: int = 20, rounds: int = 10) -> None:
    import numpy as np

    from numerics import updates as num
    from numerics.updates.chunked import available_cores

    try:  # one BLAS thread: the chunked form's own threads use the cores (BLAS threads on top would oversubscribe)
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover - BLAS threads then as the environment sets them
        limits = contextlib.nullcontext()
    with limits:
        rng = np.random.default_rng(20250526)
        d = 64
        K = rng.standard_normal((T, d)) / np.sqrt(d)
        V = rng.standard_normal((T, d))
        Q = rng.standard_normal((T, d)) / np.sqrt(d)
        kernel = num.exp_kernel(float(np.sqrt(d)))
        kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True)
        # the loop is the 15x target's baseline: a single timing of it moved by 10 % here (0.38-0.42 s)
        t_loop, ref = best_of(lambda: num.deltaformer_recurrent(K, V, Q, **kw), 3)
        def every_core():
            return num.deltaformer_chunked(K, V, Q, C=128, threads=True, **kw)

        def one_thread():
            return num.deltaformer_chunked(K, V, Q, C=128, threads=False, **kw)

        t_all, out = best_of(every_core, repeats)
        t_one, _ = best_of(one_thread, repeats)
        from update_bench import BoundKernels

        # the bound's rates as robustly as the times: a slow moment in them would raise the bound
        kernels = BoundKernels(T, d, rng, best_of)
        *_, floor = kernels.arithmetic(exp_repeats=max(10, 2 * repeats), repeats=repeats)
        *_, shaped = kernels.shape(exp_repeats=max(10, 2 * repeats), repeats=repeats)
        cores = available_cores()
        bound, shape_bound = floor / cores, shaped / cores
        gap = num.max_relative_gap(out, ref)
        # paired: a call, then at once each kernel of the bounds (best of 2: the first run of a kernel after
        # other work is slower than its others); the share round by round
        shares, shape_shares = [], []
        for i in range(rounds):
            print(f"  chunked DeltaFormer, paired round {i + 1}/{rounds}", end="\r", file=sys.stderr, flush=True)
            t, _ = best_of(every_core, 1)
            *_, f = kernels.arithmetic(exp_repeats=2, repeats=2)
            *_, s = kernels.shape(exp_repeats=2, repeats=2)
            shares.append(f / cores / t)
            shape_shares.append(s / cores / t)
        print(file=sys.stderr)
        scaling = part_scaling(np, T, d, rng, cores, repeats=max(3, repeats // 2))
        chain, one = deltaformer_chain(one_thread, max(5, repeats // 2))
    rows.append({"what": f"chunked DeltaFormer T={T} d=64 C=128 ({cores} threads) vs token loop",
                 "value": f"{t_all:.3f} s vs {t_loop:.3f} s (one thread {t_one:.3f} s; gap {gap:.0e})",
                 "ratio": f"{t_loop / t_all:.1f}x (one thread {t_loop / t_one:.1f}x)",
                 "chunked": t_all, "one_thread": t_one, "loop": t_loop})
    rows.append({"what": f"chunked DeltaFormer vs arithmetic bound over {cores} cores",
                 "value": f"bound {bound:.3f} s vs {t_all:.3f} s", "ratio": f"{bound / t_all:.0%} of the bound",
                 "bound": bound})
    rows.append({"what": "  same, bound at the shapes the algorithm uses (d-wide products)",
                 "value": f"bound {shape_bound:.3f} s vs {t_all:.3f} s",
                 "ratio": f"{shape_bound / t_all:.0%} of that bound", "shape_bound": shape_bound})
    rows.append({"what": f"  the form's part (scores, exp, product with [U, 1]) on {cores} cores at once",
                 "value": f"shape bound at that throughput {shaped / scaling:.3f} s vs {t_all:.3f} s",
                 "ratio": f"{scaling:.2f}x one core; {shaped / scaling / t_all:.0%} of that bound",
                 "part_scaling": scaling, "scaled_shape_bound": shaped / scaling})
    # work over span: no number of threads takes a call below its chain (nor below its work over the threads)
    span = one / chain
    rows.append({"what": "  critical path: the sequential chunk pass on one thread (+ its last second-stage block)",
                 "value": f"{chain * 1e3:.1f} ms of {one * 1e3:.1f} ms ({chain / one:.0%})",
                 "ratio": f"at most {span:.1f}x one thread on any number of cores, {t_loop / chain:.1f}x the "
                          "token loop (loop / chain) at this machine's speeds (work / span; no contention counted)",
                 "chain": chain, "chain_one_thread": one, "span_speedup": span})
    for what, values, key in (("bound", shares, "paired_share"), ("shape bound", shape_shares, "paired_shape_share")):
        q1, med, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
        rows.append({"what": f"  paired, {rounds} rounds (a call, then the {what}'s kernels)",
                     "value": f"quartiles {q1:.1%}-{q3:.1%}, range {min(values):.1%}-{max(values):.1%}",
                     "ratio": f"median {statistics.median(values):.1%} of the {what}", key: statistics.median(values),
                     key + "s": values})


def checks(rows: list, args) -> None:
    with tempfile.TemporaryDirectory() as cache:
        if not args.skip_quick:
            cold, rc1 = run_check(["--quick", "--no-cache"], cache)
            run_check(["--quick"], cache)  # primes the cache
            warm, rc2 = run_check(["--quick"], cache)
            rows.append({"what": "check --quick: cold (--no-cache) / warm cache", "value":
                         f"{cold:.1f} s / {warm:.1f} s (exit {rc1}, {rc2})", "ratio": f"{cold / warm:.2f}x",
                         "cold": cold, "warm": warm})
        if not args.skip_default:
            run_check(["--section", "basics"], cache)  # nothing to measure: a short run to load the disk cache
            n = args.jobs
            report1, report2 = os.path.join(cache, "jobs1.json"), os.path.join(cache, f"jobs{n}.json")
            # fills the cache with the default-only predictions and, through --json, the claims' LaTeX (a
            # first run with --json renders it: 28.2 s against 21.3-21.8 s once it is cached)
            run_check(["--jobs", "1", "--json", report1], cache)
            times: dict[int, list[float]] = {1: [], n: []}
            codes = set()
            for _ in range(args.repeats):  # alternated, so a change in the machine's speed hits both
                for jobs, report in ((1, report1), (n, report2)):
                    t, rc = run_check(["--jobs", str(jobs), "--json", report], cache)
                    times[jobs].append(t)
                    codes.add(rc)
            t1, t2 = statistics.median(times[1]), statistics.median(times[n])
            spread = "; ".join(f"--jobs {j}: " + ", ".join(f"{t:.1f}" for t in times[j]) for j in (1, n))
            rows.append({"what": f"check (default), warm cache: --jobs 1 / --jobs {n}, median of {args.repeats}",
                         "value": f"{t1:.1f} s / {t2:.1f} s (runs {spread}; exit {sorted(codes)})",
                         "ratio": f"{t1 / t2:.2f}x, efficiency {t1 / t2 / n:.0%} at {n} workers",
                         "jobs1": times[1], f"jobs{n}": times[n]})
            with open(report1, encoding="utf-8") as fh:
                work1 = sum(p["seconds"] for c in json.load(fh)["claims"] for p in c.get("points", []))
            with open(report2, encoding="utf-8") as fh:
                data = json.load(fh)
            claims = data["claims"]
            # a point's chain: its pilot task, then its longest chunk (the chunks run side by side)
            chains = [(p["task_seconds"][0] + max(p["task_seconds"][1:], default=0.0), c["id"])
                      for c in claims for p in c.get("points", []) if p.get("task_seconds")]
            longest = max(chains)
            point_sum = sum(p["seconds"] for c in claims for p in c.get("points", []))
            rows.append({"what": f"point task time, --jobs 1 / --jobs {n} (last runs' reports)", "value":
                         f"{work1:.1f} s / {point_sum:.1f} s", "ratio": f"{point_sum / work1:.2f}x the work in "
                         "parallel (caches and memory shared by the workers)", "work1": work1, "work2": point_sum})
            rest = times[1][-1] - work1  # the last --jobs 1 run's time outside its points (start-up, claims)
            bound = times[1][-1] / (rest + point_sum / n)
            rows.append({"what": f"bound on --jobs 1 / --jobs {n} from the work measured in parallel", "value":
                         f"{times[1][-1]:.1f} s / ({rest:.1f} s outside points + {point_sum:.1f} s / {n})",
                         "ratio": f"at most {bound:.2f}x with this machine's contention (pool start-up, the "
                                  "driver and the tail not counted)", "bound": bound})
            rows.append({"what": f"critical path (longest pilot + chunk chain, --jobs {n} report)", "value":
                         f"{longest[0]:.2f} s ({longest[1]}); point task time {point_sum:.1f} s",
                         "ratio": f"{longest[0] / t2:.0%} of the --jobs {n} wall time; "
                                  f"task time / critical path {point_sum / longest[0]:.0f} workers",
                         "critical_path": longest[0], "point_seconds": point_sum})
            loaded, ready = start_up(cache, args.repeats + 4)
            w = TARGET_WORKERS
            # no task starts before the first worker exists; then at best the --jobs 1 run's point work,
            # split perfectly over w workers that do not slow each other: an upper bound on the efficiency
            at_best = ready + work1 / w
            rows.append({"what": "start-up: claims loaded and planned / first pool worker (check --quick --jobs 2, "
                                 f"median of {args.repeats + 4})",
                         "value": f"{loaded:.2f} s / {ready:.2f} s after launch",
                         "ratio": f"at {w} workers at best {ready:.2f} + {work1:.1f} / {w} = {at_best:.2f} s against "
                                  f"{t1:.1f} s on one: efficiency at most {t1 / at_best / w:.0%}",
                         "loaded": loaded, "first_worker": ready, "efficiency_bound": t1 / at_best / w})
        if args.full:
            n = args.jobs
            cold, rc1 = run_check(["--full", "--jobs", str(n)], cache)  # its predictions fill the cache
            warm, rc2 = run_check(["--full", "--jobs", str(n)], cache)
            rows.append({"what": f"check --full --jobs {n}: first run / cache warm", "value":
                         f"{cold:.1f} s / {warm:.1f} s (exit {rc1}, {rc2})", "ratio": f"{warm:.1f} s warm",
                         "full_cold": cold, "full_warm": warm})


def main() -> int:
    args = parse()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["AMVERIFY_CACHE_DIR"] = cache  # this process's checks use a cache of their own, never the user's
        os.environ.pop("AMVERIFY_NO_CACHE", None)
        return measure(args)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def measure(args) -> int:
    rows: list = []
    print(f"cpus={os.cpu_count()} python={sys.version.split()[0]} load average {_load()}", flush=True)
    if not (args.skip_quick and args.skip_default) or args.full:
        checks(rows, args)
    if not args.skip_symbolic:
        symbolic_phase(rows)
    if not args.skip_points:
        heavy_points(rows)
    if not args.skip_deltaformer:
        deltaformer(rows, args.T, args.deltaformer_repeats, args.deltaformer_rounds)
    width = max(len(r["what"]) for r in rows) if rows else 10
    vwidth = max(len(r["value"]) for r in rows) if rows else 10
    print(f"{'measure':<{width}}  {'value':<{vwidth}}  ratio")
    for r in rows:
        print(f"{r['what']:<{width}}  {r['value']:<{vwidth}}  {r['ratio']}")
    print(f"load average at the end {_load()} (a load above the core count slows every time above)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
