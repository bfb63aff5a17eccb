"""Where the engine's tasks run: in this process, on a pool of worker processes, or on a dask cluster.

:func:`proofs_check.engine.run_tasks` takes any :class:`concurrent.futures.Executor`; this module
makes the three the command line offers. A task's result depends only on its arguments, never on
the executor or the worker that runs it, so every executor gives the same report.

BLAS threads are set here with threadpoolctl, not through environment variables: every number is
computed with one BLAS thread, in a pool worker, on a cluster and in a single process alike. Several
BLAS threads may split a product's or a factorization's sums differently, which changes the last bit
of some results (measured: a control of ``expressivity.heads.four_exp_lattice`` read
3.846553904920559 with 2 threads and ...558 with one), and a report must not depend on ``--jobs``;
on 2 cores a single process was also no faster with 2 BLAS threads (22.4-24.1 s against
25.2-25.5 s for the default run). The chunked update forms bring threads of their own, whose split
never changes a number: one per core in a single process, one in a worker among several.
"""

from __future__ import annotations

import functools
import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Iterator

__all__ = ["ExecutorUnavailable", "InlineExecutor", "blas_one_thread", "dask_executor", "one_blas_thread",
           "process_pool", "start_pool_server", "thread_settings_kept"]

_CONTROLLER = None


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def one_blas_thread() -> None:
    """Limit every BLAS and OpenMP thread pool loaded in this process to one thread, and the chunked update
    forms' own threads to one (:func:`numerics.updates.set_chunk_threads`): a worker among many, which
    should not start a thread per core.

    Called by each worker task (cheap after the first call: the libraries are found once), so it also
    holds on executors whose workers this module did not start (a dask worker, a thread pool)."""
    from numerics.updates.chunked import set_chunk_threads

    _controller().limit(limits=1)
    set_chunk_threads(1)


@contextmanager
def thread_settings_kept() -> Iterator[None]:
    """This process's BLAS threads and chunked-form threads as they were before the block, after it (a run
    whose workers are threads of this process sets both to one, :func:`one_blas_thread`)."""
    from numerics.updates.chunked import set_chunk_threads

    previous = set_chunk_threads(None)
    set_chunk_threads(previous)
    try:
        with _controller().limit(limits=None):
            yield
    finally:
        set_chunk_threads(previous)


@contextmanager
def blas_one_thread() -> Iterator[None]:
    """One BLAS and OpenMP thread inside the block, this process's own setting restored after it (numbers
    computed in this process, as by ``--jobs 1`` or ``amverify eval``, are then those of a pool worker)."""
    with _controller().limit(limits=1):
        yield


def _init_worker() -> None:
    """A pool worker's start: import every claim (numpy, scipy and their BLAS) once, then one BLAS thread."""
    from proofs_check.ledger import all_claims

    all_claims()
    one_blas_thread()


class InlineExecutor(Executor):
    """Runs each task when it is submitted, in this process: ``--jobs 1``."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future, as a pool would
            future.set_exception(exc)
        return future


@functools.cache
def _pool_context():
    """Where the platform has it, a fork server that imports the ledger once, so every worker forked
    from it starts with numpy, scipy, sympy and the claims loaded; else fresh (spawned) interpreters.
    Both start from a single-threaded process, unlike a fork of this one."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    import pkgutil

    import proofs_check.claims as claims

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["proofs_check.engine"] + [f"{claims.__name__}.{m.name}"
                                                          for m in pkgutil.iter_modules(claims.__path__)])
    return ctx


def start_pool_server() -> None:
    """Start the fork server (where the pool uses one) now, without waiting for it.

    The server imports the ledger on its own, so when the command line calls this before loading the
    claims, that import overlaps this process's own instead of following it (about a second of a
    ``--jobs 2`` run's wall time on 2 cores). Later calls, and :func:`process_pool`, reuse it."""
    if _pool_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


RESULT_PIPE_BYTES = 1 << 20  # Linux's default ceiling for an unprivileged process (/proc/sys/fs/pipe-max-size)


