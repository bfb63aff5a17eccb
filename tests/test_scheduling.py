"""The scheduler: points split into a pilot and chunks of batches give check_point's numbers on any executor."""

import contextlib
import dataclasses
import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from numerics.updates import chunk_threads, set_chunk_threads
from proofs_check import engine, ledger
from proofs_check.engine import (CHUNKS_PER_ROUTE, ERROR, _chunks, check_claims, check_point, claim_tasks,
                                 near_miss_required, point_passes_with_power, point_to_dict, run_tasks)
from proofs_check.executors import (RESULT_PIPE_BYTES, ExecutorUnavailable, InlineExecutor, _widen_result_pipe,
                                    dask_executor, process_pool)
from proofs_check.ledger import get_claim
from proofs_check.report import without_volatile

# in quick mode: a variant route control on points of 15 and 33 batches (chunks of several batches), an
# asymptotic claim with a paired route, a plain statistical claim, an identity (one task, no batches), and
# a control whose route its simulator does not share (two groups of routes, each with its own batches)
SCHEDULED = ["ffn.glu.reglu_inverse_snr", "capacity.linear.paper_limit", "capacity.linear.inverse_snr_ratio",
             "basics.linear.crosstalk_decomposition", "capacity.norm.sphere_exp_conditional"]


def _numbers(point) -> str:
    """Everything a point reports except its timings, as exact text (float repr round-trips; NaN compares)."""
    d = {k: v for k, v in point_to_dict(point).items() if k not in ("seconds", "task_seconds")}
    return json.dumps(d, sort_keys=True, default=str)


def _sequential(tasks):
    """Each point as check_point computes it in one go, then the power rules the run applies."""
    out = []
    for _, claim_id, params, seed, mode in tasks:
        claim = get_claim(claim_id)
        point = point_passes_with_power(check_point(claim, params, seed=seed, mode=mode, validate=False))
        out.append(near_miss_required(claim, point, mode))
    return out


@pytest.fixture
def split_every_point(monkeypatch):
    """Every planned point split into chunks, however short its later batches (the driver's setting goes
    with each pilot task, so it holds in pool workers too)."""
    monkeypatch.setattr(engine, "FINISH_IN_PILOT_SECONDS", 0.0)


@pytest.fixture(scope="module")
def scheduled_tasks():
    return claim_tasks([get_claim(i) for i in SCHEDULED], mode="quick", seed=7, symbolic=False)


@pytest.fixture(scope="module")
def sequential(scheduled_tasks):
    return [_numbers(p) for p in _sequential(scheduled_tasks)]


@pytest.mark.parametrize("n", [1, 2, 3, 9, 10, 17, 64, 65])
def test_chunks_cover_every_batch_after_the_pilot_once(n):
    """The chunks of a point with n batches tile 1 .. n-1 in order, at most CHUNKS_PER_ROUTE of them."""
    ranges = _chunks(n)
    covered = [b for start, stop in ranges for b in range(start, stop)]
    assert covered == list(range(1, n))
    assert len(ranges) <= CHUNKS_PER_ROUTE
    assert all(stop > start for start, stop in ranges)


def test_scheduled_run_equals_check_point_in_sequence(scheduled_tasks, sequential, split_every_point):
    """Pilot, chunks merged in batch order, then the comparison: bit-identical to check_point's single pass."""
    results = run_tasks(scheduled_tasks)
    assert [_numbers(p) for p in results] == sequential
    chunked = [p for p in results if len(p.task_seconds) > 1]
    assert chunked, "no point was split into chunks: the test does not exercise the scheduler"
    assert any(p.batches - 1 > CHUNKS_PER_ROUTE for p in chunked)  # chunks of several batches
    assert all(p.seconds >= sum(p.task_seconds) - 1e-9 and min(p.task_seconds) >= 0 for p in results)