def _widen_result_pipe(pool: ProcessPoolExecutor, size: int = RESULT_PIPE_BYTES) -> int | None:
    """Give the pipe that carries the pool's results ``size`` bytes of buffer (Linux, F_SETPIPE_SZ); its
    new size, or None where the platform or the executor's internals do not allow it (nothing changes).

    A chunk's per-trial columns are up to a few MB. Through a 64 KiB pipe each worker waits for the
    driver to drain every 64 KiB; with 1 MiB it waits a sixteenth as often (measured on 2 cores, default
    run, ``--jobs 2``, when every planned point was split into chunks and the run sent about 390 MB:
    0.54-0.62 s of each worker's time in sending results with 64 KiB, 0.28-0.41 s with 1 MiB; since
    short points finish in their pilot task, ``engine.FINISH_IN_PILOT_SECONDS``, chunks send about
    5 MB). Only timing changes, never a result."""
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    reader = getattr(getattr(pool, "_result_queue", None), "_reader", None)
    if set_size is None or reader is None:
        return None
    try:
        return fcntl.fcntl(reader.fileno(), set_size, size)
    except OSError:  # above the system's ceiling, or not a pipe
        return None


@contextmanager
def process_pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``jobs`` worker processes for a whole run, each with the ledger loaded and one BLAS thread,
    its result pipe widened (:func:`_widen_result_pipe`)."""
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context(), initializer=_init_worker) as pool:
        _widen_result_pipe(pool)
        yield pool


class ExecutorUnavailable(RuntimeError):
    """An executor that cannot run: ``--executor dask`` without the optional ``distributed`` package, a
    scheduler address that is malformed or out of reach, a cluster without workers or with other package
    versions."""


@contextmanager
def dask_executor(scheduler: str | None = None, *, workers: int = 2, timeout: float = 10.0) -> Iterator[tuple[Executor, int]]:
    """A concurrent.futures executor on a dask.distributed cluster, and the number of tasks it runs at once.

    With ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) the tasks go to that cluster's
    workers, which must have the same amverify, numpy and scipy installed; without it a
    LocalCluster of ``workers`` single-threaded worker processes is started and closed here.
    ``timeout``: seconds to keep trying to reach ``scheduler`` (dask's own default is 30).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ExecutorUnavailable("--executor dask needs the optional 'distributed' package: "
                                 "pip install 'amverify[distributed]'") from None
    import asyncio
    import logging

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        # asyncio.TimeoutError is the builtin TimeoutError from Python 3.11 on, another class on 3.10
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            raise ExecutorUnavailable(f"cannot reach the dask scheduler at {scheduler!r} within {timeout:g} s "
                                      f"(--connect-timeout): {exc}") from None
        except ValueError as exc:  # dask's address parser: no port, an unknown scheme, a port that is no number
            raise ExecutorUnavailable(f"--scheduler {scheduler!r} is not a dask scheduler address such as "
                                      f"tcp://10.0.0.5:8786: {exc}") from None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        try:
            client = Client(cluster)
        except BaseException:
            cluster.close()  # started here, so closed here even when no client could attach to it
            raise
    try:
        slots = sum(client.nthreads().values())
        if slots == 0:
            where = f"the dask cluster at {scheduler!r}" if scheduler else "the local dask cluster"
            raise ExecutorUnavailable(f"{where} has no workers")
        _same_versions(client.run(_versions))
        yield client.get_executor(pure=False), slots
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_PINNED = ("amverify", "numpy", "scipy", "sympy")  # what a batch's numbers depend on


def _versions() -> dict[str, str]:
    from proofs_check.report import package_versions

    versions = package_versions()
    return {k: versions[k] for k in _PINNED}


def _same_versions(workers: dict[str, dict[str, str]]) -> None:
    """Refuse workers whose amverify, numpy, scipy or sympy differ from this process's: their numbers could."""
    here = _versions()
    for worker, versions in sorted(workers.items()):
        differ = [f"{k} {versions.get(k)} (here {here[k]})" for k in _PINNED if versions.get(k) != here[k]]
        if differ:
            raise ExecutorUnavailable(f"dask worker {worker} has {', '.join(differ)}; install the same versions "
                                      "everywhere (the report must not depend on where a batch ran)")