@pytest.mark.parametrize("finish_below", [0.0, math.inf], ids=["split", "in-pilot"])
def test_points_finished_in_their_pilot_task_equal_check_point_too(scheduled_tasks, sequential, monkeypatch,
                                                                  finish_below):
    """A point may run its later batches in its pilot task (FINISH_IN_PILOT_SECONDS) or in chunks: the same
    numbers either way, on a pool of processes as in this process."""
    monkeypatch.setattr(engine, "FINISH_IN_PILOT_SECONDS", finish_below)
    for jobs in (1, 2):
        results = run_tasks(scheduled_tasks, jobs=jobs)
        assert [_numbers(p) for p in results] == sequential
        split = [p for p in results if len(p.task_seconds) > 1]
        assert (split == []) == (finish_below == math.inf), jobs


def test_a_pool_of_processes_and_a_thread_pool_give_the_same_numbers(scheduled_tasks, sequential,
                                                                     split_every_point):
    """Results do not depend on the worker count or on the executor (any concurrent.futures.Executor)."""
    assert [_numbers(p) for p in run_tasks(scheduled_tasks, jobs=2)] == sequential
    previous = set_chunk_threads(3)  # this process's own setting, which workers that are its threads set to 1
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:  # one thread: sympy is not thread-safe
            assert [_numbers(p) for p in run_tasks(scheduled_tasks, jobs=3, executor=pool)] == sequential
        assert chunk_threads() == 3  # given back after the run
    finally:
        set_chunk_threads(previous)


def _mc_claim_failing_sometimes():
    """A Monte Carlo claim whose batch fails when its stream's first uniform draw is below 0.05."""
    import sympy as sp

    from numerics.estimate import mean_of, monte_carlo
    from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
    from theory.derivation import Derivation

    @monte_carlo(mean_of("y", "normal trials"))
    def measure(rng, *, n, trials, variant=None):
        if rng.random() < 0.05:
            raise FloatingPointError("an unlucky batch")
        return {"y": 10.0 + rng.standard_normal(trials)}

    return Claim(
        id="basics.fake.unlucky", statement="a test double", anchor="-", provenance=Provenance.SUITE,
        kind=Kind.STATISTICAL, estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
        derivation=lambda: Derivation("fake", sp.Float(10.0)), measure=measure,
        grids={m: ({"n": 1},) for m in ("quick", "default", "full")},
        trials={m: 100 for m in ("quick", "default", "full")},
        max_batches=400,
        negative_controls=(NegativeControl("near", "10.1", prediction=lambda: sp.Float(10.1), near_miss=True),),
    )


def _scheduled_and_sequential(monkeypatch, claim):
    """The claim's one quick point (seed 1) from a scheduled run and from check_point, the claim registered."""
    ledger.all_claims()
    monkeypatch.setitem(ledger._REGISTRY, claim.id, claim)
    tasks = claim_tasks([claim], mode="quick", seed=1, symbolic=False)
    (point,) = run_tasks(tasks)
    (expected,) = _sequential(tasks)
    return point, expected


@pytest.mark.parametrize("finish_below", [0.0, math.inf], ids=["in-a-chunk", "in-the-pilot-task"])
def test_a_failing_batch_is_the_points_error_with_check_points_message(monkeypatch, finish_below):
    """A later batch that raises, in a chunk or in the pilot task that runs it, makes the point an error,
    named as check_point names it."""
    monkeypatch.setattr(engine, "FINISH_IN_PILOT_SECONDS", finish_below)
    point, expected = _scheduled_and_sequential(monkeypatch, _mc_claim_failing_sometimes())
    assert point.verdict == ERROR and "FloatingPointError: an unlucky batch" in point.message
    assert point.predicted == 10.0  # the prediction was made before the batch raised: the report shows it
    assert (len(point.task_seconds) > 1) == (finish_below == 0.0)  # the pilot batch passed; a chunk failed
    assert _numbers(point) == _numbers(expected)


@pytest.mark.parametrize("broken", ["measurement", "prediction"])
def test_an_erroring_point_keeps_its_prediction_when_it_has_one(monkeypatch, broken):
    """A measurement that raises in the pilot leaves the point an error with its prediction (10) shown, in the
    scheduled run as in check_point; a prediction that cannot be made leaves it NaN in both."""
    def raises(*args, **kwargs):
        raise ValueError("broken on purpose")

    claim = dataclasses.replace(_mc_claim_failing_sometimes(), **{"measure" if broken == "measurement"
                                                                  else "derivation": raises})
    point, expected = _scheduled_and_sequential(monkeypatch, claim)
    assert point.verdict == ERROR and "broken on purpose" in point.message
    assert point.predicted == 10.0 if broken == "measurement" else math.isnan(point.predicted)
    assert _numbers(point) == _numbers(expected)


def _mc_claim_with_a_noisy_route():
    """A Monte Carlo claim whose route control sits 0.5 off with sd 6: its pilot's distance is so noisy that
    most seeds plan the point again after their planned batches (engine._look_again)."""
    import sympy as sp

    from numerics.estimate import mean_of, monte_carlo
    from proofs_check.ledger import Claim, Estimand, Kind, NegativeControl, Param, Provenance
    from theory.derivation import Derivation

    @monte_carlo(mean_of("y", "normal trials"))
    def measure(rng, *, n, trials, variant=None):
        return {"y": (10.5 + 6.0 * rng.standard_normal(trials)) if variant == "noisy"
                else 10.0 + rng.standard_normal(trials)}

    return Claim(
        id="basics.fake.noisy_route", statement="a test double", anchor="-", provenance=Provenance.SUITE,
        kind=Kind.STATISTICAL, estimand=Estimand("x", "none", "none"), params=(Param("n", 1, 10),),
        derivation=lambda: Derivation("fake", sp.Float(10.0)), measure=measure,
        grids={m: ({"n": 1},) for m in ("quick", "default", "full")},
        trials={m: 100 for m in ("quick", "default", "full")}, max_batches=300,
        negative_controls=(NegativeControl("noisy", "route +0.5, sd 6", variant="noisy"),),
    )


@pytest.mark.parametrize("finish_below", [0.0, math.inf], ids=["in-chunks", "in-the-pilot-task"])
def test_points_planned_again_after_their_batches_equal_check_point(monkeypatch, finish_below):
    """A point looked at again after its planned batches runs the batches of its new plan as another round of
    chunks (or in its pilot task), with check_point's numbers, in this process and on a thread pool."""
    monkeypatch.setattr(engine, "FINISH_IN_PILOT_SECONDS", finish_below)
    claim = _mc_claim_with_a_noisy_route()
    ledger.all_claims()
    monkeypatch.setitem(ledger._REGISTRY, claim.id, claim)
    tasks = [("point", claim.id, {"n": 1}, seed, "quick") for seed in range(8)]
    expected = _sequential(tasks)
    assert sum(p.looks > 1 for p in expected) >= 4  # the later looks are exercised
    seen = []
    assert [_numbers(p) for p in run_tasks(tasks, progress=seen.append)] == [_numbers(p) for p in expected]
    # progress counts the batches run, each route group's (the noisy route is a group of its own)
    assert seen[-1].batches_done == seen[-1].batches_total == 2 * sum(p.batches for p in expected)
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert [_numbers(p) for p in run_tasks(tasks, jobs=2, executor=pool)] == [_numbers(p) for p in expected]


def _blas_threads():
    return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_pool_workers_run_one_blas_thread_and_this_process_keeps_its_own():
    """Worker processes are limited to one BLAS thread each; a `--jobs 1` run and check_point compute with
    one and give this process its own setting back."""
    with threadpool_limits(limits=2):  # a known setting to come back to (1 on a one-core machine)
        before = _blas_threads()
        with process_pool(2) as pool:
            info = pool.submit(threadpool_info).result()
            chunked = pool.submit(chunk_threads).result()
        assert info and all(i["num_threads"] == 1 for i in info if i["user_api"] == "blas")
        assert chunked == 1  # and the chunked update forms one thread each
        claim = get_claim("capacity.exp.inverse_snr_conditional")  # a Monte Carlo claim: batches to watch
        seen = []
        with pytest.MonkeyPatch.context() as patch:  # what BLAS had while the point's numbers were computed
            simulate = claim.measure.simulate
            patch.setattr(claim.measure, "simulate", lambda *a, **k: (seen.append(_blas_threads()), simulate(*a, **k))[1])
            run_tasks(claim_tasks([claim], mode="quick", seed=0, symbolic=False), jobs=1)
            check_point(claim, dict(claim.grids["quick"][0]), seed=0, mode="quick")
        assert seen and all(threads == [1] * len(before) for threads in seen)
        assert _blas_threads() == before


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_pool_server_starts_before_numpy_and_scipy_are_imported():
    """The command line starts the fork server (start_pool_server) once it has parsed its arguments and
    before it loads the claims, so the two imports overlap; nothing on the way may import numpy or the
    numerics first. The executors module did (through the chunked forms' thread setting: the server then
    started 0.2 s later and every --jobs N run waited for it, measured on 2 cores), and so did the seeds
    module, which the command line imports for the default seed (numpy, 0.06 s)."""
    loaded = _modules_after("import proofs_check.cli as cli; cli.build_parser().parse_args(['check', '--jobs', '2'])"
                            "\nfrom proofs_check.executors import start_pool_server")
    assert "proofs_check.seeds" in loaded
    assert not {"numpy", "scipy", "sympy", "numerics"} & loaded


def test_loading_the_ledger_leaves_sympy_stats_and_combinatorics_to_the_derivations():
    """A run whose derivations come from the cache never needs sympy.stats or sympy.combinatorics (about
    45 ms of every process's start-up); the theory functions that build derivations import them."""
    loaded = _modules_after("from proofs_check.ledger import all_claims; all_claims()")
    assert "sympy" in loaded and "theory.context" in loaded  # the claims and their theory are loaded
    assert not {"sympy.stats", "sympy.combinatorics"} & loaded


def test_the_pools_result_pipe_is_widened_where_linux_allows_it():
    """Results of 1 MiB cross in one write where F_SETPIPE_SZ exists and the ceiling allows it; a pool
    without the expected internals is left as it is (None), never an error."""
    fcntl = pytest.importorskip("fcntl")
    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("no F_SETPIPE_SZ on this platform")
    with open("/proc/sys/fs/pipe-max-size") as f:
        ceiling = int(f.read())
    with process_pool(2) as pool:
        size = fcntl.fcntl(pool._result_queue._reader.fileno(), fcntl.F_GETPIPE_SZ)
        assert pool.submit(sum, [1, 2]).result() == 3
    assert size >= RESULT_PIPE_BYTES if ceiling >= RESULT_PIPE_BYTES else size < RESULT_PIPE_BYTES
    assert _widen_result_pipe(ThreadPoolExecutor(1)) is None


def test_a_point_whose_blas_sums_depend_on_the_thread_count_is_the_same_for_any_jobs():
    """One BLAS thread wherever a number is computed: this point's control (a QR, least squares and
    products of size 64) read 3.846553904920559 in-process with 2 BLAS threads and ...558 in a worker."""
    claim = get_claim("expressivity.heads.four_exp_lattice")
    params = {"n": 32, "d": 64, "T": 300, "s": 1.0, "r": 2.0}
    assert params in [dict(p) for p in claim.grids["default"]]
    tasks = [("point", claim.id, params, 20250526, "default")]
    with threadpool_limits(limits=2):  # this process as a user's would be on 2 or more cores
        (inline,) = run_tasks(tasks, jobs=1)
        (direct,) = _sequential(tasks)  # check_point, as `amverify eval` runs it
    with process_pool(2) as pool:
        (pooled,) = run_tasks(tasks, jobs=2, executor=pool)
    assert _numbers(inline) == _numbers(pooled) == _numbers(direct)


@pytest.mark.parametrize("finish_below", [0.0, math.inf], ids=["split", "in-pilot"])
def test_progress_counts_points_and_batches_to_the_end(scheduled_tasks, monkeypatch, finish_below):
    """The progress callback sees every point finish, and the batches done reach the batches planned."""
    monkeypatch.setattr(engine, "FINISH_IN_PILOT_SECONDS", finish_below)
    seen = []
    results = run_tasks(scheduled_tasks, progress=seen.append)
    last = seen[-1]
    assert last.points_done == last.points_total == len(scheduled_tasks)
    assert last.batches_done == last.batches_total >= sum(p.batches for p in results)
    assert [s.points_done for s in seen] == sorted(s.points_done for s in seen)
    assert sum(s.result is not None for s in seen) == len(scheduled_tasks)
    assert all(s.remaining is None or (s.remaining >= 0 and math.isfinite(s.remaining)) for s in seen)


def test_batches_of_a_chunk_are_the_batches_of_the_sequence():
    """A chunk's batch b draws from batch_rng(seed, claim, params, b): the same numbers wherever it runs."""
    from proofs_check.engine import _group_batches

    claim = get_claim("ffn.glu.reglu_inverse_snr")
    params = dict(claim.grids["quick"][0])

    def batches(start, stop):  # the main route alone
        return _group_batches(claim, params, ((None, None),), seed=3, replicate=0, batch_size=100, start=start,
                              stop=stop)[None]
    whole = batches(0, 4)
    parts = batches(0, 1) + batches(1, 4)
    for a, b in zip(whole, parts):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_claim_tasks_render_each_statement_in_latex_for_the_report(monkeypatch):
    """With ``latex=True`` every claim's statement is rendered in its claim task (in the worker, where its
    derivation is built) and is the text Claim.latex gives in this process; without it nothing is rendered;
    a statement the task cannot render is left to the report (rendered again there)."""
    claims = [get_claim(i) for i in SCHEDULED]
    rendered = check_claims(claims, mode="quick", seed=7, jobs=2, latex=True)
    assert [cr.latex for cr in rendered] == [c.latex() for c in claims]
    assert all(cr.latex for cr in rendered)
    plain = check_claims(claims[:1], mode="quick", seed=7, jobs=1)
    assert plain[0].latex is None and plain[0].statement_latex() == claims[0].latex()
    calls = []
    original = ledger.Claim.latex

    def fails_once(self, cache="default"):
        calls.append(self.id)
        if len(calls) == 1:
            raise RuntimeError("cannot render")
        return original(self, cache)

    monkeypatch.setattr(ledger.Claim, "latex", fails_once)
    (failed,) = check_claims(claims[:1], mode="quick", seed=7, jobs=1, latex=True)
    assert failed.latex is None and failed.statement_latex() == original(claims[0])


# --- the dask executor and the command line --------------------------------------------------------

def _report(capsys, tmp_path, name, *extra):
    from proofs_check.cli import main

    path = tmp_path / f"{name}.json"
    code = main(["check", "--section", "basics", "--section", "expressivity", "--quick", "--seed", "5", "-q",
                 "--json", str(path), *extra])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    return json.loads(path.read_text()), out, err


def test_check_jobs_2_from_the_command_line_gives_the_in_process_report(capsys, tmp_path):
    """`check --jobs 2` (its fork server started before the claims load) writes the `--jobs 1` report."""
    local, _, _ = _report(capsys, tmp_path, "local")
    pooled, out, _ = _report(capsys, tmp_path, "pooled", "--jobs", "2")
    assert without_volatile(pooled) == without_volatile(local)
    assert "0 fail, 0 error, 0 underpowered" in out


def test_a_dask_cluster_gives_the_in_process_report(capsys, tmp_path, monkeypatch):
    """`check --scheduler ADDRESS` on a 2-worker dask cluster writes the report of the in-process run (there
    with the points of short later batches finished in their pilot task, on the cluster all split)."""
    distributed = pytest.importorskip("distributed", reason="the dask executor needs the 'distributed' extra")

    local, _, _ = _report(capsys, tmp_path, "local")
    monkeypatch.setattr(engine, "FINISH_IN_PILOT_SECONDS", 0.0)
    # worker processes, as on a real cluster (sympy is not thread-safe: one task at a time per process)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote, out, _ = _report(capsys, tmp_path, "dask", "--scheduler", cluster.scheduler_address)
    assert without_volatile(remote) == without_volatile(local)
    assert any(len(p["task_seconds"]) > 1 for c in remote["claims"] for p in c["points"])  # chunks ran there
    assert "0 fail, 0 error, 0 underpowered" in out


def test_dask_executor_without_distributed_exits_2(capsys, monkeypatch):
    """`--executor dask` without the optional package is refused, naming the extra to install (exit 2)."""
    import sys

    from proofs_check.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    code = main(["check", "basics.linear.memory_accumulation", "--quick", "--executor", "dask"])
    _, err = capsys.readouterr()
    assert code == 2 and "amverify[distributed]" in err


def test_dask_scheduler_out_of_reach_exits_2_after_the_connect_timeout(capsys):
    """An address nothing listens on is refused with exit 2, naming the address and --connect-timeout."""
    pytest.importorskip("distributed", reason="the dask executor needs the 'distributed' extra")
    import socket

    from proofs_check.cli import main

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    code = main(["check", "basics.linear.memory_accumulation", "--quick", "--scheduler", address,
                 "--connect-timeout", "0.5"])
    _, err = capsys.readouterr()
    assert code == 2
    assert f"cannot reach the dask scheduler at {address!r} within 0.5 s (--connect-timeout)" in err


def test_scheduler_with_the_process_executor_exits_2(capsys):
    """A scheduler address with `--executor process` is contradictory: exit 2 naming --scheduler."""
    from proofs_check.cli import main

    code = main(["check", "basics.linear.memory_accumulation", "--executor", "process", "--scheduler", "tcp://x:1"])
    _, err = capsys.readouterr()
    assert code == 2 and "--scheduler needs --executor dask" in err


def test_progress_goes_to_stderr_with_batches_and_time_left(capsys):
    """Progress lines (points, batches, time) go to stderr; stdout holds the table only; -q silences them."""
    from proofs_check.cli import main

    assert main(["check", "capacity.linear.inverse_snr_ratio", "--quick"]) == 0
    out, err = capsys.readouterr()
    assert "points" in err and "batches" in err and "batches" not in out
    assert out.startswith("claim")
    assert main(["check", "capacity.linear.inverse_snr_ratio", "--quick", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_workers_with_other_package_versions_are_refused():
    """A dask worker whose numpy differs could give other numbers: refused, naming the worker and the package."""
    from proofs_check.executors import ExecutorUnavailable, _same_versions, _versions

    here = _versions()
    _same_versions({"tcp://a:1": dict(here)})  # the same versions pass
    with pytest.raises(ExecutorUnavailable, match=r"tcp://b:2 has numpy 0\.0"):
        _same_versions({"tcp://a:1": dict(here), "tcp://b:2": {**here, "numpy": "0.0"}})


# --- the executors' contracts, with a stand-in for dask.distributed ---------------------------------------

class _FakeDistributed:
    """A stand-in for the ``distributed`` module: what was asked of Client and LocalCluster, and what they did.

    ``workers``: worker address -> threads; ``versions``: package versions a worker reports, over this
    process's; ``refuse``: the exception connecting to a scheduler raises."""

    def __init__(self, workers=None, versions=None, refuse=None):
        self.workers = {"tcp://w:1": 1, "tcp://w:2": 1} if workers is None else workers
        self.versions, self.refuse, self.log = versions or {}, refuse, []
        self.executor = InlineExecutor()
        fake = self

        class Client:
            def __init__(self, address, timeout=None):
                fake.log.append(("client", address, timeout))
                if fake.refuse is not None and isinstance(address, str):
                    raise fake.refuse

            def nthreads(self):
                return dict(fake.workers)

            def run(self, fn):
                return {w: {**fn(), **fake.versions} for w in fake.workers}

            def get_executor(self, **kwargs):
                fake.log.append(("executor", kwargs))
                return fake.executor

            def close(self):
                fake.log.append(("client closed",))

        class LocalCluster:
            def __init__(self, **kwargs):
                fake.log.append(("cluster", {k: kwargs[k] for k in ("n_workers", "threads_per_worker", "processes")}))

            def close(self):
                fake.log.append(("cluster closed",))

        self.module = type(sys)("distributed")
        self.module.Client, self.module.LocalCluster = Client, LocalCluster


@pytest.fixture
def fake_distributed(monkeypatch):
    def install(**kwargs):
        fake = _FakeDistributed(**kwargs)
        monkeypatch.setitem(sys.modules, "distributed", fake.module)
        return fake
    return install


def test_dask_executor_connects_to_the_scheduler_given_within_the_timeout(fake_distributed):
    """With an address: a Client of that address and timeout, no local cluster; tasks impure (each runs);
    slots = the cluster's worker threads; the client is closed after the block."""
    fake = fake_distributed(workers={"tcp://w:1": 2, "tcp://w:2": 1})
    with dask_executor("tcp://10.0.0.5:8786", workers=7, timeout=2.5) as (executor, slots):
        assert (executor, slots) == (fake.executor, 3)
        assert fake.log == [("client", "tcp://10.0.0.5:8786", 2.5), ("executor", {"pure": False})]
    assert fake.log[2:] == [("client closed",)]


def test_dask_executor_without_an_address_starts_and_closes_a_local_cluster(fake_distributed):
    """Without an address: a local cluster of ``workers`` single-threaded processes (sympy is not
    thread-safe), closed with its client after the block."""
    fake = fake_distributed()
    with dask_executor(None, workers=3) as (_, slots):
        assert slots == 2
        assert fake.log[0] == ("cluster", {"n_workers": 3, "threads_per_worker": 1, "processes": True})
    assert fake.log[-2:] == [("client closed",), ("cluster closed",)]


@pytest.mark.parametrize("refuse", [ConnectionRefusedError("refused"), TimeoutError("timed out"), OSError("no")])
def test_a_scheduler_out_of_reach_is_executor_unavailable(fake_distributed, refuse):
    """Whatever way the connection fails (refused, timed out), the error names the address and the timeout."""
    fake_distributed(refuse=refuse)
    with pytest.raises(ExecutorUnavailable, match=r"cannot reach the dask scheduler at 'tcp://h:1' within 1\.5 s"):
        with dask_executor("tcp://h:1", timeout=1.5):
            pass


def test_a_malformed_scheduler_address_is_executor_unavailable(fake_distributed):
    """An address dask cannot parse (ValueError) is refused like one out of reach, showing the expected form."""
    fake_distributed(refuse=ValueError("missing port number in address 'h'"))
    with pytest.raises(ExecutorUnavailable, match=r"--scheduler 'h' is not a dask scheduler address such as tcp://"):
        with dask_executor("h"):
            pass


@pytest.mark.parametrize("workers, versions, message", [
    ({}, {}, "has no workers"),
    (None, {"sympy": "0.0"}, r"has sympy 0\.0"),
    (None, {"amverify": "0.0"}, r"has amverify 0\.0"),
])
def test_a_cluster_that_cannot_give_the_same_numbers_is_refused_and_closed(fake_distributed, workers, versions,
                                                                           message):
    """A cluster without workers, or whose workers have another amverify, numpy, scipy or sympy, is refused
    before any task; the client is closed all the same."""
    fake = fake_distributed(workers=workers, versions=versions)
    with pytest.raises(ExecutorUnavailable, match=message):
        with dask_executor("tcp://h:1"):
            pytest.fail("the block ran on a refused cluster")
    assert fake.log[-1] == ("client closed",)


def test_a_local_cluster_is_closed_when_no_client_attaches_and_named_when_it_has_no_workers(fake_distributed):
    """The local cluster started here is closed even when the Client cannot attach to it; one without workers
    is "the local dask cluster" in the refusal, not a cluster "at None"."""
    fake = fake_distributed()

    def no_client(cluster):
        raise OSError("cannot attach")

    fake.module.Client = no_client
    with pytest.raises(OSError, match="cannot attach"):
        with dask_executor(None, workers=2):
            pytest.fail("the block ran without a client")
    assert fake.log[-1] == ("cluster closed",)
    fake = fake_distributed(workers={})
    with pytest.raises(ExecutorUnavailable, match=r"^the local dask cluster has no workers$"):
        with dask_executor(None, workers=2):
            pytest.fail("the block ran on a cluster without workers")
    assert fake.log[-2:] == [("client closed",), ("cluster closed",)]


def test_the_inline_executor_hands_a_tasks_error_to_its_future():
    """`--jobs 1` runs tasks at submit, but a task's exception reaches the caller through the future, as a pool's."""
    future = InlineExecutor().submit(int, "x")
    assert future.done() and isinstance(future.exception(), ValueError)
    assert InlineExecutor().submit(divmod, 7, 2).result() == (3, 1)


def test_a_process_pool_has_jobs_workers_and_is_shut_down_after_the_run():
    """process_pool(jobs) sizes the pool by jobs and shuts it down when the block ends (no worker left behind)."""
    with process_pool(3) as pool:
        assert pool._max_workers == 3
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(sum, [1])


class _Recording(InlineExecutor):
    """An inline executor that records each task it is given: its function and its ``pooled`` flag."""

    def __init__(self):
        self.submitted = []

    def submit(self, fn, /, *args, **kwargs):
        self.submitted.append((fn.__name__, kwargs.get("pooled")))
        return super().submit(fn, *args, **kwargs)


def test_run_tasks_puts_every_task_on_the_executor_given_each_with_one_blas_thread(monkeypatch):
    """With an executor (a dask cluster's), every task goes there and sets one BLAS thread where it runs."""
    calls = []
    monkeypatch.setattr(engine, "one_blas_thread", lambda: calls.append(1))
    executor = _Recording()
    tasks = claim_tasks([get_claim("basics.linear.memory_accumulation")], mode="quick", seed=0)
    results = run_tasks(tasks, jobs=2, executor=executor)
    assert len(results) == len(tasks) and all(r is not None for r in results)
    assert executor.submitted and {pooled for _, pooled in executor.submitted} == {True}
    assert len(calls) == len(executor.submitted)


@pytest.mark.parametrize("jobs, pool", [(1, None), (3, 3)])
def test_run_tasks_makes_a_pool_of_jobs_processes_only_for_several_jobs(monkeypatch, jobs, pool):
    """Without an executor, `--jobs 1` runs in this process (no pool) and `--jobs N` on a pool of N processes."""
    made = []

    @contextlib.contextmanager
    def fake_pool(n):
        made.append(n)
        yield _Recording()

    monkeypatch.setattr(engine, "process_pool", fake_pool)
    tasks = claim_tasks([get_claim("basics.linear.memory_accumulation")], mode="quick", seed=0)
    assert all(r is not None for r in run_tasks(tasks, jobs=jobs))
    assert made == ([] if pool is None else [pool])
